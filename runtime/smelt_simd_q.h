/* runtime/smelt_simd_q.h — AVX-512 (zmm) kernels for q8_0 / q4_0 weights, included by
 * smelt_simd.h, which sends those two kinds here when the compiler targets AVX-512
 * F+BW+VNNI (-march=native on Zen 4 / Ice Lake and later, --target x86-64-avx512).
 *
 * Why not the 256-bit kernels of smelt_simd.h: there, each block of 32 weights costs
 * about 18 instructions (unpack, the f16 scale converted alone and broadcast, a second
 * vpdpbusd for the weights' sum, convert, two multiplies, an FMA), so q4_0 decode ran
 * at a third of the memory bandwidth, compute bound.  Here:
 *
 *  - two blocks per instruction: a zmm holds the 64 weights of two blocks and one
 *    vpdpbusd multiplies them with the two activation blocks (activations are laid
 *    out contiguously per row, not as {d, q[32]} records);
 *  - the weight bytes go in as the unsigned operand (q4_0: the nibbles 0..15 as they
 *    are; q8_0: w + 128, one xor) and the offset (8 or 128 times the activation
 *    block's Σq) is subtracted by starting the integer sum at -k·Σq, a vector
 *    computed once per activation block when the activations are quantized;
 *  - the weight scales of a group of blocks (8 for q4_0, 4 for q8_0: their f16 scales
 *    lie in one 128-byte window) come with one vpermt2w and one vcvtph2ps, are
 *    multiplied with the activation scales at once, and each pair of blocks takes its
 *    two scales with one vpermps.
 * So a pair of blocks is: two loads and a shuffle, shift and mask (q4_0) or an xor
 * (q8_0), one vpdpbusd, a convert and an FMA (plus a quarter of the scale work).
 *
 * Numerics are those of the 256-bit kernels: the integer dot of each block is exact,
 * then scaled by d_w · d_x in float (the sums go in another order, within the tests'
 * 1e-5 relative bound).  Prefill: tiles of 4 weight rows x 4 activation rows (smz_tile);
 * decode: 8 weight rows against one activation row (smz_rows).
 * Also here, for every instruction set (outside SMS_ZMM): the q6_k dots (first) and
 * the QMatMul kernels (last). */
#ifndef SMELT_SIMD_Q_H
#define SMELT_SIMD_Q_H

/* ---- q6_k (all instruction sets) ----------------------------------------------------------
 * 256 values per block: 6-bit q (low 4 bits in ql, high 2 in qh), an int8 scale per 16,
 * value d · sc · (q - 32).  Each activation block of 32 meets two scales: its dot is
 * sc_a · Σ_16 (q - 32) x + sc_b · Σ_16 (q - 32) x in integers, then · d · d_x. */
static inline float sms_dot_q6_k_ref(const uint8_t *w, const sms_q8 *a, int64_t nb) {
  float s = 0;
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q6_K_BYTES) {
    const uint8_t *ql = w, *qh = w + 128;
    const int8_t *sc = (const int8_t *)(w + 192);
    float d = smq_f16(w + 208);
    for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8)
      for (int j = 0; j < 4; j++) { /* activation block b + 4n + j: values 32 j .. 32 j + 31 of this half */
        const sms_q8 *ab = a + b + 4 * n + j;
        int32_t dot = 0;
        for (int h = 0; h < 2; h++) {
          int32_t part = 0;
          for (int l = 16 * h; l < 16 * h + 16; l++) {
            int lo = j % 2 ? ql[l + 32] : ql[l], q = (j < 2 ? lo & 15 : lo >> 4) | ((qh[l] >> (2 * j)) & 3) << 4;
            part += (q - 32) * ab->q[l];
          }
          dot += sc[2 * j + h] * part;
        }
        s += d * ab->d * (float)dot;
      }
  }
  return s;
}
#if SMS_AVX2
/* one half (128 values, 4 activation blocks): 6-bit values as bytes, times x by
 * vpmaddubsw (pairs fit int16: 2 · 63 · 127), less 32 · the pair sums of x, then
 * times the two scales by vpmaddwd */
static inline void sms_dot_q6_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  __m256 acc = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30), k32 = _mm256_set1_epi8(32);
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q6_K_BYTES) {
    const uint8_t *ql = w, *qh = w + 128;
    const int8_t *sc = (const int8_t *)(w + 192);
    float d = sms_h2f(w + 208);
    for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8) {
      __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
      __m256i h = _mm256_loadu_si256((const __m256i *)qh);
      __m256i q[4] = {_mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m30)),
                      _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m30)),
                      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(h, m30)),
                      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_and_si256(_mm256_srli_epi16(h, 2), m30))};
      for (int j = 0; j < 4; j++) {
        const sms_q8 *ab = a + b + 4 * n + j;
        __m256i x = _mm256_loadu_si256((const __m256i *)ab->q);
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[j], x), _mm256_maddubs_epi16(k32, x));
        __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * j + 1]), _mm_set1_epi16(sc[2 * j]));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, scv)), _mm256_set1_ps(d * ab->d), acc);
      }
    }
  }
  y[0] = sms_hsum(acc);
}
#elif SMS_NEON
/* 16 products summed (|q - 32| <= 32, |x| <= 127: int16 pairs cannot overflow) */
static inline int32_t sms_dot16(int8x16_t a, int8x16_t b) {
#if SMS_DOTPROD
  return vaddvq_s32(vdotq_s32(vdupq_n_s32(0), a, b));
#else
  return vaddlvq_s16(vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), vget_high_s8(a), vget_high_s8(b)));
