/* runtime/smelt_simd_gemm.h — the f32 GEMM / GEMV of the vector targets over a weight
 * packed in column panels (MatMul pack = P, passes/layout.c, layout in ir/pack.h):
 *
 *     y[M, N] = a[M, K] · B,   B [K, N] f32 or f16, panels of P columns, each k-major
 *
 * A register-blocked micro-kernel computes an MR x KW tile of y (KW columns of one
 * panel) over a slice of kc values of k, with y's tile in registers:
 *
 *   AVX-512 (32 zmm)   MR 12 x KW 32: 24 accumulators, B rows as two zmm loads,
 *                      a's values broadcast
 *   AVX2 + FMA         MR 6 x KW 16: 12 ymm accumulators
 *   NEON               MR 6 x KW 16: 24 q accumulators
 *   portable C         MR 4 x any P (loops the compiler may vectorize)
 *
 * f16 panels are widened in registers as they are loaded (vcvtph2ps / fcvtl), so an
 * f16 weight costs one conversion per KW values per k, not a pass over memory.
 *
 * Blocking: k in slices of SMS_KC (the kc x KW slice of a panel stays in L1 while
 * every MR rows of the block of a meet it), rows of a in blocks of SMS_MC, read in
 * place (the micro-kernel broadcasts from one pointer plus constant row offsets) or,
 * when K would make rows alias in L1, copied per slice kc + 16 floats apart.  Each
 * block's product with the panels is split between the threads of smelt_threads.h.
 * M = 1 (GEMV, LLM decode) is its own loop: each panel whole, front to back, so the
 * weight is read once in storage order as one stream (sms_gv).
 *
 * A panel narrower than P (the last, when P does not divide N) is copied into a
 * zero-padded buffer (as f32) and its y tile goes through a small buffer, so the
 * micro-kernels only see whole panels.  Summation: per output, k in order within a
 * slice, slices in order (GEMV: four sums of every fourth k, added at the end), FMA
 * (rounded once per step): not the generic kernels' order,
 * so results differ from them by rounding only (tests compare relative to the
 * magnitude of the dot). */
#ifndef SMELT_SIMD_GEMM_H
#define SMELT_SIMD_GEMM_H

#include "smelt_simd.h"

#define SMS_KC 256 /* k slice */
#define SMS_PMAX 64 /* the widest panel (ir/pack.h SMELT_PACK_MAX) */
#define SMS_MC 96  /* rows of a per packed block (a multiple of every MR) */

/* The vector kernels are one body (sms_gk, sms_gv below) over the per-ISA primitives of
 * smelt_simd_math.h (smm_v, smm_ld, smm_ld_h, smm_dup, smm_fma, ...): one register holds
 * SMM_W floats, a kernel column block is SMS_NV of them, MR rows of a are broadcast
 * (smm_dup: from memory, folded into the FMA on AVX-512). */
#if SMM_W == 16
#define SMS_AVX512 1
#define SMS_GK_MR 12 /* 24 accumulators of 32 zmm */
#define SMS_NV 2
#elif SMM_W == 8
#define SMS_GK_MR 6 /* 12 accumulators of 16 ymm */
#define SMS_NV 2
#elif SMM_W == 4
#define SMS_GK_MR 6 /* 24 accumulators of 32 q */
#define SMS_NV 4
#endif
#define SMS_VW SMM_W

#ifdef SMS_GK_MR
#define SMS_GK_W (SMS_VW * SMS_NV) /* the kernel's columns: a divisor of the panel width */
/* one row of a column block (SMS_NV registers) from row k of a panel slice of ldb */
SMM_INLINE void sms_gk_row(smm_v *bv, int f16, const void *b, int64_t k, int64_t ldb) {
#pragma GCC unroll 4
  for (int u = 0; u < SMS_NV; u++)
    bv[u] = f16 ? smm_ld_h((const uint16_t *)b + k * ldb + u * SMS_VW) : smm_ld((const float *)b + k * ldb + u * SMS_VW);
}
/* y[0..mr, 0..GK_W) (+)= a · panel slice b (kc rows of ldb), a's (r, k) at ap[k * as + r * rs]:
 * a packed sliver (as = MR, rs = 1) or rows of a as they are (as = 1, rs = their stride) */
