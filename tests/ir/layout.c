/* tests/ir/layout.c — golden tests of the layout pass (passes/layout.c): each
 * tests/ir/layout/NAME.ir holds "# options: --target T [--layout-min N]" and
 * "# packs: P" lines; it is parsed, run through fold, dce, fuse and layout with those
 * options and printed; the text must equal NAME.expected (SMELT_UPDATE_GOLDEN=1
 * rewrites it).  Besides: the result verifies, its text parses back to the same text,
 * exactly P nodes carry a pack attribute, and the reference interpreter's outputs on
 * random inputs are bit for bit those before the passes (packing moves bytes, not
 * values; the interpreter reads the packed index and sums in the same order).
 *
 *   ir_layout DIR */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "ir/ir.h"
#include "passes/passes.h"

/* "# options: --target T [--layout-min N]" into o */
static int read_options(smelt_ctx *cx, const char *text, struct smelt_build_opts *o) {
  const char *p = strstr(text, "# options:");
  if (!p) return -1;
  p += 10;
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
    else return -1;
  }
  return o->target ? 0 : -1;
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
  struct smelt_build_opts o = {0};
  const char *pl = strstr(text, "# packs:");
  int want_packs = pl ? atoi(pl + 8) : -1;
  CHECK(!read_options(cx, text, &o) && want_packs >= 0, "%s: no valid '# options:' / '# packs:' line", file);
  smelt_graph *g = smelt_parse(cx, text, len, file);
  CHECK(g != NULL, "%s: does not parse: %s", file, smelt_error_msg(cx));
  if (!g || !o.target || want_packs < 0) { free(text); smelt_ctx_free(cx); return; }
  smelt_tensor in[8], before[8], after[8];
  int nin = g->ninputs, nout = g->noutputs;
  for (int i = 0; i < nin; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    memset(&in[i], 0, sizeof in[i]);
    in[i].dt = v->dt;
    in[i].rank = v->shape.rank;
    for (int k = 0; k < v->shape.rank; k++) in[i].dims[k] = v->shape.d[k].sym ? 5 : v->shape.d[k].n; /* symbols at 5 */
    int64_t n = smelt_tensor_elems(&in[i]);
    in[i].data = malloc(8 * (size_t)(n ? n : 1));
    for (int64_t e = 0; e < n; e++) {
      if (smelt_dtype_is_float(v->dt)) smelt_tensor_setf(&in[i], e, ((double)(t_rnd() % 8192) - 4096) / 1024.0);
      else smelt_tensor_seti(&in[i], e, t_rnd() % 4);
    }
  }
  int eb = smelt_eval(g, in, before);
  CHECK(eb == 0, "%s: eval before: %s", file, smelt_error_msg(cx));
  smelt_ctx_set_options(cx, &o);
  int rc = smelt_pass_fold(cx, g) || smelt_pass_dce(cx, g) || smelt_pass_fuse(cx, g) || smelt_pass_layout(cx, g);
  CHECK(!rc, "%s: passes: %s", file, smelt_error_msg(cx));
  CHECK(rc || !smelt_verify(g), "%s: does not verify after layout: %s", file, smelt_error_msg(cx));
  int packs = 0;
  for (int ni = 0; !rc && ni < g->nnodes; ni++)
    if (!g->nodes[ni].dead && smelt_attr_i(&g->nodes[ni], "pack")) packs++;
  CHECK(rc || packs == want_packs, "%s: %d nodes packed, want %d", file, packs, want_packs);
  size_t olen = 0;
  char *out = rc ? NULL : t_print_graph(g, 0, &olen);
  if (out) {
    if (getenv("SMELT_UPDATE_GOLDEN")) t_write_file(exp, out, olen);
    size_t elen;
    char *want = t_read_file(exp, &elen);
    CHECK(want != NULL, "%s: missing (make update-golden)", exp);
    if (want && (elen != olen || memcmp(want, out, olen))) {
      CHECK(0, "%s: output differs from %s", file, exp);
      t_show_diff(file, out, want);
    }
    free(want);
    smelt_ctx *cx2 = smelt_ctx_new();
    smelt_graph *g2 = smelt_parse(cx2, out, olen, file);
    CHECK(g2 != NULL, "%s: the packed IR does not parse: %s", file, smelt_error_msg(cx2));
    size_t l2 = 0;
    char *again = g2 ? t_print_graph(g2, 0, &l2) : NULL;
    CHECK(!g2 || (again && l2 == olen && !memcmp(again, out, olen)), "%s: parse/print round trip differs", file);
    free(again);
    smelt_ctx_free(cx2);
  }
  if (!rc && eb == 0) {
    int ea = smelt_eval(g, in, after);
    CHECK(ea == 0, "%s: eval after: %s", file, smelt_error_msg(cx));
    for (int k = 0; ea == 0 && k < nout; k++) {
      int64_t n = smelt_tensor_elems(&before[k]);
      CHECK(smelt_tensor_elems(&after[k]) == n, "%s: output %d changed size", file, k);
      for (int64_t e = 0; e < n && e < smelt_tensor_elems(&after[k]); e++)
        if (smelt_tensor_getf(&before[k], e) != smelt_tensor_getf(&after[k], e)) {
          CHECK(0, "%s: output %d [%lld] = %.9g after layout, %.9g before", file, k, (long long)e, smelt_tensor_getf(&after[k], e),
                smelt_tensor_getf(&before[k], e));
          break;
        }
      smelt_tensor_free(&after[k]);
    }
  }
  if (eb == 0)
    for (int k = 0; k < nout; k++) smelt_tensor_free(&before[k]);
  for (int i = 0; i < nin; i++) free(in[i].data);
  free(out);
  free(text);
  smelt_ctx_free(cx);
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "tests/ir/layout";
  t_rs = 0x3c6ef372fe94f82bull; /* this test's own seed */
  char **files;
  int n = t_list_dir(dir, ".ir", &files);
  CHECK(n > 0, "%s: no .ir cases", dir);
  for (int i = 0; i < n; i++) run_case(dir, files[i]);
  if (n > 0) t_free_list(files, n);
  return t_done("ir_layout");
}
