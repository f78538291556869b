/* tests/conformance/runner.c — runs ONNX's backend node tests (Debian's
 * libonnx-testdata) through smelt: each model is compiled to C and run on every
 * test_data_set_*, and also evaluated by the reference interpreter; outputs are
 * compared with the expected ones (floats within rtol/atol, integers exactly).
 *
 *   conformance [--data DIR] [--work DIR] [--report FILE] [--expected FILE]
 *               [--update-expected] [--filter SUBSTR] [--jobs N] [--batch N]
 *               [--dir MODEL_DIR] [--exe] [--require-pass] [--weights-min BYTES] [--dim NAME=V|NAME<=V]...
 *               [--target T] [--cc CC] [--cflags FLAGS] [--emulator "CMD ARGS"] [--select FILE] [--every N]
 *
 * Speed: models are read, evaluated and emitted in-process; the C of ~40 models is
 * compiled as one translation unit (the runtime headers are include-guarded and
 * every generated symbol is prefixed), two compilers at a time; a batch that does
 * not compile is split to find the culprit.
 *
 * A test whose shape operand is a graph input (Reshape's target, Slice's starts...)
 * is rebuilt with that input frozen from its test data (--const), as a user would,
 * and reported as such.  The run fails if a test listed in the expected-pass file
 * no longer passes through compiled C.
 *
 * Cross mode (tests/cross): --target names smelt's target (its flags are added), --cc and
 * --cflags the cross compiler and its flags (e.g. aarch64-linux-gnu-gcc, -static), and
 * --emulator the command every executable runs under (e.g. "qemu-aarch64 -cpu max");
 * --select FILE keeps only the tests listed in FILE (the expected-pass list) and
 * --every N one test in N of those, to bound the time under emulation. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/driver.h"
#include "compiler/targets.h"
#include "onnx.pb-c.h"
#include "runtime/smelt_npy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAXSETS 8
#define MAXIO 16

struct test {
  char name[128], dir[512], cname[16];
  int nsets, nin, nout;
  char set[MAXSETS][600];
  char frozen[256];         /* names of inputs frozen with --const */
  int frozen_idx[MAXIO];    /* 1 if input k was frozen */
  char *out_names[MAXIO];   /* output names as the executable writes them */
  int built;                /* C emitted */
  int batch;
  /* results */
  const char *c_status;     /* "pass" | "fail" | "unsupported" */
  const char *ref_status;
  char c_why[400], ref_why[400];
};

/* Bookkeeping that lives until the end of the run: freed at once by free_kept()
 * (so leak checkers see a clean exit). */
static void **kept;
static size_t nkept, cap_kept;
static void *keep(void *p) {
  if (nkept == cap_kept) {
    void **k = realloc(kept, sizeof *k * (cap_kept = cap_kept ? 2 * cap_kept : 256));
    if (!k) return p;
    kept = k;
  }
  kept[nkept++] = p;
  return p;
}
static void free_kept(void) {
  for (size_t i = 0; i < nkept; i++) free(kept[i]);
  free(kept);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* one-line, bounded copy of a diagnostic */
static void why(char *dst, size_t n, const char *msg) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", msg ? msg : "?");
  snprintf(dst, n, "%s", tmp);
  for (char *p = dst; *p; p++)
    if (*p == '\n' || *p == '|') *p = ' ';
}

