/* backends/registry.c — which kernel backend overrides which kernels: the target table
 * (compiler/targets.c) names a backend, and this maps the name to its emitter.  A
 * backend that overrides nothing (the generic C one) maps to NULL. */
#include "backends/backend.h"
#include "backends/simd.h"
#include "ir/fused.h"

#include <stdio.h>
#include <string.h>

int smelt_x86_kernel(struct cg *c, const smelt_node *n);
int smelt_arm_kernel(struct cg *c, const smelt_node *n);

smelt_kernel_fn smelt_backend_kernels(const char *backend) {
  static const struct { const char *name; smelt_kernel_fn fn; } tab[] = {
      {"c", NULL},
      {"x86", smelt_x86_kernel},
      {"arm", smelt_arm_kernel},
  };
  for (unsigned i = 0; i < sizeof tab / sizeof *tab; i++)
    if (!strcmp(tab[i].name, backend)) return tab[i].fn;
  return NULL;
}

/* Does a kernel of g go to runtime/smelt_simd.h under these options? */
static int uses_simd(const smelt_graph *g, const struct smelt_emit_opts *o) {
  if (!g || !o->kernels) return 0;
  for (int i = 0; i < g->nnodes; i++) {
    const smelt_node *n = &g->nodes[i];
    if (!n->dead && smelt_simd_conv_node(g, n)) return 1; /* backends/simd_conv.c */
    if (smelt_simd_math_takes(g, n)) return 1; /* backends/simd_math.c */
    if (n->dead || n->nin < 2 || n->out[0] < 0) continue;
    smelt_node m = *n; /* a fused chain's MatMul anchor is emitted by the target kernel too (backends/c/k_fused.c) */
    int a = n->in[0], b = n->in[1];
    if (n->op == SMELT_OP_FUSED) {
      const char *prog = smelt_attr_s(n, "prog");
      if (!prog || !strstr(prog, "MatMul ")) continue;
      struct smelt_fused_prog *p = smelt_alloc(g->cx, sizeof *p);
      if (!p || smelt_fused_parse(g->cx, n, p) || !p->anchor || p->step[p->pro].op != SMELT_OP_MATMUL) continue;
      /* the anchor's operands (a prologue's normed rows have its input's type) */
      const struct smelt_fused_step *st = &p->step[p->pro];
      a = p->pro ? n->in[p->step[0].arg[0]] : n->in[st->arg[0]];
      b = n->in[st->arg[1]];
      m.op = SMELT_OP_MATMUL;
    }
    if (m.op != SMELT_OP_MATMUL && m.op != SMELT_OP_QMATMUL) continue;
    if (smelt_simd_kind(&m, &g->values[a], &g->values[b], &g->values[n->out[0]])) return 1;
  }
  return 0;
}

const char *smelt_backend_prelude(const smelt_graph *g, const smelt_graph *g2, const struct smelt_emit_opts *o) {
  static char buf[96];
  if (!uses_simd(g, o) && !uses_simd(g2, o)) return "";
  if (o->threads > 1) snprintf(buf, sizeof buf, "#define SMELT_THREADS %d\n#include \"smelt_simd.h\"\n", o->threads);
  else snprintf(buf, sizeof buf, "#include \"smelt_simd.h\"\n");
  return buf;
}
