/* runtime/smelt_simd.h — the target kernels of LLM-style matmuls: y = x · Wᵀ with W
 * [N, K] stored as f32, f16, q8_0, q4_0, q4_k or q6_k rows (a weight, read once per call) and x
 * [R, K] f32 activations.  The target backends (backends/x86, backends/arm) emit calls
 * to sms_matmul; which instructions it uses follows the compiler's target macros:
 *
 *   x86-64 AVX2+FMA+F16C   vpmaddubsw/vpmaddwd int8 dots, vcvtph2ps f16, FMA
 *          + AVX512VNNI/VL vpdpbusd for the int8 dots
 *   aarch64 NEON           smull/sadalp int8 dots, fcvtl f16, fmla
 *          + dotprod       sdot
 *   anything else          the portable scalar code below (also the tests' reference)
 *
 * Block-quantized weights meet activations quantized the same way (as ggml does):
 * each block of 32 values of a row of x becomes int8 q = round(x / d), d = max|x| /
 * 127, so a block's dot is one integer dot times d_w · d_x.  This rounds x to 8 bits:
 * the difference from the float dot is at most Σ |w_k| · d_x(k) / 2 (the tests' bound).
 * f32 and f16 weights keep f32 activations and the generic kernels' exact sums.
 *
 * Rows of x go in chunks whose quantized form (on the stack) stays in L2; within a
 * chunk each weight row meets up to four rows of x at once (prefill reuses its loads)
 * and the weight rows are split between the threads of runtime/smelt_threads.h. */
#ifndef SMELT_SIMD_H
#define SMELT_SIMD_H

#include "smelt_rt.h"
#include "smelt_quant.h"
#include "smelt_threads.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define SMS_AVX2 1
#include <immintrin.h>
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
#define SMS_VNNI 1
#endif
#endif
#if defined(__aarch64__) && defined(__ARM_NEON)
#define SMS_NEON 1
#include <arm_neon.h>
#if defined(__ARM_FEATURE_DOTPROD)
#define SMS_DOTPROD 1
#endif
#endif
#include "smelt_simd_math.h" /* vector exp, tanh, erf, softmax, norms, attention */

enum { SMS_F32, SMS_F16, SMS_Q8_0, SMS_Q4_0, SMS_Q4_K, SMS_Q6_K };

/* a block of 32 activations quantized to int8: x[l] ~ d * q[l] */
typedef struct { float d; int8_t q[32]; } sms_q8;

/* round to nearest, ties to even, for |v| < 2^22 (as cvtps2dq / fcvtns do) */
static inline float sms_rne(float v) {
  const float big = 12582912.0f; /* 1.5 * 2^23 (not folded away: float + - is no identity) */
  return (v + big) - big;
}

/* ---- activation quantization ---------------------------------------------------------- */
static inline void sms_quantize_ref(const float *x, sms_q8 *y, int64_t nb) {
  for (int64_t b = 0; b < nb; b++, x += 32) {
    float amax = 0;
    for (int l = 0; l < 32; l++) {
      float a = x[l] < 0 ? -x[l] : x[l];
      amax = a > amax ? a : amax;
    }
    float id = amax > 0 ? 127.0f / amax : 0.0f;
    y[b].d = amax / 127.0f;
    for (int l = 0; l < 32; l++) y[b].q[l] = (int8_t)sms_rne(x[l] * id);
  }
}

static inline void sms_quantize(const float *x, sms_q8 *y, int64_t nb) {
#if SMS_AVX2
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < nb; b++, x += 32) {
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float amax = _mm_cvtss_f32(h), id = amax > 0 ? 127.0f / amax : 0.0f;
    y[b].d = amax / 127.0f;
    __m256 vid = _mm256_set1_ps(id);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, vid)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, vid));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, vid)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, vid));
    /* packs work per 128-bit lane: undo the interleave with a permute */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)y[b].q, p);
  }
#elif SMS_NEON
  for (int64_t b = 0; b < nb; b++, x += 32) {
    float32x4_t v[8], m = vdupq_n_f32(0);
    for (int i = 0; i < 8; i++) {
      v[i] = vld1q_f32(x + 4 * i);
      m = vmaxq_f32(m, vabsq_f32(v[i]));
    }
    float amax = vmaxvq_f32(m), id = amax > 0 ? 127.0f / amax : 0.0f;
    y[b].d = amax / 127.0f;
    for (int i = 0; i < 8; i += 2) {
      int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(v[i], id)), c = vcvtnq_s32_f32(vmulq_n_f32(v[i + 1], id));
      int16x8_t s = vcombine_s16(vmovn_s32(a), vmovn_s32(c));
      vst1_s8(y[b].q + 4 * i, vmovn_s16(s));
    }
  }
#else
  sms_quantize_ref(x, y, nb);
#endif
}

