/* tests/unit/memplan.c — the memory planner (passes/memplan.c) on random graphs.
 *
 * Each graph mixes unary and binary elementwise ops, casts (other element sizes),
 * concatenations and slices (other lengths) and reshapes (views, which share their
 * input's bytes), with random graph outputs.  Liveness is recomputed here from the
 * schedule, independently of the planner, and the plan must satisfy:
 *   - every value a kernel writes into the arena has an aligned offset and enough
 *     bytes inside the arena; graph outputs live in the caller's buffers; views of
 *     non-outputs have no storage of their own;
 *   - no two values live at the same node overlap in the arena;
 *   - arena >= the lower bound (the most bytes live at one node), which equals the
 *     planner's own report.
 * The average arena / lower bound ratio is printed (1.00 is perfect).
 *
 * Then the schedule pass (passes/schedule.c) reorders each graph: the order must stay
 * topological (smelt_verify), the new plan must satisfy the same checks, its lower
 * bound must not exceed the source order's, and the interpreter's outputs must be
 * bit-identical before and after.  The average peak reduction is printed. */
#include "../testutil.h"
#include "ir/ir.h"
#include "passes/passes.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static int len1(const smelt_graph *g, int v) { return g->values[v].shape.rank == 1 ? (int)g->values[v].shape.d[0].n : -1; }

/* a random value of rank 1 (or -1) */
static int pick1(const smelt_graph *g, const int *vals, int nv) {
  for (int tries = 0; tries < 20; tries++) {
    int v = vals[rnd((uint32_t)nv)];
    if (len1(g, v) > 0) return v;
  }
  return -1;
}

static smelt_graph *random_graph(smelt_ctx *cx, int nnodes) {
  smelt_graph *g = smelt_graph_new(cx, "r");
  int vals[512], nv = 0;
  int nin = 1 + rnd(3);
  for (int i = 0; i < nin; i++) {
    smelt_shape s = {.rank = 1, .d = {smelt_dim_c(1 + rnd(300))}};
    vals[nv++] = smelt_graph_add_input(g, NULL, SMELT_DT_F32, &s);
  }
  static const smelt_op unary[] = {SMELT_OP_RELU, SMELT_OP_NEG, SMELT_OP_ABS, SMELT_OP_IDENTITY, SMELT_OP_SIGMOID};
  for (int k = 0; k < nnodes && nv < 500; k++) {
    int kind = (int)rnd(10), y = -1;
    int x = vals[rnd((uint32_t)nv)];
    /* a node reads recent values more often: longer chains, varied lifetimes */
    if (rnd(2) && nv > 4) x = vals[nv - 1 - (int)rnd(4)];
    smelt_dtype dt = g->values[x].dt;
    if (kind <= 2 || (!smelt_dtype_is_float(dt) && kind <= 4)) {
      smelt_op op = unary[rnd(5)];
      if (!smelt_dtype_is_float(dt)) op = SMELT_OP_NEG;
      y = smelt_graph_add_node(g, op, NULL, &x, 1, NULL, 0, 1, NULL);
    } else if (kind <= 4) { /* binary with a same-shaped value, or x with itself */
      int x2 = x;
      for (int t = 0; t < 10; t++) {
        int c = vals[rnd((uint32_t)nv)];
        if (g->values[c].dt == dt && smelt_shape_eq(&g->values[c].shape, &g->values[x].shape)) { x2 = c; break; }
      }
      y = smelt_graph_add_node(g, rnd(2) ? SMELT_OP_ADD : SMELT_OP_MUL, NULL, (int[]){x, x2}, 2, NULL, 0, 1, NULL);
    } else if (kind == 5) { /* another element size */
      static const smelt_dtype to[] = {SMELT_DT_F32, SMELT_DT_F64, SMELT_DT_I8, SMELT_DT_F16, SMELT_DT_I32};
      smelt_attr a = smelt_attr_dtype("to", to[rnd(5)]);
      y = smelt_graph_add_node(g, SMELT_OP_CAST, NULL, &x, 1, &a, 1, 1, NULL);
    } else if (kind == 6) { /* concat of two rank-1 values of the same dtype */
      int a = pick1(g, vals, nv), b = pick1(g, vals, nv);
      if (a < 0 || b < 0 || g->values[a].dt != g->values[b].dt) continue;
      smelt_attr at = smelt_attr_int("axis", 0);
      y = smelt_graph_add_node(g, SMELT_OP_CONCAT, NULL, (int[]){a, b, a}, 2 + (int)rnd(2), &at, 1, 1, NULL);
    } else if (kind == 7) { /* slice */
      int a = pick1(g, vals, nv);
      if (a < 0) continue;
      int64_t n = len1(g, a), st = rnd((uint32_t)n), en = st + 1 + rnd((uint32_t)(n - st));
      smelt_attr at[3] = {smelt_attr_ints(cx, "starts", &st, 1), smelt_attr_ints(cx, "ends", &en, 1), smelt_attr_ints(cx, "steps", (int64_t[]){1}, 1)};
      y = smelt_graph_add_node(g, SMELT_OP_SLICE, NULL, &a, 1, at, 3, 1, NULL);
    } else { /* reshape: a view; [n] <-> [1,n] */
      smelt_shape s = g->values[x].shape;
      if (s.rank == 1) { s.rank = 2; s.d[1] = s.d[0]; s.d[0] = smelt_dim_c(1); }
      else { s.rank = 1; s.d[0] = s.d[1]; }
      y = smelt_graph_add_node(g, SMELT_OP_RESHAPE, NULL, &x, 1, NULL, 0, 1, &s);
    }
    if (y < 0) { printf("graph construction failed: %s\n", smelt_error_msg(cx)); return NULL; }
    vals[nv++] = y;
  }
  /* outputs: the last value, some random ones (possibly twice), sometimes an input */
  smelt_graph_add_output(g, vals[nv - 1]);
  for (int i = 0; i < nv; i++)
    if (rnd(8) == 0) smelt_graph_add_output(g, vals[i]);
  if (rnd(4) == 0) smelt_graph_add_output(g, vals[nv - 1]);
  if (rnd(4) == 0) smelt_graph_add_output(g, g->inputs[0]);
  return g;
}

