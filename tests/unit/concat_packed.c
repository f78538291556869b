/* tests/unit/concat_packed.c — Q/K/V concatenation over packed weights
 * (passes/concat.c + passes/layout.c), as a language-model build runs them: a prefill
 * graph (n rows) and a decode graph (one row) over the same weight bytes, passed in that
 * order with one build's memos, target x86-64-avx2 (panels of P = 16), every weight
 * packable (layout_min 1).
 *
 * Checks: decode runs ONE packed product by the stacked [K, 64] weight (the RMSNorm
 * folded in as its prologue) where Q/K/V were three; prefill's three products read
 * panel ranges of that very buffer (data pointers at the members' row offsets), so the
 * weights are held once; a pair whose N (24) is not a multiple of P stays two products
 * in decode, each reading prefill's panels; both graphs evaluate (reference
 * interpreter) exactly as before the passes. */
#include "../testutil.h"
#include "compiler/driver.h"
#include "ir/ir.h"
#include "passes/passes.h"

#include <string.h>

enum { K = 8 };

/* the graph: Q/K/V (N 32, 16, 16) over the normed x, a pair (N 24, 16) over x2 */
static smelt_graph *graph(smelt_ctx *cx, const char *rows) {
  static const int ns[5] = {32, 16, 16, 24, 16};
  static const char *names[5] = {"wq", "wk", "wv", "wz", "wy"};
  size_t cap = 1 << 16, len = 0;
  char *t = malloc(cap);
  len += (size_t)snprintf(t + len, cap - len, "smelt-ir 1\ngraph \"g\"\nsym n <= 8\nstate %%s : f32[1]\ninput %%x : f32[%s,%d]\n"
                                              "input %%x2 : f32[%s,%d]\nconst %%g : f32[%d] = [",
                          rows, K, rows, K, K);
  for (int k = 0; k < K; k++) len += (size_t)snprintf(t + len, cap - len, "%s%g", k ? ", " : "", 0.5 + 0.125 * k);
  len += (size_t)snprintf(t + len, cap - len, "]\n");
  uint32_t seed = 7;
  for (int w = 0; w < 5; w++) {
    len += (size_t)snprintf(t + len, cap - len, "const %%%s : f32[%d,%d] = [", names[w], ns[w], K);
    for (int i = 0; i < ns[w] * K; i++) {
      seed = seed * 1664525u + 1013904223u;
      len += (size_t)snprintf(t + len, cap - len, "%s%g", i ? ", " : "", (double)((int)(seed >> 24) - 128) / 64.0);
    }
    len += (size_t)snprintf(t + len, cap - len, "]\n");
  }
  len += (size_t)snprintf(t + len, cap - len, "%%h : f32[%s,%d] = RMSNorm(%%x, %%g) {eps=1e-05}\n", rows, K);
  for (int w = 0; w < 5; w++)
    len += (size_t)snprintf(t + len, cap - len, "%%m%d : f32[%s,%d] = MatMul(%s, %%%s) {trans_b=1}\n%%y%d : f32[%s,%d] = Relu(%%m%d)\n", w, rows,
                            ns[w], w < 3 ? "%h" : "%x2", names[w], w, rows, ns[w], w);
  for (int w = 0; w < 5; w++) len += (size_t)snprintf(t + len, cap - len, "output %%y%d\n", w);
  smelt_graph *g = smelt_parse(cx, t, len, "concat_packed.ir");
  free(t);
  return g;
}

/* the weight of a live product node carrying pack = P (MatMul, or Fused on one), else -1 */
static int packed_weight(smelt_ctx *cx, const smelt_graph *g, const smelt_node *n) {
  (void)cx;
  if (n->dead || smelt_attr_i(n, "pack") != 16) return -1;
  for (int i = 0; i < n->nin; i++) {
    const smelt_value *v = &g->values[n->in[i]];
    if (v->kind == SMELT_V_CONST && v->shape.rank == 2 && v->shape.d[0].n == K) return n->in[i];
  }
  return -1;
}

