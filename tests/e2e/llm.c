/* tests/e2e/llm.c — a reference LLM fixture (tests/e2e/llm/NAME, made by
 * tools/make_llm_fixtures.py with PyTorch) compiled and run end to end:
 *
 *   1. `smelt build FIXTURE -o WORK --name m` (with --gguf: FIXTURE/model.gguf, the same
 *      weights in llama.cpp's form);
 *   2. `WORK/m --prompt-ids "IDS" --logits WORK/logits.npy -n 1`: the logits of every
 *      prompt position ([n, vocab] or [1, n, vocab]; an executable that writes the last
 *      position only ([vocab] or [1, vocab]) is compared on that row) must match
 *      logits.bin row by row: max |got - want| <= 1e-4 * max |want|;
 *   3. `WORK/m --prompt-ids "IDS" -n 16 --temp 0 --top-k 1 --tokens`: the ids of
 *      greedy_ids.txt must appear, in order and contiguous, among the integers printed
 *      on stdout (the prompt may be echoed before them).
 *
 * Until the architecture builders exist this SKIPs (exit 77), saying why: when the
 * build fails with a message saying the folder, file or architecture is not supported
 * (yet) — or, for GGUF, that it is not a valid ONNX model (a driver that does not know
 * the format) — or when the executable does not know --logits.  Any other failure fails.
 *
 * Further arguments are passed to smelt build (the packed variants: --layout-min 1).
 *
 *   e2e_llm SMELT FIXTURE_DIR WORK_DIR [--gguf] [BUILD FLAGS...] */
#include "../testutil.h"
#include "runtime/smelt_npy.h"

#include <ctype.h>
#include <math.h>

static int read_ids(const char *path, long *ids, int max) {
  char *t = t_read_file(path, NULL);
  if (!t) return -1;
  int n = 0;
  for (char *p = t, *e; *p && n < max;) {
    long v = strtol(p, &e, 10);
    if (e == p) break;
    ids[n++] = v;
    p = e;
  }
  free(t);
  return n;
}

/* the first line of text, for messages */
static const char *line1(const char *s, char *buf, size_t n) {
  snprintf(buf, n, "%.*s", (int)strcspn(s, "\n"), s);
  return buf;
}

static int says_unsupported(const char *err) {
  char low[4096];
  size_t i = 0;
  for (; err[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)err[i]);
  low[i] = 0;
  /* "not a valid onnx model": a driver that does not know GGUF yet reads it as ONNX */
  return strstr(low, "not supported") || strstr(low, "unsupported") || strstr(low, "not yet") || strstr(low, "no builder") ||
         strstr(low, "not a valid onnx model");
}

