/* runtime/smelt_simd_wino.h — Winograd convolution F(m x m, 3 x 3), m = 2 or 4, for a
 * 3x3 stride-1 dilation-1 f32 Conv with one group (any pads), included at the end of
 * runtime/smelt_simd_conv.h and written over its per-ISA primitives (smc_v, SMC_VW,
 * SMC_MR x SMC_NR, smc_tile), so AVX-512, AVX2, NEON and portable C share this code.
 *
 * The weights come transformed at compile time (passes/layout.c: Conv attribute wino = m):
 * U[e][c][k] = (G g[k][c] Gᵀ)[e / A][e % A], A = m + 2 (an [A·A, C, M] constant, output
 * channel k innermost).  For a block of output tiles (m x m outputs each, read from an
 * A x A input window) the kernel
 *   1. transforms the inputs: V[e][c][t] = (Bᵀ d[c][t] B)[e], vectorized over the tiles
 *      of a tile row (each input row split once into m column phases, so tile t's column
 *      l is phase l % m at index t + l / m: a contiguous vector load);
 *   2. multiplies, per position e, Mt[e][t][k] = Σ_c V[e][c][t] · U[e][c][k]: the
 *      direct kernel's register-tiled micro-kernel (smc_tile) with the tiles as its rows
 *      (broadcast V, one pointer) and the output channels as its vector columns (rows of U);
 *   3. transforms back, Y = Aᵀ Mt A + bias, vectorized over output channels, and stores
 *      the m x m outputs with the fused epilogue (+ residual, Relu) of smc_conv_epi.
 * F(4x4) needs 36 multiplies per 16 outputs and input channel (direct: 144), F(2x2) 16
 * per 4 (direct: 36).
 *
 * Memory: the block's V (SMW_V_FLOATS, 512 KiB) on the calling thread's stack; per part
 * the column phases of one tile row (<= 100 KiB) or Mt and the tile of outputs (40 KiB).
 * The caller checks smc_wino_fits (M a multiple of 16, so vector columns never pass the
 * end of U; the emitter and the compiler share the function).
 *
 * Numerics: a different order and transform constants up to 8 (F(4x4)): see NOTES
 * "Winograd convolution (h-wino)" for the error bound the tests use. */
#ifndef SMELT_SIMD_WINO_H
#define SMELT_SIMD_WINO_H

#define SMW_V_FLOATS 131072
#define SMW_MAX_TW 1024 /* tiles per tile row (OW <= 2048 with m = 2) */
#define SMW_MAX_C 8192

static inline int smc_wino_fits(const struct smc_op *o, int wm) {
  if (wm != 2 && wm != 4) return 0;
  if (o->kind != SMC_CONV || o->G != 1 || o->KH != 3 || o->KW != 3 || o->sh != 1 || o->sw != 1 || o->dh != 1 || o->dw != 1) return 0;
  int64_t A = wm + 2;
  if (o->M < 16 || o->M % 16 || o->C < 1 || o->C > SMW_MAX_C || o->OH < 1 || o->OW < 1) return 0;
  if ((o->OW + wm - 1) / wm > SMW_MAX_TW || A * A * o->C > SMW_V_FLOATS) return 0;
  return A * A * o->C * o->M < ((int64_t)1 << 31);
}

/* in-place 1-D transforms of A values at stride s */
SMC_AI void smw_bt(smc_v *d, int s, const int wm) { /* d <- Bᵀ d */
  if (wm == 4) {
    smc_v d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    smc_v f4 = smc_set1(4.0f), f2 = smc_set1(2.0f);
    smc_v a = smc_fma(smc_set1(-4.0f), d2, d4), b = smc_fma(smc_set1(-4.0f), d1, d3); /* d4 - 4 d2, d3 - 4 d1 */
    smc_v n = smc_set1(-1.0f), c = smc_fma(n, d2, d4), e = smc_mul(f2, smc_fma(n, d1, d3)); /* d4 - d2, 2(d3 - d1) */
    d[0] = smc_add(smc_fma(f4, d0, smc_mul(smc_set1(-5.0f), d2)), d4);
    d[s] = smc_add(a, b);
    d[2 * s] = smc_fma(n, b, a);
    d[3 * s] = smc_add(c, e);
    d[4 * s] = smc_fma(n, e, c);
    d[5 * s] = smc_add(smc_fma(f4, d1, smc_mul(smc_set1(-5.0f), d3)), d5);
  } else {
    smc_v d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], n = smc_set1(-1.0f);
    d[0] = smc_fma(n, d2, d0);
    d[s] = smc_add(d1, d2);
    d[2 * s] = smc_fma(n, d1, d2);
    d[3 * s] = smc_fma(n, d3, d1);
  }
}

