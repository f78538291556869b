/* passes/idioms.c — exporters' written-out LayerNorm and GELU become one op each.
 *
 * Expects: a folded graph (constants computed: the exponent 2, eps, 1/√2 ... are
 * constants), before fuse.
 * Guarantees: ONNX exporters that predate LayerNormalization / Gelu (PyTorch at opset
 * < 17, TensorFlow) write them out, and each step is then a kernel and a pass over
 * the activations.  Two patterns become the IR's own ops:
 *   - LayerNorm over the last axis:
 *       m = ReduceMean(X, axes=[-1]); d = Sub(X, m); p = Pow(d, 2) (or Mul(d, d));
 *       v = ReduceMean(p, axes=[-1]); s = Sqrt(Add(v, eps)); n = Div(d, s);
 *       [y = Mul(n, W)]; [z = Add(y, B)]
 *     with eps a scalar constant and W, B of shape [D] (or constants [1, .., D])
 *     becomes LayerNorm(X, W[, B]) {eps} (W all ones when the Mul is absent).
 *   - GELU (erf form, PyTorch's export of nn.GELU()):
 *       Mul(Mul(X, Add(Erf(Div(X, √2)), 1)), 0.5), operands of Add / Mul in either
 *     order, Div(X, √2) also as Mul(X, 1/√2), becomes Gelu(X).
 * The intermediate values must have no other reader and not be graph outputs (the
 * final one keeps its name and stays an output if it was).  Only f32/f64 values.
 * Tolerance: the replacement computes the same function with a different rounding
 * (the interpreter's LayerNorm sums in double; Gelu multiplies by 1/√2 instead of
 * dividing by the f32 √2): results agree to ~1e-6 relative to the row's scale, not
 * bit-exact. */
#include "passes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct idm {
  smelt_graph *g;
  int *uses; /* reads by live nodes, + 1000 for graph outputs */
  int cap;
};

static int count_uses(struct idm *f) {
  smelt_graph *g = f->g;
  if (g->nvalues > f->cap) {
    f->cap = 2 * g->nvalues;
    f->uses = smelt_alloc(g->cx, sizeof(int) * (size_t)f->cap);
    if (!f->uses) return SMELT_ERR;
  }
  for (int v = 0; v < g->nvalues; v++) f->uses[v] = 0;
  for (int i = 0; i < g->noutputs; i++) f->uses[g->outputs[i]] += 1000;
  for (int i = 0; i < g->nstates; i++) f->uses[g->states[i]] += 1000;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++)
      if (n->in[k] >= 0) f->uses[n->in[k]]++;
  }
  return 0;
}

/* The k-th live node after `from` that reads v (k counts from 0), or -1. */
static int reader(const smelt_graph *g, int v, int from, int k) {
  for (int ni = from + 1; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] == v) {
        if (k-- == 0) return ni;
        break;
      }
  }
  return -1;
}

/* The node that is v's only reader and has op `op` with v as one of its two inputs,
 * or -1.  *other gets the other input. */
static int only_reader(struct idm *f, int v, int from, smelt_op op, int *other) {
  if (f->uses[v] != 1) return -1;
  int ni = reader(f->g, v, from, 0);
  if (ni < 0) return -1;
  const smelt_node *n = &f->g->nodes[ni];
  if (n->op != op || n->nin != 2 || n->nout != 1) return -1;
  if (other) *other = n->in[0] == v ? n->in[1] : n->in[0];
  return ni;
}

static int out_of(const smelt_graph *g, int ni) { return g->nodes[ni].out[0]; }

/* the value of a constant holding one float (any rank, every dim 1), or NAN */
static double scalar_const(const smelt_graph *g, int v) {
  const smelt_value *c = &g->values[v];
  if (c->kind != SMELT_V_CONST || !c->c.data || !smelt_shape_is_static(&c->shape)) return NAN;
  for (int k = 0; k < c->shape.rank; k++)
    if (c->shape.d[k].n != 1) return NAN;
  if (c->dt == SMELT_DT_F32) return ((const float *)c->c.data)[0];
  if (c->dt == SMELT_DT_F64) return ((const double *)c->c.data)[0];
  return NAN;
}

