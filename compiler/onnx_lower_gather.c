/* compiler/onnx_lower_gather.c — ONNX index operators: GatherElements,
 * ScatterElements, Scatter (its deprecated name), GatherND, ScatterND, Trilu,
 * CumSum, OneHot, TopK, Hardmax, ReverseSequence and Compress.
 *
 * Operands that decide a shape or a loop structure (Trilu's k, CumSum's axis,
 * OneHot's depth, TopK's K, Compress's condition) must be compile-time constants;
 * data operands (indices, updates, OneHot's values, sequence lengths) may be
 * computed at run time, and the kernels check indices.  Hardmax lowers to ArgMax
 * and OneHot; Compress with a constant condition to a Gather of the kept indices. */
#include "compiler/onnx.h"

#include <string.h>

/* Input k as index operand: i32 and i64 pass, other integer or float types cast to i64. */
static int index_in(onnx_rd *r, int k) {
  int v = on_in(r, k);
  if (v < 0) return SMELT_ERR;
  smelt_dtype dt = on_dtype(r, v);
  return dt == SMELT_DT_I64 || dt == SMELT_DT_I32 ? v : on_cast(r, v, SMELT_DT_I64);
}

/* Input k as a single compile-time integer. */
static int const_int1(onnx_rd *r, int k, const char *what, int64_t *out) {
  int64_t *v;
  int n = on_const_ints(r, k, what, &v);
  if (n < 0) return SMELT_ERR;
  if (n != 1) return on_err(r, "%s must hold one value (%d given)", what, n);
  *out = v[0];
  return 0;
}

static int reduction_attr(onnx_rd *r, const char **red) {
  *red = on_att_s(r, "reduction", "none");
  if (strcmp(*red, "none") && strcmp(*red, "add") && strcmp(*red, "mul") && strcmp(*red, "min") && strcmp(*red, "max"))
    return on_err(r, "reduction '%s' is not supported", *red);
  return 0;
}

static int lower_gather_elements(onnx_rd *r, int arg) {
  int in[2] = {on_in(r, 0), index_in(r, 1)};
  if (in[0] < 0 || in[1] < 0) return SMELT_ERR;
  smelt_attr a = smelt_attr_int("axis", on_att_i(r, "axis", 0));
  if (on_norm_axis(r, a.i, on_shape(r, in[0])->rank) < 0) return SMELT_ERR;
  return on_bind(r, 0, on_emit(r, SMELT_OP_GATHER_ELEMENTS, in, 2, &a, 1, NULL));
}

/* ScatterElements; arg 1 for the deprecated Scatter (opset 9-10, no reduction) */
static int lower_scatter_elements(onnx_rd *r, int deprecated) {
  int in[3] = {on_in(r, 0), index_in(r, 1), on_in(r, 2)};
  if (in[0] < 0 || in[1] < 0 || in[2] < 0) return SMELT_ERR;
  const char *red = "none";
  if (!deprecated && reduction_attr(r, &red)) return SMELT_ERR;
  smelt_attr a[2] = {smelt_attr_int("axis", on_att_i(r, "axis", 0)), smelt_attr_str("reduction", red)};
  if (on_norm_axis(r, a[0].i, on_shape(r, in[0])->rank) < 0) return SMELT_ERR;
  return on_bind(r, 0, on_emit(r, SMELT_OP_SCATTER_ELEMENTS, in, 3, a, 2, NULL));
}

static int lower_gather_nd(onnx_rd *r, int arg) {
  int in[2] = {on_in(r, 0), index_in(r, 1)};
  if (in[0] < 0 || in[1] < 0) return SMELT_ERR;
  smelt_attr a = smelt_attr_int("batch_dims", on_att_i(r, "batch_dims", 0));
  return on_bind(r, 0, on_emit(r, SMELT_OP_GATHER_ND, in, 2, &a, 1, NULL));
}

static int lower_scatter_nd(onnx_rd *r, int arg) {
  int in[3] = {on_in(r, 0), index_in(r, 1), on_in(r, 2)};
  if (in[0] < 0 || in[1] < 0 || in[2] < 0) return SMELT_ERR;
  const char *red;
  if (reduction_attr(r, &red)) return SMELT_ERR;
  smelt_attr a = smelt_attr_str("reduction", red);
  return on_bind(r, 0, on_emit(r, SMELT_OP_SCATTER_ND, in, 3, &a, 1, NULL));
}

static int lower_trilu(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int64_t k = 0;
  if (on_has_in(r, 1) && const_int1(r, 1, "k", &k)) return SMELT_ERR;
  smelt_attr a[2] = {smelt_attr_int("upper", on_att_i(r, "upper", 1) != 0), smelt_attr_int("k", k)};
  return on_bind(r, 0, on_emit(r, SMELT_OP_TRILU, &x, 1, a, 2, NULL));
}

