/* ir/eval_elemwise.c — interpreter kernels for elementwise kinds (unary, binary,
 * where, cast) and the per-op scalar functions compiled from ops.def's formulas.
 *
 * Each op's fexpr is compiled three times in double (with SM_RED picking the init,
 * accumulate and finalize parts of reductions), and its iexpr three times each in
 * int64 and uint64.  Every formula sees the variables x, y, a, b, m, s, n, so all
 * rows compile whatever they use. */
#include "eval.h"
#include "../runtime/smelt_scalar.h"

#include <math.h>

#define P(k) smelt_attr_f(nd, #k)
#define SM_TMIN ((T)(SM_SIGNED(T) ? INT64_MIN : 0))
#define SM_TMAX ((T)(SM_SIGNED(T) ? INT64_MAX : UINT64_MAX))

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-value"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-local-typedefs"

#define FN(prefix, RT, TT, expr)                                                                        \
  static RT prefix(const smelt_node *nd, TT x, TT y, TT a, TT b, TT m, TT s, int64_t n) {               \
    typedef TT T;                                                                                       \
    typedef uint64_t U;                                                                                 \
    return (RT)(expr);                                                                                  \
  }
#define FNF(prefix, expr)                                                                               \
  static double prefix(const smelt_node *nd, double x, double y, double a, double b, double m, double s, \
                       int64_t n) {                                                                     \
    typedef double T;                                                                                   \
    typedef double U;                                                                                   \
    return (double)(expr);                                                                              \
  }