#endif
}
static inline void sms_dot_q6_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) {
  float s = 0;
  const uint8x16_t m4 = vdupq_n_u8(15), m3 = vdupq_n_u8(3);
  const int8x16_t k32 = vdupq_n_s8(32);
  for (int64_t b = 0; b < nb; b += 8, w += SMQ_Q6_K_BYTES) {
    const uint8_t *ql = w, *qh = w + 128;
    const int8_t *sc = (const int8_t *)(w + 192);
    float d = sms_h2f(w + 208);
    for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8) {
      int32_t dot[4] = {0, 0, 0, 0};
      for (int h = 0; h < 2; h++) {
        uint8x16_t l0 = vld1q_u8(ql + 16 * h), l1 = vld1q_u8(ql + 32 + 16 * h), hb = vld1q_u8(qh + 16 * h);
        uint8x16_t q[4] = {vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4)),
                           vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4)),
                           vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4)),
                           vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4))};
        for (int j = 0; j < 4; j++)
          dot[j] += sc[2 * j + h] * sms_dot16(vsubq_s8(vreinterpretq_s8_u8(q[j]), k32), vld1q_s8(a[b + 4 * n + j].q + 16 * h));
      }
      for (int j = 0; j < 4; j++) s += d * a[b + 4 * n + j].d * (float)dot[j];
    }
  }
  y[0] = s;
}
#else
static inline void sms_dot_q6_k_1(const uint8_t *w, const sms_q8 *a, int64_t nb, float *y) { y[0] = sms_dot_q6_k_ref(w, a, nb); }
#endif

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512VL__) && SMS_AVX2
#define SMS_ZMM 1

/* the quantized activations of a chunk of rows: row r's 32 · nb bytes at q + r · 32 nb,
 * block b's scale d[r · nb + b] and its starting sum c[(r · nb + b) · 8] (-k · Σq in the
 * first lane, 0 in the other 7) */
struct smz_act { int8_t *q; float *d; int32_t *c; };

static inline void smz_quantize(const float *x, const struct smz_act *a, int64_t nblocks, int32_t k) {
  for (int64_t b = 0; b < nblocks; b++) {
    sms_q8 t;
    sms_quantize(x + 32 * b, &t, 1);
    memcpy(a->q + 32 * b, t.q, 32);
    a->d[b] = t.d;
    int32_t s = 0;
    for (int l = 0; l < 32; l++) s += t.q[l];
    int32_t *c = a->c + 8 * b;
    c[0] = -k * s;
    for (int l = 1; l < 8; l++) c[l] = 0;
  }
}

/* a pair of weight blocks as 64 unsigned bytes in activation order */
static inline __m512i smz_w_q4_0(const uint8_t *w) {
  __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(w + 2))),
                                      _mm_loadu_si128((const __m128i *)(w + 2 + SMQ_Q4_0_BYTES)), 1);
  __m512i z = _mm512_castsi256_si512(t);
  z = _mm512_shuffle_i64x2(z, z, 0x50); /* [lo, lo, hi, hi]: block 0's bytes twice, then block 1's */
  z = _mm512_mask_srli_epi16(z, 0xFF00FF00u, z, 4); /* the second copy: high nibbles */
  return _mm512_and_si512(z, _mm512_set1_epi8(15));
}
static inline __m512i smz_w_q8_0(const uint8_t *w) {
  __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w + 2))),
                                 _mm256_loadu_si256((const __m256i *)(w + 2 + SMQ_Q8_0_BYTES)), 1);
  return _mm512_xor_si512(z, _mm512_set1_epi8((char)0x80));
}
/* the f16 scales of a group (8 q4_0 / 4 q8_0 blocks) as floats */
static inline __m256 smz_dw_q4_0(const uint8_t *w) {
  __m512i lo = _mm512_loadu_si512(w), hi = _mm512_loadu_si512(w + 64);
  __m512i h = _mm512_permutex2var_epi16(lo, _mm512_zextsi128_si512(_mm_setr_epi16(0, 9, 18, 27, 36, 45, 54, 63)), hi);
  return _mm256_cvtph_ps(_mm512_castsi512_si128(h));
}
static inline __m256 smz_dw_q8_0(const uint8_t *w) {
  __m512i lo = _mm512_loadu_si512(w), hi = _mm512_loadu_si512(w + 64);
  __m512i h = _mm512_permutex2var_epi16(lo, _mm512_zextsi128_si512(_mm_setr_epi16(0, 17, 34, 51, 0, 0, 0, 0)), hi);
  return _mm256_cvtph_ps(_mm512_castsi512_si128(h));
}
/* scales of pair p of a group: lanes 0-7 block 2p's, 8-15 block 2p+1's */
static inline __m512 smz_pair(__m256 s, int p) {
  return _mm512_permutexvar_ps(_mm512_set_epi32(2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1, 2 * p + 1,
                                                2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p),
                               _mm512_castps256_ps512(s));
}
static inline __m512 smz_fma(__m512 acc, __m512i w, const struct smz_act *a, int64_t off, __m512 s) {
  __m512i d = _mm512_dpbusd_epi32(_mm512_loadu_si512(a->c + 8 * off), w, _mm512_loadu_si512(a->q + 32 * off));
  return _mm512_fmadd_ps(_mm512_cvtepi32_ps(d), s, acc);
}
/* one block alone (a row's last blocks), 256-bit */
static inline __m256 smz_one(__m256 acc, __m256i wu, float dw, const struct smz_act *a, int64_t off) {
  __m256i d = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(a->c + 8 * off)), wu, _mm256_loadu_si256((const __m256i *)(a->q + 32 * off)));
  return _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_set1_ps(dw * a->d[off]), acc);
}
static inline __m256i smz_w1_q4_0(const uint8_t *w) {
  __m128i t = _mm_loadu_si128((const __m128i *)(w + 2));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(15));
}
static inline __m256i smz_w1_q8_0(const uint8_t *w) {
  return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(w + 2)), _mm256_set1_epi8((char)0x80));
}
static inline float smz_hsum(__m512 a, __m256 b) {
  return sms_hsum(_mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))), b));
}

