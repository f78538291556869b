/* tests/golden/emit.c — the C that `smelt build --emit c` writes for small graphs,
 * compared with checked-in files, and the byte-identical builds of DESIGN §6.
 *
 * For each tests/golden/NAME.ir:
 *   - `smelt build NAME.ir -o out --emit c` runs in a scratch folder (so the paths and
 *     options recorded in the header are the same everywhere); out/NAME.c and
 *     out/NAME.h must equal NAME.c.golden and NAME.h.golden (SMELT_UPDATE_GOLDEN=1,
 *     i.e. make update-golden, rewrites them);
 *   - the emitted C compiles warning-free with -std=c99 -Wall -Wextra -pedantic;
 *   - the same build run twice (--emit exe, and --emit lib; constants of 16 bytes
 *     and more in NAME_weights.o, through LLVM) gives byte-identical outputs, file
 *     for file.
 *
 *   golden_emit SMELT SRCDIR WORKDIR */
#include "../testutil.h"

static const char *smelt;
static char srcdir[4096], work[4096];

static int run_in(const char *dir, const char *const *av, struct t_run *r) {
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd) || chdir(dir)) return -1;
  int rc = t_run(av, ".", 300, r);
  if (chdir(cwd)) return -1;
  return rc;
}

static int ok_run(const char *what, const struct t_run *r) {
  char st[64];
  if (r->exited && r->code == 0) return 1;
  printf("  %s: %s\n%s%s", what, t_status(r, st, sizeof st), r->out, r->err);
  return 0;
}

/* Every file of dir a equals the same-named file of dir b, and no file is missing. */
static void same_dirs(const char *what, const char *a, const char *b) {
  char **fa, **fb;
  int na = t_list_dir(a, "", &fa), nb = t_list_dir(b, "", &fb);
  CHECK(na > 0 && na == nb, "%s: %d files in %s, %d in %s", what, na, a, nb, b);
  for (int i = 0; i < na && i < nb; i++) {
    CHECK(!strcmp(fa[i], fb[i]), "%s: file %s vs %s", what, fa[i], fb[i]);
    char pa[8300], pb[8300];
    snprintf(pa, sizeof pa, "%s/%s", a, fa[i]);
    snprintf(pb, sizeof pb, "%s/%s", b, fb[i]);
    size_t la = 0, lb = 0;
    char *da = t_read_file(pa, &la), *db = t_read_file(pb, &lb);
    CHECK(da && db && la == lb && !memcmp(da, db, la), "%s: %s differs between two builds", what, fa[i]);
    free(da);
    free(db);
  }
  t_free_list(fa, na);
  t_free_list(fb, nb);
}

static void run_case(const char *file) {
  char name[256], dir[8300], path[8300];
  snprintf(name, sizeof name, "%.*s", (int)(strlen(file) - 3), file);
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_rmtree(dir);
  t_mkdirs(dir);
  size_t len;
  snprintf(path, sizeof path, "%s/%s", srcdir, file);
  char *text = t_read_file(path, &len);
  snprintf(path, sizeof path, "%s/%s", dir, file);
  CHECK(text && !t_write_file(path, text, len), "%s: cannot copy", file);
  free(text);
  struct t_run r;
  /* ---- golden C ---- */
  const char *av[] = {smelt, "build", file, "-o", "out", "--emit", "c", "-q", NULL};
  CHECK(!run_in(dir, av, &r) && ok_run("smelt build --emit c", &r), "%s: build failed", file);
  t_run_free(&r);
  for (int k = 0; k < 2; k++) {
    const char *ext = k ? "h" : "c";
    char got[8300], exp[8300];
    snprintf(got, sizeof got, "%s/out/%s.%s", dir, name, ext);
    snprintf(exp, sizeof exp, "%s/%s.%s.golden", srcdir, name, ext);
    char *g = t_read_file(got, &len);
    CHECK(g && t_golden(exp, g, len), "%s: %s.%s differs from %s", file, name, ext, exp);
    free(g);
  }
  /* ---- the emitted C compiles cleanly ---- */
  const char *cc = getenv("CC");
  char csrc[8300], msrc[8300], exe[8300];
  snprintf(csrc, sizeof csrc, "out/%s.c", name);
  snprintf(msrc, sizeof msrc, "out/%s_main.c", name);
  snprintf(exe, sizeof exe, "out/%s.exe", name);
  const char *cav[] = {cc && *cc ? cc : "cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-pedantic", "-I", "out", "-o", exe, csrc, msrc, "-lm", NULL};
  CHECK(!run_in(dir, cav, &r) && ok_run("cc", &r) && !*r.err, "%s: the emitted C does not compile cleanly:\n%s", file, r.err);
  t_run_free(&r);
  /* ---- two builds, byte-identical (the same command in the same folder: the
   * debug info of -g in $SMELT_CFLAGS records the folder) ---- */
  for (int lib = 0; lib < 2; lib++) {
    char d[8400], first[8500], second[8500];
    snprintf(d, sizeof d, "%s/%s", dir, lib ? "lib" : "exe");
    snprintf(first, sizeof first, "%s/first", d);
    snprintf(second, sizeof second, "%s/out", d);
    t_mkdirs(d);
    char model[300];
    snprintf(model, sizeof model, "../%s", file);
    for (int k = 0; k < 2; k++) {
      const char *bav[] = {smelt, "build", model, "-o", "out", "--emit", lib ? "lib" : "exe", "--weights-min", "16", "-q", NULL};
      CHECK(!run_in(d, bav, &r) && ok_run("smelt build", &r), "%s: build %d (%s) failed", file, k, lib ? "lib" : "exe");
      t_run_free(&r);
      if (!k) CHECK(!rename(second, first), "%s: cannot rename %s", file, second);
    }
    same_dirs(file, first, second);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: golden_emit SMELT SRCDIR WORKDIR\n"); return 2; }
  static char sm[4096];
  if (!realpath(argv[1], sm)) SKIP("%s is not built", argv[1]);
  smelt = sm;
  t_mkdirs(argv[3]);
  if (!realpath(argv[2], srcdir) || !realpath(argv[3], work)) { fprintf(stderr, "golden_emit: bad folders\n"); return 2; }
  char **files;
  int n = t_list_dir(srcdir, ".ir", &files);
  CHECK(n > 0, "no .ir files in %s", srcdir);
  for (int i = 0; i < n; i++) {
    int before = t_failures;
    run_case(files[i]);
    printf("  %s: %s\n", files[i], t_failures == before ? "ok" : "FAILED");
  }
  t_free_list(files, n);
  return t_done("golden_emit");
}
