/* backends/simd_math.c — the vector backends' (x86, arm) kernels for everything but
 * MatMul that runtime/smelt_simd_math.h covers, all f32:
 *
 *   Softmax / LogSoftmax over the last axis, RMSNorm, LayerNorm   one runtime call per node
 *                                                                 (rows split between threads)
 *   Attention (f32 or f16 cache)                                  one call: q.k, softmax and
 *                                                                 the V sum vectorized, (t, h)
 *                                                                 rows split between threads
 *   MatMul of activations with batch dims [.., M, K]·[.., K, N]   one call (4 x 2-vector tiles)
 *   Exp, Tanh, Erf, Sigmoid, Silu, Gelu, GeluTanh, and Fused       a loop over vectors of
 *   chains whose elementwise steps are all in the table below     SMM_W lanes, inline
 *
 * An elementwise kernel sees its output as R rows of D (D its last dim) and each input
 * as one of: the output's shape (full), one element (scalar), one row [D] (col) or one
 * value per row [.., 1] (row); any other broadcast stays with the generic kernel.  When
 * every input is full or scalar the whole tensor is one row.  Each step computes the
 * ops.def formula in f32, as the generic kernel does, with the vector exp / tanh / erf
 * (accuracy in smelt_simd_math.h) in place of libm's.  A Fused chain is taken only when
 * a step costs more than an add (exp, tanh, erf, sigmoid, SiLU, GELU, div, sqrt,
 * reciprocal): chains of adds, multiplies and ReLUs the C compiler vectorizes itself.
 * Tensors under 256 elements and rows under 8 stay generic.  Everything not taken here is
 * left to the generic C backend. */
#include "backends/simd.h"
#include "backends/c/cgen.h"
#include "ir/fused.h"

#include <stdlib.h>
#include <string.h>

enum { IN_FULL, IN_SCALAR, IN_COL, IN_ROW };

/* the vector form of an elementwise op over operands a, b (NULL when not vectorized) */
static const char *step_expr(struct cg *c, const smelt_node *sn, const char *a, const char *b) {
  smelt_ctx *cx = c ? c->cx : NULL;
#define E(...) (cx ? smelt_sprintf(cx, __VA_ARGS__) : "")
  switch (sn->op) {
  case SMELT_OP_IDENTITY: return E("%s", a);
  case SMELT_OP_ADD: return E("smm_add(%s, %s)", a, b);
  case SMELT_OP_SUB: return E("smm_sub(%s, %s)", a, b);
  case SMELT_OP_MUL: return E("smm_mul(%s, %s)", a, b);
  case SMELT_OP_DIV: return E("smm_div(%s, %s)", a, b);
  /* (isnan(x) || x > y ? x : y), and the same with < */
  case SMELT_OP_MAX: return E("smm_sel(smm_isnan(%s), %s, smm_sel(smm_gt(%s, %s), %s, %s))", a, a, a, b, a, b);
  case SMELT_OP_MIN: return E("smm_sel(smm_isnan(%s), %s, smm_sel(smm_lt(%s, %s), %s, %s))", a, a, a, b, a, b);
  case SMELT_OP_NEG: return E("smm_mul(%s, smm_set(-1.0f))", a);
  case SMELT_OP_ABS: return E("smm_abs(%s)", a);
  case SMELT_OP_RELU: return E("smm_sel(smm_lt(%s, smm_set(0.0f)), smm_set(0.0f), %s)", a, a);
  case SMELT_OP_SQRT: return E("smm_sqrt(%s)", a);
  case SMELT_OP_RECIPROCAL: return E("smm_div(smm_set(1.0f), %s)", a);
  case SMELT_OP_EXP: return E("smm_exp(%s)", a);
  case SMELT_OP_TANH: return E("smm_tanh(%s)", a);
  case SMELT_OP_ERF: return E("smm_erf(%s)", a);
  case SMELT_OP_SIGMOID: return E("smm_sigmoid(%s)", a);
  case SMELT_OP_SILU: return E("smm_silu(%s)", a);
  case SMELT_OP_GELU: return E("smm_gelu(%s)", a);
  case SMELT_OP_GELU_TANH: return E("smm_gelu_tanh(%s)", a);
  case SMELT_OP_PRELU: return E("smm_sel(smm_lt(%s, smm_set(0.0f)), smm_mul(%s, %s), %s)", a, a, b, a);
  case SMELT_OP_LEAKY_RELU:
    return E("smm_sel(smm_lt(%s, smm_set(0.0f)), smm_mul(%s, smm_set((float)%s)), %s)", a, a, cx ? cg_double(c, smelt_attr_f(sn, "alpha")) : "", a);
  case SMELT_OP_CLIP: /* (x < min ? min : x > max ? max : x) */
    if (!cx) return "";
    {
      const char *mn = smelt_sprintf(cx, "smm_set((float)%s)", cg_double(c, smelt_attr_f(sn, "min")));
      const char *mx = smelt_sprintf(cx, "smm_set((float)%s)", cg_double(c, smelt_attr_f(sn, "max")));
      return E("smm_sel(smm_lt(%s, %s), %s, smm_sel(smm_gt(%s, %s), %s, %s))", a, mn, mn, a, mx, mx, a);
    }
  default: return NULL;
  }
#undef E
}

