/* backends/c/k_nn2.c — C kernels for resize, transposed convolution, max unpooling
 * and determinants.
 *
 * Resize and ConvTranspose are specialized at compile time into per-axis tables
 * (static const arrays inside the kernel): for resize, the input indices and
 * weights of every output index (ir/nn2.h); for the transposed convolution, the
 * input range each kernel position scatters into the output (f32/f64), or the
 * (input, kernel) pairs that reach each output position (half types, which gather
 * to round once), so no stride or bounds test runs in the loops. */
#include "cgen.h"
#include "ir/nn2.h"

#include <stdlib.h>
#include <string.h>

/* float literal of the computation type */
static const char *flit(struct cg *c, double v, int dbl) {
  if (dbl || v != v || v - v != 0) return cg_double(c, v); /* INFINITY / NAN are float already */
  return smelt_sprintf(c->cx, "%s%sf", v < 0 ? "-" : "", cg_double(c, v < 0 ? -v : v));
}

/* static const TYPE NAME[n] = {...}, 16 values a line */
static void table(struct cg *c, const char *type, const char *name, const int64_t *iv, const double *fv, int dbl, int64_t n) {
  cg_line(c, "static const %s %s[%lld] = {", type, name, (long long)(n ? n : 1));
  CG_IN(c);
  for (int64_t i = 0; i < n; i += 16) {
    struct sbuf b = {0};
    for (int64_t j = i; j < n && j < i + 16; j++)
      sb_printf(&b, "%s%s", iv ? smelt_sprintf(c->cx, "%lld", (long long)iv[j]) : flit(c, fv[j], dbl), j + 1 < n ? "," : "");
    cg_line(c, "%s", b.p ? b.p : "");
    sb_free(&b);
  }
  if (!n) cg_line(c, "0");
  CG_OUT(c);
  cg_line(c, "};");
}

static const char *index_type(int64_t maxv) { return maxv <= 2147483647 ? "int32_t" : "int64_t"; }

/* ---- resize ------------------------------------------------------------------------------ */
/* a double rounded half to even and saturated to integer type dt, like the interpreter */
static const char *int_round(struct cg *c, smelt_dtype dt, const char *e) {
  static const struct { smelt_dtype dt; const char *lo, *hi; } lim[] = {
      {SMELT_DT_I8, "INT8_MIN", "INT8_MAX"}, {SMELT_DT_I16, "INT16_MIN", "INT16_MAX"}, {SMELT_DT_I32, "INT32_MIN", "INT32_MAX"},
      {SMELT_DT_I64, "INT64_MIN", "INT64_MAX"}, {SMELT_DT_U8, "0", "UINT8_MAX"}, {SMELT_DT_U16, "0", "UINT16_MAX"},
      {SMELT_DT_U32, "0", "UINT32_MAX"}, {SMELT_DT_U64, "0", "UINT64_MAX"}};
  for (unsigned i = 0; i < sizeof lim / sizeof *lim; i++)
    if (lim[i].dt == dt)
      return (smelt_dtype_flags(dt) & DTF_SIGNED) ? smelt_sprintf(c->cx, "(%s)sm_sat_s(nearbyint(%s), %s, %s)", cg_ctype(dt), e, lim[i].lo, lim[i].hi)
                                                  : smelt_sprintf(c->cx, "(%s)sm_sat_u(nearbyint(%s), %s)", cg_ctype(dt), e, lim[i].hi);
  return e;
}

/* Axis a is copied through when every output index reads exactly input index o. */
static int taps_identity(int64_t in, int64_t out, int T, const int64_t *idx, const double *w, const unsigned char *ext) {
  if (in != out) return 0;
  for (int64_t o = 0; o < out; o++) {
    double on = 0;
    if (ext[o]) return 0;
    for (int t = 0; t < T; t++) {
      if (w[o * T + t] == 0) continue;
      if (idx[o * T + t] != o) return 0;
      on += w[o * T + t];
    }
    if (on != 1) return 0;
  }
  return 1;
}

