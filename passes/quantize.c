#define _POSIX_C_SOURCE 200809L
/* passes/quantize.c — weight-only quantization of MatMul and Conv weights (--quant).
 *
 * Expects: a folded graph; the build options (compiler/driver.h) through
 * smelt_ctx_options().  Without --quant it does nothing.
 *
 * Guarantees: every MatMul whose B is a rank-2 float constant (f32, f16 or bf16) whose
 * name matches no --quant-skip glob (default: token_embd.weight, i.e. a tied LM head
 * stays float; "--quant-skip none" drops the default) has its weight replaced, as [N, K] (a [K, N] weight is transposed), by
 *   f16          MatMul(A, W f16, trans_b=1)          (runtime/smelt_quant.h dots)
 *   q8_0, q4_0   MatMul(A, W blocks, trans_b=1)       (ggml's formats and quantizers)
 *   int8         QMatMul(A, W i8, S [N])              (per-row scales; A quantized per
 *                                                     row at run time: int8 x int8 dots)
 *   int4, nf4    QMatMul(A, W u8 nibbles, S [N, K/G]) (group G along K)
 * q8_0 / q4_0 need K a multiple of 32: other layers fall back to int8 / int4 (said in
 * the -v report).  int4 / nf4 use --quant-group G (default 32) when it divides K, else
 * the divisor of K nearest to G in ratio (172 -> 43 for G = 32).  A Gather (axis 0) of a
 * table that a MatMul's weight shares (tied embeddings) reads the same quantized
 * constant when it is f16 or blocks (Gather has no QMatMul layouts; those keep the float
 * table beside the quantized head).  A Conv's constant float weight becomes QConv with
 * one quantized row per output channel (quantize_conv below; weight-only in every
 * scheme, int8 included: its activations stay f32).
 *
 * Results move by the quantization error only: each weight's relative error
 * ||W - Wq|| / ||W|| is printed by `smelt build -v`; tests/unit/quantize.c bounds it per
 * scheme, and the interpreter evaluates the quantized graph exactly as the C kernels do
 * (int8 activations included), so backends are checked against it as usual.
 *
 * An LLM's prefill and decode graphs share one quantized copy of each weight (the memo
 * in the build options, keyed by the source constant's bytes): the backend emits one
 * symbol per distinct data pointer. */
#include "passes.h"
#include "compiler/driver.h"
#include "compiler/quantizers.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum scheme { S_F16, S_INT8, S_Q8_0, S_Q4_0, S_INT4, S_NF4 };
static const char *const scheme_names[] = {"f16", "int8", "q8_0", "q4_0", "int4", "nf4"};

struct memo_ent {
  int scheme;          /* what was produced (after any fallback) */
  int64_t group;
  smelt_dtype wdt;     /* the weight's dtype */
  void *w; uint64_t wbytes;
  float *s; int64_t ns;
};
struct smelt_quant_memo {
  smelt_map map;       /* "source data:bytes:dtype:scheme:group" -> index */
  struct memo_ent *e;
  int n, cap;
};

struct smelt_quant_memo *smelt_quant_memo_new(smelt_ctx *cx) {
  struct smelt_quant_memo *m = smelt_alloc(cx, sizeof *m);
  if (m) smelt_map_init(&m->map, cx);
  return m;
}

static int parse_scheme(const char *s) {
  for (int i = 0; i < (int)(sizeof scheme_names / sizeof *scheme_names); i++)
    if (!strcmp(s, scheme_names[i])) return i;
  return -1;
}

int smelt_quant_scheme_known(const char *s) { return parse_scheme(s) >= 0; }

const char *smelt_quant_scheme_list(void) {
  static char buf[128];
  if (!buf[0])
    for (int i = 0; i < (int)(sizeof scheme_names / sizeof *scheme_names); i++)
      snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? ", " : "", scheme_names[i]);
  return buf;
}

