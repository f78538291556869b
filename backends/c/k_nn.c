/* backends/c/k_nn.c — C kernels for matmul, convolution, pooling, reductions,
 * arg-reductions and softmax, specialized on the node's shapes.
 *
 * Floats accumulate in float (f32/f16/bf16) or double (f64) except reductions,
 * which accumulate in double like the interpreter; integers accumulate in 64 bits
 * and wrap to the output type at the store.  MatMul by a block-quantized (or f16 /
 * bf16) weight calls the runtime's row dots (runtime/smelt_quant.h). */
#include "cgen.h"

#include <string.h>

static const char *acc_type(smelt_dtype dt) {
  if (smelt_dtype_is_float(dt)) return dt == SMELT_DT_F64 ? "double" : "float";
  return (smelt_dtype_flags(dt) & DTF_SIGNED) ? "int64_t" : "uint64_t";
}

/* a * b accumulated in the accumulator type, wrapping for integers */
static const char *mac(struct cg *c, smelt_dtype dt, const char *acc, const char *a, const char *b) {
  if (smelt_dtype_is_float(dt)) return smelt_sprintf(c->cx, "%s += %s * %s;", acc, a, b);
  return smelt_sprintf(c->cx, "%s = (%s)((uint64_t)%s + (uint64_t)(%s) * (uint64_t)(%s));", acc, acc_type(dt), acc, a, b);
}

/* A weight stored as blocks (or f16 / bf16 under f32 activations): y[r, j] is the
 * runtime's dot of weight row j with row r of A (smq_dot_<dtype>, runtime/smelt_quant.h).
 * Nothing is allocated or expanded.  Weight rows go in tiles of about 128 KiB, and
 * each tile meets every row of A before the next tile: every weight byte comes from
 * memory once per call (decode reads each once; prefill reuses the tile from the
 * cache for all rows of A), and a row of A stays in L1 across the tile.  With several
 * rows of A each weight row is unpacked once and met by every row with the float dot. */
static int emit_matmul_weight(struct cg *c, const smelt_node *n) {
  const smelt_value *A = cg_in(c, n, 0), *B = cg_in(c, n, 1);
  const char *R = cg_elems(c, &A->shape, 0, A->shape.rank - 1);
  int64_t N = B->shape.d[0].n, K = B->shape.d[1].n, rb = smelt_dtype_nbytes(B->dt, K);
  int64_t tile = rb ? (128 * 1024) / rb : N;
  if (tile < 1) tile = 1;
  if (tile > N) tile = N;
  const char *dot = smelt_sprintf(c->cx, "smq_dot_%s(w + j * %lld, a, %lld)", smelt_dtype_name(B->dt), (long long)rb, (long long)K);
  cg_line(c, "const int64_t R = %s;", R);
  cg_line(c, "const unsigned char *w = (const unsigned char *)x1;");
  if (K <= 16384) {
    /* several rows of A (prefill): unpack each weight row once into a float buffer and
     * meet every row of A with the vectorized float dot; one row (decode) keeps the
     * fused dot above, which never writes the unpacked row */
    cg_line(c, "if (R > 1) {");
    cg_line(c, "  float wr[%lld];", (long long)K);
    cg_line(c, "  for (int64_t j = 0; j < %lld; j++) {", (long long)N);
    cg_line(c, "    smq_dequantize_row_%s(w + j * %lld, wr, %lld);", smelt_dtype_name(B->dt), (long long)rb, (long long)K);
    cg_line(c, "    for (int64_t r = 0; r < R; r++) y0[r * %lld + j] = sm_dot_f32(x0 + r * %lld, wr, %lld);", (long long)N, (long long)K, (long long)K);
    cg_line(c, "  }");
    cg_line(c, "  return 0;");
    cg_line(c, "}");
  }
  if (tile >= N) { /* one tile */
    cg_line(c, "for (int64_t r = 0; r < R; r++) {");
    cg_line(c, "  const float *a = x0 + r * %lld;", (long long)K);
    cg_line(c, "  for (int64_t j = 0; j < %lld; j++) y0[r * %lld + j] = %s;", (long long)N, (long long)N, dot);
    cg_line(c, "}");
    return 0;
  }
  cg_line(c, "for (int64_t j0 = 0; j0 < %lld; j0 += %lld) {", (long long)N, (long long)tile);
  cg_line(c, "  const int64_t j1 = j0 + %lld < %lld ? j0 + %lld : %lld;", (long long)tile, (long long)N, (long long)tile, (long long)N);
  cg_line(c, "  for (int64_t r = 0; r < R; r++) {");
  cg_line(c, "    const float *a = x0 + r * %lld;", (long long)K);
  cg_line(c, "    for (int64_t j = j0; j < j1; j++) y0[r * %lld + j] = %s;", (long long)N, dot);
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}

