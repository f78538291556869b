/* tests/unit/memplan_joint.c — states and scratch in one plan (passes/memplan_joint.c).
 *
 * Pairs of random graphs (elementwise chains, concatenations, reshape views) that read
 * the same states (like an LLM's prefill and decode over one KV cache) are planned by
 * memplan, then jointly; and so is stories260K's prefill / decode pair when
 * ../shared/models is present.  Checked, with liveness recomputed here from each
 * graph's node order (a root lives from its producer to the last read of anything
 * aliasing it):
 *   - every state has one aligned offset, the same in both graphs, inside the arena,
 *     and overlaps no other state and no scratch value of either graph;
 *   - scratch values of one graph that are live at the same node do not overlap, and
 *     all lie inside the one arena (state_bytes 0, arena_bytes equal in both plans);
 *   - the lower bound is the states plus the larger scratch lower bound, and the
 *     arena is at least that and at most the old layout (states, then scratch);
 *   - planning again gives the same offsets (a second joint plan starts from memplan's).
 * Prints the average arena / lower bound. */
#include "../testutil.h"
#include "compiler/arch/arch.h"
#include "compiler/ckpt.h"
#include "compiler/driver.h"
#include "ir/ir.h"
#include "passes/passes.h"

#ifndef SMELT_SOURCE_DIR
#define SMELT_SOURCE_DIR "."
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static smelt_graph *random_graph(smelt_ctx *cx, const char *name, int nst, const int64_t *stlen, int nnodes) {
  smelt_graph *g = smelt_graph_new(cx, name);
  int vals[256], nv = 0;
  smelt_shape s = {.rank = 1, .d = {smelt_dim_c(1 + rnd(200))}};
  vals[nv++] = smelt_graph_add_input(g, "x", SMELT_DT_F32, &s);
  for (int i = 0; i < nst; i++) {
    smelt_shape ss = {.rank = 1, .d = {smelt_dim_c(stlen[i])}};
    char sn[32];
    snprintf(sn, sizeof sn, "state%d", i);
    vals[nv++] = smelt_graph_add_state(g, smelt_strdup(cx, sn), SMELT_DT_F32, &ss);
  }
  for (int k = 0; k < nnodes && nv < 250; k++) {
    int x = vals[nv - 1 - (int)rnd(nv < 4 ? (uint32_t)nv : 4)], y, kind = (int)rnd(6);
    if (kind <= 2) y = smelt_graph_add_node(g, kind ? SMELT_OP_RELU : SMELT_OP_NEG, NULL, &x, 1, NULL, 0, 1, NULL);
    else if (kind == 3) y = smelt_graph_add_node(g, SMELT_OP_ADD, NULL, (int[]){x, x}, 2, NULL, 0, 1, NULL);
    else if (kind == 4) {
      int b = vals[rnd((uint32_t)nv)];
      if (g->values[b].shape.rank != g->values[x].shape.rank) b = x;
      smelt_attr at = smelt_attr_int("axis", g->values[x].shape.rank - 1);
      y = smelt_graph_add_node(g, SMELT_OP_CONCAT, NULL, (int[]){x, b}, 2, &at, 1, 1, NULL);
    } else {
      smelt_shape r = {.rank = 2, .d = {smelt_dim_c(1), g->values[x].shape.d[g->values[x].shape.rank - 1]}};
      if (g->values[x].shape.rank != 1) continue;
      y = smelt_graph_add_node(g, SMELT_OP_RESHAPE, NULL, &x, 1, NULL, 0, 1, &r);
      int z = smelt_graph_add_node(g, SMELT_OP_SIGMOID, NULL, &y, 1, NULL, 0, 1, NULL);
      vals[nv++] = y;
      y = z;
    }
    if (y < 0) return NULL;
    vals[nv++] = y;
  }
  smelt_graph_add_output(g, vals[nv - 1]);
  return g;
}

