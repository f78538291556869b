/* passes/layout.c — repacks MatMul weights into the panel layout of the target's GEMM
 * kernels (runtime/smelt_simd_gemm.h).
 *
 * Expects: a fused graph; the build options (compiler/driver.h) through
 * smelt_ctx_options(): the target says whether and how to pack.  Only the vector
 * backends (x86, arm) have packed kernels: generic and Cortex-M targets, and a graph
 * without options, are left alone.
 *
 * Guarantees: a MatMul (or a Fused chain anchored on one) by a constant f32 or f16
 * weight of at least layout_min (default 32768) elements, with A f32 and no batch
 * broadcast of B, reads a new constant holding the weight as [K, N] in panels of P
 * columns (ir/pack.h), with trans_b = 0 and pack = P: P = 32 for AVX-512 (the
 * micro-kernel's two zmm per row), 16 for AVX2 and NEON.  An [N, K] weight (trans_b,
 * as language models store theirs) is transposed while packing.  A weight some other
 * node also reads (a Gather of a tied embedding) stays as it is, so it is never held
 * twice.  A product by an [N, K] weight with one row of A (an LLM's decode step) is
 * packed only when the build already packed that weight for another graph (the
 * prefill): one copy either way, and decode's GEMV streams the panels as fast as rows.
 *
 * Numerics: none change here (the interpreter reads the packed index, ir/eval_nn.c,
 * and sums in the same order); the kernels that run the packed layout sum in a
 * different order from the generic ones (tests compare within rounding).
 *
 * An LLM's prefill and decode graphs share one packed copy per weight through the memo
 * in the build options (keyed by the source constant's bytes), as the quantize pass
 * does: the backend emits one symbol per data pointer. */
#include "passes.h"
#include "compiler/driver.h"
#include "compiler/targets.h"
#include "ir/fused.h"
#include "ir/pack.h"

#include <string.h>

struct smelt_layout_memo {
  smelt_map map; /* "data:bytes:dtype:trans_b:P" -> index into buf */
  void **buf;
  int n, cap;
};

struct smelt_layout_memo *smelt_layout_memo_new(smelt_ctx *cx) {
  struct smelt_layout_memo *m = smelt_alloc(cx, sizeof *m);
  if (m) smelt_map_init(&m->map, cx);
  return m;
}

/* The panel width for the build's target: 0 when its kernels take no packed weights. */
static int panel_width(const struct smelt_build_opts *o) {
  const struct smelt_target *t = smelt_target_find(o->target ? o->target : "native");
  if (!t) return 0;
  if (!strcmp(t->backend, "arm")) return 16;
  if (strcmp(t->backend, "x86")) return 0;
  if (!strcmp(t->name, "x86-64-avx512")) return 32;
  if (!strcmp(t->name, "native")) {
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f") ? 32 : 16; /* -march=native: the host's ISA */
#endif
  }
  return 16;
}

/* The input index of the weight of node n when it is a MatMul or a Fused chain whose
 * anchor is one (with the weight read by the anchor only), else -1; *a gets A's. */
static int weight_slot(smelt_ctx *cx, const smelt_node *n, int *a) {
  *a = 0;
  if (n->op == SMELT_OP_MATMUL) return 1;
  if (n->op != SMELT_OP_FUSED) return -1;
  struct smelt_fused_prog p;
  /* with a norm prologue (step 0) the anchor is step 1 and A is the norm's input */
  if (smelt_fused_parse(cx, n, &p) || !p.anchor || p.step[p.pro].op != SMELT_OP_MATMUL || p.step[p.pro].arg[1] < 0) return -1;
  int w = p.step[p.pro].arg[1];
  *a = p.step[0].arg[0];
  if (*a < 0 || *a == w || *a >= n->nin || w >= n->nin) return -1;
  for (int k = 0; k < SMELT_FUSED_MAXSTEPS && k < p.nsteps; k++)
    for (int a = 0; a < p.step[k].nargs; a++)
      if (k != p.pro && p.step[k].arg[a] == w) return -1;
  return w;
}

