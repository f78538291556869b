/* passes/concat.c — Q/K/V and gate/up concatenation.
 *
 * Expects: a folded graph after quantize (weights in their final dtype), before fuse.
 * Guarantees: MatMuls that read the same activation X with constant weights W_i
 * [N_i, K] (trans_b) of one dtype — f32, f16, bf16 or any block type: blocks run along
 * K, so rows concatenate as bytes — become ONE MatMul by W = [W_1; W_2; ...] [ΣN_i, K]
 * followed by a Slice per original result taking its column range.  When every
 * member's only reader adds a constant bias [N_i] (Qwen2's Q/K/V), the biases are
 * concatenated too and added once before the split.  Each output column is computed
 * exactly as before (same row of W, same accumulation), so the interpreter's results
 * are bit-identical.
 *
 * Skipped: MatMuls whose result is a graph output or is read by a LoRA node (the
 * switchable adapter adds its delta to that very result: passes/lora_merge.c), and
 * MatMuls whose weights broadcast over batch dims.
 *
 * Only where the split is free: with one row (the decode graph, X [1, K]) a column
 * range of the [1, ΣN_i] result is contiguous, so memplan makes each Slice a view at
 * a byte offset (passes/views.c).  With n rows (prefill) the split would be a strided
 * copy and the wide result would live beside its parts (stories260K's prefill arena
 * grew 60%, 15 more kernels), while at n rows the separate GEMMs are large enough that
 * merging saves little (one activation quantization, two thread dispatches): there
 * the MatMuls stay, reading their weights as row ranges of the same concatenated
 * buffer (NOTES.md).
 *
 * An LLM build (a graph with state) runs the pipeline on its prefill and decode graphs
 * separately over the same weight constants; the concatenated buffers are kept in a memo of the build
 * (smelt_build_opts.concat_memo) keyed by the members' data, so both graphs point at
 * one buffer and the backend's shared-constant table (keyed by data pointer) emits
 * it once.  The members' own constants become unreferenced and are not emitted.
 *
 * Weights the layout pass packs into column panels of P (f32 / f16 on the vector
 * targets, passes/layout.c) are merged only when every member's N is a multiple of P:
 * then the stack's panels are the members' panels one after another (ir/pack.h), so
 * layout packs the stack once, decode's one product reads it whole, and prefill's
 * products read their panel ranges of it (smelt_concat_parent finds the stack). */
#include "passes.h"
#include "compiler/driver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MEMBERS 8

struct cat_ent {
  const char *key;
  void *data;
  uint64_t nbytes;
  smelt_dtype dt; /* the members' dtype */
};

struct smelt_concat_memo {
  struct cat_ent *e;
  int n, cap;
};

struct smelt_concat_memo *smelt_concat_memo_new(smelt_ctx *cx) { return smelt_alloc(cx, sizeof(struct smelt_concat_memo)); }

/* The concatenation of the constants vals[0..n) (bytes, in order), from the memo or
 * made and remembered. */
static void *concat_bytes(smelt_graph *g, struct smelt_concat_memo *m, const int *vals, int n, uint64_t *nbytes) {
  smelt_ctx *cx = g->cx;
  char key[MAX_MEMBERS * 48 + 16];
  size_t k = 0;
  uint64_t total = 0;
  for (int i = 0; i < n; i++) {
    const smelt_value *v = &g->values[vals[i]];
    k += (size_t)snprintf(key + k, sizeof key - k, "%p:%llu:%d,", v->c.data, (unsigned long long)v->c.nbytes, (int)v->dt);
    total += v->c.nbytes;
  }
  *nbytes = total;
  for (int i = 0; i < m->n; i++)
    if (!strcmp(m->e[i].key, key)) return m->e[i].data;
  unsigned char *buf = smelt_alloc(cx, total ? total : 1);
  if (!buf) return NULL;
  uint64_t off = 0;
  for (int i = 0; i < n; i++) {
    const smelt_value *v = &g->values[vals[i]];
    memcpy(buf + off, v->c.data, v->c.nbytes);
    off += v->c.nbytes;
  }
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 32;
    struct cat_ent *ne = smelt_alloc(cx, sizeof *ne * (size_t)cap);
    if (!ne) return NULL;
    if (m->n) memcpy(ne, m->e, sizeof *ne * (size_t)m->n);
    m->e = ne;
    m->cap = cap;
  }
  m->e[m->n++] = (struct cat_ent){smelt_strdup(cx, key), buf, total, g->values[vals[0]].dt};
  return buf;
}