/* ---- scalar references ----------------------------------------------------------------- */
static inline float sms_dot_q8_0_ref(const uint8_t *w, const sms_q8 *a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++, w += SMQ_Q8_0_BYTES) {
    int32_t acc = 0;
    for (int l = 0; l < 32; l++) acc += (int32_t)(int8_t)w[2 + l] * a[b].q[l];
    s += smq_f16(w) * a[b].d * (float)acc;
  }
  return s;
}
static inline float sms_dot_q4_0_ref(const uint8_t *w, const sms_q8 *a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b++, w += SMQ_Q4_0_BYTES) {
    int32_t acc = 0;
    for (int l = 0; l < 16; l++)
      acc += ((w[2 + l] & 15) - 8) * a[b].q[l] + ((w[2 + l] >> 4) - 8) * a[b].q[l + 16];
    s += smq_f16(w) * a[b].d * (float)acc;
  }
  return s;
}

/* q4_k: 8 sub-blocks of 32 per 256 (value d·sc·q − dmin·m), one activation block each */
static inline float sms_dot_q4_k_ref(const uint8_t *w, const sms_q8 *a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q4_K_BYTES) {
    float d = smq_f16(w), dmin = smq_f16(w + 2);
    for (int sb = 0; sb < 8; sb++) {
      uint8_t sc, mn;
      smq_scale_min_k4(sb, w + 4, &sc, &mn);
      const uint8_t *q = w + 16 + 32 * (sb / 2);
      int32_t dot = 0, sum = 0;
      for (int l = 0; l < 32; l++) {
        int v = sb % 2 ? q[l] >> 4 : q[l] & 15;
        dot += v * a[b + sb].q[l];
        sum += a[b + sb].q[l];
      }
      s += d * sc * a[b + sb].d * (float)dot - dmin * mn * a[b + sb].d * (float)sum;
    }
  }
  return s;
}

/* ---- x86-64: AVX2 / AVX-512 VNNI ----------------------------------------------------- */
#if SMS_AVX2
static inline float sms_hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
static inline float sms_h2f(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}
/* eight int32 sums of four products of signed bytes: x's sign moves onto y so the
 * unsigned-by-signed instructions apply (|x| <= 128, |y| <= 127: no saturation) */
static inline __m256i sms_dot_i8(__m256i x, __m256i y) {
  __m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);
#if SMS_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
#endif
}
#if SMS_VNNI
/* A weight block made ready for several activation blocks: with VNNI the activations
 * go in as unsigned bytes (q + 128: one xor) against the signed weights, and the
 * surplus 128 · Σw, computed once per weight block, starts the integer sum; then each
 * activation block costs an xor, vpdpbusd, a convert, a multiply and an FMA. */
