#define _GNU_SOURCE
/* tests/unit/simd_wino.c — Winograd convolution end to end (passes/wino.c, ir/wino.c,
 * backends/c/k_wino.c, backends/simd_conv.c -> runtime/smelt_simd_wino.h), compiled into
 * executables and compared with the reference interpreter.
 *
 * 1. The pass: Y2 = Conv(X, W2, b2) and Y1 = Relu(Conv(X, W1, b1) + Y2), 3x3 stride 1,
 *    built for --target native (3 threads) and x86-64-avx2 (1 thread, when the CPU has
 *    it): the source must call smc_wino_epi with F(4x4) (y2, and y1 with the fused
 *    residual and Relu) and no direct kernel, and match the interpreter of the graph as
 *    written (direct convolution in double).
 * 2. IR in Winograd form written by hand (wino = 2 and 4, U from smelt_wino_weights): the
 *    generic C target (backends/c/k_wino.c) and native run it, against the interpreter's
 *    Winograd form (ir/wino.c).
 *
 * Bound (NOTES "Winograd convolution (h-wino)", as tests/simd/check_simd.c): with S the
 * exact Winograd expansion in absolute values, Σ_c Σ_e |Aᵀ ⊗ A|[o, e]·|U_c[e]|·(|Bᵀ||d_c||B|)[e],
 * |y − exact| <= (C + 14)·2^-24·(S + |bias|) to first order (<= 6 roundings in the input
 * transform, 1 in U, C in the channel sums, 6 in the output transform, 1 for the bias);
 * twice that is allowed, Y1 adds Y2's bound (its residual) and 2^-24·|Y1| (the add). */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "ir/wino.h"

#include <math.h>

static const char *work;

struct wcase { int64_t N, C, H, W, M, ph, pw, peh, pew; };

static int count(const char *s, const char *w) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, w)) != NULL; p += strlen(w)) n++;
  return n;
}

/* (|Bᵀ| |d_c| |B|)[e] of every input tile of x: [N][TH][TW][C][A·A] (malloc'ed) */
static double *tile_mags(const struct wcase *k, int m, const float *x, int64_t OH, int64_t OW) {
  const double *bt, *g, *at;
  smelt_wino_mats(m, &bt, &g, &at);
  int A = m + 2;
  int64_t TH = (OH + m - 1) / m, TW = (OW + m - 1) / m;
  double *bd = malloc(sizeof(double) * (size_t)(k->N * TH * TW * k->C * A * A)), *p = bd;
  for (int64_t n = 0; n < k->N; n++)
    for (int64_t ty = 0; ty < TH; ty++)
      for (int64_t tx = 0; tx < TW; tx++)
        for (int64_t c = 0; c < k->C; c++)
          for (int e = 0; e < A * A; e++) {
            double v = 0;
            for (int r = 0; r < A; r++)
              for (int q = 0; q < A; q++) {
                int64_t ih = ty * m + r - k->ph, iw = tx * m + q - k->pw;
                if (ih >= 0 && ih < k->H && iw >= 0 && iw < k->W) v += fabs(bt[e / A * A + r]) * fabs(x[((n * k->C + c) * k->H + ih) * k->W + iw]) * fabs(bt[e % A * A + q]);
              }
            *p++ = v;
          }
  return bd;
}

/* S of output element (n, o, oh, ow) of a 3x3 conv in F(m x m) form with weights U */
static double wino_mag(const struct wcase *k, int m, const double *bd, const float *U, int64_t n, int64_t o, int64_t oh, int64_t ow,
                       int64_t OH, int64_t OW) {
  const double *bt, *g, *at;
  smelt_wino_mats(m, &bt, &g, &at);
  int A = m + 2;
  int64_t TH = (OH + m - 1) / m, TW = (OW + m - 1) / m, i = oh % m, j = ow % m;
  const double *t = bd + ((n * TH + oh / m) * TW + ow / m) * k->C * A * A;
  double S = 0;
  for (int e = 0; e < A * A; e++) {
    double w = fabs(at[i * A + e / A]) * fabs(at[j * A + e % A]), v = 0;
    if (w == 0) continue;
    for (int64_t c = 0; c < k->C; c++) v += t[c * A * A + e] * fabs(U[(e * k->C + c) * k->M + o]);
    S += w * v;
  }
  return S;
}

