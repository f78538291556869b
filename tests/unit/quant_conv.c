/* tests/unit/quant_conv.c — Conv weights through the quantize pass (passes/quantize.c:
 * QConv, ir/eval_quant.c, backends/c/k_quant.c).
 *
 * 1. Random Conv layers (2-D with bias and padding, R = 36; 2-D grouped, strided,
 *    asymmetric pads, no bias, R = 64 (whole q8_0 / q4_0 blocks); 1-D dilated, R = 15),
 *    one graph holding all three, for every --quant scheme: each Conv must become QConv (q8_0 / q4_0 fall back to
 *    int8 / int4 when R % 32 != 0), the compiled C must match the interpreter on the
 *    quantized graph (|diff| <= 1e-5 * R * max|w| * max|x|: only float summation order
 *    differs), and the quantized output must stay near the float one
 *    (||yq - y|| / ||y|| below 1e-3 for f16, 0.03 for 8-bit, 0.3 for 4-bit schemes).
 * 2. mnist-8 (../shared/models/onnx/mnist-8, SKIPPED when absent) per scheme: the same
 *    compiled-vs-interpreter check on its three test sets, the largest error against
 *    the reference outputs relative to their largest magnitude, whether the predicted
 *    digit stays the reference's, and the weight bytes; prints a table.
 * With SMELT_CFLAGS set (make test-sanitize) the generated code runs under the sanitizers. */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "compiler/read.h"

#include <math.h>

#ifndef SMELT_SOURCE_DIR
#define SMELT_SOURCE_DIR "."
#endif
#define SMELT_SHARED_MODELS SMELT_SOURCE_DIR "/../shared/models"

static const char *work = "quant-conv-work";
static const char *schemes[] = {"f16", "int8", "q8_0", "q4_0", "int4", "nf4"};

static double max_abs(const float *p, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(p[i]));
  return m;
}

/* Builds g with --quant scheme into an executable, runs it on in[0..nin), compares
 * each output with the interpreter on the quantized graph within 1e-5 * tol[o]; yq[o]
 * get the interpreter's outputs.  Returns the number of QConv nodes, or -1. */
static int build_and_check(smelt_ctx *cx, smelt_graph *g, const char *scheme, const char *tag, smelt_tensor *in, int nin, const double *tol,
                           smelt_tensor *yq, int64_t *weight_bytes) {
  char dir[4096], exe[4200];
  snprintf(dir, sizeof dir, "%s/%s", work, tag);
  t_mkdirs(dir);
  struct smelt_build_opts bo = {.out_dir = dir, .target = "generic", .emit = SMELT_EMIT_EXE, .name = "m", .quant = scheme};
  struct smelt_build_info info;
  if (smelt_build_graph(cx, g, &bo, &info)) { CHECK(0, "%s: build: %s", tag, smelt_error_msg(cx)); return -1; }
  if (weight_bytes) *weight_bytes = info.weight_bytes;
  int nq = 0, no = g->noutputs;
  for (int i = 0; i < g->nnodes; i++) nq += g->nodes[i].op == SMELT_OP_QCONV;
  if (smelt_eval(g, in, yq)) { CHECK(0, "%s: eval: %s", tag, smelt_error_msg(cx)); return -1; }
  snprintf(exe, sizeof exe, "%s/m", dir);
  const char *on[8] = {NULL};
  smelt_tensor got[8];
  for (int o = 0; o < no && o < 8; o++) on[o] = g->values[g->outputs[o]].name;
  if (no > 8 || t_run_exe(work, exe, tag, in, nin, got, on, no)) { CHECK(0, "%s: running the executable failed", tag); return -1; }
  for (int o = 0; o < no; o++) {
    int64_t ne = smelt_tensor_elems(&yq[o]);
    CHECK(smelt_tensor_elems(&got[o]) == ne, "%s: output %d shape", tag, o);
    int bad = 0;
    for (int64_t e = 0; e < ne && smelt_tensor_elems(&got[o]) == ne; e++) {
      float a = ((float *)got[o].data)[e], b = ((float *)yq[o].data)[e];
      if (!(fabs((double)a - b) <= 1e-5 * tol[o] + 1e-30) && bad++ < 3) CHECK(0, "%s: %s[%lld] = %.9g, interpreter %.9g", tag, on[o], (long long)e, a, b);
    }
    smelt_tensor_free(&got[o]);
  }
  return nq;
}

struct cfg { int nsp; int64_t N, C, M, grp, sp[2], k[2], st[2], pd[4], dl[2]; int bias; };

/* The layers of cfgs, one input and one output each, in one graph per scheme (one
 * build per scheme keeps the sanitizer run short). */