typedef struct { __m256i w, nc; __m256 d; } sms_wb;
static inline sms_wb sms_prep(__m256i wq, float dw) {
  sms_wb b;
  b.w = wq;
  b.nc = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), wq));
  b.d = _mm256_set1_ps(dw);
  return b;
}
static inline __m256 sms_blk(__m256 acc, const sms_wb *b, const sms_q8 *a) {
  __m256i au = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)a->q), _mm256_set1_epi8((char)0x80));
  __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_dpbusd_epi32(b->nc, au, b->w)), _mm256_set1_ps(a->d));
  return _mm256_fmadd_ps(p, b->d, acc);
}
#else
typedef struct { __m256i w; float d; } sms_wb;
static inline sms_wb sms_prep(__m256i wq, float dw) {
  sms_wb b;
  b.w = wq;
  b.d = dw;
  return b;
}
static inline __m256 sms_blk(__m256 acc, const sms_wb *b, const sms_q8 *a) {
  __m256i p = sms_dot_i8(b->w, _mm256_loadu_si256((const __m256i *)a->q));
  return _mm256_fmadd_ps(_mm256_set1_ps(b->d * a->d), _mm256_cvtepi32_ps(p), acc);
}
#endif
static inline __m256i sms_w_q8_0(const uint8_t *w) { return _mm256_loadu_si256((const __m256i *)(w + 2)); }
static inline __m256i sms_w_q4_0(const uint8_t *w) {
  __m128i t = _mm_loadu_si128((const __m128i *)(w + 2));
  __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t); /* elements 16..31 are the high nibbles */
  return _mm256_sub_epi8(_mm256_and_si256(b, _mm256_set1_epi8(15)), _mm256_set1_epi8(8));
}
#define SMS_DOTQ(T, BYTES)                                                                                             \
  static inline void sms_dot_##T##_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {                          \
    __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps();                                                          \
    int64_t b = 0;                                                                                                       \
    for (; b + 2 <= nb; b += 2, w += 2 * BYTES) {                                                                        \
      sms_wb w0 = sms_prep(sms_w_##T(w), sms_h2f(w)), w1 = sms_prep(sms_w_##T(w + BYTES), sms_h2f(w + BYTES));           \
      c0 = sms_blk(c0, &w0, a + b);                                                                                      \
      c1 = sms_blk(c1, &w1, a + b + 1);                                                                                  \
    }                                                                                                                    \
    if (b < nb) {                                                                                                        \
      sms_wb w0 = sms_prep(sms_w_##T(w), sms_h2f(w));                                                                    \
      c0 = sms_blk(c0, &w0, a + b);                                                                                      \
    }                                                                                                                    \
    y[0] = sms_hsum(_mm256_add_ps(c0, c1));                                                                              \
  }                                                                                                                      \
  /* one weight row, four rows of activations (their blocks nb apart) */                                                 \
  static inline void sms_dot_##T##_4(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {                          \
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;                                                          \
    for (int64_t b = 0; b < nb; b++, w += BYTES) {                                                                       \
      sms_wb wb = sms_prep(sms_w_##T(w), sms_h2f(w));                                                                    \
      c0 = sms_blk(c0, &wb, a + b);                                                                                      \
      c1 = sms_blk(c1, &wb, a + nb + b);                                                                                 \
      c2 = sms_blk(c2, &wb, a + 2 * nb + b);                                                                             \
      c3 = sms_blk(c3, &wb, a + 3 * nb + b);                                                                             \
    }                                                                                                                    \
    y[0] = sms_hsum(c0), y[1] = sms_hsum(c1), y[2] = sms_hsum(c2), y[3] = sms_hsum(c3);                                  \
  }
SMS_DOTQ(q8_0, SMQ_Q8_0_BYTES)
SMS_DOTQ(q4_0, SMQ_Q4_0_BYTES)

/* q4_k: nibbles are unsigned, so they go straight into vpmaddubsw / vpdpbusd */
static inline __m256i sms_dot_u8(__m256i u, __m256i y) {
#if SMS_VNNI
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, y);
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
#endif
}
static inline void sms_dot_q4_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  __m256 acc = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(15), one = _mm256_set1_epi8(1);
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q4_K_BYTES) {
    float d = sms_h2f(w), dmin = sms_h2f(w + 2);
    for (int g = 0; g < 4; g++) {
      __m256i v = _mm256_loadu_si256((const __m256i *)(w + 16 + 32 * g));
      __m256i q[2] = {_mm256_and_si256(v, m4), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4)};
      for (int h = 0; h < 2; h++) {
        uint8_t sc, mn;
        smq_scale_min_k4(2 * g + h, w + 4, &sc, &mn);
        const sms_q8 *ab = a + b + 2 * g + h;
        __m256i qa = _mm256_loadu_si256((const __m256i *)ab->q);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d * sc * ab->d), _mm256_cvtepi32_ps(sms_dot_u8(q[h], qa)), acc);
        mins = _mm256_fmadd_ps(_mm256_set1_ps(dmin * mn * ab->d), _mm256_cvtepi32_ps(sms_dot_u8(one, qa)), mins);
      }
    }
  }
  y[0] = sms_hsum(acc) - sms_hsum(mins);
}
#undef SMS_DOTQ

/* f32 and f16 weights: the same lanes, products and sums as the generic C kernels
 * (sm_dot_f32: 16 lanes, the tail, then the lanes in order; smq_dot_f16: 32 lanes
 * summed pairwise, then the tail), multiply then add (C99 does not contract), so the
 * results are the generic backend's bit for bit. */