/* A weight [K, N] in panels of P columns (pack = P, ir/pack.h), f32 or f16: the row
 * update of the plain kernel, one panel at a time.  The vector targets have their own
 * GEMM (runtime/smelt_simd_gemm.h); this one keeps such IR runnable everywhere. */
static int emit_matmul_packed(struct cg *c, const smelt_node *n) {
  const smelt_value *A = cg_in(c, n, 0), *B = cg_in(c, n, 1);
  const char *R = cg_elems(c, &A->shape, 0, A->shape.rank - 1);
  long long K = (long long)B->shape.d[0].n, N = (long long)B->shape.d[1].n, P = (long long)smelt_attr_i(n, "pack");
  int f16 = B->dt == SMELT_DT_F16;
  cg_line(c, "const int64_t R = %s;", R);
  if (f16) cg_line(c, "const unsigned char *wb = (const unsigned char *)x1;");
  cg_line(c, "for (int64_t j0 = 0; j0 < %lld; j0 += %lld) {", N, P);
  cg_line(c, "  const int64_t w = %lld - j0 < %lld ? %lld - j0 : %lld;", N, P, N, P);
  cg_line(c, "  for (int64_t r = 0; r < R; r++) {");
  cg_line(c, "    float *y = y0 + r * %lld + j0;", N);
  cg_line(c, "    for (int64_t j = 0; j < w; j++) y[j] = 0;");
  cg_line(c, "    for (int64_t k = 0; k < %lld; k++) {", K);
  cg_line(c, "      const float av = x0[r * %lld + k];", K);
  if (f16) cg_line(c, "      for (int64_t j = 0; j < w; j++) y[j] += av * smq_f16(wb + 2 * (j0 * %lld + k * w + j));", K);
  else cg_line(c, "      for (int64_t j = 0; j < w; j++) y[j] += av * x1[j0 * %lld + k * w + j];", K);
  cg_line(c, "    }");
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}