/* The concatenation of this build holding the bytes [data, data + nbytes) of dtype dt
 * (the layout pass asks, to pack a stacked weight once: passes/layout.c). */
int64_t smelt_concat_parent(const struct smelt_concat_memo *m, const void *data, uint64_t nbytes, smelt_dtype dt, void **pdata,
                            uint64_t *pnbytes) {
  const unsigned char *d = data;
  for (int i = 0; m && i < m->n; i++) {
    const unsigned char *b = m->e[i].data;
    if (m->e[i].dt != dt || d < b || d + nbytes > b + m->e[i].nbytes) continue;
    *pdata = m->e[i].data;
    *pnbytes = m->e[i].nbytes;
    return d - b;
  }
  return -1;
}

struct member {
  int node;  /* the MatMul */
  int bias;  /* the Add of a constant [N] that is its only reader, or -1 */
  int64_t N;
};

/* Is node ni a MatMul this pass can merge?  (X, W [N, K] constant, trans_b, no
 * broadcasting, result neither a graph output nor read by a LoRA node) */
static int candidate(const smelt_graph *g, int ni, const char *lora_read) {
  const smelt_node *n = &g->nodes[ni];
  if (n->dead || n->op != SMELT_OP_MATMUL || n->nin != 2 || n->nout != 1 || !smelt_attr_i(n, "trans_b")) return 0;
  const smelt_value *A = &g->values[n->in[0]], *W = &g->values[n->in[1]], *Y = &g->values[n->out[0]];
  if (W->kind != SMELT_V_CONST || !W->c.data || W->shape.rank != 2 || W->shape.d[0].sym || W->shape.d[1].sym) return 0;
  if (A->shape.rank < 1 || Y->shape.rank != A->shape.rank || A->shape.d[A->shape.rank - 1].sym) return 0;
  if (smelt_is_output(g, n->out[0]) || lora_read[n->out[0]]) return 0;
  /* weights the layout pass packs into panels of P: the stacked weight's panels are the
   * members' panels one after another when each N is a multiple of P, so the layout
   * pass packs the stack once and prefill's products read panel ranges of it; otherwise
   * a stacked copy would be stored beside the members' panels */
  const struct smelt_build_opts *o = smelt_ctx_options(g->cx);
  if (smelt_layout_would_pack(o, W->dt, W->shape.d[0].n * W->shape.d[1].n) && W->shape.d[0].n % smelt_layout_panel(o)) return 0;
  return W->c.nbytes == (uint64_t)smelt_dtype_nbytes(W->dt, W->shape.d[1].n) * (uint64_t)W->shape.d[0].n;
}

static int same_group(const smelt_graph *g, int a, int b) {
  const smelt_node *x = &g->nodes[a], *y = &g->nodes[b];
  const smelt_value *wx = &g->values[x->in[1]], *wy = &g->values[y->in[1]];
  const struct smelt_build_opts *o = smelt_ctx_options(g->cx);
  return x->in[0] == y->in[0] && wx->dt == wy->dt && wx->shape.d[1].n == wy->shape.d[1].n &&
         g->values[x->out[0]].dt == g->values[y->out[0]].dt &&
         /* packed members with packed ones only: a stack is packed whole or not at all */
         smelt_layout_would_pack(o, wx->dt, wx->shape.d[0].n * wx->shape.d[1].n) ==
             smelt_layout_would_pack(o, wy->dt, wy->shape.d[0].n * wy->shape.d[1].n);
}

