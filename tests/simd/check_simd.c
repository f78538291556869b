/* tests/simd/check_simd.c — the target kernels of runtime/smelt_simd.h against exact
 * sums, compiled by tests/unit/simd.c once per instruction set (portable, AVX2, AVX-512
 * VNNI, NEON, dotprod) and with threads.  Sizes leave tails everywhere: K not a multiple
 * of the vector width (f32 / f16), odd block counts, R not a multiple of the 4-row
 * micro-kernel, N smaller than the thread count.  Block kinds: q8_0, q4_0, q4_k, q6_k.
 *
 * Checks: sms_quantize equals sms_quantize_ref bit for bit; f32 / f16 dots equal the
 * generic C kernels' (sm_dot_f32, smq_dot_f16) bit for bit; each y[r, j] is within
 * 1e-5 * Σ|terms| of the exact (double) sum over the same quantized values; for the
 * int8 kinds also within Σ_k |w_k| · d_x(k) / 2 (+ 1e-5 Σ|w x|) of the float-activation
 * dot, the bound the header promises.  Prints "ok: ..." and exits 0, or the first
 * failures and exits 1. */
#include "runtime/smelt_simd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
  return (uint32_t)((rs * 0x2545F4914F6CDD1Dull) >> 32);
}
static float unif(void) { return (float)((rnd() + 0.5) / 4294967296.0 * 2 - 1); }

static int fails, checks;
static void check(int ok, const char *what, int kind, long long R, long long N, long long K, long long r, long long j, double got, double want, double tol) {
  checks++;
  if (ok) return;
  if (fails++ < 10)
    fprintf(stderr, "FAIL: %s kind %d R=%lld N=%lld K=%lld y[%lld,%lld] = %.9g, want %.9g (tol %.3g)\n", what, kind, R, N, K, r, j, got, want, tol);
}

#include "check_simd_math.h" /* the vector math: check_math(), print_math() */

static double wval(int kind, const uint8_t *row, int64_t k) {
  switch (kind) {
  case SMS_F32: { float v; memcpy(&v, row + 4 * k, 4); return v; }
  case SMS_F16: return smq_f16(row + 2 * k);
  case SMS_Q8_0: { const uint8_t *b = row + k / 32 * SMQ_Q8_0_BYTES; return smq_f16(b) * (double)(int8_t)b[2 + k % 32]; }
  case SMS_Q4_K: {
    float v[256];
    smq_dequantize_row_q4_k(row + k / 256 * SMQ_Q4_K_BYTES, v, 256);
    return v[k % 256];
  }
  case SMS_Q6_K: {
    float v[256];
    smq_dequantize_row_q6_k(row + k / 256 * SMQ_Q6_K_BYTES, v, 256);
    return v[k % 256];
  }
  default: {
    const uint8_t *b = row + k / 32 * SMQ_Q4_0_BYTES;
    int l = (int)(k % 32), q = l < 16 ? (b[2 + l] & 15) : (b[2 + l - 16] >> 4);
    return smq_f16(b) * (double)(q - 8);
  }
  }
}

