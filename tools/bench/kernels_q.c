/* tools/bench/kernels_q.c — speed of one sms_matmul (runtime/smelt_simd.h) on random
 * weights, to compare kernel versions without building a model:
 *
 *   cc -O2 -march=native -std=c99 -I. tools/bench/kernels_q.c -o kq -lm -pthread
 *   ./kq KIND R N K [ITERS [COLD_MB]]     KIND: q8_0 q4_0 q4_k q6_k f16 f32
 *
 * COLD_MB > 0: as many copies of the weights as make COLD_MB megabytes (at least 2), a
 * different copy each call, so a shape that fits in the last-level cache is still read
 * from memory, as a model larger than the cache reads its layers (use ~3x the LLC).
 * Add -DSMELT_THREADS=2 to the cc line to split the matmul over 2 threads.
 *
 * prints the best of ITERS calls (default 20): milliseconds, weight GB/s (decode, R = 1,
 * is held to the machine's read bandwidth: tools/bench/probe.c) and Gop/s (2 R N K). */
#include "runtime/smelt_simd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  static const struct { const char *name; int kind, blk, bytes, f16at; } kinds[] = {
      {"q8_0", SMS_Q8_0, 32, 34, 0}, {"q4_0", SMS_Q4_0, 32, 18, 0}, {"q4_k", SMS_Q4_K, 256, 144, 0},
      {"q6_k", SMS_Q6_K, 256, 210, 208}, {"f16", SMS_F16, 1, 2, -1}, {"f32", SMS_F32, 1, 4, -1}};
  if (argc < 5) {
    fprintf(stderr, "usage: %s q8_0|q4_0|q4_k|q6_k|f16|f32 R N K [ITERS]\n", argv[0]);
    return 2;
  }
  int t = -1;
  for (int i = 0; i < 6; i++)
    if (!strcmp(argv[1], kinds[i].name)) t = i;
  int64_t R = atoll(argv[2]), N = atoll(argv[3]), K = atoll(argv[4]);
  int iters = argc > 5 ? atoi(argv[5]) : 20;
  int64_t cold_mb = argc > 6 ? atoll(argv[6]) : 0;
  if (t < 0 || R < 1 || N < 1 || K < 1 || K % kinds[t].blk || iters < 1) {
    fprintf(stderr, "%s: bad arguments\n", argv[0]);
    return 2;
  }
  int64_t rb = K / kinds[t].blk * kinds[t].bytes;
  int64_t copies = cold_mb > 0 ? (cold_mb << 20) / (N * rb) + 1 : 1;
  if (cold_mb > 0 && copies < 2) copies = 2;
  uint8_t *w = malloc((size_t)(copies * N * rb));
  float *x = malloc(sizeof(float) * (size_t)(R * K)), *y = malloc(sizeof(float) * (size_t)(R * N));
  if (!w || !x || !y) return 1;
  srand(1);
  for (int64_t i = 0; i < N * rb; i++) w[i] = (uint8_t)rand();
  if (kinds[t].f16at >= 0) /* finite f16 scales (q4_k: d and dmin) */
    for (int64_t b = 0; b < N * K / kinds[t].blk; b++) {
      uint16_t h = (uint16_t)(0x2c00 | (rand() & 0x3ff));
      memcpy(w + b * kinds[t].bytes + kinds[t].f16at, &h, 2);
      if (kinds[t].kind == SMS_Q4_K) memcpy(w + b * kinds[t].bytes + 2, &h, 2);
    }
  if (kinds[t].kind == SMS_F16 || kinds[t].kind == SMS_F32)
    for (int64_t i = 0; i < N * K; i++) {
      float v = (float)rand() / RAND_MAX - 0.5f;
      if (kinds[t].kind == SMS_F32) memcpy(w + 4 * i, &v, 4);
      else { uint16_t h = sm_f32_to_f16(v); memcpy(w + 2 * i, &h, 2); }
    }
  for (int64_t c = 1; c < copies; c++) memcpy(w + c * N * rb, w, (size_t)(N * rb));
  for (int64_t i = 0; i < R * K; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  sms_matmul(kinds[t].kind, w, rb, x, y, R, N, K);
  double best = 1e30;
  for (int i = 0; i < iters; i++) {
    const uint8_t *wc = w + (i + 1) % copies * N * rb;
    double t0 = now();
    sms_matmul(kinds[t].kind, wc, rb, x, y, R, N, K);
    t0 = now() - t0;
    if (t0 < best) best = t0;
  }
  printf("%s R=%lld N=%lld K=%lld%s: %.3f ms, %.1f GB/s of weights, %.1f Gop/s (y[0] %g)\n", kinds[t].name, (long long)R, (long long)N,
         (long long)K, copies > 1 ? " cold" : "", best * 1e3, (double)(N * rb) / best / 1e9, 2.0 * (double)(R * N * K) / best / 1e9, y[0]);
  free(w), free(x), free(y);
  return 0;
}
