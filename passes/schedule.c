/* passes/schedule.c — a peak-lowering schedule: reorders the nodes (still a
 * topological order) so that fewer bytes are live at once, before memplan packs them.
 *
 * Expects: a verified graph (run just before memplan).
 * Guarantees: g->nodes is a topological order of the same nodes (producers updated),
 * readers of a value updated in place (OPF_INPLACE, the KV cache) keep their order
 * relative to the update, and memplan's lower bound (the most bytes live at one node)
 * is never above the source order's: each candidate order is planned with memplan and
 * the source order is kept unless a candidate lowers the lower bound (or keeps it and
 * lowers the arena).  Deterministic: ties go to the earlier node of the source order.
 *
 * Candidates come from a greedy list scheduler over the ready nodes.  A node's cost is
 * the bytes it allocates (outputs with storage of their own) minus the bytes it frees
 * (arena values it is the last reader of); the variants differ in how they break the
 * choice: lowest cost; lowest cost among the readers of the value produced last (depth
 * first: finish a branch before opening the next); most bytes freed; and branches in
 * Sethi-Ullman order (a branch followed depth first to where it waits for another;
 * the branch whose peak exceeds its result by the most runs first: GoogLeNet's pooling
 * branch, which widens then shrinks, before the others' results pile up).  Kernels compute
 * the same values in any order, so results are bit-identical to the source order's. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

struct sched {
  const smelt_graph *g;
  int n;            /* live nodes */
  int *ids;         /* live node indices in source order */
  int *pos;         /* node index -> position among live nodes, -1 when dead */
  int *succ, *succ0;/* successors (CSR over positions), with duplicates */
  int *indeg0;      /* predecessor count per position */
  int *root;        /* per value: the value whose bytes it is (views, in-place updates) */
  int64_t *bytes;   /* per root: arena bytes (0 for inputs, outputs, constants, states) */
  int *uses0;       /* per root: input slots reading it */
};

static int64_t value_bytes(const smelt_graph *g, int v) {
  int64_t e = smelt_shape_max_elems(g, &g->values[v].shape);
  if (e < 0) return 0;
  return (e * smelt_dtype_bytes(g->values[v].dt) + 63) / 64 * 64;
}