static int lower_cumsum(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int64_t ax = 0;
  if (const_int1(r, 1, "axis", &ax)) return SMELT_ERR;
  if (on_norm_axis(r, ax, on_shape(r, x)->rank) < 0) return SMELT_ERR;
  smelt_attr a[3] = {smelt_attr_int("axis", ax), smelt_attr_int("exclusive", on_att_i(r, "exclusive", 0) != 0),
                     smelt_attr_int("reverse", on_att_i(r, "reverse", 0) != 0)};
  return on_bind(r, 0, on_emit(r, SMELT_OP_CUMSUM, &x, 1, a, 3, NULL));
}

static int lower_onehot(onnx_rd *r, int arg) {
  int in[2] = {index_in(r, 0), on_in(r, 2)};
  if (in[0] < 0 || in[1] < 0) return SMELT_ERR;
  double *dv;
  int nd = on_const_floats(r, 1, "depth", &dv);
  if (nd < 0) return SMELT_ERR;
  if (nd != 1) return on_err(r, "depth must hold one value");
  if (!(dv[0] >= 1 && dv[0] < (double)(1 << 30))) return on_err(r, "depth %g out of range", dv[0]);
  const smelt_shape *vs = on_shape(r, in[1]);
  if (vs->rank != 1 || !smelt_dim_is(vs->d[0], 2)) return on_err(r, "values must be a 1-D tensor [off_value, on_value]");
  int64_t axis = on_att_i(r, "axis", -1);
  if (on_norm_axis(r, axis, on_shape(r, in[0])->rank + 1) < 0) return SMELT_ERR;
  smelt_attr a[2] = {smelt_attr_int("depth", (int64_t)dv[0]), smelt_attr_int("axis", axis)};
  return on_bind(r, 0, on_emit(r, SMELT_OP_ONE_HOT, in, 2, a, 2, NULL));
}

static int lower_topk(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int64_t k = 0;
  if (r->opset < 10) {
    if (!on_att(r, "k")) return on_err(r, "attribute k is required");
    k = on_att_i(r, "k", 0);
  } else if (const_int1(r, 1, "K", &k)) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int ax = on_norm_axis(r, on_att_i(r, "axis", -1), s->rank);
  if (ax < 0) return SMELT_ERR;
  if (s->d[ax].sym) return on_err(r, "TopK over the dynamic dim '%s' is not supported; fix it with --dim", r->g->syms[s->d[ax].sym - 1].name);
  if (k < 0 || k > s->d[ax].n) return on_err(r, "K = %lld is outside [0, %lld]", (long long)k, (long long)s->d[ax].n);
  /* sorted=0 leaves the order unspecified, so a sorted result serves both */
  smelt_attr a[3] = {smelt_attr_int("k", k), smelt_attr_int("axis", ax), smelt_attr_int("largest", on_att_i(r, "largest", 1) != 0)};
  int v = on_emit_n(r, SMELT_OP_TOP_K, &x, 1, a, 3, 2, NULL);
  if (v < 0) return SMELT_ERR;
  int vi = r->g->nodes[r->g->nnodes - 1].out[1]; /* the node stays in place even when folded */
  return on_bind(r, 0, v) || on_bind(r, 1, vi) ? SMELT_ERR : 0;
}

/* Hardmax = OneHot(ArgMax(x, axis), depth = dim of axis, values = [0, 1]); before opset
 * 13 the input is flattened to 2-D at axis first, as for Softmax. */
static int lower_hardmax(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  smelt_dtype dt = on_dtype(r, x);
  if (!smelt_dtype_is_float(dt)) return on_err(r, "needs a float input");
  if (s->rank == 0) return on_err(r, "scalar input");
  int v = x, ax;
  smelt_shape f = *s;
  if (r->opset >= 13 || s->rank == 1) {
    if ((ax = on_norm_axis(r, on_att_i(r, "axis", -1), s->rank)) < 0) return SMELT_ERR;
  } else {
    int a = on_norm_axis(r, on_att_i(r, "axis", 1), s->rank);
    if (a < 0) return SMELT_ERR;
    int64_t inner = 1;
    for (int i = a; i < s->rank; i++) {
      if (s->d[i].sym) return on_err(r, "dims from the axis on must be static");
      inner *= s->d[i].n;
    }
    f.rank = a + 1;
    f.d[a] = smelt_dim_c(inner);
    v = on_reshape(r, x, &f);
    ax = a;
  }
  if (f.d[ax].sym) return on_err(r, "Hardmax over the dynamic dim '%s' is not supported; fix it with --dim", r->g->syms[f.d[ax].sym - 1].name);
  smelt_attr am[3] = {smelt_attr_int("axis", ax), smelt_attr_int("keepdims", 0), smelt_attr_int("select_last_index", 0)};
  int idx = on_emit(r, SMELT_OP_ARGMAX, &v, 1, am, 3, NULL);
  unsigned char vals[16] = {0};
  smelt_tensor t = {.dt = dt, .rank = 1, .dims = {2}, .data = vals};
  smelt_tensor_setf(&t, 1, 1.0);
  smelt_shape vs = {.rank = 1, .d = {smelt_dim_c(2)}};
  int in[2] = {idx, on_const_tensor(r, dt, &vs, vals)};
  smelt_attr oh[2] = {smelt_attr_int("depth", f.d[ax].n), smelt_attr_int("axis", ax)};
  v = on_emit(r, SMELT_OP_ONE_HOT, in, 2, oh, 2, NULL);
  return on_bind(r, 0, on_reshape(r, v, s));
}