/* nt (1 or 4) activation rows, nb blocks apart, against one weight row of type q4
 * (else q8_0): y[t].  Always inlined with constant q4 and nt, so the loops unroll and
 * the accumulators stay in registers. */
#define SMZ_UNROLL _Pragma("GCC unroll 4")
#define SMZ_UNROLL8 _Pragma("GCC unroll 16") /* SMZ_ND rows: the accumulators must stay in registers */
static inline __attribute__((always_inline)) void smz_dot(int q4, int nt, const uint8_t *w, const struct smz_act *a, int64_t nb, float *y) {
  const int G = q4 ? 8 : 4;
  const int64_t BYTES = q4 ? SMQ_Q4_0_BYTES : SMQ_Q8_0_BYTES;
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  __m256 one[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t b = 0;
  for (; b + G <= nb; b += G, w += G * BYTES) {
    __m256 dw = q4 ? smz_dw_q4_0(w) : smz_dw_q8_0(w);
    __m256 s[4];
    SMZ_UNROLL
    for (int t = 0; t < nt; t++) /* q8_0: 4 scales (the next 4 may lie past the buffer) */
      s[t] = _mm256_mul_ps(dw, q4 ? _mm256_loadu_ps(a->d + t * nb + b) : _mm256_castps128_ps256(_mm_loadu_ps(a->d + t * nb + b)));
    SMZ_UNROLL
    for (int p = 0; p < G / 2; p++) {
      __m512i wz = q4 ? smz_w_q4_0(w + 2 * p * BYTES) : smz_w_q8_0(w + 2 * p * BYTES);
      SMZ_UNROLL
      for (int t = 0; t < nt; t++) {
        int k = nt == 1 ? p % 2 : t;
        acc[k] = smz_fma(acc[k], wz, a, t * nb + b + 2 * p, smz_pair(s[t], p));
      }
    }
  }
  for (; b < nb; b++, w += BYTES) {
    __m256i wu = q4 ? smz_w1_q4_0(w) : smz_w1_q8_0(w);
    float dw = sms_h2f(w);
    SMZ_UNROLL
    for (int t = 0; t < nt; t++) one[t] = smz_one(one[t], wu, dw, a, t * nb + b);
  }
  if (nt == 1)
    y[0] = smz_hsum(_mm512_add_ps(acc[0], acc[1]), one[0]);
  else
    SMZ_UNROLL
    for (int t = 0; t < nt; t++) y[t] = smz_hsum(acc[t], one[t]);
}

/* Decode: SMZ_ND weight rows (rb bytes apart) against one activation row, y[0 .. SMZ_ND).
 * One row at a time (smz_dot) ended each row with a horizontal sum whose latency chain
 * (extract, add, shuffles) cost as much as the row's 9 blocks on a 288-wide model; here
 * the rows' sums are independent, each activation pair and its start sum are loaded once
 * for all the rows, and the rows' sums are reduced together (three vhaddps per 4 rows). */
#ifndef SMZ_ND
#define SMZ_ND 8
#endif
/* The prefetches go to L2, not L1 (measured cold, weights 3x the LLC, tools/bench/kernels_q.c:
 * q8_0 1 x 32000 x 1280 4.5-8.7 -> 2.5-3.2 ms, 768 x 2048 0.145 -> 0.075 ms): a group ahead
 * into L1 as well as the group being read is 13-31 KB of a 32 KB L1 whose sets the rows' equal
 * strides crowd.  Except groups of at most SMZ_PF_L1 bytes (q4_0 rows up to 1024 wide, q8_0
 * rows up to 480): into L1 they are faster (q4_0 3456 x 1280 0.213 -> 0.153 ms, 32000 x 768
 * 1.25 -> 0.92 ms; q8_0 at the 15M model's 288-wide rows: all-L2 made its decode 10-50%
 * slower than L1, measured at integration with the whole model, 256 tokens, 5 runs each). */
#ifndef SMZ_PF_L1
#define SMZ_PF_L1 8192
#endif
#ifndef SMZ_PF_GROUPS
#define SMZ_PF_GROUPS 1
#endif
static inline __attribute__((always_inline)) __m128 smz_hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3, const __m256 *one) {
  __m256 h[4];
  const __m512 a[4] = {a0, a1, a2, a3};
  SMZ_UNROLL
  for (int i = 0; i < 4; i++)
    h[i] = _mm256_add_ps(_mm256_add_ps(_mm512_castps512_ps256(a[i]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a[i]), 1))), one[i]);
  __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(h[0], h[1]), _mm256_hadd_ps(h[2], h[3]));
  return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}