/* the divisor of k nearest to g in ratio (the smaller on a tie) */
static int64_t pick_group(int64_t k, int64_t g) {
  if (k % g == 0) return g;
  int64_t best = k;
  double bd = INFINITY;
  for (int64_t d = 1; d <= k; d++) {
    if (k % d) continue;
    double r = fabs(log((double)d / (double)g));
    if (r < bd - 1e-12) { bd = r; best = d; }
  }
  return best;
}

/* --quant-skip globs, plus the default token_embd.weight unless one of them is "none" */
static int skipped(const struct smelt_build_opts *o, const char *name) {
  if (!name) return 0;
  int defaults = 1;
  for (int i = 0; i < o->nquant_skip; i++) {
    if (!strcmp(o->quant_skip[i], "none")) defaults = 0;
    else if (!fnmatch(o->quant_skip[i], name, 0)) return 1;
  }
  return defaults && !fnmatch("token_embd.weight", name, 0);
}

/* ||W - Wq|| / ||W|| over n*k values */
static double rel_err(const float *w, const float *wq, int64_t ne) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ne; i++) {
    double d = (double)w[i] - (double)wq[i];
    num += d * d;
    den += (double)w[i] * w[i];
  }
  return den > 0 ? sqrt(num / den) : 0;
}

/* Quantizes W f32 [n, k] per scheme into a memo entry (ctx arena); dq gets the decoded
 * weight.  Returns 0 or SMELT_ERR. */
static int quantize_weight(smelt_ctx *cx, int scheme, int64_t group, const float *w, int64_t n, int64_t k, struct memo_ent *e, float *dq) {
  e->scheme = scheme;
  e->group = 0;
  if (scheme == S_F16 || scheme == S_Q8_0 || scheme == S_Q4_0) {
    e->wdt = scheme == S_F16 ? SMELT_DT_F16 : scheme == S_Q8_0 ? SMELT_DT_Q8_0 : SMELT_DT_Q4_0;
    int64_t rb = smelt_dtype_nbytes(e->wdt, k);
    e->wbytes = (uint64_t)(rb * n);
    if (!(e->w = smelt_alloc(cx, e->wbytes + 1))) return SMELT_ERR;
    if (smelt_quantize_rows(e->wdt, w, n, k, e->w)) return smelt_errorf(cx, "quantize: %s rows of %lld", scheme_names[scheme], (long long)k);
    for (int64_t r = 0; r < n; r++)
      if (smelt_dequantize_row(e->wdt, (const char *)e->w + r * rb, dq + r * k, k)) return SMELT_ERR;
    return 0;
  }
  if (scheme == S_INT8) {
    e->wdt = SMELT_DT_I8;
    e->wbytes = (uint64_t)(n * k);
    e->ns = n;
    if (!(e->w = smelt_alloc(cx, e->wbytes + 1)) || !(e->s = smelt_alloc(cx, sizeof(float) * (size_t)n + 1))) return SMELT_ERR;
    smelt_quantize_int8(w, n, k, e->w, e->s);
    smelt_dequantize_int8(e->w, e->s, n, k, dq);
    return 0;
  }
  e->group = group;
  e->wdt = SMELT_DT_U8;
  e->wbytes = (uint64_t)(n * ((k + 1) / 2));
  e->ns = n * (k / group);
  if (!(e->w = smelt_alloc(cx, e->wbytes + 1)) || !(e->s = smelt_alloc(cx, sizeof(float) * (size_t)e->ns + 1))) return SMELT_ERR;
  (scheme == S_NF4 ? smelt_quantize_nf4 : smelt_quantize_int4)(w, n, k, group, e->w, e->s);
  smelt_dequantize_4bit(scheme == S_NF4, e->w, e->s, n, k, group, dq);
  return 0;
}

static const char *memo_key(smelt_ctx *cx, const smelt_value *B, int tb, int scheme, int64_t group) {
  return smelt_sprintf(cx, "%p:%llu:%d:%d:%d:%lld", B->c.data, (unsigned long long)B->c.nbytes, (int)B->dt, tb, scheme, (long long)group);
}

