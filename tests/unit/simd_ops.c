#define _GNU_SOURCE
/* tests/unit/simd_ops.c — MatMul by a weight through the target kernel backends
 * (backends/x86, backends/arm: runtime/smelt_simd.h), compiled into executables and
 * compared with the reference interpreter: weights f32, f16, q8_0, q4_0, q4_k and q6_k [N, K]
 * (trans_b) and f32 [K, N] (sms_gemm_nn), A [1, K] (decode) and [S, K] with S symbolic, run at S = 1, 6 and 9
 * (the 4-row micro-kernel and its tail), built for --target native with --threads 3
 * and, on x86-64 with AVX2, for x86-64-avx2 with one thread.  The f32 weights and the
 * larger f16 one are packed by the layout pass (kind SMS_PACKED: sms_gemm_packed of
 * runtime/smelt_simd_gemm.h, the [S, K] product's GEMM and the [1, K] one's GEMV over
 * the same panels); the same f32 graphs built with --skip-pass layout keep the
 * unpacked kernels (SMS_F32 dots, sms_gemm_nn).
 *
 * Bounds: |compiled - interpreter| <= 1e-5 * Σ_k |w_jk a_rk| for f32 / f16 weights;
 * q8_0 / q4_0 / q4_k / q6_k meet activations rounded to int8 per block of 32 (d = max|a| / 127), so
 * their bound adds Σ_k |w_jk| · d(k) / 2, the most that rounding can move the sum.
 * The kernels must really be the target ones: the source calls sms_matmul(SMS_<T>,
 * sms_gemm_nn or sms_gemm_packed. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

static const char *work;

struct tol_arg {
  smelt_dtype dt;
  const float *wd, *a; /* the weights [N, K] as f32, the activations [S, K] */
  int64_t N, K;
};

/* 1e-5 of Σ|w a| (f32 sums in another order), plus for the block types the rounding of
 * the activations to int8 per block of 32: half a step (amax / 127) times Σ|w| there */
static double dot_tol(void *arg, int64_t e, double ref) {
  (void)ref;
  const struct tol_arg *t = arg;
  int64_t r = e / t->N, j = e % t->N, K = t->K;
  const float *wd = t->wd, *a = t->a;
  double tol = 1e-30;
  for (int64_t k = 0; k < K; k++) tol += 1e-5 * fabs((double)wd[j * K + k] * a[r * K + k]);
  if (t->dt == SMELT_DT_Q8_0 || t->dt == SMELT_DT_Q4_0 || t->dt == SMELT_DT_Q4_K || t->dt == SMELT_DT_Q6_K)
    for (int64_t b = 0; b < K / 32; b++) {
      double amax = 0, sw = 0;
      for (int l = 0; l < 32; l++) {
        amax = fmax(amax, fabs((double)a[r * K + 32 * b + l]));
        sw += fabs((double)wd[j * K + 32 * b + l]);
      }
      tol += sw * amax / 127 * 0.5 * 1.0001;
    }
  return tol;
}

