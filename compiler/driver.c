/* compiler/driver.c — the explicit pass pipeline and the build of DESIGN §6:
 *
 *     read (by format) -> lora_merge -> fold -> cse -> dce -> quantize -> concat -> fuse -> layout -> schedule -> memplan -> C backend -> files -> cc / ar
 *
 * Every file is written atomically (temp + rename).  The C compiler is $CC (or
 * "cc") run with -std=c99 -O2 plus $SMELT_CFLAGS; its diagnostics go to stderr. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/driver.h"
#include "backends/backend.h"
#include "compiler/embed.h"
#include "compiler/read.h"
#include "compiler/arch/arch.h"
#include "compiler/targets.h"
#include "compiler/lora.h"
#include "compiler/progress.h"
#include "runtime/smelt_npy.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The pipeline, in order.  Passes ask op flags, never op names; those that need the
 * build options read them with smelt_ctx_options().  The planned order, as passes land:
 *   lora_merge, fold, cse, dce, quantize, concat, fuse, layout, schedule, memplan */
static const struct smelt_pass pipeline[] = {
    {"lora_merge", smelt_pass_lora_merge},
    {"fold", smelt_pass_fold},
    {"cse", smelt_pass_cse},
    {"dce", smelt_pass_dce},
    {"idioms", smelt_pass_idioms},
    {"quantize", smelt_pass_quantize},
    {"concat", smelt_pass_concat},
    {"fuse", smelt_pass_fuse},
    {"layout", smelt_pass_layout},
    {"schedule", smelt_pass_schedule},
    {"memplan", smelt_pass_memplan_states},
};

const struct smelt_pass *smelt_pass_find(const char *name) {
  for (size_t i = 0; i < sizeof pipeline / sizeof *pipeline; i++)
    if (!strcmp(pipeline[i].name, name)) return &pipeline[i];
  return NULL;
}

/* Is pass `name` in the comma-separated list `skip`? */
/* Is name in the comma-separated list skip (--skip-pass)? */
int smelt_skip_listed(const char *skip, const char *name) {
  size_t n = strlen(name);
  for (const char *p = skip; p && *p;) {
    size_t k = strcspn(p, ",");
    if (k == n && !strncmp(p, name, n)) return 1;
    p += k + (p[k] == ',');
  }
  return 0;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

const char *smelt_default_name(smelt_ctx *cx, const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  size_t n = strcspn(b, ".");
  char *r = smelt_alloc(cx, n + 4);
  if (!r) return "model";
  size_t k = 0;
  if (!n || (b[0] >= '0' && b[0] <= '9')) { r[k++] = 'm'; r[k++] = '_'; }
  for (size_t i = 0; i < n && k < 60; i++) {
    char ch = b[i];
    r[k++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ? ch : '_';
  }
  r[k] = 0;
  return r;
}

int smelt_write_file(smelt_ctx *cx, const char *path, const void *data, size_t n) {
  char *tmp = smelt_sprintf(cx, "%s.tmp%ld", path, (long)getpid());
  if (!tmp) return SMELT_ERR;
  FILE *f = fopen(tmp, "wb");
  if (!f) return smelt_errorf(cx, "%s: cannot write: %s", path, strerror(errno));
  int ok = fwrite(data, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path)) {
    remove(tmp);
    return smelt_errorf(cx, "%s: cannot write: %s", path, strerror(errno));
  }
  return 0;
}

int smelt_is_gguf(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char buf[4] = {0};
  size_t n = fread(buf, 1, 4, f);
  fclose(f);
  return n == 4 && !memcmp(buf, "GGUF", 4);
}

struct smelt_llm_opts smelt_llm_default_opts(const struct smelt_ckpt *ck) {
  struct smelt_llm_opts o = {.ctx = ck->n_ctx_train > 0 && ck->n_ctx_train < 4096 ? ck->n_ctx_train : 4096, .kv_dtype = SMELT_DT_F32};
  o.max_tokens = o.ctx;
  return o;
}

static int is_text_ir(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  char buf[16] = {0};
  size_t n = fread(buf, 1, 8, f);
  fclose(f);
  return n == 8 && !memcmp(buf, "smelt-ir", 8);
}

static char *slurp(smelt_ctx *cx, const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  smelt_ctx_note_input(cx, path);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
    if (n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
    }
  }
  fclose(f);
  if (!buf) { smelt_errorf(cx, "%s: out of memory", path); return NULL; }
  char *r = smelt_strndup(cx, buf, n);
  free(buf);
  *len = n;
  return r;
}

