/* tests/ir/passes.c — golden pass tests: each tests/ir/NAME.ir is parsed, run through
 * the pipeline's fold and dce passes (or the passes a comment line "# passes: fold
 * cse dce fuse ..." names, in that order, or those --passes names for the whole
 * directory), with the build options a line "# options: --target T [--layout-min N]
 * --quant S [--quant-group N] [--quant-skip GLOB]..." gives, and printed; the text must equal
 * tests/ir/NAME.expected (SMELT_UPDATE_GOLDEN=1, i.e. make update-golden, rewrites
 * the expected files).  Beside the text, every case checks what DESIGN §4 asks of a
 * pass: the graph still verifies, the printed result parses back to the same text,
 * and the reference interpreter gives bit-identical outputs before and after, on
 * random inputs (symbolic dims at a random value within their bound) — or within a
 * relative tolerance a comment line "# tolerance: 1e-6" states (of the output's
 * largest magnitude), for passes that round differently (BatchNorm folding).  A line
 * "# packs: P" asks that exactly P nodes carry a pack attribute after the passes (the
 * layout pass: packing moves bytes, not values, so the outputs stay bit-identical); a
 * line "# winos: N" that exactly N nodes carry a wino attribute (passes/wino.c).
 * With --quant the outputs must move, by no more than the scheme's error:
 * 0 < ||after - before|| / ||before|| <= 2e-3 (f16), 0.05 (int8, q8_0), 0.3 (int4, nf4).
 *
 *   ir_passes [--passes "fold dce fuse layout"] DIR [NAME...] */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "ir/ir.h"
#include "passes/passes.h"

#include <math.h>

/* Random inputs for g: symbols get one random value each; floats in [-4, 4) with a
 * few zeros, integers small (so integer ops do not only overflow): in [-9, 9], or in
 * [lo, hi] from a line "# ints: lo hi" (token ids of a small vocabulary). */
static void make_inputs(const smelt_graph *g, const char *text, smelt_tensor *in) {
  long lo = -9, hi = 9;
  const char *il = strstr(text, "\n# ints:");
  if (il && sscanf(il + 8, "%ld %ld", &lo, &hi) != 2) lo = -9, hi = 9;
  if (hi < lo) hi = lo;
  int64_t symv[64];
  for (int s = 0; s < g->nsyms && s < 64; s++) symv[s] = 1 + (int64_t)(t_rnd() % (uint32_t)g->syms[s].max);
  for (int i = 0; i < g->ninputs; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    memset(&in[i], 0, sizeof in[i]);
    in[i].dt = v->dt;
    in[i].rank = v->shape.rank;
    smelt_shape_resolve(&v->shape, symv, in[i].dims);
    int64_t n = smelt_tensor_elems(&in[i]);
    in[i].data = calloc((size_t)(n ? n : 1), (size_t)smelt_dtype_bytes(v->dt));
    for (int64_t e = 0; e < n; e++) {
      if (smelt_dtype_is_float(v->dt)) smelt_tensor_setf(&in[i], e, t_rnd() % 8 == 0 ? 0.0 : ((double)(t_rnd() % 8192) - 4096) / 1024.0);
      else smelt_tensor_seti(&in[i], e, lo + (int64_t)(t_rnd() % (uint32_t)(hi - lo + 1)));
    }
  }
}

static int same_tensor(const smelt_tensor *a, const smelt_tensor *b) {
  if (a->dt != b->dt || a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  int64_t n = smelt_tensor_elems(a);
  size_t es = (size_t)smelt_dtype_bytes(a->dt);
  for (int64_t i = 0; i < n; i++)
    if (memcmp((char *)a->data + i * es, (char *)b->data + i * es, es) &&
        !(smelt_dtype_is_float(a->dt) && isnan(smelt_tensor_getf(a, i)) && isnan(smelt_tensor_getf(b, i))))
      return 0;
  return 1;
}

/* |a - b| <= tol * max|a| for every element (tolerance cases) */
static int close_tensor(const smelt_tensor *a, const smelt_tensor *b, double tol) {
  if (a->dt != b->dt || a->rank != b->rank || smelt_tensor_elems(a) != smelt_tensor_elems(b)) return 0;
  int64_t n = smelt_tensor_elems(a);
  double mx = 0;
  for (int64_t i = 0; i < n; i++) mx = fmax(mx, fabs(smelt_tensor_getf(a, i)));
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(smelt_tensor_getf(a, i) - smelt_tensor_getf(b, i)) <= tol * (mx > 0 ? mx : 1))) return 0;
  return 1;
}

