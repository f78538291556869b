/* backends/c/k_data.c — C kernels for data movement: copy (Reshape that could not
 * be a view), expand, transpose, concat, slice, gather and pad.  They move elements
 * without arithmetic; gather checks its indices and returns SMELT_E_INDEX, and turns
 * the rows of a block-quantized, f16 or bf16 table into f32 with the runtime's
 * dequantize_row. */
#include "cgen.h"

#include <string.h>

int emit_copy(struct cg *c, const smelt_node *n) {
  const smelt_value *Y = cg_out(c, n, 0);
  cg_line(c, "memcpy(y0, x0, (size_t)(%s) * sizeof(*y0));", cg_elems(c, &Y->shape, 0, Y->shape.rank));
  return 0;
}

/* y[...] = x[strided offset]: the loop nest already holds both operands' strides */
static void strided(struct cg *c, struct nest *ns, const char *base) {
  nest_simplify(c, ns);
  const char *off[NEST_MAXOPS];
  nest_open(c, ns, off);
  cg_line(c, "y0[%s] = x0[%s%s];", off[0], base, off[1]);
  nest_close(c, ns);
}

int emit_expand(struct cg *c, const smelt_node *n) {
  struct nest ns;
  nest_init(c, &ns, &cg_out(c, n, 0)->shape, "i");
  nest_add_bcast(c, &ns, &cg_in(c, n, 0)->shape);
  strided(c, &ns, "");
  return 0;
}

int emit_transpose(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape;
  const int64_t *perm;
  smelt_attr_ints_get(n, "perm", &perm);
  struct nest ns;
  nest_init(c, &ns, &cg_out(c, n, 0)->shape, "i");
  ns.nops = 2;
  for (int k = 0; k < ns.q; k++) ns.st[1][k] = cg_elems(c, xs, (int)perm[k] + 1, xs->rank);
  strided(c, &ns, "");
  return 0;
}

int emit_slice(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape, *ys = &cg_out(c, n, 0)->shape;
  const int64_t *st, *sp;
  smelt_attr_ints_get(n, "starts", &st);
  smelt_attr_ints_get(n, "steps", &sp);
  for (int k = 0; k < ys->rank; k++)
    if (smelt_dim_is(ys->d[k], 0)) return 0; /* empty result */
  struct nest ns;
  nest_init(c, &ns, ys, "i");
  ns.nops = 2;
  const char *base = "";
  for (int k = 0; k < ns.q; k++) {
    const char *stride = cg_elems(c, xs, k + 1, xs->rank);
    ns.st[1][k] = cg_mul(c, stride, smelt_sprintf(c->cx, "%lld", (long long)sp[k]));
    if (st[k]) base = smelt_sprintf(c->cx, "%s%s + ", base, cg_mul(c, stride, smelt_sprintf(c->cx, "%lld", (long long)st[k])));
  }
  /* negative strides print as "*-1"; parenthesize them */
  for (int k = 0; k < ns.q; k++)
    if (sp[k] < 0) ns.st[1][k] = smelt_sprintf(c->cx, "(%s)", ns.st[1][k]);
  strided(c, &ns, base);
  return 0;
}

int emit_concat(struct cg *c, const smelt_node *n) {
  const smelt_shape *ys = &cg_out(c, n, 0)->shape;
  int r = ys->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  const char *outer = cg_elems(c, ys, 0, ax), *inner = cg_elems(c, ys, ax + 1, r);
  const char *orow = cg_mul(c, cg_dim(c, ys->d[ax]), inner), *at = "0";
  for (int k = 0; k < n->nin; k++) {
    const smelt_shape *xs = &cg_in(c, n, k)->shape;
    const char *row = cg_mul(c, cg_dim(c, xs->d[ax]), inner);
    if (strcmp(row, "0")) {
      cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
      cg_line(c, "  memcpy(y0 + o * %s + %s, x%d + o * %s, (size_t)(%s) * sizeof(*y0));", orow, at, k, row, row);
    }
    at = smelt_sprintf(c->cx, "%s + %s", at, row);
  }
  return 0;
}