static int check_plan(smelt_graph *g, double *ratio) {
  const struct smelt_plan *p = g->plan;
  int nv = g->nvalues, bad = 0;
  char *isout = calloc((size_t)nv, 1);
  int *root = malloc(sizeof(int) * (size_t)nv);
  int64_t *start = malloc(sizeof(int64_t) * (size_t)nv), *end = malloc(sizeof(int64_t) * (size_t)nv), *need = malloc(sizeof(int64_t) * (size_t)nv);
  for (int i = 0; i < g->noutputs; i++) isout[g->outputs[i]] = 1;
  for (int v = 0; v < nv; v++) { root[v] = v; start[v] = end[v] = -1; need[v] = smelt_shape_max_elems(g, &g->values[v].shape) * smelt_dtype_bytes(g->values[v].dt); }
  /* views of non-outputs share their input's root: reshapes at the same bytes, slices
   * (rank 1, step 1: one contiguous run) start elements further in */
  int64_t *voff = calloc((size_t)nv, sizeof(int64_t));
  for (int i = 0; i < g->nnodes; i++) {
    const smelt_node *n = &g->nodes[i];
    const int64_t *st = NULL, *sp = NULL;
    int slice = n->op == SMELT_OP_SLICE && smelt_attr_ints_get(n, "starts", &st) == 1 && smelt_attr_ints_get(n, "steps", &sp) == 1 && sp[0] == 1;
    if (((smelt_op_flags(n->op) & OPF_VIEW) || slice) && !isout[n->out[0]]) {
      root[n->out[0]] = root[n->in[0]];
      voff[n->out[0]] = voff[n->in[0]] + (slice ? st[0] * smelt_dtype_bytes(g->values[n->in[0]].dt) : 0);
    }
  }
  /* in-place outputs (alias set by a kernel that is no view) take over an input whose
   * storage nobody reads after this node: an elementwise op, same shape and size */
  int *last0 = malloc(sizeof(int) * (size_t)nv);
  for (int v = 0; v < nv; v++) last0[v] = -1;
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) last0[root[g->nodes[i].in[k]]] = i;
  int *root0 = malloc(sizeof(int) * (size_t)nv);
  memcpy(root0, root, sizeof(int) * (size_t)nv);
  for (int i = 0; i < g->nnodes; i++) {
    const smelt_node *n = &g->nodes[i];
    int o = n->out[0];
    if ((smelt_op_flags(n->op) & OPF_VIEW) || n->op == SMELT_OP_SLICE || p->alias[o] < 0) continue;
    int ok = 0;
    for (int k = 0; k < n->nin && !ok; k++) {
      int r0 = root0[n->in[k]];
      if (!(smelt_op_flags(n->op) & OPF_ELEMWISE) || last0[r0] != i || !smelt_shape_eq(&g->values[n->in[k]].shape, &g->values[o].shape) ||
          p->alias[o] != root[r0] || g->values[r0].kind != SMELT_V_NODE || isout[r0])
        continue;
      if (p->view_off[o] != voff[n->in[k]]) continue; /* over the input's own bytes */
      ok = 1;
      for (int v = 0; v < nv; v++) /* o and everything viewing it now live in r0's root */
        if (root[v] == o) { root[v] = root[r0]; voff[v] += voff[n->in[k]]; }
    }
    if (!ok) { bad++; printf("  %s is in place where that is not safe\n", g->values[o].name); }
  }
  free(last0);
  free(root0);
  for (int i = 0; i < g->nnodes; i++) {
    const smelt_node *n = &g->nodes[i];
    if (root[n->out[0]] == n->out[0]) start[n->out[0]] = end[n->out[0]] = i;
    for (int k = 0; k < n->nin; k++) {
      int r = root[n->in[k]];
      if (end[r] < i) end[r] = i;
    }
  }
  int *arena = malloc(sizeof(int) * (size_t)nv), na = 0;
  for (int v = 0; v < nv; v++) {
    const smelt_value *val = &g->values[v];
    int want_arena = val->kind == SMELT_V_NODE && !isout[v] && root[v] == v;
    if (root[v] != v) {
      if (p->offset[v] != -1 || p->alias[v] < 0) { bad++; printf("  view %s has its own storage or no alias\n", val->name); }
      else {
        int r = v;
        while (p->alias[r] >= 0) r = p->alias[r];
        if (r != root[v]) { bad++; printf("  view %s aliases %s, expected %s\n", val->name, g->values[r].name, g->values[root[v]].name); }
        else if (p->view_off[v] != voff[v]) { bad++; printf("  view %s at byte %lld, expected %lld\n", val->name, (long long)p->view_off[v], (long long)voff[v]); }
        else if (voff[v] < 0 || voff[v] + need[v] > need[r]) { bad++; printf("  view %s runs outside %s\n", val->name, g->values[r].name); }
      }
      continue;
    }
    if (!want_arena) {
      if (p->offset[v] != -1) { bad++; printf("  %s (input/output/constant) has arena offset %lld\n", val->name, (long long)p->offset[v]); }
      continue;
    }
    if (p->offset[v] < 0 || p->offset[v] % 64 || p->size[v] < need[v] || p->offset[v] + p->size[v] > p->arena_bytes) {
      bad++;
      printf("  %s: offset %lld size %lld (needs %lld) arena %lld\n", val->name, (long long)p->offset[v], (long long)p->size[v], (long long)need[v], (long long)p->arena_bytes);
      continue;
    }
    arena[na++] = v;
  }
  for (int i = 0; i < na; i++)
    for (int j = i + 1; j < na; j++) {
      int a = arena[i], b = arena[j];
      if (start[a] > end[b] || start[b] > end[a]) continue; /* not live together */
      if (p->offset[a] + need[a] <= p->offset[b] || p->offset[b] + need[b] <= p->offset[a]) continue;
      bad++;
      if (bad < 5)
        printf("  %s [%lld,%lld] and %s [%lld,%lld] overlap: bytes [%lld,+%lld) and [%lld,+%lld)\n", g->values[a].name, (long long)start[a],
               (long long)end[a], g->values[b].name, (long long)start[b], (long long)end[b], (long long)p->offset[a], (long long)need[a],
               (long long)p->offset[b], (long long)need[b]);
    }
  int64_t lb = 0;
  for (int t = 0; t < g->nnodes; t++) {
    int64_t live = 0;
    for (int i = 0; i < na; i++)
      if (start[arena[i]] <= t && t <= end[arena[i]]) live += p->size[arena[i]];
    if (live > lb) lb = live;
  }
  if (p->arena_bytes < lb) { bad++; printf("  arena %lld below the lower bound %lld\n", (long long)p->arena_bytes, (long long)lb); }
  if (p->lower_bound != lb) { bad++; printf("  reported lower bound %lld, recomputed %lld\n", (long long)p->lower_bound, (long long)lb); }
  *ratio = lb ? (double)p->arena_bytes / (double)lb : 1.0;
  free(isout); free(voff); free(root); free(start); free(end); free(need); free(arena);
  return bad;
}