/* o[i·os] = (Aᵀ v)[i], i < wm, from A values at stride s */
SMC_AI void smw_at(const smc_v *v, int s, smc_v *o, int os, const int wm) {
  if (wm == 4) {
    smc_v n = smc_set1(-1.0f);
    smc_v a = smc_add(v[s], v[2 * s]), b = smc_fma(n, v[2 * s], v[s]), c = smc_add(v[3 * s], v[4 * s]), d = smc_fma(n, v[4 * s], v[3 * s]);
    o[0] = smc_add(smc_add(v[0], a), c);
    o[os] = smc_fma(smc_set1(2.0f), d, b);
    o[2 * os] = smc_fma(smc_set1(4.0f), c, a);
    o[3 * os] = smc_add(smc_fma(smc_set1(8.0f), d, b), v[5 * s]);
  } else {
    smc_v n = smc_set1(-1.0f);
    o[0] = smc_add(smc_add(v[0], v[s]), v[2 * s]);
    o[os] = smc_fma(n, v[3 * s], smc_fma(n, v[2 * s], v[s]));
  }
}

/* D[p·DW + jj] = s[jj·wm + p + i0] for p < wm and jj from j to j1 (the caller made every
 * index inside the row, and s[j1·wm + i0] readable); returns j1.  wm = 2 is the direct
 * kernel's stride-2 deinterleave (smc_even) once per phase. */
static inline int64_t smw_split(float *D, int64_t DW, const float *s, int64_t i0, int64_t j, int64_t j1, int wm) {
  if (wm == 2) {
    smc_even(D, s + i0, j, j1);
    smc_even(D + DW, s + i0 + 1, j, j1);
    return j1;
  }
#if defined(__AVX512F__)
  {
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    for (; j + 16 <= j1; j += 16) {
      const float *q = s + 4 * j + i0;
      __m512 a = _mm512_loadu_ps(q), b = _mm512_loadu_ps(q + 16), c = _mm512_loadu_ps(q + 32), d = _mm512_loadu_ps(q + 48);
      __m512 ab = _mm512_permutex2var_ps(a, i01, b), cd = _mm512_permutex2var_ps(c, i01, d);
      _mm512_storeu_ps(D + j, _mm512_shuffle_f32x4(ab, cd, 0x44));
      _mm512_storeu_ps(D + DW + j, _mm512_shuffle_f32x4(ab, cd, 0xEE));
      ab = _mm512_permutex2var_ps(a, i23, b), cd = _mm512_permutex2var_ps(c, i23, d);
      _mm512_storeu_ps(D + 2 * DW + j, _mm512_shuffle_f32x4(ab, cd, 0x44));
      _mm512_storeu_ps(D + 3 * DW + j, _mm512_shuffle_f32x4(ab, cd, 0xEE));
    }
  }
#elif defined(__aarch64__) && defined(__ARM_NEON)
  for (; j + 4 <= j1; j += 4) {
    float32x4x4_t v = vld4q_f32(s + 4 * j + i0);
    vst1q_f32(D + j, v.val[0]), vst1q_f32(D + DW + j, v.val[1]), vst1q_f32(D + 2 * DW + j, v.val[2]), vst1q_f32(D + 3 * DW + j, v.val[3]);
  }
#endif
  for (int64_t t = j; t < j1 && t < SMW_MAX_TW + 48; t++) /* (the bound: a row of D; it tells GCC's loop analysis) */
    for (int p = 0; p < wm; p++) D[p * DW + t] = s[i0 + t * wm + p];
  return j1;
}

/* ---- 1. input transform: parts split the channels ------------------------------------ */
struct smw_in {
  const struct smc_op *o;
  const float *x; /* one image */
  float *V;       /* [A·A][C][vs] */
  int64_t t0, bt, vs, TW;
  int wm;
};