static int near(double a, double b) { return fabs(a - b) <= 1e-6 * fabs(b); }

/* a ReduceMean over the last axis of a rank >= 1 value, keeping the dim */
static int is_mean_last(const smelt_graph *g, const smelt_node *n) {
  if (n->dead || n->op != SMELT_OP_REDUCE_MEAN || n->nin != 1 || n->nout != 1) return 0;
  const smelt_value *X = &g->values[n->in[0]];
  const int64_t *ax;
  int na = smelt_attr_ints_get(n, "axes", &ax);
  if (na != 1 || smelt_attr_i(n, "keepdims") != 1 || X->shape.rank < 1) return 0;
  return ax[0] == -1 || ax[0] == X->shape.rank - 1;
}

static int is_float_value(const smelt_graph *g, int v, smelt_dtype dt) {
  return g->values[v].dt == dt && (dt == SMELT_DT_F32 || dt == SMELT_DT_F64);
}

/* v as a [D] operand of LayerNorm: itself when rank 1 [D] of dtype dt, a rank-1 view
 * of a constant [1, .., 1, D], else -1 */
static int as_vec(smelt_graph *g, int v, smelt_dim D, smelt_dtype dt) {
  const smelt_value *w = &g->values[v];
  if (w->dt != dt || w->shape.rank < 1 || !smelt_dim_eq(w->shape.d[w->shape.rank - 1], D)) return -1;
  if (w->shape.rank == 1) return v;
  if (w->kind != SMELT_V_CONST || !w->c.data) return -1;
  for (int k = 0; k + 1 < w->shape.rank; k++)
    if (!smelt_dim_is(w->shape.d[k], 1)) return -1;
  smelt_shape s = {.rank = 1, .d = {D}};
  return smelt_graph_add_const(g, w->name, w->dt, &s, w->c.data, w->c.nbytes);
}

/* Replaces node `last` by op(in) writing last's output; the nodes dead[0..ndead) die. */
static int replace(smelt_graph *g, int last, smelt_op op, const int *in, int nin, const smelt_attr *at, int na,
                   const int *dead, int ndead) {
  int final = g->nodes[last].out[0];
  const char *name = g->nodes[last].name;
  if (smelt_graph_add_node(g, op, name, in, nin, at, na, 1, NULL) < 0) return SMELT_ERR;
  smelt_node nn = g->nodes[--g->nnodes];
  if (!smelt_shape_eq(&g->values[nn.out[0]].shape, &g->values[final].shape) || g->values[nn.out[0]].dt != g->values[final].dt)
    return smelt_errorf(g->cx, "idioms: %s: the replacement's shape differs", name ? name : "?");
  nn.out[0] = final;
  g->values[final].producer = last;
  g->nodes[last] = nn;
  for (int k = 0; k < ndead; k++) g->nodes[dead[k]].dead = 1;
  return 0;
}

