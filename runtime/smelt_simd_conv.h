/* runtime/smelt_simd_conv.h — the target kernels of 2-D convolution (NCHW, f32), depthwise
 * convolution and max / average pooling, included by runtime/smelt_simd.h and called by
 * the code backends/simd_conv.c emits.  The instructions follow the compiler's target
 * macros: AVX-512F (16 lanes), AVX2+FMA (8), aarch64 NEON (4), else portable C.
 *
 * One idea serves all three ops: the "phase band".  Output rows are processed in bands;
 * for a band, each input channel is copied (once, with its padding made explicit) into
 * sh·sw phase images P[a][b][i][j] = Xpadded[i·sh + a][j·sw + b], each Wq = OW + EW
 * columns wide.  Kernel tap (kh, kw) then reads phase ((kh·dh) % sh, (kw·dw) % sw) at row
 * oh + (kh·dh)/sh and column ow + (kw·dw)/sw, so in the band's flat index q = r·Wq + ow
 * every tap is one fixed offset off[t] and the convolution of a band becomes
 *     Y[m, q] = bias[m] + Σ_k W[m, k] · band[off[k] + q]
 * for all strides, pads and dilations: a GEMM whose B rows are contiguous slices of the
 * band (no im2col matrix).  The Wq − OW columns past each output row are computed and
 * thrown away (2 of 66 for a 3x3 pad 1 conv of a 64-wide image).
 *
 * The GEMM micro-kernel keeps an MR x NR tile of Y in registers (AVX-512 8 x 32, AVX2 6 x
 * 16, NEON 6 x 16), broadcasting one weight per row and loading NR band values per k.
 * Depthwise convolution and pooling are the same band read per channel, vectorized over
 * the output row.  Every buffer is on the stack and bounded (SMC_BAND_FLOATS); the
 * emitter only calls these kernels for shapes that fit (smc_conv_fits).
 *
 * Summation order differs from the generic C kernel (k-major per lane, FMA), so results
 * agree with the reference interpreter within a tolerance relative to Σ|w·x|. */
#ifndef SMELT_SIMD_CONV_H
#define SMELT_SIMD_CONV_H

#include "smelt_rt.h"
#include "smelt_threads.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SMC_ISA "avx512"
#define SMC_VW 16
#define SMC_NB 2
#define SMC_MR 8
typedef __m512 smc_v;
#define smc_load(p) _mm512_loadu_ps(p)
#define smc_store(p, v) _mm512_storeu_ps(p, v)
#define smc_set1(x) _mm512_set1_ps(x)
#define smc_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define smc_add(a, b) _mm512_add_ps(a, b)
#define smc_mul(a, b) _mm512_mul_ps(a, b)
#define smc_max(a, b) _mm512_max_ps(a, b)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SMC_ISA "avx2"
#define SMC_VW 8
#define SMC_NB 2
#define SMC_MR 6
typedef __m256 smc_v;
#define smc_load(p) _mm256_loadu_ps(p)
#define smc_store(p, v) _mm256_storeu_ps(p, v)
#define smc_set1(x) _mm256_set1_ps(x)
#define smc_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define smc_add(a, b) _mm256_add_ps(a, b)
#define smc_mul(a, b) _mm256_mul_ps(a, b)
#define smc_max(a, b) _mm256_max_ps(a, b)
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define SMC_ISA "neon"
#define SMC_VW 4
#define SMC_NB 4
#define SMC_MR 6
typedef float32x4_t smc_v;
#define smc_load(p) vld1q_f32(p)
#define smc_store(p, v) vst1q_f32(p, v)
#define smc_set1(x) vdupq_n_f32(x)
#define smc_fma(a, b, c) vfmaq_f32(c, a, b)
#define smc_add(a, b) vaddq_f32(a, b)
#define smc_mul(a, b) vmulq_f32(a, b)
#define smc_max(a, b) vmaxq_f32(a, b)
#else
#define SMC_ISA "portable"
#define SMC_VW 1
#define SMC_NB 4
#define SMC_MR 4
typedef float smc_v;
#define smc_load(p) (*(p))
#define smc_store(p, v) (*(p) = (v))
#define smc_set1(x) (x)
#define smc_fma(a, b, c) ((a) * (b) + (c))
#define smc_add(a, b) ((a) + (b))
#define smc_mul(a, b) ((a) * (b))
#define smc_max(a, b) ((a) > (b) ? (a) : (b))
#endif
#define SMC_NR (SMC_NB * SMC_VW)