/* ops that are worth a kernel of their own (a libm call per element in the generic one) */
static int unary_own(smelt_op op) {
  return op == SMELT_OP_EXP || op == SMELT_OP_TANH || op == SMELT_OP_ERF || op == SMELT_OP_SIGMOID || op == SMELT_OP_SILU ||
         op == SMELT_OP_GELU || op == SMELT_OP_GELU_TANH;
}
/* steps that make a Fused chain worth it: a chain of adds, multiplies and ReLUs the C
 * compiler vectorizes by itself, so it stays generic */
static int step_costly(smelt_op op) { return unary_own(op) || op == SMELT_OP_DIV || op == SMELT_OP_SQRT || op == SMELT_OP_RECIPROCAL; }

/* fewer elements than this (or rows shorter than 8) stay generic: nothing to gain, and
 * the small graphs of the golden tests keep their generic code */
#define MIN_ELEMS 256

/* how input x broadcasts to output y, or -1 */
static int classify(const smelt_shape *y, const smelt_shape *x) {
  int r = y->rank, off = r - x->rank;
  if (off < 0 || r < 1) return -1;
  int full = 1, scalar = 1, col = 1, row = 1;
  for (int k = 0; k < r; k++) {
    smelt_dim xd = k < off ? smelt_dim_c(1) : x->d[k - off], yd = y->d[k];
    int one = !xd.sym && xd.n == 1, eq = smelt_dim_eq(xd, yd);
    if (!eq) full = 0;
    if (!one) scalar = 0;
    if (k < r - 1 ? !one : !eq) col = 0;
    if (k < r - 1 ? !eq : !one) row = 0;
  }
  return full ? IN_FULL : scalar ? IN_SCALAR : col ? IN_COL : row ? IN_ROW : -1;
}

/* An elementwise kernel of the table: the steps (a Fused node's or a one-step program of a
 * unary node), how each input broadcasts, and whether it is one flat row. */
struct ew {
  struct smelt_fused_prog *p; /* NULL: the unary node itself */
  int first;                  /* 1 when step 0 is the anchor */
  int cls[64];                /* per input; -1 when no elementwise step reads it */
  int flat;
};