static inline float sms_fin_f32(__m256 lo, __m256 hi, const float *w, const float *x, int64_t i, int64_t k) {
  float s[16], r = 0;
  _mm256_storeu_ps(s, lo);
  _mm256_storeu_ps(s + 8, hi);
  for (int u = 0; u < 15 && i + u < k; u++) r += x[i + u] * w[i + u];
  for (int u = 0; u < 16; u++) r += s[u];
  return r;
}
#define SMS_MAC(acc, a, b) acc = _mm256_add_ps(acc, _mm256_mul_ps(a, b))
static inline void sms_dot_f32_1(const uint8_t *wb, const float *x, int64_t k, float *y) {
  const float *w = (const float *)(const void *)wb;
  __m256 l0 = _mm256_setzero_ps(), h0 = l0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    SMS_MAC(l0, _mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i));
    SMS_MAC(h0, _mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8));
  }
  y[0] = sms_fin_f32(l0, h0, w, x, i, k);
}
static inline void sms_dot_f32_4(const uint8_t *wb, const float *x, int64_t k, float *y) {
  const float *w = (const float *)(const void *)wb, *x1 = x + k, *x2 = x + 2 * k, *x3 = x + 3 * k;
  __m256 l0 = _mm256_setzero_ps(), h0 = l0, l1 = l0, h1 = l0, l2 = l0, h2 = l0, l3 = l0, h3 = l0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    __m256 wl = _mm256_loadu_ps(w + i), wh = _mm256_loadu_ps(w + i + 8);
    SMS_MAC(l0, wl, _mm256_loadu_ps(x + i)), SMS_MAC(h0, wh, _mm256_loadu_ps(x + i + 8));
    SMS_MAC(l1, wl, _mm256_loadu_ps(x1 + i)), SMS_MAC(h1, wh, _mm256_loadu_ps(x1 + i + 8));
    SMS_MAC(l2, wl, _mm256_loadu_ps(x2 + i)), SMS_MAC(h2, wh, _mm256_loadu_ps(x2 + i + 8));
    SMS_MAC(l3, wl, _mm256_loadu_ps(x3 + i)), SMS_MAC(h3, wh, _mm256_loadu_ps(x3 + i + 8));
  }
  y[0] = sms_fin_f32(l0, h0, w, x, i, k), y[1] = sms_fin_f32(l1, h1, w, x1, i, k);
  y[2] = sms_fin_f32(l2, h2, w, x2, i, k), y[3] = sms_fin_f32(l3, h3, w, x3, i, k);
}
/* smq_sum32 of lanes a0..a3 (0-7, 8-15, 16-23, 24-31), plus the tail */
static inline float sms_fin_f16(__m256 a0, __m256 a1, __m256 a2, __m256 a3, const uint8_t *w, const float *x, int64_t i, int64_t k) {
  __m256 u = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
  __m128 v = _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
  v = _mm_add_ps(v, _mm_movehl_ps(v, v));
  float tail = 0;
  for (int64_t l = 0; l < 31 && i + l < k; l++) tail += smq_f16(w + 2 * (i + l)) * x[i + l];
  return (_mm_cvtss_f32(v) + _mm_cvtss_f32(_mm_movehdup_ps(v))) + tail;
}
static inline __m256 sms_h8(const uint8_t *w) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w)); }
static inline void sms_dot_f16_1(const uint8_t *w, const float *x, int64_t k, float *y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    SMS_MAC(a0, sms_h8(w + 2 * i), _mm256_loadu_ps(x + i));
    SMS_MAC(a1, sms_h8(w + 2 * i + 16), _mm256_loadu_ps(x + i + 8));
    SMS_MAC(a2, sms_h8(w + 2 * i + 32), _mm256_loadu_ps(x + i + 16));
    SMS_MAC(a3, sms_h8(w + 2 * i + 48), _mm256_loadu_ps(x + i + 24));
  }
  y[0] = sms_fin_f16(a0, a1, a2, a3, w, x, i, k);
}
/* two rows of x at once (4 rows would not fit AVX2's 16 registers) */
static inline void sms_dot_f16_2(const uint8_t *w, const float *x, const float *z, int64_t k, float *y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    __m256 w0 = sms_h8(w + 2 * i), w1 = sms_h8(w + 2 * i + 16), w2 = sms_h8(w + 2 * i + 32), w3 = sms_h8(w + 2 * i + 48);
    SMS_MAC(a0, w0, _mm256_loadu_ps(x + i)), SMS_MAC(a1, w1, _mm256_loadu_ps(x + i + 8));
    SMS_MAC(a2, w2, _mm256_loadu_ps(x + i + 16)), SMS_MAC(a3, w3, _mm256_loadu_ps(x + i + 24));
    SMS_MAC(b0, w0, _mm256_loadu_ps(z + i)), SMS_MAC(b1, w1, _mm256_loadu_ps(z + i + 8));
    SMS_MAC(b2, w2, _mm256_loadu_ps(z + i + 16)), SMS_MAC(b3, w3, _mm256_loadu_ps(z + i + 24));
  }
  y[0] = sms_fin_f16(a0, a1, a2, a3, w, x, i, k), y[1] = sms_fin_f16(b0, b1, b2, b3, w, z, i, k);
}
static inline void sms_dot_f16_4(const uint8_t *w, const float *x, int64_t k, float *y) {
  sms_dot_f16_2(w, x, x + k, k, y);
  sms_dot_f16_2(w, x + 2 * k, x + 3 * k, k, y + 2);
}
#undef SMS_MAC

/* ---- aarch64: NEON / dotprod ----------------------------------------------------------- */
#elif SMS_NEON
static inline float sms_h2f(const uint8_t *p) { return smq_f16(p); }
/* four int32 sums of products of two 16-byte halves */
static inline int32x4_t sms_dot_i8(int8x16_t x0, int8x16_t x1, const int8_t *q) {
  int8x16_t y0 = vld1q_s8(q), y1 = vld1q_s8(q + 16);
#if SMS_DOTPROD
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), x0, y0), x1, y1);
#else
  int16x8_t p0 = vmull_s8(vget_low_s8(x0), vget_low_s8(y0)), p1 = vmull_s8(vget_low_s8(x1), vget_low_s8(y1));
  p0 = vmlal_s8(p0, vget_high_s8(x0), vget_high_s8(y0)); /* |sum of two| <= 2 * 128 * 127 */
  p1 = vmlal_s8(p1, vget_high_s8(x1), vget_high_s8(y1));
  return vpadalq_s16(vpaddlq_s16(p0), p1);