#if defined(__GNUC__)
#define SMC_AI static inline __attribute__((always_inline))
#define SMC_UNROLL _Pragma("GCC unroll 16")
#else
#define SMC_AI static inline
#define SMC_UNROLL
#endif

/* floats of a band (256 KiB on the caller's stack), and taps of its offset table */
#define SMC_BAND_FLOATS 65536
#define SMC_MAX_TAPS 8192
/* floats past a band's last row that tiles may read (>= SMC_NR of every target, so the
 * compiler's smc_conv_fits agrees with the generated code's) */
#define SMC_TAIL 64

enum { SMC_CONV, SMC_DW, SMC_MAXPOOL, SMC_AVGPOOL, SMC_AVGPOOL_INCL };

/* One convolution or pooling, all sizes of one image.  Pools are depthwise windows
 * (C == M, group == C) without weights.  pads: begin (ph, pw) and end (pe_h, pe_w). */
struct smc_op {
  int kind;
  int64_t C, H, W, M, OH, OW, KH, KW, sh, sw, ph, pw, pe_h, pe_w, dh, dw, G;
};

/* the band geometry of op o */
struct smc_geo { int64_t EH, EW, Wq, np, pidx[64], pa[64], pb[64]; };

static inline void smc_geo_of(const struct smc_op *o, struct smc_geo *g) {
  g->EH = (o->KH - 1) * o->dh / o->sh;
  g->EW = (o->KW - 1) * o->dw / o->sw;
  g->Wq = o->OW + g->EW;
  int64_t used[64] = {0};
  for (int64_t kh = 0; kh < o->KH; kh++)
    for (int64_t kw = 0; kw < o->KW; kw++) used[(kh * o->dh % o->sh) * o->sw + kw * o->dw % o->sw] = 1;
  g->np = 0;
  for (int64_t p = 0; p < o->sh * o->sw; p++) {
    g->pidx[p] = -1;
    if (used[p]) g->pidx[p] = g->np, g->pa[g->np] = p / o->sw, g->pb[g->np] = p % o->sw, g->np++;
  }
}

/* floats a band of `ch` channels and `br` output rows takes */
static inline int64_t smc_band_floats(const struct smc_geo *g, int64_t ch, int64_t br) {
  return ch * g->np * (br + g->EH) * g->Wq + SMC_TAIL + g->Wq;
}

/* 1 when the kernels below can run o within their stack buffers (the emitter asks) */
static inline int smc_conv_fits(const struct smc_op *o) {
  if (o->sh < 1 || o->sw < 1 || o->dh < 1 || o->dw < 1 || o->sh * o->sw > 64 || o->OH < 1 || o->OW < 1) return 0;
  struct smc_geo g;
  smc_geo_of(o, &g);
  int64_t ch = o->kind == SMC_CONV ? o->C : 1; /* depthwise and pools: one channel at a time */
  if (o->kind == SMC_CONV && (o->C / o->G) * o->KH * o->KW > SMC_MAX_TAPS) return 0;
  if (o->OW > 4096) return 0;
  return smc_band_floats(&g, ch, 1) <= SMC_BAND_FLOATS;
}

/* d[j] = s[2j] for j from j0 while s[2j + 1] stays below s + 2·j1 (vector part); returns
 * the first j not done */
