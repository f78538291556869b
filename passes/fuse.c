/* passes/fuse.c — operator fusion.
 *
 * Expects: a folded graph (constants computed), after quantize: MatMul weights may be
 * block-quantized, f16 or bf16.
 * Guarantees, in this order:
 *   1. BatchNorm folding: Conv(X, W[, B]) followed by a Mul and/or an Add by a
 *      per-channel constant (what BatchNormalization lowers to once folded) becomes
 *      one Conv with W' = W·s and B' = B·s + t.  Tolerance: f32 rounding of the new
 *      weights (relative ~1e-6 of each product), not bit-exact.
 *   2. Chains: a MatMul or Conv (the anchor) or a float elementwise op, followed by
 *      float elementwise ops each the only reader of the previous result (bias add,
 *      activation, residual add, SwiGLU's Silu·up, scale...), become one Fused node
 *      (ops.def) whose program lists the steps.  Each step keeps its own rounding,
 *      so the interpreter's result is bit-identical to the unfused chain
 *      (ir/fused.c evaluates the very same ops).
 * Graph outputs, states and values read by more than one node are never fused away.
 * A chain reads at most 5 inputs besides the anchor's (the C kernel's loop nest). */
#include "passes.h"
#include "ir/fused.h"

#include <stdlib.h>
#include <string.h>

#define MAX_EPI_INPUTS 5

int smelt_count_kernels(const smelt_graph *g) {
  int k = 0;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    if (smelt_view_offset(g, n) >= 0 && !smelt_is_output(g, n->out[0])) continue; /* a view is no kernel (passes/views.c) */
    k++;
  }
  return k;
}

struct fz {
  smelt_graph *g;
  int *uses;     /* reads by live nodes, + 1000 for graph outputs */
  int *consumer; /* the last live node reading the value */
  int cap;
};

static int count_uses(struct fz *f) {
  smelt_graph *g = f->g;
  if (g->nvalues > f->cap) { /* passes add constants and values as they go */
    f->cap = 2 * g->nvalues;
    f->uses = smelt_alloc(g->cx, sizeof(int) * (size_t)f->cap);
    f->consumer = smelt_alloc(g->cx, sizeof(int) * (size_t)f->cap);
    if (!f->uses || !f->consumer) return SMELT_ERR;
  }
  for (int v = 0; v < g->nvalues; v++) { f->uses[v] = 0; f->consumer[v] = -1; }
  for (int i = 0; i < g->noutputs; i++) f->uses[g->outputs[i]] += 1000;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) { f->uses[n->in[k]]++; f->consumer[n->in[k]] = ni; }
  }
  return 0;
}

static int is_float_dt(smelt_dtype dt) { return dt == SMELT_DT_F32 || dt == SMELT_DT_F64; }

/* ---- 1. BatchNorm folding ---------------------------------------------------------- */

/* The per-channel values of constant c over output channels [0, M) of a value of
 * rank r (channel axis 1), or NULL when c varies along any other axis. */
static float *per_channel(smelt_graph *g, const smelt_value *c, int r, int64_t M) {
  if (c->kind != SMELT_V_CONST || !c->c.data || c->dt != SMELT_DT_F32 || c->shape.rank > r || !smelt_shape_is_static(&c->shape)) return NULL;
  int64_t cm = 1;
  for (int k = 0; k < c->shape.rank; k++) {
    int axis = k + (r - c->shape.rank);
    int64_t d = c->shape.d[k].n;
    if (axis == 1) cm = d;
    else if (d != 1) return NULL;
  }
  if (cm != 1 && cm != M) return NULL;
  float *s = smelt_alloc(g->cx, sizeof(float) * (size_t)M);
  if (!s) return NULL;
  for (int64_t m = 0; m < M; m++) s[m] = ((const float *)c->c.data)[cm == 1 ? 0 : m];
  return s;
}

