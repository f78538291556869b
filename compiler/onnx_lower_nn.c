/* compiler/onnx_lower_nn.c — ONNX neural-network operators: MatMul, Gemm, Conv,
 * pooling (AveragePool, global pools; MaxPool is in onnx_lower_nn2.c),
 * BatchNormalization, reductions, ArgMax/ArgMin, Softmax/LogSoftmax,
 * LayerNormalization, InstanceNormalization,
 * LRN, MeanVarianceNormalization and the two loss functions.
 *
 * Normalizations and losses are lowered to elementwise ops and reductions (the
 * fuse pass is where they become single kernels again). */
#include "compiler/onnx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int bind_or(onnx_rd *r, int k, int v) { return on_has_out(r, k) ? on_bind(r, k, v) : (v < 0 ? SMELT_ERR : 0); }

/* ---- MatMul and Gemm ----------------------------------------------------------------- */
static int matmul(onnx_rd *r, int a, int b, int trans_b) {
  smelt_attr at = smelt_attr_int("trans_b", trans_b);
  int in[2] = {a, b};
  return on_emit(r, SMELT_OP_MATMUL, in, 2, &at, 1, NULL);
}

/* numpy matmul semantics: 1-D operands are promoted, then the added dim dropped. */
static int lower_matmul(onnx_rd *r, int arg) {
  int a = on_in(r, 0), b = on_in(r, 1);
  if (a < 0 || b < 0) return SMELT_ERR;
  if (on_dtype(r, a) != on_dtype(r, b)) return on_err(r, "operands have different types");
  smelt_shape sa = *on_shape(r, a), sb = *on_shape(r, b);
  if (sa.rank == 0 || sb.rank == 0) return on_err(r, "scalar operands");
  int a1 = sa.rank == 1, b1 = sb.rank == 1;
  if (a1) { smelt_shape s = {.rank = 2, .d = {smelt_dim_c(1), sa.d[0]}}; a = on_reshape(r, a, &s); }
  if (b1) { smelt_shape s = {.rank = 2, .d = {sb.d[0], smelt_dim_c(1)}}; b = on_reshape(r, b, &s); }
  int y = matmul(r, a, b, 0);
  if (y < 0) return SMELT_ERR;
  if (a1 || b1) {
    smelt_shape s = *on_shape(r, y);
    if (b1) s.rank--;
    if (a1) { s.d[s.rank - (b1 ? 1 : 2)] = s.d[s.rank - 1]; s.rank--; }
    y = on_reshape(r, y, &s);
  }
  return on_bind(r, 0, y);
}

/* Y = alpha * A' B' + beta * C */
static int lower_gemm(onnx_rd *r, int arg) {
  int a = on_in(r, 0), b = on_in(r, 1);
  if (a < 0 || b < 0) return SMELT_ERR;
  if (on_shape(r, a)->rank != 2 || on_shape(r, b)->rank != 2) return on_err(r, "A and B must be 2-D");
  double alpha = on_att_f(r, "alpha", 1), beta = on_att_f(r, "beta", 1);
  if (on_att_i(r, "transA", 0)) { int64_t p[2] = {1, 0}; a = on_transpose(r, a, p, 2); }
  int y = matmul(r, a, b, (int)on_att_i(r, "transB", 0));
  smelt_dtype dt = on_dtype(r, b);
  if (y >= 0 && alpha != 1) y = on_binary(r, SMELT_OP_MUL, y, on_scalar(r, dt, alpha));
  if (y >= 0 && on_has_in(r, 2) && beta != 0) {
    int c = on_in(r, 2);
    if (c < 0) return SMELT_ERR;
    if (beta != 1) c = on_binary(r, SMELT_OP_MUL, c, on_scalar(r, dt, beta));
    y = on_binary(r, SMELT_OP_ADD, y, c);
  }
  return on_bind(r, 0, y);
}