/* Runs g on fixed pseudo-random inputs; outputs into out[g->noutputs]. */
static int run(smelt_graph *g, smelt_tensor *out) {
  smelt_tensor in[4];
  memset(in, 0, sizeof in);
  uint64_t r = 12345;
  for (int i = 0; i < g->ninputs; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    in[i].dt = v->dt;
    in[i].rank = v->shape.rank;
    for (int d = 0; d < v->shape.rank; d++) in[i].dims[d] = v->shape.d[d].n;
    in[i].data = malloc((size_t)smelt_tensor_elems(&in[i]) * sizeof(float));
    for (int64_t k = 0; k < smelt_tensor_elems(&in[i]); k++) {
      r = r * 6364136223846793005ull + 1442695040888963407ull;
      ((float *)in[i].data)[k] = (float)((int)(r >> 40) % 2001 - 1000) / 250.0f;
    }
  }
  int rc = smelt_eval(g, in, out);
  for (int i = 0; i < g->ninputs; i++) free(in[i].data);
  return rc;
}

static int same_outputs(const smelt_graph *g, const smelt_tensor *a, const smelt_tensor *b) {
  for (int i = 0; i < g->noutputs; i++) {
    if (a[i].dt != b[i].dt || smelt_tensor_elems(&a[i]) != smelt_tensor_elems(&b[i])) return 0;
    if (memcmp(a[i].data, b[i].data, (size_t)smelt_tensor_elems(&a[i]) * (size_t)smelt_dtype_bytes(a[i].dt))) return 0;
  }
  return 1;
}

