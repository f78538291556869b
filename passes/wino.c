/* passes/wino.c — the layout pass's Winograd step (called from passes/layout.c, so
 * `--skip-pass layout` disables it): a 3x3 Conv (or a Fused chain anchored on one) of
 * stride 1, dilation 1 and one group, f32, with a constant weight read by nothing else,
 * gets attribute wino = m and the weight transformed once here, U = G g Gᵀ in double
 * rounded to f32 (ir/wino.h), which the target kernel runtime/smelt_simd_wino.h reads.
 *
 * m by shape (measured on the bench CNN's layers, one thread, AVX-512; NOTES "Winograd
 * convolution (h-wino)"): F(4x4) when the output has at least 16 tiles of 4x4, else
 * none (at 8x8 neither F(4x4) nor F(2x2) beat the direct kernel); never below 16 input
 * channels (the transforms outweigh the saved multiplies: a 3-channel stem ran 1.4x
 * slower) nor when M is not a multiple of 16 (the kernel's vector columns would pass
 * U's end).
 *
 * Expects the vector backend's target (the caller checks it).  Guarantees: the result of
 * each changed Conv moves by rounding only (the interpreter computes the Winograd form
 * from U in double: tests bound the difference). */
#include "passes.h"
#include "ir/fused.h"
#include "ir/wino.h"


/* the input slot of node n's Conv weight (its X slot in *xs), or -1 */
static int conv_slot(smelt_ctx *cx, const smelt_node *n, int *xs) {
  *xs = 0;
  if (n->op == SMELT_OP_CONV) return 1;
  if (n->op != SMELT_OP_FUSED) return -1;
  struct smelt_fused_prog p;
  if (smelt_fused_parse(cx, n, &p)) {
    smelt_clear_error(cx);
    return -1;
  }
  if (!p.anchor || p.pro || p.step[0].op != SMELT_OP_CONV || p.step[0].nargs < 2) return -1;
  int w = p.step[0].arg[1];
  *xs = p.step[0].arg[0];
  if (w < 0 || *xs < 0 || w >= n->nin || *xs >= n->nin || w == *xs) return -1;
  for (int k = 1; k < p.nsteps; k++)
    for (int a = 0; a < p.step[k].nargs; a++)
      if (p.step[k].arg[a] == w) return -1;
  return w;
}

/* m for node n (0: leave it) */
static int wino_m(const smelt_graph *g, const smelt_node *n, int xs, int ws) {
  if (smelt_attr_i(n, "wino") || smelt_attr_i(n, "group") != 1) return 0;
  const smelt_value *X = &g->values[n->in[xs]], *W = &g->values[n->in[ws]], *Y = &g->values[n->out[0]];
  if (X->dt != SMELT_DT_F32 || W->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32 || X->shape.rank != 4 || W->shape.rank != 4) return 0;
  if (W->kind != SMELT_V_CONST || !W->c.data) return 0;
  for (int i = 0; i < 4; i++)
    if (W->shape.d[i].sym || (i && X->shape.d[i].sym) || (i && Y->shape.d[i].sym)) return 0;
  const int64_t *st, *dl, *pd;
  if (smelt_attr_ints_get(n, "strides", &st) != 2 || smelt_attr_ints_get(n, "dilations", &dl) != 2 || smelt_attr_ints_get(n, "pads", &pd) != 4)
    return 0;
  if (st[0] != 1 || st[1] != 1 || dl[0] != 1 || dl[1] != 1 || W->shape.d[2].n != 3 || W->shape.d[3].n != 3) return 0;
  int64_t M = W->shape.d[0].n, C = W->shape.d[1].n, OH = Y->shape.d[2].n, OW = Y->shape.d[3].n;
  if (C != X->shape.d[1].n || C < 16 || M % 16 || C > 8192 || 36 * C * M >= ((int64_t)1 << 31)) return 0;
  /* F(2x2) never paid on the measured shapes (where F(4x4) has 16 tiles it is faster;
   * below, at 8x8, neither beats the direct kernel): it stays for IR that asks for it */
  if (((OH + 3) / 4) * ((OW + 3) / 4) >= 16 && (OW + 3) / 4 <= 1024 && 36 * C <= 131072) return 4;
  return 0;
}

int smelt_layout_wino(smelt_ctx *cx, smelt_graph *g) {
  int *uses = smelt_alloc(cx, sizeof(int) * (size_t)(g->nvalues + 1));
  if (!uses) return SMELT_ERR;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] >= 0) uses[n->in[i]]++;
  }
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
  int changed = 0;
  const int nn = g->nnodes;
  for (int ni = 0; ni < nn; ni++) {
    smelt_node *n = &g->nodes[ni];
    int xs, ws = n->dead || n->nout < 1 || n->out[0] < 0 ? -1 : conv_slot(cx, n, &xs);
    if (ws < 0 || n->in[ws] < 0 || n->in[xs] < 0 || uses[n->in[ws]] != 1) continue; /* a shared weight keeps its form */
    int m = wino_m(g, n, xs, ws);
    if (!m) continue;
    const smelt_value *Wv = &g->values[n->in[ws]];
    int64_t M = Wv->shape.d[0].n, C = Wv->shape.d[1].n, A = m + 2;
    float *u = smelt_alloc(cx, sizeof(float) * (size_t)(A * A * C * M));
    if (!u) return SMELT_ERR;
    smelt_wino_weights(m, (const float *)Wv->c.data, M, C, u);
    smelt_shape us = {.rank = 3};
    us.d[0] = smelt_dim_c(A * A);
    us.d[1] = smelt_dim_c(C);
    us.d[2] = smelt_dim_c(M);
    const char *name = Wv->name ? Wv->name : smelt_sprintf(cx, "w%d", ni);
    int uv = smelt_graph_add_const(g, name, SMELT_DT_F32, &us, u, (uint64_t)(A * A * C * M * 4));
    if (uv < 0) return SMELT_ERR;
    n = &g->nodes[ni];
    if (smelt_node_set_ints(cx, n, 1, (const char *[]){"wino"}, (int64_t[]){m})) return SMELT_ERR;
    n->in[ws] = uv;
    if (smelt_shape_infer(g, ni)) return SMELT_ERR;
    changed = 1;
  }
  if (changed) smelt_graph_compact(g);
  return 0;
}