/* ---- windows: auto_pad and defaults ------------------------------------------------------- */
int on_window(onnx_rd *r, const smelt_shape *x, const int64_t *kernel, struct on_window *w) {
  w->nsp = x->rank - 2;
  if (w->nsp < 1) return on_err(r, "input needs rank >= 3");
  int64_t *v;
  int n;
  for (int i = 0; i < w->nsp; i++) {
    w->k[i] = kernel[i];
    w->s[i] = w->d[i] = 1;
    w->p[i] = w->p[w->nsp + i] = 0;
    if (x->d[2 + i].sym) return on_err(r, "spatial dims must be static; fix them with --dim");
  }
  if ((n = on_att_ints(r, "strides", &v)) >= 0) { if (n != w->nsp) return on_err(r, "strides has %d entries", n); memcpy(w->s, v, 8 * n); }
  if ((n = on_att_ints(r, "dilations", &v)) >= 0) { if (n != w->nsp) return on_err(r, "dilations has %d entries", n); memcpy(w->d, v, 8 * n); }
  if ((n = on_att_ints(r, "pads", &v)) >= 0) { if (n != 2 * w->nsp) return on_err(r, "pads has %d entries", n); memcpy(w->p, v, 8 * n); }
  for (int i = 0; i < w->nsp; i++)
    if (w->s[i] <= 0 || w->d[i] <= 0 || w->k[i] <= 0 || w->k[i] > (1 << 20) || w->s[i] > (1 << 20) || w->d[i] > (1 << 20) ||
        w->p[i] < 0 || w->p[w->nsp + i] < 0 || w->p[i] > (1 << 20) || w->p[w->nsp + i] > (1 << 20))
      return on_err(r, "kernel, strides, dilations and pads must be positive (pads >= 0) and sane");
  const char *ap = on_att_s(r, "auto_pad", "NOTSET");
  if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
    for (int i = 0; i < w->nsp; i++) {
      int64_t in = x->d[2 + i].n, out = (in + w->s[i] - 1) / w->s[i];
      int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - in;
      if (total < 0) total = 0;
      int64_t lo = !strcmp(ap, "SAME_UPPER") ? total / 2 : total - total / 2;
      w->p[i] = lo;
      w->p[w->nsp + i] = total - lo;
    }
  } else if (!strcmp(ap, "VALID")) {
    for (int i = 0; i < 2 * w->nsp; i++) w->p[i] = 0;
  } else if (strcmp(ap, "NOTSET")) return on_err(r, "unknown auto_pad '%s'", ap);
  return 0;
}

int on_window_attrs(onnx_rd *r, const struct on_window *w, smelt_attr *a, int with_kernel) {
  int k = 0;
  if (with_kernel) a[k++] = smelt_attr_ints(r->cx, "kernel", w->k, w->nsp);
  a[k++] = smelt_attr_ints(r->cx, "strides", w->s, w->nsp);
  a[k++] = smelt_attr_ints(r->cx, "pads", w->p, 2 * w->nsp);
  a[k++] = smelt_attr_ints(r->cx, "dilations", w->d, w->nsp);
  return k;
}

static int lower_conv(onnx_rd *r, int arg) {
  int x = on_in(r, 0), w = on_in(r, 1);
  if (x < 0 || w < 0) return SMELT_ERR;
  const smelt_shape *ws = on_shape(r, w), *xs = on_shape(r, x);
  if (ws->rank != xs->rank || ws->rank < 3) return on_err(r, "weight rank must equal the input's (>= 3)");
  int64_t kern[SMELT_MAX_RANK];
  for (int i = 2; i < ws->rank; i++) kern[i - 2] = ws->d[i].n;
  struct on_window win;
  if (on_window(r, xs, kern, &win)) return SMELT_ERR;
  smelt_attr a[4];
  on_window_attrs(r, &win, a, 0);
  a[3] = smelt_attr_int("group", on_att_i(r, "group", 1));
  int in[3] = {x, w, on_has_in(r, 2) ? on_in(r, 2) : -1};
  int nin = on_has_in(r, 2) ? 3 : 2;
  return on_bind(r, 0, on_emit(r, SMELT_OP_CONV, in, nin, a, 4, NULL));
}