#endif
}
static inline float32x4_t sms_blk(float32x4_t acc, int8x16_t x0, int8x16_t x1, float dw, const sms_q8 *a) {
  return vfmaq_n_f32(acc, vcvtq_f32_s32(sms_dot_i8(x0, x1, a->q)), dw * a->d);
}
static inline void sms_w_q8_0(const uint8_t *w, int8x16_t *x0, int8x16_t *x1) {
  *x0 = vld1q_s8((const int8_t *)w + 2);
  *x1 = vld1q_s8((const int8_t *)w + 18);
}
static inline void sms_w_q4_0(const uint8_t *w, int8x16_t *x0, int8x16_t *x1) {
  uint8x16_t t = vld1q_u8(w + 2);
  *x0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(t, vdupq_n_u8(15))), vdupq_n_s8(8));
  *x1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(t, 4)), vdupq_n_s8(8));
}
#define SMS_DOTQ(T, BYTES)                                                                                             \
  static inline void sms_dot_##T##_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {                          \
    float32x4_t c0 = vdupq_n_f32(0), c1 = c0;                                                                            \
    int64_t b = 0;                                                                                                       \
    int8x16_t x0, x1, z0, z1;                                                                                            \
    for (; b + 2 <= nb; b += 2, w += 2 * BYTES) {                                                                        \
      sms_w_##T(w, &x0, &x1);                                                                                            \
      sms_w_##T(w + BYTES, &z0, &z1);                                                                                    \
      c0 = sms_blk(c0, x0, x1, sms_h2f(w), a + b);                                                                       \
      c1 = sms_blk(c1, z0, z1, sms_h2f(w + BYTES), a + b + 1);                                                           \
    }                                                                                                                    \
    if (b < nb) {                                                                                                        \
      sms_w_##T(w, &x0, &x1);                                                                                            \
      c0 = sms_blk(c0, x0, x1, sms_h2f(w), a + b);                                                                       \
    }                                                                                                                    \
    y[0] = vaddvq_f32(vaddq_f32(c0, c1));                                                                                \
  }                                                                                                                      \
  static inline void sms_dot_##T##_4(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {                          \
    float32x4_t c0 = vdupq_n_f32(0), c1 = c0, c2 = c0, c3 = c0;                                                          \
    for (int64_t b = 0; b < nb; b++, w += BYTES) {                                                                       \
      int8x16_t x0, x1;                                                                                                  \
      sms_w_##T(w, &x0, &x1);                                                                                            \
      float dw = sms_h2f(w);                                                                                             \
      c0 = sms_blk(c0, x0, x1, dw, a + b);                                                                               \
      c1 = sms_blk(c1, x0, x1, dw, a + nb + b);                                                                          \
      c2 = sms_blk(c2, x0, x1, dw, a + 2 * nb + b);                                                                      \
      c3 = sms_blk(c3, x0, x1, dw, a + 3 * nb + b);                                                                      \
    }                                                                                                                    \
    y[0] = vaddvq_f32(c0), y[1] = vaddvq_f32(c1), y[2] = vaddvq_f32(c2), y[3] = vaddvq_f32(c3);                          \
  }
SMS_DOTQ(q8_0, SMQ_Q8_0_BYTES)
SMS_DOTQ(q4_0, SMQ_Q4_0_BYTES)

static inline void sms_dot_q4_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  float32x4_t acc = vdupq_n_f32(0), mins = vdupq_n_f32(0);
  const int8x16_t one = vdupq_n_s8(1);
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q4_K_BYTES) {
    float d = sms_h2f(w), dmin = sms_h2f(w + 2);
    for (int g = 0; g < 4; g++) {
      uint8x16_t v0 = vld1q_u8(w + 16 + 32 * g), v1 = vld1q_u8(w + 32 + 32 * g);
      int8x16_t q[2][2] = {{vreinterpretq_s8_u8(vandq_u8(v0, vdupq_n_u8(15))), vreinterpretq_s8_u8(vandq_u8(v1, vdupq_n_u8(15)))},
                           {vreinterpretq_s8_u8(vshrq_n_u8(v0, 4)), vreinterpretq_s8_u8(vshrq_n_u8(v1, 4))}};
      for (int h = 0; h < 2; h++) {
        uint8_t sc, mn;
        smq_scale_min_k4(2 * g + h, w + 4, &sc, &mn);
        const sms_q8 *ab = a + b + 2 * g + h;
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(sms_dot_i8(q[h][0], q[h][1], ab->q)), d * sc * ab->d);
        mins = vfmaq_n_f32(mins, vcvtq_f32_s32(sms_dot_i8(one, one, ab->q)), dmin * mn * ab->d);
      }
    }
  }
  y[0] = vaddvq_f32(acc) - vaddvq_f32(mins);
}
#undef SMS_DOTQ

