/* tools/bench/kernels_qil.c — an experiment, not part of the build: decode (one activation
 * row) of q8_0 / q4_0 weights repacked with 16 rows interleaved, against the row-layout
 * kernel smelt uses today (sms_matmul, runtime/smelt_simd.h), on the same random weights,
 * read cold (copies of the weights totalling COLD_MB, a different copy each call).
 *
 *   cc -O2 -march=native -std=c99 -I. tools/bench/kernels_qil.c -o kqil -lm -pthread
 *   ./kqil q8_0|q4_0 N K [ITERS [COLD_MB]]       (AVX-512 VNNI only; N % 16 == 0)
 *
 * The layout (what a layout pass would write; NOTES "Block decode bandwidth (h-blk)"):
 * per group of 16 rows, per block column b, the 16 rows' f16 scales (32 bytes), then the
 * quants as 16-row x 4-byte words, so one zmm load holds 4 values of each of the 16 rows:
 *  - q8_0: 8 words per row (values 4c .. 4c+3 in word c), each byte xor 0x80 (the unsigned
 *    operand of vpdpbusd); 544 bytes per block column = 16 x 34, the GGUF bytes;
 *  - q4_0: 4 words per row, word c = the GGUF qs[4c .. 4c+3] unchanged (low nibbles are
 *    values 4c+m, high nibbles 16+4c+m); 288 bytes = 16 x 18.
 * A lane is a row, so an activation's 4 bytes come as a 32-bit broadcast, the 16 scales
 * with one vcvtph2ps, and no horizontal sum is left at the end: per block column and 16
 * rows, q8_0 takes 8 vpdpbusd + 5 ops, q4_0 4 loads, 8 and, 4 shifts, 8 vpdpbusd + 5, where
 * the row layout takes ~56 / ~72.  The whole weight is one linear stream.
 * Prints both kernels' best times and the largest relative difference of their outputs
 * (integer dots are exact in both; only the float order of the scaling differs). */
#include "runtime/smelt_simd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if !SMS_ZMM
int main(void) {
  fprintf(stderr, "kernels_qil: needs AVX-512 F/BW/VL/VNNI (-march=native on such a machine)\n");
  return 2;
}
#else
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* GGUF rows (N x rb bytes) -> the interleaved layout (same size) */
static void repack(int q4, const uint8_t *w, int64_t N, int64_t nb, uint8_t *o) {
  const int64_t BY = q4 ? 18 : 34, rb = nb * BY, W = q4 ? 4 : 8;
  for (int64_t g = 0; g < N; g += 16)
    for (int64_t b = 0; b < nb; b++) {
      for (int i = 0; i < 16; i++) memcpy(o + 2 * i, w + (g + i) * rb + b * BY, 2);
      o += 32;
      for (int c = 0; c < W; c++)
        for (int i = 0; i < 16; i++, o += 4)
          for (int m = 0; m < 4; m++) {
            uint8_t v = w[(g + i) * rb + b * BY + 2 + 4 * c + m];
            o[m] = q4 ? v : (uint8_t)(v ^ 0x80);
          }
    }
}