SMM_INLINE void sms_gk(int mr, int f16, const float *ap, int64_t as, int64_t rs, const void *b, int64_t ldb, int64_t kc, float *y, int64_t ldy, int acc) {
  smm_v c[SMS_GK_MR][SMS_NV];
#pragma GCC unroll 12
  for (int r = 0; r < SMS_GK_MR; r++)
#pragma GCC unroll 4
    for (int u = 0; u < SMS_NV; u++) c[r][u] = r < mr && acc ? smm_ld(y + r * ldy + u * SMS_VW) : smm_set(0.0f);
  for (int64_t k = 0; k < kc; k++, ap += as) {
    smm_v bv[SMS_NV];
    sms_gk_row(bv, f16, b, k, ldb);
#pragma GCC unroll 12
    for (int r = 0; r < SMS_GK_MR; r++)
      if (r < mr) {
        smm_v av = smm_dup(ap + r * rs);
#pragma GCC unroll 4
        for (int u = 0; u < SMS_NV; u++) c[r][u] = smm_fma(av, bv[u], c[r][u]);
      }
  }
#pragma GCC unroll 12
  for (int r = 0; r < SMS_GK_MR; r++)
    if (r < mr)
#pragma GCC unroll 4
      for (int u = 0; u < SMS_NV; u++) smm_st(y + r * ldy + u * SMS_VW, c[r][u]);
}
/* GEMV over one whole panel of GK_W columns: y[0..GK_W) = Σ_k a[k] b[k, ..].  The panel
 * is read front to back, one stream (the hardware prefetcher's best case: four streams,
 * one per quarter of k, decoded the 110M f16 model ~25% slower), four consecutive k into
 * four sets of sums (independent FMA chains), then the sets added. */
#define SMS_GV 1
SMM_INLINE void sms_gv(int f16, const float *a, const void *b, int64_t K, float *y) {
  smm_v c[4][SMS_NV], bv[SMS_NV];
#pragma GCC unroll 4
  for (int s = 0; s < 4; s++)
#pragma GCC unroll 4
    for (int u = 0; u < SMS_NV; u++) c[s][u] = smm_set(0.0f);
  int64_t k = 0;
  for (; k + 4 <= K; k += 4)
#pragma GCC unroll 4
    for (int s = 0; s < 4; s++) {
      smm_v av = smm_dup(a + k + s);
      sms_gk_row(bv, f16, b, k + s, SMS_GK_W);
#pragma GCC unroll 4
      for (int u = 0; u < SMS_NV; u++) c[s][u] = smm_fma(av, bv[u], c[s][u]);
    }
  for (; k < K; k++) {
    smm_v av = smm_dup(a + k);
    sms_gk_row(bv, f16, b, k, SMS_GK_W);
#pragma GCC unroll 4
    for (int u = 0; u < SMS_NV; u++) c[3][u] = smm_fma(av, bv[u], c[3][u]);
  }
#pragma GCC unroll 4
  for (int u = 0; u < SMS_NV; u++) smm_st(y + u * SMS_VW, smm_add(smm_add(c[0][u], c[1][u]), smm_add(c[2][u], c[3][u])));
}
#endif

/* the portable micro-kernel: mr <= 4 rows, nw <= SMS_PMAX columns, any ISA;
 * also the path of a panel width the vector kernel does not divide */
