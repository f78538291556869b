/* ir/eval.c — the reference interpreter's driver: runs a graph (or one node) over
 * concrete tensors, allocating each value when its producer runs and freeing it
 * after its last use.  Symbols take their values from the inputs' dims. */
#include "eval.h"
#include "../runtime/smelt_quant.h"
#include "../runtime/smelt_scalar.h"

#include <math.h>

static const eval_fn eval_tab[] = {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) eval_##kind,
#include "ops.def"
#undef OP
};

int smelt_dequantize_row(smelt_dtype dt, const void *row, float *y, int64_t k) {
  switch (dt) {
  case SMELT_DT_F32: memcpy(y, row, (size_t)k * sizeof(float)); return 0;
  case SMELT_DT_F16: smq_dequantize_row_f16(row, y, k); return 0;
  case SMELT_DT_BF16: smq_dequantize_row_bf16(row, y, k); return 0;
  case SMELT_DT_Q8_0: smq_dequantize_row_q8_0(row, y, k); return 0;
  case SMELT_DT_Q4_0: smq_dequantize_row_q4_0(row, y, k); return 0;
  case SMELT_DT_Q4_1: smq_dequantize_row_q4_1(row, y, k); return 0;
  case SMELT_DT_Q5_0: smq_dequantize_row_q5_0(row, y, k); return 0;
  case SMELT_DT_Q5_1: smq_dequantize_row_q5_1(row, y, k); return 0;
  case SMELT_DT_Q4_K: smq_dequantize_row_q4_k(row, y, k); return 0;
  case SMELT_DT_Q5_K: smq_dequantize_row_q5_k(row, y, k); return 0;
  case SMELT_DT_Q6_K: smq_dequantize_row_q6_k(row, y, k); return 0;
  default: return SMELT_ERR;
  }
}

int ev_fail(const smelt_graph *g, const smelt_node *n, const char *msg) {
  return smelt_errorf(g->cx, "eval: node '%s' (%s): %s", n->name, smelt_op_info(n->op)->name, msg);
}

int64_t smelt_tensor_elems(const smelt_tensor *t) {
  int64_t e = 1;
  for (int i = 0; i < t->rank; i++) e *= t->dims[i];
  return e;
}

void smelt_tensor_free(smelt_tensor *t) {
  if (t) { free(t->data); t->data = NULL; }
}

double ev_getf(const smelt_tensor *t, int64_t i) {
  if (t->dt == SMELT_DT_F16) return sm_f16_to_f32(((const uint16_t *)t->data)[i]);
  if (t->dt == SMELT_DT_BF16) return sm_bf16_to_f32(((const uint16_t *)t->data)[i]);
  switch (t->dt) {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) \
  case SMELT_DT_##id: return (double)((const ctype *)t->data)[i];
#include "dtypes.def"
#undef DT
  default: return 0;
  }
}

double smelt_tensor_getf(const smelt_tensor *t, int64_t i) {
  if (smelt_dtype_is_float(t->dt)) return ev_getf(t, i);
  int64_t v = ev_geti(t, i);
  return (smelt_dtype_flags(t->dt) & DTF_SIGNED) ? (double)v : (double)(uint64_t)v;
}

void smelt_tensor_setf(smelt_tensor *t, int64_t i, double v) { ev_setf(t, i, v); }
void smelt_tensor_seti(smelt_tensor *t, int64_t i, int64_t v) { ev_seti(t, i, v); }

int64_t ev_geti(const smelt_tensor *t, int64_t i) {
  if (smelt_dtype_is_float(t->dt)) return sm_sat_s(ev_getf(t, i), INT64_MIN, INT64_MAX);
  switch (t->dt) {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) \
  case SMELT_DT_##id: return (int64_t)((const ctype *)t->data)[i];
#include "dtypes.def"
#undef DT
  default: return 0;
  }
}