/* Fills s from g; returns 0 or SMELT_ERR (out of memory). */
static int sched_init(smelt_ctx *cx, const smelt_graph *g, struct sched *s) {
  int nn = g->nnodes, nv = g->nvalues;
  memset(s, 0, sizeof *s);
  s->g = g;
  s->ids = smelt_alloc(cx, sizeof(int) * (size_t)(nn + 1));
  s->pos = smelt_alloc(cx, sizeof(int) * (size_t)(nn + 1));
  s->indeg0 = smelt_alloc(cx, sizeof(int) * (size_t)(nn + 1));
  s->succ0 = smelt_alloc(cx, sizeof(int) * (size_t)(nn + 2));
  s->root = smelt_alloc(cx, sizeof(int) * (size_t)(nv + 1));
  s->bytes = smelt_alloc(cx, sizeof(int64_t) * (size_t)(nv + 1));
  s->uses0 = smelt_alloc(cx, sizeof(int) * (size_t)(nv + 1));
  char *isout = smelt_alloc(cx, (size_t)nv + 1);
  if (!s->ids || !s->pos || !s->indeg0 || !s->succ0 || !s->root || !s->bytes || !s->uses0 || !isout) return SMELT_ERR;
  for (int i = 0; i < g->noutputs; i++) isout[g->outputs[i]] = 1;
  for (int i = 0; i < nn; i++) {
    s->pos[i] = -1;
    if (!g->nodes[i].dead) { s->pos[i] = s->n; s->ids[s->n++] = i; }
  }
  for (int v = 0; v < nv; v++) {
    s->root[v] = v;
    s->bytes[v] = g->values[v].kind == SMELT_V_NODE && !isout[v] ? value_bytes(g, v) : 0;
  }
  for (int k = 0; k < s->n; k++) { /* views and in-place updates share their input's root */
    const smelt_node *nd = &g->nodes[s->ids[k]];
    unsigned fl = smelt_op_flags(nd->op);
    if (!(fl & (OPF_VIEW | OPF_INPLACE)) || ((fl & OPF_VIEW) && isout[nd->out[0]])) continue;
    s->root[nd->out[0]] = s->root[nd->in[0]];
    s->bytes[nd->out[0]] = 0;
  }
  /* edges: data, plus the order of a root's readers around each in-place update */
  int cap = 0;
  for (int k = 0; k < s->n; k++) cap += g->nodes[s->ids[k]].nin;
  int ninpl = 0;
  for (int k = 0; k < s->n; k++) ninpl += (smelt_op_flags(g->nodes[s->ids[k]].op) & OPF_INPLACE) != 0;
  int64_t ecap = (int64_t)cap + (int64_t)ninpl * (int64_t)cap;
  if (ecap > ((int64_t)1 << 28)) return smelt_errorf(cx, "schedule: the graph has too many ordering constraints");
  int *ea = malloc(sizeof(int) * (size_t)(ecap + 1)), *eb = malloc(sizeof(int) * (size_t)(ecap + 1));
  if (!ea || !eb) { free(ea); free(eb); return smelt_errorf(cx, "out of memory"); }
  int64_t ne = 0;
  for (int k = 0; k < s->n; k++) {
    const smelt_node *nd = &g->nodes[s->ids[k]];
    for (int j = 0; j < nd->nin; j++) {
      int v = nd->in[j];
      if (v < 0) continue;
      s->uses0[s->root[v]]++;
      if (g->values[v].kind == SMELT_V_NODE && g->values[v].producer >= 0 && s->pos[g->values[v].producer] >= 0)
        ea[ne] = s->pos[g->values[v].producer], eb[ne++] = k;
    }
  }
  for (int k = 0; k < s->n; k++) {
    const smelt_node *w = &g->nodes[s->ids[k]];
    if (!(smelt_op_flags(w->op) & OPF_INPLACE)) continue;
    int r = s->root[w->in[0]];
    for (int u = 0; u < s->n; u++) {
      if (u == k) continue;
      const smelt_node *nd = &g->nodes[s->ids[u]];
      int reads = 0;
      for (int j = 0; j < nd->nin; j++) reads |= nd->in[j] >= 0 && s->root[nd->in[j]] == r;
      if (reads) { ea[ne] = u < k ? u : k; eb[ne++] = u < k ? k : u; }
    }
  }
  s->succ = smelt_alloc(cx, sizeof(int) * (size_t)(ne + 1));
  if (!s->succ) { free(ea); free(eb); return SMELT_ERR; }
  for (int64_t e = 0; e < ne; e++) s->succ0[ea[e] + 1]++, s->indeg0[eb[e]]++;
  for (int k = 0; k < s->n; k++) s->succ0[k + 1] += s->succ0[k];
  int *fill = calloc((size_t)s->n + 1, sizeof(int));
  if (!fill) { free(ea); free(eb); return smelt_errorf(cx, "out of memory"); }
  for (int64_t e = 0; e < ne; e++) s->succ[s->succ0[ea[e]] + fill[ea[e]]++] = eb[e];
  free(fill);
  free(ea);
  free(eb);
  return 0;
}

enum { BY_COST, DEPTH_FIRST, MOST_FREED, BRANCHES, NVARIANTS };

/* Bytes node k (a position) allocates and frees when run now (uses: remaining reads
 * per root). */
static void node_cost(const struct sched *s, int k, const int *uses, int64_t *alloc, int64_t *freed) {
  const smelt_node *nd = &s->g->nodes[s->ids[k]];
  *alloc = *freed = 0;
  for (int j = 0; j < nd->nout; j++)
    if (nd->out[j] >= 0 && s->root[nd->out[j]] == nd->out[j]) *alloc += s->bytes[nd->out[j]];
  for (int j = 0; j < nd->nin; j++) { /* a root whose remaining reads are all this node's */
    if (nd->in[j] < 0) continue;
    int rt = s->root[nd->in[j]], mine = 0, first = 1;
    for (int i = 0; i < nd->nin; i++)
      if (nd->in[i] >= 0 && s->root[nd->in[i]] == rt) { mine++; if (i < j) first = 0; }
    if (first && mine == uses[rt]) *freed += s->bytes[rt];
  }
}

