/* ir/shape.c — shape and dtype inference, one function per shape class of ops.def.
 *
 * shape_<class>(g, node) checks the node's input dtypes/shapes and sets its outputs'.
 * Dims may be symbolic: a symbol equals only itself, broadcasts against 1, and passes
 * through ops that do not need its value at compile time; anything else is an error
 * that names the symbol, so the user can fix it with --dim. */
#include "ir.h"
#include "rnn.h"
#include "pack.h"

#include <string.h>

#define V(i) (&g->values[n->in[i]])
#define OUT(i) (&g->values[n->out[i]])

static int fail(smelt_graph *g, const smelt_node *n, const char *msg) {
  return smelt_errorf(g->cx, "node '%s' (%s): %s", n->name, smelt_op_info(n->op)->name, msg);
}

static const char *symname(const smelt_graph *g, smelt_dim d) {
  return d.sym > 0 && d.sym <= g->nsyms ? g->syms[d.sym - 1].name : "?";
}

char *smelt_shape_str(const smelt_graph *g, const smelt_shape *s, char *buf, size_t n) {
  size_t k = 0;
  k += snprintf(buf + k, n - k, "[");
  for (int i = 0; i < s->rank && k < n; i++) {
    if (s->d[i].sym) k += snprintf(buf + k, n - k, "%s%s", i ? "," : "", g ? symname(g, s->d[i]) : "?");
    else k += snprintf(buf + k, n - k, "%s%lld", i ? "," : "", (long long)s->d[i].n);
  }
  if (k < n) snprintf(buf + k, n - k, "]");
  return buf;
}

int64_t smelt_shape_max_elems(const smelt_graph *g, const smelt_shape *s) {
  /* the product of the nonzero dims must fit too: code is generated over every
   * prefix and suffix of the dims, whatever a zero elsewhere makes the count */
  int64_t e = 1, zero = 0;
  for (int i = 0; i < s->rank; i++) {
    int64_t d = s->d[i].sym ? g->syms[s->d[i].sym - 1].max : s->d[i].n;
    if (d < 0) return SMELT_ERR;
    if (!d) { zero = 1; continue; }
    if (e > ((int64_t)1 << 62) / d) return SMELT_ERR;
    e *= d;
  }
  return zero ? 0 : e;
}

int smelt_shape_is_static(const smelt_shape *s) {
  for (int i = 0; i < s->rank; i++)
    if (s->d[i].sym) return 0;
  return 1;
}

