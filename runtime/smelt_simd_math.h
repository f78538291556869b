/* runtime/smelt_simd_math.h — vector math for the target backends (backends/simd_math.c):
 * exp, sigmoid, SiLU, tanh, erf, GELU and GeluTanh over vectors of f32, and the row
 * kernels built on them: Softmax / LogSoftmax over the last axis, RMSNorm, LayerNorm
 * and causal attention over a KV cache.  Included by smelt_simd.h, whose target macros
 * pick the vector width:
 *
 *   SMM_W 16  AVX-512F (with the AVX2+FMA+F16C of smelt_simd.h)   __m512
 *   SMM_W  8  AVX2+FMA+F16C                                       __m256
 *   SMM_W  4  aarch64 NEON                                        float32x4_t
 *   SMM_W  1  anything else: the same algorithms on plain floats (the portable path)
 *
 * Every algorithm is written once over the smm_* primitives below, so each instruction
 * set computes the same polynomials (results differ only by FMA contraction).
 *
 * Accuracy, measured by tests/simd/check_simd.c over sweeps against double libm (NOTES.md,
 * "Vector math"): exp within 2 ulp, including subnormal results, overflow to inf at
 * x > 88.72, 0 below -103.97, NaN in NaN out; tanh and sigmoid within 4 ulp; erf within
 * 4 ulp (absolute 1e-7 near 0 where it is relatively exact anyway).
 *
 * exp: x = n ln2 + r, |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact), e^r a degree-6
 * polynomial (1 + r + r^2 q(r), q fitted by least squares on Chebyshev nodes), times 2^n
 * built from the exponent bits as 2^n1 * 2^n2 (n1 + n2 = n, both normal), so results in
 * the subnormal range round once and large x overflows to inf.
 * tanh: |x| < 0.625: x + x z p(z), z = x^2 (p of degree 4, fitted the same way); beyond, 1 - 2 / (e^{2|x|} + 1) with x's sign.
 * erf: |x| < 0.921875: x p(x^2) (degree 6 in x^2); beyond, 1 - e^{-x^2} g(|x| - 2.5) with
 * g ~ erfc(x) e^{x^2} a degree-11 polynomial on [0.92, 4]; |x| >= 4 gives +-1. */
#ifndef SMELT_SIMD_MATH_H
#define SMELT_SIMD_MATH_H

#include "smelt_simd.h"

#include <math.h>
#include <string.h>

/* ---- primitives ------------------------------------------------------------------------- */
/* One set per instruction set, shared by every vector kernel of the runtime (this file's
 * and the packed GEMM of smelt_simd_gemm.h).  Always inlined: the GEMM's micro-kernel
 * counts on its accumulators staying in registers through unrolled loops. */
#if defined(__GNUC__)
#define SMM_INLINE static inline __attribute__((always_inline))
#else
#define SMM_INLINE static inline
#endif