/* LayerNorm starting at ReduceMean node mi: 1 when rewritten, 0 when not the pattern */
static int layer_norm(struct idm *f, int mi) {
  smelt_graph *g = f->g;
  const smelt_node *m = &g->nodes[mi];
  if (!is_mean_last(g, m)) return 0;
  int x = m->in[0], mv = m->out[0];
  smelt_dtype dt = g->values[x].dt;
  if (!is_float_value(g, x, dt)) return 0;
  const smelt_value *X = &g->values[x];
  smelt_dim D = X->shape.d[X->shape.rank - 1];
  if (D.sym) return 0;
  int other, nodes[10], nn = 0;
  nodes[nn++] = mi;
  /* d = X - m */
  int si = only_reader(f, mv, mi, SMELT_OP_SUB, &other);
  if (si < 0 || g->nodes[si].in[0] != x || g->nodes[si].in[1] != mv) return 0;
  int d = out_of(g, si);
  if (!smelt_shape_eq(&g->values[d].shape, &X->shape) || (f->uses[d] != 2 && f->uses[d] != 3)) return 0;
  nodes[nn++] = si;
  /* p = d² (Pow(d, 2) or Mul(d, d)), then the Div reading d */
  int r0 = reader(g, d, si, 0), r1 = reader(g, d, si, 1);
  if (r0 < 0 || r1 < 0) return 0;
  int pi = -1, di = -1;
  for (int k = 0; k < 2; k++) {
    int ri = k ? r1 : r0;
    const smelt_node *r = &g->nodes[ri];
    if (r->nout != 1 || r->nin != 2) return 0;
    if (r->op == SMELT_OP_POW && r->in[0] == d && scalar_const(g, r->in[1]) == 2.0) pi = ri;
    else if (r->op == SMELT_OP_MUL && r->in[0] == d && r->in[1] == d) pi = ri;
    else if (r->op == SMELT_OP_DIV && r->in[0] == d && r->in[1] != d) di = ri;
  }
  if (pi < 0 || di < 0) return 0;
  if (f->uses[d] != 2 + (g->nodes[pi].op == SMELT_OP_MUL)) return 0; /* no third reader */
  nodes[nn++] = pi;
  int vi = f->uses[out_of(g, pi)] == 1 ? reader(g, out_of(g, pi), pi, 0) : -1;
  if (vi < 0 || !is_mean_last(g, &g->nodes[vi])) return 0;
  nodes[nn++] = vi;
  int ai = only_reader(f, out_of(g, vi), vi, SMELT_OP_ADD, &other);
  if (ai < 0) return 0;
  double eps = scalar_const(g, other);
  if (!(eps >= 0 && eps < 1)) return 0;
  nodes[nn++] = ai;
  int qi = f->uses[out_of(g, ai)] == 1 ? reader(g, out_of(g, ai), ai, 0) : -1;
  if (qi < 0 || g->nodes[qi].op != SMELT_OP_SQRT || g->nodes[qi].nout != 1) return 0;
  nodes[nn++] = qi;
  if (g->nodes[di].in[1] != out_of(g, qi) || f->uses[out_of(g, qi)] != 1) return 0;
  const smelt_shape *vs = &g->values[out_of(g, qi)].shape;
  if (vs->rank != X->shape.rank || !smelt_dim_is(vs->d[vs->rank - 1], 1)) return 0;
  if (!smelt_shape_eq(&g->values[out_of(g, di)].shape, &X->shape)) return 0;
  nodes[nn++] = di;
  /* optional scale and shift by [D] */
  int last = di, w = -1, b = -1;
  int mu = only_reader(f, out_of(g, last), last, SMELT_OP_MUL, &other);
  if (mu >= 0 && smelt_shape_eq(&g->values[out_of(g, mu)].shape, &X->shape) && (w = as_vec(g, other, D, dt)) >= 0) {
    last = mu;
    nodes[nn++] = mu;
    int ad = only_reader(f, out_of(g, last), last, SMELT_OP_ADD, &other);
    if (ad >= 0 && smelt_shape_eq(&g->values[out_of(g, ad)].shape, &X->shape) && (b = as_vec(g, other, D, dt)) >= 0) {
      last = ad;
      nodes[nn++] = ad;
    }
  }
  if (w < 0) { /* no scale: ones */
    int64_t n = D.n;
    size_t es = dt == SMELT_DT_F32 ? 4 : 8;
    void *ones = smelt_alloc(g->cx, es * (size_t)n);
    if (!ones) return SMELT_ERR;
    for (int64_t i = 0; i < n; i++)
      if (dt == SMELT_DT_F32) ((float *)ones)[i] = 1.0f;
      else ((double *)ones)[i] = 1.0;
    smelt_shape s = {.rank = 1, .d = {D}};
    w = smelt_graph_add_const(g, smelt_sprintf(g->cx, "%s.ones", g->nodes[mi].name ? g->nodes[mi].name : "layer_norm"), dt, &s, ones,
                              es * (size_t)n);
  }
  if (w < 0 || smelt_failed(g->cx)) return SMELT_ERR;
  /* every intermediate is read inside the pattern only (d twice, the rest once) */
  for (int k = 0; k < nn; k++)
    if (nodes[k] != last && nodes[k] != si && f->uses[out_of(g, nodes[k])] != 1) return 0;
  smelt_attr at = smelt_attr_float("eps", eps);
  int in[3] = {x, w, b};
  int dead[10], nd = 0;
  for (int k = 0; k < nn; k++)
    if (nodes[k] != last) dead[nd++] = nodes[k];
  /* the LayerNorm goes in last's place: every input (x, constants) is defined before it */
  if (replace(g, last, SMELT_OP_LAYER_NORM, in, b >= 0 ? 3 : 2, &at, 1, dead, nd)) return SMELT_ERR;
  return 1;
}