/* Loops over the output's batch dims, binding offsets oa/ob/oy of each matrix. */
int emit_matmul(struct cg *c, const smelt_node *n) {
  const smelt_value *A = cg_in(c, n, 0), *B = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  if (smelt_attr_i(n, "pack")) return emit_matmul_packed(c, n);
  if (smelt_dtype_is_weight_for(A->dt, B->dt)) return emit_matmul_weight(c, n);
  int tb = (int)smelt_attr_i(n, "trans_b"), r = Y->shape.rank;
  smelt_dtype dt = A->dt;
  const char *M = cg_dim(c, A->shape.d[A->shape.rank - 2]), *K = cg_dim(c, A->shape.d[A->shape.rank - 1]);
  const char *Nn = cg_dim(c, Y->shape.d[r - 1]);
  /* batch nest: output batch dims, A and B broadcast over them (matrices as units) */
  smelt_shape yb = Y->shape, ab = A->shape, bb = B->shape;
  yb.rank -= 2; ab.rank -= 2; bb.rank -= 2;
  struct nest ns;
  nest_init(c, &ns, &yb, "b");
  nest_add_bcast(c, &ns, &ab);
  nest_add_bcast(c, &ns, &bb);
  nest_simplify(c, &ns);
  const char *off[NEST_MAXOPS];
  const char *MK = cg_mul(c, M, K), *KN = cg_mul(c, K, Nn), *MN = cg_mul(c, M, Nn);
  cg_line(c, "const int64_t M = %s, K = %s, N = %s;", M, K, Nn);
  nest_open(c, &ns, off);
  cg_line(c, "const %s *a = x0 + (%s) * %s;", cg_ctype(dt), off[1], MK);
  cg_line(c, "const %s *b = x1 + (%s) * %s;", cg_ctype(dt), off[2], KN);
  cg_line(c, "%s *y = y0 + (%s) * %s;", cg_ctype(dt), off[0], MN);
  const char *at = acc_type(dt);
  if (!tb && (dt == SMELT_DT_F32 || dt == SMELT_DT_F64)) {
    /* row update: y[i,:] += a[i,k] * b[k,:], contiguous in the inner loop */
    cg_line(c, "for (int64_t i = 0; i < M; i++) {");
    cg_line(c, "  %s *yr = y + i * N;", cg_ctype(dt));
    cg_line(c, "  for (int64_t j = 0; j < N; j++) yr[j] = 0;");
    cg_line(c, "  for (int64_t k = 0; k < K; k++) {");
    cg_line(c, "    const %s av = a[i * K + k], *br = b + k * N;", cg_ctype(dt));
    cg_line(c, "    for (int64_t j = 0; j < N; j++) yr[j] += av * br[j];");
    cg_line(c, "  }");
    cg_line(c, "}");
  } else if (tb && dt == SMELT_DT_F32) {
    /* B is [N, K]: one dot per (weight row, token), weight row outermost so it is read
     * once for all M rows of A (GEMV when M = 1) */
    cg_line(c, "for (int64_t j = 0; j < N; j++) {");
    cg_line(c, "  const float *bj = b + j * K;");
    cg_line(c, "  for (int64_t i = 0; i < M; i++) y[i * N + j] = sm_dot_f32(a + i * K, bj, K);");
    cg_line(c, "}");
  } else {
    /* dot products: b[k,j] at k * N + j, or b[j,k] at j * K + k when transposed */
    cg_line(c, "for (int64_t i = 0; i < M; i++)");
    cg_line(c, "  for (int64_t j = 0; j < N; j++) {");
    cg_line(c, "    %s acc = 0;", at);
    cg_line(c, "    for (int64_t k = 0; k < K; k++) %s", mac(c, dt, "acc", cg_load(c, dt, "a[i * K + k]"), cg_load(c, dt, tb ? "b[j * K + k]" : "b[k * N + j]")));
    cg_line(c, "    y[i * N + j] = %s;", cg_store(c, dt, "acc"));
    cg_line(c, "  }");
  }
  nest_close(c, &ns);
  return 0;
}

/* Emits the spatial loops of a window op (conv, pool): output position loops o0..,
 * kernel loops k0.. with input position p_i and a bounds test.  The caller writes
 * the body between open and close. */
struct win { int nsp; const int64_t *st, *pd, *dl, *kk; const smelt_shape *x, *y; };

static void win_open_out(struct cg *c, const struct win *w) {
  for (int i = 0; i < w->nsp; i++) {
    cg_line(c, "for (int64_t o%d = 0; o%d < %lld; o%d++) {", i, i, (long long)w->y->d[2 + i].n, i);
    CG_IN(c);
  }
}

static void win_open_kernel(struct cg *c, const struct win *w, int inpad_only) {
  for (int i = 0; i < w->nsp; i++) {
    cg_line(c, "for (int64_t k%d = 0; k%d < %lld; k%d++) {", i, i, (long long)w->kk[i], i);
    CG_IN(c);
    cg_line(c, "const int64_t p%d = o%d * %lld - %lld + k%d * %lld;", i, i, (long long)w->st[i], (long long)w->pd[i], i, (long long)w->dl[i]);
    if (!inpad_only) cg_line(c, "if (p%d < 0 || p%d >= %lld) continue;", i, i, (long long)w->x->d[2 + i].n);
  }
}

