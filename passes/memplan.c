/* passes/memplan.c — memory planning: liveness over the node schedule and greedy
 * offset assignment into one arena.
 *
 * Expects: a verified graph in its final schedule.
 * Guarantees: g->plan gives every value written by a kernel into the arena an
 * offset (64-byte aligned) such that no two values live at the same time overlap;
 * graph inputs and outputs live in the caller's buffers, constants in the model's
 * data, and outputs of OPF_VIEW ops (Reshape) share their input's bytes unless they
 * are graph outputs.  An elementwise kernel (an elementwise op, or a Fused chain
 * without a MatMul/Conv anchor) writes its output in place over an input of the same
 * shape and element size whose storage dies there (alias set, kernel still emitted,
 * without `restrict`).  Values are placed largest first at the lowest offset that
 * fits, which in practice stays close to the lower bound reported beside it (the
 * most bytes live at one node, after in-place merging). */
#include "passes.h"
#include "ir/fused.h"

#include <stdlib.h>
#include <string.h>

#define ALIGN 64

int smelt_is_output(const smelt_graph *g, int v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return 1;
  return 0;
}

struct item { struct smelt_span s; int v; };

/* Does n's kernel compute element i of its output from element i of its same-shape
 * inputs only (elementwise ops, Fused chains without a MatMul / Conv anchor)? */
static int elementwise_kernel(smelt_ctx *cx, const smelt_node *n) {
  if (n->op == SMELT_OP_FUSED) {
    struct smelt_fused_prog *fp = smelt_alloc(cx, sizeof *fp);
    return fp && !smelt_fused_parse(cx, n, fp) && !fp->anchor;
  }
  const char *k = smelt_op_info(n->op)->kind;
  return (smelt_op_flags(n->op) & OPF_ELEMWISE) && (!strcmp(k, "unary") || !strcmp(k, "binary") || !strcmp(k, "where"));
}