int smelt_shape_eq(const smelt_shape *a, const smelt_shape *b) {
  if (a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (!smelt_dim_eq(a->d[i], b->d[i])) return 0;
  return 1;
}

void smelt_shape_resolve(const smelt_shape *s, const int64_t *symvals, int64_t *dims) {
  for (int i = 0; i < s->rank; i++) dims[i] = s->d[i].sym ? symvals[s->d[i].sym - 1] : s->d[i].n;
}

/* The op's scalar formula must exist for the dtype class of its operands. */
static int check_expr_dtype(smelt_graph *g, const smelt_node *n, smelt_dtype dt) {
  const struct smelt_opinfo *oi = smelt_op_info(n->op);
  const char *e = smelt_dtype_is_float(dt) ? oi->fexpr : oi->iexpr;
  if (!strcmp(e, "0")) {
    char m[96];
    snprintf(m, sizeof m, "not defined for %s operands", smelt_dtype_name(dt));
    return fail(g, n, m);
  }
  return 0;
}

static int norm_axis(int64_t a, int r);

static int shape_same(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  if (strcmp(smelt_op_info(n->op)->kind, "softmax")) return check_expr_dtype(g, n, V(0)->dt);
  if (!smelt_dtype_is_float(V(0)->dt)) return fail(g, n, "needs a float input");
  if (norm_axis(smelt_attr_i(n, "axis"), V(0)->shape.rank) < 0) return fail(g, n, "axis out of range");
  return 0;
}

static int shape_same_bool(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  OUT(0)->dt = SMELT_DT_BOOL;
  OUT(0)->shape = V(0)->shape;
  return check_expr_dtype(g, n, V(0)->dt);
}

/* numpy broadcasting of inputs [first, first+count) into out */
static int broadcast(smelt_graph *g, const smelt_node *n, int first, int count, smelt_shape *out) {
  int rank = 0;
  for (int i = first; i < first + count; i++)
    if (V(i)->shape.rank > rank) rank = V(i)->shape.rank;
  out->rank = rank;
  for (int k = 0; k < rank; k++) {
    smelt_dim d = smelt_dim_c(1);
    for (int i = first; i < first + count; i++) {
      const smelt_shape *s = &V(i)->shape;
      int j = k - (rank - s->rank);
      if (j < 0) continue;
      smelt_dim e = s->d[j];
      if (smelt_dim_is(e, 1)) continue;
      if (smelt_dim_is(d, 1)) d = e;
      else if (!smelt_dim_eq(d, e)) {
        char a[128], b[128], m[300];
        snprintf(m, sizeof m, "cannot broadcast shapes %s and %s", smelt_shape_str(g, &V(first)->shape, a, sizeof a),
                 smelt_shape_str(g, s, b, sizeof b));
        return fail(g, n, m);
      }
    }
    out->d[k] = d;
  }
  return 0;
}

static int same_dtypes(smelt_graph *g, const smelt_node *n, int first, int count) {
  for (int i = first + 1; i < first + count; i++)
    if (V(i)->dt != V(first)->dt) {
      char m[128];
      snprintf(m, sizeof m, "operands have different dtypes (%s and %s)", smelt_dtype_name(V(first)->dt), smelt_dtype_name(V(i)->dt));
      return fail(g, n, m);
    }
  return 0;
}

static int shape_broadcast(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (same_dtypes(g, n, 0, n->nin) || check_expr_dtype(g, n, V(0)->dt)) return SMELT_ERR;
  OUT(0)->dt = V(0)->dt;
  return broadcast(g, n, 0, n->nin, &OUT(0)->shape);
}

static int shape_compare(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (same_dtypes(g, n, 0, n->nin) || check_expr_dtype(g, n, V(0)->dt)) return SMELT_ERR;
  OUT(0)->dt = SMELT_DT_BOOL;
  return broadcast(g, n, 0, n->nin, &OUT(0)->shape);
}

static int shape_where(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (V(0)->dt != SMELT_DT_BOOL) return fail(g, n, "condition must be bool");
  if (same_dtypes(g, n, 1, 2)) return SMELT_ERR;
  OUT(0)->dt = V(1)->dt;
  return broadcast(g, n, 0, 3, &OUT(0)->shape);
}

static int shape_cast(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  int64_t to = smelt_attr_i(n, "to");
  if (to < 0 || to >= SMELT_DT_COUNT) return fail(g, n, "bad target dtype");
  OUT(0)->dt = (smelt_dtype)to;
  OUT(0)->shape = V(0)->shape;
  return 0;
}

/* Normalizes axis a (may be negative) against rank r; SMELT_ERR if out of range. */
static int norm_axis(int64_t a, int r) {
  if (a < 0) a += r;
  return a < 0 || a >= r ? SMELT_ERR : (int)a;
}

static int shape_reduce(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *s = &V(0)->shape;
  const int64_t *axes;
  int na = smelt_attr_ints_get(n, "axes", &axes);
  int keep = (int)smelt_attr_i(n, "keepdims");
  int red[SMELT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a = norm_axis(axes[i], s->rank);
    if (a < 0) return fail(g, n, "axis out of range");
    red[a] = 1;
  }
  if (na == 0)
    for (int i = 0; i < s->rank; i++) red[i] = 1;
  if (check_expr_dtype(g, n, V(0)->dt)) return SMELT_ERR;
  smelt_shape o = {0};
  for (int i = 0; i < s->rank; i++) {
    if (red[i] && s->d[i].sym) {
      char m[128];
      snprintf(m, sizeof m, "reducing over symbolic dim '%s' is not supported; fix it with --dim", symname(g, s->d[i]));
      return fail(g, n, m);
    }
    if (!red[i]) o.d[o.rank++] = s->d[i];
    else if (keep) o.d[o.rank++] = smelt_dim_c(1);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_argreduce(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *s = &V(0)->shape;
  int a = norm_axis(smelt_attr_i(n, "axis"), s->rank);
  if (a < 0) return fail(g, n, "axis out of range");
  if (check_expr_dtype(g, n, V(0)->dt)) return SMELT_ERR;
  smelt_shape o = {0};
  for (int i = 0; i < s->rank; i++) {
    if (i != a) o.d[o.rank++] = s->d[i];
    else if (smelt_attr_i(n, "keepdims")) o.d[o.rank++] = smelt_dim_c(1);
  }
  OUT(0)->dt = SMELT_DT_I64;
  OUT(0)->shape = o;
  return 0;
}

/* MatMul by a weight stored as blocks (or f16 / bf16 under f32 activations): B is
 * [N, K] with trans_b = 1, K a whole number of blocks; A is f32 [..., M, K] (any
 * leading dims, M may be symbolic); Y is f32 [..., M, N]. */
static int shape_matmul_weight(smelt_graph *g, smelt_node *n) {
  const smelt_shape *a = &V(0)->shape, *b = &V(1)->shape;
  const char *bt = smelt_dtype_name(V(1)->dt);
  char m[160];
  if (V(0)->dt != SMELT_DT_F32) {
    snprintf(m, sizeof m, "a %s weight needs f32 activations, not %s", bt, smelt_dtype_name(V(0)->dt));
    return fail(g, n, m);
  }
  if (b->rank != 2 || !smelt_attr_i(n, "trans_b")) {
    snprintf(m, sizeof m, "a %s weight must be [N, K] with trans_b=1", bt);
    return fail(g, n, m);
  }
  if (b->d[0].sym || b->d[1].sym) return fail(g, n, "weight shape must be constant");
  int64_t K = b->d[1].n, blk = smelt_dtype_blk(V(1)->dt);
  if (K % blk) {
    snprintf(m, sizeof m, "K = %lld is not a whole number of %s blocks of %lld", (long long)K, bt, (long long)blk);
    return fail(g, n, m);
  }
  if (!smelt_dim_eq(a->d[a->rank - 1], b->d[1])) return fail(g, n, "inner dimensions differ");
  smelt_shape o = *a;
  o.d[a->rank - 1] = b->d[0];
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = o;
  return 0;
}

/* QMatMul (ops.def): A f32 [.., K], W and S as the scheme says; Y f32 [.., N] */
static int shape_qmatmul(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *a = &V(0)->shape, *w = &V(1)->shape, *s = &V(2)->shape;
  const char *sch = smelt_attr_s(n, "scheme");
  int i8 = !strcmp(sch, "int8");
  if (!i8 && strcmp(sch, "int4") && strcmp(sch, "nf4")) return fail(g, n, "scheme must be int8, int4 or nf4");
  if (V(0)->dt != SMELT_DT_F32 || V(2)->dt != SMELT_DT_F32) return fail(g, n, "A and the scales must be f32");
  if (V(1)->dt != (i8 ? SMELT_DT_I8 : SMELT_DT_U8)) return fail(g, n, i8 ? "an int8 weight must be i8" : "a 4-bit weight must be u8");
  if (a->rank < 1 || w->rank != 2) return fail(g, n, "A needs rank >= 1 and W rank 2");
  smelt_dim kd = a->d[a->rank - 1];
  if (kd.sym || w->d[0].sym || w->d[1].sym) return fail(g, n, "K and the weight's shape must be constant");
  int64_t K = kd.n, N = w->d[0].n, G = smelt_attr_i(n, "group");
  if (K < 1 || K > 131072) return fail(g, n, "K must be 1..131072 (int32 accumulation)");
  if (i8) {
    if (w->d[1].n != K || s->rank != 1 || s->d[0].sym || s->d[0].n != N) return fail(g, n, "int8 wants W [N, K] and S [N]");
  } else {
    if (G < 1 || K % G) return fail(g, n, "group must divide K");
    if (w->d[1].n != (K + 1) / 2 || s->rank != 2 || s->d[0].sym || s->d[1].sym || s->d[0].n != N || s->d[1].n != K / G)
      return fail(g, n, "a 4-bit scheme wants W [N, (K+1)/2] and S [N, K/group]");
  }
  smelt_shape o = *a;
  o.d[a->rank - 1] = w->d[0];
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = o;
  return 0;
}

/* MatMul by a weight in panels (pack = P > 0, ir/pack.h): A f32 [..., M, K], B f32 or
 * f16 [K, N] constant-sized with trans_b = 0; Y f32 [..., M, N] */
static int shape_matmul_packed(smelt_graph *g, smelt_node *n) {
  const smelt_shape *a = &V(0)->shape, *b = &V(1)->shape;
  int64_t P = smelt_attr_i(n, "pack");
  if (P < 1 || P > SMELT_PACK_MAX) return fail(g, n, "pack must be 0 or a panel width of 1..64");
  if (V(0)->dt != SMELT_DT_F32 || (V(1)->dt != SMELT_DT_F32 && V(1)->dt != SMELT_DT_F16)) return fail(g, n, "a packed weight is f32 or f16, under f32 A");
  if (b->rank != 2 || smelt_attr_i(n, "trans_b")) return fail(g, n, "a packed weight is [K, N] with trans_b=0");
  if (b->d[0].sym || b->d[1].sym) return fail(g, n, "weight shape must be constant");
  if (!smelt_dim_eq(a->d[a->rank - 1], b->d[0])) return fail(g, n, "inner dimensions differ");
  smelt_shape o = *a;
  o.d[a->rank - 1] = b->d[1];
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = o;
  return 0;
}

static int shape_matmul(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *a = &V(0)->shape, *b = &V(1)->shape;
  if (a->rank < 2 || b->rank < 2) return fail(g, n, "operands need rank >= 2");
  if (smelt_attr_i(n, "pack")) return shape_matmul_packed(g, n);
  if (smelt_dtype_is_block(V(0)->dt)) return fail(g, n, "block-quantized values can only be B, the weight");
  if (smelt_dtype_is_weight_for(V(0)->dt, V(1)->dt)) return shape_matmul_weight(g, n);
  if (same_dtypes(g, n, 0, 2)) return SMELT_ERR;
  if (V(0)->dt == SMELT_DT_BOOL) return fail(g, n, "bool operands");
  int tb = (int)smelt_attr_i(n, "trans_b");
  smelt_dim k1 = a->d[a->rank - 1], k2 = tb ? b->d[b->rank - 1] : b->d[b->rank - 2];
  smelt_dim nn = tb ? b->d[b->rank - 2] : b->d[b->rank - 1];
  if (!smelt_dim_eq(k1, k2)) return fail(g, n, "inner dimensions differ");
  /* batch dims broadcast like elementwise operands */
  int rank = a->rank > b->rank ? a->rank : b->rank;
  smelt_shape o = {.rank = rank};
  for (int k = 0; k < rank - 2; k++) {
    int ja = k - (rank - a->rank), jb = k - (rank - b->rank);
    smelt_dim da = ja >= 0 ? a->d[ja] : smelt_dim_c(1), db = jb >= 0 ? b->d[jb] : smelt_dim_c(1);
    if (smelt_dim_is(da, 1)) o.d[k] = db;
    else if (smelt_dim_is(db, 1) || smelt_dim_eq(da, db)) o.d[k] = da;
    else return fail(g, n, "batch dimensions do not broadcast");
  }
  o.d[rank - 2] = a->d[a->rank - 2];
  o.d[rank - 1] = nn;
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

/* Spatial output size of a window op; SMELT_ERR when the window does not fit. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, int ceil_mode) {
  int64_t span = d * (k - 1) + 1, num = in + pb + pe - span;
  if (num < 0 || s <= 0) return SMELT_ERR;
  return (ceil_mode ? (num + s - 1) / s : num / s) + 1;
}

static int window_attrs(smelt_graph *g, const smelt_node *n, int nsp, const int64_t **k, const int64_t **s,
                        const int64_t **p, const int64_t **d) {
  int nk = k ? smelt_attr_ints_get(n, "kernel", k) : nsp;
  if (smelt_attr_ints_get(n, "strides", s) != nsp || smelt_attr_ints_get(n, "pads", p) != 2 * nsp ||
      smelt_attr_ints_get(n, "dilations", d) != nsp || nk != nsp)
    return fail(g, n, "strides/pads/dilations/kernel do not match the spatial rank");
  const int64_t big = (int64_t)1 << 30; /* keeps d * (k - 1) + pads far from overflow */
  for (int i = 0; i < nsp; i++) {
    if ((*s)[i] <= 0 || (*d)[i] <= 0 || (*p)[i] < 0 || (*p)[nsp + i] < 0 || (k && (*k)[i] <= 0))
      return fail(g, n, "non-positive stride/dilation/kernel or negative pad");
    if ((*s)[i] > big || (*d)[i] > big || (*p)[i] > big || (*p)[nsp + i] > big || (k && (*k)[i] > big))
      return fail(g, n, "stride/dilation/kernel/pad above 2^30");
  }
  return 0;
}

/* A Conv with wino = m (ir/wino.h): X [N, C, H, W], U [(m+2)², C, M] f32, a 3x3 kernel of
 * stride 1, dilation 1 and one group; the output is that of the 3x3 convolution. */
static int shape_conv_wino(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *w = &V(1)->shape;
  int64_t m = smelt_attr_i(n, "wino"), A = m + 2;
  if (m != 2 && m != 4) return fail(g, n, "wino must be 0, 2 or 4");
  if (x->rank != 4 || w->rank != 3) return fail(g, n, "wino needs a 2-D input and a weight [(wino+2)^2, C, M]");
  if (V(0)->dt != SMELT_DT_F32 || V(1)->dt != SMELT_DT_F32 || (n->nin == 3 && V(2)->dt != SMELT_DT_F32)) return fail(g, n, "wino needs f32 operands");
  for (int i = 1; i < 4; i++)
    if (x->d[i].sym) return fail(g, n, "only the batch dim may be symbolic");
  for (int i = 0; i < 3; i++)
    if (w->d[i].sym) return fail(g, n, "weight shape must be constant");
  if (w->d[0].n != A * A || w->d[1].n != x->d[1].n) return fail(g, n, "wino weight must be [(wino+2)^2, C, M]");
  if (smelt_attr_i(n, "group") != 1) return fail(g, n, "wino needs group 1");
  const int64_t *s, *p, *d;
  if (window_attrs(g, n, 2, NULL, &s, &p, &d)) return SMELT_ERR;
  if (s[0] != 1 || s[1] != 1 || d[0] != 1 || d[1] != 1) return fail(g, n, "wino needs strides and dilations 1");
  if (n->nin == 3 && (V(2)->shape.rank != 1 || !smelt_dim_is(V(2)->shape.d[0], w->d[2].n))) return fail(g, n, "bias must be [M]");
  smelt_shape o = {.rank = 4};
  o.d[0] = x->d[0];
  o.d[1] = w->d[2];
  for (int i = 0; i < 2; i++) {
    int64_t v = window_out(x->d[2 + i].n, 3, 1, 1, p[i], p[2 + i], 0);
    if (v < 1) return fail(g, n, "kernel larger than the padded input");
    o.d[2 + i] = smelt_dim_c(v);
  }
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = o;
  return 0;
}

static int shape_conv(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (smelt_attr_i(n, "wino")) return shape_conv_wino(g, ni);
  const smelt_shape *x = &V(0)->shape, *w = &V(1)->shape;
  int nsp = x->rank - 2;
  if (nsp < 1 || w->rank != x->rank) return fail(g, n, "input and weight need equal rank >= 3");
  if (!smelt_dtype_is_float(V(0)->dt) && V(0)->dt != SMELT_DT_I32) return fail(g, n, "needs float or i32 operands");
  if (same_dtypes(g, n, 0, n->nin)) return SMELT_ERR;
  for (int i = 1; i < x->rank; i++)
    if (x->d[i].sym) return fail(g, n, "only the batch dim may be symbolic");
  for (int i = 0; i < w->rank; i++)
    if (w->d[i].sym) return fail(g, n, "weight shape must be constant");
  int64_t grp = smelt_attr_i(n, "group");
  if (grp <= 0 || x->d[1].n % grp || w->d[0].n % grp || w->d[1].n * grp != x->d[1].n)
    return fail(g, n, "channels do not match weight and group");
  if (n->nin == 3 && (V(2)->shape.rank != 1 || !smelt_dim_is(V(2)->shape.d[0], w->d[0].n)))
    return fail(g, n, "bias must be [M]");
  const int64_t *s, *p, *d;
  if (window_attrs(g, n, nsp, NULL, &s, &p, &d)) return SMELT_ERR;
  smelt_shape o = {.rank = x->rank};
  o.d[0] = x->d[0];
  o.d[1] = w->d[0];
  for (int i = 0; i < nsp; i++) {
    int64_t v = window_out(x->d[2 + i].n, w->d[2 + i].n, s[i], d[i], p[i], p[nsp + i], 0);
    if (v < 1) return fail(g, n, "kernel larger than the padded input");
    o.d[2 + i] = smelt_dim_c(v);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

/* QConv(X f32, W, B f32 [M], S f32): a Conv whose weight rows (one per output channel,
 * R = C/group * prod(kernel) values in [ci][k...] order) are quantized per `scheme`:
 * f16 / q8_0 / q4_0 store W [M, R] in that dtype (no S), int8 W i8 [M, R] with
 * S [M], int4 / nf4 W u8 [M, (R+1)/2] with S [M, R/qgroup] (compiler/quantizers.h). */
static int shape_qconv(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *w = &V(1)->shape, *b = &V(2)->shape;
  int nsp = x->rank - 2;
  if (nsp < 1) return fail(g, n, "input needs rank >= 3");
  if (V(0)->dt != SMELT_DT_F32 || V(2)->dt != SMELT_DT_F32 || (n->nin > 3 && V(3)->dt != SMELT_DT_F32))
    return fail(g, n, "X, B and the scales must be f32");
  for (int i = 1; i < x->rank; i++)
    if (x->d[i].sym) return fail(g, n, "only the batch dim may be symbolic");
  if (w->rank != 2 || w->d[0].sym || w->d[1].sym) return fail(g, n, "W must be [M, row] with a constant shape");
  const int64_t *k, *s, *p, *d;
  if (window_attrs(g, n, nsp, &k, &s, &p, &d)) return SMELT_ERR;
  int64_t grp = smelt_attr_i(n, "group"), M = w->d[0].n, C = x->d[1].n, R;
  if (grp <= 0 || C % grp || M % grp) return fail(g, n, "channels do not match the group");
  R = C / grp;
  for (int i = 0; i < nsp; i++) {
    if (R > 16384 / k[i]) return fail(g, n, "a weight row must hold at most 16384 values");
    R *= k[i];
  }
  if (R > 16384) return fail(g, n, "a weight row must hold at most 16384 values");
  if (b->rank != 1 || !smelt_dim_is(b->d[0], M)) return fail(g, n, "bias must be [M]");
  const char *sch = smelt_attr_s(n, "scheme");
  smelt_dtype wdt = V(1)->dt;
  int64_t G = smelt_attr_i(n, "qgroup");
  if (!strcmp(sch, "f16") || !strcmp(sch, "q8_0") || !strcmp(sch, "q4_0")) {
    smelt_dtype want = sch[0] == 'f' ? SMELT_DT_F16 : sch[1] == '8' ? SMELT_DT_Q8_0 : SMELT_DT_Q4_0;
    if (wdt != want || n->nin != 3) return fail(g, n, "f16 / q8_0 / q4_0 want W of that dtype and no scales");
    if (w->d[1].n != R || (want != SMELT_DT_F16 && R % 32)) return fail(g, n, "W must be [M, row] (row a multiple of 32 for blocks)");
  } else if (!strcmp(sch, "int8")) {
    if (wdt != SMELT_DT_I8 || n->nin != 4 || w->d[1].n != R || V(3)->shape.rank != 1 || !smelt_dim_is(V(3)->shape.d[0], M))
      return fail(g, n, "int8 wants W i8 [M, row] and S [M]");
  } else if (!strcmp(sch, "int4") || !strcmp(sch, "nf4")) {
    const smelt_shape *ss = &V(3)->shape;
    if (n->nin != 4 || G < 1 || R % G) return fail(g, n, "a 4-bit scheme needs scales and a qgroup dividing the row");
    if (wdt != SMELT_DT_U8 || w->d[1].n != (R + 1) / 2 || ss->rank != 2 || !smelt_dim_is(ss->d[0], M) || !smelt_dim_is(ss->d[1], R / G))
      return fail(g, n, "a 4-bit scheme wants W u8 [M, (row+1)/2] and S [M, row/qgroup]");
  } else {
    return fail(g, n, "scheme must be f16, q8_0, q4_0, int8, int4 or nf4");
  }
  smelt_shape o = {.rank = x->rank};
  o.d[0] = x->d[0];
  o.d[1] = w->d[0];
  for (int i = 0; i < nsp; i++) {
    int64_t v = window_out(x->d[2 + i].n, k[i], s[i], d[i], p[i], p[nsp + i], 0);
    if (v < 1) return fail(g, n, "kernel larger than the padded input");
    o.d[2 + i] = smelt_dim_c(v);
  }
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = o;
  return 0;
}

static int shape_pool(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  int nsp = x->rank - 2;
  if (nsp < 1) return fail(g, n, "input needs rank >= 3");
  if (n->op != SMELT_OP_MAX_POOL && !smelt_dtype_is_float(V(0)->dt)) return fail(g, n, "needs a float input");
  for (int i = 2; i < x->rank; i++)
    if (x->d[i].sym) return fail(g, n, "spatial dims must be constant");
  const int64_t *k, *s, *p, *d;
  if (window_attrs(g, n, nsp, &k, &s, &p, &d)) return SMELT_ERR;
  int ceil_mode = (int)smelt_attr_i(n, "ceil_mode");
  smelt_shape o = *x;
  for (int i = 0; i < nsp; i++) {
    int64_t v = window_out(x->d[2 + i].n, k[i], s[i], d[i], p[i], p[nsp + i], ceil_mode);
    if (v < 1) return fail(g, n, "window larger than the padded input");
    /* with ceil_mode the last window must start inside the input or its begin pad */
    if (ceil_mode && (v - 1) * s[i] >= x->d[2 + i].n + p[i]) v--;
    o.d[2 + i] = smelt_dim_c(v);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  if (n->nout > 1 && n->out[1] >= 0) { /* MaxPool's indices */
    OUT(1)->dt = SMELT_DT_I64;
    OUT(1)->shape = o;
  }
  return 0;
}

/* The builder set output 0's shape; check it is a legal reshape/broadcast of input 0. */
static int shape_given(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *o = &OUT(0)->shape;
  OUT(0)->dt = V(0)->dt;
  if (smelt_shape_max_elems(g, o) < 0) return fail(g, n, "output too large");
  if (n->op == SMELT_OP_RESHAPE) {
    /* element counts must agree: equal constant products and equal symbol multisets */
    int64_t cx = 1, co = 1;
    int sx[64] = {0}, so[64] = {0};
    for (int i = 0; i < x->rank; i++) {
      if (x->d[i].sym) sx[x->d[i].sym & 63]++;
      else cx *= x->d[i].n;
    }
    for (int i = 0; i < o->rank; i++) {
      if (o->d[i].sym) so[o->d[i].sym & 63]++;
      else co *= o->d[i].n;
    }
    if (cx != co || memcmp(sx, so, sizeof sx)) return fail(g, n, "reshape changes the element count");
    return 0;
  }
  /* Expand: x broadcasts to o */
  if (x->rank > o->rank) return fail(g, n, "cannot expand to a lower rank");
  for (int i = 0; i < x->rank; i++) {
    smelt_dim a = x->d[i], b = o->d[o->rank - x->rank + i];
    if (!smelt_dim_is(a, 1) && !smelt_dim_eq(a, b)) return fail(g, n, "input does not broadcast to the output shape");
  }
  return 0;
}

static int shape_transpose(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  const int64_t *perm;
  int np = smelt_attr_ints_get(n, "perm", &perm);
  if (np != x->rank) return fail(g, n, "perm does not match the rank");
  int seen[SMELT_MAX_RANK] = {0};
  smelt_shape o = {.rank = x->rank};
  for (int i = 0; i < np; i++) {
    if (perm[i] < 0 || perm[i] >= np || seen[perm[i]]++) return fail(g, n, "perm is not a permutation");
    o.d[i] = x->d[perm[i]];
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_concat(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  int a = norm_axis(smelt_attr_i(n, "axis"), x->rank);
  if (a < 0) return fail(g, n, "axis out of range");
  if (same_dtypes(g, n, 0, n->nin)) return SMELT_ERR;
  smelt_shape o = *x;
  int64_t total = 0;
  for (int i = 0; i < n->nin; i++) {
    const smelt_shape *s = &V(i)->shape;
    if (s->rank != x->rank) return fail(g, n, "operands differ in rank");
    for (int k = 0; k < x->rank; k++)
      if (k != a && !smelt_dim_eq(s->d[k], x->d[k])) return fail(g, n, "operands differ off the concat axis");
    if (s->d[a].sym) {
      if (n->nin != 1) return fail(g, n, "cannot concatenate along a symbolic dim");
    } else if ((total += s->d[a].n) > ((int64_t)1 << 62)) return fail(g, n, "output too large");
  }
  if (!x->d[a].sym) o.d[a] = smelt_dim_c(total);
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_slice(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  const int64_t *st, *en, *sp;
  if (smelt_attr_ints_get(n, "starts", &st) != x->rank || smelt_attr_ints_get(n, "ends", &en) != x->rank ||
      smelt_attr_ints_get(n, "steps", &sp) != x->rank)
    return fail(g, n, "starts/ends/steps must give every axis");
  smelt_shape o = *x;
  for (int i = 0; i < x->rank; i++) {
    if (sp[i] == 0) return fail(g, n, "zero step");
    if (x->d[i].sym) {
      if (st[i] != 0 || sp[i] != 1 || en[i] < INT64_MAX / 2) return fail(g, n, "only full slices of symbolic dims are supported");
      continue;
    }
    int64_t d = x->d[i].n;
    if (sp[i] > 0 ? (st[i] < 0 || st[i] > d || en[i] < 0 || en[i] > d) : (st[i] < -1 || st[i] >= d || en[i] < -1 || en[i] >= d))
      if (!(sp[i] < 0 && d == 0)) return fail(g, n, "starts/ends not clamped to the dims");
    if (sp[i] > (d > 0 ? d : 1) || sp[i] < -(d > 0 ? d : 1)) return fail(g, n, "step larger than the dim (clamp it to the dim)");
    int64_t len = sp[i] > 0 ? (en[i] - st[i] + sp[i] - 1) / sp[i] : (st[i] - en[i] - sp[i] - 1) / -sp[i];
    o.d[i] = smelt_dim_c(len > 0 ? len : 0);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_gather(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape;
  int a = norm_axis(smelt_attr_i(n, "axis"), x->rank);
  if (a < 0) return fail(g, n, "axis out of range");
  if (V(1)->dt != SMELT_DT_I64 && V(1)->dt != SMELT_DT_I32) return fail(g, n, "indices must be i32 or i64");
  if (x->rank + ix->rank - 1 > SMELT_MAX_RANK) return fail(g, n, "result rank too large");
  /* rows of a weight table (blocks, f16, bf16: an embedding lookup) come out as f32 */
  if (smelt_dtype_is_block(V(0)->dt) && (x->rank != 2 || a != 0)) return fail(g, n, "a block-quantized table must be [rows, D] gathered on axis 0");
  smelt_shape o = {0};
  for (int i = 0; i < a; i++) o.d[o.rank++] = x->d[i];
  for (int i = 0; i < ix->rank; i++) o.d[o.rank++] = ix->d[i];
  for (int i = a + 1; i < x->rank; i++) o.d[o.rank++] = x->d[i];
  OUT(0)->dt = smelt_dtype_is_weight_for(SMELT_DT_F32, V(0)->dt) ? SMELT_DT_F32 : V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_pad(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  const int64_t *p;
  if (smelt_attr_ints_get(n, "pads", &p) != 2 * x->rank) return fail(g, n, "pads must give begin and end for every axis");
  const char *mode = smelt_attr_s(n, "mode");
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge")) return fail(g, n, "unknown pad mode");
  smelt_shape o = *x;
  for (int i = 0; i < x->rank; i++) {
    if (p[i] == 0 && p[x->rank + i] == 0) continue;
    if (p[i] > ((int64_t)1 << 48) || p[i] < -((int64_t)1 << 48) || p[x->rank + i] > ((int64_t)1 << 48) || p[x->rank + i] < -((int64_t)1 << 48))
      return fail(g, n, "pad beyond 2^48");
    if (x->d[i].sym) return fail(g, n, "cannot pad a symbolic dim");
    int64_t v = x->d[i].n + p[i] + p[x->rank + i];
    if (v < 0) return fail(g, n, "negative padded size");
    if (strcmp(mode, "constant") && (p[i] < 0 || p[x->rank + i] < 0)) return fail(g, n, "negative pads need constant mode");
    if (!strcmp(mode, "reflect") && (p[i] >= x->d[i].n || p[x->rank + i] >= x->d[i].n)) return fail(g, n, "reflect pad wider than the dim");
    if (!strcmp(mode, "edge") && x->d[i].n == 0) return fail(g, n, "edge pad of an empty dim");
    o.d[i] = smelt_dim_c(v);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

/* RNN / GRU / LSTM: the rules live in smelt_rnn_describe (ir/rnn.c).  Outputs: Y_h,
 * Y (may be absent), and Y_c for LSTM. */
static int shape_rnn(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  struct smelt_rnn r;
  char m[200];
  if (smelt_rnn_describe(g, n, &r, m, sizeof m)) return fail(g, n, m);
  smelt_dim D = smelt_dim_c(r.ndir), S = smelt_dim_c(r.seq), H = smelt_dim_c(r.hidden), N = r.batch;
  smelt_shape st = {.rank = 3, .d = {D, N, H}}, y = {.rank = 4, .d = {S, D, N, H}};
  if (r.layout) {
    st = (smelt_shape){.rank = 3, .d = {N, D, H}};
    y = (smelt_shape){.rank = 4, .d = {N, S, D, H}};
  }
  for (int o = 0; o < n->nout; o++) {
    if (n->out[o] < 0) continue;
    OUT(o)->dt = V(0)->dt;
    OUT(o)->shape = o == 1 ? y : st;
  }
  return 0;
}

/* ---- resize / transposed conv / pooling extras ---------------------------------- */
static int one_of(const char *s, const char *const *list) {
  for (; *list; list++)
    if (!strcmp(s, *list)) return 1;
  return 0;
}

static int shape_resize(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  int r = x->rank;
  const int64_t *sz;
  const smelt_attr *sc = smelt_node_attr(n, "scales"), *roi = smelt_node_attr(n, "roi");
  if (r < 1) return fail(g, n, "input needs rank >= 1");
  if (smelt_attr_ints_get(n, "sizes", &sz) != r || !sc || sc->n != r) return fail(g, n, "sizes and scales must give every axis");
  if (roi && roi->n != 0 && roi->n != 2 * r) return fail(g, n, "roi must be empty or give the starts and ends of every axis");
  static const char *const modes[] = {"nearest", "linear", "cubic", NULL};
  static const char *const coords[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
                                       "tf_half_pixel_for_nn", "tf_crop_and_resize", NULL};
  static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", "simple", NULL};
  const char *mode = smelt_attr_s(n, "mode"), *cm = smelt_attr_s(n, "coord");
  if (!one_of(mode, modes)) return fail(g, n, "unknown mode");
  if (!one_of(cm, coords)) return fail(g, n, "unknown coordinate transformation mode");
  if (!one_of(smelt_attr_s(n, "nearest_mode"), nearest)) return fail(g, n, "unknown nearest_mode");
  if (strcmp(mode, "nearest") && V(0)->dt == SMELT_DT_BOOL) return fail(g, n, "linear and cubic resize of bool");
  if (!strcmp(cm, "tf_crop_and_resize") && (!roi || roi->n != 2 * r)) return fail(g, n, "tf_crop_and_resize needs a roi");
  smelt_shape o = {.rank = r};
  for (int i = 0; i < r; i++) {
    double s = sc->fs[i];
    if (!(s > 0 && s < 1e12)) return fail(g, n, "scales must be positive");
    if (sz[i] == -1) { /* unchanged axis: any length, identity mapping */
      if (s != 1 || !strncmp(cm, "tf_", 3)) return fail(g, n, "an unchanged axis (size -1) needs scale 1 and a coordinate mode that maps it onto itself");
      o.d[i] = x->d[i];
      continue;
    }
    if (sz[i] < 0) return fail(g, n, "negative output size");
    if (x->d[i].sym) {
      char m[160];
      snprintf(m, sizeof m, "cannot resize along symbolic dim '%s'; fix it with --dim", symname(g, x->d[i]));
      return fail(g, n, m);
    }
    if (x->d[i].n == 0 && sz[i] != 0) return fail(g, n, "cannot resize an empty axis to a non-empty one");
    o.d[i] = smelt_dim_c(sz[i]);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_conv_transpose(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *w = &V(1)->shape;
  int nsp = x->rank - 2;
  if (nsp < 1 || w->rank != x->rank) return fail(g, n, "input and weight need equal rank >= 3");
  if (!smelt_dtype_is_float(V(0)->dt)) return fail(g, n, "needs float operands");
  if (same_dtypes(g, n, 0, n->nin)) return SMELT_ERR;
  for (int i = 1; i < x->rank; i++)
    if (x->d[i].sym) return fail(g, n, "only the batch dim may be symbolic");
  for (int i = 0; i < w->rank; i++)
    if (w->d[i].sym) return fail(g, n, "weight shape must be constant");
  int64_t grp = smelt_attr_i(n, "group");
  if (grp <= 0 || x->d[1].n % grp || w->d[0].n != x->d[1].n) return fail(g, n, "weight must be [C, M/group, k...] with C divisible by group");
  int64_t M = w->d[1].n * grp;
  if (n->nin == 3 && (V(2)->shape.rank != 1 || !smelt_dim_is(V(2)->shape.d[0], M))) return fail(g, n, "bias must be [M]");
  const int64_t *s, *p, *d;
  if (smelt_attr_ints_get(n, "strides", &s) != nsp || smelt_attr_ints_get(n, "pads", &p) != 2 * nsp ||
      smelt_attr_ints_get(n, "dilations", &d) != nsp)
    return fail(g, n, "strides/pads/dilations do not match the spatial rank");
  smelt_shape o = {.rank = x->rank};
  o.d[0] = x->d[0];
  o.d[1] = smelt_dim_c(M);
  for (int i = 0; i < nsp; i++) {
    int64_t in = x->d[2 + i].n, k = w->d[2 + i].n;
    if (s[i] <= 0 || d[i] <= 0 || s[i] > (1 << 20) || d[i] > (1 << 20) || p[i] < -(1 << 20) || p[i] > (1 << 20) ||
        p[nsp + i] < -(1 << 20) || p[nsp + i] > (1 << 20) || k > (1 << 20))
      return fail(g, n, "strides and dilations must be positive, pads sane");
    int64_t v = s[i] * (in - 1) + d[i] * (k - 1) + 1 - p[i] - p[nsp + i];
    if (in < 1 || k < 1 || v < 1) return fail(g, n, "empty input, kernel or output");
    o.d[2 + i] = smelt_dim_c(v);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_max_unpool(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape;
  const int64_t *sh;
  int r = smelt_attr_ints_get(n, "shape", &sh);
  if (V(1)->dt != SMELT_DT_I64 && V(1)->dt != SMELT_DT_I32) return fail(g, n, "indices must be i32 or i64");
  if (!smelt_shape_is_static(x) || !smelt_shape_eq(x, ix)) return fail(g, n, "X and indices need the same static shape");
  if (r < 1 || r > SMELT_MAX_RANK) return fail(g, n, "bad output shape");
  smelt_shape o = {.rank = r};
  for (int i = 0; i < r; i++) {
    if (sh[i] < 0) return fail(g, n, "negative output dim");
    o.d[i] = smelt_dim_c(sh[i]);
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_det(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  if (x->rank < 2) return fail(g, n, "input needs rank >= 2");
  if (!smelt_dtype_is_float(V(0)->dt)) return fail(g, n, "needs a float input");
  smelt_dim a = x->d[x->rank - 2], b = x->d[x->rank - 1];
  if (a.sym || b.sym || a.n != b.n) return fail(g, n, "matrices must be square with static dims");
  if (a.n > 64) return fail(g, n, "matrices larger than 64x64 are not supported");
  smelt_shape o = *x;
  o.rank -= 2;
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

/* ---- gather / scatter / index ops --------------------------------------------------- */
static int is_index_dt(smelt_dtype dt) { return dt == SMELT_DT_I64 || dt == SMELT_DT_I32; }

static int check_reduction(smelt_graph *g, const smelt_node *n, smelt_dtype dt) {
  const char *r = smelt_attr_s(n, "reduction");
  if (strcmp(r, "none") && strcmp(r, "add") && strcmp(r, "mul") && strcmp(r, "min") && strcmp(r, "max"))
    return fail(g, n, "reduction must be none, add, mul, min or max");
  if (strcmp(r, "none") && dt == SMELT_DT_BOOL) return fail(g, n, "reductions need numeric operands");
  return 0;
}

/* GatherElements / ScatterElements: indices of X's rank, no larger than X off the axis */
static int elements_indices(smelt_graph *g, const smelt_node *n, int *axis) {
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape;
  if (x->rank < 1) return fail(g, n, "needs an input of rank >= 1");
  int a = norm_axis(smelt_attr_i(n, "axis"), x->rank);
  if (a < 0) return fail(g, n, "axis out of range");
  if (!is_index_dt(V(1)->dt)) return fail(g, n, "indices must be i32 or i64");
  if (ix->rank != x->rank) return fail(g, n, "indices must have the input's rank");
  for (int k = 0; k < x->rank; k++) {
    if (k == a || smelt_dim_eq(ix->d[k], x->d[k])) continue;
    if (ix->d[k].sym || x->d[k].sym || ix->d[k].n > x->d[k].n) return fail(g, n, "indices larger than the input off the axis");
  }
  *axis = a;
  return 0;
}

static int shape_gather_elements(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  int a;
  if (elements_indices(g, n, &a)) return SMELT_ERR;
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(1)->shape;
  return 0;
}

static int shape_scatter_elements(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  int a;
  if (elements_indices(g, n, &a)) return SMELT_ERR;
  if (V(2)->dt != V(0)->dt) return fail(g, n, "updates must have the input's dtype");
  if (!smelt_shape_eq(&V(2)->shape, &V(1)->shape)) return fail(g, n, "updates must have the indices' shape");
  if (check_reduction(g, n, V(0)->dt)) return SMELT_ERR;
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  return 0;
}

/* GatherND / ScatterND: the length m of an index tuple (last dim of the indices) */
static int nd_tuple(smelt_graph *g, const smelt_node *n, int b, int64_t *m) {
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape;
  if (!is_index_dt(V(1)->dt)) return fail(g, n, "indices must be i32 or i64");
  if (x->rank < 1 || ix->rank < 1) return fail(g, n, "input and indices need rank >= 1");
  smelt_dim last = ix->d[ix->rank - 1];
  if (last.sym) return fail(g, n, "the last dim of the indices must be constant");
  if (last.n < 1 || last.n > x->rank - b) return fail(g, n, "index tuples longer than the input's rank");
  *m = last.n;
  return 0;
}

static int shape_gather_nd(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape;
  int64_t b = smelt_attr_i(n, "batch_dims"), m;
  if (b < 0 || b >= x->rank || b >= ix->rank) return fail(g, n, "batch_dims must be below both ranks");
  if (nd_tuple(g, n, (int)b, &m)) return SMELT_ERR;
  for (int k = 0; k < b; k++)
    if (!smelt_dim_eq(x->d[k], ix->d[k])) return fail(g, n, "batch dims of input and indices differ");
  if (ix->rank - 1 + x->rank - b - m > SMELT_MAX_RANK) return fail(g, n, "result rank too large");
  smelt_shape o = {0};
  for (int k = 0; k < ix->rank - 1; k++) o.d[o.rank++] = ix->d[k];
  for (int k = (int)(b + m); k < x->rank; k++) o.d[o.rank++] = x->d[k];
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_scatter_nd(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *ix = &V(1)->shape, *u = &V(2)->shape;
  int64_t m;
  if (nd_tuple(g, n, 0, &m)) return SMELT_ERR;
  if (V(2)->dt != V(0)->dt) return fail(g, n, "updates must have the input's dtype");
  if (check_reduction(g, n, V(0)->dt)) return SMELT_ERR;
  smelt_shape e = {0};
  if (ix->rank - 1 + x->rank - m > SMELT_MAX_RANK) return fail(g, n, "updates rank too large");
  for (int k = 0; k < ix->rank - 1; k++) e.d[e.rank++] = ix->d[k];
  for (int k = (int)m; k < x->rank; k++) e.d[e.rank++] = x->d[k];
  if (!smelt_shape_eq(u, &e)) return fail(g, n, "updates must have shape indices[:-1] + input[m:]");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = *x;
  return 0;
}

static int shape_trilu(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (V(0)->shape.rank < 2) return fail(g, n, "needs an input of rank >= 2");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  return 0;
}

static int shape_cumsum(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (norm_axis(smelt_attr_i(n, "axis"), V(0)->shape.rank) < 0) return fail(g, n, "axis out of range");
  if (V(0)->dt == SMELT_DT_BOOL) return fail(g, n, "needs a numeric input");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  return 0;
}

static int shape_one_hot(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *ix = &V(0)->shape, *v = &V(1)->shape;
  if (!is_index_dt(V(0)->dt)) return fail(g, n, "indices must be i32 or i64");
  if (v->rank != 1 || !smelt_dim_is(v->d[0], 2)) return fail(g, n, "values must be [off, on]");
  int64_t depth = smelt_attr_i(n, "depth");
  if (depth < 0) return fail(g, n, "negative depth");
  if (ix->rank + 1 > SMELT_MAX_RANK) return fail(g, n, "result rank too large");
  int a = norm_axis(smelt_attr_i(n, "axis"), ix->rank + 1);
  if (a < 0) return fail(g, n, "axis out of range");
  smelt_shape o = {.rank = ix->rank + 1};
  for (int k = 0, j = 0; k < o.rank; k++) o.d[k] = k == a ? smelt_dim_c(depth) : ix->d[j++];
  OUT(0)->dt = V(1)->dt;
  OUT(0)->shape = o;
  return 0;
}

static int shape_top_k(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  int a = norm_axis(smelt_attr_i(n, "axis"), x->rank);
  if (a < 0) return fail(g, n, "axis out of range");
  if (V(0)->dt == SMELT_DT_BOOL) return fail(g, n, "needs a numeric input");
  if (x->d[a].sym) return fail(g, n, "the axis dim must be constant");
  int64_t k = smelt_attr_i(n, "k");
  if (k < 0 || k > x->d[a].n) return fail(g, n, "k must be between 0 and the axis dim");
  smelt_shape o = *x;
  o.d[a] = smelt_dim_c(k);
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = o;
  OUT(1)->dt = SMELT_DT_I64;
  OUT(1)->shape = o;
  return 0;
}

static int shape_reverse_sequence(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape, *l = &V(1)->shape;
  int64_t b = smelt_attr_i(n, "batch_axis"), t = smelt_attr_i(n, "time_axis");
  if (x->rank < 2) return fail(g, n, "needs an input of rank >= 2");
  if (b < 0 || b > 1 || t < 0 || t > 1 || b == t) return fail(g, n, "batch_axis and time_axis must be 0 and 1");
  if (!is_index_dt(V(1)->dt)) return fail(g, n, "sequence lengths must be i32 or i64");
  if (l->rank != 1 || !smelt_dim_eq(l->d[0], x->d[b])) return fail(g, n, "sequence lengths must be [batch]");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = *x;
  return 0;
}

/* ---- decoder-only language models ------------------------------------------------ */
static int is_pos(const smelt_value *v) {
  return (v->dt == SMELT_DT_I32 || v->dt == SMELT_DT_I64) && smelt_shape_is_static(&v->shape) && smelt_shape_max_elems(NULL, &v->shape) == 1;
}

static int shape_llm_norm(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_shape *x = &V(0)->shape;
  if (x->rank < 1 || x->d[x->rank - 1].sym) return fail(g, n, "needs a static last dim");
  if (!smelt_dtype_is_float(V(0)->dt)) return fail(g, n, "needs a float input");
  for (int i = 1; i < n->nin; i++) {
    const smelt_shape *w = &V(i)->shape;
    if (w->rank != 1 || !smelt_dim_eq(w->d[0], x->d[x->rank - 1])) return fail(g, n, "weight and bias must be [last dim]");
    if (!smelt_dtype_is_float(V(i)->dt)) return fail(g, n, "weight and bias must be float");
  }
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = *x;
  return 0;
}

/* [n, heads, head_dim] with a static head_dim */
static int heads3(smelt_graph *g, const smelt_node *n, int i, const char *what) {
  const smelt_shape *s = &V(i)->shape;
  if (s->rank != 3 || s->d[1].sym || s->d[2].sym || !smelt_dtype_is_float(V(i)->dt)) {
    char m[96];
    snprintf(m, sizeof m, "%s must be float [n, heads, head_dim] with static heads and head_dim", what);
    return fail(g, n, m);
  }
  return 0;
}

static int shape_rope(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (heads3(g, n, 0, "X")) return SMELT_ERR;
  if (!is_pos(V(1))) return fail(g, n, "pos must be one i32 or i64");
  int64_t dims = smelt_attr_i(n, "dims"), D = V(0)->shape.d[2].n;
  if (dims <= 0 || dims > D || dims % 2) return fail(g, n, "dims must be even and at most head_dim");
  const char *sc = smelt_attr_s(n, "scaling");
  if (*sc && strcmp(sc, "linear") && strcmp(sc, "llama3")) return fail(g, n, "scaling must be empty, linear or llama3");
  if (smelt_attr_f(n, "theta") <= 0 || smelt_attr_f(n, "factor") <= 0) return fail(g, n, "theta and factor must be positive");
  const smelt_attr *fa = smelt_node_attr(n, "factors");
  if (fa && fa->n && fa->n != dims / 2) return fail(g, n, "factors must give one divisor per rotated pair");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  return 0;
}

static int shape_kv_write(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  const smelt_value *c = V(0);
  if (c->kind != SMELT_V_STATE && !(c->kind == SMELT_V_NODE && (smelt_op_flags(g->nodes[c->producer].op) & OPF_INPLACE)))
    return fail(g, n, "the cache must be a state (or its update)");
  if (c->shape.rank != 3 || !smelt_shape_is_static(&c->shape) || !smelt_dtype_is_float(c->dt)) return fail(g, n, "the cache must be float [ctx, kv_heads, head_dim]");
  if (heads3(g, n, 1, "X")) return SMELT_ERR;
  if (!smelt_dim_eq(V(1)->shape.d[1], c->shape.d[1]) || !smelt_dim_eq(V(1)->shape.d[2], c->shape.d[2])) return fail(g, n, "X's heads and head_dim differ from the cache's");
  if (!is_pos(V(2))) return fail(g, n, "pos must be one i32 or i64");
  OUT(0)->dt = c->dt;
  OUT(0)->shape = c->shape;
  return 0;
}

static int shape_attention(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (heads3(g, n, 0, "Q")) return SMELT_ERR;
  const smelt_shape *q = &V(0)->shape, *k = &V(1)->shape, *v = &V(2)->shape;
  if (k->rank != 3 || !smelt_shape_eq(k, v) || !smelt_shape_is_static(k) || !smelt_dtype_is_float(V(1)->dt) || V(1)->dt != V(2)->dt)
    return fail(g, n, "K and V must be float caches of one static shape [ctx, kv_heads, head_dim]");
  if (k->d[2].n != q->d[2].n) return fail(g, n, "head_dim of Q and K differ");
  if (k->d[1].n < 1 || q->d[1].n % k->d[1].n) return fail(g, n, "heads must be a multiple of kv_heads");
  if (!is_pos(V(3))) return fail(g, n, "pos must be one i32 or i64");
  if (smelt_attr_i(n, "window") < 0 || smelt_attr_f(n, "softcap") < 0) return fail(g, n, "negative window or softcap");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = *q;
  return 0;
}

static int shape_take_last(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (V(0)->shape.rank < 1) return fail(g, n, "needs rank >= 1");
  OUT(0)->dt = V(0)->dt;
  OUT(0)->shape = V(0)->shape;
  OUT(0)->shape.d[0] = smelt_dim_c(1);
  return 0;
}

static int shape_positions(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (!is_pos(V(0))) return fail(g, n, "pos must be one i32 or i64");
  if (V(1)->shape.rank < 1) return fail(g, n, "the second input needs rank >= 1");
  OUT(0)->dt = SMELT_DT_I32;
  OUT(0)->shape = (smelt_shape){.rank = 1, .d = {V(1)->shape.d[0]}};
  return 0;
}

/* LoRA(Y0 [.., M, N], X [.., M, K], A [r, K], B [N, r], S [nadapters]), all f32 */
static int shape_lora(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  for (int i = 0; i < 5; i++)
    if (V(i)->dt != SMELT_DT_F32) return fail(g, n, "operands must be f32");
  const smelt_shape *y = &V(0)->shape, *x = &V(1)->shape, *a = &V(2)->shape, *b = &V(3)->shape, *s = &V(4)->shape;
  if (y->rank < 1 || x->rank != y->rank || a->rank != 2 || b->rank != 2 || s->rank != 1) return fail(g, n, "expected Y0 [.., M, N], X [.., M, K], A [r, K], B [N, r], S [n]");
  for (int k = 0; k + 1 < y->rank; k++)
    if (!smelt_dim_eq(y->d[k], x->d[k])) return fail(g, n, "Y0 and X differ in leading dims");
  if (!smelt_dim_eq(a->d[1], x->d[x->rank - 1]) || !smelt_dim_eq(b->d[0], y->d[y->rank - 1]) || !smelt_dim_eq(a->d[0], b->d[1]))
    return fail(g, n, "A [r, K] and B [N, r] do not fit X [.., K] and Y0 [.., N]");
  if (a->d[0].sym || b->d[0].sym || a->d[1].sym || s->d[0].sym) return fail(g, n, "A, B and S need static shapes");
  int64_t k = smelt_attr_i(n, "adapter");
  if (k < 0 || k >= s->d[0].n) return fail(g, n, "adapter index out of range of S");
  OUT(0)->dt = SMELT_DT_F32;
  OUT(0)->shape = *y;
  return 0;
}

int shape_fused(smelt_graph *g, int ni); /* ir/fused.c */
typedef int (*shape_fn)(smelt_graph *, int);
static const shape_fn shape_tab[] = {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) shape_##shape,
#include "ops.def"
#undef OP
};

int smelt_shape_infer(smelt_graph *g, int node) {
  smelt_node *n = &g->nodes[node];
  /* block-quantized values are weights: constants feeding ops that take quantized weights */
  for (int i = 0; i < n->nin; i++)
    if (smelt_dtype_is_block(V(i)->dt) && (V(i)->kind != SMELT_V_CONST || !(smelt_op_flags(n->op) & OPF_QUANTIZABLE || n->op == SMELT_OP_FUSED))) /* Fused: its steps are checked */
      return fail(g, n, "block-quantized operands must be constant weights of MatMul or Gather");
  for (int i = 0; i < n->nin; i++)
    for (int k = 0; k < V(i)->shape.rank; k++)
      if (!V(i)->shape.d[k].sym && V(i)->shape.d[k].n < 0) return fail(g, n, "negative dim");
  if (shape_tab[n->op](g, node)) return SMELT_ERR;
  /* at most 2^48 bytes (256 TiB) per value: far past any model, and sums of sizes
   * stay far from overflowing */
  for (int o = 0; o < n->nout; o++) {
    if (n->out[o] < 0) continue;
    int64_t e = smelt_shape_max_elems(g, &OUT(o)->shape);
    if (e < 0 || e > ((int64_t)1 << 48) / smelt_dtype_bytes(OUT(o)->dt)) return fail(g, n, "output too large");
  }
  return 0;
}
