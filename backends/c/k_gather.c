/* backends/c/k_gather.c — C kernels for index-driven ops: GatherElements,
 * ScatterElements, GatherND, ScatterND, Trilu, CumSum, OneHot, TopK and
 * ReverseSequence.
 *
 * Every index read from a tensor is wrapped once when negative and checked
 * against its dim; an index out of range returns SMELT_E_INDEX before anything is
 * read or written through it.  Scatters copy the input to the output, then apply
 * the updates in index order (a reduction reads back what earlier updates wrote).
 * TopK sorts by insertion into its own output row, so it needs no scratch memory. */
#include "cgen.h"

#include <string.h>

/* The lines that load index `src` into `var`, wrap it against dim d and check it. */
static void index_check(struct cg *c, const char *var, const char *src, const char *d) {
  cg_line(c, "int64_t %s = (int64_t)%s;", var, src);
  cg_line(c, "if (%s < 0) %s += %s;", var, var, d);
  cg_line(c, "if (%s < 0 || %s >= %s) return SMELT_E_INDEX;", var, var, d);
}

/* "dst = dst (op) src" for a scatter reduction, as one C statement */
static void scatter_store(struct cg *c, const smelt_node *n, smelt_dtype dt, const char *dst, const char *src) {
  const char *red = smelt_attr_s(n, "reduction");
  if (!strcmp(red, "none")) {
    cg_line(c, "%s = %s;", dst, src);
    return;
  }
  const char *a = cg_load(c, dt, dst), *b = cg_load(c, dt, src), *e;
  int fl = smelt_dtype_is_float(dt);
  if (!strcmp(red, "add")) e = fl ? smelt_sprintf(c->cx, "%s + %s", a, b) : smelt_sprintf(c->cx, "(uint64_t)%s + (uint64_t)%s", a, b);
  else if (!strcmp(red, "mul")) e = fl ? smelt_sprintf(c->cx, "%s * %s", a, b) : smelt_sprintf(c->cx, "(uint64_t)%s * (uint64_t)%s", a, b);
  else if (!strcmp(red, "min")) e = smelt_sprintf(c->cx, "%s < %s ? %s : %s", b, a, b, a);
  else e = smelt_sprintf(c->cx, "%s > %s ? %s : %s", b, a, b, a);
  cg_line(c, "%s = %s;", dst, cg_store(c, dt, e));
}

/* ---- GatherElements / ScatterElements ------------------------------------------------------ */
/* A loop nest over the indices' shape: operand 0 the indices (and the gather's output),
 * operand 1 the input's strides with 0 on the axis (the index supplies that term). */
static void elements_nest(struct cg *c, const smelt_node *n, struct nest *ns, int *ax) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape, *is = &cg_in(c, n, 1)->shape;
  int r = xs->rank;
  *ax = (int)smelt_attr_i(n, "axis");
  if (*ax < 0) *ax += r;
  nest_init(c, ns, is, "i");
  ns->nops = 2;
  for (int k = 0; k < r; k++) ns->st[1][k] = k == *ax ? "0" : cg_elems(c, xs, k + 1, r);
  nest_simplify(c, ns);
}

int emit_gather_elements(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape;
  struct nest ns;
  int ax;
  elements_nest(c, n, &ns, &ax);
  const char *off[NEST_MAXOPS];
  nest_open(c, &ns, off);
  index_check(c, "ix", smelt_sprintf(c->cx, "x1[%s]", off[0]), cg_dim(c, xs->d[ax]));
  cg_line(c, "y0[%s] = x0[%s + %s];", off[0], off[1], cg_mul(c, "ix", cg_elems(c, xs, ax + 1, xs->rank)));
  nest_close(c, &ns);
  return 0;
}