smelt_graph *smelt_load_model(smelt_ctx *cx, const char *path, const struct smelt_load_opts *o) {
  struct stat st;
  if (stat(path, &st)) { smelt_errorf(cx, "%s: %s", path, strerror(errno)); return NULL; }
  smelt_graph *g;
  if (S_ISDIR(st.st_mode) || smelt_is_gguf(path)) { /* an LLM checkpoint: its prefill graph */
    if (o && (o->ndims || o->nconsts)) { smelt_errorf(cx, "%s: --dim and --const apply to ONNX models only", path); return NULL; }
    struct smelt_ckpt *ck = smelt_ckpt_open(cx, path);
    if (!ck) return NULL;
    struct smelt_llm_opts lo = smelt_llm_default_opts(ck);
    return smelt_arch_build(cx, ck, &lo, 0);
  }
  if (is_text_ir(path)) {
    size_t len;
    char *text = slurp(cx, path, &len);
    if (!text) return NULL;
    if (o && (o->ndims || o->nconsts)) { smelt_errorf(cx, "%s: --dim and --const apply to ONNX models only", path); return NULL; }
    g = smelt_parse(cx, text, len, path);
  } else {
    g = smelt_read_onnx(cx, path, o);
  }
  if (!g) return NULL;
  if (!g->source) g->source = smelt_strdup(cx, path);
  if (!g->source_hash) {
    int err;
    g->source_hash = smelt_hash_file(path, &err);
  }
  return g;
}

int smelt_read_tensor_file(smelt_ctx *cx, const char *path, smelt_tensor *t) {
  size_t n = strlen(path);
  if (n < 4 || strcmp(path + n - 4, ".npy")) return smelt_onnx_read_tensor_file(cx, path, t);
  struct smelt_npy a;
  const char *e = smelt_npy_read(path, &a);
  if (e) return smelt_errorf(cx, "%s: %s", path, e);
  smelt_ctx_note_input(cx, path);
  memset(t, 0, sizeof *t);
  int found = 0;
  for (int d = 0; d < SMELT_DT_COUNT; d++) {
    const char *np = smelt_dtype_npy((smelt_dtype)d);
    if (d == SMELT_DT_BF16 || smelt_dtype_is_block((smelt_dtype)d)) continue; /* "<u2" means u16; blocks have no .npy form */
    if (!strcmp(np, a.descr) || (np[0] == '|' && !strcmp(np + 1, a.descr + 1))) { t->dt = (smelt_dtype)d; found = 1; break; }
  }
  if (!found) { free(a.data); return smelt_errorf(cx, "%s: unsupported numpy dtype '%s'", path, a.descr); }
  t->rank = a.rank;
  memcpy(t->dims, a.dims, sizeof(int64_t) * a.rank);
  t->data = a.data;
  return 0;
}

int smelt_run_pipeline(smelt_ctx *cx, smelt_graph *g, const struct smelt_build_opts *o) {
  for (size_t i = 0; i < sizeof pipeline / sizeof *pipeline; i++) {
    const struct smelt_pass *p = &pipeline[i];
    if (o && smelt_skip_listed(o->skip_passes, p->name) && strcmp(p->name, "memplan")) continue; /* the backend needs a plan */
    smelt_logf(cx, 2, "pass %s", p->name);
    if (p->run(cx, g)) return SMELT_ERR;
    if (o && o->verify_each && smelt_verify(g)) return SMELT_ERR;
    if (o && o->print_after && (!strcmp(o->print_after, "all") || !strcmp(o->print_after, p->name))) {
      fprintf(o->print_to ? o->print_to : stderr, "# after %s\n", p->name);
      smelt_print(g, o->print_to ? o->print_to : stderr, 0);
    }
  }
  return 0;
}

/* Splits s at spaces into argv entries appended to av. */
static int split_args(smelt_ctx *cx, const char *s, const char **av, int n, int max) {
  while (s && *s) {
    while (*s == ' ') s++;
    size_t k = strcspn(s, " ");
    if (k && n < max) av[n++] = smelt_strndup(cx, s, k);
    s += k;
  }
  return n;
}

/* Runs av (NULL-terminated) and waits; stderr passes through. */
static int run_cmd(smelt_ctx *cx, const char *const *av, const char *what) {
  pid_t pid;
  int rc = posix_spawnp(&pid, av[0], NULL, NULL, (char *const *)av, environ);
  if (rc) return smelt_errorf(cx, "cannot run %s '%s': %s", what, av[0], strerror(rc));
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return smelt_errorf(cx, "waiting for %s: %s", what, strerror(errno));
  if (!WIFEXITED(st) || WEXITSTATUS(st)) {
    char cmd[1024] = "";
    size_t k = 0;
    for (int i = 0; av[i] && k < sizeof cmd - 1; i++) k += snprintf(cmd + k, sizeof cmd - k, "%s%s", i ? " " : "", av[i]);
    return smelt_errorf(cx, "%s failed (%s %d): %s", what, WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), cmd);
  }
  return 0;
}

