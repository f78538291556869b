/* backends/simd_conv.c — the convolution and pooling overrides of the vector backends
 * (x86, arm; hooked from smelt_simd_kernel): an f32 2-D Conv (NCHW, any group, strides,
 * pads, dilations; bias optional) becomes one call of smc_conv, a depthwise one (group ==
 * C == M) and a MaxPool (without indices) / AveragePool one of smc_dw
 * (runtime/smelt_simd_conv.h).  All sizes but the batch are compile-time constants,
 * written as a static struct smc_op the call reads.  Shapes whose band does not fit the
 * kernels' stack buffers (smc_conv_fits, the same test the runtime relies on) stay with
 * the generic C kernels, as does everything not f32 or not 2-D. */
#include "backends/simd.h"
#include "backends/c/cgen.h"
#include "runtime/smelt_simd_conv.h"
#include "ir/fused.h"

#include <string.h>

static int const_dims(const smelt_shape *s, int from) {
  for (int i = from; i < s->rank; i++)
    if (s->d[i].sym || s->d[i].n < 1) return 0;
  return 1;
}

/* the smc_op of node n (Conv, MaxPool, AveragePool; X its input 0, W input 1 of a Conv),
 * 0 when the target kernels do not cover it */
static int op_of(const smelt_graph *g, const smelt_node *n, smelt_op op, struct smc_op *o) {
  if (n->nin < 1 || n->in[0] < 0 || n->out[0] < 0) return 0;
  const smelt_value *X = &g->values[n->in[0]], *Y = &g->values[n->out[0]];
  if (X->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32 || X->shape.rank != 4 || Y->shape.rank != 4) return 0;
  if (!const_dims(&X->shape, 1) || !const_dims(&Y->shape, 1)) return 0;
  const int64_t *st, *pd, *dl, *kk = NULL;
  if (smelt_attr_ints_get(n, "strides", &st) != 2 || smelt_attr_ints_get(n, "pads", &pd) != 4 || smelt_attr_ints_get(n, "dilations", &dl) != 2)
    return 0;
  memset(o, 0, sizeof *o);
  o->C = X->shape.d[1].n, o->H = X->shape.d[2].n, o->W = X->shape.d[3].n;
  o->M = Y->shape.d[1].n, o->OH = Y->shape.d[2].n, o->OW = Y->shape.d[3].n;
  o->sh = st[0], o->sw = st[1], o->ph = pd[0], o->pw = pd[1], o->pe_h = pd[2], o->pe_w = pd[3], o->dh = dl[0], o->dw = dl[1];
  if (o->ph < 0 || o->pw < 0 || o->pe_h < 0 || o->pe_w < 0) return 0;
  if (op == SMELT_OP_CONV && smelt_attr_i(n, "wino")) { /* U [(m+2)², C, M] (ir/wino.h): smc_wino_epi */
    if (n->nin < 2 || n->in[1] < 0) return 0;
    const smelt_value *U = &g->values[n->in[1]];
    if (U->dt != SMELT_DT_F32 || U->shape.rank != 3 || !const_dims(&U->shape, 0) || U->shape.d[2].n != o->M || U->shape.d[1].n != o->C) return 0;
    if (n->nin > 2 && n->in[2] >= 0 && g->values[n->in[2]].dt != SMELT_DT_F32) return 0;
    o->G = 1, o->KH = o->KW = 3, o->kind = SMC_CONV;
    return smc_wino_fits(o, (int)smelt_attr_i(n, "wino"));
  }
  if (op == SMELT_OP_CONV) {
    if (n->nin < 2 || n->in[1] < 0) return 0;
    const smelt_value *W = &g->values[n->in[1]];
    if (W->dt != SMELT_DT_F32 || W->shape.rank != 4 || !const_dims(&W->shape, 0)) return 0;
    if (n->nin > 2 && n->in[2] >= 0 && g->values[n->in[2]].dt != SMELT_DT_F32) return 0;
    o->G = smelt_attr_i(n, "group");
    if (o->G < 1 || o->C % o->G || o->M % o->G || W->shape.d[0].n != o->M || W->shape.d[1].n != o->C / o->G) return 0;
    o->KH = W->shape.d[2].n, o->KW = W->shape.d[3].n;
    o->kind = o->G == o->C && o->M == o->C ? SMC_DW : SMC_CONV;
  } else {
    if (op == SMELT_OP_MAX_POOL && n->nout > 1 && n->out[1] >= 0) return 0; /* indices: generic */
    if (smelt_attr_ints_get(n, "kernel", &kk) != 2 || o->M != o->C) return 0;
    o->KH = kk[0], o->KW = kk[1], o->G = o->C;
    o->kind = op == SMELT_OP_MAX_POOL ? SMC_MAXPOOL : smelt_attr_i(n, "count_include_pad") ? SMC_AVGPOOL_INCL : SMC_AVGPOOL;
  }
  if (o->KH < 1 || o->KW < 1) return 0;
  return smc_conv_fits(o);
}