static inline __attribute__((always_inline)) void smz_rows(int q4, const uint8_t *w, int64_t rb, const struct smz_act *a, int64_t nb, float *y,
                                                           const char *pf, const char *pf_end, int pf_l1) {
  const int G = q4 ? 8 : 4;
  const int64_t BYTES = q4 ? SMQ_Q4_0_BYTES : SMQ_Q8_0_BYTES;
  __m512 acc[SMZ_ND];
  __m256 one[SMZ_ND];
  SMZ_UNROLL8
  for (int i = 0; i < SMZ_ND; i++) acc[i] = _mm512_setzero_ps(), one[i] = _mm256_setzero_ps();
  int64_t b = 0;
  for (; b + G <= nb; b += G, w += G * BYTES) {
    /* the rows are read side by side, SMZ_ND short streams the hardware prefetcher does not
     * follow: fetch a later group's bytes as one linear stream, as many per step as a step reads */
    for (int l = 0; l < SMZ_ND * G * (int)BYTES && pf < pf_end; l += 64, pf += 64)
      if (pf_l1) _mm_prefetch(pf, _MM_HINT_T0);
      else _mm_prefetch(pf, _MM_HINT_T1);
    __m256 da = q4 ? _mm256_loadu_ps(a->d + b) : _mm256_castps128_ps256(_mm_loadu_ps(a->d + b)), s[SMZ_ND];
    SMZ_UNROLL8
    for (int i = 0; i < SMZ_ND; i++) s[i] = _mm256_mul_ps(q4 ? smz_dw_q4_0(w + i * rb) : smz_dw_q8_0(w + i * rb), da);
    SMZ_UNROLL8
    for (int p = 0; p < G / 2; p++) {
      __m512i qs = _mm512_loadu_si512(a->q + 32 * (b + 2 * p)), c = _mm512_loadu_si512(a->c + 8 * (b + 2 * p));
      SMZ_UNROLL8
      for (int i = 0; i < SMZ_ND; i++) {
        __m512i wz = q4 ? smz_w_q4_0(w + i * rb + 2 * p * BYTES) : smz_w_q8_0(w + i * rb + 2 * p * BYTES);
        acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(c, wz, qs)), smz_pair(s[i], p), acc[i]);
      }
    }
  }
  for (; b < nb; b++, w += BYTES)
    SMZ_UNROLL8
    for (int i = 0; i < SMZ_ND; i++)
      one[i] = smz_one(one[i], q4 ? smz_w1_q4_0(w + i * rb) : smz_w1_q8_0(w + i * rb), sms_h2f(w + i * rb), a, b);
  SMZ_UNROLL8
  for (int i = 0; i < SMZ_ND; i += 4) _mm_storeu_ps(y + i, smz_hsum4(acc[i], acc[i + 1], acc[i + 2], acc[i + 3], one + i));
}

/* Prefill: a tile of SMZ_NW weight rows (rb bytes apart) x 4 activation rows (4 x 4:
 * 16 accumulators; 2 x 4 measured 3-7% slower on the 15M/110M shapes with
 * tools/bench/kernels_q.c, -DSMZ_NW=2 to compare; more weight rows spill).  Each
 * activation pair is loaded once for SMZ_NW weight rows, each weight pair once for 4
 * activation rows; the scales of a pair come from the group's by one vpermps per
 * weight row and one per activation row, and each of the 16 dots then costs a
 * vpdpbusd (its start, -k·Σq, loaded from L1), a convert, a multiply and an FMA. */