/* live ranges of arena roots of g: start/end per value (-1 when not a root) */
static void ranges(const smelt_graph *g, int64_t *start, int64_t *end) {
  const struct smelt_plan *p = g->plan;
  for (int v = 0; v < g->nvalues; v++) start[v] = end[v] = -1;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    for (int j = 0; j < n->nout; j++)
      if (n->out[j] >= 0 && p->alias[n->out[j]] < 0 && start[n->out[j]] < 0) start[n->out[j]] = end[n->out[j]] = ni;
    for (int j = 0; j < n->nin; j++) {
      int r = n->in[j] >= 0 && p->alias[n->in[j]] >= 0 ? p->alias[n->in[j]] : n->in[j];
      if (r >= 0 && end[r] < ni) end[r] = ni;
    }
  }
}

static int overlap(int64_t a, int64_t na, int64_t b, int64_t nb) { return a < b + nb && b < a + na; }

static int nsmaller; /* joint plans smaller than states-then-scratch */

static void check_joint(smelt_graph **gs, const char *what, double *ratio) {
  const struct smelt_plan *p0 = gs[0]->plan;
  int64_t states = 0, lbs = 0, old = 0;
  for (int i = 0; i < gs[0]->nstates; i++) states += p0->size[gs[0]->states[i]];
  for (int k = 0; k < 2; k++) {
    const struct smelt_plan *p = gs[k]->plan;
    if (p->scratch_lower_bound > lbs) lbs = p->scratch_lower_bound;
    if (states + p->scratch_bytes > old) old = states + p->scratch_bytes;
    CHECK(p->state_bytes == 0 && p->arena_bytes == p0->arena_bytes && p->joint == 2, "%s: graph %d's plan is not the joint one", what, k);
  }
  CHECK(p0->lower_bound == states + lbs, "%s: lower bound %lld, expected %lld", what, (long long)p0->lower_bound, (long long)(states + lbs));
  CHECK(p0->arena_bytes >= p0->lower_bound && p0->arena_bytes <= old, "%s: arena %lld outside [%lld, %lld]", what, (long long)p0->arena_bytes,
        (long long)p0->lower_bound, (long long)old);
  nsmaller += p0->arena_bytes < old;
  *ratio = p0->lower_bound ? (double)p0->arena_bytes / (double)p0->lower_bound : 1;
  for (int i = 0; i < gs[0]->nstates; i++) {
    int64_t off = p0->offset[gs[0]->states[i]], sz = p0->size[gs[0]->states[i]];
    CHECK(off >= 0 && off % 64 == 0 && off + sz <= p0->arena_bytes, "%s: state %d at %lld", what, i, (long long)off);
    CHECK(gs[1]->plan->offset[gs[1]->states[i]] == off, "%s: state %d placed differently in the two graphs", what, i);
    for (int j = 0; j < i; j++)
      CHECK(!overlap(off, sz, p0->offset[gs[0]->states[j]], p0->size[gs[0]->states[j]]), "%s: states %d and %d overlap", what, i, j);
  }
  for (int k = 0; k < 2; k++) {
    const smelt_graph *g = gs[k];
    const struct smelt_plan *p = g->plan;
    int64_t *start = malloc(sizeof(int64_t) * (size_t)g->nvalues), *end = malloc(sizeof(int64_t) * (size_t)g->nvalues);
    ranges(g, start, end);
    int bad = 0;
    for (int v = 0; v < g->nvalues && bad < 3; v++) {
      if (g->values[v].kind != SMELT_V_NODE || p->offset[v] < 0 || start[v] < 0) continue;
      if (p->offset[v] % 64 || p->offset[v] + p->size[v] > p->arena_bytes) { bad++; CHECK(0, "%s: value %s outside the arena", what, g->values[v].name); }
      for (int i = 0; i < g->nstates; i++)
        if (overlap(p->offset[v], p->size[v], p->offset[g->states[i]], p->size[g->states[i]])) { bad++; CHECK(0, "%s: %s overlaps state %d", what, g->values[v].name, i); }
      for (int u = 0; u < v; u++) {
        if (g->values[u].kind != SMELT_V_NODE || p->offset[u] < 0 || start[u] < 0) continue;
        if (start[u] > end[v] || start[v] > end[u]) continue;
        if (overlap(p->offset[v], p->size[v], p->offset[u], p->size[u])) { bad++; CHECK(0, "%s: %s and %s overlap while live", what, g->values[u].name, g->values[v].name); }
      }
    }
    free(start);
    free(end);
  }
}

