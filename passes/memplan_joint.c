/* passes/memplan_joint.c — one arena plan for the states (KV cache, adapter scales)
 * and the scratch of several graphs that run one at a time over the same arena (an
 * LLM's prefill and decode entry points; a single graph with states).
 *
 * Expects: every graph planned by memplan (g->plan), with the same states in the same
 * order and sizes (the builders add them in one order; the adapter scales last).
 * Guarantees: each graph's plan then gives arena offsets (state_bytes 0) in one arena
 * of plan->arena_bytes bytes, the same for every graph, where
 *   - a state has one offset, the same in every graph, overlapping nothing;
 *   - a graph's scratch values keep memplan's liveness (aliases untouched) and overlap
 *     nothing live at the same time in that graph, nor any state;
 *   - lower_bound is the joint timeline's: the states plus the largest scratch lower
 *     bound of the graphs (the graphs never run at once).
 * The planner is memplan's (largest first, at the lowest offset that fits), run over
 * one timeline: graph 0's nodes, then graph 1's, ..., with the states live
 * throughout.  If that packing is larger than the plain layout (states in order, then
 * each graph's own scratch plan above them) the plain layout is kept: it is never
 * worse than the separate regions it replaces. */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

struct jitem { struct smelt_span s; int g, v; };

static int by_size(const void *a, const void *b) {
  const struct jitem *x = a, *y = b;
  if (x->s.size != y->s.size) return x->s.size > y->s.size ? -1 : 1;
  if (x->s.start != y->s.start) return x->s.start < y->s.start ? -1 : 1;
  return x->g != y->g ? (x->g < y->g ? -1 : 1) : (x->v < y->v ? -1 : x->v > y->v);
}

/* Keeps memplan's own scratch plan of g (the first time g's plan is seen here), so
 * that planning again (a graph's own states, then with the other entry point) starts
 * from it. */
static int snapshot(smelt_ctx *cx, smelt_graph *g) {
  struct smelt_plan *p = g->plan;
  if (p->joint) return 0;
  if (!(p->scratch_offset = smelt_alloc(cx, sizeof(int64_t) * (size_t)(g->nvalues + 1)))) return SMELT_ERR;
  memcpy(p->scratch_offset, p->offset, sizeof(int64_t) * (size_t)g->nvalues);
  p->scratch_bytes = p->arena_bytes;
  p->scratch_lower_bound = p->lower_bound;
  return 0;
}