/* f32 and f16 weights: the generic C kernels' lanes and sums (see the x86 part) */
#define SMS_MAC(acc, a, b) acc = vaddq_f32(acc, vmulq_f32(a, b))
static inline float sms_fin_f32(const float32x4_t *a, const float *w, const float *x, int64_t i, int64_t k) {
  float s[16], r = 0;
  for (int u = 0; u < 4; u++) vst1q_f32(s + 4 * u, a[u]);
  for (int u = 0; u < 15 && i + u < k; u++) r += x[i + u] * w[i + u];
  for (int u = 0; u < 16; u++) r += s[u];
  return r;
}
static inline void sms_dot_f32_1(const uint8_t *wb, const float *x, int64_t k, float *y) {
  const float *w = (const float *)(const void *)wb;
  float32x4_t a[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    SMS_MAC(a[0], vld1q_f32(w + i), vld1q_f32(x + i));
    SMS_MAC(a[1], vld1q_f32(w + i + 4), vld1q_f32(x + i + 4));
    SMS_MAC(a[2], vld1q_f32(w + i + 8), vld1q_f32(x + i + 8));
    SMS_MAC(a[3], vld1q_f32(w + i + 12), vld1q_f32(x + i + 12));
  }
  y[0] = sms_fin_f32(a, w, x, i, k);
}
static inline void sms_dot_f32_4(const uint8_t *w, const float *x, int64_t k, float *y) {
  for (int r = 0; r < 4; r++) sms_dot_f32_1(w, x + r * k, k, y + r);
}
static inline float32x4_t sms_h4(const uint8_t *w) {
  uint16_t h[4];
  memcpy(h, w, 8);
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
}
static inline void sms_dot_f16_1(const uint8_t *w, const float *x, int64_t k, float *y) {
  float32x4_t a[8];
  for (int u = 0; u < 8; u++) a[u] = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 32 <= k; i += 32)
    for (int u = 0; u < 8; u++) SMS_MAC(a[u], sms_h4(w + 2 * i + 8 * u), vld1q_f32(x + i + 4 * u));
  /* smq_sum32: lanes l and l + 16, then l and l + 8, l and l + 4, then (0 + 2) + (1 + 3) */
  float32x4_t u0 = vaddq_f32(vaddq_f32(a[0], a[4]), vaddq_f32(a[2], a[6]));
  float32x4_t u1 = vaddq_f32(vaddq_f32(a[1], a[5]), vaddq_f32(a[3], a[7]));
  float32x4_t v = vaddq_f32(u0, u1);
  float tail = 0;
  for (int64_t l = 0; l < 31 && i + l < k; l++) tail += smq_f16(w + 2 * (i + l)) * x[i + l];
  y[0] = ((vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 2)) + (vgetq_lane_f32(v, 1) + vgetq_lane_f32(v, 3))) + tail;
}
static inline void sms_dot_f16_4(const uint8_t *w, const float *x, int64_t k, float *y) {
  for (int r = 0; r < 4; r++) sms_dot_f16_1(w, x + r * k, k, y + r);
}
#undef SMS_MAC

/* ---- portable --------------------------------------------------------------------------- */
#else
static inline void sms_dot_q8_0_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) { y[0] = sms_dot_q8_0_ref(w, a, nb); }
static inline void sms_dot_q4_0_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) { y[0] = sms_dot_q4_0_ref(w, a, nb); }
static inline void sms_dot_q4_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) { y[0] = sms_dot_q4_k_ref(w, a, nb); }
static inline void sms_dot_q8_0_4(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  for (int r = 0; r < 4; r++) y[r] = sms_dot_q8_0_ref(w, a + r * nb, nb);
}
static inline void sms_dot_q4_0_4(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  for (int r = 0; r < 4; r++) y[r] = sms_dot_q4_0_ref(w, a + r * nb, nb);
}
static inline void sms_dot_f16_1(const uint8_t *w, const float *x, int64_t k, float *y) { y[0] = smq_dot_f16(w, x, k); }
static inline void sms_dot_f32_1(const uint8_t *w, const float *x, int64_t k, float *y) {
  y[0] = sm_dot_f32((const float *)(const void *)w, x, k);
}
static inline void sms_dot_f16_4(const uint8_t *w, const float *x, int64_t k, float *y) {
  for (int r = 0; r < 4; r++) y[r] = smq_dot_f16(w, x + r * k, k);
}
static inline void sms_dot_f32_4(const uint8_t *w, const float *x, int64_t k, float *y) {
  for (int r = 0; r < 4; r++) y[r] = sm_dot_f32((const float *)(const void *)w, x + r * k, k);
}
#endif

/* bytes of quantized activations a chunk of rows may take on the stack */
#define SMS_CHUNK_BYTES (96 * 1024)

#include "smelt_simd_q.h" /* AVX-512 q8_0 / q4_0 (SMS_ZMM) */

/* ---- the matmul ------------------------------------------------------------------------- */
struct sms_mm {
  int kind;
  const uint8_t *w;
  int64_t rb, N, K, nr; /* weight row bytes, weight rows, row length, rows of x in this chunk */
  const float *x;       /* f32 / f16: nr rows of K */
  const sms_q8 *xq;     /* q8_0 / q4_0: nr rows of K / 32 blocks */
  float *y;             /* nr rows of N */
};