#if SMS_AVX2 /* AVX-512F and AVX2 name most operations alike: _mm512_OP / _mm256_OP */
#if defined(__AVX512F__)
#define SMM_W 16
#define SMM_ISA "avx512"
#define SMM_X(op) _mm512_##op
typedef __m512 smm_v;
typedef __mmask16 smm_m;
#define SMM_CMP(a, b, pred) _mm512_cmp_ps_mask(a, b, pred)
SMM_INLINE smm_v smm_ld_h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)p)); }
SMM_INLINE smm_v smm_abs(smm_v a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7fffffff))); }
SMM_INLINE smm_v smm_round(smm_v a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
SMM_INLINE smm_v smm_sel(smm_m m, smm_v a, smm_v b) { return _mm512_mask_blend_ps(m, b, a); }
SMM_INLINE smm_v smm_pow2i(smm_v n) { /* 2^n for integral n in [-126, 127] */
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23));
}
SMM_INLINE int smm_all(smm_m m) { return m == 0xffff; }
SMM_INLINE float smm_hsum(smm_v a) { return _mm512_reduce_add_ps(a); }
SMM_INLINE float smm_hmax(smm_v a) { return _mm512_reduce_max_ps(a); }
#else
#define SMM_W 8
#define SMM_ISA "avx2"
#define SMM_X(op) _mm256_##op
typedef __m256 smm_v;
typedef __m256 smm_m;
#define SMM_CMP(a, b, pred) _mm256_cmp_ps(a, b, pred)
SMM_INLINE smm_v smm_ld_h(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)p)); }
SMM_INLINE smm_v smm_abs(smm_v a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
SMM_INLINE smm_v smm_round(smm_v a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
SMM_INLINE smm_v smm_sel(smm_m m, smm_v a, smm_v b) { return _mm256_blendv_ps(b, a, m); }
SMM_INLINE smm_v smm_pow2i(smm_v n) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}
SMM_INLINE int smm_all(smm_m m) { return _mm256_movemask_ps(m) == 0xff; }
/* the halves' sum (max), then the 4 lanes' */
#define SMM_H8(OP)                                                                             \
  __m128 h = _mm_##OP##_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));            \
  h = _mm_##OP##_ps(h, _mm_movehl_ps(h, h));                                                   \
  return _mm_cvtss_f32(_mm_##OP##_ss(h, _mm_movehdup_ps(h)))
SMM_INLINE float smm_hsum(smm_v a) { SMM_H8(add); }
SMM_INLINE float smm_hmax(smm_v a) { SMM_H8(max); }
#undef SMM_H8
#endif
SMM_INLINE smm_v smm_ld(const float *p) { return SMM_X(loadu_ps)(p); }
SMM_INLINE void smm_st(float *p, smm_v v) { SMM_X(storeu_ps)(p, v); }
SMM_INLINE smm_v smm_set(float f) { return SMM_X(set1_ps)(f); }
/* *p in every lane: AVX-512 folds it into the FMA that uses it ({1to16}), AVX2 vbroadcastss */
SMM_INLINE smm_v smm_dup(const float *p) { return SMM_X(set1_ps)(*p); }
SMM_INLINE smm_v smm_add(smm_v a, smm_v b) { return SMM_X(add_ps)(a, b); }
SMM_INLINE smm_v smm_sub(smm_v a, smm_v b) { return SMM_X(sub_ps)(a, b); }
SMM_INLINE smm_v smm_mul(smm_v a, smm_v b) { return SMM_X(mul_ps)(a, b); }
SMM_INLINE smm_v smm_div(smm_v a, smm_v b) { return SMM_X(div_ps)(a, b); }
SMM_INLINE smm_v smm_fma(smm_v a, smm_v b, smm_v c) { return SMM_X(fmadd_ps)(a, b, c); }
SMM_INLINE smm_v smm_max(smm_v a, smm_v b) { return SMM_X(max_ps)(a, b); }
SMM_INLINE smm_v smm_min(smm_v a, smm_v b) { return SMM_X(min_ps)(a, b); }
SMM_INLINE smm_v smm_sqrt(smm_v a) { return SMM_X(sqrt_ps)(a); }
SMM_INLINE smm_m smm_lt(smm_v a, smm_v b) { return SMM_CMP(a, b, _CMP_LT_OQ); }
SMM_INLINE smm_m smm_gt(smm_v a, smm_v b) { return SMM_CMP(a, b, _CMP_GT_OQ); }
SMM_INLINE smm_m smm_isnan(smm_v a) { return SMM_CMP(a, a, _CMP_UNORD_Q); }
#undef SMM_X
#undef SMM_CMP
#elif SMS_NEON
#define SMM_W 4
#define SMM_ISA "neon"
typedef float32x4_t smm_v;
typedef uint32x4_t smm_m;
SMM_INLINE smm_v smm_ld(const float *p) { return vld1q_f32(p); }
SMM_INLINE void smm_st(float *p, smm_v v) { vst1q_f32(p, v); }
SMM_INLINE smm_v smm_ld_h(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
SMM_INLINE smm_v smm_set(float f) { return vdupq_n_f32(f); }
SMM_INLINE smm_v smm_dup(const float *p) { return vld1q_dup_f32(p); } /* ld1r */
SMM_INLINE smm_v smm_add(smm_v a, smm_v b) { return vaddq_f32(a, b); }
SMM_INLINE smm_v smm_sub(smm_v a, smm_v b) { return vsubq_f32(a, b); }
SMM_INLINE smm_v smm_mul(smm_v a, smm_v b) { return vmulq_f32(a, b); }
SMM_INLINE smm_v smm_div(smm_v a, smm_v b) { return vdivq_f32(a, b); }
SMM_INLINE smm_v smm_fma(smm_v a, smm_v b, smm_v c) { return vfmaq_f32(c, a, b); }
SMM_INLINE smm_v smm_max(smm_v a, smm_v b) { return vmaxq_f32(a, b); }
SMM_INLINE smm_v smm_min(smm_v a, smm_v b) { return vminq_f32(a, b); }
SMM_INLINE smm_v smm_abs(smm_v a) { return vabsq_f32(a); }
SMM_INLINE smm_v smm_sqrt(smm_v a) { return vsqrtq_f32(a); }
SMM_INLINE smm_v smm_round(smm_v a) { return vrndnq_f32(a); }
SMM_INLINE smm_m smm_lt(smm_v a, smm_v b) { return vcltq_f32(a, b); }
SMM_INLINE smm_m smm_gt(smm_v a, smm_v b) { return vcgtq_f32(a, b); }
SMM_INLINE smm_m smm_isnan(smm_v a) { return vmvnq_u32(vceqq_f32(a, a)); }
SMM_INLINE smm_v smm_sel(smm_m m, smm_v a, smm_v b) { return vbslq_f32(m, a, b); }
SMM_INLINE smm_v smm_pow2i(smm_v n) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtnq_s32_f32(n), vdupq_n_s32(127)), 23)); }
SMM_INLINE int smm_all(smm_m m) { return vminvq_u32(m) != 0; }
SMM_INLINE float smm_hsum(smm_v a) { return vaddvq_f32(a); }
SMM_INLINE float smm_hmax(smm_v a) { return vmaxvq_f32(a); }
#else
#define SMM_W 1
#define SMM_ISA "portable"
typedef float smm_v;
typedef int smm_m;
SMM_INLINE smm_v smm_ld(const float *p) { return *p; }
SMM_INLINE void smm_st(float *p, smm_v v) { *p = v; }
SMM_INLINE smm_v smm_ld_h(const uint16_t *p) { return sm_f16_to_f32(*p); }
SMM_INLINE smm_v smm_set(float f) { return f; }
SMM_INLINE smm_v smm_dup(const float *p) { return *p; }
SMM_INLINE smm_v smm_add(smm_v a, smm_v b) { return a + b; }
SMM_INLINE smm_v smm_sub(smm_v a, smm_v b) { return a - b; }
SMM_INLINE smm_v smm_mul(smm_v a, smm_v b) { return a * b; }
SMM_INLINE smm_v smm_div(smm_v a, smm_v b) { return a / b; }
SMM_INLINE smm_v smm_fma(smm_v a, smm_v b, smm_v c) { return a * b + c; }
SMM_INLINE smm_v smm_max(smm_v a, smm_v b) { return a > b ? a : b; }
SMM_INLINE smm_v smm_min(smm_v a, smm_v b) { return a < b ? a : b; }
SMM_INLINE smm_v smm_abs(smm_v a) { return fabsf(a); }
SMM_INLINE smm_v smm_sqrt(smm_v a) { return sqrtf(a); }
SMM_INLINE smm_v smm_round(smm_v a) { /* |a| < 2^22 here; ties to even */
  const float big = 12582912.0f; /* 1.5 * 2^23 */
  return (a + big) - big;
}
SMM_INLINE smm_m smm_lt(smm_v a, smm_v b) { return a < b; }
SMM_INLINE smm_m smm_gt(smm_v a, smm_v b) { return a > b; }
SMM_INLINE smm_m smm_isnan(smm_v a) { return a != a; }
SMM_INLINE smm_v smm_sel(smm_m m, smm_v a, smm_v b) { return m ? a : b; }
SMM_INLINE smm_v smm_pow2i(smm_v n) { return sm_bits_f32((uint32_t)((int32_t)n + 127) << 23); }
SMM_INLINE int smm_all(smm_m m) { return m != 0; }
SMM_INLINE float smm_hsum(smm_v a) { return a; }
SMM_INLINE float smm_hmax(smm_v a) { return a; }
#endif

