/* tools/bench_quant.c — single-thread GEMV throughput of runtime/smelt_quant.h's dots
 * (y = W x with W [N, K] quantized, one smq_dot per row), in GB/s of weights read,
 * next to the machine's read bandwidth (a summing loop) and memcpy.
 *
 *   cc -std=c99 -O2 -I. tools/bench_quant.c -o bench_quant -lm && ./bench_quant [N K]
 *
 * Add -march=native to see what the same C gives with the host's vector ISA.  The
 * weights of each type span at least 256 MiB (several copies of the matrix, used in
 * turn), so they come from DRAM, not the caches.  Not a test: numbers vary by machine. */
#define _POSIX_C_SOURCE 200809L
#include "runtime/smelt_quant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef float (*dot_fn)(const void *, const float *, int64_t);
static const struct { const char *name; int blk, bytes; dot_fn dot; } types[] = {
    {"f16", 1, 2, smq_dot_f16},           {"bf16", 1, 2, smq_dot_bf16},         {"q8_0", 32, 34, smq_dot_q8_0},
    {"q4_0", 32, 18, smq_dot_q4_0},       {"q4_1", 32, 20, smq_dot_q4_1},       {"q5_0", 32, 22, smq_dot_q5_0},
    {"q5_1", 32, 24, smq_dot_q5_1},       {"q4_k", 256, 144, smq_dot_q4_k},     {"q5_k", 256, 176, smq_dot_q5_k},
    {"q6_k", 256, 210, smq_dot_q6_k},
};

#define SPAN ((size_t)256 << 20)

static volatile float sink;

int main(int argc, char **argv) {
  int64_t N = argc > 2 ? atoll(argv[1]) : 4096, K = argc > 2 ? atoll(argv[2]) : 4096;
  if (N <= 0 || K <= 0 || K % 256) { fprintf(stderr, "K must be a multiple of 256\n"); return 1; }
  unsigned char *buf = malloc(SPAN + ((size_t)64 << 20)), *dst = malloc(SPAN);
  float *x = malloc(sizeof(float) * (size_t)K), *y = malloc(sizeof(float) * (size_t)N);
  if (!buf || !dst || !x || !y) return 1;
  /* sane random bytes: small f16 scales never become inf/nan products */
  for (size_t i = 0; i < SPAN + ((size_t)64 << 20); i++) buf[i] = (unsigned char)((i * 2654435761u) >> 13) & 0x3b;
  for (int64_t i = 0; i < K; i++) x[i] = (float)((i % 17) - 8) / 8;
  memset(dst, 1, SPAN);

  /* ---- read bandwidth: sum of 64-bit words, four chains ---- */
  double best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    const uint64_t *w = (const uint64_t *)buf;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    double t0 = now();
    for (size_t i = 0; i < SPAN / 8; i += 4) { s0 += w[i]; s1 += w[i + 1]; s2 += w[i + 2]; s3 += w[i + 3]; }
    double t = now() - t0;
    sink = (float)(s0 + s1 + s2 + s3);
    if (t < best) best = t;
  }
  double read_bw = SPAN / best / 1e9;
  printf("read (sum of u64)   %6.2f GB/s\n", read_bw);
  best = 1e9;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    memcpy(dst, buf, SPAN);
    double t = now() - t0;
    if (t < best) best = t;
  }
  printf("memcpy              %6.2f GB/s copied (%.2f GB/s read + written)\n", SPAN / best / 1e9, 2 * SPAN / best / 1e9);

  printf("GEMV %lld x %lld, one thread:\n", (long long)N, (long long)K);
  printf("  type   MB/matrix   GB/s  of read bw   Gweights/s\n");
  for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
    size_t rb = (size_t)(K / types[ti].blk * types[ti].bytes), mat = rb * (size_t)N;
    size_t copies = SPAN / mat ? SPAN / mat : 1;
    if (mat > SPAN + ((size_t)64 << 20)) { printf("  %-5s matrix larger than the buffer\n", types[ti].name); continue; }
    double tbest = 1e9;
    for (int rep = 0; rep < 3; rep++) {
      double t0 = now();
      for (size_t c = 0; c < copies; c++) {
        const unsigned char *W = buf + c * mat;
        for (int64_t j = 0; j < N; j++) y[j] = types[ti].dot(W + (size_t)j * rb, x, K);
      }
      double t = (now() - t0) / (double)copies;
      sink = y[N - 1];
      if (t < tbest) tbest = t;
    }
    double gbs = mat / tbest / 1e9;
    printf("  %-5s %9.1f %8.2f %9.0f%% %11.2f\n", types[ti].name, mat / 1e6, gbs, 100 * gbs / read_bw, (double)N * K / tbest / 1e9);
  }
  free(buf);
  free(dst);
  free(x);
  free(y);
  return 0;
}