static int lower_pool(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int64_t *k;
  int nk = on_att_ints(r, "kernel_shape", &k);
  const smelt_shape *xs = on_shape(r, x);
  if (nk != xs->rank - 2) return on_err(r, "kernel_shape must give every spatial dim");
  struct on_window w;
  if (on_window(r, xs, k, &w)) return SMELT_ERR;
  smelt_attr a[6];
  on_window_attrs(r, &w, a, 1);
  a[4] = smelt_attr_int("ceil_mode", on_att_i(r, "ceil_mode", 0));
  int na = 5;
  if (op == SMELT_OP_AVG_POOL) a[na++] = smelt_attr_int("count_include_pad", on_att_i(r, "count_include_pad", 0));
  return on_bind(r, 0, on_emit(r, (smelt_op)op, &x, 1, a, na, NULL));
}

static int lower_global_pool(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int rank = on_shape(r, x)->rank;
  if (rank < 3) return on_err(r, "input needs rank >= 3");
  int64_t axes[SMELT_MAX_RANK];
  for (int i = 2; i < rank; i++) axes[i - 2] = i;
  return on_bind(r, 0, on_reduce(r, (smelt_op)op, x, axes, rank - 2, 1));
}

/* per-channel vector [C] reshaped to broadcast over [N, C, d...] */
static int per_channel(onnx_rd *r, int v, int rank) {
  const smelt_shape *s = on_shape(r, v);
  if (s->rank != 1) return on_err(r, "per-channel operands must be 1-D");
  smelt_shape o = {.rank = rank - 1};
  o.d[0] = s->d[0];
  for (int i = 1; i < rank - 1; i++) o.d[i] = smelt_dim_c(1);
  return on_reshape(r, v, &o);
}

/* Inference: Y = (X - mean) / sqrt(var + eps) * scale + B, folded per channel. */
static int lower_batchnorm(onnx_rd *r, int arg) {
  int x = on_in(r, 0), sc = on_in(r, 1), b = on_in(r, 2), m = on_in(r, 3), v = on_in(r, 4);
  if (x < 0 || sc < 0 || b < 0 || m < 0 || v < 0) return SMELT_ERR;
  if (on_att_i(r, "training_mode", 0) || on_has_out(r, 1)) return on_err(r, "training-mode batch normalization is not supported");
  int rank = on_shape(r, x)->rank;
  if (rank < 2) return on_err(r, "input needs rank >= 2");
  smelt_dtype dt = on_dtype(r, x);
  double eps = on_att_f(r, "epsilon", 1e-5);
  int sd = on_unary(r, SMELT_OP_SQRT, on_binary(r, SMELT_OP_ADD, on_cast(r, v, dt), on_scalar(r, dt, eps)));
  int mul = on_binary(r, SMELT_OP_DIV, on_cast(r, sc, dt), sd);                            /* scale / sqrt(var + eps) */
  int add = on_binary(r, SMELT_OP_SUB, on_cast(r, b, dt), on_binary(r, SMELT_OP_MUL, on_cast(r, m, dt), mul)); /* B - mean * mul */
  if (mul < 0 || add < 0) return SMELT_ERR;
  int y = on_binary(r, SMELT_OP_MUL, x, per_channel(r, mul, rank));
  return on_bind(r, 0, on_binary(r, SMELT_OP_ADD, y, per_channel(r, add, rank)));
}

/* ---- reductions ----------------------------------------------------------------------------- */
static int lower_reduce(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int rank = on_shape(r, x)->rank, keep = (int)on_att_i(r, "keepdims", 1);
  int64_t *axes = NULL;
  int na;
  if (on_has_in(r, 1)) { if ((na = on_const_ints(r, 1, "axes", &axes)) < 0) return SMELT_ERR; }
  else na = on_att_ints(r, "axes", &axes);
  if (na <= 0) {
    if (on_att_i(r, "noop_with_empty_axes", 0)) return on_bind(r, 0, x);
    na = 0;
  }
  for (int i = 0; i < na; i++)
    if (on_norm_axis(r, axes[i], rank) < 0) return SMELT_ERR;
  if (op == -1) { /* ReduceLogSumExp: m + log(sum(exp(x - m))), stable */
    int m = on_reduce(r, SMELT_OP_REDUCE_MAX, x, axes, na, 1);
    smelt_dtype dt = on_dtype(r, x);
    /* all -inf rows: subtract 0 instead of -inf */
    int safe = on_emit(r, SMELT_OP_WHERE, (int[]){on_unary(r, SMELT_OP_ISINF, m), on_scalar(r, dt, 0), m}, 3, NULL, 0, NULL);
    int s = on_reduce(r, SMELT_OP_REDUCE_SUM, on_unary(r, SMELT_OP_EXP, on_binary(r, SMELT_OP_SUB, x, safe)), axes, na, keep);
    int l = on_unary(r, SMELT_OP_LOG, s);
    int mk = keep ? safe : on_reduce(r, SMELT_OP_REDUCE_MAX, safe, axes, na, 0);
    return on_bind(r, 0, on_binary(r, SMELT_OP_ADD, l, mk));
  }
  return on_bind(r, 0, on_reduce(r, (smelt_op)op, x, axes, na, keep));
}