static int fold_bn(struct fz *f) {
  smelt_graph *g = f->g;
  int folded = 0;
  for (int ci = 0; ci < g->nnodes; ci++) {
    smelt_node *cv = &g->nodes[ci];
    if (cv->dead || strcmp(smelt_op_info(cv->op)->kind, "conv")) continue;
    const smelt_value *W = &g->values[cv->in[1]];
    if (W->kind != SMELT_V_CONST || !W->c.data || W->dt != SMELT_DT_F32 || g->values[cv->out[0]].dt != SMELT_DT_F32) continue;
    if (cv->nin > 2 && (g->values[cv->in[2]].kind != SMELT_V_CONST || !g->values[cv->in[2]].c.data)) continue;
    for (;;) {
      int y = cv->out[0];
      if (f->uses[y] != 1) break;
      smelt_node *m = &g->nodes[f->consumer[y]];
      if ((m->op != SMELT_OP_MUL && m->op != SMELT_OP_ADD) || m->nin != 2 || (m->in[0] == y) == (m->in[1] == y)) break;
      const smelt_value *Y = &g->values[y], *MY = &g->values[m->out[0]];
      if (!smelt_shape_eq(&Y->shape, &MY->shape) || MY->dt != Y->dt) break;
      int64_t M = g->values[cv->in[1]].shape.d[0].n;
      float *s = per_channel(g, &g->values[m->in[m->in[0] == y]], Y->shape.rank, M);
      if (!s) break;
      W = &g->values[cv->in[1]];
      const float *b = cv->nin > 2 ? g->values[cv->in[2]].c.data : NULL;
      float *nb = smelt_alloc(g->cx, sizeof(float) * (size_t)M);
      if (!nb) return SMELT_ERR;
      smelt_shape bs = {.rank = 1, .d = {smelt_dim_c(M)}};
      if (m->op == SMELT_OP_MUL) {
        int64_t per = smelt_shape_max_elems(g, &W->shape) / M;
        float *nw = smelt_alloc(g->cx, W->c.nbytes);
        if (!nw) return SMELT_ERR;
        for (int64_t o = 0; o < M; o++)
          for (int64_t j = 0; j < per; j++) nw[o * per + j] = ((const float *)W->c.data)[o * per + j] * s[o];
        int nwv = smelt_graph_add_const(g, smelt_sprintf(g->cx, "%s.w_bn", cv->name), SMELT_DT_F32, &W->shape, nw, W->c.nbytes);
        if (nwv < 0) return SMELT_ERR;
        cv = &g->nodes[ci];
        cv->in[1] = nwv;
        for (int64_t o = 0; o < M; o++) nb[o] = b ? b[o] * s[o] : 0.0f;
      } else {
        for (int64_t o = 0; o < M; o++) nb[o] = (b ? b[o] : 0.0f) + s[o];
      }
      if (b || m->op == SMELT_OP_ADD) {
        int nbv = smelt_graph_add_const(g, smelt_sprintf(g->cx, "%s.b_bn", cv->name), SMELT_DT_F32, &bs, nb, sizeof(float) * (size_t)M);
        if (nbv < 0) return SMELT_ERR;
        cv = &g->nodes[ci];
        if (cv->nin < 3) {
          int *in = smelt_alloc(g->cx, sizeof(int) * 3);
          if (!in) return SMELT_ERR;
          memcpy(in, cv->in, sizeof(int) * 2);
          cv->in = in;
          cv->nin = 3;
        }
        cv->in[2] = nbv;
      }
      /* the Conv now produces the Mul's / Add's value (its name, its readers) */
      m = &g->nodes[f->consumer[y]];
      int my = m->out[0];
      m->dead = 1;
      cv->out[0] = my;
      g->values[my].producer = ci;
      f->uses[y] = 0;
      folded++;
      if (count_uses(f)) return SMELT_ERR;
    }
  }
  return folded;
}

/* ---- 2. chains into Fused nodes ---------------------------------------------------- */