static inline void sms_mm_part(void *arg, int part, int nparts) {
  const struct sms_mm *m = (const struct sms_mm *)arg;
  int64_t j0 = m->N * part / nparts, j1 = m->N * (part + 1) / nparts, K = m->K, N = m->N, nb = K / 32;
  float t[4];
  int64_t j = j0;
  if (m->nr < 4 && (m->kind == SMS_Q8_0 || m->kind == SMS_Q4_0)) /* decode: 4 weight rows at a time (smelt_simd_q.h) */
    for (; j + 4 <= j1; j += 4) {
      /* the 4 rows are read side by side, short streams the hardware prefetcher does not
       * follow: the kernel fetches the next group's bytes (within this part) as one linear
       * stream while it reads this group, with the first activation row only */
      const char *pf = (const char *)m->w + (j + 4) * m->rb, *pe = (const char *)m->w + (j1 < j + 8 ? j1 : j + 8) * m->rb;
      if (j == j0) /* the part's first group has had none: fetch it whole */
        for (const char *p = (const char *)m->w + j * m->rb; p < pf && p < (const char *)m->w + j1 * m->rb; p += 64) __builtin_prefetch(p);
      for (int64_t r = 0; r < m->nr; r++, pe = pf) {
        if (m->kind == SMS_Q8_0) sms_rows4_q8_0(m->w + j * m->rb, m->rb, m->xq + r * nb, nb, m->y + r * N + j, pf, pe);
        else sms_rows4_q4_0(m->w + j * m->rb, m->rb, m->xq + r * nb, nb, m->y + r * N + j, pf, pe);
      }
    }
  for (; j < j1; j++) {
    const uint8_t *w = m->w + j * m->rb;
    int64_t r = 0;
    for (; r + 4 <= m->nr; r += 4) {
      switch (m->kind) {
      case SMS_F32: sms_dot_f32_4(w, m->x + r * K, K, t); break;
      case SMS_F16: sms_dot_f16_4(w, m->x + r * K, K, t); break;
      case SMS_Q8_0: sms_dot_q8_0_4(w, m->xq + r * nb, nb, t); break;
      case SMS_Q4_K:
        for (int u = 0; u < 4; u++) sms_dot_q4_k_1(w, m->xq + (r + u) * nb, nb, t + u);
        break;
      case SMS_Q6_K:
        for (int u = 0; u < 4; u++) sms_dot_q6_k_1(w, m->xq + (r + u) * nb, nb, t + u);
        break;
      default: sms_dot_q4_0_4(w, m->xq + r * nb, nb, t); break;
      }
      for (int u = 0; u < 4; u++) m->y[(r + u) * N + j] = t[u];
    }
    for (; r < m->nr; r++) {
      switch (m->kind) {
      case SMS_F32: sms_dot_f32_1(w, m->x + r * K, K, t); break;
      case SMS_F16: sms_dot_f16_1(w, m->x + r * K, K, t); break;
      case SMS_Q8_0: sms_dot_q8_0_1(w, m->xq + r * nb, nb, t); break;
      case SMS_Q4_K: sms_dot_q4_k_1(w, m->xq + r * nb, nb, t); break;
      case SMS_Q6_K: sms_dot_q6_k_1(w, m->xq + r * nb, nb, t); break;
      default: sms_dot_q4_0_1(w, m->xq + r * nb, nb, t); break;
      }
      m->y[r * N + j] = t[0];
    }
  }
}

/* y[r, j] = Σ_k W[j, k] x[r, k] for r < R, j < N; W rows of rb bytes.  For the
 * quantized kinds K is a multiple of 32 and at most SMS_CHUNK_BYTES / 36 * 32. */
static inline void sms_matmul(int kind, const void *w, int64_t rb, const float *x, float *y, int64_t R, int64_t N, int64_t K) {
#if SMS_ZMM
  if (kind == SMS_Q8_0 || kind == SMS_Q4_0) {
    smz_matmul(kind == SMS_Q4_0, w, rb, x, y, R, N, K);
    return;
  }
#endif
  struct sms_mm m = {kind, (const uint8_t *)w, rb, N, K, 0, x, NULL, y};
  int64_t chunk = R;
  if (kind >= SMS_Q8_0) {
    chunk = SMS_CHUNK_BYTES / (int64_t)(K / 32 * sizeof(sms_q8));
    if (chunk < 1) chunk = 1;
    if (chunk > R) chunk = R;
  }
  sms_q8 buf[(kind >= SMS_Q8_0) ? chunk * (K / 32) : 1];
  for (int64_t r0 = 0; r0 < R; r0 += chunk) {
    m.nr = R - r0 < chunk ? R - r0 : chunk;
    m.x = x + r0 * K;
    m.y = y + r0 * N;
    if (kind >= SMS_Q8_0) {
      sms_quantize(m.x, buf, m.nr * (K / 32));
      m.xq = buf;
    }
    /* about 64 K multiply-adds per part at least, or threads cost more than they give */
    int64_t parts = m.nr * N * K / 65536;
    smt_run(sms_mm_part, &m, parts > 64 ? 64 : parts < N ? (int)parts : (int)N);
  }
}

/* ---- f32 GEMM with B [K, N] (ONNX MatMul / Gemm by a constant) ------------------------
 * y[i, j] = Σ_k a[i, k] b[k, j], k in order, multiply then add: the generic C kernel's
 * row update exactly, so results are its bit for bit.  A 4 x 16 register tile (4 rows
 * of a, a 16-column panel of b read in place, row k of the panel being contiguous)
 * keeps 8 (AVX2) or 16 (NEON) accumulators; panels are split between threads. */
