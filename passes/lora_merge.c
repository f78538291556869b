/* passes/lora_merge.c — LoRA adapters (compiler/lora.h), first in the pipeline.
 *
 * Merge (--lora PATH[:SCALE]): every weight an adapter targets becomes
 *     W + scale · B·A        (f32 arithmetic, the sum over r in double)
 * in W's orientation: [out, in] when the MatMul using it has trans_b = 1 (LLM weights,
 * ONNX Gemm with transB), [in, out] otherwise.  Several adapters on one weight add up
 * before W is stored again in its dtype: f32 as is, f16 / bf16 rounded to nearest even,
 * block types re-quantized (the relative error this adds is logged with -v).
 *
 * Switchable (--adapter NAME=PATH): each targeted MatMul  Y = X·Wᵀ  gets, per adapter k,
 *     Y' = LoRA(Y, X, A_k, B_k, S)  =  Y + S[k] · scale_k · (X·A_kᵀ)·B_kᵀ
 * placed right after it; S is the f32 state SMELT_ADAPTER_STATE [nadapters] of run-time
 * scales that the generated NAME_set_adapter writes (0: off), so switching adapters
 * rewrites a few floats: no reload, no re-planning.
 *
 * Expects: a graph straight from a reader (weights still the named constants the
 * checkpoint holds).  Guarantees: every adapter tensor found its weight (else an error
 * naming it), shapes agree; with no adapter active the graph computes what it did.
 * Tolerance against the interpreter on the merged weights: f32 rounding of the delta. */
#include "compiler/driver.h"
#include "compiler/lora.h"
#include "compiler/quantizers.h"
#include "runtime/smelt_scalar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the constant named name, or -1 */
static int find_const(const smelt_graph *g, const struct smelt_lora_tensor *t) {
  for (int k = 0; k < t->nnames; k++)
    for (int v = 0; v < g->nvalues; v++)
      if (g->values[v].kind == SMELT_V_CONST && g->values[v].name && !strcmp(g->values[v].name, t->names[k])) return v;
  return -1;
}

static const char *lname(const struct smelt_lora *L) { return L->name ? L->name : L->path; }

/* The weight of t in g: its value and orientation (1: [out, in]).  Every user must be a
 * MatMul taking it as B. */
static int target(smelt_ctx *cx, smelt_graph *g, const struct smelt_lora *L, const struct smelt_lora_tensor *t, int *tb) {
  int v = find_const(g, t);
  if (v < 0) return smelt_errorf(cx, "%s: LoRA tensor '%s' targets weight '%s', which the model does not have", L->path, t->module, t->names[t->nnames - 1]);
  int users = 0;
  *tb = -1;
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    for (int i = 0; i < n->nin; i++) {
      if (n->in[i] != v) continue;
      if (n->op != SMELT_OP_MATMUL || i != 1)
        return smelt_errorf(cx, "%s: LoRA tensor '%s': weight '%s' feeds %s, not a MatMul's B (only MatMul weights take adapters)", L->path, t->module,
                            g->values[v].name, smelt_op_info(n->op)->name);
      int b = (int)smelt_attr_i(n, "trans_b");
      if (*tb >= 0 && *tb != b) return smelt_errorf(cx, "%s: weight '%s' is used both transposed and not", L->path, g->values[v].name);
      *tb = b;
      users++;
    }
  }
  if (!users) return smelt_errorf(cx, "%s: LoRA tensor '%s': weight '%s' is not used by a MatMul", L->path, t->module, g->values[v].name);
  const smelt_shape *s = &g->values[v].shape;
  int64_t want0 = *tb ? t->out : t->in, want1 = *tb ? t->in : t->out;
  if (s->rank != 2 || s->d[0].sym || s->d[1].sym || s->d[0].n != want0 || s->d[1].n != want1) {
    char buf[128];
    return smelt_errorf(cx, "%s: LoRA tensor '%s' (A [%lld, %lld], B [%lld, %lld]: a [%lld, %lld] update) does not fit weight '%s' %s%s", L->path,
                        t->module, (long long)t->r, (long long)t->in, (long long)t->out, (long long)t->r, (long long)want0, (long long)want1,
                        g->values[v].name, smelt_shape_str(g, s, buf, sizeof buf), *tb ? "" : " (used transposed)");
  }
  return v;
}

/* ---- merge ------------------------------------------------------------------------------ */

struct acc { int v, tb; float *w; };