static inline int64_t smc_even(float *d, const float *s, int64_t j, int64_t j1) {
#if defined(__AVX512F__)
  const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (; j + 16 <= j1; j += 16) _mm512_storeu_ps(d + j, _mm512_permutex2var_ps(_mm512_loadu_ps(s + 2 * j), ev, _mm512_loadu_ps(s + 2 * j + 16)));
#elif defined(__AVX2__)
  for (; j + 8 <= j1; j += 8) {
    __m256 e = _mm256_shuffle_ps(_mm256_loadu_ps(s + 2 * j), _mm256_loadu_ps(s + 2 * j + 8), 0x88); /* 0 2 8 10 | 4 6 12 14 */
    _mm256_storeu_ps(d + j, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
  }
#elif defined(__aarch64__) && defined(__ARM_NEON)
  for (; j + 4 <= j1; j += 4) vst1q_f32(d + j, vld2q_f32(s + 2 * j).val[0]);
#endif
  for (; j < j1; j++) d[j] = s[2 * j];
  return j;
}

/* Copies channels [c0, c0 + ch) of image x, output rows [oh0, oh0 + br), into band b
 * (pad: the value of positions outside the input). */
static inline void smc_fill(const struct smc_op *o, const struct smc_geo *g, const float *x, int64_t c0, int64_t ch,
                            int64_t oh0, int64_t br, float pad, float *b) {
  int64_t BRE = br + g->EH, Wq = g->Wq;
  for (int64_t c = 0; c < ch; c++)
    for (int64_t p = 0; p < g->np; p++)
      for (int64_t i = 0; i < BRE; i++) {
        float *d = b + ((c * g->np + p) * BRE + i) * Wq;
        int64_t ih = (oh0 + i) * o->sh + g->pa[p] - o->ph;
        if (ih < 0 || ih >= o->H) {
          for (int64_t j = 0; j < Wq; j++) d[j] = pad;
          continue;
        }
        const float *s = x + ((c0 + c) * o->H + ih) * o->W;
        int64_t iw0 = g->pb[p] - o->pw; /* iw = j·sw + iw0 */
        if (o->sw == 1) {
          int64_t j = 0, lo = -iw0 > 0 ? -iw0 : 0, hi = o->W - iw0 < Wq ? o->W - iw0 : Wq;
          for (; j < lo && j < Wq; j++) d[j] = pad;
          if (hi > j) memcpy(d + j, s + j + iw0, sizeof(float) * (size_t)(hi - j)), j = hi;
          for (; j < Wq; j++) d[j] = pad;
        } else if (o->sw == 2) { /* every other column: vector deinterleave in the middle */
          int64_t lo = (-iw0 + 1) / 2 > 0 ? (-iw0 + 1) / 2 : 0, hi = (o->W - iw0) / 2 < Wq ? (o->W - iw0) / 2 : Wq, j = 0;
          for (; j < lo && j < Wq; j++) d[j] = pad;
          j = smc_even(d, s + iw0, j, hi);
          for (; j < Wq; j++) {
            int64_t iw = 2 * j + iw0;
            d[j] = iw >= 0 && iw < o->W ? s[iw] : pad;
          }
        } else
          for (int64_t j = 0; j < Wq; j++) {
            int64_t iw = j * o->sw + iw0;
            d[j] = iw >= 0 && iw < o->W ? s[iw] : pad;
          }
      }
  float *t = b + ch * g->np * BRE * Wq; /* what tiles read past the last row */
  for (int64_t j = 0; j < SMC_TAIL + Wq; j++) t[j] = pad;
}

/* tap k = (c, kh, kw) of channels from 0: its offset in a band of br rows */
static inline void smc_offsets(const struct smc_op *o, const struct smc_geo *g, int64_t ch, int64_t br, int32_t *off) {
  int64_t BRE = br + g->EH, k = 0;
  for (int64_t c = 0; c < ch; c++)
    for (int64_t kh = 0; kh < o->KH; kh++)
      for (int64_t kw = 0; kw < o->KW; kw++) {
        int64_t eh = kh * o->dh, ew = kw * o->dw, p = g->pidx[(eh % o->sh) * o->sw + ew % o->sw];
        off[k++] = (int32_t)(((c * g->np + p) * BRE + eh / o->sh) * g->Wq + ew / o->sw);
      }
}

/* d[e] = relu?(s[e] + r[e]) for e < n (r may be NULL): a fused Conv's epilogue, applied as
 * the tile is stored; the add and the max round exactly as the separate ops would */
static inline void smc_row_epi(float *d, const float *s, const float *r, int relu, int64_t n) {
  int64_t e = 0;
  const smc_v z = smc_set1(0.0f);
  for (; e + SMC_VW <= n; e += SMC_VW) {
    smc_v v = smc_load(s + e);
    if (r) v = smc_add(v, smc_load(r + e));
    if (relu) v = smc_max(z, v); /* max(0, v): NaN stays NaN, -0 stays -0, as x < 0 ? 0 : x */
    smc_store(d + e, v);
  }
#if defined(__AVX512F__)
  if (e < n) { /* the row's last columns (an OW of 28: 12 of them) under a mask */
    const __mmask16 k = (__mmask16)((1u << (n - e)) - 1);
    __m512 v = _mm512_maskz_loadu_ps(k, s + e);
    if (r) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, r + e));
    if (relu) v = _mm512_max_ps(z, v);
    _mm512_mask_storeu_ps(d + e, k, v);
    return;
  }