struct sms_nn { const float *a, *b; float *y; int64_t M, N, K; };

static inline void sms_nn_scalar(const struct sms_nn *m, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  for (int64_t i = i0; i < i1; i++)
    for (int64_t j = j0; j < j1; j++) {
      float acc = 0;
      for (int64_t k = 0; k < m->K; k++) acc += m->a[i * m->K + k] * m->b[k * m->N + j];
      m->y[i * m->N + j] = acc;
    }
}

#if SMS_AVX2
#define SMS_NN_NR 16
static inline void sms_nn_tile(const struct sms_nn *m, int64_t i, int64_t j, int nr) {
  const float *a = m->a + i * m->K, *b = m->b + j;
  int64_t K = m->K, N = m->N;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
#define SMS_R(r) { __m256 av = _mm256_set1_ps(a[(r) * K + k]); \
    c##r##0 = _mm256_add_ps(c##r##0, _mm256_mul_ps(av, b0)); c##r##1 = _mm256_add_ps(c##r##1, _mm256_mul_ps(av, b1)); }
  if (nr == 4)
    for (int64_t k = 0; k < K; k++) {
      __m256 b0 = _mm256_loadu_ps(b + k * N), b1 = _mm256_loadu_ps(b + k * N + 8);
      SMS_R(0) SMS_R(1) SMS_R(2) SMS_R(3)
    }
  else
    for (int64_t k = 0; k < K; k++) {
      __m256 b0 = _mm256_loadu_ps(b + k * N), b1 = _mm256_loadu_ps(b + k * N + 8);
      SMS_R(0)
    }
#undef SMS_R
  float *y = m->y + i * N + j;
  _mm256_storeu_ps(y, c00), _mm256_storeu_ps(y + 8, c01);
  if (nr == 4) {
    _mm256_storeu_ps(y + N, c10), _mm256_storeu_ps(y + N + 8, c11);
    _mm256_storeu_ps(y + 2 * N, c20), _mm256_storeu_ps(y + 2 * N + 8, c21);
    _mm256_storeu_ps(y + 3 * N, c30), _mm256_storeu_ps(y + 3 * N + 8, c31);
  }
}
#elif SMS_NEON
#define SMS_NN_NR 16
static inline void sms_nn_tile(const struct sms_nn *m, int64_t i, int64_t j, int nr) {
  const float *a = m->a + i * m->K, *b = m->b + j;
  int64_t K = m->K, N = m->N;
  float32x4_t c[4][4];
  for (int r = 0; r < 4; r++)
    for (int u = 0; u < 4; u++) c[r][u] = vdupq_n_f32(0);
  for (int64_t k = 0; k < K; k++) {
    float32x4_t b0 = vld1q_f32(b + k * N), b1 = vld1q_f32(b + k * N + 4), b2 = vld1q_f32(b + k * N + 8), b3 = vld1q_f32(b + k * N + 12);
    for (int r = 0; r < nr; r++) {
      float32x4_t av = vdupq_n_f32(a[r * K + k]);
      c[r][0] = vaddq_f32(c[r][0], vmulq_f32(av, b0)), c[r][1] = vaddq_f32(c[r][1], vmulq_f32(av, b1));
      c[r][2] = vaddq_f32(c[r][2], vmulq_f32(av, b2)), c[r][3] = vaddq_f32(c[r][3], vmulq_f32(av, b3));
    }
  }
  for (int r = 0; r < nr; r++)
    for (int u = 0; u < 4; u++) vst1q_f32(m->y + (i + r) * N + j + 4 * u, c[r][u]);
}
#endif

static inline void sms_nn_part(void *arg, int part, int nparts) {
  const struct sms_nn *m = (const struct sms_nn *)arg;
#ifdef SMS_NN_NR
  int64_t np = m->N / SMS_NN_NR, p0 = np * part / nparts, p1 = np * (part + 1) / nparts;
  for (int64_t p = p0; p < p1; p++) {
    int64_t i = 0;
    for (; i + 4 <= m->M; i += 4) sms_nn_tile(m, i, p * SMS_NN_NR, 4);
    for (; i < m->M; i++) sms_nn_tile(m, i, p * SMS_NN_NR, 1);
  }
  if (part == nparts - 1) sms_nn_scalar(m, 0, m->M, np * SMS_NN_NR, m->N); /* the columns left */
#else
  sms_nn_scalar(m, 0, m->M, m->N * part / nparts, m->N * (part + 1) / nparts);
#endif
}

static inline void sms_gemm_nn(const float *a, const float *b, float *y, int64_t M, int64_t N, int64_t K) {
  struct sms_nn m = {a, b, y, M, N, K};
  int64_t parts = M * N * K / 65536, panels = N / 16 > 0 ? N / 16 : 1;
  smt_run(sms_nn_part, &m, parts > panels ? (int)panels : (int)parts);
}

#include "smelt_simd_gemm.h" /* the packed-panel f32 / f16 GEMM (MatMul pack = P) */
#include "smelt_simd_conv.h" /* Conv, depthwise Conv, MaxPool, AveragePool */

#endif