static int ew_plan(const smelt_graph *g, const smelt_node *n, struct smelt_fused_prog *p, struct ew *w) {
  const smelt_value *Y = &g->values[n->out[0]];
  if (Y->dt != SMELT_DT_F32 || Y->shape.rank < 1 || n->nin > 64 || smelt_shape_max_elems(g, &Y->shape) < MIN_ELEMS) return 0;
  int costly = n->op != SMELT_OP_FUSED;
  memset(w, 0, sizeof *w);
  for (int i = 0; i < 64; i++) w->cls[i] = -1;
  if (n->op == SMELT_OP_FUSED) {
    if (smelt_fused_parse(g->cx, n, p)) return 0;
    w->p = p;
    w->first = p->anchor;
    if (w->first >= p->nsteps) return 0;
    for (int k = w->first; k < p->nsteps; k++) {
      smelt_node sn;
      int args[3];
      smelt_fused_step_node(n, p, k, n->in, NULL, &sn, args);
      if (!step_expr(NULL, &sn, "", "")) return 0;
      costly |= step_costly(sn.op);
      for (int j = 0; j < p->step[k].nargs; j++)
        if (p->step[k].arg[j] >= 0) w->cls[p->step[k].arg[j]] = 0;
    }
  } else {
    if (!unary_own(n->op)) return 0;
    w->cls[0] = 0;
  }
  if (!costly) return 0;
  w->flat = 1;
  for (int i = 0; i < n->nin; i++) {
    if (w->cls[i] < 0) continue;
    const smelt_value *X = &g->values[n->in[i]];
    if (X->dt != SMELT_DT_F32 || (w->cls[i] = classify(&Y->shape, &X->shape)) < 0) return 0;
    if (w->cls[i] != IN_FULL && w->cls[i] != IN_SCALAR) w->flat = 0;
  }
  smelt_dim D = Y->shape.d[Y->shape.rank - 1];
  if (!w->flat && (D.sym || D.n < 8)) return 0; /* short rows: nothing to gain */
  return 1;
}

static int llm_takes(const smelt_graph *g, const smelt_node *n) {
  const smelt_value *X = &g->values[n->in[0]], *Y = &g->values[n->out[0]];
  if (X->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32 || X->shape.rank < 1) return 0;
  smelt_dim D = X->shape.d[X->shape.rank - 1];
  if (n->op != SMELT_OP_ATTENTION && (D.sym || D.n < 8 || smelt_shape_max_elems(g, &X->shape) < MIN_ELEMS)) return 0;
  switch (n->op) {
  case SMELT_OP_SOFTMAX:
  case SMELT_OP_LOG_SOFTMAX: {
    int64_t ax = smelt_attr_i(n, "axis");
    return ax == -1 || ax == X->shape.rank - 1;
  }
  case SMELT_OP_RMS_NORM:
  case SMELT_OP_LAYER_NORM:
    for (int i = 1; i < n->nin; i++)
      if (g->values[n->in[i]].dt != SMELT_DT_F32) return 0;
    return 1;
  case SMELT_OP_ATTENTION: {
    const smelt_value *K = &g->values[n->in[1]], *V = &g->values[n->in[2]];
    if (X->shape.rank != 3 || K->shape.rank != 3 || K->dt != V->dt || (K->dt != SMELT_DT_F32 && K->dt != SMELT_DT_F16)) return 0;
    int64_t H = X->shape.d[1].n, Hkv = K->shape.d[1].n, C = K->shape.d[0].n;
    /* the scores of a row live on the stack, as in the generic kernel */
    return !X->shape.d[1].sym && !X->shape.d[2].sym && Hkv > 0 && H % Hkv == 0 && C * 4 <= 4 << 20;
  }
  default: return 0;
  }
}

/* a MatMul of activations with batch dims (ONNX attention's Q·Kᵀ, P·V): A [.., M, K] by
 * B [.., K, N], the same batch dims on both (no broadcast), f32, not transposed */
static int bmm_takes(const smelt_graph *g, const smelt_node *n) {
  const smelt_value *A = &g->values[n->in[0]], *B = &g->values[n->in[1]], *Y = &g->values[n->out[0]];
  int r = A->shape.rank;
  if (n->op != SMELT_OP_MATMUL || smelt_attr_i(n, "trans_b") || A->dt != SMELT_DT_F32 || B->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32)
    return 0;
  if (r < 3 || B->shape.rank != r || Y->shape.rank != r) return 0;
  for (int k = 0; k < r - 2; k++)
    if (!smelt_dim_eq(A->shape.d[k], B->shape.d[k]) || !smelt_dim_eq(A->shape.d[k], Y->shape.d[k])) return 0;
  smelt_dim K = A->shape.d[r - 1], N = B->shape.d[r - 1];
  if (K.sym || N.sym || !smelt_dim_eq(B->shape.d[r - 2], K) || N.n < 8) return 0;
  return smelt_shape_max_elems(g, &Y->shape) * K.n >= 8192; /* small products: nothing to gain */
}