/* ---- comparing tensors ---------------------------------------------------------------- */
static int compare(const smelt_tensor *got, const smelt_tensor *exp, double rtol, double atol, char *msg, size_t n) {
  /* ONNX 1.12's test data stores bfloat16 tensors as uint16: compare their bits */
  smelt_tensor g2 = *got, e2 = *exp;
  if ((got->dt == SMELT_DT_BF16 && exp->dt == SMELT_DT_U16) || (got->dt == SMELT_DT_U16 && exp->dt == SMELT_DT_BF16)) {
    g2.dt = e2.dt = SMELT_DT_U16;
    got = &g2;
    exp = &e2;
  }
  if (got->dt != exp->dt) { snprintf(msg, n, "dtype %s, expected %s", smelt_dtype_name(got->dt), smelt_dtype_name(exp->dt)); return 0; }
  int64_t ne = smelt_tensor_elems(exp);
  if (got->rank != exp->rank || smelt_tensor_elems(got) != ne) { snprintf(msg, n, "shape differs (rank %d vs %d)", got->rank, exp->rank); return 0; }
  for (int i = 0; i < exp->rank; i++)
    if (got->dims[i] != exp->dims[i]) { snprintf(msg, n, "dim %d is %lld, expected %lld", i, (long long)got->dims[i], (long long)exp->dims[i]); return 0; }
  int isf = smelt_dtype_is_float(exp->dt);
  if (exp->dt == SMELT_DT_F16 || exp->dt == SMELT_DT_BF16) { rtol = rtol > 1e-3 ? rtol : 1e-3; if (exp->dt == SMELT_DT_BF16) rtol = 1e-2; }
  for (int64_t i = 0; i < ne; i++) {
    if (isf) {
      double a = smelt_tensor_getf(got, i), b = smelt_tensor_getf(exp, i);
      if (isnan(a) && isnan(b)) continue;
      if (isinf(b) || isinf(a) ? a == b : fabs(a - b) <= atol + rtol * fabs(b)) continue;
      snprintf(msg, n, "element %lld is %.9g, expected %.9g", (long long)i, a, b);
      return 0;
    }
    size_t es = (size_t)smelt_dtype_bytes(exp->dt);
    if (memcmp((char *)got->data + i * es, (char *)exp->data + i * es, es)) {
      snprintf(msg, n, "element %lld is %.17g, expected %.17g", (long long)i, smelt_tensor_getf(got, i), smelt_tensor_getf(exp, i));
      return 0;
    }
  }
  return 1;
}

/* ---- the ONNX model's input names (initializers excluded) ------------------------------- */
static int onnx_inputs(const char *path, char names[MAXIO][128], int *nout, char onames[MAXIO][128]) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) || !st.st_size) { close(fd); return -1; }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return -1;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, (size_t)st.st_size, m);
  munmap(m, (size_t)st.st_size);
  if (!mp || !mp->graph) { if (mp) onnx__model_proto__free_unpacked(mp, NULL); return -1; }
  int n = 0;
  for (size_t i = 0; i < mp->graph->n_input && n < MAXIO; i++) {
    int init = 0;
    for (size_t k = 0; k < mp->graph->n_initializer; k++) init |= !strcmp(mp->graph->initializer[k]->name, mp->graph->input[i]->name);
    if (!init) snprintf(names[n++], 128, "%s", mp->graph->input[i]->name);
  }
  *nout = 0;
  for (size_t i = 0; i < mp->graph->n_output && *nout < MAXIO; i++) snprintf(onames[(*nout)++], 128, "%s", mp->graph->output[i]->name);
  onnx__model_proto__free_unpacked(mp, NULL);
  return n;
}

static int load_pb(const char *path, smelt_tensor *t) {
  smelt_ctx *cx = smelt_ctx_new();
  int rc = smelt_read_tensor_file(cx, path, t);
  smelt_ctx_free(cx);
  return rc;
}

static int exists(const char *p) { struct stat st; return !stat(p, &st); }

/* ---- processes ------------------------------------------------------------------------------ */
static pid_t spawn(const char *const *av, const char *out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (out) {
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid;
  int rc = posix_spawnp(&pid, av[0], &fa, NULL, (char *const *)av, environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc ? -1 : pid;
}

/* Runs up to `jobs` commands at once; status[i] = exit code (or 128+signal, or 124 on timeout). */
struct job { const char *const *av; const char *log; int status; };
static void run_jobs(struct job *jobs, int n, int par, double timeout) {
  pid_t *pids = calloc((size_t)n, sizeof *pids);
  double *start = calloc((size_t)n, sizeof *start);
  int next = 0, running = 0, done = 0;
  while (done < n) {
    while (running < par && next < n) {
      pids[next] = spawn(jobs[next].av, jobs[next].log);
      start[next] = now();
      if (pids[next] < 0) { jobs[next].status = 127; done++; }
      else running++;
      next++;
    }
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
      for (int i = 0; i < next; i++)
        if (pids[i] > 0 && now() - start[i] > timeout) { kill(pids[i], SIGKILL); start[i] = 1e30; }
      continue;
    }
    for (int i = 0; i < next; i++)
      if (pids[i] == p) {
        jobs[i].status = WIFEXITED(st) ? WEXITSTATUS(st) : start[i] > 1e29 ? 124 : 128 + WTERMSIG(st);
        pids[i] = 0;
        running--;
        done++;
      }
  }
  free(pids);
  free(start);
}

static char *slurp_text(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 4096);
  if (buf) { size_t n = fread(buf, 1, 4095, f); buf[n] = 0; }
  fclose(f);
  return buf;
}