static int fused_knows_attrs(const smelt_node *n) {
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(SMELT_OP_FUSED, sp, 16);
  for (int i = 0; i < n->nattr; i++) {
    int k = 0;
    while (k < ns && strcmp(sp[k].name, n->attrs[i].key)) k++;
    if (k == ns || !strcmp(n->attrs[i].key, "prog")) return 0;
  }
  return 1;
}

static int is_ew_node(const smelt_graph *g, const smelt_node *n) {
  if (n->dead || n->nout != 1 || !smelt_fused_is_step(n->op)) return 0;
  smelt_dtype dt = g->values[n->out[0]].dt;
  if (!is_float_dt(dt)) return 0;
  for (int k = 0; k < n->nin; k++)
    if (g->values[n->in[k]].dt != dt) return 0;
  for (int i = 0; i < n->nattr; i++)
    if (n->attrs[i].type != SMELT_A_FLOAT) return 0;
  return 1;
}

static int is_anchor_node(const smelt_graph *g, const smelt_node *n) {
  if (n->dead || n->nout != 1 || !smelt_fused_is_anchor(n->op)) return 0;
  smelt_dtype dt = g->values[n->out[0]].dt;
  return is_float_dt(dt) && g->values[n->in[0]].dt == dt && fused_knows_attrs(n);
}

/* Replaces the chain nodes ch[0..nch) by one Fused node in the last one's place. */
static int make_fused(struct fz *f, const int *ch, int nch, int anchor, int pro) {
  smelt_graph *g = f->g;
  smelt_ctx *cx = g->cx;
  int fin[64], nfin = 0;
  char *prog = NULL;
  size_t plen = 0;
  FILE *ps = open_memstream(&prog, &plen);
  if (!ps) return smelt_errorf(cx, "out of memory");
  for (int k = 0; k < nch; k++) {
    const smelt_node *n = &g->nodes[ch[k]];
    fprintf(ps, "%s%s", k ? "; " : "", smelt_op_info(n->op)->name);
    if (!(k == pro && anchor) && n->nattr) {
      for (int i = 0; i < n->nattr; i++)
        if (n->attrs[i].type == SMELT_A_INT) fprintf(ps, "%s%s=%lld", i ? "," : "(", n->attrs[i].key, (long long)n->attrs[i].i);
        else fprintf(ps, "%s%s=%.17g", i ? "," : "(", n->attrs[i].key, n->attrs[i].f);
      fputc(')', ps);
    }
    for (int i = 0; i < n->nin; i++) {
      int v = n->in[i];
      if (k && v == g->nodes[ch[k - 1]].out[0]) { fprintf(ps, " t%d", k - 1); continue; }
      int j = 0;
      while (j < nfin && fin[j] != v) j++;
      if (j == nfin) fin[nfin++] = v;
      fprintf(ps, " x%d", j);
    }
  }
  fclose(ps);
  smelt_attr at[8];
  int na = 0;
  at[na++] = smelt_attr_str("prog", smelt_strdup(cx, prog ? prog : ""));
  free(prog);
  if (anchor) {
    const smelt_node *a = &g->nodes[ch[pro]];
    for (int i = 0; i < a->nattr && na < 8; i++) at[na++] = a->attrs[i];
  }
  int last = ch[nch - 1], final = g->nodes[last].out[0];
  const char *name = g->nodes[ch[pro]].name;
  if (smelt_graph_add_node(g, SMELT_OP_FUSED, name, fin, nfin, at, na, 1, NULL) < 0) return SMELT_ERR;
  smelt_node fn = g->nodes[--g->nnodes];
  fn.out[0] = final;
  g->values[final].producer = last;
  g->nodes[last] = fn;
  for (int k = 0; k < nch - 1; k++) g->nodes[ch[k]].dead = 1;
  return 0;
}

/* The norm node (RMSNorm, LayerNorm) that the MatMul anchor ai may take as its
 * prologue, or -1: the norm's result is read by ai only (as A), f32 rows [R, K] with K
 * known and each chunk of rows the C kernel normalizes on its stack (64 KiB) — all R
 * rows when R is a number, else R a symbol that is also Y's row count, so the kernel
 * can run the anchor on a chunk of rows at a time (backends/c/k_fused.c). */