SMC_AI void smw_in_part_m(const struct smw_in *j, int part, int nparts, const int wm) {
  const struct smc_op *o = j->o;
  const int A = wm + 2;
  const int64_t TW = j->TW, DW = (TW + 1 + SMC_VW + 15) / 16 * 16, C = o->C; /* DW: whole vectors of every ISA */
  int64_t c0 = C * part / nparts, c1 = C * (part + 1) / nparts;
  float D[6 * 4 * (SMW_MAX_TW + 48)], row[4 * (SMW_MAX_TW + 48)]; /* D[k][p][jj] = xpad[ty·wm + k][jj·wm + p] */
  const int64_t ty0 = j->t0 / TW, ty1 = (j->t0 + j->bt - 1) / TW;
  for (int64_t c = c0; c < c1; c++) {
    const float *xc = j->x + c * o->H * o->W;
    for (int64_t ty = ty0; ty <= ty1; ty++) {
      for (int k = 0; k < A; k++) {
        int64_t ih = ty * wm + k - o->ph;
        float *Dk = D + (int64_t)k * wm * DW;
        if (ih < 0 || ih >= o->H) {
          memset(Dk, 0, sizeof(float) * (size_t)(wm * DW));
          continue;
        }
        const float *s = xc + ih * o->W;
        /* the row with its padding made explicit (zeros up to DW·wm), then split into the
         * wm column phases by vector shuffles */
        int64_t n = DW * wm, a = o->pw < n ? o->pw : n, e = o->pw + o->W < n ? o->pw + o->W : n;
        memset(row, 0, sizeof(float) * (size_t)a);
        if (e > a) memcpy(row + a, s, sizeof(float) * (size_t)(e - a));
        if (n > e) memset(row + e, 0, sizeof(float) * (size_t)(n - e));
        row[n] = 0; /* read (into a dropped lane) by the odd phase of wm = 2 */
        smw_split(Dk, DW, row, 0, 0, DW, wm);
      }
      int64_t lo = ty * TW, hi = lo + TW;
      if (lo < j->t0) lo = j->t0;
      if (hi > j->t0 + j->bt) hi = j->t0 + j->bt;
      for (int64_t t = lo; t < hi; t += SMC_VW) { /* lanes past hi: overwritten by the next tile row */
        int64_t tx = t - ty * TW;
        smc_v v[36];
        SMC_UNROLL for (int k = 0; k < A; k++)
          SMC_UNROLL for (int l = 0; l < A; l++) v[k * A + l] = smc_load(D + ((int64_t)k * wm + l % wm) * DW + tx + l / wm);
        SMC_UNROLL for (int l = 0; l < A; l++) smw_bt(v + l, A, wm); /* columns: Bᵀ d */
        SMC_UNROLL for (int k = 0; k < A; k++) smw_bt(v + k * A, 1, wm); /* rows: (Bᵀ d) B */
        float *Vt = j->V + c * j->vs + (t - j->t0);
        if (t - j->t0 + SMC_VW <= j->bt) {
          SMC_UNROLL for (int e = 0; e < A * A; e++) smc_store(Vt + e * C * j->vs, v[e]);
        } else { /* the row's end: only the lanes inside it */
          float tmp[SMC_VW];
          size_t nl = sizeof(float) * (size_t)(j->bt - (t - j->t0));
          SMC_UNROLL for (int e = 0; e < A * A; e++) {
            smc_store(tmp, v[e]);
            memcpy(Vt + e * C * j->vs, tmp, nl);
          }
        }
      }
    }
  }
}

static inline void smw_in_part(void *arg, int part, int nparts) {
  const struct smw_in *j = (const struct smw_in *)arg;
  if (j->wm == 4) smw_in_part_m(j, part, nparts, 4);
  else smw_in_part_m(j, part, nparts, 2);
}

/* ---- 2 + 3. products and output transform: parts split (panel of M, row tile of tiles) - */
struct smw_job {
  const struct smc_op *o;
  const float *U, *V, *bias, *res;
  float *y;
  const int32_t *off;
  int64_t t0, bt, vs, TW, nrt, npn;
  int wm, relu;
};

/* Mt tile (R tiles x nb vectors of channels) of position e */
SMC_AI void smw_tile_r(const float *w, int64_t ks, int64_t K, const float *b, const int32_t *off, float *t, const int R, int nb) {
  switch (nb) {
#if SMC_NB > 3
  case 4: smc_tile(w, 1, ks, K, b, off, NULL, t, R, 4); break;
  case 3: smc_tile(w, 1, ks, K, b, off, NULL, t, R, 3); break;
#endif
#if SMC_NB > 1
  case 2: smc_tile(w, 1, ks, K, b, off, NULL, t, R, 2); break;
#endif
  default: smc_tile(w, 1, ks, K, b, off, NULL, t, R, 1); break;
  }
}

static inline void smw_tile_n(const float *w, int64_t ks, int64_t K, const float *b, const int32_t *off, float *t, int R, int nb) {
  switch (R) {
#if SMC_MR > 6
  case 8: smw_tile_r(w, ks, K, b, off, t, 8, nb); break;
  case 7: smw_tile_r(w, ks, K, b, off, t, 7, nb); break;
#endif
#if SMC_MR > 4
  case 6: smw_tile_r(w, ks, K, b, off, t, 6, nb); break;
  case 5: smw_tile_r(w, ks, K, b, off, t, 5, nb); break;
#endif
  case 4: smw_tile_r(w, ks, K, b, off, t, 4, nb); break;
  case 3: smw_tile_r(w, ks, K, b, off, t, 3, nb); break;
  case 2: smw_tile_r(w, ks, K, b, off, t, 2, nb); break;
  default: smw_tile_r(w, ks, K, b, off, t, 1, nb); break;
  }
}

