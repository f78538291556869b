/* tests/unit/fuse_exec.c — fused kernels compiled and run against the interpreter.
 *
 * Graphs built in C, each shaped so the fuse pass rewrites it, are evaluated by the
 * reference interpreter before any pass, then built by smelt_build_graph (fold, cse,
 * dce, fuse, memplan: in-place planning too) into an executable for the generic
 * target, run on the same inputs, and compared: |compiled - interpreter| <= 1e-5 of
 * the output's largest magnitude (float kernels against double sums; BatchNorm
 * folding rounds the new weights once).  Each build must contain Fused kernels and
 * fewer kernels than the graph has nodes.  Cases:
 *   - an elementwise chain with broadcast operands, an input read twice, a symbolic
 *     batch dim run at two sizes;
 *   - an MLP: MatMul + bias + Relu, MatMul + residual Add;
 *   - Conv + per-channel Mul and Add (BatchNorm) + LeakyRelu;
 *   - a SwiGLU block on q8_0 weights: Silu(x·Wg) · (x·Wu), then ·Wd + x.
 * With SMELT_CFLAGS set (make test-sanitize) the generated code runs under the sanitizers. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

static const char *work;

static float *rand_floats(smelt_ctx *cx, int64_t n) {
  float *p = smelt_alloc(cx, sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = t_unif();
  return p;
}

static int cf(smelt_graph *g, const char *name, int rank, const int64_t *dims) {
  smelt_shape s = {.rank = rank};
  int64_t n = 1;
  for (int i = 0; i < rank; i++) { s.d[i] = smelt_dim_c(dims[i]); n *= dims[i]; }
  return smelt_graph_add_const(g, name, SMELT_DT_F32, &s, rand_floats(g->cx, n), sizeof(float) * (size_t)n);
}

/* q8_0 rows [N, K]: random int8 quants, an f16 scale in [2^-8, 2^-5) per 32 */
static int cq8(smelt_graph *g, const char *name, int64_t N, int64_t K) {
  size_t n = (size_t)smelt_dtype_nbytes(SMELT_DT_Q8_0, N * K);
  unsigned char *w = smelt_alloc(g->cx, n);
  for (size_t i = 0; i < n; i++) w[i] = (unsigned char)t_rnd();
  for (size_t b = 0; b < n / 34; b++) {
    uint16_t h = (uint16_t)((t_rnd() & 0x83ff) | (7 + t_rnd() % 3) << 10);
    memcpy(w + b * 34, &h, 2);
  }
  smelt_shape s = {2, {smelt_dim_c(N), smelt_dim_c(K)}};
  return smelt_graph_add_const(g, name, SMELT_DT_Q8_0, &s, w, n);
}

static int node(smelt_graph *g, smelt_op op, const char *name, int a, int b, const smelt_attr *at, int na) {
  int in[2] = {a, b};
  int v = smelt_graph_add_node(g, op, name, in, b < 0 ? 1 : 2, at, na, 1, NULL);
  CHECK(v >= 0, "%s: %s", name, smelt_error_msg(g->cx));
  return v;
}