static void plan_twice(smelt_ctx *cx, smelt_graph **gs, const char *what, double *ratio) {
  int rc = smelt_pass_memplan(cx, gs[0]) || smelt_pass_memplan(cx, gs[1]) || smelt_memplan_joint(cx, gs, 2);
  CHECK(!rc, "%s: planning failed: %s", what, smelt_error_msg(cx));
  if (rc) return;
  check_joint(gs, what, ratio);
  int64_t *first = malloc(sizeof(int64_t) * (size_t)gs[1]->nvalues);
  memcpy(first, gs[1]->plan->offset, sizeof(int64_t) * (size_t)gs[1]->nvalues);
  CHECK(!smelt_memplan_joint(cx, gs, 2) && !memcmp(first, gs[1]->plan->offset, sizeof(int64_t) * (size_t)gs[1]->nvalues),
        "%s: a second joint plan differs", what);
  free(first);
}

int main(void) {
  double sum = 0, worst = 1;
  int n = 0;
  for (int iter = 0; iter < 200; iter++) {
    smelt_ctx *cx = smelt_ctx_new();
    int nst = (int)rnd(4);
    int64_t stlen[4];
    for (int i = 0; i < nst; i++) stlen[i] = 1 + rnd(400);
    smelt_graph *gs[2] = {random_graph(cx, "pf", nst, stlen, 5 + (int)rnd(60)), random_graph(cx, "dc", nst, stlen, 3 + (int)rnd(20))};
    CHECK(gs[0] && gs[1], "iteration %d: graph construction failed: %s", iter, smelt_error_msg(cx));
    if (gs[0] && gs[1]) {
      char what[32];
      snprintf(what, sizeof what, "random pair %d", iter);
      double r = 1;
      plan_twice(cx, gs, what, &r);
      sum += r, n++;
      if (r > worst) worst = r;
    }
    smelt_ctx_free(cx);
  }
  printf("joint plans: %d random pairs, arena / lower bound: average %.3f, worst %.3f; packed below states-then-scratch in %d\n", n,
         n ? sum / n : 0, worst, nsmaller);
  const char *model = SMELT_SOURCE_DIR "/../shared/models/gguf/stories260K.gguf";
  if (!t_exists(model)) printf("stories260K: SKIPPED (%s is absent)\n", model);
  else {
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_ckpt *ck = smelt_ckpt_open(cx, model);
    CHECK(ck != NULL, "%s: %s", model, smelt_error_msg(cx));
    if (ck) {
      struct smelt_llm_opts lo = smelt_llm_default_opts(ck);
      smelt_graph *gs[2] = {smelt_arch_build(cx, ck, &lo, 0), smelt_arch_build(cx, ck, &lo, 1)};
      CHECK(gs[0] && gs[1], "stories260K: %s", smelt_error_msg(cx));
      double r = 1;
      if (gs[0] && gs[1]) plan_twice(cx, gs, "stories260K", &r);
      if (gs[0] && gs[1] && gs[0]->plan)
        printf("stories260K: one arena of %lld bytes (lower bound %lld): state %lld, scratch prefill %lld / decode %lld\n",
               (long long)gs[0]->plan->arena_bytes, (long long)gs[0]->plan->lower_bound, (long long)gs[0]->plan->states_in_arena,
               (long long)gs[0]->plan->scratch_bytes, (long long)gs[1]->plan->scratch_bytes);
    }
    smelt_ctx_free(cx);
  }
  return t_done("memplan_joint");
}
