#define _GNU_SOURCE
/* tests/unit/quant_ops.c — MatMul and Gather on weights that stay quantized: for every
 * weight dtype (ggml's eight block types, f16 and bf16) a graph built in C with random
 * weights is compiled by the C backend into an executable and run, and its outputs
 * are compared with the reference interpreter's:
 *
 *   - MatMul(A f32, W [N, K], trans_b=1) with A [1, K] (decode), [2, 3, K] (prefill
 *     with a batch dim) and [S, K] with S symbolic, run at S = 1 and S = 7:
 *     |compiled - interpreter| <= 1e-5 * sum_k |w_jk a_rk| (float lane sums against
 *     double sums of the same dequantized weights);
 *   - Gather(W, indices) (with a negative index): bit-exact f32 rows, and for f16 / bf16
 *     tables f32 columns too (axis 1);
 *   - the kernels call the runtime's row dots, never dequantize_row, for MatMul;
 *   - two larger weights span several of the kernel's weight tiles (the last partial).
 *
 * Half the types put their weights in NAME_weights.o (LLVM), half in C arrays.  With
 * SMELT_CFLAGS set (make test-sanitize) the generated code runs under the sanitizers. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

static const char *work;

/* sum_k |w_jk a_rk| for output (r, j) of A [R, K] times W [N, K] */
static double mag(const float *wd, const float *a, int64_t r, int64_t j, int64_t K) {
  double s = 0;
  for (int64_t k = 0; k < K; k++) s += fabs((double)wd[j * K + k] * a[r * K + k]);
  return s;
}

