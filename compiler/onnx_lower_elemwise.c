/* compiler/onnx_lower_elemwise.c — ONNX elementwise operators: the 1:1 unary and
 * binary ones, the variadic Max/Min/Sum/Mean, Where, Cast/CastLike, Clip,
 * Identity, Dropout (inference: identity and an all-true mask), BitShift, Mod. */
#include "compiler/onnx.h"

#include <math.h>
#include <string.h>

/* Copies the op's float attributes (alpha, beta, ...) from the ONNX node. */
static int lower_unary(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema((smelt_op)op, sp, 16), na = 0;
  smelt_attr a[16];
  for (int i = 0; i < ns; i++)
    if (sp[i].type == SMELT_A_FLOAT && on_att(r, sp[i].name)) a[na++] = smelt_attr_float(sp[i].name, on_att_f(r, sp[i].name, 0));
  return on_bind(r, 0, on_emit(r, (smelt_op)op, &x, 1, a, na, NULL));
}

static int lower_gelu(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  const char *ap = on_att_s(r, "approximate", "none");
  if (strcmp(ap, "none") && strcmp(ap, "tanh")) return on_err(r, "unknown approximate '%s'", ap);
  return on_bind(r, 0, on_unary(r, strcmp(ap, "tanh") ? SMELT_OP_GELU : SMELT_OP_GELU_TANH, x));
}

static int same_dtype(onnx_rd *r, int x, int y) {
  if (on_dtype(r, x) != on_dtype(r, y))
    return on_err(r, "operands have different types (%s and %s)", smelt_dtype_name(on_dtype(r, x)), smelt_dtype_name(on_dtype(r, y)));
  return 0;
}

static int lower_binary(onnx_rd *r, int op) {
  int x = on_in(r, 0), y = on_in(r, 1);
  if (x < 0 || y < 0) return SMELT_ERR;
  if (op == SMELT_OP_POW) y = on_cast(r, y, on_dtype(r, x)); /* exponents may have another type */
  if (op == SMELT_OP_PRELU && smelt_shape_max_elems(r->g, on_shape(r, y)) == 1 && on_shape(r, y)->rank > on_shape(r, x)->rank) {
    smelt_shape s = {0};
    y = on_reshape(r, y, &s);
  }
  if (same_dtype(r, x, y)) return SMELT_ERR;
  return on_bind(r, 0, on_binary(r, (smelt_op)op, x, y));
}

static int lower_mod(onnx_rd *r, int arg) {
  int fm = (int)on_att_i(r, "fmod", 0);
  int x = on_in(r, 0), y = on_in(r, 1);
  if (x < 0 || y < 0 || same_dtype(r, x, y)) return SMELT_ERR;
  if (!fm && smelt_dtype_is_float(on_dtype(r, x))) return on_err(r, "fmod=0 is not defined for floating-point inputs");
  return on_bind(r, 0, on_binary(r, fm ? SMELT_OP_FMOD : SMELT_OP_MOD, x, y));
}

static int lower_bitshift(onnx_rd *r, int arg) {
  const char *d = on_att_s(r, "direction", "");
  int x = on_in(r, 0), y = on_in(r, 1);
  if (x < 0 || y < 0 || same_dtype(r, x, y)) return SMELT_ERR;
  if (strcmp(d, "LEFT") && strcmp(d, "RIGHT")) return on_err(r, "direction must be LEFT or RIGHT");
  return on_bind(r, 0, on_binary(r, !strcmp(d, "LEFT") ? SMELT_OP_SHL : SMELT_OP_SHR, x, y));
}

/* Max, Min, Sum (and Mean: Sum / count) over any number of inputs. */
static int lower_variadic(onnx_rd *r, int op) {
  int n = on_nin(r), acc = on_in(r, 0);
  if (acc < 0) return SMELT_ERR;
  for (int i = 1; i < n; i++) {
    int y = on_in(r, i);
    if (y < 0 || same_dtype(r, acc, y)) return SMELT_ERR;
    acc = on_binary(r, op == -1 ? SMELT_OP_ADD : (smelt_op)op, acc, y);
    if (acc < 0) return SMELT_ERR;
  }
  if (op == -1 && n > 1) acc = on_binary(r, SMELT_OP_DIV, acc, on_scalar(r, on_dtype(r, acc), n));
  return on_bind(r, 0, acc);
}