/* The memo entry for constant B (as [n, k], transposed when tb is 0), quantizing it on
 * first sight and reporting it at -v. */
static struct memo_ent *lookup(smelt_ctx *cx, struct smelt_quant_memo *m, const smelt_value *B, int tb, int scheme, int64_t group) {
  const int64_t n = B->shape.d[tb ? 0 : 1].n, k = B->shape.d[tb ? 1 : 0].n;
  const char *key = memo_key(cx, B, tb, scheme, group);
  if (!key) return NULL;
  int i = smelt_map_get(&m->map, key);
  if (i >= 0) return &m->e[i];
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 64;
    struct memo_ent *ne = smelt_alloc(cx, sizeof *ne * (size_t)cap);
    if (!ne) return NULL;
    if (m->n) memcpy(ne, m->e, sizeof *ne * (size_t)m->n);
    m->e = ne;
    m->cap = cap;
  }
  /* the weight as f32 [n, k] */
  float *w = malloc(sizeof(float) * (size_t)(n * k + 1)), *dq = malloc(sizeof(float) * (size_t)(n * k + 1)), *row = malloc(sizeof(float) * (size_t)(n + k + 1));
  struct memo_ent *e = &m->e[m->n];
  int rc = SMELT_ERR;
  if (!w || !dq || !row) { smelt_errorf(cx, "quantize: out of memory"); goto done; }
  const int64_t cols = B->shape.d[1].n, rowsB = B->shape.d[0].n;
  for (int64_t r = 0; r < rowsB; r++) {
    if (smelt_dequantize_row(B->dt, (const char *)B->c.data + r * smelt_dtype_nbytes(B->dt, cols), row, cols)) goto done;
    for (int64_t c = 0; c < cols; c++) {
      if (tb) w[r * k + c] = row[c];
      else w[c * k + r] = row[c];
    }
  }
  memset(e, 0, sizeof *e);
  /* ggml's block types need whole blocks: other widths take the per-row / group scheme */
  int sch = scheme;
  if ((sch == S_Q8_0 || sch == S_Q4_0) && k % 32) sch = sch == S_Q8_0 ? S_INT8 : S_INT4;
  int64_t gr = (sch == S_INT4 || sch == S_NF4) ? pick_group(k, group) : 0;
  if (quantize_weight(cx, sch, gr, w, n, k, e, dq)) goto done;
  char gs[64] = "";
  if (gr) snprintf(gs, sizeof gs, " group %lld", (long long)gr);
  smelt_logf(cx, 1, "quantize: %s [%lld,%lld] %s%s%s, rel. error %.3g", B->name ? B->name : "(unnamed)", (long long)n, (long long)k,
             scheme_names[sch], gs, sch != scheme ? smelt_sprintf(cx, " (%s needs K %% 32 == 0)", scheme_names[scheme]) : "",
             rel_err(w, dq, n * k));
  if (smelt_map_put(&m->map, key, m->n)) goto done;
  m->n++;
  rc = 0;
done:
  free(w);
  free(dq);
  free(row);
  return rc ? NULL : e;
}