/* The Add reading only y (y + b or b + y) with b a constant [N] of y's dtype, when
 * that Add is y's only reader; else -1. */
static int bias_add(const smelt_graph *g, int y, int64_t N, const int *uses, const int *consumer) {
  if (uses[y] != 1) return -1;
  const smelt_node *a = &g->nodes[consumer[y]];
  if (a->op != SMELT_OP_ADD || a->nin != 2 || (a->in[0] == y) == (a->in[1] == y)) return -1;
  const smelt_value *b = &g->values[a->in[a->in[0] == y]], *Y = &g->values[y];
  if (b->kind != SMELT_V_CONST || !b->c.data || b->dt != Y->dt || b->shape.rank != 1 || b->shape.d[0].sym || b->shape.d[0].n != N) return -1;
  if (!smelt_shape_eq(&g->values[a->out[0]].shape, &Y->shape) || g->values[a->out[0]].dt != Y->dt) return -1;
  return consumer[y];
}

/* Moves nodes [from, g->nnodes) to position `at` (before the node there). */
static int move_tail(smelt_graph *g, int from, int at) {
  int cnt = g->nnodes - from;
  smelt_node *tmp = malloc(sizeof *tmp * (size_t)(cnt ? cnt : 1));
  if (!tmp) return smelt_errorf(g->cx, "out of memory");
  memcpy(tmp, g->nodes + from, sizeof *tmp * (size_t)cnt);
  memmove(g->nodes + at + cnt, g->nodes + at, sizeof *tmp * (size_t)(from - at));
  memcpy(g->nodes + at, tmp, sizeof *tmp * (size_t)cnt);
  free(tmp);
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i].dead)
      for (int k = 0; k < g->nodes[i].nout; k++)
        if (g->nodes[i].out[k] >= 0) g->values[g->nodes[i].out[k]].producer = i;
  return 0;
}

static const char *joined(smelt_ctx *cx, const char *a, const char *b) { return smelt_sprintf(cx, "%s+%s", a, b); }

/* Replaces the members' MatMuls (and bias Adds) by one MatMul [+ Add] and a Slice per
 * member, placed where the first member was. */