#define SMS_PK_MR 4
static inline void sms_pk_scalar(int mr, int nw, int f16, const float *ap, int64_t aps, int64_t rs, const void *b, int64_t ldb, int64_t kc, float *y, int64_t ldy, int acc) {
  float c[SMS_PK_MR][SMS_PMAX];
  for (int r = 0; r < mr; r++)
    for (int u = 0; u < nw; u++) c[r][u] = acc ? y[r * ldy + u] : 0.0f;
  const float *bf = (const float *)b;
  const uint8_t *bh = (const uint8_t *)b;
  for (int64_t k = 0; k < kc; k++, ap += aps) {
    float bv[SMS_PMAX];
    for (int u = 0; u < nw; u++) bv[u] = f16 ? smq_f16(bh + 2 * (k * ldb + u)) : bf[k * ldb + u];
    for (int r = 0; r < mr; r++)
      for (int u = 0; u < nw; u++) c[r][u] += ap[r * rs] * bv[u];
  }
  for (int r = 0; r < mr; r++)
    for (int u = 0; u < nw; u++) y[r * ldy + u] = c[r][u];
}

#ifdef SMS_GK_MR
#define SMS_MR SMS_GK_MR
#else
#define SMS_MR SMS_PK_MR
#endif

struct sms_pk {
  const float *a;
  const uint8_t *b; /* the packed weight's bytes */
  float *y;
  int64_t M, N, K, P;
  int f16;
  const float *ap;       /* the block of a (M > 1): rows i0 .. i0 + mc, k0 .. k0 + kc, */
  int64_t lp;            /* lp apart when copied (ap not NULL), else read in place */
  int64_t i0, mc, k0, kc;
};

#ifdef SMS_GK_MR
/* sms_gk with mr and f16 constant per case, so each case is the kernel unrolled for them */
static inline void sms_gk_mr(int mr, int f16, const float *ap, int64_t as, int64_t rs, const void *b, int64_t ldb, int64_t kc, float *y, int64_t ldy, int acc) {
#define SMS_CASE(R)                                                                                                    \
  case R:                                                                                                              \
    if (f16) sms_gk(R, 1, ap, as, rs, b, ldb, kc, y, ldy, acc);                                                        \
    else sms_gk(R, 0, ap, as, rs, b, ldb, kc, y, ldy, acc);                                                            \
    break;
  switch (mr) {
    SMS_CASE(1) SMS_CASE(2) SMS_CASE(3) SMS_CASE(4) SMS_CASE(5) SMS_CASE(6)
#if SMS_GK_MR > 6
    SMS_CASE(7) SMS_CASE(8) SMS_CASE(9) SMS_CASE(10) SMS_CASE(11) SMS_CASE(12)
#endif
  default: break;
  }
#undef SMS_CASE
}
#endif

/* y tile (mr rows of the block, columns of one panel slice) += a (as sms_gk) · the slice:
 * the vector kernel per KW columns when KW divides the (padded) panel width P */
static inline void sms_pk_tile(const struct sms_pk *m, int mr, int f16, const float *ap, int64_t as, int64_t rs, const void *b, int64_t ldb, int64_t kc, float *y, int64_t ldy, int acc) {
#ifdef SMS_GK_MR
  if (m->P % SMS_GK_W == 0) {
    for (int64_t q = 0; q < m->P; q += SMS_GK_W) sms_gk_mr(mr, f16, ap, as, rs, (const uint8_t *)b + (f16 ? 2 : 4) * q, ldb, kc, y + q, ldy, acc);
    return;
  }
#endif
  for (int r0 = 0; r0 < mr; r0 += SMS_PK_MR) /* slivers of SMS_MR rows, SMS_PK_MR at a time */
    sms_pk_scalar(mr - r0 < SMS_PK_MR ? mr - r0 : SMS_PK_MR, (int)m->P, f16, ap + r0 * rs, as, rs, b, ldb, kc, y + r0 * ldy, ldy, acc);
}