static int rewrite(smelt_ctx *cx, smelt_graph *g, int ni, const struct memo_ent *e, const char *name) {
  smelt_node *n = &g->nodes[ni];
  const int64_t N = g->values[n->out[0]].shape.d[g->values[n->out[0]].shape.rank - 1].n;
  const int64_t K = g->values[n->in[0]].shape.d[g->values[n->in[0]].shape.rank - 1].n;
  smelt_shape ws = {.rank = 2};
  ws.d[0] = smelt_dim_c(N);
  ws.d[1] = smelt_dim_c(e->wdt == SMELT_DT_U8 ? (K + 1) / 2 : K);
  int wv = smelt_graph_add_const(g, name, e->wdt, &ws, e->w, e->wbytes);
  if (wv < 0) return SMELT_ERR;
  n = &g->nodes[ni]; /* adding values may move nothing in nodes, but stay safe */
  if (e->scheme == S_F16 || e->scheme == S_Q8_0 || e->scheme == S_Q4_0) {
    if (smelt_node_set_ints(cx, n, 1, (const char *[]){"trans_b"}, (int64_t[]){1})) return SMELT_ERR;
    n->in[1] = wv;
    return smelt_shape_infer(g, ni);
  }
  smelt_shape ss = {.rank = e->scheme == S_INT8 ? 1 : 2};
  ss.d[0] = smelt_dim_c(N);
  if (ss.rank == 2) ss.d[1] = smelt_dim_c(K / e->group);
  int sv = smelt_graph_add_const(g, smelt_sprintf(cx, "%s.scale", name), SMELT_DT_F32, &ss, e->s, sizeof(float) * (uint64_t)e->ns);
  if (sv < 0) return SMELT_ERR;
  n = &g->nodes[ni];
  int *in = smelt_alloc(cx, sizeof(int) * 3);
  smelt_attr *at = smelt_alloc(cx, sizeof(smelt_attr) * 2);
  if (!in || !at) return SMELT_ERR;
  in[0] = n->in[0];
  in[1] = wv;
  in[2] = sv;
  at[0] = smelt_attr_str("scheme", scheme_names[e->scheme]);
  at[1] = smelt_attr_int("group", e->group);
  n->op = SMELT_OP_QMATMUL;
  n->in = in;
  n->nin = 3;
  n->attrs = at;
  n->nattr = 2;
  return smelt_shape_infer(g, ni);
}

/* A Conv's constant float weight [M, C/group, k...] becomes QConv (ops.def) with the
 * weight quantized per output channel: rows of R = C/group * prod(k) values, in the
 * same schemes as MatMul (q8_0 / q4_0 blocks along the row, falling back to int8 /
 * int4 when R is not a multiple of 32).  Rows above 16384 values stay float (the
 * kernel decodes a row on the stack).  Returns 0 (rewritten or left) or SMELT_ERR. */