static int lower_where(onnx_rd *r, int arg) {
  int in[3] = {on_in(r, 0), on_in(r, 1), on_in(r, 2)};
  if (in[0] < 0 || in[1] < 0 || in[2] < 0 || same_dtype(r, in[1], in[2])) return SMELT_ERR;
  return on_bind(r, 0, on_emit(r, SMELT_OP_WHERE, in, 3, NULL, 0, NULL));
}

static int lower_cast(onnx_rd *r, int like) {
  smelt_dtype to;
  if (like) {
    int t = on_in(r, 1);
    if (t < 0) return SMELT_ERR;
    to = on_dtype(r, t);
  } else if (on_dtype_from_onnx((int32_t)on_att_i(r, "to", 0), &to)) {
    return on_err(r, "cast to ONNX type %lld is not supported", (long long)on_att_i(r, "to", 0));
  }
  if (on_is_symshape(r, 0) && (to == SMELT_DT_I64 || to == SMELT_DT_I32)) {
    smelt_dim d[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    return sc ? on_bind_symscalar(r, 0, d[0]) : on_bind_symshape(r, 0, d, n);
  }
  return on_bind(r, 0, on_cast(r, on_in(r, 0), to));
}

static int lower_identity(onnx_rd *r, int arg) {
  if (on_is_symshape(r, 0)) {
    smelt_dim d[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    return sc ? on_bind_symscalar(r, 0, d[0]) : on_bind_symshape(r, 0, d, n);
  }
  return on_bind(r, 0, on_in(r, 0));
}

/* Inference-mode dropout: Y = X, mask all true. */
static int lower_dropout(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  if (on_has_in(r, 2)) {
    int64_t *tm;
    if (on_const_ints(r, 2, "training_mode", &tm) < 0) return SMELT_ERR;
    if (tm[0]) return on_err(r, "training-mode dropout is random; smelt compiles inference only");
  }
  if (on_bind(r, 0, x)) return SMELT_ERR;
  if (on_has_out(r, 1)) {
    int t = on_scalar(r, SMELT_DT_BOOL, 1);
    return on_bind(r, 1, on_emit(r, SMELT_OP_EXPAND, &t, 1, NULL, 0, on_shape(r, x)));
  }
  return 0;
}

/* Clip: constant bounds on floats become one Clip; run-time bounds or integers
 * become Max/Min with the bound tensors. */
static int lower_clip(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  smelt_dtype dt = on_dtype(r, x);
  if (r->opset < 11) {
    smelt_attr a[2] = {smelt_attr_float("min", on_att_f(r, "min", -INFINITY)), smelt_attr_float("max", on_att_f(r, "max", INFINITY))};
    if (!smelt_dtype_is_float(dt)) return on_err(r, "Clip on %s needs opset 11", smelt_dtype_name(dt));
    return on_bind(r, 0, on_emit(r, SMELT_OP_CLIP, &x, 1, a, 2, NULL));
  }
  int lo = on_has_in(r, 1) ? on_in(r, 1) : -1, hi = on_has_in(r, 2) ? on_in(r, 2) : -1;
  if ((on_has_in(r, 1) && lo < 0) || (on_has_in(r, 2) && hi < 0)) return SMELT_ERR;
  const smelt_value *clo = lo >= 0 ? on_const_val(r, lo) : NULL, *chi = hi >= 0 ? on_const_val(r, hi) : NULL;
  if (smelt_dtype_is_float(dt) && (lo < 0 || clo) && (hi < 0 || chi)) {
    smelt_tensor tl = {.dt = dt, .data = clo ? (void *)clo->c.data : NULL}, th = {.dt = dt, .data = chi ? (void *)chi->c.data : NULL};
    smelt_attr a[2] = {smelt_attr_float("min", clo ? smelt_tensor_getf(&tl, 0) : -INFINITY), smelt_attr_float("max", chi ? smelt_tensor_getf(&th, 0) : INFINITY)};
    return on_bind(r, 0, on_emit(r, SMELT_OP_CLIP, &x, 1, a, 2, NULL));
  }
  if (lo >= 0) { if (same_dtype(r, x, lo)) return SMELT_ERR; x = on_binary(r, SMELT_OP_MAX, x, lo); }
  if (hi >= 0) { if (same_dtype(r, x, hi)) return SMELT_ERR; x = on_binary(r, SMELT_OP_MIN, x, hi); }
  return on_bind(r, 0, x);
}

const struct on_lowering on_lower_elemwise[] = {
    {"Abs", lower_unary, SMELT_OP_ABS}, {"Neg", lower_unary, SMELT_OP_NEG}, {"Sign", lower_unary, SMELT_OP_SIGN},
    {"Exp", lower_unary, SMELT_OP_EXP}, {"Log", lower_unary, SMELT_OP_LOG}, {"Sqrt", lower_unary, SMELT_OP_SQRT},
    {"Reciprocal", lower_unary, SMELT_OP_RECIPROCAL}, {"Sin", lower_unary, SMELT_OP_SIN}, {"Cos", lower_unary, SMELT_OP_COS},
    {"Tan", lower_unary, SMELT_OP_TAN}, {"Asin", lower_unary, SMELT_OP_ASIN}, {"Acos", lower_unary, SMELT_OP_ACOS},
    {"Atan", lower_unary, SMELT_OP_ATAN}, {"Sinh", lower_unary, SMELT_OP_SINH}, {"Cosh", lower_unary, SMELT_OP_COSH},
    {"Tanh", lower_unary, SMELT_OP_TANH}, {"Asinh", lower_unary, SMELT_OP_ASINH}, {"Acosh", lower_unary, SMELT_OP_ACOSH},
    {"Atanh", lower_unary, SMELT_OP_ATANH}, {"Erf", lower_unary, SMELT_OP_ERF}, {"Floor", lower_unary, SMELT_OP_FLOOR},
    {"Ceil", lower_unary, SMELT_OP_CEIL}, {"Round", lower_unary, SMELT_OP_ROUND}, {"Not", lower_unary, SMELT_OP_NOT},
    {"Relu", lower_unary, SMELT_OP_RELU}, {"Sigmoid", lower_unary, SMELT_OP_SIGMOID}, {"Softplus", lower_unary, SMELT_OP_SOFTPLUS},
    {"Softsign", lower_unary, SMELT_OP_SOFTSIGN}, {"HardSwish", lower_unary, SMELT_OP_HARDSWISH},
    {"LeakyRelu", lower_unary, SMELT_OP_LEAKY_RELU}, {"Elu", lower_unary, SMELT_OP_ELU}, {"Selu", lower_unary, SMELT_OP_SELU},
    {"Celu", lower_unary, SMELT_OP_CELU}, {"HardSigmoid", lower_unary, SMELT_OP_HARD_SIGMOID},
    {"ThresholdedRelu", lower_unary, SMELT_OP_THRESHOLDED_RELU}, {"Shrink", lower_unary, SMELT_OP_SHRINK},
    {"IsNaN", lower_unary, SMELT_OP_ISNAN}, {"IsInf", lower_unary, SMELT_OP_ISINF}, {"Gelu", lower_gelu, 0},
    {"Add", lower_binary, SMELT_OP_ADD}, {"Sub", lower_binary, SMELT_OP_SUB}, {"Mul", lower_binary, SMELT_OP_MUL},
    {"Div", lower_binary, SMELT_OP_DIV}, {"Pow", lower_binary, SMELT_OP_POW}, {"PRelu", lower_binary, SMELT_OP_PRELU},
    {"And", lower_binary, SMELT_OP_AND}, {"Or", lower_binary, SMELT_OP_OR}, {"Xor", lower_binary, SMELT_OP_XOR},
    {"Equal", lower_binary, SMELT_OP_EQUAL}, {"Less", lower_binary, SMELT_OP_LESS}, {"Greater", lower_binary, SMELT_OP_GREATER},
    {"LessOrEqual", lower_binary, SMELT_OP_LESS_EQUAL}, {"GreaterOrEqual", lower_binary, SMELT_OP_GREATER_EQUAL},
    {"Mod", lower_mod, 0}, {"BitShift", lower_bitshift, 0},
    {"Max", lower_variadic, SMELT_OP_MAX}, {"Min", lower_variadic, SMELT_OP_MIN}, {"Sum", lower_variadic, SMELT_OP_ADD},
    {"Mean", lower_variadic, -1}, {"Where", lower_where, 0}, {"Cast", lower_cast, 0}, {"CastLike", lower_cast, 1},
    {"Identity", lower_identity, 0}, {"Dropout", lower_dropout, 0}, {"Clip", lower_clip, 0},
    {NULL, NULL, 0},
};