int smelt_simd_math_takes(const smelt_graph *g, const smelt_node *n) {
  if (n->dead || n->nout < 1 || n->out[0] < 0) return 0;
  if (n->op == SMELT_OP_MATMUL) return bmm_takes(g, n);
  if (n->op == SMELT_OP_FUSED || unary_own(n->op)) {
    struct smelt_fused_prog *p = n->op == SMELT_OP_FUSED ? malloc(sizeof *p) : NULL;
    struct ew w;
    int ok = (n->op != SMELT_OP_FUSED || p) && ew_plan(g, n, p, &w);
    if (!ok && p && !smelt_fused_parse(g->cx, n, p) && p->anchor && p->step[0].op == SMELT_OP_MATMUL) {
      /* a batched MatMul anchor is ours too (emitted through smelt_simd_kernel) */
      smelt_node an;
      int args[3];
      smelt_fused_step_node(n, p, 0, n->in, NULL, &an, args);
      an.out = n->out;
      ok = bmm_takes(g, &an);
    }
    free(p);
    return ok;
  }
  return llm_takes(g, n);
}

/* one vector's body of an elementwise kernel: loads, steps, store (tail: nt lanes) */
static void ew_body(struct cg *c, const smelt_node *n, const struct ew *w, int tail) {
  const char *ld = tail ? "smm_ldn(%s, nt, 0.0f)" : "smm_ld(%s)";
  for (int i = 0; i < n->nin; i++) {
    const char *at;
    switch (w->cls[i]) {
    case IN_FULL: at = smelt_sprintf(c->cx, "x%d + r * D + i", i); break;
    case IN_COL: at = smelt_sprintf(c->cx, "x%d + i", i); break;
    default: continue; /* scalars and rows are broadcast outside */
    }
    cg_line(c, "const smm_v v%d = %s;", i, smelt_sprintf(c->cx, ld, at));
  }
  if (w->first) cg_line(c, "const smm_v t0 = %s;", smelt_sprintf(c->cx, ld, "y0 + r * D + i"));
  int last = 0;
  if (!w->p) {
    cg_line(c, "const smm_v t0 = %s;", step_expr(c, n, "v0", NULL));
  } else {
    for (int k = w->first; k < w->p->nsteps; k++) {
      smelt_node sn;
      int args[3];
      smelt_fused_step_node(n, w->p, k, n->in, NULL, &sn, args);
      const char *a[2] = {"", ""};
      for (int j = 0; j < w->p->step[k].nargs && j < 2; j++) {
        int ar = w->p->step[k].arg[j];
        a[j] = ar >= 0 ? smelt_sprintf(c->cx, "v%d", ar) : smelt_sprintf(c->cx, "t%d", -ar - 1);
      }
      cg_line(c, "const smm_v t%d = %s;", k, step_expr(c, &sn, a[0], a[1]));
      last = k;
    }
  }
  if (tail) cg_line(c, "smm_stn(y0 + r * D + i, t%d, nt);", last);
  else cg_line(c, "smm_st(y0 + r * D + i, t%d);", last);
}

static int emit_ew(struct cg *c, const smelt_node *n) {
  struct smelt_fused_prog *p = n->op == SMELT_OP_FUSED ? smelt_alloc(c->cx, sizeof *p) : NULL;
  struct ew w;
  if ((n->op == SMELT_OP_FUSED && !p) || !ew_plan(c->g, n, p, &w)) return 1;
  const smelt_value *Y = cg_out(c, n, 0);
  int r = Y->shape.rank;
  cg_line(c, "/* vector math: runtime/smelt_simd_math.h */");
  if (w.first) { /* the anchor (emitted before this kernel by emit_fused_pre) writes y0 */
    const struct smelt_fused_step *a = &p->step[0];
    struct sbuf call = {0};
    sb_printf(&call, "{ int rc; if ((rc = %s_a(ctx", c->kname);
    for (int i = 0; i < a->nargs; i++) sb_printf(&call, ", x%d", a->arg[i]);
    sb_puts(&call, ", y0)) != 0) return rc; }");
    cg_line(c, "%s", call.p ? call.p : "");
    sb_free(&call);
  }
  if (w.flat) cg_line(c, "const int64_t R = 1, D = %s;", cg_elems(c, &Y->shape, 0, r));
  else cg_line(c, "const int64_t R = %s, D = %s;", cg_elems(c, &Y->shape, 0, r - 1), cg_dim(c, Y->shape.d[r - 1]));
  for (int i = 0; i < n->nin; i++)
    if (w.cls[i] == IN_SCALAR) cg_line(c, "const smm_v v%d = smm_set(x%d[0]);", i, i);
  cg_line(c, "for (int64_t r = 0; r < R; r++) {");
  CG_IN(c);
  for (int i = 0; i < n->nin; i++)
    if (w.cls[i] == IN_ROW) cg_line(c, "const smm_v v%d = smm_set(x%d[r]);", i, i);
  cg_line(c, "int64_t i = 0;");
  cg_line(c, "for (; i + SMM_W <= D; i += SMM_W) {");
  CG_IN(c);
  ew_body(c, n, &w, 0);
  CG_OUT(c);
  cg_line(c, "}");
  cg_line(c, "if (i < D) {");
  CG_IN(c);
  cg_line(c, "const int64_t nt = D - i;");
  ew_body(c, n, &w, 1);
  CG_OUT(c);
  cg_line(c, "}");
  CG_OUT(c);
  cg_line(c, "}");
  cg_line(c, "(void)ctx;");
  return 0;
}