#ifndef SMZ_NW
#define SMZ_NW 4
#endif
static inline __attribute__((always_inline)) void smz_tile(int q4, const uint8_t *w, int64_t rb, const struct smz_act *a, int64_t nb, float *y, int64_t ldy) {
  const int G = q4 ? 8 : 4;
  const int64_t BYTES = q4 ? SMQ_Q4_0_BYTES : SMQ_Q8_0_BYTES;
  __m512 acc[SMZ_NW][4];
  SMZ_UNROLL
  for (int i = 0; i < SMZ_NW; i++) {
    SMZ_UNROLL
    for (int t = 0; t < 4; t++) acc[i][t] = _mm512_setzero_ps();
  }
  int64_t b = 0;
  for (; b + G <= nb; b += G, w += G * BYTES) {
    __m256 dw[SMZ_NW];
    SMZ_UNROLL
    for (int i = 0; i < SMZ_NW; i++) dw[i] = q4 ? smz_dw_q4_0(w + i * rb) : smz_dw_q8_0(w + i * rb);
    SMZ_UNROLL
    for (int p = 0; p < G / 2; p++) {
      __m512i wz[SMZ_NW];
      __m512 sw[SMZ_NW];
      SMZ_UNROLL
      for (int i = 0; i < SMZ_NW; i++) {
        wz[i] = q4 ? smz_w_q4_0(w + i * rb + 2 * p * BYTES) : smz_w_q8_0(w + i * rb + 2 * p * BYTES);
        sw[i] = smz_pair(dw[i], p);
      }
      SMZ_UNROLL
      for (int t = 0; t < 4; t++) {
        int64_t off = t * nb + b + 2 * p;
        __m512i qs = _mm512_loadu_si512(a->q + 32 * off);
        __m512 sa = smz_pair(q4 ? _mm256_loadu_ps(a->d + t * nb + b) : _mm256_castps128_ps256(_mm_loadu_ps(a->d + t * nb + b)), p);
        SMZ_UNROLL
        for (int i = 0; i < SMZ_NW; i++) {
          __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_loadu_si512(a->c + 8 * off), wz[i], qs)), sa);
          acc[i][t] = _mm512_fmadd_ps(f, sw[i], acc[i][t]);
        }
      }
    }
  }
  __m256 one[SMZ_NW][4]; /* the 16 sums halved, then the blocks left */
  SMZ_UNROLL
  for (int i = 0; i < SMZ_NW; i++) {
    SMZ_UNROLL
    for (int t = 0; t < 4; t++)
      one[i][t] = _mm256_add_ps(_mm512_castps512_ps256(acc[i][t]), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[i][t]), 1)));
  }
  for (; b < nb; b++, w += BYTES) {
    SMZ_UNROLL
    for (int i = 0; i < SMZ_NW; i++) {
      __m256i wu = q4 ? smz_w1_q4_0(w + i * rb) : smz_w1_q8_0(w + i * rb);
      float dw1 = sms_h2f(w + i * rb);
      SMZ_UNROLL
      for (int t = 0; t < 4; t++) one[i][t] = smz_one(one[i][t], wu, dw1, a, t * nb + b);
    }
  }
  SMZ_UNROLL
  for (int i = 0; i < SMZ_NW; i++) {
    SMZ_UNROLL
    for (int t = 0; t < 4; t++) y[t * ldy + i] = sms_hsum(one[i][t]);
  }
}

struct smz_mm {
  int q4;
  const uint8_t *w;
  int64_t rb, N, nb, nr; /* weight row bytes, weight rows, blocks per row, activation rows */
  struct smz_act a;
  float *y;
};

static inline void smz_mm_part(void *arg, int part, int nparts) {
  const struct smz_mm *m = (const struct smz_mm *)arg;
  int64_t j0 = m->N * part / nparts, j1 = m->N * (part + 1) / nparts, N = m->N, nb = m->nb;
  float t[4];
  int64_t j = j0;
  if (m->nr < 4) /* decode (and short prompts): SMZ_ND weight rows at a time */
    for (; j + SMZ_ND <= j1; j += SMZ_ND)
      for (int64_t r = 0; r < m->nr; r++) {
        struct smz_act a = {m->a.q + r * nb * 32, m->a.d + r * nb, m->a.c + r * nb * 8};
        float u[SMZ_ND];
        /* prefetch SMZ_PF_GROUPS groups ahead, within this part's rows, the first activation row only */
        const char *pf = (const char *)m->w + (j + SMZ_PF_GROUPS * SMZ_ND) * m->rb, *pe = r ? pf : (const char *)m->w + j1 * m->rb;
        if (pf > pe) pf = pe;
        if (m->q4) smz_rows(1, m->w + j * m->rb, m->rb, &a, nb, u, pf, pe, SMZ_ND * m->rb <= SMZ_PF_L1);
        else smz_rows(0, m->w + j * m->rb, m->rb, &a, nb, u, pf, pe, SMZ_ND * m->rb <= SMZ_PF_L1);
        memcpy(m->y + r * N + j, u, sizeof u);
      }
  if (m->nr >= 4) /* prefill: SMZ_NW x 4 tiles, then the rows of x left over */
    for (; j + SMZ_NW <= j1; j += SMZ_NW) {
      const uint8_t *w = m->w + j * m->rb;
      int64_t r = 0;
      for (; r + 4 <= m->nr; r += 4) {
        struct smz_act a = {m->a.q + r * nb * 32, m->a.d + r * nb, m->a.c + r * nb * 8};
        if (m->q4) smz_tile(1, w, m->rb, &a, nb, m->y + r * N + j, N);
        else smz_tile(0, w, m->rb, &a, nb, m->y + r * N + j, N);
      }
      for (; r < m->nr; r++)
        for (int i = 0; i < SMZ_NW; i++) {
          struct smz_act a = {m->a.q + r * nb * 32, m->a.d + r * nb, m->a.c + r * nb * 8};
          if (m->q4) smz_dot(1, 1, w + i * m->rb, &a, nb, t);
          else smz_dot(0, 1, w + i * m->rb, &a, nb, t);
          m->y[r * N + j + i] = t[0];
        }
    }
  for (; j < j1; j++) {
    const uint8_t *w = m->w + j * m->rb;
    int64_t r = 0;
    for (; r + 4 <= m->nr; r += 4) {
      struct smz_act a = {m->a.q + r * nb * 32, m->a.d + r * nb, m->a.c + r * nb * 8};
      if (m->q4) smz_dot(1, 4, w, &a, nb, t);
      else smz_dot(0, 4, w, &a, nb, t);
      for (int u = 0; u < 4; u++) m->y[(r + u) * N + j] = t[u];
    }
    for (; r < m->nr; r++) {
      struct smz_act a = {m->a.q + r * nb * 32, m->a.d + r * nb, m->a.c + r * nb * 8};
      if (m->q4) smz_dot(1, 1, w, &a, nb, t);
      else smz_dot(0, 1, w, &a, nb, t);
      m->y[r * N + j] = t[0];
    }
  }
}

