/* tests/unit/qmatmul.c — the C kernel of QMatMul (backends/c/k_quant.c, --target
 * generic) and the target kernels (runtime/smelt_simd_q.h, --target native with 3
 * threads, and x86-64-avx2) against the reference interpreter (ir/eval_quant.c), for int8, int4 and nf4
 * weights made by compiler/quantizers.c from random floats:
 *
 *   - widths K = 7 (odd: a half-used last byte, group 7), 48 (group 16) and 16400
 *     (past the 16384 of the kernel's row buffer: the fused per-group loop; group 16);
 *   - A [1, K] (decode), [2, 3, K] (a batch dim) and [S, K] with S symbolic, run at
 *     S = 1 and S = 7;
 *   - |compiled - interpreter| <= 1e-5 * sum_k |w'_jk a_rk| + 1e-30 (w' the decoded
 *     weight; the int8 kernel picks the interpreter's activation integers, so only the
 *     final float rounding differs).
 * With SMELT_CFLAGS set (make test-sanitize) the generated code runs under the sanitizers. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "compiler/quantizers.h"
#include "runtime/smelt_npy.h"

#include <math.h>

static const char *work;

static void one(const char *scheme, int64_t K, int64_t G, const char *target, int threads) {
  const int64_t N = 5;
  int i8 = !strcmp(scheme, "int8"), nf4 = !strcmp(scheme, "nf4");
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "qmm_%s_%lld_%s", scheme, (long long)K, target[0] == 'x' ? "avx2" : target);
  smelt_graph *g = smelt_graph_new(cx, name);
  int S = smelt_graph_add_sym(g, "S", 8);
  float *w = malloc(sizeof(float) * (size_t)(N * K)), *wd = malloc(sizeof(float) * (size_t)(N * K));
  for (int64_t i = 0; i < N * K; i++) w[i] = t_unif() * (i % 11 == 0 ? 3.0f : 1.0f);
  int64_t wb = i8 ? K : (K + 1) / 2, ns = i8 ? N : N * (K / G);
  void *q = smelt_alloc(cx, (size_t)(N * wb));
  float *sc = smelt_alloc(cx, sizeof(float) * (size_t)ns);
  if (i8) { smelt_quantize_int8(w, N, K, q, sc); smelt_dequantize_int8(q, sc, N, K, wd); }
  else { (nf4 ? smelt_quantize_nf4 : smelt_quantize_int4)(w, N, K, G, q, sc); smelt_dequantize_4bit(nf4, q, sc, N, K, G, wd); }
  smelt_shape ws = {2, {smelt_dim_c(N), smelt_dim_c(wb)}}, ss = {i8 ? 1 : 2, {smelt_dim_c(N), smelt_dim_c(K / G)}};
  int wv = smelt_graph_add_const(g, "w", i8 ? SMELT_DT_I8 : SMELT_DT_U8, &ws, q, (uint64_t)(N * wb));
  int sv = smelt_graph_add_const(g, "w.scale", SMELT_DT_F32, &ss, sc, sizeof(float) * (uint64_t)ns);
  smelt_shape s1 = {2, {smelt_dim_c(1), smelt_dim_c(K)}}, s2 = {3, {smelt_dim_c(2), smelt_dim_c(3), smelt_dim_c(K)}};
  smelt_shape s3 = {2, {{0, S}, smelt_dim_c(K)}};
  int a[3] = {smelt_graph_add_input(g, "a1", SMELT_DT_F32, &s1), smelt_graph_add_input(g, "a2", SMELT_DT_F32, &s2),
              smelt_graph_add_input(g, "a3", SMELT_DT_F32, &s3)};
  smelt_attr at[2] = {smelt_attr_str("scheme", scheme), smelt_attr_int("group", i8 ? 0 : G)};
  const char *onames[3] = {"y1", "y2", "y3"};
  int y[3];
  for (int k = 0; k < 3; k++) {
    int ins[3] = {a[k], wv, sv};
    y[k] = smelt_graph_add_node(g, SMELT_OP_QMATMUL, onames[k], ins, 3, at, 2, 1, NULL);
    CHECK(y[k] >= 0, "%s: QMatMul: %s", name, smelt_error_msg(cx));
    if (y[k] < 0) goto out;
    g->values[y[k]].name = onames[k];
    smelt_graph_add_output(g, y[k]);
  }
  CHECK(!smelt_verify(g), "%s: verify: %s", name, smelt_error_msg(cx));
  int64_t Ss[2] = {1, 7};
  smelt_tensor in[2][3], ref[2][3];
  for (int v = 0; v < 2; v++) {
    int64_t d1[2] = {1, K}, d2[3] = {2, 3, K}, d3[2] = {Ss[v], K};
    t_rand_tensor(&in[v][0], SMELT_DT_F32, 2, d1);
    t_rand_tensor(&in[v][1], SMELT_DT_F32, 3, d2);
    t_rand_tensor(&in[v][2], SMELT_DT_F32, 2, d3);
    int rc = smelt_eval(g, in[v], ref[v]);
    CHECK(!rc, "%s: eval: %s", name, smelt_error_msg(cx));
    if (rc) goto out;
  }
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_mkdirs(dir);
  struct smelt_build_opts bo = {.out_dir = dir, .target = target, .threads = threads, .emit = SMELT_EMIT_EXE};
  struct smelt_build_info info;
  int rc = smelt_build_graph(cx, g, &bo, &info);
  CHECK(!rc, "%s: build: %s", name, smelt_error_msg(cx));
  if (!rc && strcmp(target, "generic")) { /* the target kernels, where they apply (int4 / nf4: even K and group) */
    char src[4096];
    snprintf(src, sizeof src, "%s/%s.c", dir, name);
    char *text = t_read_file(src, NULL);
    const char *want = i8 ? "sms_qmatmul_i8(" : "sms_qmatmul_q4(";
    int expect = i8 || (K % 2 == 0 && G % 2 == 0 && K <= 16384);
    CHECK(text && (strstr(text, want) != NULL) == expect, "%s: generated source %s %s", name, expect ? "lacks" : "has", want);
    free(text);
  }
  if (!rc) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    for (int v = 0; v < 2; v++) {
      smelt_tensor got[3];
      char tag[64];
      snprintf(tag, sizeof tag, "S%lld", (long long)Ss[v]);
      if (t_run_exe(work, p, tag, in[v], 3, got, onames, 3)) { CHECK(0, "%s: running the executable failed", name); continue; }
      for (int o = 0; o < 3; o++) {
        int64_t ne = smelt_tensor_elems(&ref[v][o]);
        CHECK(smelt_tensor_elems(&got[o]) == ne, "%s: %s shape", name, onames[o]);
        const float *gp = got[o].data, *rp = ref[v][o].data, *ap = in[v][o].data;
        int bad = 0;
        for (int64_t e = 0; e < ne && smelt_tensor_elems(&got[o]) == ne; e++) {
          double m = 0;
          for (int64_t k = 0; k < K; k++) m += fabs((double)wd[(e % N) * K + k] * ap[(e / N) * K + k]);
          if (!(fabs((double)gp[e] - rp[e]) <= 1e-5 * m + 1e-30) && bad++ < 3)
            CHECK(0, "%s: %s[%lld] at S=%lld = %.9g, interpreter %.9g", name, onames[o], (long long)e, (long long)Ss[v], gp[e], rp[e]);
        }
        smelt_tensor_free(&got[o]);
      }
    }
  }
  for (int v = 0; v < 2; v++)
    for (int k = 0; k < 3; k++) { free(in[v][k].data); smelt_tensor_free(&ref[v][k]); }
out:
  free(w);
  free(wd);
  smelt_ctx_free(cx);
}

int main(void) {
  work = "qmatmul-work";
  t_mkdirs(work);
  static const char *schemes[] = {"int8", "int4", "nf4"};
  static const int64_t Ks[][2] = {{7, 7}, {48, 16}, {16400, 16}};
  for (int s = 0; s < 3; s++)
    for (int k = 0; k < 3; k++) {
      one(schemes[s], Ks[k][0], Ks[k][1], "generic", 1);
#if defined(__x86_64__) || defined(__aarch64__) /* runtime/smelt_simd_q.h's kernels, split between threads */
      one(schemes[s], Ks[k][0], Ks[k][1], "native", 3);
#endif
#if defined(__x86_64__) /* the 256-bit paths, when native is AVX-512 */
      __builtin_cpu_init();
      if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
        one(schemes[s], Ks[k][0], Ks[k][1], "x86-64-avx2", 1);
#endif
    }
  return t_done("qmatmul");
}