static inline void sms_pk_part(void *arg, int part, int nparts) {
  const struct sms_pk *m = (const struct sms_pk *)arg;
  const int64_t M = m->M, N = m->N, K = m->K, P = m->P, es = m->f16 ? 2 : 4;
  const int64_t np = (N + P - 1) / P, p0 = np * part / nparts, p1 = np * (part + 1) / nparts;
  if (M == 1) { /* GEMV: each panel whole, in storage order, against a as it is */
    for (int64_t p = p0; p < p1; p++) {
      const int64_t j0 = p * P, w = N - j0 < P ? N - j0 : P;
      const uint8_t *panel = m->b + es * j0 * K;
#ifdef SMS_GV
      if (w == P && P == SMS_GK_W) {
        if (m->f16) sms_gv(1, m->a, panel, K, m->y + j0);
        else sms_gv(0, m->a, panel, K, m->y + j0);
        continue;
      }
#endif
      if (w == P) sms_pk_tile(m, 1, m->f16, m->a, 1, 1, panel, P, K, m->y + j0, N, 0);
      else sms_pk_scalar(1, (int)w, m->f16, m->a, 1, 1, panel, w, K, m->y + j0, N, 0);
    }
    return;
  }
  /* one block of rows of a (copied by the caller, or read in place: ap NULL) times one k
   * slice of the panels */
  const int64_t i0 = m->i0, mc = m->mc, k0 = m->k0, kc = m->kc;
  const float *ap = m->ap;
  /* rows s * MR .. of the block, as sms_gk reads them */
#define SMS_SLIVER(s) (ap ? ap + (s) * SMS_MR * m->lp : m->a + (i0 + (s) * SMS_MR) * K + k0), 1, ap ? m->lp : K
  float pad[SMS_KC * SMS_PMAX]; /* a narrow panel's slice, zero-padded to P (f32) */
  float yt[SMS_MR * SMS_PMAX];  /* and its y tile */
  for (int64_t p = p0; p < p1; p++) {
    const int64_t j0 = p * P, w = N - j0 < P ? N - j0 : P;
    const uint8_t *slice = m->b + es * (j0 * K + k0 * w);
    const void *b = slice;
    int f16 = m->f16;
    if (w < P) { /* the narrow last panel: pad its slice to P columns */
      for (int64_t k = 0; k < kc; k++)
        for (int64_t u = 0; u < P; u++)
          pad[k * P + u] = u >= w ? 0.0f : f16 ? smq_f16(slice + 2 * (k * w + u)) : ((const float *)(const void *)slice)[k * w + u];
      b = pad;
      f16 = 0;
    }
    for (int64_t s = 0; s * SMS_MR < mc; s++) {
      const int mr = (int)(mc - s * SMS_MR < SMS_MR ? mc - s * SMS_MR : SMS_MR);
      float *y = m->y + (i0 + s * SMS_MR) * N + j0;
      if (w == P) {
        sms_pk_tile(m, mr, f16, SMS_SLIVER(s), b, P, kc, y, N, k0 > 0);
        continue;
      }
      for (int r = 0; r < mr; r++)
        for (int64_t u = 0; u < w; u++) yt[r * P + u] = y[r * N + u];
      sms_pk_tile(m, mr, f16, SMS_SLIVER(s), b, P, kc, yt, P, k0 > 0);
      for (int r = 0; r < mr; r++)
        for (int64_t u = 0; u < w; u++) y[r * N + u] = yt[r * P + u];
    }
  }
#undef SMS_SLIVER
}

/* y[M, N] = a[M, K] · B with B [K, N] packed in panels of P (1 <= P <= 64, ir/pack.h),
 * f32 (f16 = 0) or f16 (f16 = 1) */
