#define _GNU_SOURCE
/* tests/unit/simd_conv.c — Conv, depthwise Conv, MaxPool and AveragePool through the
 * target kernel backends (backends/simd_conv.c: runtime/smelt_simd_conv.h), compiled into
 * executables and compared with the reference interpreter, for --target native with
 * --threads 3 and, on x86-64 with AVX2, x86-64-avx2 with one thread.
 *
 * Each conv case builds Y2 = Conv(X, W) (no bias) and Y1 = Relu(Conv(X, W, b) + Y2) (the
 * fuse pass makes it a Fused node anchored on the Conv: a non-depthwise one runs as one
 * smc_conv_epi call with the residual add and the Relu applied as tiles are stored, a
 * depthwise one through the anchor helper, which must be the target kernel too); each
 * pool case Y1 = MaxPool(X), Y2 = AveragePool(X).  Odd sizes, pads,
 * strides, dilations, groups and a batch of 2.  The source must call smc_conv / smc_dw
 * (a shape silently left to the generic kernels would prove nothing).
 *
 * Bound: both sides sum T terms in float, each within T·2^-24·Σ|terms| of the exact sum,
 * so |compiled − interpreter| <= 2·(T + 2)·2^-24·Σ|w·x| (averages: over the count);
 * MaxPool exactly. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"

#include <math.h>

static const char *work;

struct ccase {
  int pool; /* 0: conv, 1: pools */
  int64_t N, C, H, W, M, KH, KW, sh, sw, ph, pw, peh, pew, dh, dw, G;
  int incl; /* AveragePool count_include_pad */
};

static int count(const char *s, const char *w) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, w)) != NULL; p += strlen(w)) n++;
  return n;
}

struct tol_arg {
  const struct ccase *k;
  const smelt_tensor *in, *ref;
  const float *wd, *bd;
  int o; /* 0: Conv + Relu / MaxPool, 1: Conv / AveragePool */
};

/* f32 rounding of a sum of `terms` products, on the sum of their magnitudes (averages:
 * of the window's mean magnitude); max pooling is exact */
static double conv_tol(void *arg, int64_t e, double r) {
  (void)r;
  const struct tol_arg *t = arg;
  const struct ccase *k = t->k;
  const float *xv = t->in->data;
  int64_t Cg = k->C / k->G, OH = t->ref->dims[2], OW = t->ref->dims[3], M = t->ref->dims[1];
  int64_t ow = e % OW, oh = e / OW % OH, m = e / (OW * OH) % M, n = e / (OW * OH * M), gi = m / (k->M / k->G);
  double mag = !k->pool && t->o == 0 ? fabs(t->bd[m]) : 0, terms = 0, cnt = 0;
  for (int64_t ci = 0; ci < (k->pool ? 1 : Cg); ci++)
    for (int64_t kh = 0; kh < k->KH; kh++)
      for (int64_t kw = 0; kw < k->KW; kw++) {
        int64_t ih = oh * k->sh - k->ph + kh * k->dh, iw = ow * k->sw - k->pw + kw * k->dw, c = k->pool ? m : gi * Cg + ci;
        terms++;
        if (k->incl) cnt += ih >= -k->ph && ih < k->H + k->peh && iw >= -k->pw && iw < k->W + k->pew;
        if (ih < 0 || ih >= k->H || iw < 0 || iw >= k->W) continue;
        double v = fabs(xv[((n * k->C + c) * k->H + ih) * k->W + iw]);
        if (!k->incl) cnt++;
        mag += k->pool ? v : (t->o == 0 ? 2 : 1) * v * fabs(t->wd[((m * Cg + ci) * k->KH + kh) * k->KW + kw]); /* y1 adds y2 */
      }
  return k->pool && t->o == 0 ? 0 : 2.0 * (terms + 2) / 16777216.0 * (k->pool ? mag / (cnt ? cnt : 1) : mag) * 2 + 1e-30;
}

