/* tools/bench/timer.c — times one smelt-compiled (non-LLM) model for `make bench`:
 * linked against libmodel.a from `smelt build --emit lib --name model` (so the model is
 * compiled exactly as smelt compiles it), it reads the inputs (.npy, graph order), runs
 * the model 3 times to warm up, then RUNS times, each timed alone with a nanosecond
 * clock, and prints the median in milliseconds.  Symbolic dims run at their bound.
 *
 *   timer RUNS OUT.bin IN0.npy [IN1.npy ...]   prints "median_ms MS"; OUT.bin gets the
 *                                               first output's raw elements */
#define _POSIX_C_SOURCE 200809L
#include "model.h"
#include "smelt_npy.h"
#include "smelt_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  const struct smelt_model_desc *m = &model_desc;
  if (argc != 3 + m->nin) { fprintf(stderr, "usage: timer RUNS OUT.bin (%d input .npy files)\n", m->nin); return 2; }
  int runs = atoi(argv[1]);
  if (runs < 1 || runs > 1000000) { fprintf(stderr, "timer: bad RUNS\n"); return 2; }
  void *inp[64] = {0}, *outp[64] = {0};
  for (int k = 0; k < m->nin && k < 64; k++) {
    struct smelt_npy a;
    const char *e = smelt_npy_read(argv[3 + k], &a);
    if (e) { fprintf(stderr, "timer: %s: %s\n", argv[3 + k], e); return 1; }
    inp[k] = a.data;
  }
  size_t first_bytes = 0;
  for (int k = 0; k < m->nout && k < 64; k++) {
    size_t n = 1;
    for (int j = 0; j < m->out[k].rank; j++) n *= (size_t)m->out[k].dims[j];
    outp[k] = calloc(n ? n : 1, (size_t)m->out[k].elem_bytes);
    if (!k) first_bytes = n * (size_t)m->out[k].elem_bytes;
  }
  void *ctx = calloc(1, m->ctx_bytes), *arena = NULL;
  if (posix_memalign(&arena, 64, m->arena_bytes + 64)) arena = NULL;
  double *t = calloc((size_t)runs, sizeof *t);
  if (arena) memset(arena, 0, m->arena_bytes + 64); /* states start zeroed */
  if (!ctx || !arena || !t) { fprintf(stderr, "timer: out of memory\n"); return 1; }
  int err = m->init(ctx, arena, m->arena_bytes);
  for (int s = 0; s < m->ndims && !err; s++) err = m->set_dim(ctx, s, m->dim_max[s]);
  for (int r = 0; r < 3 && !err; r++) err = m->run(ctx, inp, outp);
  for (int r = 0; r < runs && !err; r++) {
    double t0 = now();
    err = m->run(ctx, inp, outp);
    t[r] = now() - t0;
  }
  if (err) { fprintf(stderr, "timer: %s\n", m->strerror(err)); return 1; }
  qsort(t, (size_t)runs, sizeof *t, cmp);
  FILE *f = fopen(argv[2], "wb");
  if (!f || fwrite(outp[0], 1, first_bytes, f) != first_bytes || fclose(f)) { fprintf(stderr, "timer: cannot write %s\n", argv[2]); return 1; }
  printf("median_ms %.6f\n", 1e3 * t[runs / 2]);
  return 0;
}