int emit_scatter_elements(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const smelt_shape *xs = &X->shape;
  cg_line(c, "memcpy(y0, x0, (size_t)(%s) * sizeof(*y0));", cg_elems(c, xs, 0, xs->rank));
  struct nest ns;
  int ax;
  elements_nest(c, n, &ns, &ax);
  const char *off[NEST_MAXOPS];
  nest_open(c, &ns, off);
  index_check(c, "ix", smelt_sprintf(c->cx, "x1[%s]", off[0]), cg_dim(c, xs->d[ax]));
  cg_line(c, "const int64_t at = %s + %s;", off[1], cg_mul(c, "ix", cg_elems(c, xs, ax + 1, xs->rank)));
  scatter_store(c, n, X->dt, "y0[at]", smelt_sprintf(c->cx, "x2[%s]", off[0]));
  nest_close(c, &ns);
  return 0;
}

/* ---- GatherND / ScatterND --------------------------------------------------------------------- */
/* Lines computing `off`, the input offset of the index tuple at x1[t0 .. t0+m) over the
 * input's dims first .. first+m-1 (m is a compile-time constant, so the loop unrolls). */
static void tuple_offset(struct cg *c, const smelt_shape *xs, int first, int64_t m, const char *base) {
  cg_line(c, "int64_t off = %s;", base);
  for (int64_t t = 0; t < m; t++) {
    int a = first + (int)t;
    cg_line(c, "{");
    CG_IN(c);
    index_check(c, "ix", smelt_sprintf(c->cx, "x1[t0 + %lld]", (long long)t), cg_dim(c, xs->d[a]));
    cg_line(c, "off += %s;", cg_mul(c, "ix", cg_elems(c, xs, a + 1, xs->rank)));
    CG_OUT(c);
    cg_line(c, "}");
  }
}

int emit_gather_nd(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape, *is = &cg_in(c, n, 1)->shape;
  int b = (int)smelt_attr_i(n, "batch_dims"), q = is->rank, r = xs->rank;
  int64_t m = is->d[q - 1].n;
  const char *B = cg_elems(c, xs, 0, b), *N = cg_elems(c, is, b, q - 1), *inner = cg_elems(c, xs, b + (int)m, r);
  cg_line(c, "for (int64_t bb = 0; bb < %s; bb++)", B);
  cg_line(c, "  for (int64_t j = 0; j < %s; j++) {", N);
  CG_IN(c);
  CG_IN(c);
  const char *tup = smelt_sprintf(c->cx, "(bb * %s + j)", N);
  cg_line(c, "const int64_t t0 = %s * %lld;", tup, (long long)m);
  tuple_offset(c, xs, b, m, cg_mul(c, "bb", cg_elems(c, xs, b, r)));
  if (!strcmp(inner, "1")) cg_line(c, "y0[%s] = x0[off];", tup);
  else cg_line(c, "memcpy(y0 + %s * %s, x0 + off, (size_t)(%s) * sizeof(*y0));", tup, inner, inner);
  CG_OUT(c);
  CG_OUT(c);
  cg_line(c, "  }");
  return 0;
}

int emit_scatter_nd(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const smelt_shape *xs = &X->shape, *is = &cg_in(c, n, 1)->shape;
  int q = is->rank, r = xs->rank;
  int64_t m = is->d[q - 1].n;
  const char *N = cg_elems(c, is, 0, q - 1), *inner = cg_elems(c, xs, (int)m, r);
  cg_line(c, "memcpy(y0, x0, (size_t)(%s) * sizeof(*y0));", cg_elems(c, xs, 0, r));
  cg_line(c, "for (int64_t j = 0; j < %s; j++) {", N);
  CG_IN(c);
  cg_line(c, "const int64_t t0 = j * %lld;", (long long)m);
  tuple_offset(c, xs, 0, m, "0");
  if (!strcmp(inner, "1")) {
    scatter_store(c, n, X->dt, "y0[off]", "x2[j]");
  } else {
    cg_line(c, "for (int64_t k = 0; k < %s; k++)", inner);
    CG_IN(c);
    scatter_store(c, n, X->dt, "y0[off + k]", smelt_sprintf(c->cx, "x2[j * %s + k]", inner));
    CG_OUT(c);
  }
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}