void ev_setf(smelt_tensor *t, int64_t i, double v) {
  void *d = t->data;
  switch (t->dt) {
  case SMELT_DT_F32: ((float *)d)[i] = (float)v; break;
  case SMELT_DT_F64: ((double *)d)[i] = v; break;
  case SMELT_DT_F16: ((uint16_t *)d)[i] = sm_f32_to_f16((float)v); break;
  case SMELT_DT_BF16: ((uint16_t *)d)[i] = sm_f32_to_bf16((float)v); break;
  case SMELT_DT_BOOL: ((uint8_t *)d)[i] = v != 0; break;
  case SMELT_DT_I8: ((int8_t *)d)[i] = (int8_t)sm_sat_s(v, INT8_MIN, INT8_MAX); break;
  case SMELT_DT_I16: ((int16_t *)d)[i] = (int16_t)sm_sat_s(v, INT16_MIN, INT16_MAX); break;
  case SMELT_DT_I32: ((int32_t *)d)[i] = (int32_t)sm_sat_s(v, INT32_MIN, INT32_MAX); break;
  case SMELT_DT_I64: ((int64_t *)d)[i] = sm_sat_s(v, INT64_MIN, INT64_MAX); break;
  case SMELT_DT_U8: ((uint8_t *)d)[i] = (uint8_t)sm_sat_u(v, UINT8_MAX); break;
  case SMELT_DT_U16: ((uint16_t *)d)[i] = (uint16_t)sm_sat_u(v, UINT16_MAX); break;
  case SMELT_DT_U32: ((uint32_t *)d)[i] = (uint32_t)sm_sat_u(v, UINT32_MAX); break;
  case SMELT_DT_U64: ((uint64_t *)d)[i] = sm_sat_u(v, UINT64_MAX); break;
  default: break;
  }
}

void ev_seti(smelt_tensor *t, int64_t i, int64_t v) {
  void *d = t->data;
  if (smelt_dtype_is_float(t->dt)) { ev_setf(t, i, (double)v); return; }
  if (t->dt == SMELT_DT_BOOL) { ((uint8_t *)d)[i] = v != 0; return; }
  switch (t->dt) {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) \
  case SMELT_DT_##id: ((ctype *)d)[i] = (ctype)(uint64_t)v; break;
#include "dtypes.def"
#undef DT
  default: break;
  }
}

void ev_strides(const int64_t *dims, int rank, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) { strides[i] = s; s *= dims[i]; }
}

void ev_bcast_strides(const smelt_tensor *in, int r, const int64_t *odims, int64_t *strides) {
  int64_t st[SMELT_MAX_RANK];
  ev_strides(in->dims, in->rank, st);
  for (int k = 0; k < r; k++) {
    int j = k - (r - in->rank);
    strides[k] = j < 0 || (in->dims[j] == 1 && odims[k] != 1) ? 0 : st[j];
  }
}

static int alloc_tensor(smelt_tensor *t, smelt_dtype dt, int rank, const int64_t *dims) {
  t->dt = dt;
  t->rank = rank;
  int64_t e = 1;
  for (int i = 0; i < rank; i++) { t->dims[i] = dims[i]; e *= dims[i]; }
  size_t bytes = (size_t)e * smelt_dtype_bytes(dt);
  t->data = calloc(1, bytes ? bytes : 1);
  return t->data ? 0 : SMELT_ERR;
}

/* Evaluates node n over `in`, allocating `out` with dims from shape inference under
 * the symbol values symvals. */
