/* passes/views.c — which nodes need no kernel because their output can be a view of
 * their first input's bytes, and at which byte offset.
 *
 * OPF_VIEW ops (Reshape) view at offset 0.  A Slice is a view when the range it takes
 * is one contiguous run of its input: steps 1, every axis before the first partly
 * sliced axis of extent 1, every axis after it taken whole (so a column range of a
 * [1, N] row, as the decode graph's Q/K/V split after concatenation).  The offset is
 * then start · (elements of the later axes) · element size.  Symbolic dims are never
 * assumed to be 1, so the prefill graph's [n, N] column ranges stay copies.
 * memplan sets plan->alias / plan->view_off from this; the backend asks
 * smelt_plan_is_view() to skip the kernel. */
#include "passes.h"

#include <stdint.h>

int64_t smelt_view_offset(const smelt_graph *g, const smelt_node *n) {
  if (n->dead || n->nin < 1 || n->nout != 1 || n->out[0] < 0) return -1;
  if (smelt_op_flags(n->op) & OPF_VIEW) return 0;
  if (n->op != SMELT_OP_SLICE) return -1;
  const smelt_value *x = &g->values[n->in[0]], *y = &g->values[n->out[0]];
  if (x->dt != y->dt || smelt_dtype_is_block(x->dt) || x->shape.rank != y->shape.rank) return -1;
  const int64_t *st, *en, *sp;
  int r = x->shape.rank;
  if (smelt_attr_ints_get(n, "starts", &st) != r || smelt_attr_ints_get(n, "ends", &en) != r || smelt_attr_ints_get(n, "steps", &sp) != r) return -1;
  int a = -1; /* the first axis not taken whole */
  for (int i = 0; i < r; i++) {
    if (sp[i] != 1) return -1;
    if (x->shape.d[i].sym) {
      if (y->shape.d[i].sym != x->shape.d[i].sym) return -1;
      if (a >= 0) return -1; /* a later axis of unknown extent: the offset needs its value */
      continue;
    }
    if (y->shape.d[i].sym || st[i] < 0 || y->shape.d[i].n > x->shape.d[i].n) return -1;
    if (a < 0 && (st[i] != 0 || y->shape.d[i].n != x->shape.d[i].n)) {
      a = i;
      for (int j = 0; j < i; j++) /* axes before a: extent 1, known */
        if (x->shape.d[j].sym || x->shape.d[j].n != 1) return -1;
      continue;
    }
    if (a >= 0 && (st[i] != 0 || y->shape.d[i].n != x->shape.d[i].n)) return -1;
  }
  if (a < 0) return 0; /* the whole input */
  int64_t inner = smelt_dtype_bytes(x->dt);
  for (int i = a + 1; i < r; i++) inner *= x->shape.d[i].n;
  return st[a] * inner;
}

int smelt_plan_is_view(const smelt_graph *g, const smelt_node *n) {
  const struct smelt_plan *p = g->plan;
  if (n->dead || n->nout < 1 || n->out[0] < 0 || !p || p->alias[n->out[0]] < 0) return 0;
  return (smelt_op_flags(n->op) & OPF_VIEW) || n->op == SMELT_OP_SLICE;
}