static void one(const struct ccase *k, int idx, const char *target, int threads) {
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "c%d_%s_%d", idx, target[0] == 'n' ? "native" : "avx2", threads);
  smelt_graph *g = smelt_graph_new(cx, name);
  smelt_shape xs = {4, {smelt_dim_c(k->N), smelt_dim_c(k->C), smelt_dim_c(k->H), smelt_dim_c(k->W)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int64_t Cg = k->C / k->G, nw = k->M * Cg * k->KH * k->KW;
  float *wd = malloc(sizeof(float) * (size_t)nw), bd[256];
  for (int64_t i = 0; i < nw; i++) wd[i] = t_unif();
  for (int i = 0; i < 256; i++) bd[i] = t_unif();
  int64_t st[2] = {k->sh, k->sw}, pd[4] = {k->ph, k->pw, k->peh, k->pew}, dl[2] = {k->dh, k->dw}, ks[2] = {k->KH, k->KW};
  smelt_attr at[6] = {smelt_attr_ints(cx, "strides", st, 2), smelt_attr_ints(cx, "pads", pd, 4), smelt_attr_ints(cx, "dilations", dl, 2)};
  const char *onames[2] = {"y1", "y2"};
  int y[2];
  if (!k->pool) {
    smelt_shape ws = {4, {smelt_dim_c(k->M), smelt_dim_c(Cg), smelt_dim_c(k->KH), smelt_dim_c(k->KW)}}, bs = {1, {smelt_dim_c(k->M)}};
    int w = smelt_graph_add_const_copy(g, "w", SMELT_DT_F32, &ws, wd, sizeof(float) * (uint64_t)nw);
    int b = smelt_graph_add_const_copy(g, "b", SMELT_DT_F32, &bs, bd, sizeof(float) * (uint64_t)k->M);
    at[3] = smelt_attr_int("group", k->G);
    int in3[3] = {x, w, b};
    int c1 = smelt_graph_add_node(g, SMELT_OP_CONV, "conv1", in3, 3, at, 4, 1, NULL);
    CHECK(c1 >= 0, "%s: Conv: %s", name, smelt_error_msg(cx));
    if (c1 < 0) goto out;
    y[1] = smelt_graph_add_node(g, SMELT_OP_CONV, "y2", in3, 2, at, 4, 1, NULL);
    int sum = y[1] < 0 ? -1 : smelt_graph_add_node(g, SMELT_OP_ADD, "sum", (int[]){c1, y[1]}, 2, NULL, 0, 1, NULL);
    y[0] = sum < 0 ? -1 : smelt_graph_add_node(g, SMELT_OP_RELU, "y1", &sum, 1, NULL, 0, 1, NULL);
  } else {
    at[3] = smelt_attr_ints(cx, "kernel", ks, 2);
    at[4] = smelt_attr_int("ceil_mode", 0);
    y[0] = smelt_graph_add_node(g, SMELT_OP_MAX_POOL, "y1", &x, 1, at, 5, 1, NULL);
    at[5] = smelt_attr_int("count_include_pad", k->incl);
    y[1] = smelt_graph_add_node(g, SMELT_OP_AVG_POOL, "y2", &x, 1, at, 6, 1, NULL);
  }
  for (int o = 0; o < 2; o++) {
    CHECK(y[o] >= 0, "%s: node %s: %s", name, onames[o], smelt_error_msg(cx));
    if (y[o] < 0) goto out;
    g->values[y[o]].name = onames[o];
    smelt_graph_add_output(g, y[o]);
  }
  CHECK(!smelt_verify(g), "%s: verify: %s", name, smelt_error_msg(cx));
  smelt_tensor in, ref[2];
  int64_t xd[4] = {k->N, k->C, k->H, k->W};
  char exe[4200], *src = NULL;
  int built;
  if (t_eval_build(cx, g, work, name, target, threads, xd, &in, ref, exe, sizeof exe, &src, &built)) goto out;
  if (built) {
    int dwise = !k->pool && k->G == k->C && k->M == k->C;
    /* y2, and the Fused node's anchor helper (unused beside smc_conv_epi) */
    int want_conv = k->pool || dwise ? 0 : 2, want_dw = k->pool || dwise ? 2 : 0, want_epi = k->pool || dwise ? 0 : 1;
    CHECK(src && count(src, "smc_conv(&op") == want_conv && count(src, "smc_dw(&op") == want_dw && count(src, "smc_conv_epi(&op") == want_epi,
          "%s: expected %d smc_conv, %d smc_conv_epi and %d smc_dw calls (the target kernels)", name, want_conv, want_epi, want_dw);
    if (!k->pool) CHECK(src && strstr(src, "prog=Conv"), "%s: Conv + Add + Relu was not fused (the anchor path is untested)", name);
    free(src);
    smelt_tensor got[2];
    if (t_run_exe(work, exe, name, &in, 1, got, onames, 2)) CHECK(0, "%s: running the executable failed", name);
    else
      for (int o = 0; o < 2; o++) {
        struct tol_arg ta = {k, &in, &ref[o], wd, bd, o};
        char what[128];
        snprintf(what, sizeof what, "%s %s: %s", name, target, onames[o]);
        t_compare(what, &got[o], &ref[o], conv_tol, &ta);
      }
  }
  smelt_tensor_free(&in);
  for (int o = 0; o < 2; o++) smelt_tensor_free(&ref[o]);
out:
  free(wd);
  smelt_ctx_free(cx);
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "simd_conv-work";
  t_mkdirs(work);
#if !defined(__x86_64__) && !defined(__aarch64__)
  SKIP("native has no kernel backend on this machine");
#endif
  static const struct ccase cases[] = {
      /* pool N C H W M KH KW sh sw ph pw peh pew dh dw G incl */
      {0, 1, 5, 7, 9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},      /* odd sizes */
      {0, 2, 16, 6, 6, 20, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0},     /* 1x1, batch 2 */
      {0, 1, 3, 11, 13, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},     /* stride 2 */
      {0, 1, 4, 10, 12, 6, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 0},     /* dilation 2 */
      {0, 1, 6, 9, 17, 9, 2, 3, 2, 3, 0, 1, 1, 2, 1, 1, 3, 0},      /* groups, uneven strides / pads */
      {0, 1, 32, 20, 20, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},   /* threads */
      {0, 2, 12, 17, 19, 12, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 12, 0},  /* depthwise */
      {1, 1, 8, 28, 28, 8, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 0},     /* 2x2 pools */
      {1, 2, 5, 13, 11, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 0},     /* 3x3 stride 2 pad 1 */
      {1, 1, 6, 9, 10, 6, 3, 2, 2, 1, 1, 0, 1, 1, 1, 1, 1, 1},      /* count_include_pad */
  };
  int nc = (int)(sizeof cases / sizeof *cases);
  for (int i = 0; i < nc; i++) {
    one(&cases[i], i, "native", 3);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) one(&cases[i], i, "x86-64-avx2", 1);
#endif
  }
  return t_done("simd_conv");
}