static int run_node(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out,
                    const int64_t *symvals) {
  int inplace = (smelt_op_flags(n->op) & OPF_INPLACE) != 0;
  for (int o = 0; o < n->nout; o++) {
    out[o].data = NULL;
    if (n->out[o] < 0) continue;
    if (o == 0 && inplace) { out[0] = in[0]; continue; } /* updates input 0's buffer */
    const smelt_value *v = &g->values[n->out[o]];
    int64_t dims[SMELT_MAX_RANK];
    smelt_shape_resolve(&v->shape, symvals, dims);
    if (alloc_tensor(&out[o], v->dt, v->shape.rank, dims)) {
      for (int k = 0; k < o; k++) smelt_tensor_free(&out[k]);
      return smelt_errorf(g->cx, "eval: out of memory at node '%s'", n->name);
    }
  }
  if (eval_tab[n->op](g, n, in, out)) {
    for (int o = inplace; o < n->nout; o++) smelt_tensor_free(&out[o]);
    return SMELT_ERR;
  }
  return 0;
}

int smelt_eval_node(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  for (int i = 0; i < n->nin; i++)
    if (!smelt_shape_is_static(&g->values[n->in[i]].shape)) return ev_fail(g, n, "symbolic input shape");
  return run_node(g, n, in, out, NULL);
}

/* Binds symbols to the inputs' dims, checking every constant dim. */
static int bind_inputs(const smelt_graph *g, const smelt_tensor *inputs, int64_t *symvals) {
  for (int s = 0; s < g->nsyms; s++) symvals[s] = -1;
  for (int i = 0; i < g->ninputs; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    const smelt_tensor *t = &inputs[i];
    if (t->rank != v->shape.rank || t->dt != v->dt)
      return smelt_errorf(g->cx, "eval: input '%s' needs %s of rank %d", v->name, smelt_dtype_name(v->dt), v->shape.rank);
    for (int k = 0; k < t->rank; k++) {
      smelt_dim d = v->shape.d[k];
      if (!d.sym) {
        if (t->dims[k] != d.n) return smelt_errorf(g->cx, "eval: input '%s' dim %d is %lld, expected %lld", v->name, k, (long long)t->dims[k], (long long)d.n);
        continue;
      }
      int64_t *sv = &symvals[d.sym - 1];
      if (*sv >= 0 && *sv != t->dims[k]) return smelt_errorf(g->cx, "eval: symbol '%s' bound to %lld and %lld", g->syms[d.sym - 1].name, (long long)*sv, (long long)t->dims[k]);
      if (t->dims[k] > g->syms[d.sym - 1].max) return smelt_errorf(g->cx, "eval: input '%s' dim %d exceeds its bound", v->name, k);
      *sv = t->dims[k];
    }
  }
  for (int s = 0; s < g->nsyms; s++)
    if (symvals[s] < 0) symvals[s] = g->syms[s].max;
  return 0;
}

int smelt_eval(const smelt_graph *g, const smelt_tensor *inputs, smelt_tensor *outputs) {
  return smelt_eval_state(g, inputs, outputs, NULL);
}