static void random_conv(const struct cfg *cfgs, int nc) {
  for (int s = 0; s < 6; s++) {
    smelt_ctx *cx = smelt_ctx_new();
    smelt_graph *g = smelt_graph_new(cx, "qc");
    smelt_tensor xt[4], yf[4], yq[4];
    double tol[4];
    int64_t Rs[4];
    int ok = 1;
    for (int ci = 0; ci < nc && ok; ci++) {
      const struct cfg *cf = &cfgs[ci];
      smelt_shape xs = {.rank = 2 + cf->nsp}, ws = {.rank = 2 + cf->nsp}, bs = {.rank = 1};
      xs.d[0] = smelt_dim_c(cf->N), xs.d[1] = smelt_dim_c(cf->C);
      ws.d[0] = smelt_dim_c(cf->M), ws.d[1] = smelt_dim_c(cf->C / cf->grp);
      bs.d[0] = smelt_dim_c(cf->M);
      int64_t R = cf->C / cf->grp, xd[4] = {cf->N, cf->C};
      for (int i = 0; i < cf->nsp; i++) {
        xs.d[2 + i] = smelt_dim_c(cf->sp[i]), ws.d[2 + i] = smelt_dim_c(cf->k[i]);
        R *= cf->k[i], xd[2 + i] = cf->sp[i];
      }
      Rs[ci] = R;
      float *w = smelt_alloc(cx, sizeof(float) * (size_t)(cf->M * R)), *b = smelt_alloc(cx, sizeof(float) * (size_t)cf->M);
      for (int64_t i = 0; i < cf->M * R; i++) w[i] = t_unif() * (i % 7 == 0 ? 2.0f : 1.0f);
      for (int64_t i = 0; i < cf->M; i++) b[i] = t_unif();
      char nm[4][32];
      snprintf(nm[0], 32, "x%d", ci), snprintf(nm[1], 32, "conv%d.weight", ci), snprintf(nm[2], 32, "conv%d.bias", ci), snprintf(nm[3], 32, "y%d", ci);
      int x = smelt_graph_add_input(g, smelt_strdup(cx, nm[0]), SMELT_DT_F32, &xs);
      int in[3] = {x, smelt_graph_add_const(g, smelt_strdup(cx, nm[1]), SMELT_DT_F32, &ws, w, sizeof(float) * (uint64_t)(cf->M * R)),
                   smelt_graph_add_const(g, smelt_strdup(cx, nm[2]), SMELT_DT_F32, &bs, b, sizeof(float) * (uint64_t)cf->M)};
      smelt_attr at[4] = {smelt_attr_ints(cx, "strides", cf->st, cf->nsp), smelt_attr_ints(cx, "pads", cf->pd, 2 * cf->nsp),
                          smelt_attr_ints(cx, "dilations", cf->dl, cf->nsp), smelt_attr_int("group", cf->grp)};
      int y = smelt_graph_add_node(g, SMELT_OP_CONV, smelt_strdup(cx, nm[3]), in, cf->bias ? 3 : 2, at, 4, 1, NULL);
      CHECK(y >= 0, "cfg %d: Conv: %s", ci, smelt_error_msg(cx));
      if (y < 0) { ok = 0; break; }
      g->values[y].name = smelt_strdup(cx, nm[3]);
      smelt_graph_add_output(g, y);
      t_rand_tensor(&xt[ci], SMELT_DT_F32, 2 + cf->nsp, xd);
      tol[ci] = (double)R * max_abs(w, cf->M * R) * max_abs(xt[ci].data, smelt_tensor_elems(&xt[ci]));
    }
    if (!ok) { smelt_ctx_free(cx); return; }
    CHECK(!smelt_eval(g, xt, yf), "float eval: %s", smelt_error_msg(cx));
    char tag[64];
    snprintf(tag, sizeof tag, "layers_%s", schemes[s]);
    int nq = build_and_check(cx, g, schemes[s], tag, xt, nc, tol, yq, NULL);
    CHECK(nq == nc, "%s: %d of %d Conv layers became QConv", tag, nq, nc);
    if (nq >= 0) {
      int blocks = (!strcmp(schemes[s], "q8_0") || !strcmp(schemes[s], "q4_0"));
      for (int i = 0, ci = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == SMELT_OP_QCONV && ci < nc) {
          const char *got = smelt_attr_s(&g->nodes[i], "scheme");
          const char *want = blocks && Rs[ci] % 32 ? (schemes[s][1] == '8' ? "int8" : "int4") : schemes[s];
          CHECK(!strcmp(got, want), "%s: layer %d: scheme %s, expected %s", tag, ci, got, want);
          ci++;
        }
      for (int ci = 0; ci < nc; ci++) {
        double num = 0, den = 0;
        for (int64_t e = 0; e < smelt_tensor_elems(&yf[ci]); e++) {
          double d = (double)((float *)yq[ci].data)[e] - ((float *)yf[ci].data)[e];
          num += d * d;
          den += (double)((float *)yf[ci].data)[e] * ((float *)yf[ci].data)[e];
        }
        double rel = den > 0 ? sqrt(num / den) : 0, lim = s == 0 ? 1e-3 : strstr(schemes[s], "4") ? 0.3 : 0.03;
        CHECK(rel <= lim, "%s: layer %d: quantized output error %.3g above %.3g", tag, ci, rel, lim);
        smelt_tensor_free(&yq[ci]);
      }
    }
    for (int ci = 0; ci < nc; ci++) { free(xt[ci].data); smelt_tensor_free(&yf[ci]); }
    smelt_ctx_free(cx);
  }
}