/* ---- Trilu, CumSum -------------------------------------------------------------------------------- */
int emit_trilu(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const smelt_shape *xs = &X->shape;
  int r = xs->rank;
  const char *R = cg_dim(c, xs->d[r - 2]), *C = cg_dim(c, xs->d[r - 1]);
  cg_line(c, "for (int64_t b = 0; b < %s; b++)", cg_elems(c, xs, 0, r - 2));
  cg_line(c, "  for (int64_t i = 0; i < %s; i++)", R);
  cg_line(c, "    for (int64_t j = 0; j < %s; j++) {", C);
  cg_line(c, "      const int64_t p = (b * %s + i) * %s + j;", R, C);
  cg_line(c, "      y0[p] = j - i %s %lld ? x0[p] : (%s)0;", smelt_attr_i(n, "upper") ? ">=" : "<=", (long long)smelt_attr_i(n, "k"), cg_ctype(X->dt));
  cg_line(c, "    }");
  return 0;
}

int emit_cumsum(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const smelt_shape *xs = &X->shape;
  int r = xs->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int excl = (int)smelt_attr_i(n, "exclusive"), rev = (int)smelt_attr_i(n, "reverse");
  const char *outer = cg_elems(c, xs, 0, ax), *D = cg_dim(c, xs->d[ax]), *inner = cg_elems(c, xs, ax + 1, r);
  const char *acc_t = smelt_dtype_is_float(X->dt) ? "double" : "uint64_t";
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t i = 0; i < %s; i++) {", inner);
  cg_line(c, "    %s acc = 0;", acc_t);
  cg_line(c, "    for (int64_t s = 0; s < %s; s++) {", D);
  cg_line(c, "      const int64_t p = (o * %s + %s) * %s + i;", D, rev ? smelt_sprintf(c->cx, "(%s - 1 - s)", D) : "s", inner);
  const char *add = smelt_sprintf(c->cx, "acc += (%s)%s;", acc_t, cg_load(c, X->dt, "x0[p]"));
  if (!excl) cg_line(c, "      %s", add);
  cg_line(c, "      y0[p] = %s;", cg_store(c, X->dt, "acc"));
  if (excl) cg_line(c, "      %s", add);
  cg_line(c, "    }");
  cg_line(c, "  }");
  return 0;
}

/* ---- OneHot, TopK, ReverseSequence ------------------------------------------------------------------ */
int emit_one_hot(struct cg *c, const smelt_node *n) {
  const smelt_shape *is = &cg_in(c, n, 0)->shape;
  int ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += is->rank + 1;
  long long depth = (long long)smelt_attr_i(n, "depth");
  const char *outer = cg_elems(c, is, 0, ax), *inner = cg_elems(c, is, ax, is->rank);
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t i = 0; i < %s; i++) {", inner);
  cg_line(c, "    int64_t ix = (int64_t)x0[o * %s + i];", inner);
  cg_line(c, "    if (ix < 0) ix += %lld; /* out of range: all off */", depth);
  cg_line(c, "    for (int64_t d = 0; d < %lld; d++) y0[(o * %lld + d) * %s + i] = d == ix ? x1[1] : x1[0];", depth, depth, inner);
  cg_line(c, "  }");
  return 0;
}

/* "a comes before b": larger (or smaller) first; NaN counts as the largest value */
static const char *before(struct cg *c, smelt_dtype dt, int largest, const char *a, const char *b) {
  if (!smelt_dtype_is_float(dt)) return smelt_sprintf(c->cx, "(%s %s %s)", a, largest ? ">" : "<", b);
  if (largest) return smelt_sprintf(c->cx, "(%s > %s || (%s != %s && %s == %s))", a, b, a, a, b, b);
  return smelt_sprintf(c->cx, "(%s < %s || (%s == %s && %s != %s))", a, b, a, a, b, b);
}

