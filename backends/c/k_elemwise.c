/* backends/c/k_elemwise.c — C kernels for the elementwise kinds: unary, binary
 * (broadcasting), where and cast.  The scalar formula comes from ops.def, printed
 * with T = the computation type (float for f32/f16/bf16, double for f64, the
 * element type for integers) and U = uint64_t for integers (T for floats). */
#include "cgen.h"

#include <string.h>

/* Emits the loop over the output with inputs broadcast, binding x, y (and c for
 * where) to the loaded operands, and storing `expr` into y0. */
static int ew_loop(struct cg *c, const smelt_node *n, const char *expr, const char *T, int isf) {
  const smelt_value *out = cg_out(c, n, 0);
  struct nest ns;
  nest_init(c, &ns, &out->shape, "i");
  for (int i = 0; i < n->nin; i++) nest_add_bcast(c, &ns, &cg_in(c, n, i)->shape);
  nest_simplify(c, &ns);
  cg_line(c, "typedef %s T;", T);
  cg_line(c, "typedef %s U;", isf ? "T" : "uint64_t");
  const char *off[NEST_MAXOPS];
  nest_open(c, &ns, off);
  static const char *names[] = {"x", "y", "z"};
  for (int i = 0; i < n->nin; i++) {
    const smelt_value *in = cg_in(c, n, i);
    const char *ld = cg_load(c, in->dt, smelt_sprintf(c->cx, "x%d[%s]", i, off[i + 1]));
    if (n->op == SMELT_OP_WHERE) cg_line(c, "const %s %s = %s;", i == 0 ? "int" : "T", i == 0 ? "cnd" : names[i - 1], ld);
    else cg_line(c, "const %s %s = %s;", i == 0 && n->op == SMELT_OP_CAST ? cg_comptype(in->dt) : "T", names[i], ld);
  }
  cg_line(c, "y0[%s] = %s;", off[0], cg_store(c, out->dt, expr));
  nest_close(c, &ns);
  return 0;
}

static int emit_formula(struct cg *c, const smelt_node *n) {
  smelt_dtype dt = cg_in(c, n, 0)->dt;
  int isf = smelt_dtype_is_float(dt);
  const struct smelt_opinfo *oi = smelt_op_info(n->op);
  const char *e = cg_formula(c, n, isf ? oi->fexpr : oi->iexpr, -1, dt);
  return ew_loop(c, n, e, cg_comptype(dt), isf);
}

int emit_unary(struct cg *c, const smelt_node *n) { return emit_formula(c, n); }
int emit_binary(struct cg *c, const smelt_node *n) { return emit_formula(c, n); }

int emit_where(struct cg *c, const smelt_node *n) {
  smelt_dtype dt = cg_in(c, n, 1)->dt;
  return ew_loop(c, n, "cnd ? x : y", cg_comptype(dt), smelt_dtype_is_float(dt));
}

/* Conversions match the interpreter: float -> int saturates (nan -> 0), f64 ->
 * f16/bf16 rounds through f32, -> bool is "!= 0". */
int emit_cast(struct cg *c, const smelt_node *n) {
  smelt_dtype from = cg_in(c, n, 0)->dt, to = cg_out(c, n, 0)->dt;
  unsigned ff = smelt_dtype_flags(from), tf = smelt_dtype_flags(to);
  const char *e = "x";
  if ((ff & DTF_FLOAT) && (tf & (DTF_INT))) {
    static const struct { smelt_dtype dt; const char *lo, *hi; } lim[] = {
      {SMELT_DT_I8, "INT8_MIN", "INT8_MAX"}, {SMELT_DT_I16, "INT16_MIN", "INT16_MAX"}, {SMELT_DT_I32, "INT32_MIN", "INT32_MAX"},
      {SMELT_DT_I64, "INT64_MIN", "INT64_MAX"}, {SMELT_DT_U8, "0", "UINT8_MAX"}, {SMELT_DT_U16, "0", "UINT16_MAX"},
      {SMELT_DT_U32, "0", "UINT32_MAX"}, {SMELT_DT_U64, "0", "UINT64_MAX"}};
    for (unsigned i = 0; i < sizeof lim / sizeof *lim; i++)
      if (lim[i].dt == to)
        e = (tf & DTF_SIGNED) ? smelt_sprintf(c->cx, "sm_sat_s((double)x, %s, %s)", lim[i].lo, lim[i].hi)
                              : smelt_sprintf(c->cx, "sm_sat_u((double)x, %s)", lim[i].hi);
  } else if ((ff & DTF_FLOAT) && (tf & DTF_HALF)) {
    e = "(float)x";
  }
  const char *T = (tf & DTF_FLOAT) ? cg_comptype(to) : cg_ctype(to);
  if ((ff & DTF_FLOAT) && !(tf & DTF_FLOAT)) T = cg_comptype(from);
  return ew_loop(c, n, e, T, 1);
}