int smelt_memplan_joint(smelt_ctx *cx, smelt_graph **gs, int ng) {
  if (ng < 1) return 0;
  const smelt_graph *g0 = gs[0];
  for (int k = 0; k < ng; k++) {
    if (!gs[k]->plan) return smelt_errorf(cx, "memplan: graph '%s' has no plan", gs[k]->name);
    if (snapshot(cx, gs[k])) return SMELT_ERR;
    if (gs[k]->nstates != g0->nstates) return smelt_errorf(cx, "memplan: the entry points disagree on the states");
    for (int i = 0; i < g0->nstates; i++)
      if (gs[k]->plan->size[gs[k]->states[i]] != g0->plan->size[g0->states[i]])
        return smelt_errorf(cx, "memplan: state %d differs in size between the entry points", i);
  }
  int cap = g0->nstates;
  int64_t T = 0;
  for (int k = 0; k < ng; k++) cap += gs[k]->nvalues, T += gs[k]->nnodes + 1;
  struct jitem *it = malloc(sizeof *it * (size_t)(cap + 1));
  int64_t *end = NULL;
  if (!it) return smelt_errorf(cx, "out of memory");
  int n = 0, rc = SMELT_ERR;
  int64_t states = 0, t0 = 0, plain = 0;
  for (int i = 0; i < g0->nstates; i++) { /* live over the whole timeline */
    it[n++] = (struct jitem){{0, T, g0->plan->size[g0->states[i]], 0}, -1, i};
    states += g0->plan->size[g0->states[i]];
  }
  for (int k = 0; k < ng; k++, t0 += gs[k - 1]->nnodes + 1) {
    const smelt_graph *g = gs[k];
    const struct smelt_plan *p = g->plan;
    end = realloc(end, sizeof(int64_t) * (size_t)(g->nvalues + 1));
    if (!end) { smelt_errorf(cx, "out of memory"); goto done; }
    for (int v = 0; v < g->nvalues; v++) end[v] = -1;
    /* a root's storage lives from its producer to the last read of anything aliasing it */
    for (int ni = 0; ni < g->nnodes; ni++) {
      const smelt_node *nd = &g->nodes[ni];
      if (nd->dead) continue;
      for (int j = 0; j < nd->nout; j++)
        if (nd->out[j] >= 0 && end[nd->out[j]] < ni) end[nd->out[j]] = ni;
      for (int j = 0; j < nd->nin; j++) {
        int r = nd->in[j];
        if (r < 0) continue;
        if (p->alias[r] >= 0) r = p->alias[r];
        if (end[r] < ni) end[r] = ni;
      }
    }
    for (int v = 0; v < g->nvalues; v++) {
      const smelt_value *val = &g->values[v];
      if (val->kind != SMELT_V_NODE || p->offset[v] < 0 || p->alias[v] >= 0 || val->producer < 0) continue;
      it[n++] = (struct jitem){{t0 + val->producer, t0 + (end[v] > val->producer ? end[v] : val->producer), p->size[v], 0}, k, v};
    }
  }
  /* the plain layout: states in order, then each graph's scratch as memplan placed it
   * (offsets relative to the scratch region: state_bytes > 0 until a joint plan) */
  int64_t scratch = 0, lbs = 0;
  for (int k = 0; k < ng; k++) {
    const struct smelt_plan *p = gs[k]->plan;
    if (p->scratch_bytes > scratch) scratch = p->scratch_bytes;
    if (p->scratch_lower_bound > lbs) lbs = p->scratch_lower_bound;
  }
  plain = states + scratch;
  qsort(it, n, sizeof *it, by_size);
  int64_t packed = smelt_place_spans(it, n, sizeof *it);
  if (packed < 0) { smelt_errorf(cx, "out of memory"); goto done; }
  int use_packed = packed < plain;
  for (int k = 0; k < ng; k++) {
    smelt_graph *g = gs[k];
    struct smelt_plan *p = g->plan;
    if (!use_packed) { /* scratch offsets move above the states */
      for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].kind == SMELT_V_NODE && p->offset[v] >= 0 && p->alias[v] < 0) p->offset[v] = states + p->scratch_offset[v];
      int64_t st = 0;
      for (int i = 0; i < g->nstates; i++) p->offset[g->states[i]] = st, st += p->size[g->states[i]];
    }
  }
  if (use_packed)
    for (int i = 0; i < n; i++) {
      if (it[i].g < 0)
        for (int k = 0; k < ng; k++) gs[k]->plan->offset[gs[k]->states[it[i].v]] = it[i].s.off;
      else gs[it[i].g]->plan->offset[it[i].v] = it[i].s.off;
    }
  for (int k = 0; k < ng; k++) {
    struct smelt_plan *p = gs[k]->plan;
    p->state_bytes = 0;
    p->states_in_arena = states;
    p->arena_bytes = use_packed ? packed : plain;
    p->lower_bound = states + lbs;
    p->joint = ng;
  }
  smelt_logf(cx, 2, "memplan: %d entry point(s) and %lld bytes of state in one arena of %lld bytes (lower bound %lld; %s)", ng,
             (long long)states, (long long)(use_packed ? packed : plain), (long long)(states + lbs),
             use_packed ? "packed" : "states first, then scratch");
  rc = 0;
done:
  free(it);
  free(end);
  return rc;
}

int smelt_pass_memplan_states(smelt_ctx *cx, smelt_graph *g) {
  if (smelt_pass_memplan(cx, g)) return SMELT_ERR;
  return g->nstates ? smelt_memplan_joint(cx, &g, 1) : 0;
}