/* ---- per-test work: read, evaluate, emit ------------------------------------------------- */
static int use_exe; /* --exe: each model built by smelt_build into its own executable */
static int64_t weights_min; /* --weights-min: constants at least this large go to NAME_weights.o */
static struct smelt_dimopt dimopts[16]; /* --dim NAME=V | NAME<=V, for every model */
static int ndimopts;
/* cross mode: the target, C compiler, flags and the emulator that runs executables */
static const char *x_target = "generic", *x_cc, *x_cflags, *x_emu;

static void prepare(struct test *t, const char *work) {
  char model[700], innames[MAXIO][128], onames[MAXIO][128];
  snprintf(model, sizeof model, "%s/model.onnx", t->dir);
  int nout = 0;
  t->nin = onnx_inputs(model, innames, &nout, onames);
  t->nout = nout;
  t->c_status = t->ref_status = "unsupported";
  if (t->nin < 0) { why(t->c_why, sizeof t->c_why, "model does not decode"); strcpy(t->ref_why, t->c_why); return; }
  struct smelt_constopt consts[MAXIO];
  int nconsts = 0;
  smelt_ctx *cx = NULL;
  smelt_graph *g = NULL;
  for (int attempt = 0; attempt < MAXIO; attempt++) {
    smelt_ctx_free(cx);
    cx = smelt_ctx_new();
    struct smelt_load_opts lo = {dimopts, ndimopts, consts, nconsts};
    g = smelt_load_model(cx, model, &lo);
    if (g) break;
    /* a shape operand that is a graph input: freeze it from the first data set */
    const char *m = smelt_error_msg(cx), *p = m ? strstr(m, "--const ") : NULL;
    if (!p || !t->nsets) break;
    p += 8;
    size_t k = strcspn(p, "=");
    int idx = -1;
    for (int i = 0; i < t->nin; i++)
      if (strlen(innames[i]) == k && !strncmp(innames[i], p, k)) idx = i;
    if (idx < 0 || t->frozen_idx[idx]) break;
    t->frozen_idx[idx] = 1;
    consts[nconsts].name = strdup(innames[idx]);
    char *f = malloc(700);
    snprintf(f, 700, "%s/input_%d.pb", t->set[0], idx);
    consts[nconsts++].file = f;
    snprintf(t->frozen + strlen(t->frozen), sizeof t->frozen - strlen(t->frozen), "%s%s", *t->frozen ? "," : "", innames[idx]);
  }
  if (!g) {
    why(t->c_why, sizeof t->c_why, smelt_error_msg(cx));
    strcpy(t->ref_why, t->c_why);
    goto out;
  }
  /* data sets whose frozen inputs differ from set 0 cannot be checked by this build */
  for (int s = 1; s < t->nsets; s++) {
    int same = 1;
    for (int i = 0; i < t->nin && same; i++) {
      if (!t->frozen_idx[i]) continue;
      char a[700], b[700];
      snprintf(a, sizeof a, "%s/input_%d.pb", t->set[0], i);
      snprintf(b, sizeof b, "%s/input_%d.pb", t->set[s], i);
      char *x = slurp_text(a), *y = slurp_text(b);
      same = x && y && !memcmp(x, y, 4096);
      free(x);
      free(y);
    }
    if (!same) { memmove(t->set[s], t->set[s + 1], sizeof t->set[0] * (size_t)(t->nsets - s - 1)); t->nsets--; s--; }
  }
  /* the reference interpreter */
  int ref_ok = 1;
  for (int s = 0; s < t->nsets && ref_ok; s++) {
    smelt_tensor in[MAXIO], out[MAXIO], exp;
    int nin = 0, ok = 1;
    for (int i = 0; i < t->nin && ok; i++) {
      if (t->frozen_idx[i]) continue;
      char p[700];
      snprintf(p, sizeof p, "%s/input_%d.pb", t->set[s], i);
      if (load_pb(p, &in[nin])) { ok = 0; break; }
      /* bfloat16 inputs arrive stored as uint16 (see compare) */
      if (nin < g->ninputs && in[nin].dt == SMELT_DT_U16 && g->values[g->inputs[nin]].dt == SMELT_DT_BF16) in[nin].dt = SMELT_DT_BF16;
      nin++;
    }
    if (!ok || nin != g->ninputs) { ref_ok = 0; why(t->ref_why, sizeof t->ref_why, "cannot read the test inputs"); for (int i = 0; i < nin; i++) smelt_tensor_free(&in[i]); break; }
    if (smelt_eval(g, in, out)) {
      ref_ok = 0;
      why(t->ref_why, sizeof t->ref_why, smelt_error_msg(cx));
      smelt_clear_error(cx);
    } else {
      for (int o = 0; o < g->noutputs; o++) {
        char p[700], msg[300];
        snprintf(p, sizeof p, "%s/output_%d.pb", t->set[s], o);
        if (load_pb(p, &exp)) { ref_ok = 0; why(t->ref_why, sizeof t->ref_why, "cannot read the expected outputs"); }
        else {
          if (ref_ok && !compare(&out[o], &exp, 1e-4, 1e-5, msg, sizeof msg)) {
            ref_ok = 0;
            snprintf(t->ref_why, sizeof t->ref_why, "set %d output '%s': %s", s, g->values[g->outputs[o]].name, msg);
          }
          smelt_tensor_free(&exp);
        }
        smelt_tensor_free(&out[o]);
      }
    }
    for (int i = 0; i < nin; i++) smelt_tensor_free(&in[i]);
  }
  if (ref_ok) t->ref_status = "pass";
  else if (t->ref_why[0] && strncmp(t->ref_why, "eval:", 5)) t->ref_status = "fail";
  else t->ref_status = "fail";
  /* compile to C */
  for (int o = 0; o < g->noutputs; o++) t->out_names[o] = keep(strdup(g->values[g->outputs[o]].name));
  char outdir[700];
  snprintf(outdir, sizeof outdir, "%s/%s", work, t->cname);
  struct smelt_build_opts bo = {.load = {dimopts, ndimopts, consts, nconsts}, .out_dir = outdir, .name = t->cname, .target = x_target, .emit = use_exe ? SMELT_EMIT_EXE : SMELT_EMIT_C, .weights_min = weights_min,
                               .cc = x_cc, .cflags = x_cflags};
  struct smelt_build_info info;
  smelt_ctx_free(cx);
  cx = smelt_ctx_new();
  if (smelt_build(cx, model, &bo, &info)) {
    why(t->c_why, sizeof t->c_why, smelt_error_msg(cx));
    t->c_status = "unsupported";
  } else t->built = 1;
out:
  for (int i = 0; i < nconsts; i++) { free((void *)consts[i].name); free((void *)consts[i].file); }
  smelt_ctx_free(cx);
}

