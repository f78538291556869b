/* tests/e2e/dynamic.c — models with dynamic dims compiled, built and run end to end.
 *
 * A model folder holds model.onnx, inputs in_X.npy, numpy outputs ref_X.npy (made by
 * tools/make_test_fixtures.py, independently of smelt) and cases.txt, one build per
 * line:
 *
 *     smelt build options | inputs to run | inputs the executable must reject
 *
 * For each line the model is built into an executable with those options (e.g.
 * --dim N<=8, --dim N=4); each input is run through the executable and through
 * `smelt eval` (the reference interpreter) with the same options, and every output
 * must match between the two (rtol 1e-4, atol 1e-6: kernels accumulate in float, the
 * interpreter in double) and ref_X.npy when it exists (rtol 1e-4, atol 1e-5).  Each
 * rejected input must make the executable exit 1 with a message, without a signal.
 *
 *   e2e_dynamic SMELT MODEL_DIR WORK_DIR */
#include "../testutil.h"
#include "runtime/smelt_npy.h"

#include <math.h>

static const char *smelt;
static char model_dir[4096], work[4096];

/* Splits s at spaces into out (at most max words); returns the count. */
static int words(char *s, char **out, int max) {
  int n = 0;
  for (char *t = strtok(s, " \t\r\n"); t && n < max; t = strtok(NULL, " \t\r\n")) out[n++] = t;
  return n;
}

static int load_npy(const char *path, struct smelt_npy *a) {
  const char *e = smelt_npy_read(path, a);
  if (e) printf("  %s: %s\n", path, e);
  return e ? -1 : 0;
}

/* Element i of a float array as double. */
static double getf(const struct smelt_npy *a, int64_t i) {
  if (!strcmp(a->descr, "<f8")) return ((const double *)a->data)[i];
  if (!strcmp(a->descr, "<f4")) return ((const float *)a->data)[i];
  return NAN;
}

static int close_enough(const char *what, const char *pa, const char *pb, double rtol, double atol) {
  struct smelt_npy a, b;
  if (load_npy(pa, &a)) return 0;
  if (load_npy(pb, &b)) { free(a.data); return 0; }
  int ok = a.rank == b.rank && !strcmp(a.descr, b.descr) && a.elems == b.elems;
  for (int k = 0; ok && k < a.rank; k++) ok = a.dims[k] == b.dims[k];
  if (!ok) printf("  %s: %s and %s differ in dtype or shape\n", what, pa, pb);
  int isf = a.descr[1] == 'f';
  for (int64_t i = 0; ok && i < a.elems; i++) {
    if (isf) {
      double x = getf(&a, i), y = getf(&b, i);
      if (fabs(x - y) <= atol + rtol * fabs(y) || (isnan(x) && isnan(y))) continue;
      printf("  %s: element %lld is %.9g in %s and %.9g in %s\n", what, (long long)i, x, pa, y, pb);
      ok = 0;
    } else if (memcmp((char *)a.data, (char *)b.data, (size_t)a.elems * (size_t)atoi(a.descr + 2))) {
      printf("  %s: %s and %s differ\n", what, pa, pb);
      ok = 0;
    }
  }
  free(a.data);
  free(b.data);
  return ok;
}