static const char *default_passes = "fold dce";

/* the "# options:" line into o (skips holds up to 8 --quant-skip globs); 0 when there
 * is no such line, -1 when it names something else */
static int read_options(smelt_ctx *cx, const char *text, struct smelt_build_opts *o, const char **skips) {
  const char *p = strstr(text, "\n# options:");
  if (!p) return 0;
  p += 11;
  const char *end = strchr(p, '\n');
  while (end && p < end) {
    while (*p == ' ') p++;
    size_t k = strcspn(p, " \n");
    const char *w = smelt_strndup(cx, p, k);
    p += k;
    while (*p == ' ') p++;
    size_t k2 = strcspn(p, " \n");
    const char *v = smelt_strndup(cx, p, k2);
    p += k2;
    if (!strcmp(w, "--target")) o->target = v;
    else if (!strcmp(w, "--layout-min")) o->layout_min = atoi(v);
    else if (!strcmp(w, "--quant")) o->quant = v;
    else if (!strcmp(w, "--quant-group")) o->quant_group = atoi(v);
    else if (!strcmp(w, "--quant-skip") && o->nquant_skip < 8) skips[o->nquant_skip++] = v;
    else if (*w) return -1;
  }
  o->quant_skip = skips;
  return 0;
}

/* quantizing moves the outputs: by more than nothing, by no more than the scheme's error */
static void check_moved(const char *file, const char *scheme, int o, const smelt_tensor *before, const smelt_tensor *after) {
  double bound = !strcmp(scheme, "f16") ? 2e-3 : (!strcmp(scheme, "int8") || !strcmp(scheme, "q8_0")) ? 0.05 : 0.3, num = 0, den = 0;
  int64_t n = smelt_tensor_elems(before);
  CHECK(smelt_tensor_elems(after) == n, "%s: output %d changed size", file, o);
  for (int64_t e = 0; e < n && smelt_tensor_elems(after) == n; e++) {
    double a = smelt_tensor_getf(before, e), b = smelt_tensor_getf(after, e);
    num += (a - b) * (a - b);
    den += a * a;
  }
  double r = den > 0 ? sqrt(num / den) : sqrt(num);
  printf("  %-14s output %d: relative change %.3g (bound %g)\n", file, o, r, bound);
  CHECK(r <= bound, "%s: output %d moved by %.3g (bound %g)", file, o, r, bound);
  CHECK(r > 0 || !strcmp(scheme, "none"), "%s: output %d did not change at all: was anything quantized?", file, o);
}

/* Runs the passes the "# passes:" line names (the default list without one). */
static int run_passes(const char *file, const char *text, smelt_ctx *cx, smelt_graph *g) {
  const char *l = strstr(text, "\n# passes:");
  char list[256];
  snprintf(list, sizeof list, "%s", default_passes);
  if (l) {
    l += 11;
    size_t n = strcspn(l, "\n");
    snprintf(list, sizeof list, "%.*s", (int)(n < 255 ? n : 255), l);
  }
  for (char *p = strtok(list, " "); p; p = strtok(NULL, " ")) {
    const struct smelt_pass *ps = smelt_pass_find(p); /* the driver's pipeline */
    CHECK(ps != NULL, "%s: unknown pass '%s'", file, p);
    if (!ps) return SMELT_ERR;
    int rc = ps->run(cx, g);
    CHECK(rc == 0, "%s: %s: %s", file, p, smelt_error_msg(cx));
    if (rc) return rc;
  }
  return 0;
}

