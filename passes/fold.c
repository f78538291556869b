/* passes/fold.c — constant folding through the reference interpreter.
 *
 * Expects: a graph whose constants carry data.
 * Guarantees: every node whose inputs are all constants is replaced by constants
 * holding exactly what the reference interpreter computes (so the result is
 * bit-identical to evaluating the graph), except nodes that would grow the model:
 * outputs over 1 MiB that are more than 4x their inputs (Expand of a scalar, say)
 * stay as run-time ops.  Readers call smelt_fold_node as they build, so shape
 * arithmetic (Shape -> Gather -> Concat -> Reshape) becomes constant at once.
 * Identical constants (folded or not) are stored once afterwards: uses of a later
 * copy read the first one (smelt_dedup_consts). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

int smelt_fold_node(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  if (n->dead) return 0;
  int64_t inb = 0, outb = 0;
  for (int k = 0; k < n->nin; k++) {
    const smelt_value *v = &g->values[n->in[k]];
    if (v->kind != SMELT_V_CONST || !v->c.data) return 0;
    inb += (int64_t)v->c.nbytes;
  }
  for (int k = 0; k < n->nout; k++) {
    if (n->out[k] < 0) continue;
    const smelt_value *v = &g->values[n->out[k]];
    if (!smelt_shape_is_static(&v->shape)) return 0;
    outb += smelt_shape_max_elems(g, &v->shape) * smelt_dtype_bytes(v->dt);
  }
  if (outb > (1 << 20) && outb > 4 * inb) return 0;
  if (outb > ((int64_t)1 << 30)) return 0;
  smelt_tensor in[16], out[8];
  if (n->nin > 16 || n->nout > 8) return 0;
  for (int k = 0; k < n->nin; k++) {
    const smelt_value *v = &g->values[n->in[k]];
    in[k].dt = v->dt;
    in[k].rank = v->shape.rank;
    smelt_shape_resolve(&v->shape, NULL, in[k].dims);
    in[k].data = (void *)v->c.data;
  }
  if (smelt_eval_node(g, n, in, out)) return SMELT_ERR;
  for (int k = 0; k < n->nout; k++) {
    if (n->out[k] < 0) continue;
    smelt_value *v = &g->values[n->out[k]];
    uint64_t bytes = (uint64_t)smelt_tensor_elems(&out[k]) * smelt_dtype_bytes(v->dt);
    void *data = smelt_alloc(g->cx, bytes ? bytes : 1);
    if (data) memcpy(data, out[k].data, bytes);
    smelt_tensor_free(&out[k]);
    if (!data) { for (int j = k + 1; j < n->nout; j++) smelt_tensor_free(&out[j]); return SMELT_ERR; }
    v->kind = SMELT_V_CONST;
    v->producer = -1;
    v->c.data = data;
    v->c.nbytes = bytes;
    v->c.hash = smelt_hash(data, bytes);
    v->c.file = NULL;
    v->c.offset = 0;
  }
  n->dead = 1;
  return 1;
}

/* Constants in order of (hash, index), so identical ones are neighbours. */
static const smelt_graph *sort_g;
static int by_hash(const void *a, const void *b) {
  const smelt_value *x = &sort_g->values[*(const int *)a], *y = &sort_g->values[*(const int *)b];
  if (x->c.hash != y->c.hash) return x->c.hash < y->c.hash ? -1 : 1;
  return *(const int *)a - *(const int *)b;
}

int smelt_dedup_consts(smelt_graph *g) {
  int nv = g->nvalues, nc = 0, merged = 0;
  int *cs = smelt_alloc(g->cx, sizeof(int) * ((size_t)nv + 1)), *canon = smelt_alloc(g->cx, sizeof(int) * ((size_t)nv + 1));
  if (!cs || !canon) return SMELT_ERR;
  for (int v = 0; v < nv; v++) {
    canon[v] = v;
    if (g->values[v].kind == SMELT_V_CONST && g->values[v].c.data) cs[nc++] = v;
  }
  sort_g = g;
  qsort(cs, (size_t)nc, sizeof *cs, by_hash);
  for (int i = 0; i < nc; i++) {
    const smelt_value *a = &g->values[cs[i]];
    if (canon[cs[i]] != cs[i]) continue;
    for (int j = i + 1; j < nc && g->values[cs[j]].c.hash == a->c.hash; j++) {
      const smelt_value *b = &g->values[cs[j]];
      if (canon[cs[j]] == cs[j] && b->dt == a->dt && b->c.nbytes == a->c.nbytes && smelt_shape_eq(&b->shape, &a->shape) &&
          !memcmp(b->c.data, a->c.data, a->c.nbytes)) {
        canon[cs[j]] = cs[i];
        merged++;
      }
    }
  }
  if (merged)
    for (int ni = 0; ni < g->nnodes; ni++)
      for (int k = 0; k < g->nodes[ni].nin; k++) g->nodes[ni].in[k] = canon[g->nodes[ni].in[k]];
  return merged;
}

static int fold_run(smelt_ctx *cx, smelt_graph *g) {
  (void)cx;
  for (int i = 0; i < g->nnodes; i++)
    if (smelt_fold_node(g, i) < 0) return SMELT_ERR;
  if (smelt_dedup_consts(g) < 0) return SMELT_ERR;
  smelt_graph_compact(g);
  return 0;
}

int smelt_pass_fold(smelt_ctx *cx, smelt_graph *g) { return fold_run(cx, g); }