static void run_line(int lineno, char *line) {
  char *bar1 = strchr(line, '|'), *bar2 = bar1 ? strchr(bar1 + 1, '|') : NULL;
  if (!bar1) { CHECK(0, "cases.txt:%d: expected 'options | inputs | rejects'", lineno); return; }
  *bar1 = 0;
  if (bar2) *bar2 = 0;
  char *opts[32], *ins[32], *rej[32];
  int no = words(line, opts, 32), ni = words(bar1 + 1, ins, 32), nr = bar2 ? words(bar2 + 1, rej, 32) : 0;
  char dir[8300], mpath[8300], exe[8300];
  snprintf(dir, sizeof dir, "%s/case%d", work, lineno);
  snprintf(mpath, sizeof mpath, "%s/model.onnx", model_dir);
  snprintf(exe, sizeof exe, "%s/model", dir);
  t_rmtree(dir);
  t_mkdirs(dir);
  char desc[1024] = "";
  for (int i = 0; i < no; i++) snprintf(desc + strlen(desc), sizeof desc - strlen(desc), "%s%s", i ? " " : "", opts[i]);
  /* build */
  const char *av[64];
  int n = 0;
  av[n++] = smelt; av[n++] = "build"; av[n++] = mpath; av[n++] = "-o"; av[n++] = dir; av[n++] = "-q";
  for (int i = 0; i < no; i++) av[n++] = opts[i];
  av[n] = NULL;
  struct t_run r;
  char st[64];
  int built = !t_run(av, work, 600, &r) && r.exited && r.code == 0;
  CHECK(built, "[%s] smelt build: %s\n%s", desc, t_status(&r, st, sizeof st), r.err);
  t_run_free(&r);
  if (!built) return;
  for (int i = 0; i < ni; i++) {
    char in[8300], odir[8400], edir[8400], ref[8400];
    snprintf(in, sizeof in, "%s/%s", model_dir, ins[i]);
    snprintf(odir, sizeof odir, "%s/out_%s", dir, ins[i]);
    snprintf(edir, sizeof edir, "%s/eval_%s", dir, ins[i]);
    const char *xav[] = {exe, in, "-o", odir, NULL};
    int ok = !t_run(xav, work, 120, &r) && r.exited && r.code == 0;
    CHECK(ok, "[%s] %s: the executable: %s\n%s", desc, ins[i], t_status(&r, st, sizeof st), r.err);
    t_run_free(&r);
    n = 0;
    av[n++] = smelt; av[n++] = "eval"; av[n++] = mpath; av[n++] = in; av[n++] = "-o"; av[n++] = edir;
    for (int k = 0; k < no; k++) av[n++] = opts[k];
    av[n] = NULL;
    int eok = !t_run(av, work, 600, &r) && r.exited && r.code == 0;
    CHECK(eok, "[%s] %s: smelt eval: %s\n%s", desc, ins[i], t_status(&r, st, sizeof st), r.err);
    t_run_free(&r);
    if (!ok || !eok) continue;
    /* every output the executable wrote, against the interpreter and the reference */
    char **outs;
    int nouts = t_list_dir(odir, ".npy", &outs);
    CHECK(nouts > 0, "[%s] %s: no outputs written", desc, ins[i]);
    for (int k = 0; k < nouts; k++) {
      char po[8600], pe[8600];
      snprintf(po, sizeof po, "%s/%s", odir, outs[k]);
      snprintf(pe, sizeof pe, "%s/%s", edir, outs[k]);
      CHECK(close_enough(ins[i], po, pe, 1e-4, 1e-6), "[%s] %s: output %s: the executable and smelt eval differ", desc, ins[i], outs[k]);
      if (nouts == 1 && !strncmp(ins[i], "in_", 3)) {
        snprintf(ref, sizeof ref, "%s/ref_%s", model_dir, ins[i] + 3);
        if (t_exists(ref)) {
          CHECK(close_enough(ins[i], po, ref, 1e-4, 1e-5), "[%s] %s: the executable and the numpy reference differ", desc, ins[i]);
          CHECK(close_enough(ins[i], pe, ref, 1e-4, 1e-5), "[%s] %s: smelt eval and the numpy reference differ", desc, ins[i]);
        }
      }
      free(outs[k]);
    }
    free(outs);
  }
  for (int i = 0; i < nr; i++) {
    char in[8300];
    snprintf(in, sizeof in, "%s/%s", model_dir, rej[i]);
    const char *xav[] = {exe, in, NULL};
    CHECK(!t_run(xav, work, 120, &r) && r.exited && r.code == 1 && strstr(r.err, rej[i]), "[%s] %s should be rejected with exit 1 and a message: %s\n%s",
          desc, rej[i], t_status(&r, st, sizeof st), r.err);
    t_run_free(&r);
  }
  printf("  [%s]: %d inputs run, %d rejected\n", desc, ni, nr);
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: e2e_dynamic SMELT MODEL_DIR WORK_DIR\n"); return 2; }
  static char sm[4096];
  if (!realpath(argv[1], sm)) SKIP("%s is not built", argv[1]);
  smelt = sm;
  if (!realpath(argv[2], model_dir)) SKIP("%s is missing (tools/make_test_fixtures.py makes it)", argv[2]);
  t_mkdirs(argv[3]);
  if (!realpath(argv[3], work)) return 2;
  char cases[4200];
  snprintf(cases, sizeof cases, "%s/cases.txt", model_dir);
  char *text = t_read_file(cases, NULL);
  if (!text) SKIP("%s is missing", cases);
  int lineno = 0, lines = 0;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    lineno++;
    while (*line == ' ') line++;
    if (!*line || *line == '#') continue;
    lines++;
    run_line(lineno, line);
  }
  free(text);
  CHECK(lines > 0, "%s has no cases", cases);
  return t_done("e2e_dynamic");
}