static void one(smelt_dtype dt, const char *kind, int nn, const char *target, int threads, int64_t K, int64_t N) {
  /* nn: B [K, N], not transposed */
  int packed = !strcmp(kind, "SMS_PACKED");
  const char *tn = smelt_dtype_name(dt);
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "s_%s%s%s_%lld_%s_%d", tn, nn ? "_nn" : "", packed ? "_p" : "", (long long)N, target[0] == 'n' ? "native" : "avx2", threads);
  smelt_graph *g = smelt_graph_new(cx, name);
  int S = smelt_graph_add_sym(g, "S", 9);
  size_t wbytes;
  unsigned char *wdata = t_make_weights(dt, N, K, &wbytes);
  smelt_shape ws = {2, {smelt_dim_c(nn ? K : N), smelt_dim_c(nn ? N : K)}};
  int w = smelt_graph_add_const(g, "w", dt, &ws, wdata, wbytes);
  smelt_shape s1 = {2, {smelt_dim_c(1), smelt_dim_c(K)}}, s3 = {2, {{0, S}, smelt_dim_c(K)}};
  int a1 = smelt_graph_add_input(g, "a1", SMELT_DT_F32, &s1), a3 = smelt_graph_add_input(g, "a3", SMELT_DT_F32, &s3);
  smelt_attr tb = smelt_attr_int("trans_b", !nn);
  const char *onames[2] = {"y1", "y3"};
  int ins[2][2] = {{a1, w}, {a3, w}}, y[2];
  for (int k = 0; k < 2; k++) {
    y[k] = smelt_graph_add_node(g, SMELT_OP_MATMUL, onames[k], ins[k], 2, &tb, 1, 1, NULL);
    CHECK(y[k] >= 0, "%s: MatMul: %s", tn, smelt_error_msg(cx));
    if (y[k] < 0) goto out;
    g->values[y[k]].name = onames[k];
    smelt_graph_add_output(g, y[k]);
  }
  CHECK(!smelt_verify(g), "%s: verify: %s", tn, smelt_error_msg(cx));
  float *wd = malloc(sizeof(float) * (size_t)(N * K));
  for (int64_t j = 0; j < N; j++) {
    if (nn) for (int64_t k = 0; k < K; k++) memcpy(wd + j * K + k, wdata + 4 * (k * N + j), 4);
    else if (dt == SMELT_DT_F32) memcpy(wd + j * K, wdata + 4 * j * K, 4 * (size_t)K);
    else smelt_dequantize_row(dt, wdata + (size_t)smelt_dtype_nbytes(dt, K) * j, wd + j * K, K);
  }
  int64_t Ss[3] = {1, 6, 9};
  smelt_tensor in[3][2], ref[3][2];
  for (int v = 0; v < 3; v++) {
    int64_t d1[2] = {1, K}, d3[2] = {Ss[v], K};
    t_rand_tensor(&in[v][0], SMELT_DT_F32, 2, d1);
    t_rand_tensor(&in[v][1], SMELT_DT_F32, 2, d3);
    float *a = in[v][1].data;
    for (int64_t e = 0; e < Ss[v] * K; e++) a[e] *= (float)(1 << (t_rnd() % 5)); /* blocks of different scales */
    int rc = smelt_eval(g, in[v], ref[v]);
    CHECK(!rc, "%s: eval: %s", tn, smelt_error_msg(cx));
    if (rc) { free(wd); goto out; }
  }
  struct smelt_build_opts bo = {.target = target, .weights_min = 1024, .threads = threads, .skip_passes = packed ? NULL : "layout"};
  char exe[4200], *src = NULL, want[64];
  int rc = t_build_exe(cx, g, work, name, &bo, exe, sizeof exe, &src);
  CHECK(!rc, "%s %s: build: %s", tn, target, smelt_error_msg(cx));
  if (!rc) {
    if (packed) snprintf(want, sizeof want, "sms_gemm_packed(");
    else if (nn) snprintf(want, sizeof want, "sms_gemm_nn(");
    else snprintf(want, sizeof want, "sms_matmul(%s,", kind);
    CHECK(src && strstr(src, want), "%s %s: the MatMul kernels do not call %s", tn, target, want);
    free(src);
    for (int v = 0; v < 3; v++) {
      smelt_tensor got[2];
      char tag[96];
      snprintf(tag, sizeof tag, "%s_S%lld", name, (long long)Ss[v]);
      if (t_run_exe(work, exe, tag, in[v], 2, got, onames, 2)) { CHECK(0, "%s %s: running the executable at S=%lld failed", tn, target, (long long)Ss[v]); continue; }
      for (int o = 0; o < 2; o++) {
        struct tol_arg ta = {dt, wd, in[v][o].data, N, K};
        char what[128];
        snprintf(what, sizeof what, "%s %s: %s at S=%lld", tn, target, onames[o], (long long)Ss[v]);
        t_compare(what, &got[o], &ref[v][o], dot_tol, &ta);
      }
    }
  }
  for (int v = 0; v < 3; v++)
    for (int i = 0; i < 2; i++) smelt_tensor_free(&in[v][i]), smelt_tensor_free(&ref[v][i]);
  free(wd);
out:
  smelt_ctx_free(cx);
  free(wdata);
}

/* A graph that already holds a packed weight (MatMul pack = 16, as the layout pass
 * writes for AVX2 / NEON) built for the generic C target (backends/c/k_nn.c's packed
 * loop) and for native: both against the interpreter and against the product with the
 * unpacked weight computed here. */
