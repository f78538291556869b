/* ir/verify.c — checks a graph's invariants (see ir/ir.h): values defined before
 * use and produced once, arity and attributes as ops.def says, and every output's
 * dtype and shape equal to what shape inference derives.  Passes run it between
 * stages with --verify-each; readers and the parser run it once at the end. */
#include "ir.h"

#include <string.h>

int smelt_verify(const smelt_graph *g) {
  smelt_ctx *cx = g->cx;
  char *def = smelt_alloc(cx, (size_t)g->nvalues + 1);
  if (!def) return SMELT_ERR;
  for (int v = 0; v < g->nvalues; v++) def[v] = g->values[v].kind != SMELT_V_NODE;
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->nvalues || g->values[g->inputs[i]].kind != SMELT_V_INPUT)
      return smelt_errorf(cx, "verify: graph input %d is not an input value", i);
  for (int i = 0; i < g->nstates; i++)
    if (g->states[i] < 0 || g->states[i] >= g->nvalues || g->values[g->states[i]].kind != SMELT_V_STATE)
      return smelt_errorf(cx, "verify: graph state %d is not a state value", i);
  for (int s = 0; s < g->nsyms; s++)
    if (g->syms[s].max < 1) return smelt_errorf(cx, "verify: symbol '%s' has bound %lld", g->syms[s].name, (long long)g->syms[s].max);
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    const struct smelt_opinfo *oi = smelt_op_info(n->op);
    if ((unsigned)n->op >= SMELT_OP_COUNT) return smelt_errorf(cx, "verify: node %d has a bad op", ni);
    if (n->nin < oi->nin_min || (oi->nin_max >= 0 && n->nin > oi->nin_max) || n->nout < oi->nout_min || n->nout > oi->nout_max)
      return smelt_errorf(cx, "verify: node '%s' (%s) has the wrong number of inputs or outputs", n->name, oi->name);
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k];
      if (v < 0 || v >= g->nvalues) return smelt_errorf(cx, "verify: node '%s' input %d is not a value", n->name, k);
      if (!def[v]) return smelt_errorf(cx, "verify: node '%s' uses '%s' before it is defined (cycle or bad order)", n->name, g->values[v].name);
    }
    for (int k = 0; k < n->nout; k++) {
      int v = n->out[k];
      if (v < 0) { if (k == 0) return smelt_errorf(cx, "verify: node '%s' has no first output", n->name); continue; }
      if (v >= g->nvalues || g->values[v].kind != SMELT_V_NODE || g->values[v].producer != ni || def[v])
        return smelt_errorf(cx, "verify: node '%s' output %d is not produced exactly once by it", n->name, k);
      def[v] = 1;
    }
    struct smelt_attr_spec sp[16];
    int ns = smelt_attr_schema(n->op, sp, 16);
    for (int k = 0; k < ns; k++) {
      const smelt_attr *a = smelt_node_attr(n, sp[k].name);
      if (!a || a->type != sp[k].type) return smelt_errorf(cx, "verify: node '%s' attribute '%s' missing or mistyped", n->name, sp[k].name);
    }
    if (n->nattr != ns) return smelt_errorf(cx, "verify: node '%s' has attributes its op does not define", n->name);
    /* re-derive the outputs' types and compare */
    smelt_value saved[8];
    int no = n->nout < 8 ? n->nout : 8;
    for (int k = 0; k < no; k++)
      if (n->out[k] >= 0) saved[k] = g->values[n->out[k]];
    int rc = smelt_shape_infer((smelt_graph *)g, ni);
    int same = 1;
    for (int k = 0; k < no; k++) {
      if (n->out[k] < 0) continue;
      smelt_value *v = &g->values[n->out[k]];
      if (v->dt != saved[k].dt || !smelt_shape_eq(&v->shape, &saved[k].shape)) same = 0;
      *v = saved[k];
    }
    if (rc) return SMELT_ERR;
    if (!same) return smelt_errorf(cx, "verify: node '%s' (%s) output type differs from shape inference", n->name, oi->name);
  }
  for (int i = 0; i < g->noutputs; i++) {
    int v = g->outputs[i];
    if (v < 0 || v >= g->nvalues || !def[v]) return smelt_errorf(cx, "verify: graph output %d is not defined", i);
  }
  return 0;
}