static int merge(smelt_graph *g, struct smelt_concat_memo *memo, const struct member *mb, int nm) {
  smelt_ctx *cx = g->cx;
  int ws[MAX_MEMBERS], bs[MAX_MEMBERS], first = mb[0].node, hasb = mb[0].bias >= 0;
  int64_t Nt = 0;
  const char *wname = NULL, *nname = NULL, *bname = NULL;
  for (int i = 0; i < nm; i++) {
    const smelt_node *n = &g->nodes[mb[i].node];
    ws[i] = n->in[1];
    Nt += mb[i].N;
    wname = i ? joined(cx, wname, g->values[ws[i]].name) : g->values[ws[i]].name;
    nname = i ? joined(cx, nname, n->name) : n->name;
    if (hasb) {
      const smelt_node *a = &g->nodes[mb[i].bias];
      bs[i] = a->in[a->in[0] == n->out[0]];
      bname = i ? joined(cx, bname, g->values[bs[i]].name) : g->values[bs[i]].name;
    }
  }
  if (!wname || !nname || (hasb && !bname)) return SMELT_ERR;
  const smelt_value *W0 = &g->values[ws[0]];
  smelt_dtype wdt = W0->dt;
  smelt_shape wsh = {.rank = 2, .d = {smelt_dim_c(Nt), W0->shape.d[1]}};
  uint64_t nb;
  void *wd = concat_bytes(g, memo, ws, nm, &nb);
  if (!wd) return SMELT_ERR;
  int wv = smelt_graph_add_const(g, wname, wdt, &wsh, wd, nb);
  if (wv < 0) return SMELT_ERR;
  int base = g->nnodes;
  int x = g->nodes[first].in[0];
  smelt_attr tb = smelt_attr_int("trans_b", 1);
  int y = smelt_graph_add_node(g, SMELT_OP_MATMUL, nname, (int[]){x, wv}, 2, &tb, 1, 1, NULL);
  if (y < 0) return SMELT_ERR;
  if (hasb) {
    smelt_shape bsh = {.rank = 1, .d = {smelt_dim_c(Nt)}};
    void *bd = concat_bytes(g, memo, bs, nm, &nb);
    if (!bd) return SMELT_ERR;
    int bv = smelt_graph_add_const(g, bname, g->values[bs[0]].dt, &bsh, bd, nb);
    if (bv < 0 || (y = smelt_graph_add_node(g, SMELT_OP_ADD, joined(cx, nname, "bias"), (int[]){y, bv}, 2, NULL, 0, 1, NULL)) < 0) return SMELT_ERR;
  }
  int r = g->values[y].shape.rank;
  int64_t off = 0;
  for (int i = 0; i < nm; i++) {
    const smelt_shape *ys = &g->values[y].shape;
    int64_t st[SMELT_MAX_RANK], en[SMELT_MAX_RANK], sp[SMELT_MAX_RANK];
    for (int d = 0; d < r; d++) {
      st[d] = 0;
      en[d] = ys->d[d].sym ? INT64_MAX : ys->d[d].n;
      sp[d] = 1;
    }
    st[r - 1] = off;
    en[r - 1] = off + mb[i].N;
    off += mb[i].N;
    smelt_attr at[3] = {smelt_attr_ints(cx, "starts", st, r), smelt_attr_ints(cx, "ends", en, r), smelt_attr_ints(cx, "steps", sp, r)};
    int last = hasb ? mb[i].bias : mb[i].node;
    int s = smelt_graph_add_node(g, SMELT_OP_SLICE, g->nodes[last].name, &y, 1, at, 3, 1, NULL);
    if (s < 0) return SMELT_ERR;
    /* the Slice produces the member's result: its name, its readers */
    int orig = g->nodes[last].out[0];
    if (!smelt_shape_eq(&g->values[s].shape, &g->values[orig].shape)) return smelt_errorf(cx, "concat: '%s': split shape mismatch", g->nodes[last].name);
    g->nodes[g->nnodes - 1].out[0] = orig;
    g->nodes[mb[i].node].dead = 1;
    if (hasb) g->nodes[mb[i].bias].dead = 1;
  }
  return move_tail(g, base, first);
}

/* Is the product of X's dims but the last a known 1 (one row: decode)? */
static int one_row(const smelt_graph *g, int x) {
  const smelt_shape *s = &g->values[x].shape;
  for (int d = 0; d + 1 < s->rank; d++)
    if (s->d[d].sym || s->d[d].n != 1) return 0;
  return 1;
}

/* Several rows: the MatMuls stay, but their weights become row ranges of the same
 * concatenated buffer the one-row graph of the build uses, so the weights are still
 * stored once (backends/c/emit.c emits such a constant as a pointer into the other). */
static int share(smelt_graph *g, struct smelt_concat_memo *memo, const struct member *mb, int nm) {
  int ws[MAX_MEMBERS];
  for (int i = 0; i < nm; i++) ws[i] = g->nodes[mb[i].node].in[1];
  uint64_t nb, off = 0;
  unsigned char *wd = concat_bytes(g, memo, ws, nm, &nb);
  if (!wd) return SMELT_ERR;
  for (int i = 0; i < nm; i++) {
    smelt_value *w = &g->values[ws[i]];
    w->c.data = wd + off; /* the same bytes (this graph's own value: the other graph keeps its) */
    off += w->c.nbytes;
  }
  return 0;
}