static void run(int kind, int64_t R, int64_t N, int64_t K) {
  int64_t rb = kind == SMS_F32 ? 4 * K : kind == SMS_F16 ? 2 * K : kind == SMS_Q8_0 ? K / 32 * SMQ_Q8_0_BYTES
             : kind == SMS_Q4_K ? K / 256 * SMQ_Q4_K_BYTES : kind == SMS_Q6_K ? K / 256 * SMQ_Q6_K_BYTES : K / 32 * SMQ_Q4_0_BYTES;
  uint8_t *w = malloc((size_t)(N * rb) + 1);
  float *x = malloc(sizeof(float) * (size_t)(R * K)), *y = malloc(sizeof(float) * (size_t)(R * N));
  for (int64_t i = 0; i < N * rb; i++) w[i] = (uint8_t)rnd();
  if (kind == SMS_F32) for (int64_t i = 0; i < N * K; i++) { float v = unif(); memcpy(w + 4 * i, &v, 4); }
  if (kind == SMS_F16) for (int64_t i = 0; i < N * K; i++) { uint16_t h = sm_f32_to_f16(unif()); memcpy(w + 2 * i, &h, 2); }
  if (kind == SMS_Q4_K)
    for (int64_t b = 0; b < N * K / 256; b++)
      for (int o = 0; o < 4; o += 2) {
        uint16_t h = (uint16_t)((rnd() & 0x83ff) | (7 + rnd() % 7) << 10);
        memcpy(w + b * SMQ_Q4_K_BYTES + o, &h, 2);
      }
  if (kind == SMS_Q6_K) /* a finite d; the int8 scales and 6-bit values stay random */
    for (int64_t b = 0; b < N * K / 256; b++) {
      uint16_t h = (uint16_t)((rnd() & 0x83ff) | (7 + rnd() % 7) << 10);
      memcpy(w + b * SMQ_Q6_K_BYTES + 208, &h, 2);
    }
  if (kind == SMS_Q8_0 || kind == SMS_Q4_0)
    for (int64_t b = 0; b < N * K / 32; b++) {
      uint16_t h = (uint16_t)((rnd() & 0x83ff) | (7 + rnd() % 7) << 10);
      memcpy(w + b * (rb / (K / 32)), &h, 2);
    }
  for (int64_t i = 0; i < R * K; i++) x[i] = unif() * (float)(1 << (rnd() % 6));
  if (R * K >= 64) for (int l = 0; l < 32; l++) x[l] = 0; /* a zero block: d = 0 */
  sms_matmul(kind, w, rb, x, y, R, N, K);
  int q = kind >= SMS_Q8_0;
  sms_q8 *xq = q ? malloc(sizeof(sms_q8) * (size_t)(R * K / 32)) : NULL, *xr = q ? malloc(sizeof(sms_q8) * (size_t)(R * K / 32)) : NULL;
  if (q) {
    sms_quantize(x, xq, R * K / 32);
    sms_quantize_ref(x, xr, R * K / 32);
    for (int64_t b = 0; b < R * K / 32; b++) {
      int same = xq[b].d == xr[b].d && !memcmp(xq[b].q, xr[b].q, 32);
      check(same, "quantize differs from quantize_ref", kind, R, N, K, b, 0, xq[b].d, xr[b].d, 0);
    }
  }
  for (int64_t r = 0; r < R; r++)
    for (int64_t j = 0; j < N; j++) {
      double exact = 0, mag = 0, fexact = 0, fmag = 0, qerr = 0;
      for (int64_t k = 0; k < K; k++) {
        double wv = wval(kind, w + j * rb, k), xv = x[r * K + k];
        fexact += wv * xv, fmag += fabs(wv * xv);
        if (q) {
          const sms_q8 *b = &xr[r * K / 32 + k / 32];
          double xq8 = (double)b->d * b->q[k % 32];
          exact += wv * xq8, mag += fabs(wv * xq8);
          qerr += fabs(wv) * b->d * 0.5;
        }
      }
      if (!q) exact = fexact, mag = fmag;
      double got = y[r * N + j], tol = 1e-5 * mag + 1e-30;
      check(fabs(got - exact) <= tol, "dot", kind, R, N, K, r, j, got, exact, tol);
#if !defined(__clang__) /* clang contracts a * b + c in the generic C: not bit-comparable */
      if (kind == SMS_F32 || kind == SMS_F16) {
        float gen = kind == SMS_F32 ? sm_dot_f32(x + r * K, (const float *)(const void *)(w + j * rb), K) : smq_dot_f16(w + j * rb, x + r * K, K);
        check(got == gen, "not bit-identical to the generic C dot", kind, R, N, K, r, j, got, gen, 0);
      }
#endif
      if (q) {
        tol = qerr * 1.0001 + 1e-5 * fmag + 1e-30;
        check(fabs(got - fexact) <= tol, "int8-activation bound", kind, R, N, K, r, j, got, fexact, tol);
      }
    }
  free(w), free(x), free(y), free(xq), free(xr);
}