static void one_type(smelt_dtype dt, int ti, int64_t K, int64_t N) {
  const char *tn = smelt_dtype_name(dt);
  int isblock = smelt_dtype_is_block(dt);
  smelt_ctx *cx = smelt_ctx_new();
  char name[48];
  snprintf(name, sizeof name, "q_%s_%lldx%lld", tn, (long long)N, (long long)K);
  smelt_graph *g = smelt_graph_new(cx, name);
  int S = smelt_graph_add_sym(g, "S", 8);
  size_t wbytes;
  unsigned char *wdata = t_make_weights(dt, N, K, &wbytes);
  smelt_shape ws = {2, {smelt_dim_c(N), smelt_dim_c(K)}};
  int w = smelt_graph_add_const(g, "w", dt, &ws, wdata, wbytes);
  smelt_shape s1 = {2, {smelt_dim_c(1), smelt_dim_c(K)}}, s2 = {3, {smelt_dim_c(2), smelt_dim_c(3), smelt_dim_c(K)}};
  smelt_shape s3 = {2, {{0, S}, smelt_dim_c(K)}}, si = {1, {smelt_dim_c(5)}};
  int a1 = smelt_graph_add_input(g, "a1", SMELT_DT_F32, &s1), a2 = smelt_graph_add_input(g, "a2", SMELT_DT_F32, &s2);
  int a3 = smelt_graph_add_input(g, "a3", SMELT_DT_F32, &s3), ix = smelt_graph_add_input(g, "ix", SMELT_DT_I32, &si);
  smelt_attr tb = smelt_attr_int("trans_b", 1);
  int y[5], ny = 0;
  const char *onames[5] = {"y1", "y2", "y3", "rows", "cols"};
  int ins[3][2] = {{a1, w}, {a2, w}, {a3, w}};
  for (int k = 0; k < 3; k++) {
    y[ny] = smelt_graph_add_node(g, SMELT_OP_MATMUL, onames[k], ins[k], 2, &tb, 1, 1, NULL);
    CHECK(y[ny] >= 0, "%s: MatMul %d: %s", tn, k, smelt_error_msg(cx));
    if (y[ny] < 0) goto out;
    g->values[y[ny]].name = onames[k];
    ny++;
  }
  for (int axis = 0; axis < (isblock ? 1 : 2); axis++) { /* rows; and columns of an f16 / bf16 table */
    int gi[2] = {w, ix};
    smelt_attr ax = smelt_attr_int("axis", axis);
    y[ny] = smelt_graph_add_node(g, SMELT_OP_GATHER, onames[3 + axis], gi, 2, &ax, 1, 1, NULL);
    CHECK(y[ny] >= 0, "%s: Gather: %s", tn, smelt_error_msg(cx));
    if (y[ny] < 0) goto out;
    g->values[y[ny]].name = onames[3 + axis];
    CHECK(g->values[y[ny]].dt == SMELT_DT_F32, "%s: Gather gives %s", tn, smelt_dtype_name(g->values[y[ny]].dt));
    ny++;
  }
  for (int k = 0; k < ny; k++) {
    smelt_graph_add_output(g, y[k]);
    CHECK(g->values[y[k]].dt == SMELT_DT_F32, "%s: output %d is %s", tn, k, smelt_dtype_name(g->values[y[k]].dt));
  }
  CHECK(!smelt_verify(g), "%s: verify: %s", tn, smelt_error_msg(cx));

  /* the dequantized weights, for the error bounds */
  float *wd = malloc(sizeof(float) * (size_t)(N * K));
  for (int64_t j = 0; j < N; j++) smelt_dequantize_row(dt, wdata + (size_t)smelt_dtype_nbytes(dt, K) * j, wd + j * K, K);

  /* reference interpreter at S = 1 and S = 7 (before the pipeline rewrites the graph) */
  int64_t Ss[2] = {1, 7};
  smelt_tensor in[2][4], ref[2][5];
  for (int v = 0; v < 2; v++) {
    int64_t d1[2] = {1, K}, d2[3] = {2, 3, K}, d3[2] = {Ss[v], K}, di[1] = {5};
    t_rand_tensor(&in[v][0], SMELT_DT_F32, 2, d1);
    t_rand_tensor(&in[v][1], SMELT_DT_F32, 3, d2);
    t_rand_tensor(&in[v][2], SMELT_DT_F32, 2, d3);
    t_rand_tensor(&in[v][3], SMELT_DT_I32, 1, di);
    int32_t *p = in[v][3].data;
    p[0] = 0; p[1] = (int32_t)N - 1; p[2] = -1; p[3] = (int32_t)(t_rnd() % N); p[4] = 17;
    int rc = smelt_eval(g, in[v], ref[v]);
    CHECK(!rc, "%s: eval: %s", tn, smelt_error_msg(cx));
    if (rc) { free(wd); goto out; }
  }

  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_mkdirs(dir);
  struct smelt_build_opts bo = {.out_dir = dir, .target = "generic", .emit = SMELT_EMIT_EXE, .weights_min = ti % 2 ? 0 : 1024};
  struct smelt_build_info info;
  int rc = smelt_build_graph(cx, g, &bo, &info);
  CHECK(!rc, "%s: build: %s", tn, smelt_error_msg(cx));
  if (!rc) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.c", dir, name);
    char *src = t_read_file(p, NULL), want[64];
    snprintf(want, sizeof want, "smq_dot_%s(", tn);
    CHECK(src && strstr(src, want), "%s: the MatMul kernels do not call %s", tn, want);
    /* dequantize_row: in Gather's kernels, and in MatMul's only into its one-row buffer
     * `wr` (prefill unpacks a weight row at a time; nothing expands the weights) */
    snprintf(want, sizeof want, "smq_dequantize_row_%s(", tn);
    int calls = 0, in_gather = 0, row_buf = 0;
    for (const char *q = src; q && (q = strstr(q, want)); q++) {
      calls++;
      const char *k = q, *e = strchr(q, ';');
      while (k > src && strncmp(k, "\n/* ", 4)) k--;
      if (!strncmp(k, "\n/* Gather ", 11)) in_gather++;
      else if (!strncmp(k, "\n/* MatMul ", 11) && e && memmem(q, (size_t)(e - q), ", wr,", 5)) row_buf++;
    }
    CHECK(in_gather == (isblock ? 1 : 2) && in_gather + row_buf == calls, "%s: dequantize_row called %d times, %d in Gather kernels, %d into MatMul's row buffer", tn, calls, in_gather, row_buf);
    free(src);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    for (int v = 0; v < 2; v++) {
      smelt_tensor got[5];
      char tag[64];
      snprintf(tag, sizeof tag, "%s_S%lld", name, (long long)Ss[v]);
      if (t_run_exe(work, p, tag, in[v], 4, got, onames, ny)) { CHECK(0, "%s: running the executable at S=%lld failed", tn, (long long)Ss[v]); continue; }
      for (int o = 0; o < ny; o++) {
        int64_t ne = smelt_tensor_elems(&ref[v][o]);
        CHECK(got[o].rank == ref[v][o].rank && smelt_tensor_elems(&got[o]) == ne, "%s: output %s shape", tn, onames[o]);
        if (smelt_tensor_elems(&got[o]) != ne) { smelt_tensor_free(&got[o]); continue; }
        const float *gp = got[o].data, *rp = ref[v][o].data;
        int bad = 0;
        for (int64_t e = 0; e < ne && bad < 3; e++) {
          if (o >= 3) { /* gathered rows / columns: bit-exact */
            if (memcmp(&gp[e], &rp[e], 4)) { bad++; CHECK(0, "%s: rows[%lld] = %.9g, interpreter %.9g", tn, (long long)e, gp[e], rp[e]); }
            continue;
          }
          const float *a = in[v][o].data;
          double tol = 1e-5 * mag(wd, a, e / N, e % N, K) + 1e-30;
          if (!(fabs((double)gp[e] - rp[e]) <= tol)) {
            bad++;
            CHECK(0, "%s: %s[%lld] = %.9g, interpreter %.9g (tolerance %.3g)", tn, onames[o], (long long)e, gp[e], rp[e], tol);
          }
        }
        CHECK(!bad, "%s: %s at S=%lld differs", tn, onames[o], (long long)Ss[v]);
        smelt_tensor_free(&got[o]);
      }
    }
  }
  for (int v = 0; v < 2; v++) {
    for (int i = 0; i < 4; i++) smelt_tensor_free(&in[v][i]);
    for (int o = 0; o < ny; o++) smelt_tensor_free(&ref[v][o]);
  }
  free(wd);
out:
  smelt_ctx_free(cx);
  free(wdata);
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "quant_ops-work";
  t_mkdirs(work);
  /* every weight dtype of ir/dtypes.def: the block types, f16 and bf16 */
  for (int d = 0, i = 0; d < SMELT_DT_COUNT; d++) {
    if (!smelt_dtype_is_weight_for(SMELT_DT_F32, (smelt_dtype)d)) continue;
    int blk = smelt_dtype_blk((smelt_dtype)d);
    one_type((smelt_dtype)d, i++, blk == 256 ? 512 : blk == 32 ? 160 : 100, 37);
  }
  /* weights past the kernel's 128 KiB tile: several tiles, the last one partial */
  one_type(SMELT_DT_Q4_0, 0, 4096, 130);
  one_type(SMELT_DT_Q6_K, 1, 2048, 300);
  return t_done("quant_ops");
}