int main(int argc, char **argv) {
  if (argc < 4 || argc > 12) {
    fprintf(stderr, "usage: e2e_llm SMELT FIXTURE_DIR WORK_DIR [--gguf] [BUILD FLAGS...]\n");
    return 2;
  }
  const char *smelt = argv[1], *fix = argv[2], *work = argv[3];
  int gguf = argc >= 5 && !strcmp(argv[4], "--gguf"), nextra = argc - 4 - gguf;
  char model[4200], p[4300], name[256], buf[1024];
  const char *b = strrchr(fix, '/');
  snprintf(name, sizeof name, "e2e_llm %s%s", b ? b + 1 : fix, gguf ? " (gguf)" : "");
  if (!t_exists(smelt)) SKIP("%s is not built", smelt);
  snprintf(model, sizeof model, gguf ? "%s/model.gguf" : "%s", fix);
  if (!t_exists(model)) SKIP("%s is missing (tools/make_llm_fixtures.py makes it)", model);
  long prompt[64], greedy[64];
  snprintf(p, sizeof p, "%s/prompt_ids.txt", fix);
  int np = read_ids(p, prompt, 64);
  snprintf(p, sizeof p, "%s/greedy_ids.txt", fix);
  int ng = read_ids(p, greedy, 64);
  snprintf(p, sizeof p, "%s/logits.bin", fix);
  size_t lb = 0;
  float *want = (float *)t_read_file(p, &lb);
  if (np < 1 || ng < 1 || !want || lb % (4 * (size_t)np)) {
    printf("%s: the fixture's prompt_ids.txt, greedy_ids.txt or logits.bin is unreadable\n", name);
    return 1;
  }
  int64_t vocab = (int64_t)(lb / 4 / (size_t)np);
  t_rmtree(work);
  t_mkdirs(work);

  /* 1. build */
  struct t_run r;
  char st[64];
  const char *build[20] = {smelt, "build", model, "-o", work, "--name", "m"};
  for (int i = 0; i < nextra; i++) build[7 + i] = argv[4 + gguf + i]; /* e.g. --target T --layout-min 1 */
  if (t_run(build, work, 600, &r)) { printf("%s: cannot run %s\n", name, smelt); return 1; }
  if (!r.exited || r.code) {
    if (r.exited && r.code == 1 && says_unsupported(r.err)) {
      printf("SKIPPED: smelt build does not accept %s yet: %s\n", model, line1(r.err, buf, sizeof buf));
      t_run_free(&r);
      return 77;
    }
    CHECK(0, "%s: smelt build %s: %s\n%.2000s", name, model, t_status(&r, st, sizeof st), r.err);
    t_run_free(&r);
    return t_done(name);
  }
  t_run_free(&r);
  char exe[4300], ids[1024] = "", npy[4300];
  snprintf(exe, sizeof exe, "%s/m", work);
  snprintf(npy, sizeof npy, "%s/logits.npy", work);
  for (int i = 0; i < np; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%ld", i ? " " : "", prompt[i]);

  /* 2. the prompt's logits */
  const char *run1[] = {exe, "--prompt-ids", ids, "--logits", npy, "-n", "1", NULL};
  if (t_run(run1, work, 300, &r)) { printf("%s: cannot run %s\n", name, exe); return 1; }
  if (r.exited && r.code && strstr(r.err, "--logits")) {
    printf("SKIPPED: the generated executable does not take --logits yet: %s\n", line1(r.err, buf, sizeof buf));
    t_run_free(&r);
    return 77;
  }
  CHECK(r.exited && r.code == 0, "%s: %s --prompt-ids ... --logits: %s\n%.2000s", name, exe, t_status(&r, st, sizeof st), r.err);
  t_run_free(&r);
  struct smelt_npy a;
  const char *e = smelt_npy_read(npy, &a);
  CHECK(!e, "%s: %s: %s", name, npy, e ? e : "");
  if (!e) {
    int all = a.elems == (int64_t)np * vocab, last = a.elems == vocab;
    CHECK(!strcmp(a.descr, "<f4") && (all || last), "%s: logits.npy is %s with %lld elements; expected f32 [%d, %lld] or [%lld]", name, a.descr,
          (long long)a.elems, np, (long long)vocab, (long long)vocab);
    if (!strcmp(a.descr, "<f4") && (all || last)) {
      const float *got = a.data;
      double worst = 0;
      int rows = all ? np : 1;
      for (int row = 0; row < rows; row++) {
        const float *w = want + (size_t)(all ? row : np - 1) * (size_t)vocab, *g = got + (size_t)row * (size_t)vocab;
        double dmax = 0, wmax = 0;
        for (int64_t j = 0; j < vocab; j++) {
          double d = fabs((double)g[j] - (double)w[j]);
          dmax = isnan(d) ? INFINITY : fmax(dmax, d);
          wmax = fmax(wmax, fabs((double)w[j]));
        }
        double rel = dmax / wmax;
        worst = fmax(worst, rel);
        CHECK(rel <= 1e-4, "%s: position %d: logits differ from PyTorch's by %.3g of their largest magnitude (limit 1e-4)", name,
              all ? row : np - 1, rel);
      }
      printf("%s: logits of %d position%s: max relative error %.3g\n", name, rows, rows > 1 ? "s" : "", worst);
    }
    free(a.data);
  }

  /* 3. greedy decoding */
  char n[16];
  snprintf(n, sizeof n, "%d", ng);
  const char *run2[] = {exe, "--prompt-ids", ids, "-n", n, "--temp", "0", "--top-k", "1", "--tokens", NULL};
  if (t_run(run2, work, 300, &r)) { printf("%s: cannot run %s\n", name, exe); return 1; }
  CHECK(r.exited && r.code == 0, "%s: %s -n %d --tokens: %s\n%.2000s", name, exe, ng, t_status(&r, st, sizeof st), r.err);
  long out[4096];
  int no = 0;
  for (char *q = r.out; *q && no < 4096;) {
    if (isdigit((unsigned char)*q)) out[no++] = strtol(q, &q, 10);
    else q++;
  }
  int found = 0;
  for (int s = 0; !found && s + ng <= no; s++) {
    int k = 0;
    while (k < ng && out[s + k] == greedy[k]) k++;
    found = k == ng;
  }
  CHECK(found, "%s: the greedy continuation (greedy_ids.txt) is not in the output:\n%.1000s", name, r.out);
  if (found) printf("%s: greedy continuation of %d tokens matches\n", name, ng);
  t_run_free(&r);
  free(want);
  return t_done(name);
}