static int lower_argreduce(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  smelt_attr a[3] = {smelt_attr_int("axis", on_att_i(r, "axis", 0)), smelt_attr_int("keepdims", on_att_i(r, "keepdims", 1)),
                     smelt_attr_int("select_last_index", on_att_i(r, "select_last_index", 0))};
  if (on_norm_axis(r, a[0].i, on_shape(r, x)->rank) < 0) return SMELT_ERR;
  return on_bind(r, 0, on_emit(r, (smelt_op)op, &x, 1, a, 3, NULL));
}

/* Before opset 13 softmax flattens to [prod(:axis), prod(axis:)] and normalizes rows. */
static int lower_softmax(onnx_rd *r, int op) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  if (!smelt_dtype_is_float(on_dtype(r, x))) return on_err(r, "needs a float input");
  if (r->opset >= 13 || s->rank <= 1) {
    int64_t ax = on_att_i(r, "axis", -1);
    if (s->rank == 0) return on_err(r, "scalar input");
    if (on_norm_axis(r, ax, s->rank) < 0) return SMELT_ERR;
    smelt_attr a = smelt_attr_int("axis", ax);
    return on_bind(r, 0, on_emit(r, (smelt_op)op, &x, 1, &a, 1, NULL));
  }
  int64_t ax = on_att_i(r, "axis", 1);
  if (ax < 0) ax += s->rank;
  if (ax < 0 || ax >= s->rank) return on_err(r, "axis out of range");
  int64_t inner = 1;
  for (int i = (int)ax; i < s->rank; i++) {
    if (s->d[i].sym) return on_err(r, "dims from the axis on must be static");
    inner *= s->d[i].n;
  }
  int last_only = ax == s->rank - 1;
  smelt_shape f = {.rank = (int)ax + 1};
  for (int i = 0; i < ax; i++) f.d[i] = s->d[i];
  f.d[ax] = smelt_dim_c(inner);
  int v = last_only ? x : on_reshape(r, x, &f);
  smelt_attr a = smelt_attr_int("axis", -1);
  v = on_emit(r, (smelt_op)op, &v, 1, &a, 1, NULL);
  return on_bind(r, 0, last_only ? v : on_reshape(r, v, s));
}

/* ---- normalizations --------------------------------------------------------------------- */
/* mean and 1/sqrt(var + eps) over axes, kept as size-1 dims */
static int moments(onnx_rd *r, int x, const int64_t *axes, int na, double eps, int *mean, int *inv, int *centered) {
  smelt_dtype dt = on_dtype(r, x);
  *mean = on_reduce(r, SMELT_OP_REDUCE_MEAN, x, axes, na, 1);
  *centered = on_binary(r, SMELT_OP_SUB, x, *mean);
  int var = on_reduce(r, SMELT_OP_REDUCE_MEAN, on_binary(r, SMELT_OP_MUL, *centered, *centered), axes, na, 1);
  *inv = on_unary(r, SMELT_OP_RECIPROCAL, on_unary(r, SMELT_OP_SQRT, on_binary(r, SMELT_OP_ADD, var, on_scalar(r, dt, eps))));
  return *inv < 0 ? SMELT_ERR : 0;
}