int smelt_eval_state(const smelt_graph *g, const smelt_tensor *inputs, smelt_tensor *outputs, smelt_tensor *states) {
  int rc = SMELT_ERR;
  int nv = g->nvalues;
  smelt_tensor *vals = calloc((size_t)nv + 1, sizeof *vals);
  int *last = calloc((size_t)nv + 1, sizeof *last), *owned = calloc((size_t)nv + 1, sizeof *owned);
  int64_t *symvals = calloc((size_t)g->nsyms + 1, sizeof *symvals);
  smelt_tensor *tin = NULL, *tout = NULL;
  int maxio = 1;
  for (int i = 0; i < g->nnodes; i++) {
    if (g->nodes[i].nin > maxio) maxio = g->nodes[i].nin;
    if (g->nodes[i].nout > maxio) maxio = g->nodes[i].nout;
  }
  tin = calloc((size_t)maxio, sizeof *tin);
  tout = calloc((size_t)maxio, sizeof *tout);
  if (!vals || !last || !owned || !symvals || !tin || !tout) { smelt_errorf(g->cx, "eval: out of memory"); goto done; }
  if (bind_inputs(g, inputs, symvals)) goto done;
  for (int i = 0; i < g->ninputs; i++) vals[g->inputs[i]] = inputs[i];
  if (g->nstates && !states) { smelt_errorf(g->cx, "eval: the graph has state; use smelt_eval_state"); goto done; }
  for (int i = 0; i < g->nstates; i++) {
    const smelt_value *sv = &g->values[g->states[i]];
    int64_t dims[SMELT_MAX_RANK];
    smelt_shape_resolve(&sv->shape, symvals, dims);
    int ok = states[i].dt == sv->dt && states[i].rank == sv->shape.rank;
    for (int k = 0; ok && k < sv->shape.rank; k++) ok = states[i].dims[k] == dims[k];
    if (!ok) { smelt_errorf(g->cx, "eval: state '%s' needs %s of its declared shape", sv->name, smelt_dtype_name(sv->dt)); goto done; }
    vals[g->states[i]] = states[i];
  }
  for (int v = 0; v < nv; v++) {
    const smelt_value *val = &g->values[v];
    last[v] = -1;
    if (val->kind != SMELT_V_CONST) continue;
    if (!val->c.data) { smelt_errorf(g->cx, "eval: constant '%s' has no data", val->name); goto done; }
    vals[v].dt = val->dt;
    vals[v].rank = val->shape.rank;
    smelt_shape_resolve(&val->shape, symvals, vals[v].dims);
    vals[v].data = (void *)val->c.data;
  }
  for (int i = 0; i < g->nnodes; i++)
    for (int k = 0; k < g->nodes[i].nin; k++) last[g->nodes[i].in[k]] = i;
  for (int i = 0; i < g->noutputs; i++) last[g->outputs[i]] = g->nnodes; /* keep */
  for (int i = 0; i < g->nnodes; i++) {
    const smelt_node *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) tin[k] = vals[n->in[k]];
    if (run_node(g, n, tin, tout, symvals)) goto done;
    int inplace = (smelt_op_flags(n->op) & OPF_INPLACE) != 0;
    for (int o = 0; o < n->nout; o++)
      if (n->out[o] >= 0) {
        vals[n->out[o]] = tout[o];
        owned[n->out[o]] = !(o == 0 && inplace); /* an in-place result is its input's buffer */
        if (o == 0 && inplace) owned[n->in[0]] = 0, last[n->out[0]] = last[n->out[0]] > last[n->in[0]] ? last[n->out[0]] : last[n->in[0]];
      } else smelt_tensor_free(&tout[o]);
    for (int k = 0; k < n->nin; k++) {
      int v = n->in[k];
      if (owned[v] && last[v] == i) { smelt_tensor_free(&vals[v]); owned[v] = 0; }
    }
    for (int o = 0; o < n->nout; o++) {
      int v = n->out[o];
      if (v >= 0 && owned[v] && last[v] < 0) { smelt_tensor_free(&vals[v]); owned[v] = 0; }
    }
  }
  /* outputs: hand over owned buffers, copy inputs/constants/values used twice */
  for (int i = 0; i < g->noutputs; i++) {
    int v = g->outputs[i];
    outputs[i] = vals[v];
    int later = 0;
    for (int j = i + 1; j < g->noutputs; j++) later |= g->outputs[j] == v;
    if (owned[v] && !later) { owned[v] = 0; continue; }
    size_t bytes = (size_t)smelt_tensor_elems(&vals[v]) * smelt_dtype_bytes(vals[v].dt);
    outputs[i].data = malloc(bytes ? bytes : 1);
    if (!outputs[i].data) { for (int j = 0; j < i; j++) smelt_tensor_free(&outputs[j]); smelt_errorf(g->cx, "eval: out of memory"); goto done; }
    memcpy(outputs[i].data, vals[v].data, bytes);
  }
  rc = 0;
done:
  if (vals)
    for (int v = 0; v < nv; v++)
      if (owned && owned[v]) smelt_tensor_free(&vals[v]);
  free(vals); free(last); free(owned); free(symvals); free(tin); free(tout);
  return rc;
}