int smelt_simd_math_kernel(struct cg *c, const smelt_node *n) {
  if (!smelt_simd_math_takes(c->g, n)) return 1;
  if (n->op == SMELT_OP_FUSED || unary_own(n->op)) return emit_ew(c, n); /* 1 when taken for its anchor only */
  const smelt_value *X = cg_in(c, n, 0);
  if (n->op == SMELT_OP_MATMUL) {
    const smelt_value *B = cg_in(c, n, 1);
    int r = X->shape.rank;
    cg_line(c, "smm_bmm(x0, x1, y0, %s, %s, %lld, %lld); /* runtime/smelt_simd_math.h */", cg_elems(c, &X->shape, 0, r - 2),
            cg_dim(c, X->shape.d[r - 2]), (long long)B->shape.d[r - 1].n, (long long)X->shape.d[r - 1].n);
    cg_line(c, "(void)ctx;");
    return 0;
  }
  int r = X->shape.rank;
  const char *rows = cg_elems(c, &X->shape, 0, r - 1), *D = cg_dim(c, X->shape.d[r - 1]);
  switch (n->op) {
  case SMELT_OP_SOFTMAX:
  case SMELT_OP_LOG_SOFTMAX:
    cg_line(c, "smm_rows_run(%s, x0, NULL, NULL, y0, %s, %s, 0.0f, 0);", n->op == SMELT_OP_SOFTMAX ? "SMM_SOFTMAX" : "SMM_LOG_SOFTMAX", rows, D);
    break;
  case SMELT_OP_RMS_NORM:
    cg_line(c, "smm_rows_run(SMM_RMS_NORM, x0, x1, NULL, y0, %s, %s, (float)%s, %d);", rows, D, cg_double(c, smelt_attr_f(n, "eps")),
            smelt_attr_i(n, "add_one") ? 1 : 0);
    break;
  case SMELT_OP_LAYER_NORM:
    cg_line(c, "smm_rows_run(SMM_LAYER_NORM, x0, x1, %s, y0, %s, %s, (float)%s, 0);", n->nin > 2 ? "x2" : "NULL", rows, D,
            cg_double(c, smelt_attr_f(n, "eps")));
    break;
  default: { /* ATTENTION */
    const smelt_value *K = cg_in(c, n, 1);
    cg_line(c, "const int rc = smm_attention(x0, x1, x2, y0, %s, %lld, %lld, %lld, %lld, (int64_t)x3[0], (float)%s, (float)%s, %lld, %d);",
            cg_dim(c, X->shape.d[0]), (long long)X->shape.d[1].n, (long long)K->shape.d[1].n, (long long)X->shape.d[2].n,
            (long long)K->shape.d[0].n, cg_double(c, smelt_attr_f(n, "scale")), cg_double(c, smelt_attr_f(n, "softcap")),
            (long long)smelt_attr_i(n, "window"), K->dt == SMELT_DT_F16);
    cg_line(c, "if (rc) return rc;");
    break;
  }
  }
  cg_line(c, "(void)ctx;");
  return 0;
}