/* every runtime header next to the generated sources (they are small and header-only) */
static int write_runtime_all(smelt_ctx *cx, const char *dir) {
  for (const struct smelt_embedded *e = smelt_runtime_files; e->name; e++)
    if (smelt_write_file(cx, smelt_sprintf(cx, "%s/%s", dir, e->name), e->text, strlen(e->text))) return SMELT_ERR;
  return 0;
}

static int check_name(smelt_ctx *cx, const char *name) {
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || (p > name && *p >= '0' && *p <= '9')))
      return smelt_errorf(cx, "--name '%s' is not a C identifier", name);
  if (!*name || strlen(name) > 64) return smelt_errorf(cx, "--name must be 1 to 64 characters");
  return 0;
}

/* After emission: the files, the weights object and the C compiler (g and, for a
 * language model, its decode graph dc). */
static int write_and_compile(smelt_ctx *cx, const struct smelt_build_opts *o, const char *name, smelt_graph *g, smelt_graph *dc, int llm,
                             const struct smelt_emit_opts *eop, struct smelt_emit_result *rp, struct smelt_build_info *info, double t0) {
  const struct smelt_emit_opts eo = *eop;
  struct smelt_emit_result r = *rp;
  int rc = SMELT_ERR;
  const struct smelt_target *tgt = smelt_target_find(o->target ? o->target : "native");
  if (!tgt) return smelt_errorf(cx, "--target %s: unknown (smelt knows %s)", o->target, smelt_target_names());
  const char *dir = o->out_dir;
  if (mkdir(dir, 0777) && errno != EEXIST) { smelt_errorf(cx, "%s: cannot create directory: %s", dir, strerror(errno)); goto done; }
  const char *hpath = smelt_sprintf(cx, "%s/%s.h", dir, name), *cpath = smelt_sprintf(cx, "%s/%s.c", dir, name);
  const char *mpath = smelt_sprintf(cx, "%s/%s_main.c", dir, name), *wpath = smelt_sprintf(cx, "%s/%s_weights.o", dir, name);
  if (smelt_write_file(cx, hpath, r.header, strlen(r.header)) || smelt_write_file(cx, cpath, r.source, strlen(r.source)) ||
      write_runtime_all(cx, dir))
    goto done;
  if (o->emit != SMELT_EMIT_LIB) {
    const char *main_src = llm ? r.main_src : smelt_sprintf(cx, "#define _POSIX_C_SOURCE 200809L\n%s", r.main_src);
    if (smelt_write_file(cx, mpath, main_src, strlen(main_src))) goto done;
  }
  for (int i = 0; i < r.nweights; i++) info->weight_bytes += (int64_t)r.weights[i].nbytes;
  for (int k = 0; k < 2; k++) {
    const smelt_graph *gg = k ? dc : g;
    for (int v = 0; gg && v < gg->nvalues && !(k && llm); v++) /* small constants (shared ones counted once) */
      if (gg->values[v].kind == SMELT_V_CONST && (int64_t)gg->values[v].c.nbytes < eo.weights_min) info->weight_bytes += (int64_t)gg->values[v].c.nbytes;
  }
  smelt_progress(o, "writing weights", 0, info->weight_bytes);
  if (r.nweights && smelt_llvm_emit_weights(cx, wpath, tgt->triple, r.weights, r.nweights)) goto done;
  smelt_progress(o, "writing weights", info->weight_bytes, info->weight_bytes);
  if (!r.nweights) remove(wpath); /* a stale one from an earlier build would be linked */
  info->nnodes = g->nnodes;
  info->nkernels = r.nkernels;
  info->arena_bytes = g->plan->state_bytes + g->plan->arena_bytes;
  info->lower_bound = g->plan->lower_bound;
  info->t_compile = now() - t0;
  if (o->emit == SMELT_EMIT_C) { rc = 0; goto done; }

  /* ---- the C compiler ---- */
  smelt_progress(o, "compiling", 0, 0);
  double t1 = now();
  const char *av[96];
  int n = 0;
  const char *cc = o->cc ? o->cc : getenv("CC");
  n = split_args(cx, cc && *cc ? cc : "cc", av, n, 8);
  av[n++] = "-std=c99";
  av[n++] = "-O2";
  n = split_args(cx, tgt->cflags, av, n, 16); /* the target's flags (-march=native for native) */
  n = split_args(cx, o->cflags ? o->cflags : getenv("SMELT_CFLAGS"), av, n, 60);
  av[n++] = "-I";
  av[n++] = dir;
  if (o->emit == SMELT_EMIT_EXE) {
    const char *exe = smelt_sprintf(cx, "%s/%s", dir, name), *tmp = smelt_sprintf(cx, "%s/.%s.tmp%ld", dir, name, (long)getpid());
    av[n++] = "-o";
    av[n++] = tmp;
    av[n++] = cpath;
    av[n++] = mpath;
    if (r.nweights) av[n++] = wpath;
    av[n++] = "-lm";
    if (o->threads > 1) av[n++] = "-pthread"; /* runtime/smelt_threads.h */
    av[n] = NULL;
    if (run_cmd(cx, av, "the C compiler")) { remove(tmp); goto done; }
    if (rename(tmp, exe)) { remove(tmp); smelt_errorf(cx, "%s: cannot rename into place", exe); goto done; }
  } else {
    const char *obj = smelt_sprintf(cx, "%s/%s.o", dir, name), *lib = smelt_sprintf(cx, "%s/lib%s.a", dir, name);
    const char *tmp = smelt_sprintf(cx, "%s/.lib%s.a.tmp%ld", dir, name, (long)getpid());
    av[n++] = "-c";
    av[n++] = "-o";
    av[n++] = obj;
    av[n++] = cpath;
    av[n] = NULL;
    if (run_cmd(cx, av, "the C compiler")) goto done;
    const char *ar = getenv("AR");
    const char *aav[8] = {ar && *ar ? ar : "ar", "rcs", tmp, obj, r.nweights ? wpath : NULL, NULL};
    remove(tmp);
    if (run_cmd(cx, aav, "ar")) { remove(tmp); goto done; }
    if (rename(tmp, lib)) { remove(tmp); smelt_errorf(cx, "%s: cannot rename into place", lib); goto done; }
  }
  info->t_cc = now() - t1;
  rc = 0;
done:
  smelt_progress(o, NULL, 0, 0);
  smelt_emit_result_free(&r);
  return rc;
}