#if defined(__AVX512F__)
/* r[i][l] <- r[l][i] for 16 vectors of 16 */
static inline void smw_tr16(__m512 *r) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  for (int i = 0; i < 16; i += 4) {
    __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]), d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  /* r[4q + s], 128-bit block L: column 4L + s of rows 4q .. 4q + 3 */
  for (int s = 0; s < 4; s++) {
    __m512 a = r[s], b = r[4 + s], c = r[8 + s], d = r[12 + s];
    __m512 ab0 = _mm512_shuffle_f32x4(a, b, 0x44), ab1 = _mm512_shuffle_f32x4(a, b, 0xEE);
    __m512 cd0 = _mm512_shuffle_f32x4(c, d, 0x44), cd1 = _mm512_shuffle_f32x4(c, d, 0xEE);
    t[s] = _mm512_shuffle_f32x4(ab0, cd0, 0x88);
    t[4 + s] = _mm512_shuffle_f32x4(ab0, cd0, 0xDD);
    t[8 + s] = _mm512_shuffle_f32x4(ab1, cd1, 0x88);
    t[12 + s] = _mm512_shuffle_f32x4(ab1, cd1, 0xDD);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}
#endif

SMC_AI void smw_out_part_m(const struct smw_job *j, int part, int nparts, const int wm) {
  const struct smc_op *o = j->o;
  const int A = wm + 2, E = A * A;
  const int64_t C = o->C, M = o->M, P = o->OH * o->OW, nt = j->nrt * j->npn;
  int64_t k0 = nt * part / nparts, k1 = nt * (part + 1) / nparts;
  float mt[36 * SMC_MR * SMC_NR], ot[16 * SMC_NR];
  for (int64_t ki = k0; ki < k1; ki++) { /* row tiles innermost: the panel of U stays in cache */
    int64_t pn = ki / j->nrt, rt = ki % j->nrt;
    int64_t m0 = pn * SMC_NR, w = M - m0 < SMC_NR ? M - m0 : SMC_NR, r0 = rt * SMC_MR;
    int R = (int)(j->bt - r0 < SMC_MR ? j->bt - r0 : SMC_MR), nb = (int)((w + SMC_VW - 1) / SMC_VW);
    for (int e = 0; e < E; e++)
      smw_tile_n(j->V + e * C * j->vs + r0, j->vs, C, j->U + e * C * M + m0, j->off, mt + e * SMC_MR * SMC_NR, R, nb);
    for (int r = 0; r < R; r++) {
      int64_t t = j->t0 + r0 + r, ty = t / j->TW, tx = t % j->TW;
      int64_t nh = o->OH - ty * wm < wm ? o->OH - ty * wm : wm, nw = o->OW - tx * wm < wm ? o->OW - tx * wm : wm;
#if defined(__AVX512F__)
      if (wm == 4 && nh == 4 && nw == 4) { /* a whole tile: 16 outputs x 16 channels transposed, rows stored as 4 floats */
        for (int u = 0; u < nb; u++) {
          __m512 v[36], q[24], z[16];
          SMC_UNROLL for (int e = 0; e < 36; e++) v[e] = _mm512_loadu_ps(mt + (e * SMC_MR + r) * SMC_NR + u * 16);
          SMC_UNROLL for (int l = 0; l < 6; l++) smw_at(v + l, 6, q + l, 6, 4);
          SMC_UNROLL for (int i = 0; i < 4; i++) smw_at(q + i * 6, 1, z + i * 4, 1, 4);
          __m512 b = j->bias ? _mm512_loadu_ps(j->bias + m0 + u * 16) : _mm512_setzero_ps();
          SMC_UNROLL for (int i = 0; i < 16; i++) z[i] = _mm512_add_ps(z[i], b);
          smw_tr16(z);
          for (int ch = 0; ch < 16; ch++) {
            int64_t k = m0 + u * 16 + ch, at = ty * 4 * o->OW + tx * 4;
            float *yk = j->y + k * P + at;
            const float *rk = j->res ? j->res + k * P + at : NULL;
            __m128 rows[4] = {_mm512_extractf32x4_ps(z[ch], 0), _mm512_extractf32x4_ps(z[ch], 1), _mm512_extractf32x4_ps(z[ch], 2),
                              _mm512_extractf32x4_ps(z[ch], 3)};
            SMC_UNROLL for (int i = 0; i < 4; i++) {
              __m128 w4 = rows[i];
              if (rk) w4 = _mm_add_ps(w4, _mm_loadu_ps(rk + i * o->OW));
              if (j->relu) w4 = _mm_max_ps(_mm_setzero_ps(), w4);
              _mm_storeu_ps(yk + i * o->OW, w4);
            }
          }
        }
        continue;
      }
#endif
      for (int u = 0; u < nb; u++) {
        smc_v v[36], q[24], z[16];
        SMC_UNROLL for (int e = 0; e < E; e++) v[e] = smc_load(mt + (e * SMC_MR + r) * SMC_NR + u * SMC_VW);
        SMC_UNROLL for (int l = 0; l < A; l++) smw_at(v + l, A, q + l, A, wm);    /* q[i][l] = (Aᵀ v)[i][l] */
        SMC_UNROLL for (int i = 0; i < wm; i++) smw_at(q + i * A, 1, z + i * wm, 1, wm); /* z[i][jj] = (q A)[i][jj] */
        smc_v b = j->bias ? smc_load(j->bias + m0 + u * SMC_VW) : smc_set1(0.0f);
        SMC_UNROLL for (int i = 0; i < wm * wm; i++) smc_store(ot + i * SMC_NR + u * SMC_VW, smc_add(z[i], b));
      }
      for (int64_t mm = 0; mm < w; mm++) {
        float *yk = j->y + (m0 + mm) * P;
        const float *rk = j->res ? j->res + (m0 + mm) * P : NULL;
        for (int64_t i = 0; i < nh; i++) {
          int64_t at = (ty * wm + i) * o->OW + tx * wm;
          for (int64_t jj = 0; jj < nw; jj++) {
            float v = ot[(i * wm + jj) * SMC_NR + mm];
            if (rk) v = v + rk[at + jj];
            if (j->relu) v = v < 0 ? 0.0f : v;
            yk[at + jj] = v;
          }
        }
      }
    }
  }
}