int emit_top_k(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const smelt_shape *xs = &X->shape;
  int r = xs->rank, ax = (int)smelt_attr_i(n, "axis"), largest = (int)smelt_attr_i(n, "largest");
  if (ax < 0) ax += r;
  long long K = (long long)smelt_attr_i(n, "k");
  if (K == 0) return 0;
  smelt_dtype dt = X->dt;
  const char *outer = cg_elems(c, xs, 0, ax), *D = cg_dim(c, xs->d[ax]), *inner = cg_elems(c, xs, ax + 1, r);
  cg_line(c, "typedef %s T;", cg_comptype(dt));
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t i = 0; i < %s; i++) {", inner);
  CG_IN(c);
  CG_IN(c);
  cg_line(c, "const %s *xp = x0 + o * %s + i;", cg_ctype(dt), cg_mul(c, D, inner));
  cg_line(c, "%s *vp = y0 + o * %s + i;", cg_ctype(dt), cg_mul(c, smelt_sprintf(c->cx, "%lld", K), inner));
  cg_line(c, "int64_t *ip = y1 + o * %s + i, cnt = 0;", cg_mul(c, smelt_sprintf(c->cx, "%lld", K), inner));
  cg_line(c, "for (int64_t d = 0; d < %s; d++) {", D);
  CG_IN(c);
  cg_line(c, "const T x = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "xp[%s]", cg_mul(c, "d", inner))));
  cg_line(c, "int64_t p = cnt;");
  cg_line(c, "if (cnt == %lld) {", K);
  cg_line(c, "  const T b = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "vp[%s]", cg_mul(c, smelt_sprintf(c->cx, "%lld", K - 1), inner))));
  cg_line(c, "  if (!%s) continue;", before(c, dt, largest, "x", "b"));
  cg_line(c, "  p = %lld;", K - 1);
  cg_line(c, "} else cnt++;");
  cg_line(c, "for (; p > 0; p--) {");
  cg_line(c, "  const T b = %s;", cg_load(c, dt, smelt_sprintf(c->cx, "vp[%s]", cg_mul(c, "(p - 1)", inner))));
  cg_line(c, "  if (!%s) break;", before(c, dt, largest, "x", "b"));
  cg_line(c, "  vp[%s] = vp[%s];", cg_mul(c, "p", inner), cg_mul(c, "(p - 1)", inner));
  cg_line(c, "  ip[%s] = ip[%s];", cg_mul(c, "p", inner), cg_mul(c, "(p - 1)", inner));
  cg_line(c, "}");
  cg_line(c, "vp[%s] = xp[%s];", cg_mul(c, "p", inner), cg_mul(c, "d", inner));
  cg_line(c, "ip[%s] = d;", cg_mul(c, "p", inner));
  CG_OUT(c);
  cg_line(c, "}");
  CG_OUT(c);
  CG_OUT(c);
  cg_line(c, "  }");
  return 0;
}

int emit_reverse_sequence(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape;
  int ba = (int)smelt_attr_i(n, "batch_axis"), ta = (int)smelt_attr_i(n, "time_axis");
  const char *d0 = cg_dim(c, xs->d[0]), *d1 = cg_dim(c, xs->d[1]), *T = cg_dim(c, xs->d[ta]);
  const char *inner = cg_elems(c, xs, 2, xs->rank);
  cg_line(c, "for (int64_t b = 0; b < %s; b++)", cg_dim(c, xs->d[ba]));
  cg_line(c, "  if (x1[b] < 0 || x1[b] > %s) return SMELT_E_INDEX;", T);
  cg_line(c, "for (int64_t i0 = 0; i0 < %s; i0++)", d0);
  cg_line(c, "  for (int64_t i1 = 0; i1 < %s; i1++) {", d1);
  cg_line(c, "    const int64_t len = (int64_t)x1[i%d], t = i%d;", ba, ta);
  cg_line(c, "    const int64_t st = t < len ? len - 1 - t : t;");
  const char *src = ta == 0 ? smelt_sprintf(c->cx, "(st * %s + i1)", d1) : smelt_sprintf(c->cx, "(i0 * %s + st)", d1);
  const char *dst = smelt_sprintf(c->cx, "(i0 * %s + i1)", d1);
  if (!strcmp(inner, "1")) cg_line(c, "    y0[%s] = x0[%s];", dst, src);
  else cg_line(c, "    memcpy(y0 + %s * %s, x0 + %s * %s, (size_t)(%s) * sizeof(*y0));", dst, inner, src, inner, inner);
  cg_line(c, "  }");
  return 0;
}