/* y[0 .. N) for one activation row: q the int8 blocks, d their scales, s their Σq */
static void il_rows(int q4, const uint8_t *w, int64_t N, int64_t nb, const int8_t *q, const float *d, const int32_t *s, float *y) {
  const __m512i m4 = _mm512_set1_epi8(15);
  for (int64_t g = 0; g < N; g += 16) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
    for (int64_t b = 0; b < nb; b++) {
      const int32_t *x = (const int32_t *)(const void *)(q + 32 * b); /* 8 words of 4 activations */
      __m512 dw = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)w)), _mm512_set1_ps(d[b]));
      __m512i i0 = _mm512_set1_epi32(-(q4 ? 8 : 128) * s[b]), i1 = _mm512_setzero_si512();
      w += 32;
      if (q4) {
        for (int c = 0; c < 4; c++, w += 64) {
          __m512i v = _mm512_loadu_si512(w);
          i0 = _mm512_dpbusd_epi32(i0, _mm512_and_si512(v, m4), _mm512_set1_epi32(x[c]));
          i1 = _mm512_dpbusd_epi32(i1, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), _mm512_set1_epi32(x[4 + c]));
        }
      } else {
        for (int c = 0; c < 8; c += 2, w += 128) {
          i0 = _mm512_dpbusd_epi32(i0, _mm512_loadu_si512(w), _mm512_set1_epi32(x[c]));
          i1 = _mm512_dpbusd_epi32(i1, _mm512_loadu_si512(w + 64), _mm512_set1_epi32(x[c + 1]));
        }
      }
      __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(i0, i1));
      if (b & 1) acc1 = _mm512_fmadd_ps(f, dw, acc1);
      else acc0 = _mm512_fmadd_ps(f, dw, acc0);
    }
    _mm512_storeu_ps(y + g, _mm512_add_ps(acc0, acc1));
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s q8_0|q4_0 N K [ITERS [COLD_MB]]\n", argv[0]);
    return 2;
  }
  int q4 = !strcmp(argv[1], "q4_0");
  int64_t N = atoll(argv[2]), K = atoll(argv[3]), cold = argc > 5 ? atoll(argv[5]) : 0;
  int iters = argc > 4 ? atoi(argv[4]) : 20;
  if ((!q4 && strcmp(argv[1], "q8_0")) || N < 16 || N % 16 || K < 32 || K % 32 || iters < 1) {
    fprintf(stderr, "%s: bad arguments\n", argv[0]);
    return 2;
  }
  int64_t nb = K / 32, BY = q4 ? 18 : 34, rb = nb * BY, sz = N * rb;
  int64_t copies = cold > 0 ? (cold << 20) / sz + 1 : 1;
  if (cold > 0 && copies < 2) copies = 2;
  uint8_t *w = malloc((size_t)(copies * sz)), *p = malloc((size_t)(copies * sz));
  float *x = malloc(sizeof(float) * (size_t)K), *y0 = malloc(sizeof(float) * (size_t)N), *y1 = malloc(sizeof(float) * (size_t)N);
  int8_t *q = malloc((size_t)K);
  float *d = malloc(sizeof(float) * (size_t)nb);
  int32_t *s = malloc(sizeof(int32_t) * (size_t)nb);
  if (!w || !p || !x || !y0 || !y1 || !q || !d || !s) return 1;
  srand(1);
  for (int64_t i = 0; i < sz; i++) w[i] = (uint8_t)rand();
  for (int64_t b = 0; b < N * nb; b++) {
    uint16_t h = (uint16_t)(0x2c00 | (rand() & 0x3ff));
    memcpy(w + b * BY, &h, 2);
  }
  for (int64_t c = 1; c < copies; c++) memcpy(w + c * sz, w, (size_t)sz);
  repack(q4, w, N, nb, p);
  for (int64_t c = 1; c < copies; c++) memcpy(p + c * sz, p, (size_t)sz);
  for (int64_t i = 0; i < K; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
  double best[2] = {1e30, 1e30};
  for (int it = 0; it < iters; it++) {
    int64_t c = (it + 1) % copies;
    double t0 = now();
    sms_matmul(q4 ? SMS_Q4_0 : SMS_Q8_0, w + c * sz, rb, x, y0, 1, N, K);
    t0 = now() - t0;
    if (t0 < best[0]) best[0] = t0;
    t0 = now();
    for (int64_t b = 0; b < nb; b++) { /* the activation quantized as sms_matmul does (sms_quantize) */
      sms_q8 t;
      sms_quantize(x + 32 * b, &t, 1);
      memcpy(q + 32 * b, t.q, 32);
      d[b] = t.d, s[b] = 0;
      for (int l = 0; l < 32; l++) s[b] += t.q[l];
    }
    il_rows(q4, p + c * sz, N, nb, q, d, s, y1);
    t0 = now() - t0;
    if (t0 < best[1]) best[1] = t0;
  }
  double err = 0, big = 0;
  for (int64_t j = 0; j < N; j++) {
    double e = fabs((double)y0[j] - y1[j]);
    if (e > err) err = e;
    if (fabs(y0[j]) > big) big = fabs(y0[j]);
  }
  printf("%s N=%lld K=%lld%s: rows %.3f ms (%.1f GB/s), interleaved %.3f ms (%.1f GB/s), max |diff| / max |y| %.2g\n", argv[1], (long long)N,
         (long long)K, copies > 1 ? " cold" : "", best[0] * 1e3, (double)sz / best[0] / 1e9, best[1] * 1e3, (double)sz / best[1] / 1e9, err / big);
  return err / big > 1e-5;
}
#endif