/* Reads the build's --lora / --adapter files (ck: a language model's checkpoint, for
 * its weight names) into oo->lora and names the adapters for the backend. */
static int load_adapters(smelt_ctx *cx, struct smelt_build_opts *oo, const struct smelt_ckpt *ck, struct smelt_emit_opts *eo) {
  if (!oo->nloras && !oo->nadapters) return 0;
  if (!(oo->lora = smelt_lora_load(cx, oo->loras, oo->nloras, oo->adapters, oo->nadapters, ck))) return SMELT_ERR;
  const char **names = smelt_alloc(cx, sizeof *names * (size_t)(oo->nadapters + 1));
  if (!names) return SMELT_ERR;
  for (int i = 0; i < oo->nadapters; i++) names[i] = oo->adapters[i].name;
  eo->adapters = names;
  eo->nadapters = oo->nadapters;
  return 0;
}

/* What smelt_build and smelt_build_graph share: the output name, the target, the
 * quantize pass's memo (one quantized copy per weight for the build's graphs), the
 * options the passes read, and the backend's options. */
static int build_setup(smelt_ctx *cx, struct smelt_build_opts *oo, const char *name, struct smelt_build_info *info, struct smelt_emit_opts *eo) {
  if (check_name(cx, name)) return SMELT_ERR;
  info->name = name;
  const struct smelt_target *tgt = smelt_target_find(oo->target ? oo->target : "native");
  if (!tgt) return smelt_errorf(cx, "--target %s: unknown (smelt knows %s)", oo->target, smelt_target_names());
  if (!oo->quant_memo && !(oo->quant_memo = smelt_quant_memo_new(cx))) return SMELT_ERR;
  if (!oo->layout_memo && !(oo->layout_memo = smelt_layout_memo_new(cx))) return SMELT_ERR;
  if (!oo->concat_memo && !(oo->concat_memo = smelt_concat_memo_new(cx))) return SMELT_ERR;
  smelt_ctx_set_options(cx, oo);
  *eo = (struct smelt_emit_opts){.name = name, .target = tgt->name, .kernels = smelt_backend_kernels(tgt->backend),
                                 .weights_min = oo->weights_min > 0 ? oo->weights_min : 256 * 1024,
                                 .weights_in_c = oo->emit == SMELT_EMIT_C, .options = oo->options, .threads = oo->threads};
  return 0;
}