static void run_case(const char *dir, const char *file) {
  char path[4200], exp[4200];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  snprintf(exp, sizeof exp, "%s/%.*s.expected", dir, (int)(strlen(file) - 3), file);
  size_t len;
  char *text = t_read_file(path, &len);
  CHECK(text != NULL, "%s: cannot read", path);
  if (!text) return;
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_parse(cx, text, len, file);
  CHECK(g != NULL, "%s: does not parse: %s", file, smelt_error_msg(cx));
  if (!g) { free(text); smelt_ctx_free(cx); return; }
  /* the interpreter before the passes (the graph is evaluated again after them) */
  smelt_tensor in[16], before[16], after[16];
  int nin = g->ninputs < 16 ? g->ninputs : 16, nout = g->noutputs < 16 ? g->noutputs : 16;
  make_inputs(g, text, in);
  int eb = smelt_eval(g, in, before);
  CHECK(eb == 0, "%s: the interpreter fails before the passes: %s", file, smelt_error_msg(cx));
  smelt_clear_error(cx);
  const char *tl = strstr(text, "\n# tolerance:"), *pl = strstr(text, "\n# packs:");
  double tol = tl ? strtod(tl + 13, NULL) : 0;
  struct smelt_build_opts o = {0};
  const char *skips[8];
  int rc = read_options(cx, text, &o, skips);
  CHECK(!rc, "%s: the '# options:' line names an option this runner does not know", file);
  smelt_ctx_set_options(cx, &o);
  if (!rc) rc = run_passes(file, text, cx, g);
  if (!rc) {
    CHECK(!smelt_verify(g), "%s: does not verify after the passes: %s", file, smelt_error_msg(cx));
    if (pl) {
      int packs = 0, want = atoi(pl + 9);
      for (int ni = 0; ni < g->nnodes; ni++)
        if (!g->nodes[ni].dead && smelt_attr_i(&g->nodes[ni], "pack")) packs++;
      CHECK(packs == want, "%s: %d nodes packed, want %d", file, packs, want);
    }
    const char *wl = strstr(text, "\n# winos:");
    if (wl) {
      int winos = 0, want = atoi(wl + 10);
      for (int ni = 0; ni < g->nnodes; ni++)
        if (!g->nodes[ni].dead && smelt_attr_i(&g->nodes[ni], "wino")) winos++;
      CHECK(winos == want, "%s: %d nodes in Winograd form, want %d", file, winos, want);
    }
    size_t ol;
    char *out = t_print_graph(g, 0, &ol);
    CHECK(out && t_golden(exp, out, ol), "%s: output differs from %s", file, exp);
    /* the result is valid IR text that prints back the same */
    smelt_ctx *cx2 = smelt_ctx_new();
    smelt_graph *g2 = out ? smelt_parse(cx2, out, ol, exp) : NULL;
    CHECK(g2 != NULL, "%s: the output does not parse: %s", file, smelt_error_msg(cx2));
    size_t l2;
    char *out2 = g2 ? t_print_graph(g2, 0, &l2) : NULL;
    CHECK(!g2 || (out2 && l2 == ol && !memcmp(out, out2, ol)), "%s: the output does not print back the same", file);
    free(out2);
    smelt_ctx_free(cx2);
    free(out);
    if (!eb) {
      int ea = smelt_eval(g, in, after);
      CHECK(ea == 0, "%s: the interpreter fails after the passes: %s", file, smelt_error_msg(cx));
      for (int k = 0; !ea && k < nout; k++)
        if (o.quant) check_moved(file, o.quant, k, &before[k], &after[k]);
        else CHECK(tol > 0 ? close_tensor(&before[k], &after[k], tol) : same_tensor(&before[k], &after[k]), "%s: output %d changed through the passes", file, k);
      for (int k = 0; !ea && k < nout; k++) smelt_tensor_free(&after[k]);
    }
  }
  for (int o = 0; !eb && o < nout; o++) smelt_tensor_free(&before[o]);
  for (int i = 0; i < nin; i++) smelt_tensor_free(&in[i]);
  free(text);
  smelt_ctx_free(cx);
}

int main(int argc, char **argv) {
  t_rs = 0x853c49e6748fea9bull; /* this test's own seed */
  if (argc > 2 && !strcmp(argv[1], "--passes")) default_passes = argv[2], argc -= 2, argv += 2;
  if (argc < 2) { fprintf(stderr, "usage: ir_passes [--passes LIST] DIR [NAME.ir...]\n"); return 2; }
  const char *dir = argv[1];
  char **files;
  int n = argc > 2 ? argc - 2 : t_list_dir(dir, ".ir", &files);
  if (argc > 2) files = argv + 2;
  CHECK(n > 0, "no .ir files in %s", dir);
  for (int i = 0; i < n; i++) {
    int before = t_failures;
    run_case(dir, files[i]);
    printf("  %s: %s\n", files[i], t_failures == before ? "ok" : "FAILED");
  }
  if (argc <= 2) t_free_list(files, n);
  return t_done("ir_passes");
}
