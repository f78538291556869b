/* tests/unit/quant_digits.c — the quantize pass end to end on the `make demo` model
 * (samples/digits: a 64 -> 48 -> 10 MLP, whose fc2 has K = 48, so q8_0 / q4_0 fall back
 * to int8 / int4 there and int4 / nf4 take group 24).
 *
 * For every --quant scheme (and none) the model is built for all 360 held-out digits at
 * once (--dim N=360) into an executable by the C backend, and run:
 *   - its logits agree with the reference interpreter run on the same quantized graph:
 *     |compiled - interpreter| <= 1e-4 * (1 + max |logit| of the row) (the int8 kernel
 *     and the interpreter pick the same activation integers; float lane sums against
 *     double sums otherwise);
 *   - its accuracy is the float model's within 1 point for f16, int8 and q8_0, and
 *     within 3 points for q4_0, int4 and nf4.
 * Prints a table: scheme, weight bytes, accuracy. */
#include "../testutil.h"
#include "compiler/driver.h"
#include "runtime/smelt_npy.h"

#include <math.h>

#ifndef SMELT_SOURCE_DIR
#define SMELT_SOURCE_DIR "."
#endif

static const char *work = "quant-digits";

int main(void) {
  const char *model = SMELT_SOURCE_DIR "/samples/digits/digits.onnx";
  const char *xs = SMELT_SOURCE_DIR "/samples/digits/test_digits.npy", *ls = SMELT_SOURCE_DIR "/samples/digits/test_labels.npy";
  if (!t_exists(model) || !t_exists(xs)) SKIP("%s is missing", model);
  struct smelt_npy X, L;
  const char *e = smelt_npy_read(xs, &X);
  CHECK(!e, "%s: %s", xs, e ? e : "");
  if (e) return t_done("quant_digits");
  e = smelt_npy_read(ls, &L);
  CHECK(!e && L.rank == 1 && !strcmp(L.descr, "<i8"), "%s: %s", ls, e ? e : "not int64 [N]");
  if (e) return t_done("quant_digits");
  const int64_t n = L.dims[0];
  const int64_t *lab = (const int64_t *)L.data;
  t_mkdirs(work);
  static const char *schemes[] = {NULL, "f16", "int8", "q8_0", "q4_0", "int4", "nf4"};
  static const double slack[] = {0, 1, 1, 1, 3, 3, 3};
  double acc0 = -1;
  printf("  %-6s %12s %9s\n", "scheme", "weight bytes", "accuracy");
  for (size_t s = 0; s < sizeof schemes / sizeof *schemes; s++) {
    const char *sn = schemes[s] ? schemes[s] : "none";
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_dimopt dim = {"N", n, 1};
    struct smelt_build_opts o = {.target = "generic", .emit = SMELT_EMIT_EXE, .name = "digits", .quant = schemes[s]};
    o.load.dims = &dim;
    o.load.ndims = 1;
    o.out_dir = smelt_sprintf(cx, "%s/%s", work, sn);
    struct smelt_build_info info;
    smelt_graph *g = smelt_load_model(cx, model, &o.load);
    int rc = g ? smelt_build_graph(cx, g, &o, &info) : SMELT_ERR;
    CHECK(rc == 0, "%s: build: %s", sn, smelt_error_msg(cx));
    if (rc) { smelt_ctx_free(cx); continue; }
    int nq = 0;
    for (int ni = 0; ni < g->nnodes; ni++) nq += g->nodes[ni].op == SMELT_OP_QMATMUL || ((g->nodes[ni].op == SMELT_OP_MATMUL || g->nodes[ni].op == SMELT_OP_FUSED) && g->nodes[ni].nin > 1 &&
                                                    g->values[g->nodes[ni].in[1]].dt != SMELT_DT_F32); /* a fused MatMul's B is input 1 */
    CHECK(nq == (schemes[s] ? 2 : 0), "%s: %d quantized MatMuls, expected %d", sn, nq, schemes[s] ? 2 : 0);
    /* the interpreter on the quantized graph */
    smelt_tensor in = {.dt = SMELT_DT_F32, .rank = X.rank, .data = X.data}, ref;
    memcpy(in.dims, X.dims, sizeof(int64_t) * X.rank);
    CHECK(smelt_eval(g, &in, &ref) == 0, "%s: eval: %s", sn, smelt_error_msg(cx));
    /* the executable */
    const char *exe = smelt_sprintf(cx, "%s/digits", o.out_dir), *odir = smelt_sprintf(cx, "%s/out", o.out_dir);
    const char *argv[] = {exe, xs, "-o", odir, NULL};
    struct t_run r;
    int ok = !t_run(argv, ".", 120, &r) && r.exited && r.code == 0;
    CHECK(ok, "%s: %s failed: %s", sn, exe, r.err ? r.err : "");
    t_run_free(&r);
    struct smelt_npy Y;
    e = ok ? smelt_npy_read(smelt_sprintf(cx, "%s/logits.npy", odir), &Y) : "not run";
    CHECK(!e && Y.rank == 2 && Y.dims[0] == n && Y.dims[1] == 10, "%s: logits: %s", sn, e ? e : "bad shape");
    if (!e && Y.rank == 2 && Y.dims[0] == n && Y.dims[1] == 10) {
      const float *y = (const float *)Y.data, *yr = (const float *)ref.data;
      int right = 0, bad = 0;
      double worst = 0;
      for (int64_t i = 0; i < n; i++) {
        double m = 0;
        int arg = 0;
        for (int c = 0; c < 10; c++) {
          m = fmax(m, fabs(yr[i * 10 + c]));
          if (y[i * 10 + c] > y[i * 10 + arg]) arg = c;
        }
        for (int c = 0; c < 10; c++) {
          double d = fabs((double)y[i * 10 + c] - yr[i * 10 + c]) / (1 + m);
          if (d > worst) worst = d;
          bad += d > 1e-4;
        }
        right += arg == lab[i];
      }
      CHECK(!bad, "%s: %d logits differ from the interpreter's by more than 1e-4 (relative %.3g)", sn, bad, worst);
      double acc = 100.0 * right / (double)n;
      printf("  %-6s %12lld %8.2f%%   (vs interpreter: %.2g)\n", sn, (long long)info.weight_bytes, acc, worst);
      if (!schemes[s]) acc0 = acc;
      else CHECK(acc0 >= 0 && fabs(acc - acc0) <= slack[s], "%s: accuracy %.2f%%, float %.2f%% (allowed %g points)", sn, acc, acc0, slack[s]);
      free(Y.data);
    }
    smelt_tensor_free(&ref);
    smelt_ctx_free(cx);
  }
  free(X.data);
  free(L.data);
  return t_done("quant_digits");
}