static int lower_reverse_sequence(onnx_rd *r, int arg) {
  int in[2] = {on_in(r, 0), index_in(r, 1)};
  if (in[0] < 0 || in[1] < 0) return SMELT_ERR;
  smelt_attr a[2] = {smelt_attr_int("batch_axis", on_att_i(r, "batch_axis", 1)), smelt_attr_int("time_axis", on_att_i(r, "time_axis", 0))};
  return on_bind(r, 0, on_emit(r, SMELT_OP_REVERSE_SEQUENCE, in, 2, a, 2, NULL));
}

/* Compress keeps the slices along axis (of the flattened input when axis is absent)
 * whose condition entry is true: a Gather of those indices when the condition is a
 * constant.  A run-time condition makes the output's shape depend on data. */
static int lower_compress(onnx_rd *r, int arg) {
  int x = on_in(r, 0), cv = on_in(r, 1);
  if (x < 0 || cv < 0) return SMELT_ERR;
  if (!on_const_val(r, cv)) {
    const smelt_value *val = &r->g->values[cv];
    if (val->kind == SMELT_V_INPUT)
      return on_err(r, "unsupported: the output's shape depends on the condition '%s', a graph input; freeze it with --const %s=FILE.npy", val->name, val->name);
    return on_err(r, "unsupported: the condition is computed at run time, so the output's shape would depend on data");
  }
  int64_t *c;
  int nc = on_const_ints(r, 1, "condition", &c);
  if (nc < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int ax = 0;
  if (on_att(r, "axis")) {
    if ((ax = on_norm_axis(r, on_att_i(r, "axis", 0), s->rank)) < 0) return SMELT_ERR;
  } else {
    if (!smelt_shape_is_static(s)) return on_err(r, "Compress without axis flattens the input, whose dims must be static; fix them with --dim");
    smelt_shape flat = {.rank = 1, .d = {smelt_dim_c(smelt_shape_max_elems(r->g, s))}};
    x = on_reshape(r, x, &flat);
    s = on_shape(r, x);
  }
  if (s->d[ax].sym) return on_err(r, "Compress along the dynamic dim '%s' is not supported; fix it with --dim", r->g->syms[s->d[ax].sym - 1].name);
  int64_t *keep = smelt_alloc(r->cx, sizeof(int64_t) * (nc ? nc : 1)), nk = 0;
  if (!keep) return SMELT_ERR;
  for (int i = 0; i < nc; i++) {
    if (!c[i]) continue;
    if (i >= s->d[ax].n) return on_err(r, "condition entry %d is true beyond the axis' %lld elements", i, (long long)s->d[ax].n);
    keep[nk++] = i;
  }
  smelt_shape ks = {.rank = 1, .d = {smelt_dim_c(nk)}};
  int in[2] = {x, on_const_tensor(r, SMELT_DT_I64, &ks, keep)};
  smelt_attr a = smelt_attr_int("axis", ax);
  return on_bind(r, 0, on_emit(r, SMELT_OP_GATHER, in, 2, &a, 1, NULL));
}

const struct on_lowering on_lower_gather[] = {
    {"GatherElements", lower_gather_elements, 0}, {"ScatterElements", lower_scatter_elements, 0},
    {"Scatter", lower_scatter_elements, 1}, {"GatherND", lower_gather_nd, 0}, {"ScatterND", lower_scatter_nd, 0},
    {"Trilu", lower_trilu, 0}, {"CumSum", lower_cumsum, 0}, {"OneHot", lower_onehot, 0}, {"TopK", lower_topk, 0},
    {"Hardmax", lower_hardmax, 0}, {"ReverseSequence", lower_reverse_sequence, 0}, {"Compress", lower_compress, 0},
    {NULL, NULL, 0},
};