/* The schedule pass on g (already planned in source order): see the file comment.
 * Adds the peak reduction (1 - scheduled / source lower bound) to *gain. */
static void check_schedule(smelt_ctx *cx, smelt_graph *g, int iter, double *gain, int *improved) {
  int64_t lb0 = g->plan->lower_bound;
  smelt_tensor ref[64], got[64];
  memset(ref, 0, sizeof ref);
  memset(got, 0, sizeof got);
  int no = g->noutputs < 64 ? g->noutputs : 0;
  int haveref = no && !run(g, ref);
  CHECK(!no || haveref, "graph %d: the interpreter failed: %s", iter, smelt_error_msg(cx));
  int rc = smelt_pass_schedule(cx, g);
  CHECK(rc == 0, "graph %d: schedule failed: %s", iter, smelt_error_msg(cx));
  CHECK(!smelt_verify(g), "graph %d: the schedule is not a valid order: %s", iter, smelt_error_msg(cx));
  rc = rc || smelt_pass_memplan(cx, g);
  if (!rc) {
    double ratio;
    CHECK(check_plan(g, &ratio) == 0, "graph %d: the scheduled plan has violations", iter);
    CHECK(g->plan->lower_bound <= lb0, "graph %d: scheduling raised the peak %lld -> %lld", iter, (long long)lb0, (long long)g->plan->lower_bound);
    if (lb0) *gain += 1.0 - (double)g->plan->lower_bound / (double)lb0;
    *improved += g->plan->lower_bound < lb0;
    if (haveref) {
      CHECK(!run(g, got), "graph %d: the interpreter failed after scheduling: %s", iter, smelt_error_msg(cx));
      CHECK(same_outputs(g, ref, got), "graph %d: outputs differ after scheduling", iter);
    }
  }
  for (int i = 0; i < no; i++) { smelt_tensor_free(&ref[i]); smelt_tensor_free(&got[i]); }
}

int main(void) {
  int graphs = 0, improved = 0;
  double sum = 0, worst = 1, gain = 0;
  for (int iter = 0; iter < 600; iter++) {
    smelt_ctx *cx = smelt_ctx_new();
    smelt_graph *g = random_graph(cx, 3 + (int)rnd(iter < 300 ? 20 : 120));
    CHECK(g != NULL, "graph %d could not be built", iter);
    if (!g) { smelt_ctx_free(cx); continue; }
    CHECK(!smelt_verify(g), "graph %d does not verify: %s", iter, smelt_error_msg(cx));
    int rc = smelt_pass_memplan(cx, g);
    CHECK(rc == 0, "graph %d: memplan failed: %s", iter, smelt_error_msg(cx));
    if (!rc) {
      double ratio;
      int bad = check_plan(g, &ratio);
      CHECK(bad == 0, "graph %d (%d nodes): %d plan violations", iter, g->nnodes, bad);
      sum += ratio;
      if (ratio > worst) worst = ratio;
      graphs++;
      /* planning is deterministic */
      int64_t *first = malloc(sizeof(int64_t) * (size_t)g->nvalues);
      memcpy(first, g->plan->offset, sizeof(int64_t) * (size_t)g->nvalues);
      smelt_pass_memplan(cx, g);
      CHECK(!memcmp(first, g->plan->offset, sizeof(int64_t) * (size_t)g->nvalues), "graph %d: a second plan differs", iter);
      free(first);
      check_schedule(cx, g, iter, &gain, &improved);
    }
    smelt_ctx_free(cx);
  }
  printf("memplan: %d random graphs, arena / lower bound: average %.3f, worst %.3f\n", graphs, graphs ? sum / graphs : 0, worst);
  printf("schedule: peak lowered in %d of %d graphs, by %.1f%% on average (never raised)\n", improved, graphs, graphs ? 100 * gain / graphs : 0);
  return t_done("unit_memplan");
}