int smelt_simd_conv_node(const smelt_graph *g, const smelt_node *n) {
  struct smc_op o;
  if (n->op == SMELT_OP_CONV || n->op == SMELT_OP_MAX_POOL || n->op == SMELT_OP_AVG_POOL) return op_of(g, n, n->op, &o);
  const char *prog = n->op == SMELT_OP_FUSED ? smelt_attr_s(n, "prog") : NULL;
  if (!prog || strncmp(prog, "Conv ", 5)) return 0;
  /* a Fused node anchored on a Conv (backends/c/k_fused.c emits the anchor through the
   * target kernel): the anchor reads the inputs its step names, "Conv x0 x1 x2; ..." */
  int in[3], nin = 0;
  for (const char *s = prog + 5; *s && *s != ';' && nin < 3;) {
    while (*s == ' ') s++;
    if (*s != 'x') break;
    int k = 0, nd = 0;
    for (s++; *s >= '0' && *s <= '9' && nd < 4; s++, nd++) k = 10 * k + (*s - '0');
    if (!nd || k >= n->nin) return 0;
    in[nin++] = n->in[k];
  }
  if (nin < 2) return 0;
  smelt_node m = *n;
  m.op = SMELT_OP_CONV;
  m.in = in;
  m.nin = nin;
  return op_of(g, &m, SMELT_OP_CONV, &o);
}

/* A Fused node "Conv x0 x1 [x2]; [Add t0 xR | Add xR t0]; [Relu t]" (a bias, a residual
 * of Y's shape and dtype, a Relu: a ResNet block) is run by smc_conv_epi, which applies
 * the Add and the Relu as it stores each tile instead of a second pass over Y.  Fills
 * the anchor's inputs (in, *nin), the residual's input index (*res, -1 for none) and
 * *relu; 0 when the chain has another form (the generic Fused kernel runs it). */
static int conv_epilogue(const smelt_graph *g, const smelt_node *n, int *in, int *arg, int *nin, int *res, int *relu) {
  if (n->op != SMELT_OP_FUSED || !n->out || n->out[0] < 0) return 0;
  const char *prog = smelt_attr_s(n, "prog");
  if (!prog || strncmp(prog, "Conv ", 5)) return 0;
  struct smelt_fused_prog p;
  if (smelt_fused_parse(g->cx, n, &p)) {
    smelt_clear_error(g->cx); /* malformed: the generic kernel reports it */
    return 0;
  }
  if (!p.anchor || p.pro || p.nsteps < 2 || p.nsteps > 3 || p.step[0].op != SMELT_OP_CONV || p.step[0].nargs < 2) return 0;
  *nin = p.step[0].nargs;
  for (int i = 0; i < *nin; i++) {
    if (p.step[0].arg[i] < 0) return 0;
    arg[i] = p.step[0].arg[i];
    in[i] = n->in[arg[i]];
  }
  *res = -1, *relu = 0;
  for (int k = 1; k < p.nsteps; k++) {
    const struct smelt_fused_step *st = &p.step[k];
    if (st->op == SMELT_OP_RELU && k == p.nsteps - 1 && st->nargs == 1 && st->arg[0] == -k && !*relu) *relu = 1;
    else if (st->op == SMELT_OP_ADD && k == 1 && st->nargs == 2 && (st->arg[0] == -1) != (st->arg[1] == -1)) {
      int r = st->arg[0] == -1 ? st->arg[1] : st->arg[0];
      if (r < 0) return 0;
      const smelt_value *R = &g->values[n->in[r]], *Y = &g->values[n->out[0]];
      if (R->dt != SMELT_DT_F32 || !smelt_shape_eq(&R->shape, &Y->shape)) return 0;
      *res = r;
    } else
      return 0;
  }
  return 1;
}