/* sms_matmul for q8_0 / q4_0: rows of x in chunks whose quantized form (68 bytes per
 * block, on the stack) takes at most SMS_CHUNK_BYTES */
static inline void smz_matmul(int q4, const void *w, int64_t rb, const float *x, float *y, int64_t R, int64_t N, int64_t K) {
  int64_t nb = K / 32, chunk = SMS_CHUNK_BYTES / (nb * 68);
  if (chunk < 1) chunk = 1;
  if (chunk > R) chunk = R;
  int8_t q[chunk * nb * 32];
  float d[chunk * nb];
  int32_t c[chunk * nb * 8];
  struct smz_mm m = {q4, (const uint8_t *)w, rb, N, nb, 0, {q, d, c}, y};
  for (int64_t r0 = 0; r0 < R; r0 += chunk) {
    m.nr = R - r0 < chunk ? R - r0 : chunk;
    m.y = y + r0 * N;
    smz_quantize(x + r0 * K, &m.a, m.nr * nb, q4 ? 8 : 128);
    int64_t parts = m.nr * N * K / 65536;
    smt_run(smz_mm_part, &m, parts > 64 ? 64 : parts < N ? (int)parts : (int)N);
  }
}
#endif /* SMS_ZMM */

/* ---- decode for q8_0 / q4_0 below AVX-512 (AVX2, VNNI-256, NEON, dotprod, portable) -------
 * sms_rows4_T: 4 weight rows (rb bytes apart) against one row of activations, y[0 .. 4).
 * As smz_rows: one row at a time ended each row with a horizontal sum (a latency chain
 * as long as a 288-wide row's blocks); here the four rows' sums are independent and are
 * reduced together by three horizontal adds (vhaddps / faddp).
 * The four rows are read side by side, four short streams the hardware prefetcher does
 * not follow; as smz_rows, each step fetches as many bytes of [pf, pe) (a later group,
 * one linear stream) as it reads, so the prefetches spread over the group instead of
 * coming in one burst before it (a burst of 50-85 lines at 768-1280 wide rows
 * overflows the miss queue and stalls on it). */
#define SMS_PF_STEP(pf, pe, n)                                                                                        \
  for (const char *pf_t_ = (pf) + (n); (pf) < pf_t_ && (pf) < (pe); (pf) += 64) __builtin_prefetch(pf)
#if SMS_AVX2
#define SMS_ROWS4(T, BYTES)                                                                                           \
  static inline void sms_rows4_##T(const uint8_t *w, int64_t rb, const sms_q8 *a, int64_t nb, float *y,                \
                                   const char *pf, const char *pe) {                                                  \
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;                                                        \
    for (int64_t b = 0; b < nb; b++, w += BYTES) {                                                                     \
      SMS_PF_STEP(pf, pe, 4 * BYTES);                                                                                  \
      sms_wb w0 = sms_prep(sms_w_##T(w), sms_h2f(w)), w1 = sms_prep(sms_w_##T(w + rb), sms_h2f(w + rb));               \
      sms_wb w2 = sms_prep(sms_w_##T(w + 2 * rb), sms_h2f(w + 2 * rb)), w3 = sms_prep(sms_w_##T(w + 3 * rb), sms_h2f(w + 3 * rb)); \
      c0 = sms_blk(c0, &w0, a + b), c1 = sms_blk(c1, &w1, a + b), c2 = sms_blk(c2, &w2, a + b), c3 = sms_blk(c3, &w3, a + b); \
    }                                                                                                                  \
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(c0, c1), _mm256_hadd_ps(c2, c3));                                         \
    _mm_storeu_ps(y, _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1)));                              \
  }
#elif SMS_NEON
#define SMS_ROWS4(T, BYTES)                                                                                           \
  static inline void sms_rows4_##T(const uint8_t *w, int64_t rb, const sms_q8 *a, int64_t nb, float *y,                \
                                   const char *pf, const char *pe) {                                                  \
    float32x4_t c[4] = {vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0), vdupq_n_f32(0)};                               \
    for (int64_t b = 0; b < nb; b++, w += BYTES) {                                                                     \
      SMS_PF_STEP(pf, pe, 4 * BYTES);                                                                                  \
      for (int i = 0; i < 4; i++) {                                                                                    \
        int8x16_t x0, x1;                                                                                              \
        sms_w_##T(w + i * rb, &x0, &x1);                                                                               \
        c[i] = sms_blk(c[i], x0, x1, sms_h2f(w + i * rb), a + b);                                                      \
      }                                                                                                                \
    }                                                                                                                  \
    vst1q_f32(y, vpaddq_f32(vpaddq_f32(c[0], c[1]), vpaddq_f32(c[2], c[3])));                                          \
  }