/* sms_gemm_nn against the generic C row update (bit for bit) */
static void run_nn(int64_t M, int64_t N, int64_t K) {
  float *a = malloc(sizeof(float) * (size_t)(M * K)), *b = malloc(sizeof(float) * (size_t)(K * N));
  float *y = malloc(sizeof(float) * (size_t)(M * N)), *g = malloc(sizeof(float) * (size_t)(M * N));
  for (int64_t i = 0; i < M * K; i++) a[i] = unif();
  for (int64_t i = 0; i < K * N; i++) b[i] = unif();
  sms_gemm_nn(a, b, y, M, N, K);
  for (int64_t i = 0; i < M; i++) { /* backends/c/k_nn.c's loop */
    float *yr = g + i * N;
    for (int64_t j = 0; j < N; j++) yr[j] = 0;
    for (int64_t k = 0; k < K; k++) {
      const float av = a[i * K + k], *br = b + k * N;
      for (int64_t j = 0; j < N; j++) yr[j] += av * br[j];
    }
  }
  for (int64_t e = 0; e < M * N; e++) {
#if !defined(__clang__) /* clang contracts the generic C's a * b + c */
    check(!memcmp(&y[e], &g[e], 4), "gemm_nn not bit-identical to the generic C", -1, M, N, K, e / N, e % N, y[e], g[e], 0);
#endif
    double ex = 0, mag = 0;
    for (int64_t k = 0; k < K; k++) ex += (double)a[e / N * K + k] * b[k * N + e % N], mag += fabs((double)a[e / N * K + k] * b[k * N + e % N]);
    check(fabs(y[e] - ex) <= 1e-5 * mag + 1e-30, "gemm_nn", -1, M, N, K, e / N, e % N, y[e], ex, 1e-5 * mag);
  }
  free(a), free(b), free(y), free(g);
}

/* sms_gemm_packed (runtime/smelt_simd_gemm.h) over B packed in panels of P as
 * passes/layout.c writes them (ir/pack.h), f32 or f16: within 1e-5 * Σ|terms| of the
 * exact sum (the blocked kernel sums in its own order) */
static void run_packed(int64_t M, int64_t N, int64_t K, int64_t P, int f16) {
  float *a = malloc(sizeof(float) * (size_t)(M * K + 1)), *b = malloc(sizeof(float) * (size_t)(K * N + 1));
  float *y = malloc(sizeof(float) * (size_t)(M * N + 1));
  uint8_t *pk = malloc((size_t)(4 * K * N + 1));
  for (int64_t i = 0; i < M * K; i++) a[i] = unif() * (float)(1 << (rnd() % 6));
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) {
      int64_t j0 = j - j % P, w = N - j0 < P ? N - j0 : P, at = j0 * K + k * w + (j - j0);
      float v = unif();
      if (f16) {
        uint16_t h = sm_f32_to_f16(v);
        memcpy(pk + 2 * at, &h, 2);
        v = smq_f16(pk + 2 * at);
      } else memcpy(pk + 4 * at, &v, 4);
      b[k * N + j] = v;
    }
  for (int64_t e = 0; e < M * N; e++) y[e] = NAN; /* every element must be written */
  sms_gemm_packed(pk, f16, a, y, M, N, K, P);
  for (int64_t e = 0; e < M * N; e++) {
    double ex = 0, mag = 0;
    for (int64_t k = 0; k < K; k++) ex += (double)a[e / N * K + k] * b[k * N + e % N], mag += fabs((double)a[e / N * K + k] * b[k * N + e % N]);
    check(fabs(y[e] - ex) <= 1e-5 * mag + 1e-30, f16 ? "gemm_packed f16" : "gemm_packed f32", (int)P, M, N, K, e / N, e % N, y[e], ex, 1e-5 * mag);
  }
  free(a), free(b), free(y), free(pk);
}