/* Evaluates g (output "y") at each input size, builds it, runs it, compares. */
static void check_case(smelt_graph *g, int nsizes, const int64_t (*dims)[4][SMELT_MAX_RANK]) {
  smelt_ctx *cx = g->cx;
  const char *name = g->name;
  int nin = g->ninputs, nnodes = g->nnodes;
  CHECK(!smelt_verify(g), "%s: verify: %s", name, smelt_error_msg(cx));
  smelt_tensor in[4][4], ref[4];
  for (int s = 0; s < nsizes; s++) {
    for (int i = 0; i < nin; i++) {
      in[s][i].dt = SMELT_DT_F32;
      in[s][i].rank = g->values[g->inputs[i]].shape.rank;
      memcpy(in[s][i].dims, dims[s][i], sizeof(int64_t) * SMELT_MAX_RANK);
      int64_t n = smelt_tensor_elems(&in[s][i]);
      in[s][i].data = malloc(sizeof(float) * (size_t)n);
      for (int64_t e = 0; e < n; e++) ((float *)in[s][i].data)[e] = 2 * t_unif();
    }
    int rc = smelt_eval(g, in[s], &ref[s]);
    CHECK(!rc, "%s: eval: %s", name, smelt_error_msg(cx));
    if (rc) return;
  }
  char dir[4096], p[4096];
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_mkdirs(dir);
  struct smelt_build_opts bo = {.out_dir = dir, .target = "generic", .emit = SMELT_EMIT_EXE, .verify_each = 1};
  struct smelt_build_info info;
  int rc = smelt_build_graph(cx, g, &bo, &info);
  CHECK(!rc, "%s: build: %s", name, smelt_error_msg(cx));
  if (rc) return;
  snprintf(p, sizeof p, "%s/%s.c", dir, name);
  char *src = t_read_file(p, NULL);
  CHECK(src && strstr(src, "/* Fused '"), "%s: no fused kernel", name);
  CHECK(info.nkernels < nnodes, "%s: %d kernels for %d nodes", name, info.nkernels, nnodes);
  free(src);
  snprintf(p, sizeof p, "%s/%s", dir, name);
  for (int s = 0; s < nsizes; s++) {
    char tag[64];
    snprintf(tag, sizeof tag, "%s_%d", name, s);
    smelt_tensor got;
    if (t_run_exe(work, p, tag, in[s], nin, &got, (const char *const[]){"y"}, 1)) { CHECK(0, "%s: running the executable failed", name); continue; }
    int64_t n = smelt_tensor_elems(&ref[s]);
    CHECK(smelt_tensor_elems(&got) == n, "%s: output size %lld, interpreter %lld", name, (long long)smelt_tensor_elems(&got), (long long)n);
    if (smelt_tensor_elems(&got) == n) {
      double mx = 0;
      for (int64_t e = 0; e < n; e++) mx = fmax(mx, fabs(smelt_tensor_getf(&ref[s], e)));
      int bad = 0;
      for (int64_t e = 0; e < n && bad < 3; e++) {
        double a = ((float *)got.data)[e], b = smelt_tensor_getf(&ref[s], e);
        if (!(fabs(a - b) <= 1e-5 * (mx > 0 ? mx : 1))) { bad++; CHECK(0, "%s: y[%lld] = %.9g, interpreter %.9g", name, (long long)e, a, b); }
      }
    }
    smelt_tensor_free(&got);
    smelt_tensor_free(&ref[s]);
    for (int i = 0; i < nin; i++) smelt_tensor_free(&in[s][i]);
  }
}