static void packed_graph(smelt_dtype dt, const char *target) {
  const int64_t K = 29, N = 37, P = 16, S = 5;
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "pk_%s_%s", smelt_dtype_name(dt), target);
  smelt_graph *g = smelt_graph_new(cx, name);
  int es = dt == SMELT_DT_F16 ? 2 : 4;
  unsigned char *wp = malloc((size_t)(K * N * es));
  float *wf = malloc(sizeof(float) * (size_t)(K * N)); /* the logical B [K, N] */
  for (int64_t k = 0; k < K; k++)
    for (int64_t j = 0; j < N; j++) {
      int64_t j0 = j - j % P, w = N - j0 < P ? N - j0 : P, at = j0 * K + k * w + (j - j0);
      float v = (float)((int)(t_rnd() % 2001) - 1000) / 512.0f;
      if (dt == SMELT_DT_F16) {
        uint16_t h = sm_f32_to_f16(v);
        memcpy(wp + 2 * at, &h, 2);
        v = sm_f16_to_f32(h);
      } else memcpy(wp + 4 * at, &v, 4);
      wf[k * N + j] = v;
    }
  smelt_shape ws = {2, {smelt_dim_c(K), smelt_dim_c(N)}}, as = {2, {smelt_dim_c(S), smelt_dim_c(K)}};
  int w = smelt_graph_add_const(g, "w", dt, &ws, wp, (uint64_t)(K * N * es)), a = smelt_graph_add_input(g, "a", SMELT_DT_F32, &as);
  smelt_attr at[1] = {smelt_attr_int("pack", P)};
  int y = smelt_graph_add_node(g, SMELT_OP_MATMUL, "y", (int[]){a, w}, 2, at, 1, 1, NULL);
  CHECK(y >= 0, "%s: packed MatMul: %s", name, smelt_error_msg(cx));
  if (y < 0) goto out;
  g->values[y].name = "y";
  smelt_graph_add_output(g, y);
  smelt_tensor in, ref, got;
  int64_t d[2] = {S, K};
  t_rand_tensor(&in, SMELT_DT_F32, 2, d);
  int rc = smelt_eval(g, &in, &ref);
  CHECK(!rc, "%s: eval: %s", name, smelt_error_msg(cx));
  if (!rc) {
    const float *av = in.data, *rv = ref.data;
    for (int64_t e = 0; e < S * N; e++) { /* the interpreter reads the panels right */
      double ex = 0;
      for (int64_t k = 0; k < K; k++) ex += (double)av[e / N * K + k] * wf[k * N + e % N];
      CHECK((float)ex == rv[e], "%s: interpreter y[%lld] = %.9g, want %.9g", name, (long long)e, rv[e], ex);
    }
    char dir[4096], exe[4096];
    snprintf(dir, sizeof dir, "%s/%s", work, name);
    t_mkdirs(dir);
    struct smelt_build_opts bo = {.out_dir = dir, .target = target, .emit = SMELT_EMIT_EXE};
    struct smelt_build_info info;
    rc = smelt_build_graph(cx, g, &bo, &info);
    CHECK(!rc, "%s: build: %s", name, smelt_error_msg(cx));
    snprintf(exe, sizeof exe, "%s/%s", dir, name);
    const char *on[1] = {"y"};
    if (!rc && !t_run_exe(work, exe, name, &in, 1, &got, on, 1)) {
      const float *gv = got.data;
      for (int64_t e = 0; e < S * N && smelt_tensor_elems(&got) == S * N; e++) {
        double tol = 1e-30;
        for (int64_t k = 0; k < K; k++) tol += 1e-5 * fabs((double)av[e / N * K + k] * wf[k * N + e % N]);
        CHECK(fabs((double)gv[e] - rv[e]) <= tol, "%s: y[%lld] = %.9g, interpreter %.9g", name, (long long)e, gv[e], rv[e]);
      }
      smelt_tensor_free(&got);
    } else CHECK(rc, "%s: running the executable failed", name);
    smelt_tensor_free(&ref);
  }
  smelt_tensor_free(&in);
out:
  smelt_ctx_free(cx);
  free(wp);
  free(wf);
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "simd_ops-work";
  t_mkdirs(work);
#if !defined(__x86_64__) && !defined(__aarch64__)
  SKIP("native has no kernel backend on this machine");
#endif
  static const struct { smelt_dtype dt; const char *kind; int nn; int64_t K, N; } cases[] = {
      {SMELT_DT_F32, "SMS_F32", 0, 203, 165}, {SMELT_DT_F32, "SMS_F32_NN", 1, 203, 165}, {SMELT_DT_F16, "SMS_F16", 0, 203, 41},
      {SMELT_DT_F32, "SMS_PACKED", 0, 203, 165}, {SMELT_DT_F32, "SMS_PACKED", 1, 203, 165}, {SMELT_DT_F16, "SMS_PACKED", 0, 203, 171},
      {SMELT_DT_Q8_0, "SMS_Q8_0", 0, 352, 41}, {SMELT_DT_Q4_0, "SMS_Q4_0", 0, 352, 41}, {SMELT_DT_Q4_K, "SMS_Q4_K", 0, 512, 41},
      {SMELT_DT_Q6_K, "SMS_Q6_K", 0, 512, 41}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    one(cases[i].dt, cases[i].kind, cases[i].nn, "native", 3, cases[i].K, cases[i].N);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
      one(cases[i].dt, cases[i].kind, cases[i].nn, "x86-64-avx2", 1, cases[i].K, cases[i].N);
#endif
  }
  packed_graph(SMELT_DT_F32, "generic");
  packed_graph(SMELT_DT_F16, "generic");
  packed_graph(SMELT_DT_F32, "native");
  packed_graph(SMELT_DT_F16, "native");
  return t_done("simd_ops");
}