/* runtime/smelt_simd_conv.h: smc_conv / smc_dw against a direct double-precision loop.
 * Bounds: a float sum of T terms is within T·2^-24·Σ|terms| of the exact one (twice that
 * here, as a margin for the FMA / lane order); MaxPool exactly (NaN included). */
static void run_conv(int kind, int64_t N, int64_t C, int64_t H, int64_t W, int64_t M, int64_t KH, int64_t KW, int64_t sh, int64_t sw,
                     int64_t ph, int64_t pw, int64_t peh, int64_t pew, int64_t dh, int64_t dw, int64_t G, int bias, int nan) {
  int64_t OH = (H + ph + peh - ((KH - 1) * dh + 1)) / sh + 1, OW = (W + pw + pew - ((KW - 1) * dw + 1)) / sw + 1;
  struct smc_op o = {kind, C, H, W, M, OH, OW, KH, KW, sh, sw, ph, pw, peh, pew, dh, dw, G};
  if (!smc_conv_fits(&o)) {
    check(0, "smc_conv_fits refused a test shape", kind, C, M, KH, H, W, 0, 0, 0);
    return;
  }
  int64_t Cg = C / G, Mg = M / G, nw = kind <= SMC_DW ? M * Cg * KH * KW : 0;
  float *x = malloc(sizeof(float) * (size_t)(N * C * H * W)), *w = malloc(sizeof(float) * (size_t)(nw + 1));
  float *b = malloc(sizeof(float) * (size_t)M), *y = malloc(sizeof(float) * (size_t)(N * M * OH * OW));
  for (int64_t i = 0; i < N * C * H * W; i++) x[i] = unif();
  if (nan) x[(N * C * H * W) / 3] = NAN;
  for (int64_t i = 0; i < nw; i++) w[i] = unif();
  for (int64_t i = 0; i < M; i++) b[i] = unif();
  for (int64_t i = 0; i < N * M * OH * OW; i++) y[i] = 1e30f; /* every output must be written */
  if (kind == SMC_CONV) smc_conv(&o, x, w, bias ? b : NULL, y, N);
  else smc_dw(&o, x, kind == SMC_DW ? w : NULL, kind == SMC_DW && bias ? b : NULL, y, N);
  for (int64_t n = 0; n < N; n++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t oh = 0; oh < OH; oh++)
        for (int64_t ow = 0; ow < OW; ow++) {
          int64_t g = m / Mg, terms = 0, cnt = 0;
          double acc = kind <= SMC_DW && bias ? b[m] : 0, mag = fabs(acc), mx = -INFINITY;
          for (int64_t ci = 0; ci < (kind == SMC_CONV ? Cg : 1); ci++)
            for (int64_t kh = 0; kh < KH; kh++)
              for (int64_t kw = 0; kw < KW; kw++) {
                int64_t ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw;
                int64_t c = kind == SMC_CONV ? g * Cg + ci : m;
                terms++;
                if (kind == SMC_AVGPOOL_INCL) cnt += ih >= -ph && ih < H + peh && iw >= -pw && iw < W + pew;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                double v = x[((n * C + c) * H + ih) * W + iw];
                if (kind == SMC_AVGPOOL) cnt++;
                if (kind <= SMC_DW) v *= w[((m * (kind == SMC_CONV ? Cg : 1) + ci) * KH + kh) * KW + kw];
                if (v > mx || v != v) mx = v;
                acc += v, mag += fabs(v);
              }
          double got = y[((n * M + m) * OH + oh) * OW + ow], want = kind == SMC_MAXPOOL ? mx : kind >= SMC_AVGPOOL ? acc / (double)(cnt ? cnt : 1) : acc;
          double tol = kind == SMC_MAXPOOL ? 0 : 2.0 * (double)(terms + 2) / 16777216.0 * (kind >= SMC_AVGPOOL ? mag / (double)(cnt ? cnt : 1) : mag) + 1e-30;
          int ok = kind == SMC_MAXPOOL ? (got == want || (got != got && want != want)) : fabs(got - want) <= tol;
          check(ok, "conv/pool", 100 + kind, C, M, KH, n * M + m, oh * OW + ow, got, want, tol);
        }
  free(x), free(w), free(b), free(y);
}