/* the first n < SMM_W elements at p, the other lanes `fill` (smm_ldn_h: 0), and the
 * store of the first n lanes: masked loads and stores where the ISA has them (AVX-512
 * k-masks, AVX2 vmaskmov), so a row tail or a head of 8 floats under a 16-lane vector
 * costs one instruction, not a trip through a stack buffer.  Masked-off lanes are
 * never read or written, so p may end at a page. */
#if SMM_W == 16
static inline __mmask16 smm_first(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1); }
static inline smm_v smm_ldn(const float *p, int64_t n, float fill) { return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), smm_first(n), p); }
static inline void smm_stn(float *p, smm_v v, int64_t n) { _mm512_mask_storeu_ps(p, smm_first(n), v); }
#if defined(__AVX512BW__) && defined(__AVX512VL__)
static inline smm_v smm_ldn_h(const uint16_t *p, int64_t n) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(smm_first(n), p)); }
#define SMM_LDN_H_DONE 1
#endif
#elif SMM_W == 8
static inline __m256i smm_first(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n > 8 ? 8 : (int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline smm_v smm_ldn(const float *p, int64_t n, float fill) {
  __m256i m = smm_first(n);
  return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
static inline void smm_stn(float *p, smm_v v, int64_t n) { _mm256_maskstore_ps(p, smm_first(n), v); }
#else /* NEON (4 lanes, so tails of 1-3) and the portable path (never a partial vector) */
static inline smm_v smm_ldn(const float *p, int64_t n, float fill) {
  float b[SMM_W];
  for (int i = 0; i < SMM_W; i++) b[i] = i < n ? p[i] : fill;
  return smm_ld(b);
}
static inline void smm_stn(float *p, smm_v v, int64_t n) {
  float b[SMM_W];
  smm_st(b, v);
  for (int i = 0; i < SMM_W && i < n; i++) p[i] = b[i];
}
#endif
#ifndef SMM_LDN_H_DONE
static inline smm_v smm_ldn_h(const uint16_t *p, int64_t n) {
  uint16_t b[SMM_W < 8 ? 8 : SMM_W] = {0};
  memcpy(b, p, (size_t)(n < SMM_W ? n : SMM_W) * sizeof *p);
  return smm_ld_h(b);
}
#endif
#undef SMM_LDN_H_DONE

/* ---- functions ---------------------------------------------------------------------------- */
static inline smm_v smm_exp(smm_v x0) {
  smm_v x = smm_min(smm_max(x0, smm_set(-103.97f)), smm_set(88.8f));
  smm_v n = smm_round(smm_mul(x, smm_set(1.44269504089f)));
  /* ln2 = 0.693359375 - 2.12194440e-4: n * the first part is exact for |n| < 2^15 */
  smm_v r = smm_fma(n, smm_set(-0.693359375f), x);
  r = smm_fma(n, smm_set(2.12194440e-4f), r);
  smm_v q = smm_fma(smm_set(1.375140789e-03f), r, smm_set(8.368916341e-03f));
  q = smm_fma(q, r, smm_set(4.166953311e-02f));
  q = smm_fma(q, r, smm_set(1.666651846e-01f));
  q = smm_fma(q, r, smm_set(4.999998860e-01f));
  smm_v p = smm_fma(smm_mul(q, r), r, smm_add(r, smm_set(1.0f)));
  smm_v n1 = smm_round(smm_mul(n, smm_set(0.5f)));
  smm_v y = smm_mul(smm_mul(p, smm_pow2i(n1)), smm_pow2i(smm_sub(n, n1)));
  return smm_sel(smm_isnan(x0), x0, y);
}

static inline smm_v smm_sigmoid(smm_v x) { return smm_div(smm_set(1.0f), smm_add(smm_set(1.0f), smm_exp(smm_mul(x, smm_set(-1.0f))))); }
static inline smm_v smm_silu(smm_v x) { return smm_div(x, smm_add(smm_set(1.0f), smm_exp(smm_mul(x, smm_set(-1.0f))))); }

static inline smm_v smm_tanh(smm_v x) {
  smm_v ax = smm_abs(x), z = smm_mul(x, x);
  smm_v p = smm_fma(smm_set(-5.718962564e-03f), z, smm_set(2.065312452e-02f));
  p = smm_fma(p, z, smm_set(-5.374465790e-02f));
  p = smm_fma(p, z, smm_set(1.333151267e-01f));
  p = smm_fma(p, z, smm_set(-3.333328522e-01f));
  smm_v small = smm_fma(smm_mul(p, z), x, x);
  smm_m sm = smm_lt(ax, smm_set(0.625f));
  if (smm_all(sm)) return small; /* no lane needs the exp (a NaN lane does) */
  smm_v e = smm_exp(smm_add(ax, ax));
  smm_v big = smm_sub(smm_set(1.0f), smm_div(smm_set(2.0f), smm_add(e, smm_set(1.0f))));
  big = smm_sel(smm_lt(x, smm_set(0.0f)), smm_mul(big, smm_set(-1.0f)), big);
  return smm_sel(sm, small, big);
}

static inline smm_v smm_erf(smm_v x) {
  smm_v ax = smm_abs(x), z = smm_mul(x, x);
  smm_v p = smm_fma(smm_set(8.365006088e-05f), z, smm_set(-8.141391986e-04f));
  p = smm_fma(p, z, smm_set(5.200905220e-03f));
  p = smm_fma(p, z, smm_set(-2.685934136e-02f));
  p = smm_fma(p, z, smm_set(1.128369434e-01f));
  p = smm_fma(p, z, smm_set(-3.761263365e-01f));
  p = smm_fma(p, z, smm_set(1.128379167e+00f));
  smm_v small = smm_mul(x, p);
  smm_m sm = smm_lt(ax, smm_set(0.921875f));
  if (smm_all(sm)) return small; /* every lane on the short polynomial: skip the other ~35 operations */
  smm_v s = smm_sub(smm_min(ax, smm_set(4.0f)), smm_set(2.5f));
  smm_v g = smm_fma(smm_set(-4.404090897e-07f), s, smm_set(1.714177580e-06f));
  g = smm_fma(g, s, smm_set(-3.695505487e-06f));
  g = smm_fma(g, s, smm_set(1.413718230e-05f));
  g = smm_fma(g, s, smm_set(-5.955538938e-05f));
  g = smm_fma(g, s, smm_set(2.133499162e-04f));
  g = smm_fma(g, s, smm_set(-7.332103042e-04f));
  g = smm_fma(g, s, smm_set(2.465722060e-03f));
  g = smm_fma(g, s, smm_set(-8.001633111e-03f));
  g = smm_fma(g, s, smm_set(2.493826350e-02f));
  g = smm_fma(g, s, smm_set(-7.434734792e-02f));
  g = smm_fma(g, s, smm_set(2.108063555e-01f));
  smm_v big = smm_sub(smm_set(1.0f), smm_mul(smm_exp(smm_mul(z, smm_set(-1.0f))), g));
  big = smm_sel(smm_gt(ax, smm_set(4.0f)), smm_set(1.0f), big);
  big = smm_sel(smm_lt(x, smm_set(0.0f)), smm_mul(big, smm_set(-1.0f)), big);
  return smm_sel(sm, small, big);
}

/* the formulas of ops.def, step by step in f32 */
static inline smm_v smm_gelu(smm_v x) {
  return smm_mul(smm_mul(smm_set(0.5f), x), smm_add(smm_set(1.0f), smm_erf(smm_mul(x, smm_set(0.70710678118654752f)))));
}
static inline smm_v smm_gelu_tanh(smm_v x) {
  smm_v c = smm_mul(smm_mul(smm_mul(smm_set(0.044715f), x), x), x);
  smm_v t = smm_tanh(smm_mul(smm_set(0.79788456080286536f), smm_add(x, c)));
  return smm_mul(smm_mul(smm_set(0.5f), x), smm_add(smm_set(1.0f), t));
}

/* ---- row kernels ------------------------------------------------------------------------ */
enum { SMM_SOFTMAX, SMM_LOG_SOFTMAX, SMM_RMS_NORM, SMM_LAYER_NORM };

struct smm_rows {
  int kind, add_one;
  const float *x, *w, *b; /* b: LayerNorm's bias or NULL */
  float *y;
  int64_t rows, D;
  float eps;
};

static inline void smm_softmax_row(const float *x, float *y, int64_t D, int lg) {
  smm_v m = smm_set(-INFINITY);
  int64_t i = 0;
  for (; i + SMM_W <= D; i += SMM_W) m = smm_max(m, smm_ld(x + i));
  if (i < D) m = smm_max(m, smm_ldn(x + i, D - i, -INFINITY));
  float mx = smm_hmax(m);
  smm_v vm = smm_set(mx), s = smm_set(0.0f);
  for (i = 0; i + SMM_W <= D; i += SMM_W) {
    smm_v e = smm_exp(smm_sub(smm_ld(x + i), vm));
    if (!lg) smm_st(y + i, e);
    s = smm_add(s, e);
  }
  if (i < D) {
    smm_v e = smm_exp(smm_sub(smm_ldn(x + i, D - i, -INFINITY), vm));
    if (!lg) smm_stn(y + i, e, D - i);
    s = smm_add(s, e);
  }
  float sum = smm_hsum(s);
  if (lg) { /* x - m - log(s) */
    smm_v ls = smm_set(logf(sum));
    for (i = 0; i + SMM_W <= D; i += SMM_W) smm_st(y + i, smm_sub(smm_sub(smm_ld(x + i), vm), ls));
    if (i < D) smm_stn(y + i, smm_sub(smm_sub(smm_ldn(x + i, D - i, 0.0f), vm), ls), D - i);
    return;
  }
  smm_v inv = smm_set(1.0f / sum);
  for (i = 0; i + SMM_W <= D; i += SMM_W) smm_st(y + i, smm_mul(smm_ld(y + i), inv));
  if (i < D) smm_stn(y + i, smm_mul(smm_ldn(y + i, D - i, 0.0f), inv), D - i);
}

static inline smm_v smm_sum_sq(const float *x, int64_t D, float mean) {
  smm_v s = smm_set(0.0f), m = smm_set(mean);
  int64_t i = 0;
  for (; i + SMM_W <= D; i += SMM_W) {
    smm_v d = smm_sub(smm_ld(x + i), m);
    s = smm_fma(d, d, s);
  }
  if (i < D) {
    smm_v d = smm_sub(smm_ldn(x + i, D - i, mean), m);
    s = smm_fma(d, d, s);
  }
  return s;
}

/* RMSNorm: x * inv * (w or 1 + w); LayerNorm: (x - mean) * inv * w (+ b) */
static inline void smm_norm_row(const struct smm_rows *a, const float *x, float *y) {
  int64_t D = a->D, i = 0;
  float mean = 0;
  if (a->kind == SMM_LAYER_NORM) {
    smm_v s = smm_set(0.0f);
    for (; i + SMM_W <= D; i += SMM_W) s = smm_add(s, smm_ld(x + i));
    if (i < D) s = smm_add(s, smm_ldn(x + i, D - i, 0.0f));
    mean = smm_hsum(s) / (float)D;
  }
  float inv = 1.0f / sqrtf(smm_hsum(smm_sum_sq(x, D, mean)) / (float)D + a->eps);
  smm_v vi = smm_set(inv), vm = smm_set(mean), one = smm_set(a->add_one ? 1.0f : 0.0f);
#define SMM_NORM_ONE(LD, ST)                                                                 \
  do {                                                                                       \
    smm_v v;                                                                                 \
    if (a->kind == SMM_RMS_NORM) v = smm_mul(smm_mul(LD(x), vi), a->add_one ? smm_add(one, LD(a->w)) : LD(a->w)); \
    else {                                                                                   \
      v = smm_mul(smm_mul(smm_sub(LD(x), vm), vi), LD(a->w));                                \
      if (a->b) v = smm_add(v, LD(a->b));                                                    \
    }                                                                                        \
    ST;                                                                                      \
  } while (0)
#define SMM_LD(p) smm_ld((p) + i)
#define SMM_LDN(p) smm_ldn((p) + i, D - i, 0.0f)
  for (i = 0; i + SMM_W <= D; i += SMM_W) SMM_NORM_ONE(SMM_LD, smm_st(y + i, v));
  if (i < D) SMM_NORM_ONE(SMM_LDN, smm_stn(y + i, v, D - i));
#undef SMM_LD
#undef SMM_LDN
#undef SMM_NORM_ONE
}

static inline void smm_rows_part(void *arg, int part, int nparts) {
  const struct smm_rows *a = (const struct smm_rows *)arg;
  int64_t r0 = a->rows * part / nparts, r1 = a->rows * (part + 1) / nparts;
  for (int64_t r = r0; r < r1; r++) {
    if (a->kind <= SMM_LOG_SOFTMAX) smm_softmax_row(a->x + r * a->D, a->y + r * a->D, a->D, a->kind == SMM_LOG_SOFTMAX);
    else smm_norm_row(a, a->x + r * a->D, a->y + r * a->D);
  }
}

/* rows of D: softmax / log-softmax (w, b NULL), RMSNorm (w), LayerNorm (w, b or NULL) */
static inline void smm_rows_run(int kind, const float *x, const float *w, const float *b, float *y, int64_t rows, int64_t D, float eps, int add_one) {
  struct smm_rows a = {kind, add_one, x, w, b, y, rows, D, eps};
  /* about 16 K elements per part, or threads cost more than they give */
  int64_t parts = rows * D / 16384;
  smt_run(smm_rows_part, &a, parts > 64 ? 64 : parts < rows ? (int)parts : (int)rows);
}

/* ---- attention over a KV cache (ops.def ATTENTION) ----------------------------------------- */
struct smm_att {
  const float *q;
  const void *k, *v; /* f32 or f16 (kv16) rows [C, Hkv, D] */
  float *y;
  int64_t T, H, Hkv, D, C, p0, win;
  float scale, cap;
  int kv16;
};

/* y[0 .. NC vectors) = Σ_{j=lo..p} s_j v_j * inv for NC full vectors at column i, two
 * accumulators per vector (even and odd j) so the multiply-adds do not wait on each other */
#define SMM_VSUM(NC, KT, LD)                                                                   \
  do {                                                                                         \
    smm_v e[NC], o[NC];                                                                        \
    for (int c_ = 0; c_ < NC; c_++) e[c_] = o[c_] = smm_set(0.0f);                             \
    for (j = lo; j + 1 <= p; j += 2) {                                                         \
      const KT *v0 = vb + j * stride + i, *v1 = v0 + stride;                                   \
      smm_v w0 = smm_set(s[j]), w1 = smm_set(s[j + 1]);                                        \
      for (int c_ = 0; c_ < NC; c_++) {                                                        \
        e[c_] = smm_fma(w0, LD(v0 + c_ * SMM_W), e[c_]);                                       \
        o[c_] = smm_fma(w1, LD(v1 + c_ * SMM_W), o[c_]);                                       \
      }                                                                                        \
    }                                                                                          \
    if (j <= p)                                                                                \
      for (int c_ = 0; c_ < NC; c_++) e[c_] = smm_fma(smm_set(s[j]), LD(vb + j * stride + i + c_ * SMM_W), e[c_]); \
    for (int c_ = 0; c_ < NC; c_++) smm_st(y + i + c_ * SMM_W, smm_mul(smm_add(e[c_], o[c_]), inv)); \
  } while (0)

/* q.k of 16 consecutive keys k0, k0 + stride, .. of a head of D <= 8 (AVX-512): two keys
 * per vector, then a transposing tree of adds, so 16 keys cost about 40 instructions
 * and no horizontal sum each.  qq holds q (zeros past D) in both halves.  Lane j of the
 * result is key j's dot; the sums are taken in a different order than smm_hsum's. */
#if SMM_W == 16 && defined(__AVX512VL__) && defined(__AVX512BW__)
#define SMM_K8 1
/* [lo | hi] (AVX512F's 64x4 insert: no DQ needed) */
static inline __m512 smm_k8_pair(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
static inline __m512 smm_k8_dup(__m512 q) { return smm_k8_pair(_mm512_castps512_ps256(q), _mm512_castps512_ps256(q)); }
static inline __m256 smm_k8_f32(const float *p, int64_t D) { return D == 8 ? _mm256_loadu_ps(p) : _mm256_maskz_loadu_ps((__mmask8)((1u << D) - 1), p); }
static inline __m256 smm_k8_f16(const uint16_t *p, int64_t D) {
  return _mm256_cvtph_ps(D == 8 ? _mm_loadu_si128((const __m128i *)p) : _mm_maskz_loadu_epi16((__mmask8)((1u << D) - 1), p));
}
#define SMM_K8_SCORES(NAME, KT, LD8)                                                           \
  static inline __m512 NAME(const KT *k, int64_t stride, int64_t D, __m512 qq) {               \
    __m512 t[4];                                                                               \
    for (int m = 0; m < 4; m++, k += 4 * stride) { /* keys 4m .. 4m + 3 */                     \
      __m512 a = _mm512_mul_ps(qq, smm_k8_pair(LD8(k, D), LD8(k + stride, D))); \
      __m512 b = _mm512_mul_ps(qq, smm_k8_pair(LD8(k + 2 * stride, D), LD8(k + 3 * stride, D))); \
      /* 128-bit block i: 4 partial sums of key 4m + i */                                      \
      t[m] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xdd)); \
    }                                                                                          \
    __m512 u0 = _mm512_add_ps(_mm512_unpacklo_ps(t[0], t[1]), _mm512_unpackhi_ps(t[0], t[1]));  \
    __m512 u1 = _mm512_add_ps(_mm512_unpacklo_ps(t[2], t[3]), _mm512_unpackhi_ps(t[2], t[3]));  \
    /* block i, lane l: key 4l + i */                                                          \
    __m512 v = _mm512_add_ps(_mm512_shuffle_ps(u0, u1, 0x44), _mm512_shuffle_ps(u0, u1, 0xee)); \
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v); \
  }
SMM_K8_SCORES(smm_k8_scores_f32, float, smm_k8_f32)
SMM_K8_SCORES(smm_k8_scores_f16, uint16_t, smm_k8_f16)
#undef SMM_K8_SCORES
#else
#define SMM_K8 0
/* not reached (SMM_K8 is 0): only so the attention row compiles the same everywhere */
static inline smm_v smm_k8_dup(smm_v q) { return q; }
static inline smm_v smm_k8_scores_f32(const float *k, int64_t stride, int64_t D, smm_v qq) { (void)k, (void)stride, (void)D; return qq; }
static inline smm_v smm_k8_scores_f16(const uint16_t *k, int64_t stride, int64_t D, smm_v qq) { (void)k, (void)stride, (void)D; return qq; }
#endif

/* one query row (t, h): scores into s (C + 4 SMM_W floats), y.  kt, when not NULL, is the
 * kv head's keys transposed, kt[i * ld + j] = k[j][i], so W scores come from D broadcast
 * multiply-adds with no horizontal sums (prefill, where many rows share it). */
#define SMM_ATT_ROW(NAME, KT, LD, LDN, K8)                                                       \
  static inline void NAME(const struct smm_att *a, int64_t t, int64_t h, float *s, const float *kt, int64_t ld) { \
    const int64_t D = a->D, stride = a->Hkv * D, kh = h / (a->H / a->Hkv), p = a->p0 + t;       \
    const int64_t lo = a->win > 0 && p - a->win + 1 > 0 ? p - a->win + 1 : 0;                   \
    const float *q = a->q + (t * a->H + h) * D;                                                \
    const KT *kb = (const KT *)a->k + kh * D, *vb = (const KT *)a->v + kh * D;                   \
    const smm_v vs = smm_set(a->scale);                                                        \
    int64_t j, i;                                                                               \
    if (kt) { /* scores of keys j .. j + W - 1 (those past p unused), 4 blocks at once */      \
      for (j = lo; j + 3 * SMM_W <= p; j += 4 * SMM_W) {                                        \
        smm_v c0 = smm_set(0.0f), c1 = c0, c2 = c0, c3 = c0;                                   \
        for (i = 0; i < D; i++) {                                                              \
          const float *r = kt + i * ld + j;                                                    \
          smm_v qi = smm_set(q[i]);                                                            \
          c0 = smm_fma(qi, smm_ld(r), c0);                                                     \
          c1 = smm_fma(qi, smm_ld(r + SMM_W), c1);                                             \
          c2 = smm_fma(qi, smm_ld(r + 2 * SMM_W), c2);                                         \
          c3 = smm_fma(qi, smm_ld(r + 3 * SMM_W), c3);                                         \
        }                                                                                      \
        smm_st(s + j, smm_mul(c0, vs));                                                        \
        smm_st(s + j + SMM_W, smm_mul(c1, vs));                                                \
        smm_st(s + j + 2 * SMM_W, smm_mul(c2, vs));                                            \
        smm_st(s + j + 3 * SMM_W, smm_mul(c3, vs));                                            \
      }                                                                                        \
      for (; j <= p; j += SMM_W) {                                                             \
        smm_v c0 = smm_set(0.0f);                                                              \
        for (i = 0; i < D; i++) c0 = smm_fma(smm_set(q[i]), smm_ld(kt + i * ld + j), c0);       \
        smm_st(s + j, smm_mul(c0, vs));                                                        \
      }                                                                                        \
    } else if (D <= SMM_W) { /* one vector per key: q loaded once, 4 keys' sums in flight */ \
      const smm_v qv = D == SMM_W ? smm_ld(q) : smm_ldn(q, D, 0.0f);                           \
      const KT *k = kb + lo * stride;                                                          \
      j = lo;                                                                                  \
      if (SMM_K8 && D <= 8) { /* 16 keys per block, no horizontal sums */                     \
        const smm_v q2 = smm_k8_dup(qv);                                                       \
        for (; j + 15 <= p; j += 16, k += 16 * stride) smm_st(s + j, smm_mul(K8(k, stride, D, q2), vs)); \
      }                                                                                        \
      if (D == SMM_W)                                                                          \
        for (; j <= p; j++, k += stride) s[j] = smm_hsum(smm_mul(qv, LD(k))) * a->scale;     \
      else {                                                                                   \
        for (; j + 3 <= p; j += 4, k += 4 * stride) {                                          \
          smm_v p0 = smm_mul(qv, LDN(k, D)), p1 = smm_mul(qv, LDN(k + stride, D));              \
          smm_v p2 = smm_mul(qv, LDN(k + 2 * stride, D)), p3 = smm_mul(qv, LDN(k + 3 * stride, D)); \
          s[j] = smm_hsum(p0) * a->scale;                                                      \
          s[j + 1] = smm_hsum(p1) * a->scale;                                                  \
          s[j + 2] = smm_hsum(p2) * a->scale;                                                  \
          s[j + 3] = smm_hsum(p3) * a->scale;                                                  \
        }                                                                                      \
        for (; j <= p; j++, k += stride) s[j] = smm_hsum(smm_mul(qv, LDN(k, D))) * a->scale;     \
      }                                                                                        \
    } else                                                                                     \
      for (j = lo; j <= p; j++) { /* scores: scale * q.k */                                   \
        const KT *k = kb + j * stride;                                                         \
        smm_v acc = smm_set(0.0f);                                                             \
        for (i = 0; i + SMM_W <= D; i += SMM_W) acc = smm_fma(smm_ld(q + i), LD(k + i), acc);   \
        if (i < D) acc = smm_fma(smm_ldn(q + i, D - i, 0.0f), LDN(k + i, D - i), acc);          \
        s[j] = smm_hsum(acc) * a->scale;                                                       \
      }                                                                                         \
    const int64_t n = p + 1 - lo;                                                              \
    float *sc = s + lo;                                                                        \
    if (a->cap > 0) { /* cap * tanh(s / cap) */                                                \
      smm_v c = smm_set(a->cap);                                                               \
      for (i = 0; i + SMM_W <= n; i += SMM_W) smm_st(sc + i, smm_mul(c, smm_tanh(smm_div(smm_ld(sc + i), c)))); \
      if (i < n) smm_stn(sc + i, smm_mul(c, smm_tanh(smm_div(smm_ldn(sc + i, n - i, 0.0f), c))), n - i); \
    }                                                                                           \
    smm_v m = smm_set(-INFINITY);                                                              \
    for (i = 0; i + SMM_W <= n; i += SMM_W) m = smm_max(m, smm_ld(sc + i));                     \
    if (i < n) m = smm_max(m, smm_ldn(sc + i, n - i, -INFINITY));                              \
    smm_v vm = smm_set(smm_hmax(m)), sum = smm_set(0.0f);                                      \
    for (i = 0; i + SMM_W <= n; i += SMM_W) {                                                  \
      smm_v e = smm_exp(smm_sub(smm_ld(sc + i), vm));                                           \
      smm_st(sc + i, e);                                                                       \
      sum = smm_add(sum, e);                                                                   \
    }                                                                                           \
    if (i < n) {                                                                               \
      smm_v e = smm_exp(smm_sub(smm_ldn(sc + i, n - i, -INFINITY), vm));                        \
      smm_stn(sc + i, e, n - i);                                                               \
      sum = smm_add(sum, e);                                                                   \
    }                                                                                           \
    const smm_v inv = smm_set(1.0f / smm_hsum(sum));                                           \
    float *y = a->y + (t * a->H + h) * D;                                                      \
    for (i = 0; i + 4 * SMM_W <= D; i += 4 * SMM_W) SMM_VSUM(4, KT, LD);                        \
    switch ((D - i) / SMM_W) { /* y = Σ_j s_j v_j / sum, the remaining full vectors */         \
    case 3: SMM_VSUM(3, KT, LD); i += 3 * SMM_W; break;                                        \
    case 2: SMM_VSUM(2, KT, LD); i += 2 * SMM_W; break;                                        \
    case 1: SMM_VSUM(1, KT, LD); i += SMM_W; break;                                            \
    default: break;                                                                            \
    }                                                                                           \
    if (i < D) { /* and the last partial one (all of a head under SMM_W): 4 sums in flight */ \
      smm_v c0 = smm_set(0.0f), c1 = c0, c2 = c0, c3 = c0;                                     \
      const KT *v0 = vb + lo * stride + i;                                                     \
      for (j = lo; j + 3 <= p; j += 4, v0 += 4 * stride) {                                     \
        c0 = smm_fma(smm_set(s[j]), LDN(v0, D - i), c0);                                       \
        c1 = smm_fma(smm_set(s[j + 1]), LDN(v0 + stride, D - i), c1);                          \
        c2 = smm_fma(smm_set(s[j + 2]), LDN(v0 + 2 * stride, D - i), c2);                      \
        c3 = smm_fma(smm_set(s[j + 3]), LDN(v0 + 3 * stride, D - i), c3);                      \
      }                                                                                        \
      for (; j <= p; j++, v0 += stride) c0 = smm_fma(smm_set(s[j]), LDN(v0, D - i), c0);       \
      smm_stn(y + i, smm_mul(smm_add(smm_add(c0, c1), smm_add(c2, c3)), inv), D - i);          \
    }                                                                                           \
  }
#define SMM_LD_F(p) smm_ld(p)
#define SMM_LDN_F(p, n) smm_ldn(p, n, 0.0f)
SMM_ATT_ROW(smm_att_row_f32, float, SMM_LD_F, SMM_LDN_F, smm_k8_scores_f32)
SMM_ATT_ROW(smm_att_row_f16, uint16_t, smm_ld_h, smm_ldn_h, smm_k8_scores_f16)
#undef SMM_LD_F
#undef SMM_LDN_F

/* query rows (t, h) in head-major order, so a part's rows share kv heads (and their
 * transposed keys, when several rows use them and they fit in 256 KiB) */
static inline void smm_att_part(void *arg, int part, int nparts) {
  const struct smm_att *a = (const struct smm_att *)arg;
  int64_t n = a->T * a->H, i0 = n * part / nparts, i1 = n * (part + 1) / nparts, D = a->D;
  int64_t nk = a->p0 + a->T, ld = nk + 4 * SMM_W, grp = a->H / a->Hkv, cur = -1;
  int tr = a->T * grp >= 4 && D * ld <= 65536;
  float s[a->C + 4 * SMM_W], kt[tr ? D * ld : 1];
  for (int64_t i = i0; i < i1; i++) {
    int64_t t = i % a->T, h = i / a->T, kh = h / grp;
    if (tr && kh != cur) { /* kt[d][j] = k[j][kh][d], zeros past the last key */
      for (int64_t j = 0; j < nk; j++)
        for (int64_t d = 0; d < D; d++) {
          int64_t o = (j * a->Hkv + kh) * D + d;
          kt[d * ld + j] = a->kv16 ? sm_f16_to_f32(((const uint16_t *)a->k)[o]) : ((const float *)a->k)[o];
        }
      for (int64_t d = 0; d < D; d++)
        for (int64_t j = nk; j < ld; j++) kt[d * ld + j] = 0;
      cur = kh;
    }
    if (a->kv16) smm_att_row_f16(a, t, h, s, tr ? kt : NULL, ld);
    else smm_att_row_f32(a, t, h, s, tr ? kt : NULL, ld);
  }
}

/* causal attention of q [T, H, D] over cache rows k, v [C, Hkv, D] at positions p0 + t;
 * SMELT_E_ARG when they run past the cache */
static inline int smm_attention(const float *q, const void *k, const void *v, float *y, int64_t T, int64_t H, int64_t Hkv, int64_t D,
                                int64_t C, int64_t p0, float scale, float cap, int64_t win, int kv16) {
  if (p0 < 0 || p0 + T > C) return SMELT_E_ARG;
  if (T < 1) return 0;
  struct smm_att a = {q, k, v, y, T, H, Hkv, D, C, p0, win, scale, cap, kv16};
  /* work ~ T * H * (p0 + T) * D: about 64 K multiply-adds per part at least */
  int64_t work = T * H * (p0 + T) * D * 2, parts = work / 65536;
  smt_run(smm_att_part, &a, parts > 64 ? 64 : parts < T * H ? (int)parts : (int)(T * H));
  return 0;
}

/* batched products of activations (smm_bmm): smelt_simd_gemm.h, on the GEMM's micro-kernel */

#endif