static void mnist(void) {
  char model[4096];
  snprintf(model, sizeof model, "%s/onnx/mnist-8/model.onnx", SMELT_SHARED_MODELS);
  if (!t_exists(model)) { printf("mnist-8: SKIPPED (%s is absent)\n", model); return; }
  printf("mnist-8: scheme, weight bytes, max |y - reference| / max |reference| over 3 sets, same digit\n");
  for (int s = -1; s < 6; s++) {
    const char *sch = s < 0 ? NULL : schemes[s];
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_load_opts lo = {0};
    smelt_graph *g = smelt_load_model(cx, model, &lo);
    CHECK(g != NULL, "mnist-8: %s", smelt_error_msg(cx));
    if (!g) { smelt_ctx_free(cx); return; }
    double worst = 0;
    int same = 0, sets = 0, nq = -1;
    int64_t wb = 0;
    for (int t = 0; t < 3; t++) {
      char ip[4200], op[4200], tag[64];
      snprintf(ip, sizeof ip, "%s/onnx/mnist-8/test_data_set_%d/input_0.pb", SMELT_SHARED_MODELS, t);
      snprintf(op, sizeof op, "%s/onnx/mnist-8/test_data_set_%d/output_0.pb", SMELT_SHARED_MODELS, t);
      smelt_tensor x, ref, yq;
      if (smelt_onnx_read_tensor_file(cx, ip, &x) || smelt_onnx_read_tensor_file(cx, op, &ref)) { CHECK(0, "mnist-8: %s", smelt_error_msg(cx)); break; }
      snprintf(tag, sizeof tag, "mnist_%s_%d", sch ? sch : "float", t);
      if (t == 0) nq = build_and_check(cx, g, sch, tag, &x, 1, (double[]){1e3}, &yq, &wb);
      else {
        /* the graph is already built: the executable of set 0 runs the others */
        char dir[4096], exe[4200];
        snprintf(dir, sizeof dir, "%s/mnist_%s_0", work, sch ? sch : "float");
        snprintf(exe, sizeof exe, "%s/m", dir);
        const char *on = g->values[g->outputs[0]].name;
        smelt_tensor got;
        CHECK(!smelt_eval(g, &x, &yq), "%s: eval", tag);
        if (t_run_exe(work, exe, tag, &x, 1, &got, &on, 1)) { CHECK(0, "%s: run failed", tag); nq = -1; }
        else {
          for (int64_t e = 0; e < smelt_tensor_elems(&yq); e++)
            CHECK(fabs((double)((float *)got.data)[e] - ((float *)yq.data)[e]) <= 1e-2, "%s: compiled %g, interpreter %g", tag,
                  ((float *)got.data)[e], ((float *)yq.data)[e]);
          smelt_tensor_free(&got);
        }
      }
      if (nq < 0) { free(x.data); free(ref.data); break; }
      const float *a = yq.data, *r = ref.data;
      int64_t ne = smelt_tensor_elems(&ref), am = 0, rm = 0;
      double m = max_abs(r, ne), e = 0;
      for (int64_t i = 0; i < ne; i++) {
        e = fmax(e, fabs((double)a[i] - r[i]));
        if (a[i] > a[am]) am = i;
        if (r[i] > r[rm]) rm = i;
      }
      worst = fmax(worst, m > 0 ? e / m : e);
      same += am == rm;
      sets++;
      smelt_tensor_free(&yq);
      free(x.data);
      free(ref.data);
    }
    if (sets == 3) {
      printf("  %-6s %6lld  %.4f  %d/3  (%d QConv)\n", sch ? sch : "float", (long long)wb, worst, same, nq);
      CHECK(!sch || nq == 2, "mnist-8 %s: %d Conv layers quantized, expected 2", sch, nq);
      CHECK(same == 3, "mnist-8 %s: the predicted digit changed", sch ? sch : "float");
      CHECK(worst <= (!sch ? 1e-4 : s == 0 ? 1e-3 : strstr(sch, "4") ? 0.3 : 0.05), "mnist-8 %s: error %.3g", sch ? sch : "float", worst);
    }
    smelt_ctx_free(cx);
  }
}

int main(void) {
  t_mkdirs(work);
  static const struct cfg cfgs[] = {
      {2, 2, 4, 6, 1, {9, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1},
      {2, 1, 8, 6, 2, {7, 8}, {4, 4}, {2, 1}, {1, 0, 2, 1}, {1, 1}, 0},
      {1, 1, 3, 5, 1, {20, 0}, {5, 0}, {1, 0}, {2, 2, 0, 0}, {2, 0}, 1},
  };
  random_conv(cfgs, (int)(sizeof cfgs / sizeof *cfgs));
  mnist();
  return t_done("quant_conv");
}