static int merge(smelt_ctx *cx, smelt_graph *g, struct smelt_lora_set *set) {
  struct acc *acc = smelt_alloc(cx, sizeof *acc * (size_t)(g->nvalues + 1));
  int nacc = 0;
  if (!acc) return SMELT_ERR;
  for (int li = 0; li < set->nmerge; li++) {
    const struct smelt_lora *L = &set->merge[li];
    for (int ti = 0; ti < L->n; ti++) {
      const struct smelt_lora_tensor *t = &L->t[ti];
      int tb, v = target(cx, g, L, t, &tb);
      if (v < 0) return SMELT_ERR;
      smelt_value *val = &g->values[v];
      struct acc *a = NULL;
      for (int k = 0; k < nacc && !a; k++)
        if (acc[k].v == v) a = &acc[k];
      if (!a) { /* W in f32, row by row along its last (contiguous) dim */
        a = &acc[nacc++];
        a->v = v;
        a->tb = tb;
        int64_t rows = val->shape.d[0].n, cols = val->shape.d[1].n;
        if (!(a->w = smelt_alloc(cx, sizeof(float) * (size_t)(rows * cols)))) return SMELT_ERR;
        int64_t rb = smelt_dtype_nbytes(val->dt, cols);
        for (int64_t r = 0; r < rows; r++)
          if (smelt_dequantize_row(val->dt, (const char *)val->c.data + r * rb, a->w + r * cols, cols))
            return smelt_errorf(cx, "%s: weight '%s' has dtype %s; merging a LoRA into it is not supported", L->path, val->name, smelt_dtype_name(val->dt));
      }
      for (int64_t o = 0; o < t->out; o++)
        for (int64_t i = 0; i < t->in; i++) {
          double d = 0;
          for (int64_t j = 0; j < t->r; j++) d += (double)t->b[o * t->r + j] * (double)t->a[j * t->in + i];
          float *w = tb ? &a->w[o * t->in + i] : &a->w[i * t->out + o];
          *w = (float)((double)*w + t->scale * d);
        }
      smelt_logf(cx, 2, "lora %s: merged '%s' into '%s' (r %lld, scale %g)", lname(L), t->module, val->name, (long long)t->r, t->scale);
    }
  }
  for (int k = 0; k < nacc; k++) {
    smelt_value *val = &g->values[acc[k].v];
    const char *key = smelt_sprintf(cx, "%p:%s", val->c.data, val->name);
    int ci = smelt_map_get(&set->merged, key);
    if (ci < 0) { /* not merged by an earlier graph of this build: store it in the weight's dtype */
      int64_t rows = val->shape.d[0].n, cols = val->shape.d[1].n, ne = rows * cols;
      const float *w = acc[k].w;
      void *out = NULL;
      uint64_t nb = (uint64_t)smelt_dtype_nbytes(val->dt, ne);
      if (val->dt == SMELT_DT_F32) out = acc[k].w;
      else if (val->dt == SMELT_DT_F16 || val->dt == SMELT_DT_BF16) {
        uint16_t *h = smelt_alloc(cx, (size_t)nb);
        if (!h) return SMELT_ERR;
        for (int64_t i = 0; i < ne; i++) h[i] = val->dt == SMELT_DT_F16 ? sm_f32_to_f16(w[i]) : sm_f32_to_bf16(w[i]);
        out = h;
      } else {
        if (!(out = smelt_alloc(cx, (size_t)nb))) return SMELT_ERR;
        if (smelt_quantize_rows(val->dt, w, rows, cols, out))
          return smelt_errorf(cx, "weight '%s': requantizing %s is not supported yet (merge the LoRA into an f32/f16 model)", val->name, smelt_dtype_name(val->dt));
        /* the error re-quantization added: |deq(q(W')) - W'| / |W'| */
        float *back = malloc(sizeof(float) * (size_t)cols);
        double e2 = 0, w2 = 0;
        for (int64_t r = 0; back && r < rows; r++) {
          smelt_dequantize_row(val->dt, (const char *)out + r * smelt_dtype_nbytes(val->dt, cols), back, cols);
          for (int64_t i = 0; i < cols; i++) {
            double d = (double)back[i] - w[r * cols + i];
            e2 += d * d;
            w2 += (double)w[r * cols + i] * w[r * cols + i];
          }
        }
        free(back);
        smelt_logf(cx, 1, "lora: '%s' requantized to %s after merging: relative error %.3g", val->name, smelt_dtype_name(val->dt), w2 > 0 ? sqrt(e2 / w2) : 0.0);
      }
      if (set->nbufs == set->capbufs) {
        int cap = set->capbufs ? 2 * set->capbufs : 64;
        struct smelt_lora_done *nb2 = smelt_alloc(cx, sizeof *nb2 * (size_t)cap);
        if (!nb2) return SMELT_ERR;
        if (set->nbufs) memcpy(nb2, set->bufs, sizeof *nb2 * (size_t)set->nbufs);
        set->bufs = nb2;
        set->capbufs = cap;
      }
      set->bufs[set->nbufs] = (struct smelt_lora_done){out, nb, smelt_hash(out, (size_t)nb)};
      ci = set->nbufs++;
      if (smelt_map_put(&set->merged, key, ci)) return SMELT_ERR;
    }
    val->c.data = set->bufs[ci].data;
    val->c.nbytes = set->bufs[ci].nbytes;
    val->c.hash = set->bufs[ci].hash;
    val->c.file = NULL;
    val->c.offset = 0;
  }
  return 0;
}

/* ---- switchable adapters ------------------------------------------------------------------- */