static int lower_layernorm(onnx_rd *r, int arg) {
  int x = on_in(r, 0), sc = on_in(r, 1);
  if (x < 0 || sc < 0) return SMELT_ERR;
  int rank = on_shape(r, x)->rank;
  int ax = on_norm_axis(r, on_att_i(r, "axis", -1), rank);
  if (ax < 0) return SMELT_ERR;
  int64_t axes[SMELT_MAX_RANK];
  for (int i = ax; i < rank; i++) axes[i - ax] = i;
  int mean, inv, c;
  if (moments(r, x, axes, rank - ax, on_att_f(r, "epsilon", 1e-5), &mean, &inv, &c)) return SMELT_ERR;
  int y = on_binary(r, SMELT_OP_MUL, on_binary(r, SMELT_OP_MUL, c, inv), sc);
  if (on_has_in(r, 2)) y = on_binary(r, SMELT_OP_ADD, y, on_in(r, 2));
  if (on_bind(r, 0, y)) return SMELT_ERR;
  if (on_has_out(r, 1) && on_bind(r, 1, mean)) return SMELT_ERR;
  if (on_has_out(r, 2) && on_bind(r, 2, inv)) return SMELT_ERR;
  return 0;
}

static int lower_instancenorm(onnx_rd *r, int arg) {
  int x = on_in(r, 0), sc = on_in(r, 1), b = on_in(r, 2);
  if (x < 0 || sc < 0 || b < 0) return SMELT_ERR;
  int rank = on_shape(r, x)->rank;
  if (rank < 3) return on_err(r, "input needs rank >= 3");
  int64_t axes[SMELT_MAX_RANK];
  for (int i = 2; i < rank; i++) axes[i - 2] = i;
  int mean, inv, c;
  if (moments(r, x, axes, rank - 2, on_att_f(r, "epsilon", 1e-5), &mean, &inv, &c)) return SMELT_ERR;
  int y = on_binary(r, SMELT_OP_MUL, on_binary(r, SMELT_OP_MUL, c, inv), per_channel(r, sc, rank));
  return on_bind(r, 0, on_binary(r, SMELT_OP_ADD, y, per_channel(r, b, rank)));
}

/* (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9), as ONNX's function body defines it */
static int lower_mvn(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int64_t *axes, def[3] = {0, 2, 3};
  int na = on_att_ints(r, "axes", &axes);
  if (na < 0) { axes = def; na = 3; }
  smelt_dtype dt = on_dtype(r, x);
  int m = on_reduce(r, SMELT_OP_REDUCE_MEAN, x, axes, na, 1);
  int m2 = on_reduce(r, SMELT_OP_REDUCE_MEAN, on_binary(r, SMELT_OP_MUL, x, x), axes, na, 1);
  int var = on_binary(r, SMELT_OP_SUB, m2, on_binary(r, SMELT_OP_MUL, m, m));
  int sd = on_binary(r, SMELT_OP_ADD, on_unary(r, SMELT_OP_SQRT, var), on_scalar(r, dt, 1e-9));
  return on_bind(r, 0, on_binary(r, SMELT_OP_DIV, on_binary(r, SMELT_OP_SUB, x, m), sd));
}

/* Y = X / (bias + alpha/size * sum of X^2 over a window of channels)^beta; the window
 * sum is an average pool over [C, H*W] with count_include_pad, times size. */
