/* compiler/onnx_lower_quant.c — ONNX's quantized operators lowered to float and
 * int32 arithmetic with the exact rounding ONNX specifies (round half to even,
 * saturate to the integer type):
 *
 *   QuantizeLinear       y = saturate(round(x / s) + zp)
 *   DequantizeLinear     y = (x - zp) * s
 *   MatMulInteger        y = (a - azp) . (b - bzp) in int32
 *   ConvInteger          the same for Conv
 *   QLinearMatMul/Conv   requantize(int32 accumulator * (sa * sb / sy)) + zy
 *   DynamicQuantizeLinear  uint8 with scale and zero point from the data's range
 *
 * Per-axis scales and zero points are reshaped to broadcast along their axis.
 * Dedicated int8 kernels come with the target backends; these lowerings are exact. */
#include "compiler/onnx.h"

#include <string.h>

/* v (1-D of length dim[axis], or a scalar) reshaped to broadcast over `rank` dims at axis */
static int along(onnx_rd *r, int v, int rank, int axis) {
  const smelt_shape *s = on_shape(r, v);
  if (s->rank == 0 || (s->rank == 1 && smelt_dim_is(s->d[0], 1))) return v;
  if (s->rank != 1) return on_err(r, "scale and zero point must be scalars or 1-D");
  smelt_shape o = {.rank = rank};
  for (int i = 0; i < rank; i++) o.d[i] = i == axis ? s->d[0] : smelt_dim_c(1);
  return on_reshape(r, v, &o);
}

static int limits(smelt_dtype dt, double *lo, double *hi) {
  switch (dt) {
  case SMELT_DT_U8: *lo = 0; *hi = 255; return 0;
  case SMELT_DT_I8: *lo = -128; *hi = 127; return 0;
  case SMELT_DT_U16: *lo = 0; *hi = 65535; return 0;
  case SMELT_DT_I16: *lo = -32768; *hi = 32767; return 0;
  case SMELT_DT_I32: *lo = -2147483648.0; *hi = 2147483647.0; return 0;
  default: return SMELT_ERR;
  }
}

/* saturate(round(v) + zp) as dtype dt; v is f32 */
static int requant(onnx_rd *r, int v, int zp, smelt_dtype dt) {
  double lo, hi;
  if (limits(dt, &lo, &hi)) return on_err(r, "quantized type %s is not supported", smelt_dtype_name(dt));
  v = on_unary(r, SMELT_OP_ROUND, v);
  if (zp >= 0) v = on_binary(r, SMELT_OP_ADD, v, on_cast(r, zp, SMELT_DT_F32));
  smelt_attr a[2] = {smelt_attr_float("min", lo), smelt_attr_float("max", hi)};
  v = on_emit(r, SMELT_OP_CLIP, &v, 1, a, 2, NULL);
  return on_cast(r, v, dt);
}

static int opt_in(onnx_rd *r, int k) { return on_has_in(r, k) ? on_in(r, k) : -1; }

static int lower_quantize(onnx_rd *r, int arg) {
  int x = on_in(r, 0), s = on_in(r, 1), zp = opt_in(r, 2);
  if (x < 0 || s < 0 || (on_has_in(r, 2) && zp < 0)) return SMELT_ERR;
  int rank = on_shape(r, x)->rank, ax = rank ? on_norm_axis(r, on_att_i(r, "axis", 1), rank) : 0;
  if (ax < 0) return SMELT_ERR;
  smelt_dtype dt = zp >= 0 ? on_dtype(r, zp) : SMELT_DT_U8;
  int q = on_binary(r, SMELT_OP_DIV, on_cast(r, x, SMELT_DT_F32), on_cast(r, along(r, s, rank, ax), SMELT_DT_F32));
  return on_bind(r, 0, requant(r, q, zp >= 0 ? along(r, zp, rank, ax) : -1, dt));
}

static int lower_dequantize(onnx_rd *r, int arg) {
  int x = on_in(r, 0), s = on_in(r, 1), zp = opt_in(r, 2);
  if (x < 0 || s < 0 || (on_has_in(r, 2) && zp < 0)) return SMELT_ERR;
  int rank = on_shape(r, x)->rank, ax = rank ? on_norm_axis(r, on_att_i(r, "axis", 1), rank) : 0;
  if (ax < 0) return SMELT_ERR;
  smelt_dtype out = on_dtype(r, s);
  int v = on_cast(r, x, SMELT_DT_F32);
  if (zp >= 0) v = on_binary(r, SMELT_OP_SUB, v, on_cast(r, along(r, zp, rank, ax), SMELT_DT_F32));
  v = on_binary(r, SMELT_OP_MUL, v, on_cast(r, along(r, s, rank, ax), SMELT_DT_F32));
  return on_bind(r, 0, on_cast(r, v, out));
}

/* x - zp in int32; zp along `axis` of x when 1-D */
static int centered(onnx_rd *r, int x, int zp, int axis) {
  int v = on_cast(r, x, SMELT_DT_I32);
  if (zp < 0) return v;
  int rank = on_shape(r, x)->rank;
  return on_binary(r, SMELT_OP_SUB, v, on_cast(r, along(r, zp, rank, axis < 0 ? axis + rank : axis), SMELT_DT_I32));
}

static int int_matmul(onnx_rd *r, int a, int azp, int b, int bzp) {
  if (a < 0 || b < 0) return SMELT_ERR;
  if (on_shape(r, a)->rank < 2 || on_shape(r, b)->rank < 2) return on_err(r, "operands need rank >= 2");
  int in[2] = {centered(r, a, azp, -2), centered(r, b, bzp, -1)};
  smelt_attr at = smelt_attr_int("trans_b", 0);
  return on_emit(r, SMELT_OP_MATMUL, in, 2, &at, 1, NULL);
}