#endif
  for (; e < n; e++) {
    float v = s[e];
    if (r) v = v + r[e];
    if (relu) v = v < 0 ? 0.0f : v;
    d[e] = v;
  }
}

/* Writes an MR x NR tile t (rows of NR) of band positions q0.. into y rows of OH·OW
 * (output row oh0 + q / Wq, column q % Wq, columns >= OW dropped), adding res (the same
 * layout as y, or NULL) and applying Relu when asked. */
static inline void smc_put(const struct smc_op *o, const struct smc_geo *g, const float *t, int rows, int64_t q0, int64_t qn,
                           float *y, const float *res, int relu, int64_t oh0) {
  int64_t P = o->OH * o->OW;
  for (int64_t q = q0; q < q0 + qn;) {
    int64_t r = q / g->Wq, ow = q % g->Wq, n = o->OW - ow;
    if (n <= 0) { q += g->Wq - ow; continue; }
    if (n > q0 + qn - q) n = q0 + qn - q;
    int64_t at = (oh0 + r) * o->OW + ow;
    float *d = y + at;
    if (!res && !relu)
      for (int i = 0; i < rows; i++) memcpy(d + i * P, t + i * SMC_NR + (q - q0), sizeof(float) * (size_t)n);
    else
      for (int i = 0; i < rows; i++) smc_row_epi(d + i * P, t + i * SMC_NR + (q - q0), res ? res + at + i * P : NULL, relu, n);
    q += n;
  }
}

/* the R x (NBV·VW) micro-kernel: t = bias + W[R, K] · band[off[k] + q], weight (r, k)
 * at w[r·rs + k·ks]: packed (rs 1, ks SMC_MR: one pointer, constant displacements) or
 * the weight tensor's own rows (rs K, ks 1) when packing does not pay.  R and NBV are
 * constants in every call (the dispatch below), so the accumulators live in registers. */
SMC_AI void smc_tile(const float *w, const int64_t rs, const int64_t ks, int64_t K, const float *b, const int32_t *off,
                     const float *bias, float *t, const int R, const int NBV) {
  smc_v acc[SMC_MR][SMC_NB];
  SMC_UNROLL for (int r = 0; r < R; r++) {
    float b0 = bias ? bias[r] : 0.0f;
    SMC_UNROLL for (int u = 0; u < NBV; u++) acc[r][u] = smc_set1(b0);
  }
  for (int64_t k = 0; k < K; k++) {
    const float *bk = b + off[k], *wk = w + k * ks;
    smc_v bv[SMC_NB];
    SMC_UNROLL for (int u = 0; u < NBV; u++) bv[u] = smc_load(bk + u * SMC_VW);
    SMC_UNROLL for (int r = 0; r < R; r++) {
      smc_v a = smc_set1(wk[r * rs]);
      SMC_UNROLL for (int u = 0; u < NBV; u++) acc[r][u] = smc_fma(a, bv[u], acc[r][u]);
    }
  }
  SMC_UNROLL for (int r = 0; r < R; r++)
    SMC_UNROLL for (int u = 0; u < NBV; u++) smc_store(t + r * SMC_NR + u * SMC_VW, acc[r][u]);
}

/* a tile of R rows and nb vectors of columns (the last tile of a band may be narrower) */
SMC_AI void smc_tile_r(const float *w, int packed, int64_t K, const float *b, const int32_t *off, const float *bias, float *t,
                       const int R, int nb) {
#define SMC_NBC(N)                                                              \
  case N:                                                                       \
    if (packed) smc_tile(w, 1, SMC_MR, K, b, off, bias, t, R, N);               \
    else smc_tile(w, K, 1, K, b, off, bias, t, R, N);                           \
    break;
  switch (nb) {
#if SMC_NB > 3
  SMC_NBC(4)
  SMC_NBC(3)
#endif
#if SMC_NB > 1
  SMC_NBC(2)
#endif
  default:
    SMC_NBC(1)
  }
#undef SMC_NBC
}

