#define _GNU_SOURCE
/* tests/unit/simd_math_ops.c — the vector math kernels of the target backends
 * (backends/simd_math.c -> runtime/smelt_simd_math.h) in whole graphs, compiled into
 * executables and compared with the reference interpreter: Exp, Tanh, Erf, Sigmoid, Silu,
 * Gelu, GeluTanh; Fused chains over full, scalar, per-column and per-row inputs (GELU
 * written out as ONNX exports it, Max / Min / Clip / LeakyRelu / PRelu / Relu / Neg /
 * Abs / Sqrt / Reciprocal) and one after a MatMul anchor; Softmax / LogSoftmax over the
 * last axis; RMSNorm (plain and add_one), LayerNorm (with and without bias); Attention
 * (grouped-query, f32 cache; window and soft cap over an f16 cache) at positions 0, 3 and 7
 * with S = 1, 5 and 9 query rows; batched MatMuls of activations, plain and as a Fused anchor.  Built for --target native with --threads 3 and, on x86-64
 * with AVX2, for x86-64-avx2 with one thread.  The kernels must really be the vector ones:
 * the source must call each smm_ function the graph needs.
 *
 * Bounds (the interpreter computes in double): elementwise 1e-6 (|ref| + 1), the MatMul
 * chain 1e-5 (|ref| + K), softmax 1e-6, log-softmax and norms 1e-5 (|ref| + 1), attention
 * 1e-5 (values in (-1, 1)).  Tensors are large enough (>= 256 elements) for the vector
 * kernels to take them. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

static const char *work;

enum { NOUT = 24 };
static const char *onames[NOUT];
static double otol_rel[NOUT], otol_abs[NOUT];
static int nouts;

/* output *(int *)arg's tolerance: relative to the interpreter's value, plus absolute */
static double out_tol(void *arg, int64_t e, double r) {
  (void)e;
  int o = *(const int *)arg;
  return otol_rel[o] * fabs(r) + otol_abs[o];
}

static int out(smelt_graph *g, int v, const char *name, double rel, double abs_) {
  if (v < 0) return v;
  g->values[v].name = name;
  smelt_graph_add_output(g, v);
  onames[nouts] = name, otol_rel[nouts] = rel, otol_abs[nouts] = abs_;
  nouts++;
  return v;
}

static int node(smelt_graph *g, smelt_op op, const char *name, const int *in, int nin, const smelt_attr *a, int na) {
  int v = smelt_graph_add_node(g, op, name, in, nin, a, na, 1, NULL);
  CHECK(v >= 0, "%s: %s", name, smelt_error_msg(g->cx));
  return v;
}