static int lower_matmul_integer(onnx_rd *r, int arg) {
  return on_bind(r, 0, int_matmul(r, on_in(r, 0), opt_in(r, 2), on_in(r, 1), opt_in(r, 3)));
}

/* Conv in int32 with the ONNX node's window attributes */
static int int_conv(onnx_rd *r, int x, int xzp, int w, int wzp, int bias) {
  if (x < 0 || w < 0) return SMELT_ERR;
  const smelt_shape *xs = on_shape(r, x), *ws = on_shape(r, w);
  int nsp = xs->rank - 2;
  if (nsp < 1 || ws->rank != xs->rank) return on_err(r, "input and weight need equal rank >= 3");
  int64_t kern[SMELT_MAX_RANK];
  for (int i = 0; i < nsp; i++) kern[i] = ws->d[2 + i].n;
  struct on_window win;
  if (on_window(r, xs, kern, &win)) return SMELT_ERR;
  smelt_attr a[4];
  on_window_attrs(r, &win, a, 0);
  a[3] = smelt_attr_int("group", on_att_i(r, "group", 1));
  int xi = centered(r, x, xzp, 1);
  int wi = on_cast(r, w, SMELT_DT_I32);
  if (wzp >= 0) wi = on_binary(r, SMELT_OP_SUB, wi, on_cast(r, along(r, wzp, ws->rank, 0), SMELT_DT_I32));
  int in[3] = {xi, wi, bias >= 0 ? on_cast(r, bias, SMELT_DT_I32) : -1};
  return on_emit(r, SMELT_OP_CONV, in, bias >= 0 ? 3 : 2, a, 4, NULL);
}

static int lower_conv_integer(onnx_rd *r, int arg) {
  return on_bind(r, 0, int_conv(r, on_in(r, 0), opt_in(r, 2), on_in(r, 1), opt_in(r, 3), -1));
}

/* acc (int32) * (sa * sb / sy), rounded, plus zy, saturated */
static int requant_acc(onnx_rd *r, int acc, int sa, int sb, int sy, int zy, int sb_axis) {
  if (acc < 0 || sa < 0 || sb < 0 || sy < 0 || zy < 0) return SMELT_ERR;
  int rank = on_shape(r, acc)->rank;
  int mult = on_binary(r, SMELT_OP_DIV, on_binary(r, SMELT_OP_MUL, on_cast(r, sa, SMELT_DT_F32), on_cast(r, along(r, sb, rank, sb_axis), SMELT_DT_F32)),
                       on_cast(r, sy, SMELT_DT_F32));
  int v = on_binary(r, SMELT_OP_MUL, on_cast(r, acc, SMELT_DT_F32), mult);
  return requant(r, v, zy, on_dtype(r, zy));
}

static int lower_qlinear_matmul(onnx_rd *r, int arg) {
  int acc = int_matmul(r, on_in(r, 0), on_in(r, 2), on_in(r, 3), on_in(r, 5));
  if (acc < 0) return SMELT_ERR;
  return on_bind(r, 0, requant_acc(r, acc, on_in(r, 1), on_in(r, 4), on_in(r, 6), on_in(r, 7), on_shape(r, acc)->rank - 1));
}

static int lower_qlinear_conv(onnx_rd *r, int arg) {
  int acc = int_conv(r, on_in(r, 0), on_in(r, 2), on_in(r, 3), on_in(r, 5), opt_in(r, 8));
  if (acc < 0) return SMELT_ERR;
  return on_bind(r, 0, requant_acc(r, acc, on_in(r, 1), on_in(r, 4), on_in(r, 6), on_in(r, 7), 1));
}

/* scale = (max(0, max x) - min(0, min x)) / 255, zp = saturate(round(-min / scale)) */
static int lower_dynamic_quantize(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  x = on_cast(r, x, SMELT_DT_F32);
  int zero = on_scalar(r, SMELT_DT_F32, 0);
  int mn = on_binary(r, SMELT_OP_MIN, on_reduce(r, SMELT_OP_REDUCE_MIN, x, NULL, 0, 0), zero);
  int mx = on_binary(r, SMELT_OP_MAX, on_reduce(r, SMELT_OP_REDUCE_MAX, x, NULL, 0, 0), zero);
  int scale = on_binary(r, SMELT_OP_DIV, on_binary(r, SMELT_OP_SUB, mx, mn), on_scalar(r, SMELT_DT_F32, 255));
  int zp = requant(r, on_binary(r, SMELT_OP_DIV, on_unary(r, SMELT_OP_NEG, mn), scale), -1, SMELT_DT_U8);
  int y = requant(r, on_binary(r, SMELT_OP_DIV, x, scale), zp, SMELT_DT_U8);
  if (on_bind(r, 0, y) || on_bind(r, 1, scale)) return SMELT_ERR;
  return on_bind(r, 2, zp);
}

const struct on_lowering on_lower_quant[] = {
    {"QuantizeLinear", lower_quantize, 0}, {"DequantizeLinear", lower_dequantize, 0},
    {"MatMulInteger", lower_matmul_integer, 0}, {"ConvInteger", lower_conv_integer, 0},
    {"QLinearMatMul", lower_qlinear_matmul, 0}, {"QLinearConv", lower_qlinear_conv, 0},
    {"DynamicQuantizeLinear", lower_dynamic_quantize, 0},
    {NULL, NULL, 0},
};