static inline void smc_tile_n(const float *w, int packed, int64_t K, const float *b, const int32_t *off, const float *bias, float *t, int R,
                              int nb) {
  switch (R) {
#if SMC_MR > 6
  case 8: smc_tile_r(w, packed, K, b, off, bias, t, 8, nb); break;
  case 7: smc_tile_r(w, packed, K, b, off, bias, t, 7, nb); break;
#endif
#if SMC_MR > 4
  case 6: smc_tile_r(w, packed, K, b, off, bias, t, 6, nb); break;
  case 5: smc_tile_r(w, packed, K, b, off, bias, t, 5, nb); break;
#endif
  case 4: smc_tile_r(w, packed, K, b, off, bias, t, 4, nb); break;
  case 3: smc_tile_r(w, packed, K, b, off, bias, t, 3, nb); break;
  case 2: smc_tile_r(w, packed, K, b, off, bias, t, 2, nb); break;
  default: smc_tile_r(w, packed, K, b, off, bias, t, 1, nb); break;
  }
}

/* weights of up to this many taps per output channel are packed per row tile
 * (k-major, SMC_MR rows interleaved) on the stack of the thread that runs it */
#define SMC_PACK_K 3072
#ifndef SMC_PACK_MINQ
#define SMC_PACK_MINQ 4
#endif

/* one band of a convolution: the tiles (group, row tile, column tile) split between parts */
struct smc_job {
  const struct smc_op *o;
  const struct smc_geo *g;
  const float *w, *bias, *band;
  const int32_t *off;
  float *y;
  const float *res; /* the epilogue: y = relu?(conv + res), res NULL or y's layout */
  int relu;
  int64_t oh0, br, Q, nmt, nqt, gstride; /* rows of the band, band positions, tiles, band floats per group */
};

static inline void smc_conv_part(void *arg, int part, int nparts) {
  const struct smc_job *j = (const struct smc_job *)arg;
  const struct smc_op *o = j->o;
  int64_t Mg = o->M / o->G, K = (o->C / o->G) * o->KH * o->KW, P = o->OH * o->OW;
  int64_t nt = o->G * j->nmt * j->nqt, t0 = nt * part / nparts, t1 = nt * (part + 1) / nparts;
  /* packing costs K·MR moves per row tile: worth it when the tile meets enough columns */
  int pack = K <= SMC_PACK_K && j->nqt >= SMC_PACK_MINQ;
  float t[SMC_MR * SMC_NR], wp[K <= SMC_PACK_K ? K * SMC_MR : 1];
  int64_t packed_m0 = -1;
  for (int64_t ti = t0; ti < t1; ti++) { /* column tiles innermost: a row tile's weights stay in cache */
    int64_t gi = ti / (j->nmt * j->nqt), mt = ti / j->nqt % j->nmt, qt = ti % j->nqt;
    int64_t m0 = gi * Mg + mt * SMC_MR, rows = Mg - mt * SMC_MR < SMC_MR ? Mg - mt * SMC_MR : SMC_MR;
    int64_t q0 = qt * SMC_NR, qn = j->Q - q0 < SMC_NR ? j->Q - q0 : SMC_NR;
    const float *w = j->w + m0 * K;
    if (pack) {
      if (packed_m0 != m0)
        for (int64_t k = 0; k < K; k++)
          for (int64_t r = 0; r < SMC_MR; r++) wp[k * SMC_MR + r] = r < rows ? w[r * K + k] : 0.0f;
      packed_m0 = m0;
      w = wp;
    }
    smc_tile_n(w, pack, K, j->band + gi * j->gstride + q0, j->off, j->bias ? j->bias + m0 : NULL, t, (int)rows,
               (int)((qn + SMC_VW - 1) / SMC_VW));
    smc_put(o, j->g, t, (int)rows, q0, qn, j->y + m0 * P, j->res ? j->res + m0 * P : NULL, j->relu, j->oh0);
  }
}

/* Y[n] = relu?(conv(X[n], W) + bias + res[n]) for n < N images: W [M, C/G, KH, KW], bias
 * [M] or NULL, res (Y's shape) or NULL, relu 0 or 1 — a Fused "Conv; Add; Relu" chain's
 * epilogue applied as the tiles are stored, not as a second pass over Y */