static void win_close(struct cg *c, int n) {
  for (int i = 0; i < n; i++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
}

/* offset of the spatial position p.. (or o..) inside one [C, d...] image */
static const char *win_off(struct cg *c, const smelt_shape *s, const char *var) {
  const char *e = "0";
  int nsp = s->rank - 2;
  for (int i = 0; i < nsp; i++) {
    const char *t = cg_mul(c, smelt_sprintf(c->cx, "%s%d", var, i), cg_elems(c, s, 3 + i, s->rank));
    e = !strcmp(e, "0") ? t : smelt_sprintf(c->cx, "%s + %s", e, t);
  }
  return e;
}

int emit_conv(struct cg *c, const smelt_node *n) {
  if (smelt_attr_i(n, "wino")) return emit_conv_wino(c, n); /* weights in Winograd form: backends/c/k_wino.c */
  const smelt_value *X = cg_in(c, n, 0), *W = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  struct win w = {.nsp = X->shape.rank - 2, .x = &X->shape, .y = &Y->shape};
  smelt_attr_ints_get(n, "strides", &w.st);
  smelt_attr_ints_get(n, "pads", &w.pd);
  smelt_attr_ints_get(n, "dilations", &w.dl);
  int64_t kk[SMELT_MAX_RANK];
  for (int i = 0; i < w.nsp; i++) kk[i] = W->shape.d[2 + i].n;
  w.kk = kk;
  smelt_dtype dt = X->dt;
  int64_t grp = smelt_attr_i(n, "group"), C = X->shape.d[1].n, M = W->shape.d[0].n, Cg = C / grp, Mg = M / grp;
  const char *xim = cg_elems(c, &X->shape, 1, X->shape.rank), *yim = cg_elems(c, &Y->shape, 1, Y->shape.rank);
  const char *xch = cg_elems(c, &X->shape, 2, X->shape.rank), *ych = cg_elems(c, &Y->shape, 2, Y->shape.rank);
  const char *wm = cg_elems(c, &W->shape, 1, W->shape.rank), *wc = cg_elems(c, &W->shape, 2, W->shape.rank);
  cg_line(c, "for (int64_t nb = 0; nb < %s; nb++)", cg_dim(c, X->shape.d[0]));
  cg_line(c, "for (int64_t m = 0; m < %lld; m++) {", (long long)M);
  CG_IN(c);
  cg_line(c, "const %s *xg = x0 + nb * %s + (m / %lld) * %lld * %s;", cg_ctype(dt), xim, (long long)Mg, (long long)Cg, xch);
  cg_line(c, "const %s *wm = x1 + m * %s;", cg_ctype(dt), wm);
  cg_line(c, "%s *ym = y0 + nb * %s + m * %s;", cg_ctype(dt), yim, ych);
  win_open_out(c, &w);
  cg_line(c, "%s acc = %s;", acc_type(dt), n->nin > 2 ? cg_load(c, dt, "x2[m]") : "0");
  cg_line(c, "for (int64_t ci = 0; ci < %lld; ci++) {", (long long)Cg);
  CG_IN(c);
  cg_line(c, "const %s *xc = xg + ci * %s, *wc = wm + ci * %s;", cg_ctype(dt), xch, wc);
  win_open_kernel(c, &w, 0);
  smelt_shape ks = W->shape;
  cg_line(c, "%s", mac(c, dt, "acc", cg_load(c, dt, smelt_sprintf(c->cx, "xc[%s]", win_off(c, &X->shape, "p"))),
                        cg_load(c, dt, smelt_sprintf(c->cx, "wc[%s]", win_off(c, &ks, "k")))));
  win_close(c, w.nsp);
  CG_OUT(c);
  cg_line(c, "}");
  cg_line(c, "ym[%s] = %s;", win_off(c, &Y->shape, "o"), cg_store(c, dt, "acc"));
  win_close(c, w.nsp);
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}

int emit_pool(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  struct win w = {.nsp = X->shape.rank - 2, .x = &X->shape, .y = &Y->shape};
  smelt_attr_ints_get(n, "kernel", &w.kk);
  smelt_attr_ints_get(n, "strides", &w.st);
  smelt_attr_ints_get(n, "pads", &w.pd);
  smelt_attr_ints_get(n, "dilations", &w.dl);
  smelt_dtype dt = X->dt;
  int ismax = n->op == SMELT_OP_MAX_POOL, incl = !ismax && smelt_attr_i(n, "count_include_pad");
  int isf = smelt_dtype_is_float(dt), ind = ismax && n->nout > 1 && n->out[1] >= 0; /* MaxPool's indices */
  const char *xch = cg_elems(c, &X->shape, 2, X->shape.rank), *ych = cg_elems(c, &Y->shape, 2, Y->shape.rank);
  cg_line(c, "for (int64_t nc = 0; nc < %s; nc++) {", cg_mul(c, cg_dim(c, X->shape.d[0]), cg_dim(c, X->shape.d[1])));
  CG_IN(c);
  cg_line(c, "const %s *xc = x0 + nc * %s;", cg_ctype(dt), xch);
  cg_line(c, "%s *yc = y0 + nc * %s;", cg_ctype(dt), ych);
  if (ind) cg_line(c, "int64_t *ic = y1 + nc * %s;", ych);
  win_open_out(c, &w);
  const char *T = isf ? "double" : acc_type(dt);
  cg_line(c, "%s acc = %s;", T, ismax ? (isf ? "-INFINITY" : ((smelt_dtype_flags(dt) & DTF_SIGNED) ? "INT64_MIN" : "0")) : "0");
  cg_line(c, "int64_t cnt = 0;");
  if (ind) cg_line(c, "int64_t am = -1;");
  win_open_kernel(c, &w, incl);
  if (incl) {
    /* count positions inside input + pads; read only those inside the input */
    const char *cond = "1";
    for (int i = 0; i < w.nsp; i++)
      cond = smelt_sprintf(c->cx, "%s && p%d >= -%lld && p%d < %lld", cond, i, (long long)w.pd[i], i, (long long)(X->shape.d[2 + i].n + w.pd[w.nsp + i]));
    cg_line(c, "if (!(%s)) continue;", cond);
    cg_line(c, "cnt++;");
    const char *in = "1";
    for (int i = 0; i < w.nsp; i++) in = smelt_sprintf(c->cx, "%s && p%d >= 0 && p%d < %lld", in, i, i, (long long)X->shape.d[2 + i].n);
    cg_line(c, "if (%s) acc += %s;", in, cg_load(c, dt, smelt_sprintf(c->cx, "xc[%s]", win_off(c, &X->shape, "p"))));
  } else {
    cg_line(c, "const %s v = %s;", T, cg_load(c, dt, smelt_sprintf(c->cx, "xc[%s]", win_off(c, &X->shape, "p"))));
    cg_line(c, "cnt++;");
    if (ind) {
      /* flat index in X: row-major, or spatial dims column-major with storage_order 1 */
      const char *at = win_off(c, &X->shape, "p");
      if (smelt_attr_i(n, "storage_order")) {
        at = "0";
        for (int i = 0; i < w.nsp; i++)
          at = smelt_sprintf(c->cx, "%s + %s", at, cg_mul(c, smelt_sprintf(c->cx, "p%d", i), cg_elems(c, &X->shape, 2, 2 + i)));
      }
      cg_line(c, "const int64_t at = nc * %s + %s;", xch, at);
      cg_line(c, "if (am < 0) am = at;");
      cg_line(c, isf ? "if (v > acc || (v != v && acc == acc)) { acc = v; am = at; }" : "if (v > acc) { acc = v; am = at; }");
    } else if (ismax) cg_line(c, isf ? "if (v > acc || v != v) acc = v;" : "if (v > acc) acc = v;");
    else cg_line(c, "acc += v;");
  }
  win_close(c, w.nsp);
  cg_line(c, "yc[%s] = %s;", win_off(c, &Y->shape, "o"), cg_store(c, dt, ismax ? "acc" : "acc / (double)(cnt ? cnt : 1)"));
  if (ind) cg_line(c, "ic[%s] = am;", win_off(c, &Y->shape, "o"));
  win_close(c, w.nsp);
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}

/* Reductions: loops over kept axes (the output, in order), then over reduced axes,
 * accumulating with the SM_RED(init, acc, fin) formula of ops.def. */
int emit_reduce(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  const smelt_shape *s = &X->shape;
  const int64_t *axes;
  int na = smelt_attr_ints_get(n, "axes", &axes), r = s->rank;
  int red[SMELT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + r : axes[i]] = 1;
  if (!na)
    for (int i = 0; i < r; i++) red[i] = 1;
  smelt_dtype dt = X->dt;
  int isf = smelt_dtype_is_float(dt);
  smelt_dtype at = isf ? SMELT_DT_F64 : (smelt_dtype_flags(dt) & DTF_SIGNED) ? SMELT_DT_I64 : SMELT_DT_U64;
  const struct smelt_opinfo *oi = smelt_op_info(n->op);
  const char *fx = isf ? oi->fexpr : oi->iexpr;
  /* kept and reduced nests over the input's strides */
  struct nest kn = {.var = "i", .nops = 2}, rn = {.var = "r", .nops = 2};
  const char *cnt = "1";
  for (int k = 0; k < r; k++) {
    const char *st = cg_elems(c, s, k + 1, r);
    struct nest *t = red[k] ? &rn : &kn;
    t->dim[t->q] = cg_dim(c, s->d[k]);
    t->st[1][t->q] = st;
    t->q++;
    if (red[k]) cnt = cg_mul(c, cnt, cg_dim(c, s->d[k]));
  }
  /* output strides: contiguous over kept axes; the reduced nest does not move it */
  for (int k = 0; k < kn.q; k++) {
    const char *st = "1";
    for (int j = k + 1; j < kn.q; j++) st = cg_mul(c, st, kn.dim[j]);
    kn.st[0][k] = st;
  }
  for (int k = 0; k < rn.q; k++) rn.st[0][k] = "0";
  nest_simplify(c, &kn);
  nest_simplify(c, &rn);
  cg_line(c, "typedef %s T;", cg_ctype(at));
  cg_line(c, "typedef %s U;", isf ? "T" : "uint64_t");
  cg_line(c, "const int64_t n = %s;", cnt);
  const char *ko[NEST_MAXOPS], *ro[NEST_MAXOPS];
  nest_open(c, &kn, ko);
  cg_line(c, "T a = %s;", cg_formula(c, n, fx, 0, at));
  nest_open(c, &rn, ro);
  cg_line(c, "const T x = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "x0[%s + %s]", ko[1], ro[1])));
  cg_line(c, "a = %s;", cg_formula(c, n, fx, 1, at));
  nest_close(c, &rn);
  cg_line(c, "y0[%s] = %s;", ko[0], cg_store(c, Y->dt, cg_formula(c, n, fx, 2, at)));
  nest_close(c, &kn);
  return 0;
}

int emit_argreduce(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  int r = X->shape.rank, ax = (int)smelt_attr_i(n, "axis"), last = (int)smelt_attr_i(n, "select_last_index");
  if (ax < 0) ax += r;
  smelt_dtype dt = X->dt;
  const struct smelt_opinfo *oi = smelt_op_info(n->op);
  const char *pred = cg_formula(c, n, smelt_dtype_is_float(dt) ? oi->fexpr : oi->iexpr, -1, dt);
  const char *outer = cg_elems(c, &X->shape, 0, ax), *D = cg_dim(c, X->shape.d[ax]), *inner = cg_elems(c, &X->shape, ax + 1, r);
  cg_line(c, "typedef %s T;", cg_comptype(dt));
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t i = 0; i < %s; i++) {", inner);
  cg_line(c, "    const %s *xp = x0 + o * %s + i;", cg_ctype(dt), cg_mul(c, D, inner));
  cg_line(c, "    int64_t best = 0;");
  cg_line(c, "    T b = %s;", cg_load(c, dt, "xp[0]"));
  cg_line(c, "    for (int64_t d = 1; d < %s; d++) {", D);
  cg_line(c, "      const T x = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "xp[d * %s]", inner)));
  cg_line(c, "      if (%s%s) { best = d; b = x; }", pred, last ? " || x == b" : "");
  cg_line(c, "    }");
  cg_line(c, "    y0[o * %s + i] = best;", inner);
  cg_line(c, "  }");
  return 0;
}

int emit_softmax(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  int r = X->shape.rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  smelt_dtype dt = X->dt;
  const char *e = cg_formula(c, n, smelt_op_info(n->op)->fexpr, -1, dt);
  const char *outer = cg_elems(c, &X->shape, 0, ax), *D = cg_dim(c, X->shape.d[ax]), *inner = cg_elems(c, &X->shape, ax + 1, r);
  cg_line(c, "typedef %s T;", cg_comptype(dt));
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t i = 0; i < %s; i++) {", inner);
  cg_line(c, "    const int64_t base = o * %s + i;", cg_mul(c, D, inner));
  cg_line(c, "    T m = -INFINITY;");
  cg_line(c, "    double s = 0;");
  cg_line(c, "    for (int64_t d = 0; d < %s; d++) { const T x = %s; if (x > m) m = x; }", D, cg_load(c, dt, smelt_sprintf(c->cx, "x0[base + d * %s]", inner)));
  cg_line(c, "    for (int64_t d = 0; d < %s; d++) s += exp(%s - m);", D, cg_load(c, dt, smelt_sprintf(c->cx, "x0[base + d * %s]", inner)));
  cg_line(c, "    for (int64_t d = 0; d < %s; d++) {", D);
  cg_line(c, "      const T x = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "x0[base + d * %s]", inner)));
  cg_line(c, "      y0[base + d * %s] = %s;", inner, cg_store(c, dt, e));
  cg_line(c, "    }");
  cg_line(c, "  }");
  return 0;
}