struct tol_arg {
  const struct wcase *k;
  int m, y1;
  const double *bd; /* tile_mags of the input */
  const float *U1, *U2, *b1, *b2;
  const smelt_tensor *ref;
};

static double wino_tol(void *arg, int64_t e, double r) {
  const struct tol_arg *t = arg;
  const struct wcase *k = t->k;
  int64_t OW = t->ref->dims[3], OH = t->ref->dims[2];
  int64_t ow = e % OW, oh = e / OW % OH, o = e / (OW * OH) % k->M, n = e / (OW * OH * k->M);
  double u = 2.0 * (double)(k->C + 14) / 16777216.0;
  double tol = u * (wino_mag(k, t->m, t->bd, t->U2, n, o, oh, ow, OH, OW) + (t->b2 ? fabs(t->b2[o]) : 0));
  if (t->y1) tol += u * (wino_mag(k, t->m, t->bd, t->U1, n, o, oh, ow, OH, OW) + fabs(t->b1[o])) + 2.0 / 16777216.0 * fabs(r);
  return tol + 1e-30;
}

static float *make_u(int m, const float *w, int64_t M, int64_t C) {
  float *u = malloc(sizeof(float) * (size_t)((m + 2) * (m + 2) * C * M));
  smelt_wino_weights(m, w, M, C, u);
  return u;
}