/* Marks k run: its reads are done, its successors lose a predecessor. */
static void run_node(const struct sched *s, int k, int *indeg, int *uses, int dir) {
  const smelt_node *nd = &s->g->nodes[s->ids[k]];
  for (int j = 0; j < nd->nin; j++)
    if (nd->in[j] >= 0) uses[s->root[nd->in[j]]] -= dir;
  for (int e = s->succ0[k]; e < s->succ0[k + 1]; e++) indeg[s->succ[e]] -= dir;
}

/* A ready successor of k that reads one of k's outputs (the lowest position), or -1. */
static int next_in_chain(const struct sched *s, int k, const int *indeg) {
  const smelt_node *kn = &s->g->nodes[s->ids[k]];
  int best = -1;
  for (int e = s->succ0[k]; e < s->succ0[k + 1]; e++) {
    int u = s->succ[e];
    if (indeg[u] || (best >= 0 && u >= best)) continue;
    const smelt_node *nd = &s->g->nodes[s->ids[u]];
    int reads = 0;
    for (int j = 0; j < nd->nin && !reads; j++)
      for (int i = 0; i < kn->nout; i++) reads |= nd->in[j] >= 0 && nd->in[j] == kn->out[i];
    if (reads) best = u;
  }
  return best;
}

/* The branch that starts at k: k, then depth first the nodes that k's chain alone
 * makes ready (at most 64).  Its peak (bytes above the current live set) and its
 * net growth when done; indeg and uses are restored. */
static void branch_cost(const struct sched *s, int k, int *indeg, int *uses, int64_t *peak, int64_t *net) {
  int chain[64], n = 0;
  int64_t cur = 0;
  *peak = 0;
  for (int u = k; u >= 0 && n < 64; u = next_in_chain(s, u, indeg)) {
    int64_t a, f;
    node_cost(s, u, uses, &a, &f);
    if (cur + a > *peak) *peak = cur + a;
    cur += a - f;
    run_node(s, u, indeg, uses, 1);
    chain[n++] = u;
  }
  *net = cur;
  while (n > 0) run_node(s, chain[--n], indeg, uses, -1);
}

/* One greedy order (positions) into out[s->n]. */
static int greedy(const struct sched *s, int variant, int *out) {
  const smelt_graph *g = s->g;
  int n = s->n, nv = g->nvalues, rc = 0;
  int *indeg = malloc(sizeof(int) * (size_t)(n + 1)), *uses = malloc(sizeof(int) * (size_t)(nv + 1));
  char *done = calloc((size_t)n + 1, 1);
  if (!indeg || !uses || !done) { rc = -1; goto fin; }
  memcpy(indeg, s->indeg0, sizeof(int) * (size_t)n);
  memcpy(uses, s->uses0, sizeof(int) * (size_t)nv);
  int last = -1; /* the node scheduled last (depth first, branches) */
  for (int step = 0; step < n; step++) {
    int best = -1, bestdeep = 0;
    int64_t bcost = 0, bfree = 0, bkey = 0;
    int cont = variant == BRANCHES && last >= 0 ? next_in_chain(s, last, indeg) : -1;
    for (int k = cont >= 0 ? cont : 0; k < n; k++) {
      if (done[k] || indeg[k]) continue;
      int64_t alloc, freed, key = 0;
      node_cost(s, k, uses, &alloc, &freed);
      int deep = 0;
      if (variant == DEPTH_FIRST && last >= 0) {
        const smelt_node *nd = &g->nodes[s->ids[k]], *ln = &g->nodes[s->ids[last]];
        for (int j = 0; j < nd->nin; j++)
          for (int i = 0; i < ln->nout; i++) deep |= nd->in[j] >= 0 && nd->in[j] == ln->out[i];
      }
      if (variant == BRANCHES && cont < 0) { /* Sethi-Ullman: the branch whose peak exceeds its result most first */
        int64_t peak, net;
        branch_cost(s, k, indeg, uses, &peak, &net);
        key = peak - net;
      }
      int64_t cost = alloc - freed;
      int better;
      if (best < 0) better = 1;
      else if (variant == MOST_FREED) better = freed != bfree ? freed > bfree : cost != bcost ? cost < bcost : 0;
      else if (variant == DEPTH_FIRST && deep != bestdeep) better = deep > bestdeep;
      else if (variant == BRANCHES && key != bkey) better = key > bkey;
      else better = cost < bcost; /* ties: the earlier position (k increases) */
      if (better) { best = k; bcost = cost; bfree = freed; bestdeep = deep; bkey = key; }
      if (cont >= 0) break;
    }
    if (best < 0) { rc = -1; goto fin; } /* a cycle: cannot happen in a verified graph */
    out[step] = best;
    last = best;
    done[best] = 1;
    run_node(s, best, indeg, uses, 1);
  }
fin:
  free(indeg);
  free(uses);
  free(done);
  return rc;
}