/* writes the test's inputs as .npy for the executable */
static int write_inputs(struct test *t, int s, const char *work, char paths[MAXIO][700]) {
  int n = 0;
  for (int i = 0; i < t->nin; i++) {
    if (t->frozen_idx[i]) continue;
    char p[700];
    smelt_tensor in;
    snprintf(p, sizeof p, "%s/input_%d.pb", t->set[s], i);
    if (load_pb(p, &in)) return -1;
    snprintf(paths[n], 700, "%s/%s/s%d_in%d.npy", work, t->cname, s, i);
    int rc = smelt_npy_write(paths[n], smelt_dtype_npy(in.dt), in.rank, in.dims, in.data, (size_t)smelt_tensor_elems(&in) * smelt_dtype_bytes(in.dt));
    smelt_tensor_free(&in);
    if (rc) return -1;
    n++;
  }
  return n;
}

static int write_batch(struct test **ts, int n, const char *work, int b, char *src, size_t srcn) {
  snprintf(src, srcn, "%s/batch%d.c", work, b);
  FILE *f = fopen(src, "w");
  if (!f) return -1;
  fprintf(f, "#define _POSIX_C_SOURCE 200809L\n");
  for (int i = 0; i < n; i++) fprintf(f, "#include \"%s/%s.c\"\n", ts[i]->cname, ts[i]->cname);
  fprintf(f, "#include \"smelt_main.h\"\nstatic const struct smelt_model_desc *const models[] = {");
  for (int i = 0; i < n; i++) fprintf(f, "&%s_desc, ", ts[i]->cname);
  fprintf(f, "0};\nint main(int argc, char **argv) {\n  for (int i = 0; argc > 1 && models[i]; i++)\n"
             "    if (!strcmp(models[i]->name, argv[1])) return smelt_main(argc - 1, argv + 1, models[i]);\n  return 99;\n}\n");
  return fclose(f);
}