/* 1: the pass picks F(4x4) for both convolutions */
static void pass_case(const struct wcase *k, int idx, const char *target, int threads) {
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "w%d_%s_%d", idx, target[0] == 'n' ? "native" : "avx2", threads);
  smelt_graph *g = smelt_graph_new(cx, name);
  smelt_shape xs = {4, {smelt_dim_c(k->N), smelt_dim_c(k->C), smelt_dim_c(k->H), smelt_dim_c(k->W)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int64_t nw = k->M * k->C * 9;
  float *w1 = malloc(sizeof(float) * (size_t)nw), *w2 = malloc(sizeof(float) * (size_t)nw), *b1 = malloc(sizeof(float) * (size_t)k->M),
        *b2 = malloc(sizeof(float) * (size_t)k->M);
  for (int64_t i = 0; i < nw; i++) w1[i] = t_unif(), w2[i] = t_unif();
  for (int64_t i = 0; i < k->M; i++) b1[i] = t_unif(), b2[i] = t_unif();
  int64_t st[2] = {1, 1}, pd[4] = {k->ph, k->pw, k->peh, k->pew}, dl[2] = {1, 1};
  smelt_attr at[4] = {smelt_attr_ints(cx, "strides", st, 2), smelt_attr_ints(cx, "pads", pd, 4), smelt_attr_ints(cx, "dilations", dl, 2),
                      smelt_attr_int("group", 1)};
  smelt_shape ws = {4, {smelt_dim_c(k->M), smelt_dim_c(k->C), smelt_dim_c(3), smelt_dim_c(3)}}, bs = {1, {smelt_dim_c(k->M)}};
  int cw1 = smelt_graph_add_const_copy(g, "w1", SMELT_DT_F32, &ws, w1, sizeof(float) * (uint64_t)nw);
  int cw2 = smelt_graph_add_const_copy(g, "w2", SMELT_DT_F32, &ws, w2, sizeof(float) * (uint64_t)nw);
  int cb1 = smelt_graph_add_const_copy(g, "b1", SMELT_DT_F32, &bs, b1, sizeof(float) * (uint64_t)k->M);
  int cb2 = smelt_graph_add_const_copy(g, "b2", SMELT_DT_F32, &bs, b2, sizeof(float) * (uint64_t)k->M);
  const char *onames[2] = {"y1", "y2"};
  int y[2];
  int c1 = smelt_graph_add_node(g, SMELT_OP_CONV, "conv1", (int[]){x, cw1, cb1}, 3, at, 4, 1, NULL);
  y[1] = smelt_graph_add_node(g, SMELT_OP_CONV, "y2", (int[]){x, cw2, cb2}, 3, at, 4, 1, NULL);
  int sum = c1 < 0 || y[1] < 0 ? -1 : smelt_graph_add_node(g, SMELT_OP_ADD, "sum", (int[]){c1, y[1]}, 2, NULL, 0, 1, NULL);
  y[0] = sum < 0 ? -1 : smelt_graph_add_node(g, SMELT_OP_RELU, "y1", &sum, 1, NULL, 0, 1, NULL);
  CHECK(y[0] >= 0, "%s: graph: %s", name, smelt_error_msg(cx));
  if (y[0] < 0) goto out;
  for (int o = 0; o < 2; o++) {
    g->values[y[o]].name = onames[o];
    smelt_graph_add_output(g, y[o]);
  }
  smelt_tensor in, ref[2];
  int64_t xd[4] = {k->N, k->C, k->H, k->W};
  char exe[4200], *src = NULL;
  int built;
  if (t_eval_build(cx, g, work, name, target, threads, xd, &in, ref, exe, sizeof exe, &src, &built)) goto out;
  if (built) {
    /* y2, the Fused node's anchor helper (unused beside the epilogue call) and y1's call
     * with the residual x3 and Relu */
    CHECK(src && count(src, "smc_wino_epi(&op, 4, ") == 3 && count(src, "smc_wino_epi(&op, 4, x0, x1, x2, x3, 1, y0") == 1 &&
              count(src, "smc_conv_epi(&op") == 0 && count(src, "smc_conv(&op") == 0,
          "%s: expected three smc_wino_epi calls with F(4x4), one with the residual and Relu, and no direct ones", name);
    free(src);
    smelt_tensor got[2];
    float *U1 = make_u(4, w1, k->M, k->C), *U2 = make_u(4, w2, k->M, k->C);
    double *bd = tile_mags(k, 4, in.data, ref[0].dims[2], ref[0].dims[3]);
    if (t_run_exe(work, exe, name, &in, 1, got, onames, 2)) CHECK(0, "%s: running the executable failed", name);
    else
      for (int o = 0; o < 2; o++) {
        struct tol_arg ta = {k, 4, o == 0, bd, U1, U2, b1, b2, &ref[o]};
        char what[128];
        snprintf(what, sizeof what, "%s %s: %s", name, target, onames[o]);
        t_compare(what, &got[o], &ref[o], wino_tol, &ta);
      }
    free(U1), free(U2), free(bd);
  }
  smelt_tensor_free(&in);
  for (int o = 0; o < 2; o++) smelt_tensor_free(&ref[o]);
out:
  free(w1), free(w2), free(b1), free(b2);
  smelt_ctx_free(cx);
}

/* 2: Winograd-form IR written directly, on the generic C target and on native */
static void ir_case(const struct wcase *k, int idx, int m, const char *target) {
  smelt_ctx *cx = smelt_ctx_new();
  char name[64];
  snprintf(name, sizeof name, "u%d_%d_%s", idx, m, target);
  smelt_graph *g = smelt_graph_new(cx, name);
  smelt_shape xs = {4, {smelt_dim_c(k->N), smelt_dim_c(k->C), smelt_dim_c(k->H), smelt_dim_c(k->W)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &xs);
  int64_t nw = k->M * k->C * 9, A = m + 2;
  float *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)k->M);
  for (int64_t i = 0; i < nw; i++) w[i] = t_unif();
  for (int64_t i = 0; i < k->M; i++) b[i] = t_unif();
  float *U = make_u(m, w, k->M, k->C);
  int64_t st[2] = {1, 1}, pd[4] = {k->ph, k->pw, k->peh, k->pew}, dl[2] = {1, 1};
  smelt_attr at[5] = {smelt_attr_ints(cx, "strides", st, 2), smelt_attr_ints(cx, "pads", pd, 4), smelt_attr_ints(cx, "dilations", dl, 2),
                      smelt_attr_int("group", 1), smelt_attr_int("wino", m)};
  smelt_shape us = {3, {smelt_dim_c(A * A), smelt_dim_c(k->C), smelt_dim_c(k->M)}}, bs = {1, {smelt_dim_c(k->M)}};
  int cu = smelt_graph_add_const_copy(g, "u", SMELT_DT_F32, &us, U, sizeof(float) * (uint64_t)(A * A * k->C * k->M));
  int cb = smelt_graph_add_const_copy(g, "b", SMELT_DT_F32, &bs, b, sizeof(float) * (uint64_t)k->M);
  int y = smelt_graph_add_node(g, SMELT_OP_CONV, "y", (int[]){x, cu, cb}, 3, at, 5, 1, NULL);
  CHECK(y >= 0, "%s: Conv with wino: %s", name, smelt_error_msg(cx));
  if (y < 0) goto out;
  g->values[y].name = "y";
  smelt_graph_add_output(g, y);
  CHECK(!smelt_verify(g), "%s: verify: %s", name, smelt_error_msg(cx));
  smelt_tensor in, ref;
  int64_t xd[4] = {k->N, k->C, k->H, k->W};
  char exe[4200], *src = NULL;
  int built;
  if (t_eval_build(cx, g, work, name, target, 1, xd, &in, &ref, exe, sizeof exe, &src, &built)) goto out;
  if (built) {
    char want[64];
    snprintf(want, sizeof want, "smc_wino_epi(&op, %d, ", m);
    CHECK(src && count(src, want) == (strcmp(target, "generic") ? 1 : 0), "%s: the %s target should %s smc_wino_epi", name, target,
          strcmp(target, "generic") ? "call" : "not call");
    free(src);
    smelt_tensor got;
    const char *on = "y";
    if (t_run_exe(work, exe, name, &in, 1, &got, &on, 1)) CHECK(0, "%s: running the executable failed", name);
    else {
      double *bd = tile_mags(k, m, in.data, ref.dims[2], ref.dims[3]);
      struct tol_arg ta = {k, m, 0, bd, NULL, U, NULL, b, &ref};
      char what[128];
      snprintf(what, sizeof what, "%s %s: y", name, target);
      t_compare(what, &got, &ref, wino_tol, &ta);
      free(bd);
    }
  }
  smelt_tensor_free(&in);
  smelt_tensor_free(&ref);
out:
  free(w), free(b), free(U);
  smelt_ctx_free(cx);
}