static int quantize_conv(smelt_ctx *cx, smelt_graph *g, int ni, int scheme, int64_t group, const struct smelt_build_opts *o) {
  smelt_node *n = &g->nodes[ni];
  const smelt_value *X = &g->values[n->in[0]], *W = &g->values[n->in[1]];
  if (X->dt != SMELT_DT_F32 || W->kind != SMELT_V_CONST || !W->c.data || W->shape.rank < 3) return 0;
  if (W->dt != SMELT_DT_F32 && W->dt != SMELT_DT_F16 && W->dt != SMELT_DT_BF16) return 0;
  const int64_t M = W->shape.d[0].n;
  int64_t R = 1;
  for (int i = 1; i < W->shape.rank; i++) R *= W->shape.d[i].n;
  const char *wname = W->name ? W->name : smelt_sprintf(cx, "w%d", ni);
  if (skipped(o, W->name)) { smelt_logf(cx, 1, "quantize: %s (Conv) kept %s (--quant-skip)", wname, smelt_dtype_name(W->dt)); return 0; }
  if (M < 1 || R < 1 || R > 16384) {
    smelt_logf(cx, 1, "quantize: %s (Conv) kept %s (rows of %lld values; at most 16384)", wname, smelt_dtype_name(W->dt), (long long)R);
    return 0;
  }
  int sch = scheme;
  if ((sch == S_Q8_0 || sch == S_Q4_0) && R % 32) sch = sch == S_Q8_0 ? S_INT8 : S_INT4;
  const int64_t gr = (sch == S_INT4 || sch == S_NF4) ? pick_group(R, group) : 0;
  float *w = malloc(sizeof(float) * (size_t)(M * R)), *dq = malloc(sizeof(float) * (size_t)(M * R));
  struct memo_ent e;
  memset(&e, 0, sizeof e);
  int rc = SMELT_ERR;
  if (!w || !dq) { smelt_errorf(cx, "quantize: out of memory"); goto done; }
  for (int64_t m = 0; m < M; m++)
    if (smelt_dequantize_row(W->dt, (const char *)W->c.data + m * smelt_dtype_nbytes(W->dt, R), w + m * R, R)) goto done;
  if (quantize_weight(cx, sch, gr, w, M, R, &e, dq)) goto done;
  char gs[64] = "";
  if (gr) snprintf(gs, sizeof gs, " group %lld", (long long)gr);
  smelt_logf(cx, 1, "quantize: %s [%lld,%lld] (Conv) %s%s%s, rel. error %.3g", wname, (long long)M, (long long)R, scheme_names[sch], gs,
             sch != scheme ? smelt_sprintf(cx, " (%s needs a row %% 32 == 0)", scheme_names[scheme]) : "", rel_err(w, dq, M * R));
  /* the new operands: W [M, row], the bias (zeros when the Conv had none), the scales */
  smelt_shape ws = {.rank = 2};
  ws.d[0] = smelt_dim_c(M);
  ws.d[1] = smelt_dim_c(e.wdt == SMELT_DT_U8 ? (R + 1) / 2 : R);
  int wv = smelt_graph_add_const(g, wname, e.wdt, &ws, e.w, e.wbytes), bv, sv = -1;
  if (wv < 0) goto done;
  n = &g->nodes[ni];
  if (n->nin > 2 && n->in[2] >= 0) bv = n->in[2];
  else {
    float *zero = smelt_alloc(cx, sizeof(float) * (size_t)M);
    smelt_shape bs = {.rank = 1};
    bs.d[0] = smelt_dim_c(M);
    if (!zero || (bv = smelt_graph_add_const(g, smelt_sprintf(cx, "%s.bias", wname), SMELT_DT_F32, &bs, zero, sizeof(float) * (uint64_t)M)) < 0) goto done;
  }
  if (e.s) {
    smelt_shape ss = {.rank = sch == S_INT8 ? 1 : 2};
    ss.d[0] = smelt_dim_c(M);
    if (ss.rank == 2) ss.d[1] = smelt_dim_c(R / e.group);
    if ((sv = smelt_graph_add_const(g, smelt_sprintf(cx, "%s.scale", wname), SMELT_DT_F32, &ss, e.s, sizeof(float) * (uint64_t)e.ns)) < 0) goto done;
  }
  n = &g->nodes[ni];
  if (g->values[bv].dt != SMELT_DT_F32) { rc = 0; goto done; } /* shape_qconv wants an f32 bias: leave this one */
  int *in = smelt_alloc(cx, sizeof(int) * 4);
  smelt_attr *at = smelt_alloc(cx, sizeof(smelt_attr) * (size_t)(n->nattr + 3));
  if (!in || !at) goto done;
  in[0] = n->in[0], in[1] = wv, in[2] = bv, in[3] = sv;
  int na = 0;
  for (int i = 0; i < n->nattr; i++) /* (a Conv in Winograd form is never quantized: the layout pass comes later) */
    if (strcmp(n->attrs[i].key, "wino")) at[na++] = n->attrs[i];
  int64_t kk[SMELT_MAX_RANK];
  for (int i = 2; i < W->shape.rank; i++) kk[i - 2] = W->shape.d[i].n;
  at[na++] = smelt_attr_ints(cx, "kernel", kk, W->shape.rank - 2);
  at[na++] = smelt_attr_str("scheme", scheme_names[sch]);
  at[na++] = smelt_attr_int("qgroup", gr);
  n->op = SMELT_OP_QCONV;
  n->in = in;
  n->nin = sv >= 0 ? 4 : 3;
  n->attrs = at;
  n->nattr = na;
  rc = smelt_shape_infer(g, ni);
done:
  free(w);
  free(dq);
  return rc;
}