static inline void sms_gemm_packed(const void *b, int f16, const float *a, float *y, int64_t M, int64_t N, int64_t K, int64_t P) {
  struct sms_pk m = {a, (const uint8_t *)b, y, M, N, K, P, f16, NULL, 0, 0, 0, 0, 0};
  if (M < 1 || N < 1) return;
  if (K < 1) {
    for (int64_t i = 0; i < M * N; i++) y[i] = 0;
    return;
  }
  const int64_t np = (N + P - 1) / P;
  if (M == 1) { /* about 64 K multiply-adds per part at least, at most one part per panel */
    int64_t parts = N * K / 65536;
    if (parts > np) parts = np;
    smt_run(sms_pk_part, &m, parts > 64 ? 64 : parts < 1 ? 1 : (int)parts);
    return;
  }
  /* The kernels read rows of a in place (one pointer, constant row offsets: the
   * transposed MR-row slivers of a classic packed GEMM cost ~2 cycles a value to make,
   * ~4% of the bench BERT) unless K is a multiple of 512: then rows of a lie a multiple
   * of 2 KiB apart, so the MR rows a kernel reads map to at most two sets of a 32 KiB
   * 8-way L1 and evict each other.  Such a block of rows is copied once here, kc + 16
   * floats apart (memcpy's speed), and its product with every panel is split between
   * the threads. */
  float ap[SMS_MC * (SMS_KC + 16)];
  m.ap = K % 512 == 0 ? ap : NULL;
  for (int64_t k0 = 0; k0 < K; k0 += SMS_KC) {
    const int64_t kc = K - k0 < SMS_KC ? K - k0 : SMS_KC;
    m.lp = kc + 16;
    for (int64_t i0 = 0; i0 < M; i0 += SMS_MC) {
      const int64_t mc = M - i0 < SMS_MC ? M - i0 : SMS_MC;
      for (int64_t r = 0; m.ap && r < mc; r++) memcpy(ap + r * m.lp, a + (i0 + r) * K + k0, (size_t)kc * sizeof *a);
      m.i0 = i0, m.mc = mc, m.k0 = k0, m.kc = kc;
      int64_t parts = mc * N * kc / 65536;
      if (parts > np) parts = np;
      smt_run(sms_pk_part, &m, parts > 64 ? 64 : parts < 1 ? 1 : (int)parts);
    }
  }
}

/* ---- batched products of activations (ONNX attention's Q·Kᵀ and P·V) ------------------ */
/* b [K, N] row-major is a panel of ldb = N to sms_gk, and a's rows are read in place, so
 * each MR x KW block of a product is the GEMM's micro-kernel (the bench BERT's 4-row x
 * 2-vector tiles ran at ~2/3 of its rate); columns past the last whole KW block, and
 * the portable target, take the smaller tiles below.  Same sums, same order (per
 * output: k in order from 0, FMA) either way. */
struct smm_bmm {
  const float *a, *b;
  float *y;
  int64_t nb, M, N, K; /* nb products of a [M, K] by b [K, N], each stored contiguously */
};

/* rows m0 .. m0 + nr (nr <= 4) of one product, columns of NV full vectors from n.  The
 * row and vector loops are unrolled by pragma: at -O2 GCC otherwise kept c[][] in memory
 * (a load, FMA and store per product: the bench BERT's Q·Kᵀ / P·V ran at ~1/7 of the
 * GEMM's rate). */
#if defined(__GNUC__) && !defined(__clang__)
#define SMM_BMM_UNROLL _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define SMM_BMM_UNROLL _Pragma("unroll")
#else
#define SMM_BMM_UNROLL
#endif
#define SMM_BMM_TILE(NR, NV)                                                                   \
  do {                                                                                         \
    smm_v c[NR][NV];                                                                           \
    SMM_BMM_UNROLL for (int r_ = 0; r_ < NR; r_++)                                             \
      SMM_BMM_UNROLL for (int v_ = 0; v_ < NV; v_++) c[r_][v_] = smm_set(0.0f);                \
    for (int64_t k = 0; k < K; k++) {                                                          \
      smm_v bv[NV];                                                                            \
      SMM_BMM_UNROLL for (int v_ = 0; v_ < NV; v_++) bv[v_] = smm_ld(b + k * N + n + v_ * SMM_W); \
      SMM_BMM_UNROLL for (int r_ = 0; r_ < NR; r_++) {                                         \
        smm_v av = smm_set(a[(m + r_) * K + k]);                                               \
        SMM_BMM_UNROLL for (int v_ = 0; v_ < NV; v_++) c[r_][v_] = smm_fma(av, bv[v_], c[r_][v_]); \
      }                                                                                        \
    }                                                                                          \
    SMM_BMM_UNROLL for (int r_ = 0; r_ < NR; r_++)                                             \
      SMM_BMM_UNROLL for (int v_ = 0; v_ < NV; v_++) smm_st(y + (m + r_) * N + n + v_ * SMM_W, c[r_][v_]); \
  } while (0)