static int by_size(const void *a, const void *b) {
  const struct smelt_span *x = &((const struct item *)a)->s, *y = &((const struct item *)b)->s;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

#define SPAN(i) ((struct smelt_span *)((char *)items + (size_t)(i) * stride))
int64_t smelt_place_spans(void *items, int n, size_t stride) {
  int64_t (*iv)[2] = malloc(sizeof *iv * (size_t)(n + 1)), total = 0;
  if (!iv) return -1;
  for (int i = 0; i < n; i++) {
    struct smelt_span *s = SPAN(i);
    int nb = 0;
    for (int j = 0; j < i; j++) {
      const struct smelt_span *t = SPAN(j);
      if (t->start <= s->end && s->start <= t->end) { iv[nb][0] = t->off; iv[nb][1] = t->off + t->size; nb++; }
    }
    /* blocking intervals by offset (insertion sort: nb is small in practice) */
    for (int a = 1; a < nb; a++)
      for (int b = a; b > 0 && iv[b][0] < iv[b - 1][0]; b--) {
        int64_t t0 = iv[b][0], t1 = iv[b][1];
        iv[b][0] = iv[b - 1][0], iv[b][1] = iv[b - 1][1];
        iv[b - 1][0] = t0, iv[b - 1][1] = t1;
      }
    int64_t off = 0;
    for (int b = 0; b < nb; b++) {
      if (iv[b][0] - off >= s->size) break;
      if (iv[b][1] > off) off = iv[b][1];
    }
    s->off = off;
    if (off + s->size > total) total = off + s->size;
  }
  free(iv);
  return total;
}
#undef SPAN

int smelt_pass_memplan(smelt_ctx *cx, smelt_graph *g) {
  int nv = g->nvalues;
  struct smelt_plan *p = smelt_alloc(cx, sizeof *p);
  if (!p) return SMELT_ERR;
  p->offset = smelt_alloc(cx, sizeof(int64_t) * (nv + 1));
  p->alias = smelt_alloc(cx, sizeof(int) * (nv + 1));
  p->size = smelt_alloc(cx, sizeof(int64_t) * (nv + 1));
  p->view_off = smelt_alloc(cx, sizeof(int64_t) * (nv + 1)); /* zeroed */
  int64_t *start = smelt_alloc(cx, sizeof(int64_t) * (nv + 1)), *end = smelt_alloc(cx, sizeof(int64_t) * (nv + 1));
  char *isout = smelt_alloc(cx, (size_t)nv + 1);
  if (!p->offset || !p->alias || !p->size || !p->view_off || !start || !end || !isout) return SMELT_ERR;
  for (int i = 0; i < g->noutputs; i++) isout[g->outputs[i]] = 1;
  for (int v = 0; v < nv; v++) {
    p->offset[v] = -1;
    p->alias[v] = -1;
    start[v] = end[v] = -1;
    int64_t e = smelt_shape_max_elems(g, &g->values[v].shape);
    if (e < 0 || e > ((int64_t)1 << 56) / smelt_dtype_bytes(g->values[v].dt))
      return smelt_errorf(cx, "memplan: value '%s' is too large", g->values[v].name);
    p->size[v] = (e * smelt_dtype_bytes(g->values[v].dt) + ALIGN - 1) / ALIGN * ALIGN;
  }
  /* views share their input's storage, in-place updates their state's (followed to
   * the root) */
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    unsigned fl = smelt_op_flags(n->op);
    int64_t voff = n->dead ? -1 : smelt_view_offset(g, n); /* views.c: Reshape, contiguous Slice */
    if (voff >= 0) fl |= OPF_VIEW;
    if (n->dead || !(fl & (OPF_VIEW | OPF_INPLACE))) continue;
    if ((fl & OPF_VIEW) && isout[n->out[0]]) continue;
    if ((fl & OPF_INPLACE) && isout[n->out[0]])
      return smelt_errorf(cx, "memplan: the in-place result '%s' cannot be a graph output", g->values[n->out[0]].name);
    int r = n->in[0];
    while (p->alias[r] >= 0) r = p->alias[r];
    p->alias[n->out[0]] = r;
    p->view_off[n->out[0]] = p->view_off[n->in[0]] + (voff > 0 ? voff : 0); /* relative to r */
  }
  /* live ranges of arena roots, over node positions */
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int k = 0; k < n->nout; k++) {
      int v = n->out[k];
      if (v >= 0 && p->alias[v] < 0) start[v] = end[v] = ni;
    }
    for (int k = 0; k < n->nin; k++) {
      int r = n->in[k];
      while (p->alias[r] >= 0) r = p->alias[r];
      if (end[r] < ni) end[r] = ni;
    }
  }
  /* in place: an elementwise kernel writes its output over an input of the same
   * shape and element size whose storage dies at this node (the kernel reads
   * element i of every input before writing element i of the output) */
  int ninplace = 0;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead || n->nout != 1 || !elementwise_kernel(cx, n)) continue;
    int o = n->out[0];
    if (isout[o] || p->alias[o] >= 0 || start[o] < 0) continue;
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k], r = v;
      int64_t voff = 0; /* v's bytes start this far into r's */
      for (; p->alias[r] >= 0; r = p->alias[r]) voff += p->view_off[r];
      const smelt_value *rv = &g->values[r], *iv = &g->values[v], *ov = &g->values[o];
      if (rv->kind != SMELT_V_NODE || isout[r] || end[r] != ni || start[r] < 0 || !smelt_shape_eq(&iv->shape, &ov->shape) ||
          smelt_dtype_bytes(iv->dt) != smelt_dtype_bytes(ov->dt) || smelt_dtype_is_block(iv->dt) || p->size[r] < p->size[o])
        continue;
      p->alias[o] = r;
      p->view_off[o] = voff; /* over the input's own bytes (relative to r) */
      if (end[o] > end[r]) end[r] = end[o];
      start[o] = end[o] = -1;
      ninplace++;
      break;
    }
  }
  /* every alias names its root (emit reads it so), view_off becomes relative to it
   * (so far each is relative to the value alias[] named when it was set) */
  int64_t *roff = malloc(sizeof(int64_t) * (nv + 1));
  if (!roff) return smelt_errorf(cx, "out of memory");
  for (int v = 0; v < nv; v++) {
    roff[v] = 0;
    for (int r = v; p->alias[r] >= 0; r = p->alias[r]) roff[v] += p->view_off[r];
  }
  for (int v = 0; v < nv; v++)
    if (p->alias[v] >= 0) {
      int r = p->alias[v];
      while (p->alias[r] >= 0) r = p->alias[r];
      p->alias[v] = r;
      p->view_off[v] = roff[v];
    }
  free(roff);
  /* values viewed by graph outputs are read at the end of the run only through the
   * copy their view node makes, so no extension is needed */
  struct item *it = malloc(sizeof *it * (nv + 1));
  if (!it) return smelt_errorf(cx, "out of memory");
  int ni = 0;
  for (int v = 0; v < nv; v++) {
    const smelt_value *val = &g->values[v];
    if (val->kind != SMELT_V_NODE || isout[v] || p->alias[v] >= 0 || start[v] < 0) continue;
    it[ni++] = (struct item){{start[v], end[v], p->size[v], 0}, v};
  }
  qsort(it, ni, sizeof *it, by_size);
  int64_t total = smelt_place_spans(it, ni, sizeof *it);
  if (total < 0) { free(it); return smelt_errorf(cx, "out of memory"); }
  if (total > ((int64_t)1 << 60)) { free(it); return smelt_errorf(cx, "memplan: the arena would exceed 2^60 bytes"); }
  for (int i = 0; i < ni; i++) p->offset[it[i].v] = it[i].s.off;
  /* lower bound: the most bytes live at any one node */
  int64_t lb = 0;
  for (int t = 0; t < g->nnodes; t++) {
    int64_t live = 0;
    for (int i = 0; i < ni; i++)
      if (it[i].s.start <= t && t <= it[i].s.end) live += it[i].s.size;
    if (live > lb) lb = live;
  }
  free(it);
  p->arena_bytes = total;
  /* states: a region of their own, persistent across calls */
  int64_t st = 0;
  for (int i = 0; i < g->nstates; i++) {
    p->offset[g->states[i]] = st;
    st += p->size[g->states[i]];
  }
  p->state_bytes = st;
  p->lower_bound = lb;
  g->plan = p;
  smelt_logf(cx, 2, "memplan: %d outputs in place, arena %lld bytes, lower bound %lld", ninplace, (long long)total, (long long)lb);
  return 0;
}