int smelt_pass_quantize(smelt_ctx *cx, smelt_graph *g) {
  const struct smelt_build_opts *o = smelt_ctx_options(cx);
  if (!o || !o->quant) return 0;
  int scheme = parse_scheme(o->quant);
  if (scheme < 0) return smelt_errorf(cx, "--quant %s: expected f16, int8, q8_0, q4_0, int4 or nf4", o->quant);
  int64_t group = o->quant_group > 0 ? o->quant_group : 32;
  struct smelt_quant_memo *m = o->quant_memo ? o->quant_memo : smelt_quant_memo_new(cx);
  if (!m) return SMELT_ERR;
  const int nn = g->nnodes;
  for (int ni = 0; ni < nn; ni++) {
    smelt_node *n = &g->nodes[ni];
    if (!n->dead && n->op == SMELT_OP_CONV) {
      if (quantize_conv(cx, g, ni, scheme, group, o)) return SMELT_ERR;
      continue;
    }
    if (n->dead || n->op != SMELT_OP_MATMUL) continue;
    const smelt_value *A = &g->values[n->in[0]], *B = &g->values[n->in[1]];
    const int tb = (int)smelt_attr_i(n, "trans_b");
    if (A->dt != SMELT_DT_F32 || B->kind != SMELT_V_CONST || !B->c.data || B->shape.rank != 2 || B->shape.d[0].sym || B->shape.d[1].sym) continue;
    if (B->dt != SMELT_DT_F32 && B->dt != SMELT_DT_F16 && B->dt != SMELT_DT_BF16) continue; /* already quantized */
    if (scheme == S_F16 && B->dt == SMELT_DT_F16 && tb) continue;
    if (skipped(o, B->name)) { /* reported once per build */
      const char *key = smelt_sprintf(cx, "skip:%s", B->name);
      if (key && smelt_map_get(&m->map, key) < 0) {
        smelt_logf(cx, 1, "quantize: %s [%lld,%lld] kept %s (--quant-skip)", B->name, (long long)B->shape.d[0].n, (long long)B->shape.d[1].n,
                   smelt_dtype_name(B->dt));
        if (smelt_map_put(&m->map, key, 0)) return SMELT_ERR;
      }
      continue;
    }
    const int64_t K = B->shape.d[tb ? 1 : 0].n, N = B->shape.d[tb ? 0 : 1].n;
    if (K < 1 || N < 1 || K > 131072) continue;
    const char *name = B->name ? B->name : smelt_sprintf(cx, "w%d", ni);
    struct memo_ent *e = lookup(cx, m, B, tb, scheme, group);
    if (!e || rewrite(cx, g, ni, e, name)) return SMELT_ERR;
  }
  /* A Gather of a table some MatMul above quantized to blocks or f16 (tied embeddings:
   * the LM head's weight is the embedding table) reads the same quantized copy, so the
   * model holds one; the Gather kernels give f32 rows of these dtypes. */
  for (int ni = 0; ni < g->nnodes; ni++) {
    smelt_node *n = &g->nodes[ni];
    if (n->dead || n->op != SMELT_OP_GATHER || smelt_attr_i(n, "axis") != 0) continue;
    const smelt_value *X = &g->values[n->in[0]];
    if (X->kind != SMELT_V_CONST || !X->c.data || X->shape.rank != 2 || (X->dt != SMELT_DT_F32 && X->dt != SMELT_DT_F16 && X->dt != SMELT_DT_BF16))
      continue;
    const char *key = memo_key(cx, X, 1, scheme, group);
    int i = key ? smelt_map_get(&m->map, key) : -1;
    if (i < 0) continue;
    const struct memo_ent *e = &m->e[i];
    if (e->wdt != SMELT_DT_F16 && !smelt_dtype_is_block(e->wdt)) continue; /* QMatMul layouts have no Gather */
    int wv = smelt_graph_add_const(g, X->name, e->wdt, &X->shape, e->w, e->wbytes);
    if (wv < 0) return SMELT_ERR;
    n = &g->nodes[ni];
    n->in[0] = wv;
    if (smelt_shape_infer(g, ni)) return SMELT_ERR;
  }
  smelt_graph_compact(g);
  return 0;
}