#else
#define SMS_ROWS4(T, BYTES)                                                                                           \
  static inline void sms_rows4_##T(const uint8_t *w, int64_t rb, const sms_q8 *a, int64_t nb, float *y,                \
                                   const char *pf, const char *pe) {                                                  \
    (void)pf, (void)pe;                                                                                                \
    for (int i = 0; i < 4; i++) sms_dot_##T##_1(w + i * rb, a, nb, y + i);                                             \
  }
#endif
SMS_ROWS4(q8_0, SMQ_Q8_0_BYTES)
SMS_ROWS4(q4_0, SMQ_Q4_0_BYTES)

/* ---- QMatMul (ir/ops.def; weights of the quantize pass, compiler/quantizers.h) -----------
 * int8: W i8 [N, K], S f32 [N]; each row of A goes to int8 exactly as the C kernel
 * (backends/c/k_quant.c) and the interpreter do (s = max|a| / 127, roundf, clamp), the
 * dot is exact in int32 and scaled by the same double expression: results are the C
 * kernel's bit for bit.  The dot: AVX-512 64 bytes per vpdpbusd (weights + 128 as the
 * unsigned operand, less 128 · Σq), AVX2 / VNNI-256 32 bytes per sms_dot_i8.
 * int4 / nf4: W u8 [N, K / 2] (two codes a byte), S f32 [N, K / G], G even: each weight
 * row is decoded once per chunk of rows into floats (codebook times the group's scale,
 * the C kernel's values exactly: AVX-512 looks the 16 codes up with one vpermps, AVX2
 * with two and a blend) and met by every row of A with an FMA dot (another summation
 * order than the C kernel's: within 1e-5 relative). */
static inline int32_t sms_i8dot(const int8_t *w, const int8_t *q, int64_t K, int32_t sq) {
  int32_t acc = 0;
  int64_t k = 0;
#if SMS_ZMM
  __m512i v = _mm512_setzero_si512();
  for (; k + 64 <= K; k += 64)
    v = _mm512_dpbusd_epi32(v, _mm512_xor_si512(_mm512_loadu_si512(w + k), _mm512_set1_epi8((char)0x80)), _mm512_loadu_si512(q + k));
  if (k < K) { /* the tail masked: w + 128 meets q = 0 there */
    __mmask64 m = ~0ull >> (64 - (K - k));
    v = _mm512_dpbusd_epi32(v, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + k), _mm512_set1_epi8((char)0x80)), _mm512_maskz_loadu_epi8(m, q + k));
    k = K;
  }
  acc = _mm512_reduce_add_epi32(v) - 128 * sq;
#elif SMS_AVX2
  __m256i v = _mm256_setzero_si256();
  for (; k + 32 <= K; k += 32)
    v = _mm256_add_epi32(v, sms_dot_i8(_mm256_loadu_si256((const __m256i *)(w + k)), _mm256_loadu_si256((const __m256i *)(q + k))));
  __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
  h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
  acc = _mm_cvtsi128_si32(h);
  (void)sq;
#else
  (void)sq;
#endif
  for (; k < K; k++) acc += (int32_t)q[k] * (int32_t)w[k];
  return acc;
}

struct sms_qmm { const int8_t *qa; const int32_t *sq; const float *sa, *sw, *x; const uint8_t *w; float *y; int64_t R, N, K, G; int nf4; };

static inline void sms_qmm_i8_part(void *arg, int part, int nparts) {
  const struct sms_qmm *m = (const struct sms_qmm *)arg;
  int64_t j0 = m->N * part / nparts, j1 = m->N * (part + 1) / nparts;
  for (int64_t j = j0; j < j1; j++)
    for (int64_t i = 0; i < m->R; i++) {
      int32_t acc = sms_i8dot((const int8_t *)m->w + j * m->K, m->qa + i * m->K, m->K, m->sq[i]);
      m->y[i * m->N + j] = (float)((double)acc * m->sa[i] * m->sw[j]);
    }
}

/* y [R, N] = QMatMul int8 of x [R, K] by w [N, K] with row scales sw [N] */
static inline void sms_qmatmul_i8(const float *x, const int8_t *w, const float *sw, float *y, int64_t R, int64_t N, int64_t K) {
  int64_t ch = 65536 / K;
  if (ch < 1) ch = 1;
  if (ch > R) ch = R;
  int8_t qa[ch * K];
  float sa[ch];
  int32_t sq[ch];
  for (int64_t r0 = 0; r0 < R; r0 += ch) {
    int64_t nr = R - r0 < ch ? R - r0 : ch;
    for (int64_t i = 0; i < nr; i++) { /* backends/c/k_quant.c's expressions */
      const float *a = x + (r0 + i) * K;
      int8_t *q = qa + i * K;
      float amax = 0;
      for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(a[k]));
      const float s = amax / 127, ia = s ? 1.0f / s : 0.0f;
      int32_t t = 0;
      for (int64_t k = 0; k < K; k++) {
        float v = roundf(a[k] * ia);
        if (!(v >= -127.0f)) v = -127.0f;
        if (v > 127.0f) v = 127.0f;
        q[k] = (int8_t)v;
        t += q[k];
      }
      sa[i] = s, sq[i] = t;
    }
    struct sms_qmm m = {qa, sq, sa, sw, NULL, (const uint8_t *)w, y + r0 * N, nr, N, K, 0, 0};
    int64_t parts = nr * N * K / 65536;
    smt_run(sms_qmm_i8_part, &m, parts > 64 ? 64 : parts < N ? (int)parts : (int)N);
  }
}