/* runtime/smelt_simd_wino.h: smc_wino_epi (F(2x2) and F(4x4)) against the direct
 * convolution in double of the weights g the transformed U came from.  Bound (NOTES
 * "Winograd convolution (h-wino)"): with S = Σ_c Σ_e |Aᵀ ⊗ A|[o, e] · |U_c[e]| · (|Bᵀ| |d_c| |B|)[e]
 * (the exact Winograd expansion in absolute values) every rounding is relative to a
 * part of S: <= 6 in the input transform, 1 in U, C in the sums over channels, 6 in the
 * output transform and 1 for the bias, so |y - exact| <= (C + 14)·2^-24·S to first order
 * (twice that here, as for smc_conv); the residual add and Relu round like the separate
 * ops: one more 2^-24·|result|. */
static const double wbt4[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                  {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
static const double wg4[6][3] = {{0.25, 0, 0}, {-1 / 6.0, -1 / 6.0, -1 / 6.0}, {-1 / 6.0, 1 / 6.0, -1 / 6.0}, {1 / 24.0, 1 / 12.0, 1 / 6.0}, {1 / 24.0, -1 / 12.0, 1 / 6.0}, {0, 0, 1}};
static const double wat4[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
static const double wbt2[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const double wg2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
static const double wat2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

static void run_wino(int wm, int64_t N, int64_t C, int64_t H, int64_t W, int64_t M, int64_t ph, int64_t pw, int64_t peh, int64_t pew,
                     int bias, int epi) {
  int64_t OH = H + ph + peh - 2, OW = W + pw + pew - 2, A = wm + 2, E = A * A;
  struct smc_op o = {SMC_CONV, C, H, W, M, OH, OW, 3, 3, 1, 1, ph, pw, peh, pew, 1, 1, 1};
  if (!smc_wino_fits(&o, wm)) {
    check(0, "smc_wino_fits refused a test shape", 200 + wm, C, M, 3, H, W, 0, 0, 0);
    return;
  }
  const double *bt = wm == 4 ? &wbt4[0][0] : &wbt2[0][0], *gm = wm == 4 ? &wg4[0][0] : &wg2[0][0], *at = wm == 4 ? &wat4[0][0] : &wat2[0][0];
  float *x = malloc(sizeof(float) * (size_t)(N * C * H * W)), *g = malloc(sizeof(float) * (size_t)(M * C * 9));
  float *U = malloc(sizeof(float) * (size_t)(E * C * M)), *b = malloc(sizeof(float) * (size_t)M);
  float *y = malloc(sizeof(float) * (size_t)(N * M * OH * OW)), *res = malloc(sizeof(float) * (size_t)(N * M * OH * OW));
  for (int64_t i = 0; i < N * C * H * W; i++) x[i] = unif();
  for (int64_t i = 0; i < M * C * 9; i++) g[i] = unif();
  for (int64_t i = 0; i < M; i++) b[i] = unif();
  for (int64_t i = 0; i < N * M * OH * OW; i++) res[i] = unif(), y[i] = 1e30f;
  for (int64_t k = 0; k < M; k++) /* U = G g Gᵀ in double, rounded once (what passes/layout.c stores) */
    for (int64_t c = 0; c < C; c++)
      for (int64_t e = 0; e < E; e++) {
        double u = 0;
        for (int a = 0; a < 3; a++)
          for (int bb = 0; bb < 3; bb++) u += gm[e / A * 3 + a] * g[(k * C + c) * 9 + a * 3 + bb] * gm[e % A * 3 + bb];
        U[(e * C + c) * M + k] = (float)u;
      }
  smc_wino_epi(&o, wm, x, U, bias ? b : NULL, epi ? res : NULL, epi, y, N);
  /* per tile: BD[c][e] = (|Bᵀ| |d_c| |B|)[e], then per output channel T[e] = Σ_c BD·|U|
   * and S[i] = Σ_e |Aᵀ ⊗ A|[i, e]·T[e] */
  double *BD = malloc(sizeof(double) * (size_t)(C * E)), S[16], T[36];
  for (int64_t n = 0; n < N; n++)
    for (int64_t ty = 0; ty * wm < OH; ty++)
      for (int64_t tx = 0; tx * wm < OW; tx++) {
        for (int64_t c = 0; c < C; c++)
          for (int e = 0; e < E; e++) {
            double v = 0;
            for (int r = 0; r < A; r++)
              for (int q = 0; q < A; q++) {
                int64_t ih = ty * wm + r - ph, iw = tx * wm + q - pw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) v += fabs(bt[e / A * A + r]) * fabs(x[((n * C + c) * H + ih) * W + iw]) * fabs(bt[e % A * A + q]);
              }
            BD[c * E + e] = v;
          }
        for (int64_t k = 0; k < M; k++) {
          for (int e = 0; e < E; e++) {
            T[e] = 0;
            for (int64_t c = 0; c < C; c++) T[e] += BD[c * E + e] * fabs(U[(e * C + c) * M + k]);
          }
          for (int i = 0; i < wm * wm; i++) {
            S[i] = 0;
            for (int e = 0; e < E; e++) S[i] += fabs(at[i / wm * A + e / A]) * fabs(at[i % wm * A + e % A]) * T[e];
          }
          for (int i = 0; i < wm * wm; i++) {
            int64_t oh = ty * wm + i / wm, ow = tx * wm + i % wm;
            if (oh >= OH || ow >= OW) continue;
            double acc = bias ? b[k] : 0;
            for (int64_t c = 0; c < C; c++)
              for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                  int64_t ih = oh - ph + kh, iw = ow - pw + kw;
                  if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc += (double)x[((n * C + c) * H + ih) * W + iw] * g[(k * C + c) * 9 + kh * 3 + kw];
                }
            int64_t yi = ((n * M + k) * OH + oh) * OW + ow;
            double tol = 2.0 * (double)(C + 14) / 16777216.0 * (S[i] + (bias ? fabs(b[k]) : 0)) + 1e-30;
            if (epi) {
              acc += res[yi];
              tol += 2.0 / 16777216.0 * fabs(acc);
              if (acc < 0) acc = 0;
            }
            check(fabs(y[yi] - acc) <= tol, "winograd conv", 200 + wm, C, M, H, n * M + k, oh * OW + ow, y[yi], acc, tol);
          }
        }
      }
  free(x), free(g), free(U), free(b), free(y), free(res), free(BD);
}

static void wino_cases(void) {
  for (int wm = 2; wm <= 4; wm += 2) {
    run_wino(wm, 1, 5, 7, 9, 16, 1, 1, 1, 1, 1, 0);      /* odd sizes: partial tiles at both edges */
    run_wino(wm, 2, 3, 6, 6, 32, 0, 0, 0, 0, 0, 1);      /* no pad, batch 2, residual + Relu, no bias */
    run_wino(wm, 1, 16, 9, 13, 48, 2, 0, 1, 3, 1, 1);    /* uneven pads, a narrow last panel of M */
    run_wino(wm, 1, 32, 40, 48, 32, 1, 1, 1, 1, 1, 1);   /* several blocks of tiles, tile rows across blocks */
    run_wino(wm, 1, 256, 8, 8, 64, 1, 1, 1, 1, 1, 0);    /* many channels, few tiles */
    run_wino(wm, 1, 40, 3, 70, 16, 1, 1, 1, 1, 1, 1);    /* a wide row: tile rows across blocks */
  }
}

static void conv_cases(void) {
  /* kind N C H W M KH KW sh sw ph pw peh pew dh dw G bias nan */
  run_conv(SMC_CONV, 1, 5, 7, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0);   /* odd sizes: row and column tails */
  run_conv(SMC_CONV, 2, 16, 6, 6, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0);  /* 1x1, batch 2, no bias */
  run_conv(SMC_CONV, 1, 3, 11, 13, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0);  /* stride 2 */
  run_conv(SMC_CONV, 1, 1, 28, 28, 8, 5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0);  /* mnist-8's first */
  run_conv(SMC_CONV, 1, 4, 10, 12, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 0);  /* dilation 2 */
  run_conv(SMC_CONV, 1, 6, 9, 17, 9, 2, 3, 2, 3, 0, 1, 1, 2, 1, 1, 3, 1, 0);  /* groups, uneven strides and pads */
  run_conv(SMC_CONV, 1, 4, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 0);   /* 2 groups */
  run_conv(SMC_CONV, 1, 2, 12, 5, 12, 3, 1, 3, 1, 0, 0, 2, 0, 2, 1, 2, 1, 0); /* 1 input channel per group, 6 outputs */
  run_conv(SMC_CONV, 1, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0); /* several bands, split between threads */
  run_conv(SMC_CONV, 1, 128, 16, 16, 40, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0);
  run_conv(SMC_CONV, 1, 400, 6, 6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0);   /* K = 3600: weights not packed */
  run_conv(SMC_CONV, 1, 3, 20, 70, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0);   /* stride 2, wide: vector deinterleave */
  run_conv(SMC_MAXPOOL, 1, 2, 9, 67, 2, 3, 3, 2, 2, 1, 0, 1, 0, 1, 1, 2, 0, 0);
  run_conv(SMC_DW, 1, 12, 17, 19, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 12, 1, 0);
  run_conv(SMC_DW, 2, 7, 15, 14, 7, 5, 3, 2, 2, 2, 1, 2, 1, 1, 2, 7, 0, 0);
  run_conv(SMC_MAXPOOL, 1, 8, 28, 28, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 8, 0, 0);
  run_conv(SMC_MAXPOOL, 2, 5, 13, 11, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5, 0, 0);
  run_conv(SMC_MAXPOOL, 1, 3, 14, 14, 3, 3, 3, 3, 3, 0, 0, 0, 0, 1, 1, 3, 0, 1); /* a NaN propagates */
  run_conv(SMC_AVGPOOL, 1, 6, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6, 0, 0);
  run_conv(SMC_AVGPOOL_INCL, 1, 6, 9, 10, 6, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 6, 0, 0);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  smt_set_threads(threads);
  static const int64_t Rs[] = {1, 3, 4, 5, 9}, Ns[] = {1, 5, 17}, Kf[] = {1, 7, 8, 31, 33, 100, 257}, Kq[] = {32, 96, 224, 1056};
  static const int64_t Kk[] = {256, 768};
  for (int kind = SMS_F32; kind <= SMS_Q6_K; kind++)
    for (unsigned a = 0; a < sizeof Rs / sizeof *Rs; a++)
      for (unsigned b = 0; b < sizeof Ns / sizeof *Ns; b++) {
        int q = kind == SMS_Q8_0 || kind == SMS_Q4_0;
        if (kind == SMS_Q4_K || kind == SMS_Q6_K) {
          for (unsigned c = 0; c < 2; c++) run(kind, Rs[a], Ns[b], Kk[c]);
          continue;
        }
        unsigned nk = q ? sizeof Kq / sizeof *Kq : sizeof Kf / sizeof *Kf;
        for (unsigned c = 0; c < nk; c++) run(kind, Rs[a], Ns[b], q ? Kq[c] : Kf[c]);
      }
  static const int64_t Ms[] = {1, 3, 4, 7}, Nn[] = {1, 15, 16, 33, 50}, Kn[] = {1, 9, 64};
  for (unsigned a = 0; a < 4; a++)
    for (unsigned b = 0; b < 5; b++)
      for (unsigned c = 0; c < 3; c++) run_nn(Ms[a], Nn[b], Kn[c]);
  run_nn(37, 200, 300); /* split between threads */
  /* packed GEMM: the ISA's panel width and the other (both kernels), an odd width (the
   * portable path), narrow last panels, row tails, K across k slices, M across row blocks */
  static const int64_t Mp[] = {1, 5, 12, 13, 100}, Np[] = {15, 32, 47, 70}, Kp[] = {1, 7, 300}, Pp[] = {16, 32, 5};
  for (unsigned p = 0; p < 3; p++)
    for (int f16 = 0; f16 < 2; f16++)
      for (unsigned a = 0; a < 5; a++)
        for (unsigned b = 0; b < 4; b++)
          for (unsigned c = 0; c < 3; c++) run_packed(Mp[a], Np[b], Kp[c], Pp[p], f16);
  run_packed(37, 333, 520, 32, 0); /* split between threads */
  run_packed(64, 200, 1000, 16, 1);
  /* K a multiple of 512: blocks of rows of a copied apart (across row blocks, k slices,
   * odd and narrow panels) rather than read in place */
  run_packed(100, 70, 1024, 32, 0);
  run_packed(13, 47, 512, 5, 1);
  run_packed(30, 33, 1536, 16, 1);
  run_packed(1, 333, 520, 32, 1); /* GEMV split between threads, k tails of the 4-k step */
  run_packed(1, 200, 1001, 16, 0);
  /* large enough to be split between threads: several chunks of quantized rows */
  run(SMS_Q8_0, 70, 67, 4096);
  run(SMS_Q4_0, 9, 129, 2048);
  run(SMS_Q4_0, 6, 33, 288); /* stories15M's rows: a group of 8 blocks and one more */
  run(SMS_Q8_0, 5, 31, 288);
  /* decode: 8 weight rows at a time (smz_rows) with row tails, 1-3 activation rows */
  run(SMS_Q4_0, 1, 1003, 288);
  run(SMS_Q8_0, 1, 211, 288);
  run(SMS_Q4_0, 3, 75, 800);
  run(SMS_Q8_0, 2, 41, 96);
  run(SMS_Q4_K, 6, 70, 2048);
  run(SMS_Q6_K, 6, 70, 2048);
  run(SMS_F16, 6, 300, 1000);
  run(SMS_F32, 5, 301, 999);
  conv_cases();
  wino_cases();
  check_math();
  const char *isa =
#if SMS_ZMM
      "avx512+vnni";
#elif SMS_VNNI
      "avx2+vnni";
#elif SMS_AVX2
      "avx2";
#elif SMS_DOTPROD
      "neon+dotprod";
#elif SMS_NEON
      "neon";
#else
      "portable";
#endif
  /* the GEMM micro-kernel the flags should give (a macro mistake would fall back) */
#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) && !SMS_AVX512
#error "AVX-512 flags but not the AVX-512 GEMM kernel"
#endif
  const char *gk =
#if SMS_AVX512
      "avx512 12x32";
#elif defined(SMS_GK_MR)
      "6x16";
#else
      "portable";
#endif
  if (fails) {
    printf("FAIL: %s, %d threads: %d of %d checks failed (conv kernels: %s)\n", isa, threads, fails, checks, SMC_ISA);
    return 1;
  }
  printf("ok: %s, %d threads: %d checks (gemm kernel %s, conv kernels: %s)\n", isa, threads, checks, gk, SMC_ISA);
  print_math();
  return 0;
}