/* Is node n's product by its weight (input slot) one the packed kernels run? */
static int eligible(const smelt_graph *g, const smelt_node *n, int aslot, int slot, int64_t min) {
  if (smelt_attr_i(n, "pack")) return 0;
  const smelt_value *A = &g->values[n->in[aslot]], *B = &g->values[n->in[slot]], *Y = &g->values[n->out[0]];
  if (A->dt != SMELT_DT_F32 || A->shape.rank < 2 || Y->shape.rank != A->shape.rank) return 0;
  if (B->kind != SMELT_V_CONST || !B->c.data || B->shape.rank != 2 || B->shape.d[0].sym || B->shape.d[1].sym) return 0;
  int tb = (int)smelt_attr_i(n, "trans_b");
  if (!(B->dt == SMELT_DT_F32 || (B->dt == SMELT_DT_F16 && tb))) return 0;
  if (A->shape.d[A->shape.rank - 1].sym) return 0;
  return B->shape.d[0].n * B->shape.d[1].n >= min;
}

/* Is A one row (every dim but the last is 1)? */
static int one_row(const smelt_value *A) {
  for (int k = 0; k < A->shape.rank - 1; k++)
    if (!smelt_dim_is(A->shape.d[k], 1)) return 0;
  return 1;
}

/* B (as [K, N], transposed from [N, K] when tb) in panels of P */
static void *pack(smelt_ctx *cx, const smelt_value *B, int tb, int P) {
  const int64_t K = B->shape.d[tb ? 1 : 0].n, N = B->shape.d[tb ? 0 : 1].n;
  const int es = smelt_dtype_bytes(B->dt);
  unsigned char *out = smelt_alloc(cx, (size_t)(K * N * es) + 1);
  if (!out) return NULL;
  const unsigned char *src = B->c.data;
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++)
      memcpy(out + es * smelt_pack_index(k, j, K, N, P), src + es * (tb ? j * K + k : k * N + j), (size_t)es);
  return out;
}

/* Will this build's layout pass pack a constant weight of elems elements of dtype dt
 * read by products of several rows?  (concat asks: a weight it stacks for the one-row
 * decode graph could not share the panels prefill reads and would be stored twice) */
int smelt_layout_would_pack(const struct smelt_build_opts *o, smelt_dtype dt, int64_t elems) {
  if (!o || (dt != SMELT_DT_F32 && dt != SMELT_DT_F16) || !panel_width(o) || smelt_skip_listed(o->skip_passes, "layout")) return 0;
  return elems >= (o->layout_min > 0 ? o->layout_min : 32768);
}

int smelt_layout_panel(const struct smelt_build_opts *o) {
  return o && !smelt_skip_listed(o->skip_passes, "layout") ? panel_width(o) : 0;
}

/* Grows the memo by one buffer; its index, or -1. */
static int memo_add(smelt_ctx *cx, struct smelt_layout_memo *m, const char *key, void *buf) {
  if (m->n == m->cap) {
    int cap = m->cap ? 2 * m->cap : 64;
    void **nb = smelt_alloc(cx, sizeof *nb * (size_t)cap);
    if (!nb) return -1;
    if (m->n) memcpy(nb, m->buf, sizeof *nb * (size_t)m->n);
    m->buf = nb;
    m->cap = cap;
  }
  m->buf[m->n] = buf;
  if (smelt_map_put(&m->map, key, m->n)) return -1;
  return m->n++;
}

/* B [N, K] (trans_b) lying at rows [r0, r0 + N) of a concatenation [Nt, K] the concat
 * pass made (passes/concat.c: Q/K/V, gate/up): when r0 and r0 + N are panel boundaries
 * (multiples of P, or Nt), B's panels are the stack's panels [r0 K, (r0 + N) K), so
 * the stack is packed once (memo entry under the stack's key, which the one-row product
 * by the whole stack in the decode graph finds) and B reads that range of it.  Returns
 * B's packed bytes, NULL with no error when B is no such range (pack it alone). */
static void *pack_in_stack(smelt_ctx *cx, const struct smelt_build_opts *o, struct smelt_layout_memo *m, const smelt_value *B, int P,
                           int *err) {
  void *pd;
  uint64_t pn;
  *err = 0;
  int64_t off = o->concat_memo ? smelt_concat_parent(o->concat_memo, B->c.data, B->c.nbytes, B->dt, &pd, &pn) : -1;
  const int64_t N = B->shape.d[0].n, K = B->shape.d[1].n, row = K * smelt_dtype_bytes(B->dt);
  if (off < 0 || row <= 0 || off % row || pn % (uint64_t)row) return NULL;
  const int64_t r0 = off / row, Nt = (int64_t)(pn / (uint64_t)row);
  if (r0 % P || ((r0 + N) % P && r0 + N != Nt)) return NULL;
  const char *key = smelt_sprintf(cx, "%p:%llu:%d:1:%d", pd, (unsigned long long)pn, (int)B->dt, P);
  if (!key) return *err = 1, NULL;
  int e = smelt_map_get(&m->map, key);
  if (e < 0) {
    smelt_value S = *B; /* the stack as one [Nt, K] weight */
    S.shape.d[0] = smelt_dim_c(Nt);
    S.c.data = pd;
    S.c.nbytes = pn;
    void *buf = pack(cx, &S, 1, P);
    if (!buf || (e = memo_add(cx, m, key, buf)) < 0) return *err = 1, NULL;
  }
  return (unsigned char *)m->buf[e] + off;
}

