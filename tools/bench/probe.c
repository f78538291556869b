/* tools/bench/probe.c — the machine's roofline for `make bench`: read bandwidth and f32
 * FMA peak, measured with 1..T threads (T = argv[1], default 2).
 *
 *   probe [T]   prints lines "bw THREADS GB/s" and "peak THREADS GFLOP/s"
 *
 * Bandwidth: each thread sums its share of a 1 GiB buffer (far larger than any cache)
 * with 8-wide vector adds in four independent chains; the figure is the median of 7
 * passes, bytes read / wall time.  Peak: each thread runs 12 independent chains of
 * 8-wide multiply-adds (compiled with -march=native, so FMA where the CPU has it) from
 * registers; FLOPs = 2 per lane per multiply-add.  Both are what one plain C program
 * reaches on this machine, the ceiling the generated code is held against. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

struct arg { const v8 *p; size_t n; long iters; float sink; pthread_barrier_t *bar; };

static void *reader(void *vp) {
  struct arg *a = vp;
  pthread_barrier_wait(a->bar);
  v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
  for (size_t i = 0; i + 4 <= a->n; i += 4) { s0 += a->p[i]; s1 += a->p[i + 1]; s2 += a->p[i + 2]; s3 += a->p[i + 3]; }
  v8 s = s0 + s1 + s2 + s3;
  a->sink = s[0] + s[7];
  pthread_barrier_wait(a->bar);
  return NULL;
}

static void *fma_loop(void *vp) {
  struct arg *a = vp;
  pthread_barrier_wait(a->bar);
  v8 m = {0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f, 0.999f}, c = m * 0.001f, b = m * a->sink;
  /* twelve named chains so they stay in registers */
  v8 x0 = b, x1 = b * 2, x2 = b * 3, x3 = b * 4, x4 = b * 5, x5 = b * 6, x6 = b * 7, x7 = b * 8, x8 = b * 9, x9 = b * 10, x10 = b * 11, x11 = b * 12;
  for (long i = 0; i < a->iters; i++) {
    x0 = x0 * m + c; x1 = x1 * m + c; x2 = x2 * m + c; x3 = x3 * m + c; x4 = x4 * m + c; x5 = x5 * m + c;
    x6 = x6 * m + c; x7 = x7 * m + c; x8 = x8 * m + c; x9 = x9 * m + c; x10 = x10 * m + c; x11 = x11 * m + c;
  }
  v8 s = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10 + x11;
  a->sink = s[0];
  pthread_barrier_wait(a->bar);
  return NULL;
}

/* wall time of one pass of fn on t threads (from the first barrier to the second) */
static double pass(void *(*fn)(void *), struct arg *args, int t) {
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, (unsigned)t + 1);
  pthread_t th[64];
  for (int i = 0; i < t; i++) { args[i].bar = &bar; pthread_create(&th[i], NULL, fn, &args[i]); }
  pthread_barrier_wait(&bar);
  double t0 = now();
  pthread_barrier_wait(&bar);
  double dt = now() - t0;
  for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&bar);
  return dt;
}

int main(int argc, char **argv) {
  int tmax = argc > 1 ? atoi(argv[1]) : 2;
  if (tmax < 1 || tmax > 64) tmax = 2;
  size_t bytes = (size_t)1 << 30, n = bytes / sizeof(v8);
  v8 *buf = aligned_alloc(64, bytes);
  if (!buf) { fprintf(stderr, "probe: out of memory\n"); return 1; }
  memset(buf, 1, bytes); /* touch every page before timing */
  struct arg args[64];
  for (int t = 1; t <= tmax; t++) {
    double dts[7];
    for (int r = 0; r < 7; r++) {
      for (int i = 0; i < t; i++) args[i] = (struct arg){buf + n / (size_t)t * (size_t)i, n / (size_t)t, 0, 0, NULL};
      dts[r] = pass(reader, args, t);
    }
    qsort(dts, 7, sizeof *dts, cmp);
    printf("bw %d %.2f\n", t, (double)(n / (size_t)t * (size_t)t) * sizeof(v8) / dts[3] / 1e9);
  }
  free(buf);
  for (int t = 1; t <= tmax; t++) {
    long iters = 20000000;
    double dts[7];
    for (int r = 0; r < 7; r++) {
      for (int i = 0; i < t; i++) args[i] = (struct arg){NULL, 0, iters, 1.0f, NULL};
      dts[r] = pass(fma_loop, args, t);
    }
    qsort(dts, 7, sizeof *dts, cmp);
    printf("peak %d %.2f\n", t, 2.0 * 8 * 12 * (double)iters * t / dts[3] / 1e9);
  }
  return 0;
}