/* Puts g's live nodes in the order `order` (positions into s->ids), dead ones after. */
static int apply(smelt_ctx *cx, smelt_graph *g, const struct sched *s, const int *order, const smelt_node *src) {
  int k = 0;
  for (int i = 0; i < s->n; i++) g->nodes[k++] = src[s->ids[order[i]]];
  for (int i = 0; i < g->nnodes; i++)
    if (s->pos[i] < 0) g->nodes[k++] = src[i];
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i].nout; j++)
      if (g->nodes[i].out[j] >= 0) g->values[g->nodes[i].out[j]].producer = i;
  (void)cx;
  return 0;
}

int smelt_schedule_peak(smelt_ctx *cx, smelt_graph *g, int64_t *lb, int64_t *arena) {
  struct smelt_plan *keep = g->plan;
  if (smelt_pass_memplan(cx, g)) return SMELT_ERR;
  *lb = g->plan->lower_bound;
  *arena = g->plan->arena_bytes;
  g->plan = keep;
  return 0;
}

int smelt_pass_schedule(smelt_ctx *cx, smelt_graph *g) {
  if (g->nnodes < 3) return 0;
  struct sched s;
  if (sched_init(cx, g, &s)) return SMELT_ERR;
  smelt_node *src = malloc(sizeof *src * (size_t)g->nnodes);
  int *order = malloc(sizeof(int) * (size_t)(s.n + 1)), *best = malloc(sizeof(int) * (size_t)(s.n + 1));
  if (!src || !order || !best) { free(src); free(order); free(best); return smelt_errorf(cx, "out of memory"); }
  memcpy(src, g->nodes, sizeof *src * (size_t)g->nnodes);
  for (int k = 0; k < s.n; k++) best[k] = k;
  int rc = SMELT_ERR, chosen = -1;
  int64_t lb0, ar0, blb, bar;
  if (smelt_schedule_peak(cx, g, &lb0, &ar0)) goto done;
  blb = lb0, bar = ar0;
  for (int var = 0; var < NVARIANTS; var++) {
    if (greedy(&s, var, order)) { smelt_errorf(cx, "schedule: the graph has a cycle"); goto done; }
    int same = 1;
    for (int k = 0; k < s.n && same; k++) same = order[k] == k;
    if (same) continue;
    int64_t lb, ar;
    apply(cx, g, &s, order, src);
    if (smelt_schedule_peak(cx, g, &lb, &ar)) goto done;
    if (lb < blb || (lb == blb && ar < bar)) { blb = lb, bar = ar, chosen = var; memcpy(best, order, sizeof(int) * (size_t)s.n); }
  }
  apply(cx, g, &s, best, src);
  static const char *const names[] = {"lowest cost", "depth first", "most freed", "branches"};
  smelt_logf(cx, 2, "schedule: peak %lld -> %lld bytes (arena %lld -> %lld; %s)", (long long)lb0, (long long)blb, (long long)ar0,
             (long long)bar, chosen < 0 ? "source order kept" : names[chosen]);
  rc = 0;
done:
  if (rc) apply(cx, g, &s, best, src); /* back to the source order */
  free(src);
  free(order);
  free(best);
  return rc;
}