int smelt_pass_concat(smelt_ctx *cx, smelt_graph *g) {
  const struct smelt_build_opts *o = smelt_ctx_options(cx);
  struct smelt_concat_memo *memo = o && o->concat_memo ? o->concat_memo : smelt_concat_memo_new(cx);
  int nv = g->nvalues;
  char *lora_read = smelt_alloc(cx, (size_t)nv + 1);
  int *uses = smelt_alloc(cx, sizeof(int) * ((size_t)nv + 1)), *consumer = smelt_alloc(cx, sizeof(int) * ((size_t)nv + 1));
  char *done = smelt_alloc(cx, (size_t)g->nnodes + 1);
  if (!memo || !lora_read || !uses || !consumer || !done) return SMELT_ERR;
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]] += 1000;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) { uses[n->in[k]]++; consumer[n->in[k]] = ni; }
    if (n->op == SMELT_OP_LORA) lora_read[n->in[0]] = 1;
  }
  int nmerged = 0, nmembers = 0, nshared = 0;
  /* one group per scan (merge() moves nodes), until no two candidates share an X */
  for (;;) {
    struct member mb[MAX_MEMBERS];
    int nm = 0;
    for (int i = 0; i < g->nnodes && nm < 2; i++) {
      if (done[i] || !candidate(g, i, lora_read)) continue;
      nm = 0;
      mb[nm++] = (struct member){i, -1, g->values[g->nodes[i].in[1]].shape.d[0].n};
      for (int j = i + 1; j < g->nnodes && nm < MAX_MEMBERS; j++)
        if (!done[j] && candidate(g, j, lora_read) && same_group(g, i, j))
          mb[nm++] = (struct member){j, -1, g->values[g->nodes[j].in[1]].shape.d[0].n};
      if (nm < 2) { done[i] = 1; nm = 0; }
    }
    if (nm < 2) break;
    if (!one_row(g, g->nodes[mb[0].node].in[0])) {
      /* only a build with a one-row graph of the same weights (a language model's
       * decode: graphs with state) gains from the shared buffer; others keep theirs */
      if (g->nstates && o && o->concat_memo) {
        if (share(g, memo, mb, nm)) return SMELT_ERR;
        nshared += nm;
      }
      for (int i = 0; i < nm; i++) done[mb[i].node] = 1;
      continue;
    }
    int allb = 1;
    for (int i = 0; i < nm; i++) {
      mb[i].bias = bias_add(g, g->nodes[mb[i].node].out[0], mb[i].N, uses, consumer);
      if (mb[i].bias < 0) allb = 0;
    }
    for (int i = 0; i < nm; i++)
      if (!allb) mb[i].bias = -1;
    int before = g->nnodes;
    if (merge(g, memo, mb, nm)) return SMELT_ERR;
    nmerged++;
    nmembers += nm;
    /* node indices moved: rebuild the bookkeeping (dead nodes are skipped by all) */
    int added = g->nnodes - before;
    char *nd = smelt_alloc(cx, (size_t)g->nnodes + 1);
    if (!nd) return SMELT_ERR;
    for (int i = 0; i < before; i++) nd[i < mb[0].node ? i : i + added] = done[i];
    for (int i = mb[0].node; i < mb[0].node + added; i++) nd[i] = 1; /* the merged MatMul: not again */
    done = nd;
    if (g->nvalues > nv) {
      int nnv = g->nvalues;
      char *lr = smelt_alloc(cx, (size_t)nnv + 1);
      int *u = smelt_alloc(cx, sizeof(int) * ((size_t)nnv + 1)), *c = smelt_alloc(cx, sizeof(int) * ((size_t)nnv + 1));
      if (!lr || !u || !c) return SMELT_ERR;
      memcpy(lr, lora_read, (size_t)nv);
      lora_read = lr;
      uses = u;
      consumer = c;
      nv = nnv;
    }
    memset(uses, 0, sizeof(int) * (size_t)nv);
    for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]] += 1000;
    for (int ni = 0; ni < g->nnodes; ni++) {
      const smelt_node *n = &g->nodes[ni];
      if (n->dead) continue;
      for (int k = 0; k < n->nin; k++) { uses[n->in[k]]++; consumer[n->in[k]] = ni; }
    }
  }
  smelt_graph_compact(g);
  smelt_logf(cx, 1, "concat: %d MatMuls merged into %d, %d read row ranges of a shared concatenation", nmembers, nmerged, nshared);
  return 0;
}