int smelt_pass_layout(smelt_ctx *cx, smelt_graph *g) {
  const struct smelt_build_opts *o = smelt_ctx_options(cx);
  int P = o ? panel_width(o) : 0;
  if (!P) return 0;
  if (smelt_layout_wino(cx, g)) return SMELT_ERR; /* 3x3 stride-1 Convs: Winograd weights (passes/wino.c) */
  int64_t min = o->layout_min > 0 ? o->layout_min : 32768;
  struct smelt_layout_memo *m = o->layout_memo ? o->layout_memo : smelt_layout_memo_new(cx);
  int *uses = smelt_alloc(cx, sizeof(int) * (size_t)(g->nvalues + 1)), *mm = smelt_alloc(cx, sizeof(int) * (size_t)(g->nvalues + 1));
  int *gemm = smelt_alloc(cx, sizeof(int) * (size_t)(g->nvalues + 1)); /* read by a product of several rows */
  if (!m || !uses || !mm || !gemm) return SMELT_ERR;
  /* a weight is packed only when every reader of it is a product packing it */
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int i = 0; i < n->nin; i++)
      if (n->in[i] >= 0) uses[n->in[i]]++;
    int a, s = weight_slot(cx, n, &a);
    if (s >= 0 && eligible(g, n, a, s, min)) {
      mm[n->in[s]]++;
      if (!smelt_attr_i(n, "trans_b") || !one_row(&g->values[n->in[a]])) gemm[n->in[s]] = 1;
    }
  }
  for (int i = 0; i < g->noutputs; i++) uses[g->outputs[i]]++;
  int changed = 0;
  const int nn = g->nnodes;
  for (int ni = 0; ni < nn; ni++) {
    smelt_node *n = &g->nodes[ni];
    int a = 0, s = n->dead ? -1 : weight_slot(cx, n, &a);
    if (s < 0 || !eligible(g, n, a, s, min) || uses[n->in[s]] != mm[n->in[s]]) continue;
    const smelt_value *B = &g->values[n->in[s]];
    const int tb = (int)smelt_attr_i(n, "trans_b");
    const char *key = smelt_sprintf(cx, "%p:%llu:%d:%d:%d", B->c.data, (unsigned long long)B->c.nbytes, (int)B->dt, tb, P);
    if (!key) return SMELT_ERR;
    int e = smelt_map_get(&m->map, key);
    /* one row by an [N, K] weight (decode) alone keeps the rows the dot kernels stream;
     * packed when a GEMM of this graph or the build's other one (prefill) packs it */
    if (e < 0 && tb && !gemm[n->in[s]]) continue;
    if (e < 0) {
      int err = 0;
      void *buf = tb ? pack_in_stack(cx, o, m, B, P, &err) : NULL;
      if (err || (!buf && !(buf = pack(cx, B, tb, P))) || (e = memo_add(cx, m, key, buf)) < 0) return SMELT_ERR;
    }
    const int64_t K = B->shape.d[tb ? 1 : 0].n, N = B->shape.d[tb ? 0 : 1].n;
    smelt_shape ws = {.rank = 2};
    ws.d[0] = smelt_dim_c(K);
    ws.d[1] = smelt_dim_c(N);
    const char *name = B->name ? B->name : smelt_sprintf(cx, "w%d", ni);
    int wv = smelt_graph_add_const(g, name, B->dt, &ws, m->buf[e], (uint64_t)(K * N * smelt_dtype_bytes(B->dt)));
    if (wv < 0) return SMELT_ERR;
    n = &g->nodes[ni];
    if (smelt_node_set_ints(cx, n, 2, (const char *[]){"trans_b", "pack"}, (int64_t[]){0, P})) return SMELT_ERR;
    n->in[s] = wv;
    if (smelt_shape_infer(g, ni)) return SMELT_ERR;
    changed = 1;
  }
  if (changed) smelt_graph_compact(g);
  return 0;
}