int emit_resize(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  const smelt_shape *xs = &X->shape, *ys = &Y->shape;
  int r = xs->rank, T[SMELT_MAX_RANK], anyext = 0, multi = 0;
  smelt_dtype dt = X->dt;
  int isf = smelt_dtype_is_float(dt), dbl = dt == SMELT_DT_F64 || !isf;
  const char *W = isf ? cg_comptype(dt) : "double"; /* integers interpolate in double */
  const int64_t *sizes;
  smelt_attr_ints_get(n, "sizes", &sizes);
  /* kind of each axis: 0 copied through, 1 one tap (nearest), 2 several taps */
  int kind[SMELT_MAX_RANK];
  for (int a = 0; a < r; a++) {
    T[a] = 1;
    kind[a] = 0;
    if (sizes[a] == -1) continue;
    int64_t in = xs->d[a].n, out = ys->d[a].n, m = out ? out : 1;
    int64_t *idx = smelt_alloc(c->cx, sizeof(int64_t) * SMELT_RESIZE_MAXTAPS * m);
    double *w = smelt_alloc(c->cx, sizeof(double) * SMELT_RESIZE_MAXTAPS * m);
    unsigned char *ext = smelt_alloc(c->cx, (size_t)m);
    if (!idx || !w || !ext) return SMELT_ERR;
    int t = smelt_resize_taps(n, a, in, out, idx, w, ext);
    if (taps_identity(in, out, t, idx, w, ext)) continue;
    T[a] = t;
    kind[a] = t == 1 ? 1 : 2;
    multi |= t > 1;
    table(c, index_type(in), smelt_sprintf(c->cx, "r%d", a), idx, NULL, 0, out * t);
    if (t > 1) table(c, W, smelt_sprintf(c->cx, "w%d", a), NULL, w, dbl, out * t);
    int has = 0;
    for (int64_t o = 0; o < out; o++) has |= ext[o];
    if (has) {
      int64_t *e = smelt_alloc(c->cx, sizeof(int64_t) * m);
      if (!e) return SMELT_ERR;
      for (int64_t o = 0; o < out; o++) e[o] = ext[o];
      table(c, "unsigned char", smelt_sprintf(c->cx, "e%d", a), e, NULL, 0, out);
      anyext = 1;
    }
    if (has) kind[a] |= 4;
  }
  for (int a = 0; a < r; a++)
    if (smelt_dim_is(ys->d[a], 0)) return 0; /* empty output */
  /* loops over the output in order; q<a> is the input offset of the axes so far */
  cg_line(c, "int64_t yo = 0;");
  const char *q = "0";
  for (int a = 0; a < r; a++) {
    cg_line(c, "for (int64_t o%d = 0; o%d < %s; o%d++) {", a, a, cg_dim(c, ys->d[a]), a);
    CG_IN(c);
    const char *st = cg_elems(c, xs, a + 1, r), *term = NULL;
    if ((kind[a] & 3) == 0) term = cg_mul(c, smelt_sprintf(c->cx, "o%d", a), st);
    else if ((kind[a] & 3) == 1) term = cg_mul(c, smelt_sprintf(c->cx, "(int64_t)r%d[o%d]", a, a), st);
    if (term) {
      cg_line(c, "const int64_t q%d = %s + %s;", a, q, term);
      q = smelt_sprintf(c->cx, "q%d", a);
    }
  }
  if (anyext) {
    const char *cond = NULL;
    for (int a = 0; a < r; a++)
      if (kind[a] & 4) cond = cond ? smelt_sprintf(c->cx, "%s || e%d[o%d]", cond, a, a) : smelt_sprintf(c->cx, "e%d[o%d]", a, a);
    double ev = smelt_attr_f(n, "extrapolation_value");
    cg_line(c, "if (%s) { y0[yo++] = %s; continue; }", cond, cg_store(c, dt, isf ? cg_double(c, ev) : smelt_sprintf(c->cx, "%lld", (long long)ev)));
  }
  if (!multi) cg_line(c, "y0[yo++] = x0[%s];", q);
  else {
    cg_line(c, "%s acc = 0;", W);
    int opened = 0;
    const char *wexpr = NULL;
    for (int a = 0; a < r; a++) {
      if ((kind[a] & 3) != 2) continue;
      cg_line(c, "for (int t%d = 0; t%d < %d; t%d++) {", a, a, T[a], a);
      CG_IN(c);
      opened++;
      const char *st = cg_elems(c, xs, a + 1, r);
      cg_line(c, "const int64_t q%d = %s + %s;", a, q, cg_mul(c, smelt_sprintf(c->cx, "(int64_t)r%d[o%d * %d + t%d]", a, a, T[a], a), st));
      q = smelt_sprintf(c->cx, "q%d", a);
      const char *wa = smelt_sprintf(c->cx, "w%d[o%d * %d + t%d]", a, a, T[a], a);
      wexpr = wexpr ? smelt_sprintf(c->cx, "%s * %s", wexpr, wa) : wa;
    }
    cg_line(c, "acc += %s * %s;", wexpr, cg_load(c, dt, smelt_sprintf(c->cx, "x0[%s]", q)));
    for (int k = 0; k < opened; k++) {
      CG_OUT(c);
      cg_line(c, "}");
    }
    cg_line(c, "y0[yo++] = %s;", isf ? cg_store(c, dt, "acc") : int_round(c, dt, "acc"));
  }
  for (int a = 0; a < r; a++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
  return 0;
}

/* ---- transposed convolution -------------------------------------------------------------- */
/* f32 / f64: scatter.  For each input channel and kernel position, the input plane is
 * added (times the weight) into the output positions it reaches, a strided axpy
 * over the rows of the plane; lo<a>[k]..hi<a>[k] bound the input positions whose
 * output lies inside along axis a, so no test runs in the loops. */
static void convt_scatter(struct cg *c, const smelt_node *n, const int64_t *st, const int64_t *pd, const int64_t *dl) {
  const smelt_value *X = cg_in(c, n, 0), *Wv = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  const smelt_shape *xs = &X->shape, *ws = &Wv->shape, *ys = &Y->shape;
  int nsp = xs->rank - 2;
  smelt_dtype dt = X->dt;
  for (int a = 0; a < nsp; a++) {
    int64_t in = xs->d[2 + a].n, k = ws->d[2 + a].n, out = ys->d[2 + a].n;
    int64_t *lo = smelt_alloc(c->cx, sizeof(int64_t) * k), *hi = smelt_alloc(c->cx, sizeof(int64_t) * k);
    if (!lo || !hi) return;
    for (int64_t kk = 0; kk < k; kk++) {
      int64_t off = kk * dl[a] - pd[a]; /* output = i * stride + off */
      int64_t l = off >= 0 ? 0 : (-off + st[a] - 1) / st[a], h = out - off <= 0 ? 0 : (out - off + st[a] - 1) / st[a];
      lo[kk] = l < in ? l : in;
      hi[kk] = h < in ? h : in;
      if (hi[kk] < lo[kk]) hi[kk] = lo[kk];
    }
    table(c, index_type(in), smelt_sprintf(c->cx, "lo%d", a), lo, NULL, 0, k);
    table(c, index_type(in), smelt_sprintf(c->cx, "hi%d", a), hi, NULL, 0, k);
  }
  int64_t grp = smelt_attr_i(n, "group"), C = xs->d[1].n, M = ys->d[1].n, Cg = C / grp, Mg = M / grp;
  const char *xch = cg_elems(c, xs, 2, xs->rank), *ych = cg_elems(c, ys, 2, ys->rank), *wch = cg_elems(c, ws, 2, ws->rank);
  const char *T = cg_ctype(dt);
  cg_line(c, "for (int64_t nb = 0; nb < %s; nb++)", cg_dim(c, xs->d[0]));
  cg_line(c, "for (int64_t m = 0; m < %lld; m++) {", (long long)M);
  CG_IN(c);
  cg_line(c, "const int64_t gi = m / %lld, mi = m %% %lld;", (long long)Mg, (long long)Mg);
  cg_line(c, "%s *ym = y0 + (nb * %lld + m) * %s;", T, (long long)M, ych);
  cg_line(c, "for (int64_t i = 0; i < %s; i++) ym[i] = %s;", ych, n->nin > 2 ? "x2[m]" : "0");
  cg_line(c, "for (int64_t ci = 0; ci < %lld; ci++) {", (long long)Cg);
  CG_IN(c);
  cg_line(c, "const %s *xc = x0 + (nb * %lld + gi * %lld + ci) * %s;", T, (long long)C, (long long)Cg, xch);
  cg_line(c, "const %s *wc = x1 + ((gi * %lld + ci) * %lld + mi) * %s;", T, (long long)Cg, (long long)Mg, wch);
  for (int a = 0; a < nsp; a++) {
    cg_line(c, "for (int64_t k%d = 0; k%d < %lld; k%d++) {", a, a, (long long)ws->d[2 + a].n, a);
    CG_IN(c);
  }
  const char *wk = "0";
  for (int a = 0; a < nsp; a++) wk = smelt_sprintf(c->cx, "%s + %s", wk, cg_mul(c, smelt_sprintf(c->cx, "k%d", a), cg_elems(c, ws, 3 + a, ws->rank)));
  cg_line(c, "const %s wv = wc[%s];", T, wk);
  const char *yo = "0", *xo = "0";
  for (int a = 0; a < nsp; a++) {
    cg_line(c, "for (int64_t i%d = lo%d[k%d]; i%d < hi%d[k%d]; i%d++) {", a, a, a, a, a, a, a);
    CG_IN(c);
    const char *pos = smelt_sprintf(c->cx, "(i%d * %lld + k%d * %lld - %lld)", a, (long long)st[a], a, (long long)dl[a], (long long)pd[a]);
    cg_line(c, "const int64_t yo%d = %s + %s, xo%d = %s + %s;", a, yo, cg_mul(c, pos, cg_elems(c, ys, 3 + a, ys->rank)), a, xo,
            cg_mul(c, smelt_sprintf(c->cx, "i%d", a), cg_elems(c, xs, 3 + a, xs->rank)));
    yo = smelt_sprintf(c->cx, "yo%d", a);
    xo = smelt_sprintf(c->cx, "xo%d", a);
  }
  cg_line(c, "ym[%s] += wv * xc[%s];", yo, xo);
  for (int a = 0; a < 2 * nsp + 2; a++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
}

/* other floats: gather.  Per axis, n<a>[o] (input offset, kernel offset) pairs reach
 * output o; the sum runs in float and is rounded once. */
int emit_conv_transpose(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Wv = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  const smelt_shape *xs = &X->shape, *ws = &Wv->shape, *ys = &Y->shape;
  int nsp = xs->rank - 2;
  const int64_t *st, *pd, *dl;
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  smelt_dtype dt = X->dt;
  if (dt == SMELT_DT_F32 || dt == SMELT_DT_F64) {
    convt_scatter(c, n, st, pd, dl);
    return smelt_failed(c->cx) ? SMELT_ERR : 0;
  }
  int64_t grp = smelt_attr_i(n, "group"), C = xs->d[1].n, M = ys->d[1].n, Cg = C / grp, Mg = M / grp;
  int64_t maxc[SMELT_MAX_RANK];
  for (int a = 0; a < nsp; a++) {
    int64_t in = xs->d[2 + a].n, k = ws->d[2 + a].n, out = ys->d[2 + a].n;
    int64_t xst = 1, wst = 1;
    for (int j = a + 1; j < nsp; j++) { xst *= xs->d[2 + j].n; wst *= ws->d[2 + j].n; }
    int64_t *cnt = smelt_alloc(c->cx, sizeof(int64_t) * (out ? out : 1));
    if (!cnt) return SMELT_ERR;
    maxc[a] = 1;
    for (int64_t i = 0; i < in; i++)
      for (int64_t kk = 0; kk < k; kk++) {
        int64_t o = i * st[a] - pd[a] + kk * dl[a];
        if (o >= 0 && o < out && ++cnt[o] > maxc[a]) maxc[a] = cnt[o];
      }
    int64_t *xo = smelt_alloc(c->cx, sizeof(int64_t) * out * maxc[a]), *ko = smelt_alloc(c->cx, sizeof(int64_t) * out * maxc[a]);
    if (!xo || !ko) return SMELT_ERR;
    memset(cnt, 0, sizeof(int64_t) * out);
    for (int64_t i = 0; i < in; i++)
      for (int64_t kk = 0; kk < k; kk++) {
        int64_t o = i * st[a] - pd[a] + kk * dl[a];
        if (o < 0 || o >= out) continue;
        xo[o * maxc[a] + cnt[o]] = i * xst;
        ko[o * maxc[a] + cnt[o]] = kk * wst;
        cnt[o]++;
      }
    table(c, index_type(maxc[a]), smelt_sprintf(c->cx, "n%d", a), cnt, NULL, 0, out);
    table(c, index_type(in * xst), smelt_sprintf(c->cx, "xi%d", a), xo, NULL, 0, out * maxc[a]);
    table(c, index_type(k * wst), smelt_sprintf(c->cx, "ki%d", a), ko, NULL, 0, out * maxc[a]);
  }
  const char *xch = cg_elems(c, xs, 2, xs->rank), *ych = cg_elems(c, ys, 2, ys->rank), *wch = cg_elems(c, ws, 2, ws->rank);
  cg_line(c, "for (int64_t nb = 0; nb < %s; nb++)", cg_dim(c, xs->d[0]));
  cg_line(c, "for (int64_t m = 0; m < %lld; m++) {", (long long)M);
  CG_IN(c);
  cg_line(c, "const int64_t gi = m / %lld, mi = m %% %lld;", (long long)Mg, (long long)Mg);
  cg_line(c, "const %s *xg = x0 + (nb * %lld + gi * %lld) * %s;", cg_ctype(dt), (long long)C, (long long)Cg, xch);
  cg_line(c, "const %s *wg = x1 + (gi * %lld + mi) * %s;", cg_ctype(dt), (long long)(Cg * Mg), wch);
  cg_line(c, "%s *ym = y0 + (nb * %lld + m) * %s;", cg_ctype(dt), (long long)M, ych);
  cg_line(c, "int64_t yo = 0;");
  for (int a = 0; a < nsp; a++) {
    cg_line(c, "for (int64_t o%d = 0; o%d < %lld; o%d++) {", a, a, (long long)ys->d[2 + a].n, a);
    CG_IN(c);
  }
  cg_line(c, "float acc = %s;", n->nin > 2 ? cg_load(c, dt, "x2[m]") : "0");
  cg_line(c, "for (int64_t ci = 0; ci < %lld; ci++) {", (long long)Cg);
  CG_IN(c);
  cg_line(c, "const %s *xc = xg + ci * %s, *wc = wg + ci * %s;", cg_ctype(dt), xch, cg_mul(c, smelt_sprintf(c->cx, "%lld", (long long)Mg), wch));
  const char *xe = "0", *we = "0";
  for (int a = 0; a < nsp; a++) {
    cg_line(c, "for (int64_t j%d = 0; j%d < n%d[o%d]; j%d++) {", a, a, a, a, a);
    CG_IN(c);
    cg_line(c, "const int64_t xa%d = %s + xi%d[o%d * %lld + j%d], wa%d = %s + ki%d[o%d * %lld + j%d];", a, xe, a, a, (long long)maxc[a], a, a, we, a,
            a, (long long)maxc[a], a);
    xe = smelt_sprintf(c->cx, "xa%d", a);
    we = smelt_sprintf(c->cx, "wa%d", a);
  }
  cg_line(c, "acc += %s * %s;", cg_load(c, dt, smelt_sprintf(c->cx, "xc[%s]", xe)), cg_load(c, dt, smelt_sprintf(c->cx, "wc[%s]", we)));
  for (int a = 0; a < nsp + 1; a++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
  cg_line(c, "ym[yo++] = %s;", cg_store(c, dt, "acc"));
  for (int a = 0; a < nsp + 1; a++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
  return 0;
}

/* ---- max unpooling ----------------------------------------------------------------------- */
int emit_max_unpool(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  const char *total = cg_elems(c, &Y->shape, 0, Y->shape.rank), *ne = cg_elems(c, &X->shape, 0, X->shape.rank);
  cg_line(c, "memset(y0, 0, (size_t)(%s) * sizeof(*y0));", total);
  cg_line(c, "for (int64_t j = 0; j < %s; j++) {", ne);
  cg_line(c, "  const int64_t ix = (int64_t)x1[j];");
  cg_line(c, "  if (ix < 0 || ix >= %s) return SMELT_E_INDEX;", total);
  cg_line(c, "  y0[ix] = x0[j];");
  cg_line(c, "}");
  return 0;
}

/* ---- determinant ------------------------------------------------------------------------- */
int emit_det(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  smelt_dtype dt = X->dt;
  long long k = (long long)X->shape.d[X->shape.rank - 1].n;
  cg_line(c, "for (int64_t m = 0; m < %s; m++) {", cg_elems(c, &Y->shape, 0, Y->shape.rank));
  CG_IN(c);
  cg_line(c, "double a[%lld];", k > 0 ? k * k : 1);
  cg_line(c, "for (int64_t i = 0; i < %lld; i++) a[i] = %s;", k * k, cg_load(c, dt, smelt_sprintf(c->cx, "x0[m * %lld + i]", k * k)));
  cg_line(c, "double det = 1;");
  cg_line(c, "for (int64_t col = 0; col < %lld && det != 0; col++) {", k);
  cg_line(c, "  int64_t p = col;");
  cg_line(c, "  for (int64_t i = col + 1; i < %lld; i++) if (fabs(a[i * %lld + col]) > fabs(a[p * %lld + col])) p = i;", k, k, k);
  cg_line(c, "  if (a[p * %lld + col] == 0) { det = 0; break; }", k);
  cg_line(c, "  if (p != col) {");
  cg_line(c, "    for (int64_t j = 0; j < %lld; j++) { const double t = a[col * %lld + j]; a[col * %lld + j] = a[p * %lld + j]; a[p * %lld + j] = t; }", k, k, k, k, k);
  cg_line(c, "    det = -det;");
  cg_line(c, "  }");
  cg_line(c, "  det *= a[col * %lld + col];", k);
  cg_line(c, "  for (int64_t i = col + 1; i < %lld; i++) {", k);
  cg_line(c, "    const double f = a[i * %lld + col] / a[col * %lld + col];", k, k);
  cg_line(c, "    for (int64_t j = col + 1; j < %lld; j++) a[i * %lld + j] -= f * a[col * %lld + j];", k, k, k);
  cg_line(c, "  }");
  cg_line(c, "}");
  cg_line(c, "y0[m] = %s;", cg_store(c, dt, "det"));
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}