static int lower_lrn(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  if (s->rank < 3 || !smelt_shape_is_static(s)) return on_err(r, "needs a static input of rank >= 3");
  int64_t size = on_att_i(r, "size", 0);
  if (size <= 0) return on_err(r, "size must be positive");
  double alpha = on_att_f(r, "alpha", 1e-4), beta = on_att_f(r, "beta", 0.75), bias = on_att_f(r, "bias", 1);
  smelt_dtype dt = on_dtype(r, x);
  int64_t N = s->d[0].n, C = s->d[1].n, HW = 1;
  for (int i = 2; i < s->rank; i++) HW *= s->d[i].n;
  smelt_shape p = {.rank = 4, .d = {smelt_dim_c(N), smelt_dim_c(1), smelt_dim_c(C), smelt_dim_c(HW)}};
  int sq = on_reshape(r, on_binary(r, SMELT_OP_MUL, x, x), &p);
  int64_t k[2] = {size, 1}, st[2] = {1, 1}, dl[2] = {1, 1}, pd[4] = {(size - 1) / 2, 0, size - 1 - (size - 1) / 2, 0};
  smelt_attr a[6] = {smelt_attr_ints(r->cx, "kernel", k, 2), smelt_attr_ints(r->cx, "strides", st, 2), smelt_attr_ints(r->cx, "pads", pd, 4),
                     smelt_attr_ints(r->cx, "dilations", dl, 2), smelt_attr_int("ceil_mode", 0), smelt_attr_int("count_include_pad", 1)};
  int avg = on_emit(r, SMELT_OP_AVG_POOL, &sq, 1, a, 6, NULL);
  int sum = on_reshape(r, avg, s);
  int den = on_binary(r, SMELT_OP_ADD, on_scalar(r, dt, bias), on_binary(r, SMELT_OP_MUL, sum, on_scalar(r, dt, alpha)));
  den = on_binary(r, SMELT_OP_POW, den, on_scalar(r, dt, beta));
  return on_bind(r, 0, on_binary(r, SMELT_OP_DIV, x, den));
}

/* ---- losses ------------------------------------------------------------------------------- */
/* loss[n, d..] = -w[t] * input[n, t, d..] with t = target[n, d..], selected through a
 * one-hot mask (Equal of the target with 0..C-1) so no gather op is needed;
 * entries equal to ignore_index weigh 0.  reduction: none | sum | mean (weighted). */
static int nll(onnx_rd *r, int input, int target, int weight, int *out) {
  const smelt_shape *s = on_shape(r, input);
  if (s->rank < 2 || s->d[1].sym) return on_err(r, "input must be [N, C, ...] with static C");
  smelt_dtype dt = on_dtype(r, input);
  int64_t C = s->d[1].n;
  const char *red = on_att_s(r, "reduction", "mean");
  if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean")) return on_err(r, "unknown reduction '%s'", red);
  target = on_cast(r, target, SMELT_DT_I64);
  /* one-hot over axis 1: Equal(target[n,1,d..], iota[1,C,1..]) */
  smelt_shape ts = *on_shape(r, target), tu = {.rank = ts.rank + 1};
  tu.d[0] = ts.d[0];
  tu.d[1] = smelt_dim_c(1);
  for (int i = 1; i < ts.rank; i++) tu.d[i + 1] = ts.d[i];
  int64_t *iota = smelt_alloc(r->cx, sizeof(int64_t) * C);
  if (!iota) return SMELT_ERR;
  for (int64_t i = 0; i < C; i++) iota[i] = i;
  smelt_shape is = {.rank = tu.rank};
  for (int i = 0; i < is.rank; i++) is.d[i] = smelt_dim_c(i == 1 ? C : 1);
  int onehot = on_cast(r, on_binary(r, SMELT_OP_EQUAL, on_reshape(r, target, &tu), on_const_tensor(r, SMELT_DT_I64, &is, iota)), dt);
  int64_t ax1 = 1;
  int picked = on_reduce(r, SMELT_OP_REDUCE_SUM, on_binary(r, SMELT_OP_MUL, input, onehot), &ax1, 1, 0);
  int w;
  if (weight >= 0) {
    smelt_shape ws = {.rank = tu.rank};
    for (int i = 0; i < ws.rank; i++) ws.d[i] = smelt_dim_c(i == 1 ? C : 1);
    w = on_reduce(r, SMELT_OP_REDUCE_SUM, on_binary(r, SMELT_OP_MUL, onehot, on_reshape(r, weight, &ws)), &ax1, 1, 0);
  } else {
    w = on_emit(r, SMELT_OP_EXPAND, (int[]){on_scalar(r, dt, 1)}, 1, NULL, 0, &ts);
  }
  const Onnx__AttributeProto *ii = on_att(r, "ignore_index");
  if (ii) {
    int keep = on_unary(r, SMELT_OP_NOT, on_binary(r, SMELT_OP_EQUAL, target, on_scalar(r, SMELT_DT_I64, (double)ii->i)));
    w = on_binary(r, SMELT_OP_MUL, w, on_cast(r, keep, dt));
  }
  int loss = on_unary(r, SMELT_OP_NEG, on_binary(r, SMELT_OP_MUL, picked, w));
  if (loss < 0) return SMELT_ERR;
  if (!strcmp(red, "none")) { *out = loss; return 0; }
  int64_t all[SMELT_MAX_RANK];
  for (int i = 0; i < ts.rank; i++) all[i] = i;
  int sum = on_reduce(r, SMELT_OP_REDUCE_SUM, loss, all, ts.rank, 0);
  if (!strcmp(red, "sum")) { *out = sum; return sum < 0 ? SMELT_ERR : 0; }
  *out = on_binary(r, SMELT_OP_DIV, sum, on_reduce(r, SMELT_OP_REDUCE_SUM, w, all, ts.rank, 0));
  return *out < 0 ? SMELT_ERR : 0;
}