/* part 0 = the whole formula / init, 1 = accumulate, 2 = finalize */
#define SM_RED(i, acc, f) i
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) \
  FNF(f0_##id, fe) FN(is0_##id, int64_t, int64_t, ie) FN(iu0_##id, uint64_t, uint64_t, ie)
#include "ops.def"
#undef OP
#undef SM_RED
#define SM_RED(i, acc, f) acc
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) \
  FNF(f1_##id, fe) FN(is1_##id, int64_t, int64_t, ie) FN(iu1_##id, uint64_t, uint64_t, ie)
#include "ops.def"
#undef OP
#undef SM_RED
#define SM_RED(i, acc, f) f
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) \
  FNF(f2_##id, fe) FN(is2_##id, int64_t, int64_t, ie) FN(iu2_##id, uint64_t, uint64_t, ie)
#include "ops.def"
#undef OP
#undef SM_RED
#pragma GCC diagnostic pop

typedef double (*ffn)(const smelt_node *, double, double, double, double, double, double, int64_t);
typedef int64_t (*sfn)(const smelt_node *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);
typedef uint64_t (*ufn)(const smelt_node *, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, int64_t);

#define OP(id, ...) {{f0_##id, f1_##id, f2_##id}, {is0_##id, is1_##id, is2_##id}, {iu0_##id, iu1_##id, iu2_##id}},
static const struct { ffn f[3]; sfn s[3]; ufn u[3]; } fns[] = {
#include "ops.def"
};
#undef OP

/* The scalar functions of op (exported to the other eval files through eval.h's
 * siblings: see ev_scalar_*). */
double ev_scalar_f(int part, const smelt_node *nd, double x, double y, double a, double b, double m, double s, int64_t n) {
  return fns[nd->op].f[part](nd, x, y, a, b, m, s, n);
}
/* Integer formula: signed or unsigned per dtype; returns the 64-bit pattern. */
int64_t ev_scalar_i(int part, const smelt_node *nd, smelt_dtype dt, int64_t x, int64_t y, int64_t a, int64_t b, int64_t n) {
  if (smelt_dtype_flags(dt) & DTF_SIGNED) return fns[nd->op].s[part](nd, x, y, a, b, 0, 0, n);
  return (int64_t)fns[nd->op].u[part](nd, (uint64_t)x, (uint64_t)y, (uint64_t)a, (uint64_t)b, 0, 0, n);
}

/* Walks the output index space, calling fn with the flat offsets of each input. */
static void for_each_bcast(const smelt_tensor *in, int nin, const smelt_tensor *out,
                           void (*fn)(void *u, int64_t o, const int64_t *off), void *u) {
  int r = out->rank;
  int64_t st[4][SMELT_MAX_RANK], idx[SMELT_MAX_RANK] = {0}, off[4] = {0};
  for (int i = 0; i < nin; i++) ev_bcast_strides(&in[i], r, out->dims, st[i]);
  int64_t total = smelt_tensor_elems(out);
  for (int64_t o = 0; o < total; o++) {
    fn(u, o, off);
    for (int k = r - 1; k >= 0; k--) {
      idx[k]++;
      for (int i = 0; i < nin; i++) off[i] += st[i][k];
      if (idx[k] < out->dims[k]) break;
      for (int i = 0; i < nin; i++) off[i] -= st[i][k] * idx[k];
      idx[k] = 0;
    }
  }
}

struct ew { const smelt_node *n; const smelt_tensor *in; smelt_tensor *out; int isf; smelt_dtype dt; };

static void ew_unary(void *u, int64_t o, const int64_t *off) {
  struct ew *e = u;
  if (e->isf) ev_setf(e->out, o, ev_scalar_f(0, e->n, ev_getf(&e->in[0], off[0]), 0, 0, 0, 0, 0, 0));
  else ev_seti(e->out, o, ev_scalar_i(0, e->n, e->dt, ev_geti(&e->in[0], off[0]), 0, 0, 0, 0));
}

static void ew_binary(void *u, int64_t o, const int64_t *off) {
  struct ew *e = u;
  if (e->isf) ev_setf(e->out, o, ev_scalar_f(0, e->n, ev_getf(&e->in[0], off[0]), ev_getf(&e->in[1], off[1]), 0, 0, 0, 0, 0));
  else ev_seti(e->out, o, ev_scalar_i(0, e->n, e->dt, ev_geti(&e->in[0], off[0]), ev_geti(&e->in[1], off[1]), 0, 0, 0));
}

static void ew_where(void *u, int64_t o, const int64_t *off) {
  struct ew *e = u;
  int c = ((const uint8_t *)e->in[0].data)[off[0]] != 0;
  size_t b = smelt_dtype_bytes(e->out->dt);
  memcpy((char *)e->out->data + o * b, (const char *)e->in[c ? 1 : 2].data + off[c ? 1 : 2] * b, b);
}

static void ew_cast(void *u, int64_t o, const int64_t *off) {
  struct ew *e = u;
  const smelt_tensor *x = &e->in[0];
  if (smelt_dtype_is_float(x->dt)) {
    double v = ev_getf(x, off[0]);
    /* f64 -> f16/bf16 rounds through f32, as the generated code does */
    if ((smelt_dtype_flags(e->out->dt) & DTF_HALF) && x->dt == SMELT_DT_F64) v = (float)v;
    ev_setf(e->out, o, v);
  } else if (smelt_dtype_is_float(e->out->dt)) {
    int64_t v = ev_geti(x, off[0]);
    ev_setf(e->out, o, (smelt_dtype_flags(x->dt) & DTF_SIGNED) ? (double)v : (double)(uint64_t)v);
  } else {
    ev_seti(e->out, o, ev_geti(x, off[0]));
  }
}

int eval_unary(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  struct ew e = {n, in, out, smelt_dtype_is_float(in[0].dt), in[0].dt};
  for_each_bcast(in, 1, out, ew_unary, &e);
  return 0;
}

int eval_binary(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  struct ew e = {n, in, out, smelt_dtype_is_float(in[0].dt), in[0].dt};
  for_each_bcast(in, 2, out, ew_binary, &e);
  return 0;
}

int eval_where(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  struct ew e = {n, in, out, 0, in[1].dt};
  for_each_bcast(in, 3, out, ew_where, &e);
  return 0;
}

int eval_cast(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  struct ew e = {n, in, out, 0, in[0].dt};
  for_each_bcast(in, 1, out, ew_cast, &e);
  return 0;
}