static inline void smc_conv_epi(const struct smc_op *o, const float *x, const float *w, const float *bias, const float *res, int relu,
                                float *y, int64_t N) {
  struct smc_geo g;
  smc_geo_of(o, &g);
  int64_t per_row = o->C * g.np * g.Wq, br = (SMC_BAND_FLOATS - SMC_TAIL - g.Wq) / per_row - g.EH;
  if (br > o->OH) br = o->OH;
  if (br < 1) br = 1; /* smc_conv_fits checked that one row fits */
  int64_t K = (o->C / o->G) * o->KH * o->KW;
  float band[SMC_BAND_FLOATS];
  int32_t off[SMC_MAX_TAPS];
  for (int64_t n = 0; n < N; n++)
    for (int64_t oh0 = 0; oh0 < o->OH; oh0 += br) {
      int64_t b = o->OH - oh0 < br ? o->OH - oh0 : br;
      smc_fill(o, &g, x + n * o->C * o->H * o->W, 0, o->C, oh0, b, 0.0f, band);
      smc_offsets(o, &g, o->C / o->G, b, off);
      struct smc_job j = {o, &g, w, bias, band, off, y + n * o->M * o->OH * o->OW, res ? res + n * o->M * o->OH * o->OW : NULL, relu,
                          oh0, b, (b - 1) * g.Wq + o->OW, 0, 0, 0};
      j.nmt = (o->M / o->G + SMC_MR - 1) / SMC_MR;
      j.nqt = (j.Q + SMC_NR - 1) / SMC_NR;
      j.gstride = (o->C / o->G) * g.np * (b + g.EH) * g.Wq;
      int64_t nt = o->G * j.nmt * j.nqt, parts = o->M * j.Q * K / 32768; /* >= 32 K multiply-adds a part */
      smt_run(smc_conv_part, &j, (int)(parts < 1 ? 1 : parts < nt ? parts : nt));
    }
}

/* Y[n] = conv(X[n], W) + bias for n < N images: W [M, C/G, KH, KW], bias [M] or NULL */
static inline void smc_conv(const struct smc_op *o, const float *x, const float *w, const float *bias, float *y, int64_t N) {
  smc_conv_epi(o, x, w, bias, NULL, 0, y, N);
}

/* ---- depthwise convolution and pooling: one channel per band, vectorized over q ---------- */
struct smc_dwjob { const struct smc_op *o; const float *x, *w, *bias; float *y; int64_t N; };

/* counts of window positions that count for an average: along one axis, for output o */
static inline int64_t smc_cnt(int64_t oi, int64_t s, int64_t p, int64_t k, int64_t d, int64_t lo, int64_t hi) {
  int64_t c = 0;
  for (int64_t t = 0; t < k; t++) {
    int64_t i = oi * s - p + t * d;
    c += i >= lo && i < hi;
  }
  return c;
}

/* A NaN in a window makes the generic MaxPool's result NaN; the vector max drops it, so
 * a channel holding a NaN (rare: checked by one scan) is redone by this scalar loop. */
static inline int smc_has_nan(const float *x, int64_t n) {
  int nan = 0;
  for (int64_t i = 0; i < n; i++) nan |= x[i] != x[i];
  return nan;
}
static inline void smc_maxpool_nan(const struct smc_op *o, const float *x, float *y) {
  for (int64_t oh = 0; oh < o->OH; oh++)
    for (int64_t ow = 0; ow < o->OW; ow++) {
      float m = -INFINITY;
      for (int64_t kh = 0; kh < o->KH; kh++)
        for (int64_t kw = 0; kw < o->KW; kw++) {
          int64_t ih = oh * o->sh - o->ph + kh * o->dh, iw = ow * o->sw - o->pw + kw * o->dw;
          if (ih < 0 || ih >= o->H || iw < 0 || iw >= o->W) continue;
          float v = x[ih * o->W + iw];
          if (v > m || v != v) m = v;
        }
      y[oh * o->OW + ow] = m;
    }
}