int main(int argc, char **argv) {
  work = argc > 1 ? argv[1] : "simd_wino-work";
  t_mkdirs(work);
#if !defined(__x86_64__) && !defined(__aarch64__)
  SKIP("native has no kernel backend on this machine");
#endif
  static const struct wcase cases[] = {
      /* N C H W M ph pw peh pew */
      {1, 16, 13, 13, 16, 1, 1, 1, 1},  /* the smallest the pass takes: 16 tiles, partial at the edges */
      {2, 24, 18, 21, 32, 1, 0, 2, 1},  /* batch 2, uneven pads, odd widths */
      {1, 32, 32, 32, 48, 1, 1, 1, 1},  /* a narrow last panel of M, threads */
  };
  for (int i = 0; i < 3; i++) {
    pass_case(&cases[i], i, "native", 3);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) pass_case(&cases[i], i, "x86-64-avx2", 1);
#endif
  }
  static const struct wcase small = {1, 5, 7, 9, 16, 1, 1, 1, 1}; /* odd sizes the pass would not take */
  for (int m = 2; m <= 4; m += 2) {
    ir_case(&small, 0, m, "generic");
    ir_case(&small, 0, m, "native");
    ir_case(&cases[1], 1, m, "generic");
  }
  return t_done("simd_wino");
}