static int prologue(struct fz *f, int ai) {
  smelt_graph *g = f->g;
  const smelt_node *a = &g->nodes[ai];
  if (a->op != SMELT_OP_MATMUL) return -1;
  int h = a->in[0];
  const smelt_value *H = &g->values[h], *Y = &g->values[a->out[0]];
  if (H->kind != SMELT_V_NODE || H->producer < 0 || f->uses[h] != 1 || a->in[1] == h) return -1;
  const smelt_node *nm = &g->nodes[H->producer];
  if (nm->dead || !smelt_fused_is_prologue(nm->op) || nm->nout != 1) return -1;
  if (H->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32 || H->shape.rank != 2 || Y->shape.rank != 2 || H->shape.d[1].sym) return -1;
  if (g->values[nm->in[0]].dt != SMELT_DT_F32) return -1;
  int64_t K = H->shape.d[1].n, ch = SMELT_FUSED_PRO_BYTES / (4 * (K ? K : 1));
  if (ch < 1) return -1;
  smelt_dim R = H->shape.d[0];
  if (R.sym ? Y->shape.d[0].sym != R.sym : R.n > ch) return -1;
  return H->producer;
}

static int fuse_chains(struct fz *f) {
  smelt_graph *g = f->g;
  int fused = 0, ch[SMELT_FUSED_MAXSTEPS], seen[64];
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    int anchor = is_anchor_node(g, n);
    if (!anchor && !is_ew_node(g, n)) continue;
    int nch = 0, nseen = 0, pro = anchor ? prologue(f, ni) : -1;
    if (pro >= 0) ch[nch++] = pro;
    pro = pro >= 0;
    ch[nch++] = ni;
    if (!anchor) /* the first step's inputs count against the loop's limit */
      for (int k = 0; k < n->nin; k++) {
        int j = 0;
        while (j < nseen && seen[j] != n->in[k]) j++;
        if (j == nseen) seen[nseen++] = n->in[k];
      }
    if (nseen > MAX_EPI_INPUTS) continue;
    int cur = n->out[0];
    while (nch < SMELT_FUSED_MAXSTEPS && f->uses[cur] == 1) {
      const smelt_node *m = &g->nodes[f->consumer[cur]];
      if (!is_ew_node(g, m) || g->values[m->out[0]].dt != g->values[cur].dt ||
          !smelt_shape_eq(&g->values[m->out[0]].shape, &g->values[cur].shape))
        break;
      int add[3], nadd = 0;
      for (int k = 0; k < m->nin; k++) {
        int v = m->in[k], j = 0;
        if (v == cur) continue;
        while (j < nseen && seen[j] != v) j++;
        if (j == nseen) add[nadd++] = v;
      }
      if (nseen + nadd > MAX_EPI_INPUTS) break;
      for (int k = 0; k < nadd; k++) seen[nseen++] = add[k];
      ch[nch++] = f->consumer[cur];
      cur = m->out[0];
    }
    if (nch < 2) continue;
    if (make_fused(f, ch, nch, anchor, pro)) return SMELT_ERR;
    fused++;
    if (count_uses(f)) return SMELT_ERR;
  }
  return fused;
}

int smelt_pass_fuse(smelt_ctx *cx, smelt_graph *g) {
  struct fz f = {g, NULL, NULL, 0};
  int before = smelt_count_kernels(g);
  if (count_uses(&f)) return SMELT_ERR;
  int bn = fold_bn(&f);
  if (bn < 0 || count_uses(&f)) return SMELT_ERR;
  int nf = fuse_chains(&f);
  if (nf < 0) return SMELT_ERR;
  smelt_graph_compact(g);
  smelt_logf(cx, 1, "fuse: %d batch norms folded, %d chains fused, kernels %d -> %d", bn, nf, before, smelt_count_kernels(g));
  return 0;
}