static inline void smc_dw_part(void *arg, int part, int nparts) {
  const struct smc_dwjob *j = (const struct smc_dwjob *)arg;
  const struct smc_op *o = j->o;
  struct smc_geo g;
  smc_geo_of(o, &g);
  int64_t per_row = g.np * g.Wq, br = (SMC_BAND_FLOATS - SMC_TAIL - g.Wq) / per_row - g.EH;
  if (br > o->OH) br = o->OH;
  if (br < 1) br = 1;
  int64_t T = o->KH * o->KW, nc = j->N * o->C, c0 = nc * part / nparts, c1 = nc * (part + 1) / nparts;
  int ismax = o->kind == SMC_MAXPOOL;
  float band[SMC_BAND_FLOATS], row[4096 + SMC_VW], inv[4096];
  int32_t off[SMC_MAX_TAPS];
  int64_t lo_w = 0, hi_w = o->W, lo_h = 0, hi_h = o->H;
  if (o->kind == SMC_AVGPOOL_INCL) lo_w = -o->pw, hi_w = o->W + o->pe_w, lo_h = -o->ph, hi_h = o->H + o->pe_h;
  for (int64_t nc_i = c0; nc_i < c1; nc_i++) {
    int64_t n = nc_i / o->C, c = nc_i % o->C;
    const float *x = j->x + n * o->C * o->H * o->W;
    float *y = j->y + (n * o->C + c) * o->OH * o->OW;
    const float *w = j->w ? j->w + c * T : NULL;
    float b0 = j->bias ? j->bias[c] : 0.0f;
    for (int64_t oh0 = 0; oh0 < o->OH; oh0 += br) {
      int64_t b = o->OH - oh0 < br ? o->OH - oh0 : br;
      smc_fill(o, &g, x, c, 1, oh0, b, ismax ? -INFINITY : 0.0f, band);
      smc_offsets(o, &g, 1, b, off);
      for (int64_t r = 0; r < b; r++) {
        const float *br0 = band + r * g.Wq;
        float ih = 1.0f;
        if (o->kind >= SMC_AVGPOOL) {
          ih = (float)smc_cnt(oh0 + r, o->sh, o->ph, o->KH, o->dh, lo_h, hi_h);
          for (int64_t ow = 0; ow < o->OW; ow++) {
            float cw = (float)smc_cnt(ow, o->sw, o->pw, o->KW, o->dw, lo_w, hi_w) * ih;
            inv[ow] = cw > 0 ? cw : 1.0f;
          }
        }
        for (int64_t ow = 0; ow < o->OW; ow += SMC_VW) {
          smc_v acc;
          if (ismax) {
            acc = smc_load(br0 + off[0] + ow);
            for (int64_t t = 1; t < T; t++) acc = smc_max(smc_load(br0 + off[t] + ow), acc);
          } else if (w) {
            acc = smc_set1(b0);
            for (int64_t t = 0; t < T; t++) acc = smc_fma(smc_set1(w[t]), smc_load(br0 + off[t] + ow), acc);
          } else {
            acc = smc_load(br0 + off[0] + ow);
            for (int64_t t = 1; t < T; t++) acc = smc_add(acc, smc_load(br0 + off[t] + ow));
          }
          smc_store(row + ow, acc);
        }
        float *yr = y + (oh0 + r) * o->OW;
        if (o->kind >= SMC_AVGPOOL)
          for (int64_t ow = 0; ow < o->OW; ow++) yr[ow] = row[ow] / inv[ow];
        else
          memcpy(yr, row, sizeof(float) * (size_t)o->OW);
      }
    }
    if (ismax && smc_has_nan(x + c * o->H * o->W, o->H * o->W)) smc_maxpool_nan(o, x + c * o->H * o->W, y);
  }
}

/* depthwise convolution (w [C, 1, KH, KW], bias [C] or NULL) or pooling (w NULL) */
static inline void smc_dw(const struct smc_op *o, const float *x, const float *w, const float *bias, float *y, int64_t N) {
  struct smc_dwjob j = {o, x, w, bias, y, N};
  int64_t nc = N * o->C, work = nc * o->OH * o->OW * o->KH * o->KW / 32768;
  smt_run(smc_dw_part, &j, (int)(work < 1 ? 1 : work < nc ? work : nc));
}

#include "smelt_simd_wino.h" /* Winograd F(2x2 / 4x4, 3x3) for 3x3 stride-1 convolutions */

#endif