/* columns n0 .. N of rows m0 .. m1 of one product */
static inline void smm_bmm_cols(const float *a, const float *b, float *y, int64_t m0, int64_t m1, int64_t n0, int64_t N, int64_t K) {
  for (int64_t m = m0; m < m1; m += 4) {
    int nr = m1 - m < 4 ? (int)(m1 - m) : 4;
    int64_t n = n0;
    for (; n + 2 * SMM_W <= N; n += 2 * SMM_W) {
      if (nr == 4) SMM_BMM_TILE(4, 2);
      else if (nr == 3) SMM_BMM_TILE(3, 2);
      else if (nr == 2) SMM_BMM_TILE(2, 2);
      else SMM_BMM_TILE(1, 2);
    }
    for (; n + SMM_W <= N; n += SMM_W) {
      if (nr == 4) SMM_BMM_TILE(4, 1);
      else for (int64_t m_ = m; m_ < m + nr; m_++) { int64_t m = m_; SMM_BMM_TILE(1, 1); }
    }
    if (n < N) /* the last columns: sums of the same products, in the same order */
      for (int64_t r = m; r < m + nr; r++) {
        smm_v c = smm_set(0.0f);
        for (int64_t k = 0; k < K; k++) c = smm_fma(smm_set(a[r * K + k]), smm_ldn(b + k * N + n, N - n, 0.0f), c);
        smm_stn(y + r * N + n, c, N - n);
      }
  }
}
#undef SMM_BMM_TILE

static inline void smm_bmm_rows(const float *a, const float *b, float *y, int64_t m0, int64_t m1, int64_t N, int64_t K) {
  for (int64_t m = m0; m < m1; m += SMS_MR) {
    const int64_t m2 = m1 - m < SMS_MR ? m1 : m + SMS_MR;
    int64_t n = 0;
#ifdef SMS_GK_MR
    for (; n + SMS_GK_W <= N; n += SMS_GK_W) sms_gk_mr((int)(m2 - m), 0, a + m * K, 1, K, b + n, N, K, y + m * N + n, N, 0);
#endif
    if (n < N) smm_bmm_cols(a, b, y, m, m2, n, N, K);
  }
}

static inline void smm_bmm_part(void *arg, int part, int nparts) {
  const struct smm_bmm *p = (const struct smm_bmm *)arg;
  /* parts over (product, block of MR rows) */
  int64_t blocks = (p->M + SMS_MR - 1) / SMS_MR, n = p->nb * blocks, i0 = n * part / nparts, i1 = n * (part + 1) / nparts;
  for (int64_t i = i0; i < i1;) {
    int64_t q = i / blocks, bl = i % blocks, bl1 = blocks, left = i1 - i;
    if (bl1 - bl > left) bl1 = bl + left;
    int64_t m0 = bl * SMS_MR, m1 = bl1 * SMS_MR < p->M ? bl1 * SMS_MR : p->M;
    smm_bmm_rows(p->a + q * p->M * p->K, p->b + q * p->K * p->N, p->y + q * p->M * p->N, m0, m1, p->N, p->K);
    i += bl1 - bl;
  }
}

/* y[q] = a[q] · b[q] for q < nb: a [nb, M, K], b [nb, K, N], y [nb, M, N], all contiguous */
static inline void smm_bmm(const float *a, const float *b, float *y, int64_t nb, int64_t M, int64_t N, int64_t K) {
  struct smm_bmm p = {a, b, y, nb, M, N, K};
  int64_t parts = nb * M * N * K / 65536, blocks = nb * ((M + SMS_MR - 1) / SMS_MR);
  smt_run(smm_bmm_part, &p, parts > 64 ? 64 : parts < blocks ? (int)parts : (int)blocks);
}

#endif