int smelt_simd_conv_kernel(struct cg *c, const smelt_node *n) {
  struct smc_op o;
  int ein[3], earg[3], enin = 0, eres = -1, erelu = 0;
  if (n->op == SMELT_OP_FUSED && conv_epilogue(c->g, n, ein, earg, &enin, &eres, &erelu)) {
    smelt_node m = *n;
    m.op = SMELT_OP_CONV;
    m.in = ein;
    m.nin = enin;
    if (!op_of(c->g, &m, SMELT_OP_CONV, &o) || o.kind != SMC_CONV) return 1;
    cg_line(c, "static const struct smc_op op = {SMC_CONV, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld};",
            (long long)o.C, (long long)o.H, (long long)o.W, (long long)o.M, (long long)o.OH, (long long)o.OW, (long long)o.KH,
            (long long)o.KW, (long long)o.sh, (long long)o.sw, (long long)o.ph, (long long)o.pw, (long long)o.pe_h, (long long)o.pe_w,
            (long long)o.dh, (long long)o.dw, (long long)o.G);
    /* the Fused node's own inputs: the anchor's are x<arg>, the residual x<res> */
    const char *xs[3];
    for (int i = 0; i < enin; i++) xs[i] = smelt_sprintf(c->cx, "x%d", earg[i]);
    if (smelt_attr_i(n, "wino")) {
      cg_line(c, "smc_wino_epi(&op, %d, %s, %s, %s, %s, %d, y0, %s); /* Winograd F(%dx%d, 3x3), the chain's Add / Relu as outputs are stored */",
              (int)smelt_attr_i(n, "wino"), xs[0], xs[1], enin > 2 ? xs[2] : "NULL", eres >= 0 ? smelt_sprintf(c->cx, "x%d", eres) : "NULL", erelu,
              cg_dim(c, c->g->values[ein[0]].shape.d[0]), (int)smelt_attr_i(n, "wino"), (int)smelt_attr_i(n, "wino"));
      return 0;
    }
    cg_line(c, "smc_conv_epi(&op, %s, %s, %s, %s, %d, y0, %s); /* the chain's Add / Relu applied as tiles are stored */", xs[0], xs[1],
            enin > 2 ? xs[2] : "NULL", eres >= 0 ? smelt_sprintf(c->cx, "x%d", eres) : "NULL", erelu,
            cg_dim(c, c->g->values[ein[0]].shape.d[0]));
    return 0;
  }
  if (n->op != SMELT_OP_CONV && n->op != SMELT_OP_MAX_POOL && n->op != SMELT_OP_AVG_POOL) return 1;
  if (!op_of(c->g, n, n->op, &o)) return 1;
  static const char *kinds[] = {"SMC_CONV", "SMC_DW", "SMC_MAXPOOL", "SMC_AVGPOOL", "SMC_AVGPOOL_INCL"};
  cg_line(c, "static const struct smc_op op = {%s, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld};",
          kinds[o.kind], (long long)o.C, (long long)o.H, (long long)o.W, (long long)o.M, (long long)o.OH, (long long)o.OW, (long long)o.KH,
          (long long)o.KW, (long long)o.sh, (long long)o.sw, (long long)o.ph, (long long)o.pw, (long long)o.pe_h, (long long)o.pe_w,
          (long long)o.dh, (long long)o.dw, (long long)o.G);
  const char *N = cg_dim(c, cg_in(c, n, 0)->shape.d[0]);
  int bias = n->op == SMELT_OP_CONV && n->nin > 2 && n->in[2] >= 0;
  if (n->op == SMELT_OP_CONV && smelt_attr_i(n, "wino"))
    cg_line(c, "smc_wino_epi(&op, %d, x0, x1, %s, NULL, 0, y0, %s); /* Winograd F(%dx%d, 3x3) */", (int)smelt_attr_i(n, "wino"), bias ? "x2" : "NULL", N,
            (int)smelt_attr_i(n, "wino"), (int)smelt_attr_i(n, "wino"));
  else if (n->op == SMELT_OP_CONV)
    cg_line(c, "%s(&op, x0, x1, %s, y0, %s);", o.kind == SMC_DW ? "smc_dw" : "smc_conv", bias ? "x2" : "NULL", N);
  else
    cg_line(c, "smc_dw(&op, x0, NULL, NULL, y0, %s);", N);
  return 0;
}