static const char **cc_argv(const char *src, const char *exe, const char *inc, const char *cflags) {
  const char **av = keep(calloc(64, sizeof *av));
  int n = 0;
  const char *cc = x_cc ? x_cc : getenv("CC");
  av[n++] = cc && *cc ? cc : "cc";
  av[n++] = "-std=c99";
  av[n++] = "-O1";
  av[n++] = "-w";
  const struct smelt_target *tg = smelt_target_find(x_target);
  char *tf = tg && tg->cflags ? keep(strdup(tg->cflags)) : NULL; /* the target's -march */
  for (char *tok = tf ? strtok(tf, " ") : NULL; tok && n < 20; tok = strtok(NULL, " ")) av[n++] = tok;
  char *cf = cflags ? keep(strdup(cflags)) : NULL;
  for (char *tok = cf ? strtok(cf, " ") : NULL; tok && n < 50; tok = strtok(NULL, " ")) av[n++] = tok;
  av[n++] = "-I";
  av[n++] = inc;
  av[n++] = "-o";
  av[n++] = exe;
  av[n++] = src;
  av[n++] = "-lm";
  av[n] = NULL;
  return av;
}

int main(int argc, char **argv) {
  const char *data = "/usr/include/onnx/backend/test/data/node", *work = "conformance-work", *report = NULL, *expected = NULL, *filter = NULL;
  const char *single = NULL;
  int require = 0;
  int jobs = 2, bsize = 40, update = 0, every = 1;
  const char *sel_file = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--work") && i + 1 < argc) work = argv[++i];
    else if (!strcmp(argv[i], "--report") && i + 1 < argc) report = argv[++i];
    else if (!strcmp(argv[i], "--expected") && i + 1 < argc) expected = argv[++i];
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "--jobs") && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) bsize = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--update-expected")) update = 1;
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc) single = argv[++i];
    else if (!strcmp(argv[i], "--exe")) use_exe = 1;
    else if (!strcmp(argv[i], "--weights-min") && i + 1 < argc) weights_min = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--require-pass")) require = 1;
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) x_target = argv[++i];
    else if (!strcmp(argv[i], "--cc") && i + 1 < argc) x_cc = argv[++i];
    else if (!strcmp(argv[i], "--cflags") && i + 1 < argc) x_cflags = argv[++i];
    else if (!strcmp(argv[i], "--emulator") && i + 1 < argc) x_emu = argv[++i];
    else if (!strcmp(argv[i], "--select") && i + 1 < argc) sel_file = argv[++i];
    else if (!strcmp(argv[i], "--every") && i + 1 < argc) every = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--dim") && i + 1 < argc && ndimopts < 16 && strchr(argv[i + 1], '=')) {
      char *a = argv[++i], *eq = strchr(a, '=');
      int le = eq > a && eq[-1] == '<';
      dimopts[ndimopts++] = (struct smelt_dimopt){strndup(a, (size_t)(eq - a - le)), atoll(eq + 1), !le};
    }
    else { fprintf(stderr, "usage: conformance [--data DIR] [--work DIR] [--report FILE] [--expected FILE] [--update-expected] [--filter S] [--jobs N] [--batch N] [--dir MODEL_DIR] [--exe] [--require-pass] [--weights-min BYTES] [--dim NAME=V|NAME<=V] [--target T] [--cc CC] [--cflags F] [--emulator CMD] [--select FILE] [--every N]\n"); return 2; }
  }
  if (!smelt_target_find(x_target)) { fprintf(stderr, "conformance: unknown --target %s\n", x_target); return 2; }
  /* --select: the names listed in FILE (one a line, # comments) */
  char **sel = NULL;
  int nsel = 0;
  if (sel_file) {
    FILE *f = fopen(sel_file, "r");
    if (!f) { fprintf(stderr, "conformance: cannot read %s\n", sel_file); return 2; }
    char line[256];
    sel = keep(calloc(4096, sizeof *sel));
    while (fgets(line, sizeof line, f) && nsel < 4096) {
      line[strcspn(line, "\r\n")] = 0;
      if (*line && *line != '#') sel[nsel++] = keep(strdup(line));
    }
    fclose(f);
    qsort(sel, (size_t)nsel, sizeof *sel, cmp_str);
  }
  char *names[4096];
  int nn = 0;
  if (single) { /* one model directory: DIR/model.onnx + DIR/test_data_set_* */
    char *sd = keep(strdup(single)), *slash = strrchr(sd, '/');
    if (!exists(single)) { printf("SKIPPED: %s is missing\n", single); free_kept(); return 77; }
    if (slash && !slash[1]) { *slash = 0; slash = strrchr(sd, '/'); }
    names[nn++] = keep(slash ? strdup(slash + 1) : strdup(sd));
    if (slash) { *slash = 0; data = sd; } else data = ".";
  } else {
    DIR *d = opendir(data);
    if (!d) { printf("SKIPPED: %s is missing (install Debian's libonnx-testdata)\n", data); free_kept(); return 77; }
    for (struct dirent *e; (e = readdir(d)) && nn < 4096;)
      if (!strncmp(e->d_name, "test_", 5) && (!filter || strstr(e->d_name, filter))) {
        const char *key = e->d_name;
        if (sel && !bsearch(&key, sel, (size_t)nsel, sizeof *sel, cmp_str)) continue;
        names[nn++] = keep(strdup(e->d_name));
      }
    closedir(d);
  }
  qsort(names, (size_t)nn, sizeof *names, cmp_str);
  if (every > 1) { /* one in N, spread over the sorted list */
    int k = 0;
    for (int i = 0; i < nn; i += every) names[k++] = names[i];
    nn = k;
  }
  if (sel && !nn) { printf("FAIL: no test of %s is in %s\n", sel_file, data); free_kept(); return 1; }
  mkdir(work, 0777);
  struct test *tests = keep(calloc((size_t)nn + 1, sizeof *tests));
  double t0 = now();
  for (int i = 0; i < nn; i++) {
    struct test *t = &tests[i];
    snprintf(t->name, sizeof t->name, "%s", names[i]);
    snprintf(t->dir, sizeof t->dir, "%s/%s", data, names[i]);
    snprintf(t->cname, sizeof t->cname, "t%04d", i);
    for (int s = 0; s < MAXSETS; s++) {
      snprintf(t->set[t->nsets], sizeof t->set[0], "%s/test_data_set_%d", t->dir, s);
      if (exists(t->set[t->nsets])) t->nsets++;
    }
    prepare(t, work);
  }
  double t1 = now();
  /* batch compile */
  struct test **built = keep(calloc((size_t)nn + 1, sizeof *built));
  int nb = 0;
  for (int i = 0; i < nn; i++)
    if (tests[i].built) built[nb++] = &tests[i];
  int nbatch = use_exe ? 0 : (nb + bsize - 1) / bsize;
  struct job *cj = keep(calloc((size_t)nbatch + 1, sizeof *cj));
  char (*srcs)[700] = keep(calloc((size_t)nbatch + 1, 700)), (*exes)[700] = keep(calloc((size_t)nbatch + 1, 700)), (*logs)[700] = keep(calloc((size_t)nbatch + 1, 700));
  char inc[700];
  snprintf(inc, sizeof inc, "%s/%s", work, nb ? built[0]->cname : "");
  const char *cflags = x_cflags ? x_cflags : getenv("SMELT_CFLAGS");
  for (int b = 0; b < nbatch; b++) {
    int n = nb - b * bsize < bsize ? nb - b * bsize : bsize;
    for (int i = 0; i < n; i++) built[b * bsize + i]->batch = b;
    write_batch(built + b * bsize, n, work, b, srcs[b], sizeof srcs[b]);
    snprintf(exes[b], sizeof exes[b], "%s/batch%d", work, b);
    snprintf(logs[b], sizeof logs[b], "%s/batch%d.log", work, b);
    cj[b].av = cc_argv(srcs[b], exes[b], inc, cflags);
    cj[b].log = logs[b];
  }
  run_jobs(cj, nbatch, jobs, 600);
  /* a batch that failed to compile: compile its tests one by one */
  for (int b = 0; b < nbatch; b++) {
    if (!cj[b].status) continue;
    int n = nb - b * bsize < bsize ? nb - b * bsize : bsize;
    struct job *sj = keep(calloc((size_t)n, sizeof *sj));
    char (*ss)[700] = keep(calloc((size_t)n, 700)), (*se)[700] = keep(calloc((size_t)n, 700)), (*sl)[700] = keep(calloc((size_t)n, 700));
    for (int i = 0; i < n; i++) {
      struct test *t = built[b * bsize + i];
      write_batch(&built[b * bsize + i], 1, work, 10000 + (int)(t - tests), ss[i], sizeof ss[i]);
      snprintf(se[i], 700, "%s/single%d", work, (int)(t - tests));
      snprintf(sl[i], 700, "%s/single%d.log", work, (int)(t - tests));
      sj[i].av = cc_argv(ss[i], se[i], inc, cflags);
      sj[i].log = sl[i];
    }
    run_jobs(sj, n, jobs, 600);
    for (int i = 0; i < n; i++) {
      struct test *t = built[b * bsize + i];
      t->batch = -1 - (int)(t - tests); /* its own executable */
      if (sj[i].status) {
        char *log = slurp_text(sl[i]), msg[512];
        char *e = log ? strstr(log, "error:") : NULL;
        snprintf(msg, sizeof msg, "generated C does not compile: %.300s", e ? e : "?");
        why(t->c_why, sizeof t->c_why, msg);
        free(log);
        t->c_status = "fail";
        t->built = 0;
      }
    }
  }
  double t2 = now();
  /* run every data set */
  int maxruns = nb * MAXSETS + 1, nr = 0;
  struct job *rj = keep(calloc((size_t)maxruns, sizeof *rj));
  struct { struct test *t; int set; char outdir[700]; } *rm = keep(calloc((size_t)maxruns, sizeof *rm));
  for (int i = 0; i < nb; i++) {
    struct test *t = built[i];
    if (!t->built) continue;
    for (int s = 0; s < t->nsets; s++) {
      char paths[MAXIO][700];
      int n = write_inputs(t, s, work, paths);
      if (n < 0) { t->built = 0; t->c_status = "fail"; snprintf(t->c_why, sizeof t->c_why, "cannot write test inputs"); break; }
      const char **av = keep(calloc((size_t)n + 8 + 16, sizeof *av));
      int k = 0;
      char *emu = x_emu ? keep(strdup(x_emu)) : NULL; /* cross mode: run under the emulator */
      for (char *tok = emu ? strtok(emu, " ") : NULL; tok && k < 16; tok = strtok(NULL, " ")) av[k++] = tok;
      char *exe = keep(malloc(700));
      if (use_exe) snprintf(exe, 700, "%s/%s/%s", work, t->cname, t->cname);
      else if (t->batch >= 0) snprintf(exe, 700, "%s", exes[t->batch]);
      else snprintf(exe, 700, "%s/single%d", work, -1 - t->batch);
      av[k++] = exe;
      if (!use_exe) av[k++] = t->cname;
      for (int j = 0; j < n; j++) av[k++] = keep(strdup(paths[j]));
      snprintf(rm[nr].outdir, sizeof rm[nr].outdir, "%s/%s/out%d", work, t->cname, s);
      av[k++] = "-o";
      av[k++] = rm[nr].outdir;
      av[k] = NULL;
      rm[nr].t = t;
      rm[nr].set = s;
      rj[nr].av = av;
      char *log = keep(malloc(700));
      snprintf(log, 700, "%s/%s/run%d.log", work, t->cname, s);
      rj[nr].log = log;
      nr++;
    }
  }
  run_jobs(rj, nr, jobs, x_emu ? 300 : 60);
  for (int i = 0; i < nb; i++)
    if (built[i]->built) built[i]->c_status = "pass";
  for (int r = 0; r < nr; r++) {
    struct test *t = rm[r].t;
    if (strcmp(t->c_status, "pass")) continue;
    if (rj[r].status) {
      char *log = slurp_text(rj[r].log), msg[512];
      snprintf(msg, sizeof msg, "set %d: the executable exited with %d: %.200s", rm[r].set, rj[r].status, log ? log : "");
      why(t->c_why, sizeof t->c_why, msg);
      free(log);
      t->c_status = "fail";
      continue;
    }
    for (int o = 0; o < t->nout; o++) {
      char p[1400], e[700], msg[300];
      char fn[300];
      int k = 0;
      for (const char *c = t->out_names[o]; *c && k < 250; c++)
        fn[k++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.') ? *c : '_';
      fn[k] = 0;
      snprintf(p, sizeof p, "%s/%s.npy", rm[r].outdir, fn);
      snprintf(e, sizeof e, "%s/output_%d.pb", t->set[rm[r].set], o);
      smelt_tensor got, exp;
      smelt_ctx *cx = smelt_ctx_new();
      int rg = smelt_read_tensor_file(cx, p, &got);
      smelt_ctx_free(cx);
      if (rg) { t->c_status = "fail"; snprintf(t->c_why, sizeof t->c_why, "set %d: output %s missing", rm[r].set, fn); break; }
      if (load_pb(e, &exp)) { smelt_tensor_free(&got); t->c_status = "fail"; snprintf(t->c_why, sizeof t->c_why, "cannot read %s", e); break; }
      int ok = compare(&got, &exp, 1e-4, 1e-5, msg, sizeof msg);
      smelt_tensor_free(&got);
      smelt_tensor_free(&exp);
      if (!ok) { t->c_status = "fail"; snprintf(t->c_why, sizeof t->c_why, "set %d output '%s': %s", rm[r].set, t->out_names[o], msg); break; }
    }
  }
  double t3 = now();
  /* totals and report */
  int cp = 0, cf = 0, cu = 0, rp = 0, rf = 0, ru = 0, frozen = 0;
  for (int i = 0; i < nn; i++) {
    struct test *t = &tests[i];
    if (!strcmp(t->c_status, "pass")) { cp++; frozen += *t->frozen != 0; }
    else if (!strcmp(t->c_status, "fail")) cf++;
    else cu++;
    if (!strcmp(t->ref_status, "pass")) rp++;
    else if (!strcmp(t->ref_status, "fail")) rf++;
    else ru++;
  }
  printf("conformance: %d tests; compiled C: %d pass (%d with a shape input frozen), %d fail, %d unsupported; "
         "reference interpreter: %d pass, %d fail, %d unsupported\n", nn, cp, frozen, cf, cu, rp, rf, ru);
  printf("time: read+eval+emit %.1f s, compile %.1f s (%d batches), run %.1f s\n", t1 - t0, t2 - t1, nbatch, t3 - t2);
  if (report) {
    FILE *f = fopen(report, "w");
    if (f) {
      fprintf(f, "# ONNX node conformance\n\nGenerated by `make conformance-report` (tests/conformance/runner.c) from Debian's libonnx-testdata "
                 "(ONNX 1.12, `%s`). Each model is compiled to C by smelt, built, and run on every test data set; the reference interpreter "
                 "runs the same data. Floats must match within rtol 1e-4 / atol 1e-5 (1e-3 for float16, 1e-2 for bfloat16), integers exactly.\n\n"
                 "A test marked *frozen* feeds a shape operand (a Reshape target, Slice starts, ...) as a graph input; smelt needs such operands at "
                 "compile time, so the runner freezes that input from the test data with `--const`, as a user would.\n\n", data);
      fprintf(f, "| | compiled C | reference interpreter |\n|---|---|---|\n| pass | %d (%d frozen) | %d |\n| fail | %d | %d |\n| unsupported | %d | %d |\n| total | %d | %d |\n\n",
              cp, frozen, rp, cf, rf, cu, ru, nn, nn);
      fprintf(f, "| test | compiled C | interpreter | reason |\n|---|---|---|---|\n");
      for (int i = 0; i < nn; i++) {
        struct test *t = &tests[i];
        const char *reason = strcmp(t->c_status, "pass") ? t->c_why : strcmp(t->ref_status, "pass") ? t->ref_why : "";
        fprintf(f, "| %s | %s%s%s%s | %s | %s |\n", t->name, t->c_status, *t->frozen ? " (frozen: " : "", t->frozen, *t->frozen ? ")" : "", t->ref_status, reason);
      }
      fclose(f);
    }
  }
  int rc = 0;
  if (require && (cp != nn || rp != nn)) {
    for (int i = 0; i < nn; i++)
      if (strcmp(tests[i].c_status, "pass") || strcmp(tests[i].ref_status, "pass"))
        printf("FAIL: %s: compiled C %s (%s); interpreter %s (%s)\n", tests[i].name, tests[i].c_status, tests[i].c_why, tests[i].ref_status, tests[i].ref_why);
    rc = 1;
  }
  if (expected && update) {
    FILE *f = fopen(expected, "w");
    if (f) {
      fprintf(f, "# tests that must pass through compiled C (tests/conformance/runner.c --update-expected)\n");
      for (int i = 0; i < nn; i++)
        if (!strcmp(tests[i].c_status, "pass")) fprintf(f, "%s\n", tests[i].name);
      fclose(f);
    }
  } else if (expected) {
    FILE *f = fopen(expected, "r");
    char line[256];
    int missing = 0;
    while (f && fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = 0;
      if (!*line || *line == '#') continue;
      for (int i = 0; i < nn; i++)
        if (!strcmp(tests[i].name, line) && strcmp(tests[i].c_status, "pass")) {
          printf("REGRESSION: %s: %s: %s\n", line, tests[i].c_status, tests[i].c_why);
          missing++;
        }
    }
    if (f) fclose(f);
    if (missing) { printf("%d expected-pass tests no longer pass\n", missing); rc = 1; }
  }
  free_kept();
  return rc;
}