static inline void smw_out_part(void *arg, int part, int nparts) {
  const struct smw_job *j = (const struct smw_job *)arg;
  if (j->wm == 4) smw_out_part_m(j, part, nparts, 4);
  else smw_out_part_m(j, part, nparts, 2);
}

/* Y[n] = relu?(conv3x3(X[n], g) + bias + res[n]) for n < N images, with U the transformed
 * weights of g (see the top of this file) for F(wm x wm, 3x3); bias [M] or NULL, res
 * (Y's shape) or NULL.  The caller checked smc_wino_fits(o, wm). */
static inline void smc_wino_epi(const struct smc_op *o, int wm, const float *x, const float *U, const float *bias, const float *res,
                                int relu, float *y, int64_t N) {
  const int64_t A = wm + 2, E = A * A, C = o->C, M = o->M;
  const int64_t TH = (o->OH + wm - 1) / wm, TW = (o->OW + wm - 1) / wm, T = TH * TW;
  int64_t bt = SMW_V_FLOATS / (E * C); /* tiles of a block */
  if (bt > T) bt = T;
  if (bt > SMC_MR) bt -= bt % SMC_MR; /* whole row tiles */
  if (bt < 1) bt = 1;
  float V[SMW_V_FLOATS];
  int32_t off[SMW_MAX_C];
  for (int64_t c = 0; c < C; c++) off[c] = (int32_t)(c * M);
  for (int64_t n = 0; n < N; n++)
    for (int64_t t0 = 0; t0 < T; t0 += bt) {
      int64_t b = T - t0 < bt ? T - t0 : bt;
      struct smw_in ji = {o, x + n * C * o->H * o->W, V, t0, b, b, TW, wm};
      int64_t pin = C * b * E / 8192; /* transform work: ~E·(A + 2)/VW vector ops per tile and channel */
      smt_run(smw_in_part, &ji, (int)(pin < 1 ? 1 : pin < C ? pin : C));
      struct smw_job jo = {o, U, V, bias, res ? res + n * M * o->OH * o->OW : NULL, y + n * M * o->OH * o->OW, off, t0, b, b, TW,
                           (b + SMC_MR - 1) / SMC_MR, (M + SMC_NR - 1) / SMC_NR, wm, relu};
      int64_t nt = jo.nrt * jo.npn, parts = E * b * C * M / 32768; /* >= 32 K multiply-adds a part */
      smt_run(smw_out_part, &jo, (int)(parts < 1 ? 1 : parts < nt ? parts : nt));
    }
}

#endif
