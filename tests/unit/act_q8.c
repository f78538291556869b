/* tests/unit/act_q8.c — the interpreter's SMELT_EVAL_ACT_Q8 mode against the native
 * target's block kernels (runtime/smelt_simd.h), which round activations to int8 per
 * block of 32 (d = max|x| / 127, round to nearest even).
 *
 * For q8_0, q4_0 and q4_k weights (N = 40, K = 512) a graph y = Relu(x · Wᵀ) (fused:
 * the MatMul is the Fused node's anchor) plus a plain y2 = x · Wᵀ is built for
 * `--target native` and run on x [5, K] (four rows take the 4-row kernel, one the
 * 1-row kernel); then
 *   - |compiled - interpreter in ACT_Q8 mode| <= 1e-5 * Σ_k |w_jk x_rk| + 1e-30 (only
 *     float summation order differs: the integers are the same);
 *   - the plain interpreter (f32 activations) is further off than that for at least
 *     one output, i.e. the mode matters and this test can tell them apart.
 * SKIPPED when the native target has no block kernels (neither x86-64 nor aarch64).
 * With SMELT_CFLAGS set (make test-sanitize) the generated code runs under the sanitizers. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"

#include <math.h>

static const char *work = "act-q8-work";

static void one(smelt_dtype dt) {
  const int64_t N = 40, K = 512, R = 5;
  smelt_ctx *cx = smelt_ctx_new();
  char name[32];
  snprintf(name, sizeof name, "aq_%s", smelt_dtype_name(dt));
  smelt_graph *g = smelt_graph_new(cx, name);
  size_t nb;
  unsigned char *w = t_make_weights(dt, N, K, &nb);
  smelt_shape ws = {2, {smelt_dim_c(N), smelt_dim_c(K)}}, xs = {2, {smelt_dim_c(R), smelt_dim_c(K)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs), wv = smelt_graph_add_const(g, "w", dt, &ws, w, nb);
  smelt_attr tb = smelt_attr_int("trans_b", 1);
  int h = smelt_graph_add_node(g, SMELT_OP_MATMUL, "mm", (int[]){x, wv}, 2, &tb, 1, 1, NULL);
  int y = h >= 0 ? smelt_graph_add_node(g, SMELT_OP_RELU, "relu", &h, 1, NULL, 0, 1, NULL) : -1;
  int y2 = smelt_graph_add_node(g, SMELT_OP_MATMUL, "mm2", (int[]){x, wv}, 2, &tb, 1, 1, NULL);
  CHECK(y >= 0 && y2 >= 0, "%s: graph: %s", name, smelt_error_msg(cx));
  if (y < 0 || y2 < 0) goto out;
  g->values[y].name = "y";
  g->values[y2].name = "y2";
  smelt_graph_add_output(g, y);
  smelt_graph_add_output(g, y2);
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_mkdirs(dir);
  struct smelt_build_opts bo = {.out_dir = dir, .target = "native", .emit = SMELT_EMIT_EXE};
  struct smelt_build_info info;
  if (smelt_build_graph(cx, g, &bo, &info)) { CHECK(0, "%s: build: %s", name, smelt_error_msg(cx)); goto out; }
  int fused = 0;
  for (int i = 0; i < g->nnodes; i++) fused += g->nodes[i].op == SMELT_OP_FUSED;
  CHECK(fused == 1, "%s: expected the MatMul + Relu fused (%d Fused nodes)", name, fused);
  smelt_tensor in;
  int64_t xd[2] = {R, K};
  t_rand_tensor(&in, SMELT_DT_F32, 2, xd);
  smelt_tensor aq[2], plain[2], got[2];
  g->eval_flags = SMELT_EVAL_ACT_Q8;
  int rc = smelt_eval(g, &in, aq);
  g->eval_flags = 0;
  rc = rc || smelt_eval(g, &in, plain);
  CHECK(!rc, "%s: eval: %s", name, smelt_error_msg(cx));
  char exe[4200];
  snprintf(exe, sizeof exe, "%s/%s", dir, name);
  const char *on[2] = {"y", "y2"};
  if (!rc && !t_run_exe(work, exe, name, &in, 1, got, on, 2)) {
    /* Σ_k |w_jk x_rk| with the weight decoded */
    float *wr = malloc(sizeof(float) * (size_t)K);
    double *m = calloc((size_t)(R * N), sizeof(double));
    for (int64_t j = 0; j < N; j++) {
      smelt_dequantize_row(dt, w + j * (nb / (size_t)N), wr, K);
      for (int64_t r = 0; r < R; r++)
        for (int64_t k = 0; k < K; k++) m[r * N + j] += fabs((double)wr[k] * ((float *)in.data)[r * K + k]);
    }
    int bad = 0, apart = 0;
    double worst = 0;
    for (int o = 0; o < 2; o++)
      for (int64_t e = 0; e < R * N; e++) {
        double gv = ((float *)got[o].data)[e], av = ((float *)aq[o].data)[e], pv = ((float *)plain[o].data)[e], tol = 1e-5 * m[e] + 1e-30;
        if (fabs(gv - av) / (m[e] + 1e-30) > worst) worst = fabs(gv - av) / (m[e] + 1e-30);
        if (!(fabs(gv - av) <= tol) && bad++ < 3) CHECK(0, "%s: %s[%lld] = %.9g, interpreter (act-q8) %.9g", name, on[o], (long long)e, gv, av);
        apart += fabs(gv - pv) > tol;
      }
    CHECK(apart > 0, "%s: the plain interpreter is as close as the act-q8 mode: the test cannot tell them apart", name);
    printf("  %-5s |compiled - act-q8 interpreter| / Σ|w x| <= %.2g; %d of %lld outputs farther from the f32-activation interpreter\n",
           smelt_dtype_name(dt), worst, apart, (long long)(2 * R * N));
    free(wr);
    free(m);
    for (int o = 0; o < 2; o++) smelt_tensor_free(&got[o]);
  } else if (!rc) CHECK(0, "%s: running the executable failed", name);
  for (int o = 0; o < 2 && !rc; o++) { smelt_tensor_free(&aq[o]); smelt_tensor_free(&plain[o]); }
  free(in.data);
out:
  free(w);
  smelt_ctx_free(cx);
}

int main(void) {
#if !defined(__x86_64__) && !defined(__aarch64__)
  SKIP("the native target has no block kernels on this machine");
#endif
  t_mkdirs(work);
  one(SMELT_DT_Q8_0);
  one(SMELT_DT_Q4_0);
  one(SMELT_DT_Q4_K);
  return t_done("act_q8");
}
