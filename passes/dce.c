/* passes/dce.c — dead-code elimination.
 *
 * Expects: any graph.  Guarantees: every remaining node has an output that is a
 * graph output or an input of a remaining node; unreferenced values are gone. */
#include "passes.h"

int smelt_pass_dce(smelt_ctx *cx, smelt_graph *g) {
  char *live = smelt_alloc(cx, (size_t)g->nvalues + 1);
  if (!live) return SMELT_ERR;
  for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]] = 1;
  for (int ni = g->nnodes - 1; ni >= 0; ni--) {
    smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    int used = 0;
    for (int k = 0; k < n->nout; k++) used |= n->out[k] >= 0 && live[n->out[k]];
    if (!used) { n->dead = 1; continue; }
    for (int k = 0; k < n->nin; k++) live[n->in[k]] = 1;
  }
  smelt_graph_compact(g);
  return 0;
}