static smelt_graph *make(smelt_ctx *cx, const char *name, float *wdata, float *nw, float *nb) {
  smelt_graph *g = smelt_graph_new(cx, name);
  int S = smelt_graph_add_sym(g, "S", 9);
  smelt_shape sx = {2, {{0, S}, smelt_dim_c(37)}}, sr = {2, {{0, S}, smelt_dim_c(1)}}, sc = {1, {smelt_dim_c(37)}};
  smelt_shape sq = {3, {{0, S}, smelt_dim_c(4), smelt_dim_c(20)}}, sk = {3, {smelt_dim_c(16), smelt_dim_c(2), smelt_dim_c(20)}};
  smelt_shape sp = {1, {smelt_dim_c(1)}}, sa = {2, {{0, S}, smelt_dim_c(40)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &sx), xr = smelt_graph_add_input(g, "xr", SMELT_DT_F32, &sr);
  int xc = smelt_graph_add_input(g, "xc", SMELT_DT_F32, &sc), q = smelt_graph_add_input(g, "q", SMELT_DT_F32, &sq);
  int k = smelt_graph_add_input(g, "k", SMELT_DT_F32, &sk), v = smelt_graph_add_input(g, "v", SMELT_DT_F32, &sk);
  int pos = smelt_graph_add_input(g, "pos", SMELT_DT_I32, &sp), a = smelt_graph_add_input(g, "a", SMELT_DT_F32, &sa);
  smelt_shape sw = {2, {smelt_dim_c(32), smelt_dim_c(40)}}, s0 = {0, {{0}}};
  int w = smelt_graph_add_const(g, "w", SMELT_DT_F32, &sw, wdata, sizeof(float) * 32 * 40);
  static const float half = 0.5f, one = 1.0f, sqrt2 = 1.41421356f;
  int ch = smelt_graph_add_const(g, "half", SMELT_DT_F32, &s0, &half, 4), c1 = smelt_graph_add_const(g, "one", SMELT_DT_F32, &s0, &one, 4);
  int cs = smelt_graph_add_const(g, "sqrt2", SMELT_DT_F32, &s0, &sqrt2, 4);
  int nwv = smelt_graph_add_const(g, "nw", SMELT_DT_F32, &sc, nw, 37 * 4), nbv = smelt_graph_add_const(g, "nb", SMELT_DT_F32, &sc, nb, 37 * 4);
  nouts = 0;
  static const struct { smelt_op op; const char *name; } un[] = {
      {SMELT_OP_EXP, "exp"}, {SMELT_OP_TANH, "tanh"}, {SMELT_OP_ERF, "erf"}, {SMELT_OP_SIGMOID, "sigmoid"},
      {SMELT_OP_SILU, "silu"}, {SMELT_OP_GELU, "gelu"}, {SMELT_OP_GELU_TANH, "gelu_tanh"}};
  for (unsigned i = 0; i < sizeof un / sizeof *un; i++) out(g, node(g, un[i].op, un[i].name, &x, 1, NULL, 0), un[i].name, 1e-6, 1e-6);
  /* Fused chains: ONNX's GELU (x, scalars), broadcasts per column and per row, more ops */
  smelt_attr pa = smelt_attr_str("prog", "Div x0 x1; Erf t0; Add t1 x2; Mul x0 t2; Mul t3 x3");
  int f1[] = {x, cs, c1, ch};
  out(g, node(g, SMELT_OP_FUSED, "f_gelu", f1, 4, &pa, 1), "f_gelu", 1e-6, 1e-6);
  smelt_attr pb = smelt_attr_str("prog", "Sub x0 x1; Mul t0 x2; Max t1 x1; Min t2 x2; Clip(min=-0.3,max=0.4) t1; Add t4 t3; "
                                         "LeakyRelu(alpha=0.2) t5; PRelu t6 x2; Neg t7; Abs t0; Sqrt t9; Reciprocal t10; "
                                         "Relu t8; Add t12 t11; Sigmoid t13; Mul t14 t7");
  int f2[] = {x, xc, xr};
  out(g, node(g, SMELT_OP_FUSED, "f_bcast", f2, 3, &pb, 1), "f_bcast", 1e-6, 1e-6);
  smelt_attr pc[] = {smelt_attr_str("prog", "MatMul x0 x1; Silu t0; Mul t1 x2"), smelt_attr_int("trans_b", 1)};
  int ya = node(g, SMELT_OP_MATMUL, "ya", (int[]){a, w}, 2, &pc[1], 1);
  int gate = node(g, SMELT_OP_TANH, "gate_in", &ya, 1, NULL, 0);
  out(g, node(g, SMELT_OP_FUSED, "f_mm", (int[]){a, w, gate}, 3, pc, 2), "f_mm", 1e-5, 4e-4);
  /* softmax family, norms */
  smelt_attr ax = smelt_attr_int("axis", -1);
  out(g, node(g, SMELT_OP_SOFTMAX, "softmax", &x, 1, &ax, 1), "softmax", 0, 1e-6);
  out(g, node(g, SMELT_OP_SOFTMAX, "softmax_q", &q, 1, &ax, 1), "softmax_q", 0, 1e-6);
  out(g, node(g, SMELT_OP_LOG_SOFTMAX, "log_softmax", &x, 1, &ax, 1), "log_softmax", 1e-5, 1e-5);
  smelt_attr ra[] = {smelt_attr_float("eps", 1e-5), smelt_attr_int("add_one", 1)};
  out(g, node(g, SMELT_OP_RMS_NORM, "rms", (int[]){x, nwv}, 2, ra, 1), "rms", 1e-5, 1e-5);
  out(g, node(g, SMELT_OP_RMS_NORM, "rms1", (int[]){x, nwv}, 2, ra, 2), "rms1", 1e-5, 1e-5);
  out(g, node(g, SMELT_OP_LAYER_NORM, "ln", (int[]){x, nwv, nbv}, 3, ra, 1), "ln", 1e-5, 1e-5);
  out(g, node(g, SMELT_OP_LAYER_NORM, "ln_nobias", (int[]){x, nwv}, 2, ra, 1), "ln_nobias", 1e-5, 1e-5);
  /* attention: f32 cache; f16 cache with a window and a soft cap */
  smelt_attr at[] = {smelt_attr_float("scale", 0.2236068), smelt_attr_float("softcap", 2.0), smelt_attr_int("window", 5)};
  out(g, node(g, SMELT_OP_ATTENTION, "attn", (int[]){q, k, v, pos}, 4, at, 1), "attn", 0, 1e-5);
  smelt_attr to = smelt_attr_dtype("to", SMELT_DT_F16);
  int k16 = node(g, SMELT_OP_CAST, "k16", &k, 1, &to, 1), v16 = node(g, SMELT_OP_CAST, "v16", &v, 1, &to, 1);
  out(g, node(g, SMELT_OP_ATTENTION, "attn16", (int[]){q, k16, v16, pos}, 4, at, 3), "attn16", 0, 1e-5);
  /* batched MatMuls of activations (ONNX attention's shape): [2,16,20]·[2,20,16], plain and
   * as the anchor of a Fused chain */
  smelt_attr p1 = smelt_attr_ints(g->cx, "perm", (const int64_t[]){1, 0, 2}, 3), p2 = smelt_attr_ints(g->cx, "perm", (const int64_t[]){1, 2, 0}, 3);
  int ka = node(g, SMELT_OP_TRANSPOSE, "ka", &k, 1, &p1, 1), vb = node(g, SMELT_OP_TRANSPOSE, "vb", &v, 1, &p2, 1);
  out(g, node(g, SMELT_OP_MATMUL, "bmm", (int[]){ka, vb}, 2, NULL, 0), "bmm", 1e-5, 1e-5);
  smelt_attr pd = smelt_attr_str("prog", "MatMul x0 x1; Div t0 x2");
  out(g, node(g, SMELT_OP_FUSED, "bmm_div", (int[]){vb, ka, cs}, 3, &pd, 1), "bmm_div", 1e-5, 1e-5);
  return g;
}

static void one(const char *target, int threads) {
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "m_%s_%d", target[0] == 'n' ? "native" : "avx2", threads);
  size_t wb;
  float *wdata = (float *)t_make_weights(SMELT_DT_F32, 32, 40, &wb), nw[37], nb[37];
  for (int i = 0; i < 37; i++) nw[i] = t_unif(), nb[i] = t_unif();
  smelt_graph *g = make(cx, name, wdata, nw, nb);
  CHECK(!smelt_verify(g), "verify: %s", smelt_error_msg(cx));
  static const int64_t Ss[3] = {1, 5, 9};
  static const int32_t P0[3] = {0, 3, 7};
  smelt_tensor in[3][8], ref[3][NOUT];
  memset(in, 0, sizeof in);
  memset(ref, 0, sizeof ref);
  for (int s = 0; s < 3; s++) {
    int64_t S = Ss[s], dx[2] = {S, 37}, dr[2] = {S, 1}, dc[1] = {37}, dq[3] = {S, 4, 20}, dk[3] = {16, 2, 20}, dp[1] = {1}, da[2] = {S, 40};
    t_rand_tensor(&in[s][0], SMELT_DT_F32, 2, dx);
    t_rand_tensor(&in[s][1], SMELT_DT_F32, 2, dr);
    t_rand_tensor(&in[s][2], SMELT_DT_F32, 1, dc);
    t_rand_tensor(&in[s][3], SMELT_DT_F32, 3, dq);
    t_rand_tensor(&in[s][4], SMELT_DT_F32, 3, dk);
    t_rand_tensor(&in[s][5], SMELT_DT_F32, 3, dk);
    t_rand_tensor(&in[s][6], SMELT_DT_I32, 1, dp);
    t_rand_tensor(&in[s][7], SMELT_DT_F32, 2, da);
    ((int32_t *)in[s][6].data)[0] = P0[s];
    float *x = in[s][0].data, *qd = in[s][3].data;
    for (int64_t e = 0; e < S * 37; e++) x[e] *= 4; /* erf, tanh, exp over (-4, 4) */
    for (int64_t e = 0; e < S * 80; e++) qd[e] *= 6; /* peaked attention */
    int rc = smelt_eval(g, in[s], ref[s]);
    CHECK(!rc, "eval: %s", smelt_error_msg(cx));
    if (rc) goto out;
  }
  struct smelt_build_opts bo = {.target = target, .weights_min = 1 << 20, .threads = threads};
  char exe[4200], *src = NULL;
  int rc = t_build_exe(cx, g, work, name, &bo, exe, sizeof exe, &src);
  CHECK(!rc, "%s: build: %s", target, smelt_error_msg(cx));
  if (!rc) {
    static const char *want[] = {"smm_exp(", "smm_tanh(", "smm_erf(", "smm_sigmoid(", "smm_silu(", "smm_gelu(", "smm_gelu_tanh(",
                                 "smm_sel(smm_isnan(", "smm_sqrt(", "smm_rows_run(SMM_SOFTMAX", "smm_rows_run(SMM_LOG_SOFTMAX",
                                 "smm_rows_run(SMM_RMS_NORM", "smm_rows_run(SMM_LAYER_NORM", "smm_attention(", "{ int rc; if ((rc = ", "smm_bmm("};
    for (unsigned i = 0; i < sizeof want / sizeof *want; i++) CHECK(src && strstr(src, want[i]), "%s: the source does not call %s", target, want[i]);
    free(src);
    for (int s = 0; s < 3; s++) {
      smelt_tensor got[NOUT];
      char tag[96];
      snprintf(tag, sizeof tag, "%s_S%lld", name, (long long)Ss[s]);
      if (t_run_exe(work, exe, tag, in[s], 8, got, onames, nouts)) { CHECK(0, "%s: running the executable at S=%lld failed", target, (long long)Ss[s]); continue; }
      for (int o = 0; o < nouts; o++) {
        char what[128];
        snprintf(what, sizeof what, "%s: %s at S=%lld", target, onames[o], (long long)Ss[s]);
        t_compare(what, &got[o], &ref[s][o], out_tol, &o);
      }
    }
  }
out:
  for (int s = 0; s < 3; s++)
    for (int i = 0; i < 8; i++) smelt_tensor_free(&in[s][i]);
  for (int s = 0; s < 3; s++)
    for (int o = 0; o < nouts; o++) smelt_tensor_free(&ref[s][o]);
  smelt_ctx_free(cx);
  free(wdata);
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "simd_math_ops-work";
  t_mkdirs(work);
#if !defined(__x86_64__) && !defined(__aarch64__)
  SKIP("native has no kernel backend on this machine");
#endif
  one("native", 3);
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) one("x86-64-avx2", 1);
#endif
  return t_done("simd_math_ops");
}