int smelt_build(smelt_ctx *cx, const char *model, const struct smelt_build_opts *o0, struct smelt_build_info *info) {
  double t0 = now();
  struct smelt_build_opts oo = *o0; /* plus the adapters, once read */
  const struct smelt_build_opts *o = &oo;
  memset(info, 0, sizeof *info);
  const char *name = o->name ? o->name : smelt_default_name(cx, model);
  struct smelt_emit_opts eo;
  if (build_setup(cx, &oo, name, info, &eo)) return SMELT_ERR;
  struct smelt_emit_result r;
  smelt_graph *g = NULL, *dc = NULL;
  struct stat st;
  int llm = !stat(model, &st) && (S_ISDIR(st.st_mode) || smelt_is_gguf(model));
  smelt_progress(o, "reading", 0, 0);
  if (llm) { /* a language model: prefill and decode over one KV cache */
    if (o->load.ndims || o->load.nconsts) return smelt_errorf(cx, "%s: --dim and --const apply to ONNX models only", model);
    struct smelt_ckpt *ck = smelt_ckpt_open(cx, model);
    if (!ck) return SMELT_ERR;
    struct smelt_llm_opts lo = smelt_llm_default_opts(ck);
    if (o->ctx > 0) lo.ctx = lo.max_tokens = o->ctx;
    if (o->kv_f16) lo.kv_dtype = SMELT_DT_F16;
    if (load_adapters(cx, &oo, ck, &eo)) return SMELT_ERR;
    smelt_logf(cx, 1, "%s: %s, %lld layers, d=%lld, vocabulary %lld, context %lld", model, ck->arch, (long long)ck->n_layer,
               (long long)ck->n_embd, (long long)ck->n_vocab, (long long)lo.ctx);
    if (!(g = smelt_arch_build(cx, ck, &lo, 0)) || !(dc = smelt_arch_build(cx, ck, &lo, 1))) return SMELT_ERR;
    /* prefill multiplies up to n_tokens rows by every weight: even a small model's
     * (stories260K: 2048-element K/V) are GEMMs worth the packed kernels, whose threads
     * the row-dot ones do not have (NOTES "Concatenated packed weights (h-concat)") */
    if (oo.layout_min <= 0) oo.layout_min = SMELT_LLM_LAYOUT_MIN;
    smelt_progress(o, "optimizing", 0, 0);
    if (smelt_run_pipeline(cx, g, o) || smelt_run_pipeline(cx, dc, o)) return SMELT_ERR;
    if (smelt_memplan_joint(cx, (smelt_graph *[]){g, dc}, 2)) return SMELT_ERR; /* one arena: KV cache and both scratch plans */
    smelt_progress(o, "emitting C", 0, 0);
    /* an LLM's weights are many and large: all but the tiny ones go to NAME_weights.o */
    if (o->weights_min <= 0) eo.weights_min = 4096;
    if (smelt_backend_c_emit_llm(g, dc, ck, lo.ctx, &eo, &r)) return SMELT_ERR;
  } else {
    if (o->ctx > 0 || o->kv_f16) return smelt_errorf(cx, "%s: --ctx and --kv apply to language models only", model);
    if (load_adapters(cx, &oo, NULL, &eo)) return SMELT_ERR;
    g = smelt_load_model(cx, model, &o->load);
    if (!g) return SMELT_ERR;
    smelt_progress(o, "optimizing", 0, 0);
    if (smelt_run_pipeline(cx, g, o)) return SMELT_ERR;
    smelt_progress(o, "emitting C", 0, 0);
    if (smelt_backend_c_check(g)) return SMELT_ERR;
    if (smelt_backend_c_emit(g, &eo, &r)) return SMELT_ERR;
  }
  return write_and_compile(cx, o, name, g, dc, llm, &eo, &r, info, t0);
}

int smelt_build_graph(smelt_ctx *cx, smelt_graph *g, const struct smelt_build_opts *o0, struct smelt_build_info *info) {
  double t0 = now();
  struct smelt_build_opts oo = *o0;
  const struct smelt_build_opts *o = &oo;
  memset(info, 0, sizeof *info);
  const char *name = o->name ? o->name : g->name;
  if (!name) return smelt_errorf(cx, "build: the graph has no name");
  struct smelt_emit_opts eo;
  if (build_setup(cx, &oo, name, info, &eo)) return SMELT_ERR;
  struct smelt_emit_result r;
  if (load_adapters(cx, &oo, NULL, &eo)) return SMELT_ERR;
  if (smelt_run_pipeline(cx, g, o) || smelt_backend_c_check(g) || smelt_backend_c_emit(g, &eo, &r)) return SMELT_ERR;
  return write_and_compile(cx, o, name, g, NULL, 0, &eo, &r, info, t0);
}