static int switchable(smelt_ctx *cx, smelt_graph *g, const struct smelt_lora_set *set) {
  int n0 = g->nnodes;
  smelt_shape ss = {.rank = 1, .d = {smelt_dim_c(set->nswitch)}};
  int S = smelt_graph_add_state(g, SMELT_ADAPTER_STATE, SMELT_DT_F32, &ss);
  if (S < 0) return SMELT_ERR;
  int *owner = NULL, cap = 0; /* for each added node: the original node it follows */
  int *tip = smelt_alloc(cx, sizeof(int) * (size_t)(n0 + 1));
  if (!tip) return SMELT_ERR;
  for (int i = 0; i < n0; i++) tip[i] = g->nodes[i].out[0];
  for (int k = 0; k < set->nswitch; k++) {
    const struct smelt_lora *L = &set->sw[k];
    for (int ti = 0; ti < L->n; ti++) {
      const struct smelt_lora_tensor *t = &L->t[ti];
      int tb, v = target(cx, g, L, t, &tb);
      if (v < 0) return SMELT_ERR;
      smelt_shape sa = {.rank = 2, .d = {smelt_dim_c(t->r), smelt_dim_c(t->in)}}, sb = {.rank = 2, .d = {smelt_dim_c(t->out), smelt_dim_c(t->r)}};
      int A = smelt_graph_add_const(g, smelt_sprintf(cx, "adapter.%s.%s.lora_a", L->name, t->module), SMELT_DT_F32, &sa, t->a, sizeof(float) * (uint64_t)(t->r * t->in));
      int B = smelt_graph_add_const(g, smelt_sprintf(cx, "adapter.%s.%s.lora_b", L->name, t->module), SMELT_DT_F32, &sb, t->b, sizeof(float) * (uint64_t)(t->r * t->out));
      if (A < 0 || B < 0) return SMELT_ERR;
      for (int ni = 0; ni < n0; ni++) {
        if (g->nodes[ni].op != SMELT_OP_MATMUL || g->nodes[ni].in[1] != v) continue;
        int x = g->nodes[ni].in[0], base = tip[ni];
        if (g->values[x].dt != SMELT_DT_F32)
          return smelt_errorf(cx, "%s: adapter on '%s': switchable adapters need f32 activations, not %s", L->path, g->values[v].name, smelt_dtype_name(g->values[x].dt));
        int in[5] = {base, x, A, B, S};
        smelt_attr at[2] = {smelt_attr_int("adapter", k), smelt_attr_float("scale", t->scale)};
        int y = smelt_graph_add_node(g, SMELT_OP_LORA, smelt_sprintf(cx, "%s.lora.%s", g->nodes[ni].name ? g->nodes[ni].name : "matmul", L->name), in, 5, at, 2, 1, NULL);
        if (y < 0) return SMELT_ERR;
        int me = g->nnodes - 1;
        if (me - n0 >= cap) {
          int nc = cap ? 2 * cap : 64;
          int *no = smelt_alloc(cx, sizeof(int) * (size_t)nc);
          if (!no) return SMELT_ERR;
          if (cap) memcpy(no, owner, sizeof(int) * (size_t)cap);
          owner = no;
          cap = nc;
        }
        owner[me - n0] = ni;
        /* everyone who read the MatMul's (latest) result reads the adapted one */
        for (int j = 0; j < g->nnodes; j++) {
          if (j == me) continue;
          for (int i = 0; i < g->nodes[j].nin; i++)
            if (g->nodes[j].in[i] == base) g->nodes[j].in[i] = y;
        }
        for (int i = 0; i < g->noutputs; i++)
          if (g->outputs[i] == base) g->outputs[i] = y;
        tip[ni] = y;
      }
      smelt_logf(cx, 2, "adapter %s (%d): '%s' on '%s' (r %lld, scale %g)", L->name, k, t->module, g->values[v].name, (long long)t->r, t->scale);
    }
  }
  /* topological order: each LoRA node right after the MatMul it adapts (chains in order) */
  int nn = g->nnodes;
  smelt_node *order = smelt_alloc(cx, sizeof *order * (size_t)(nn + 1));
  if (!order) return SMELT_ERR;
  int w = 0;
  for (int i = 0; i < n0; i++) {
    order[w++] = g->nodes[i];
    for (int j = n0; j < nn; j++)
      if (owner[j - n0] == i) order[w++] = g->nodes[j];
  }
  memcpy(g->nodes, order, sizeof *order * (size_t)nn);
  for (int i = 0; i < nn; i++)
    for (int o = 0; o < g->nodes[i].nout; o++)
      if (g->nodes[i].out[o] >= 0) g->values[g->nodes[i].out[o]].producer = i;
  return 0;
}

int smelt_pass_lora_merge(smelt_ctx *cx, smelt_graph *g) {
  const struct smelt_build_opts *o = smelt_ctx_options(cx);
  if (!o || !o->lora) return 0;
  if (o->lora->nmerge && merge(cx, g, o->lora)) return SMELT_ERR;
  if (o->lora->nswitch && switchable(cx, g, o->lora)) return SMELT_ERR;
  return 0;
}