/* GELU starting at the node si scaling X by 1/√2 (Div by √2 or Mul by 1/√2) */
static int gelu(struct idm *f, int si) {
  smelt_graph *g = f->g;
  const smelt_node *s = &g->nodes[si];
  if (s->dead || s->nin != 2 || s->nout != 1) return 0;
  int x = s->in[0];
  smelt_dtype dt = g->values[x].dt;
  if (!is_float_value(g, x, dt) || !is_float_value(g, s->out[0], dt)) return 0;
  double c = scalar_const(g, s->in[1]);
  if (!((s->op == SMELT_OP_DIV && near(c, sqrt(2.0))) || (s->op == SMELT_OP_MUL && near(c, sqrt(0.5))))) return 0;
  const smelt_shape *xs = &g->values[x].shape;
  if (!smelt_shape_eq(&g->values[s->out[0]].shape, xs)) return 0;
  int other, nodes[5], nn = 0;
  nodes[nn++] = si;
  int ei = f->uses[s->out[0]] == 1 ? reader(g, s->out[0], si, 0) : -1;
  if (ei < 0 || g->nodes[ei].op != SMELT_OP_ERF || g->nodes[ei].nout != 1) return 0;
  nodes[nn++] = ei;
  int ai = only_reader(f, out_of(g, ei), ei, SMELT_OP_ADD, &other);
  if (ai < 0 || scalar_const(g, other) != 1.0) return 0;
  nodes[nn++] = ai;
  int mi = only_reader(f, out_of(g, ai), ai, SMELT_OP_MUL, &other);
  if (mi < 0 || other != x) return 0;
  nodes[nn++] = mi;
  int hi = only_reader(f, out_of(g, mi), mi, SMELT_OP_MUL, &other);
  if (hi < 0 || scalar_const(g, other) != 0.5) return 0;
  for (int k = 1; k < 5; k++) {
    int o = out_of(g, k < 4 ? nodes[k] : hi);
    if (g->values[o].dt != dt || !smelt_shape_eq(&g->values[o].shape, xs)) return 0;
  }
  if (replace(g, hi, SMELT_OP_GELU, &x, 1, NULL, 0, nodes, nn)) return SMELT_ERR;
  return 1;
}

int smelt_pass_idioms(smelt_ctx *cx, smelt_graph *g) {
  struct idm f = {g, NULL, 0};
  int nln = 0, ngelu = 0, nvalues = g->nvalues;
  if (count_uses(&f)) return SMELT_ERR;
  for (int ni = 0; ni < g->nnodes; ni++) {
    if (g->nodes[ni].dead) continue;
    int r = g->nodes[ni].op == SMELT_OP_REDUCE_MEAN ? layer_norm(&f, ni) : 0;
    if (r == 0 && (g->nodes[ni].op == SMELT_OP_DIV || g->nodes[ni].op == SMELT_OP_MUL)) {
      r = gelu(&f, ni);
      if (r > 0) ngelu++;
    } else if (r > 0)
      nln++;
    if (r < 0) return SMELT_ERR;
    if (r > 0 && count_uses(&f)) return SMELT_ERR;
  }
  if (nln || ngelu || g->nvalues != nvalues) smelt_graph_compact(g); /* as_vec may add an unused view */
  smelt_logf(cx, 1, "idioms: %d layer norms, %d GELUs", nln, ngelu);
  return 0;
}