int emit_gather(struct cg *c, const smelt_node *n) {
  const smelt_shape *xs = &cg_in(c, n, 0)->shape, *is = &cg_in(c, n, 1)->shape;
  int r = xs->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  const char *outer = cg_elems(c, xs, 0, ax), *inner = cg_elems(c, xs, ax + 1, r), *D = cg_dim(c, xs->d[ax]);
  const char *ni = cg_elems(c, is, 0, is->rank);
  smelt_dtype dt = cg_in(c, n, 0)->dt;
  if (smelt_dtype_is_block(dt)) { /* [D, inner] table on axis 0: f32 rows (runtime/smelt_quant.h) */
    int64_t rb = smelt_dtype_nbytes(dt, xs->d[1].n);
    cg_line(c, "for (int64_t j = 0; j < %s; j++) {", ni);
    cg_line(c, "  int64_t ix = (int64_t)x1[j];");
    cg_line(c, "  if (ix < 0) ix += %s;", D);
    cg_line(c, "  if (ix < 0 || ix >= %s) return SMELT_E_INDEX;", D);
    cg_line(c, "  smq_dequantize_row_%s(x0 + ix * %lld, y0 + j * %s, %s);", smelt_dtype_name(dt), (long long)rb, inner, inner);
    cg_line(c, "}");
    return 0;
  }
  cg_line(c, "for (int64_t o = 0; o < %s; o++)", outer);
  cg_line(c, "  for (int64_t j = 0; j < %s; j++) {", ni);
  cg_line(c, "    int64_t ix = (int64_t)x1[j];");
  cg_line(c, "    if (ix < 0) ix += %s;", D);
  cg_line(c, "    if (ix < 0 || ix >= %s) return SMELT_E_INDEX;", D);
  if (dt == SMELT_DT_F16 || dt == SMELT_DT_BF16) /* a weight table's rows come out as f32 */
    cg_line(c, "    smq_dequantize_row_%s(x0 + (o * %s + ix) * %s, y0 + (o * %s + j) * %s, %s);", smelt_dtype_name(dt), D, inner, ni, inner, inner);
  else
    cg_line(c, "    memcpy(y0 + (o * %s + j) * %s, x0 + (o * %s + ix) * %s, (size_t)(%s) * sizeof(*y0));", ni, inner, D, inner, inner);
  cg_line(c, "  }");
  return 0;
}

int emit_pad(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *Y = cg_out(c, n, 0);
  const smelt_shape *xs = &X->shape, *ys = &Y->shape;
  const int64_t *p;
  smelt_attr_ints_get(n, "pads", &p);
  const char *mode = smelt_attr_s(n, "mode");
  int r = xs->rank, m = !strcmp(mode, "reflect") ? 1 : !strcmp(mode, "edge") ? 2 : 0;
  smelt_dtype dt = X->dt;
  const char *fill = smelt_dtype_is_float(dt) ? cg_store(c, dt, cg_double(c, smelt_attr_f(n, "value")))
                                              : cg_store(c, dt, smelt_sprintf(c->cx, "%lld", (long long)smelt_attr_f(n, "value")));
  cg_line(c, "int64_t o = 0;");
  for (int k = 0; k < r; k++) {
    cg_line(c, "for (int64_t i%d = 0; i%d < %s; i%d++) {", k, k, cg_dim(c, ys->d[k]), k);
    CG_IN(c);
    const char *d = cg_dim(c, xs->d[k]);
    cg_line(c, "int64_t q%d = i%d - %lld;", k, k, (long long)p[k]);
    if (m == 1) {
      cg_line(c, "if (q%d < 0) q%d = -q%d;", k, k, k);
      cg_line(c, "if (q%d >= %s) q%d = 2 * (%s - 1) - q%d;", k, d, k, d, k);
    } else if (m == 2) {
      cg_line(c, "if (q%d < 0) q%d = 0;", k, k);
      cg_line(c, "if (q%d >= %s) q%d = %s - 1;", k, d, k, d);
    }
  }
  const char *off = "0", *in = "1";
  for (int k = 0; k < r; k++) {
    off = smelt_sprintf(c->cx, "%s + %s", off, cg_mul(c, smelt_sprintf(c->cx, "q%d", k), cg_elems(c, xs, k + 1, r)));
    in = smelt_sprintf(c->cx, "%s && q%d >= 0 && q%d < %s", in, k, k, cg_dim(c, xs->d[k]));
  }
  if (m == 0) cg_line(c, "y0[o++] = (%s) ? x0[%s] : %s;", in, off, fill);
  else cg_line(c, "y0[o++] = x0[%s];", off);
  for (int k = 0; k < r; k++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
  return 0;
}