/* the graph's outputs on fixed inputs of r rows */
static int eval(smelt_graph *g, int r, float out[5][8 * 32]) {
  float x[8 * K], x2[8 * K];
  for (int i = 0; i < r * K; i++) x[i] = (float)((i * 37) % 17 - 8) / 4.0f, x2[i] = (float)((i * 11) % 13 - 6) / 3.0f;
  smelt_tensor in[2] = {{.dt = SMELT_DT_F32, .rank = 2, .dims = {r, K}, .data = x}, {.dt = SMELT_DT_F32, .rank = 2, .dims = {r, K}, .data = x2}};
  smelt_tensor o[5];
  memset(o, 0, sizeof o);
  float st[1] = {0};
  smelt_tensor s = {.dt = SMELT_DT_F32, .rank = 1, .dims = {1}, .data = st};
  if (smelt_eval_state(g, in, o, &s)) return -1;
  for (int i = 0; i < 5; i++) {
    memcpy(out[i], o[i].data, sizeof(float) * (size_t)smelt_tensor_elems(&o[i]));
    free(o[i].data);
  }
  return 0;
}

int main(void) {
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_build_opts o = {.target = "x86-64-avx2", .layout_min = 1};
  o.concat_memo = smelt_concat_memo_new(cx);
  o.layout_memo = smelt_layout_memo_new(cx);
  smelt_ctx_set_options(cx, &o);
  smelt_graph *pf = graph(cx, "n"), *dc = graph(cx, "1");
  CHECK(pf && dc, "parse: %s", smelt_error_msg(cx));
  if (!pf || !dc) return t_done("unit_concat_packed");
  /* one set of weight bytes, as an LLM build's two graphs read one checkpoint */
  for (int v = 0; v < dc->nvalues; v++)
    if (dc->values[v].kind == SMELT_V_CONST)
      for (int u = 0; u < pf->nvalues; u++)
        if (pf->values[u].kind == SMELT_V_CONST && !strcmp(pf->values[u].name, dc->values[v].name)) dc->values[v].c.data = pf->values[u].c.data;
  static float before[2][5][8 * 32], after[2][5][8 * 32];
  CHECK(!eval(pf, 3, before[0]) && !eval(dc, 1, before[1]), "eval before: %s", smelt_error_msg(cx));
  for (int gi = 0; gi < 2; gi++) {
    smelt_graph *g = gi ? dc : pf;
    CHECK(!smelt_pass_concat(cx, g) && !smelt_pass_fuse(cx, g) && !smelt_pass_layout(cx, g) && !smelt_verify(g), "passes (%s): %s",
          gi ? "decode" : "prefill", smelt_error_msg(cx));
  }
  CHECK(!eval(pf, 3, after[0]) && !eval(dc, 1, after[1]), "eval after: %s", smelt_error_msg(cx));
  CHECK(!memcmp(before, after, sizeof before), "the passes changed the interpreter's results");

  /* decode: one product by the stack [K, 64], with the norm as its prologue */
  const smelt_value *stack = NULL;
  int dpacked = 0, norms = 0, other[2] = {-1, -1};
  for (int ni = 0; ni < dc->nnodes; ni++) {
    const smelt_node *n = &dc->nodes[ni];
    if (!n->dead && n->op == SMELT_OP_RMS_NORM) norms++;
    int w = packed_weight(cx, dc, n);
    if (w < 0) continue;
    dpacked++;
    if (dc->values[w].shape.d[1].n == 64) stack = &dc->values[w];
    else if (dpacked <= 3) other[other[0] >= 0] = w;
    if (dc->values[w].shape.d[1].n == 64)
      CHECK(n->op == SMELT_OP_FUSED && strstr(smelt_attr_s(n, "prog"), "RMSNorm"), "decode: the stacked product has no norm prologue");
  }
  CHECK(dpacked == 3 && stack && norms == 0, "decode: %d packed products (want 3: Q/K/V stacked, the N = 24 / 16 pair apart), stack %s, %d RMSNorm nodes",
        dpacked, stack ? "found" : "missing", norms);
  /* prefill: Q/K/V read panel ranges of the stack, the pair the same buffers as decode */
  const int64_t off[3] = {0, 32 * K * 4, 48 * K * 4};
  int found = 0, pair = 0;
  for (int ni = 0; ni < pf->nnodes; ni++) {
    int w = packed_weight(cx, pf, &pf->nodes[ni]);
    if (w < 0) continue;
    const unsigned char *d = pf->values[w].c.data;
    for (int m = 0; stack && m < 3; m++)
      if (d == (const unsigned char *)stack->c.data + off[m]) found |= 1 << m;
    for (int k = 0; k < 2; k++)
      if (other[k] >= 0 && d == dc->values[other[k]].c.data) pair++;
  }
  CHECK(found == 7, "prefill: Q/K/V do not read the decode stack's panels at their row offsets (mask %d)", found);
  CHECK(pair == 2, "prefill and decode do not share the N = 24 / 16 pair's panels (%d)", pair);
  smelt_ctx_free(cx);
  return t_done("unit_concat_packed");
}