static void case_chain(void) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "chain");
  int N = smelt_graph_add_sym(g, "N", 8);
  smelt_shape xs = {2, {{0, N}, smelt_dim_c(5)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int s = cf(g, "s", 1, (int64_t[]){5}), b = cf(g, "b", 2, (int64_t[]){1, 5});
  int t = node(g, SMELT_OP_MUL, "scale", x, s, NULL, 0);
  t = node(g, SMELT_OP_ADD, "shift", t, b, NULL, 0);
  t = node(g, SMELT_OP_SIGMOID, "sig", t, -1, NULL, 0);
  t = node(g, SMELT_OP_MUL, "gate", t, x, NULL, 0);
  smelt_attr al = smelt_attr_float("alpha", 0.2);
  t = node(g, SMELT_OP_LEAKY_RELU, "lrelu", t, -1, &al, 1);
  t = node(g, SMELT_OP_TANH, "y", t, -1, NULL, 0);
  smelt_graph_add_output(g, t);
  static const int64_t dims[2][4][SMELT_MAX_RANK] = {{{3, 5}}, {{8, 5}}};
  check_case(g, 2, dims);
  smelt_ctx_free(cx);
}

static void case_mlp(void) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "mlp");
  smelt_shape xs = {2, {smelt_dim_c(4), smelt_dim_c(6)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int w1 = cf(g, "w1", 2, (int64_t[]){6, 9}), b1 = cf(g, "b1", 1, (int64_t[]){9}), w2 = cf(g, "w2", 2, (int64_t[]){9, 6});
  int t = node(g, SMELT_OP_MATMUL, "fc1", x, w1, NULL, 0);
  t = node(g, SMELT_OP_ADD, "fc1_bias", t, b1, NULL, 0);
  t = node(g, SMELT_OP_RELU, "relu", t, -1, NULL, 0);
  t = node(g, SMELT_OP_MATMUL, "fc2", t, w2, NULL, 0);
  t = node(g, SMELT_OP_ADD, "y", x, t, NULL, 0);
  smelt_graph_add_output(g, t);
  static const int64_t dims[1][4][SMELT_MAX_RANK] = {{{4, 6}}};
  check_case(g, 1, dims);
  smelt_ctx_free(cx);
}

static void case_conv_bn(void) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "conv_bn");
  smelt_shape xs = {4, {smelt_dim_c(1), smelt_dim_c(2), smelt_dim_c(6), smelt_dim_c(6)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int w = cf(g, "w", 4, (int64_t[]){3, 2, 3, 3}), sc = cf(g, "sc", 4, (int64_t[]){1, 3, 1, 1}), sh = cf(g, "sh", 3, (int64_t[]){3, 1, 1});
  int64_t one[2] = {1, 1}, pads[4] = {1, 1, 1, 1};
  smelt_attr ca[3] = {smelt_attr_ints(cx, "strides", one, 2), smelt_attr_ints(cx, "pads", pads, 4), smelt_attr_ints(cx, "dilations", one, 2)};
  int t = node(g, SMELT_OP_CONV, "conv", x, w, ca, 3);
  t = node(g, SMELT_OP_MUL, "bn_scale", t, sc, NULL, 0);
  t = node(g, SMELT_OP_ADD, "bn_shift", t, sh, NULL, 0);
  smelt_attr al = smelt_attr_float("alpha", 0.1);
  t = node(g, SMELT_OP_LEAKY_RELU, "y", t, -1, &al, 1);
  smelt_graph_add_output(g, t);
  static const int64_t dims[1][4][SMELT_MAX_RANK] = {{{1, 2, 6, 6}}};
  check_case(g, 1, dims);
  smelt_ctx_free(cx);
}

static void case_swiglu_q8(void) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "swiglu_q8");
  smelt_shape xs = {2, {smelt_dim_c(3), smelt_dim_c(64)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int wg = cq8(g, "wg", 32, 64), wu = cq8(g, "wu", 32, 64), wd = cq8(g, "wd", 64, 32);
  smelt_attr tb = smelt_attr_int("trans_b", 1);
  int gate = node(g, SMELT_OP_MATMUL, "ffn_gate", x, wg, &tb, 1);
  int up = node(g, SMELT_OP_MATMUL, "ffn_up", x, wu, &tb, 1);
  int h = node(g, SMELT_OP_MUL, "ffn_glu", node(g, SMELT_OP_SILU, "ffn_act", gate, -1, NULL, 0), up, NULL, 0);
  int d = node(g, SMELT_OP_MATMUL, "ffn_down", h, wd, &tb, 1);
  int y = node(g, SMELT_OP_ADD, "y", x, d, NULL, 0);
  smelt_graph_add_output(g, y);
  static const int64_t dims[1][4][SMELT_MAX_RANK] = {{{3, 64}}};
  check_case(g, 1, dims);
  smelt_ctx_free(cx);
}

int main(int argc, char **argv) {
  t_rs = 0x243F6A8885A308D3ull; /* this test's own seed */
  work = argc > 1 ? argv[1] : "fuse_exec-work";
  t_mkdirs(work);
  case_chain();
  case_mlp();
  case_conv_bn();
  case_swiglu_q8();
  return t_done("fuse_exec");
}