static const float sms_nf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                  0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                  0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
static const float sms_int4[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

/* a weight row of K codes (K, G even) into floats: tab[code] · s[group] */
static inline void sms_q4_decode(const float *tab, const uint8_t *w, const float *s, int64_t K, int64_t G, float *o) {
  int64_t k = 0;
#if SMS_ZMM
  const __m512 t = _mm512_loadu_ps(tab);
  if (G % 16 == 0)
    for (; k < K; k += 16) { /* 16 codes (8 bytes) share a scale */
      __m128i b = _mm_loadl_epi64((const __m128i *)(w + k / 2));
      __m128i c = _mm_unpacklo_epi8(_mm_and_si128(b, _mm_set1_epi8(15)), _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15)));
      _mm512_storeu_ps(o + k, _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(c), t), _mm512_set1_ps(s[k / G])));
    }
#elif SMS_AVX2
  const __m256 t0 = _mm256_loadu_ps(tab), t1 = _mm256_loadu_ps(tab + 8);
  if (G % 8 == 0)
    for (; k < K; k += 8) { /* 8 codes (4 bytes) share a scale */
      int32_t u;
      memcpy(&u, w + k / 2, 4);
      __m128i b = _mm_cvtsi32_si128(u);
      __m128i c = _mm_unpacklo_epi8(_mm_and_si128(b, _mm_set1_epi8(15)), _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15)));
      __m256i i = _mm256_cvtepu8_epi32(c);
      __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(t0, i), _mm256_permutevar8x32_ps(t1, i),
                                  _mm256_castsi256_ps(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(7))));
      _mm256_storeu_ps(o + k, _mm256_mul_ps(v, _mm256_set1_ps(s[k / G])));
    }
#endif
  for (; k < K; k += 2) {
    float sb = s[k / G];
    o[k] = tab[w[k / 2] & 15] * sb, o[k + 1] = tab[w[k / 2] >> 4] * sb;
  }
}
/* Σ a[k] b[k]: two accumulators of W lanes, then the tail in order; one body for every
 * vector width (V the vector type; the intrinsics' names as arguments) */
#define SMS_FDOT(V, W, ZERO, LOAD, FMA, ADD, REDUCE)                                                                 \
  V c0 = ZERO(), c1 = c0;                                                                                              \
  const int64_t kv = K / (2 * W) * (2 * W); /* (a bound GCC sees: a "k < K" tail after "k + 2W <= K" made it warn) */ \
  for (int64_t k = 0; k < kv; k += 2 * W) {                                                                            \
    c0 = FMA(LOAD(a + k), LOAD(b + k), c0);                                                                            \
    c1 = FMA(LOAD(a + k + W), LOAD(b + k + W), c1);                                                                    \
  }                                                                                                                    \
  float r = REDUCE(ADD(c0, c1));                                                                                       \
  for (int64_t k = kv; k < K; k++) r += a[k] * b[k];                                                                   \
  return r;
static inline float sms_fdot(const float *a, const float *b, int64_t K) {
#if SMS_ZMM
  SMS_FDOT(__m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_reduce_add_ps)
#elif SMS_AVX2
  SMS_FDOT(__m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_add_ps, sms_hsum)
#else
  return sm_dot_f32(a, b, K);
#endif
}
static inline void sms_qmm_q4_part(void *arg, int part, int nparts) {
  const struct sms_qmm *m = (const struct sms_qmm *)arg;
  int64_t j0 = m->N * part / nparts, j1 = m->N * (part + 1) / nparts, K = m->K, G = m->G;
  float wr[K];
  for (int64_t j = j0; j < j1; j++) {
    sms_q4_decode(m->nf4 ? sms_nf4 : sms_int4, m->w + j * (K / 2), m->sw + j * (K / G), K, G, wr);
    for (int64_t i = 0; i < m->R; i++) m->y[i * m->N + j] = sms_fdot(m->x + i * K, wr, K);
  }
}
/* y [R, N] = QMatMul int4 / nf4 of x [R, K] by w [N, K / 2] with group scales s [N, K / G];
 * K and G even, K <= 16384 (the decoded row is on the stack of each thread) */
static inline void sms_qmatmul_q4(int nf4, const float *x, const uint8_t *w, const float *s, float *y, int64_t R, int64_t N, int64_t K, int64_t G) {
  struct sms_qmm m = {NULL, NULL, NULL, s, x, w, y, R, N, K, G, nf4};
  int64_t parts = R * N * K / 65536;
  smt_run(sms_qmm_q4_part, &m, parts > 64 ? 64 : parts < N ? (int)parts : (int)N);
}
#endif