static int lower_nll(onnx_rd *r, int arg) {
  int x = on_in(r, 0), t = on_in(r, 1), w = on_has_in(r, 2) ? on_in(r, 2) : -1, out;
  if (x < 0 || t < 0 || (on_has_in(r, 2) && w < 0)) return SMELT_ERR;
  if (nll(r, x, t, w, &out)) return SMELT_ERR;
  return on_bind(r, 0, out);
}

static int lower_sce(onnx_rd *r, int arg) {
  int x = on_in(r, 0), t = on_in(r, 1), w = on_has_in(r, 2) ? on_in(r, 2) : -1, out;
  if (x < 0 || t < 0 || (on_has_in(r, 2) && w < 0)) return SMELT_ERR;
  smelt_attr a = smelt_attr_int("axis", 1);
  if (on_shape(r, x)->rank < 2) return on_err(r, "scores must be [N, C, ...]");
  int lp = on_emit(r, SMELT_OP_LOG_SOFTMAX, &x, 1, &a, 1, NULL);
  if (lp < 0 || nll(r, lp, t, w, &out)) return SMELT_ERR;
  if (on_bind(r, 0, out)) return SMELT_ERR;
  return bind_or(r, 1, lp);
}

const struct on_lowering on_lower_nn[] = {
    {"MatMul", lower_matmul, 0}, {"Gemm", lower_gemm, 0}, {"Conv", lower_conv, 0},
    {"AveragePool", lower_pool, SMELT_OP_AVG_POOL},
    {"GlobalAveragePool", lower_global_pool, SMELT_OP_REDUCE_MEAN}, {"GlobalMaxPool", lower_global_pool, SMELT_OP_REDUCE_MAX},
    {"BatchNormalization", lower_batchnorm, 0},
    {"ReduceSum", lower_reduce, SMELT_OP_REDUCE_SUM}, {"ReduceMean", lower_reduce, SMELT_OP_REDUCE_MEAN},
    {"ReduceMax", lower_reduce, SMELT_OP_REDUCE_MAX}, {"ReduceMin", lower_reduce, SMELT_OP_REDUCE_MIN},
    {"ReduceProd", lower_reduce, SMELT_OP_REDUCE_PROD}, {"ReduceL1", lower_reduce, SMELT_OP_REDUCE_L1},
    {"ReduceL2", lower_reduce, SMELT_OP_REDUCE_L2}, {"ReduceSumSquare", lower_reduce, SMELT_OP_REDUCE_SUMSQ},
    {"ReduceLogSum", lower_reduce, SMELT_OP_REDUCE_LOGSUM}, {"ReduceLogSumExp", lower_reduce, -1},
    {"ArgMax", lower_argreduce, SMELT_OP_ARGMAX}, {"ArgMin", lower_argreduce, SMELT_OP_ARGMIN},
    {"Softmax", lower_softmax, SMELT_OP_SOFTMAX}, {"LogSoftmax", lower_softmax, SMELT_OP_LOG_SOFTMAX},
    {"LayerNormalization", lower_layernorm, 0}, {"InstanceNormalization", lower_instancenorm, 0},
    {"MeanVarianceNormalization", lower_mvn, 0}, {"LRN", lower_lrn, 0},
    {"NegativeLogLikelihoodLoss", lower_nll, 0}, {"SoftmaxCrossEntropyLoss", lower_sce, 0},
    {NULL, NULL, 0},
};
