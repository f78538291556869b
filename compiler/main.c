/* compiler/main.c — the smelt command line.  The only file allowed to print or exit:
 * it parses arguments, calls the driver, prints `smelt: error: FILE: what` on
 * failure and exits 1 (user error) — never crashes on any input. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/driver.h"
#include "compiler/targets.h"
#include "compiler/read.h"
#include "compiler/lora.h"
#include "compiler/cache.h"
#include "compiler/progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *usage_main =
    "usage: smelt <command> [options]\n"
    "\n"
    "smelt compiles a trained model into specialized C and a tiny runtime.\n"
    "\n"
    "commands:\n"
    "  build MODEL -o DIR    compile MODEL into DIR (an executable by default)\n"
    "  inspect MODEL         inputs, outputs, op histogram, parameters, arena size\n"
    "  dump MODEL            print the IR in its text form\n"
    "  eval MODEL IN.npy...  run the reference interpreter on inputs\n"
    "  ops                   the IR operators and the ONNX operators smelt reads\n"
    "  tokenize MODEL TEXT   the token ids of TEXT (MODEL: GGUF file or tokenizer folder)\n"
    "\n"
    "MODEL is an ONNX file (.onnx) or smelt IR text.  `smelt COMMAND --help` describes\n"
    "each command; `smelt --version` prints the version.\n";

static const char *usage_build =
    "usage: smelt build MODEL -o DIR [options]\n"
    "\n"
    "MODEL is an ONNX file, smelt IR text, a GGUF file or a Hugging Face model folder\n"
    "(the last two compile into a text generator).\n"
    "Compiles MODEL into DIR: NAME.h (the C API), NAME.c, NAME_weights.o (large\n"
    "constants, via LLVM) and, per --emit, the executable NAME or libNAME.a.\n"
    "\n"
    "options:\n"
    "  -o, --out DIR          output directory (created if missing)\n"
    "  --name NAME            C name of the model (default: from the file name)\n"
    "  --target T             native (default: this machine) | generic (portable C99) |\n"
    "                         x86-64-avx2 | x86-64-avx512 | aarch64 | aarch64-dotprod |\n"
    "                         cortex-m4 | cortex-m7 (sets the weights object's triple,\n"
    "                         the C flags, and the kernels: x86 AVX2/AVX-512 VNNI and arm\n"
    "                         NEON/dotprod matmuls on weights; the rest generic C)\n"
    "  --threads N            threads for the target kernels' matmuls (default 1: no\n"
    "                         pthreads); the program's -t / NAME_set_threads lower it\n"
    "  --emit exe|lib|c       executable (default), static library, or C sources only\n"
    "                         (all weights as C arrays, nothing compiled)\n"
    "  --dim NAME=V           fix the dynamic dim NAME to V\n"
    "  --dim NAME<=V          keep NAME dynamic with upper bound V (checked at run time)\n"
    "                         (dynamic dims not named default to 1, with a warning)\n"
    "  --const NAME=FILE      freeze graph input NAME to the tensor in FILE (.npy or ONNX\n"
    "                         .pb); needed when a shape operand is a graph input\n"
    "  --cc CC, --cflags F    C compiler and extra flags (default $CC or cc, $SMELT_CFLAGS)\n"
    "  --weights-min BYTES    constants this large go to NAME_weights.o (default 262144)\n"
    "  --layout-min N         x86 / arm: pack f32 / f16 MatMul weights of N elements and more\n"
    "                         into the GEMM's panels (default 32768; language models 2048)\n"
    "  --ctx N                language models: KV cache length (default: the model's, at most 4096)\n"
    "  --kv f32|f16           language models: KV cache element type (default f32)\n"
    "  --quant Q              weight-only quantization of MatMul weights: f16 | int8 (per\n"
    "                         row, int8 activations) | q8_0 | q4_0 (ggml) | int4 | nf4 (groups)\n"
    "  --quant-group N        int4 / nf4 group size (default 32; else K's nearest divisor)\n"
    "  --quant-skip GLOB      keep weights whose name matches float (repeatable; also kept:\n"
    "                         token_embd.weight, unless GLOB is none); -v lists every error\n"
    "  --lora PATH[:SCALE]    merge a LoRA adapter (PEFT folder or GGUF adapter) into the weights\n"
    "                         before quantization; repeatable, scale default 1\n"
    "  --adapter NAME=PATH[:SCALE]  keep a LoRA adapter switchable at run time (NAME_set_adapter,\n"
    "                         the executable's --adapter NAME); repeatable\n"
    "  --print-after PASS     print the IR after PASS (lora_merge, fold, cse, dce, quantize, concat, fuse,\n"
    "                         layout, schedule, memplan, or all)\n"
    "  --skip-pass P,Q        do not run these passes (cse, fuse, ...; to measure them)\n"
    "  --verify-each          run the IR verifier after every pass\n"
    "  --cache-dir DIR        reuse the outputs of an earlier build with the same input\n"
    "                         bytes, options and smelt (XXH3; see docs/cmake.md)\n"
    "  --depfile FILE         write the files this build read as a Makefile rule\n"
    "  -q, --quiet            no progress and no summary line\n";

static const char *usage_inspect =
    "usage: smelt inspect MODEL [--dim NAME=V]... [--const NAME=FILE]...\n"
    "\n"
    "Prints the model's inputs and outputs, its op histogram, parameters and bytes per\n"
    "dtype, and the arena the compiled model will need (with the lower bound).\n";

static const char *usage_dump =
    "usage: smelt dump MODEL [--optimized] [--all-consts] [--dim ...] [--const ...]\n"
    "\n"
    "Prints the IR as read (or after the pass pipeline with --optimized) in its text\n"
    "form, which `smelt build` and `smelt dump` also accept as MODEL.  Constants of more\n"
    "than 16 elements print as their hash unless --all-consts is given.\n";

static const char *usage_eval =
    "usage: smelt eval MODEL IN.npy... [-o DIR] [--dim ...] [--const ...]\n"
    "\n"
    "Runs MODEL with the reference interpreter (slow, exact: the oracle every backend\n"
    "is tested against) and prints each output; -o DIR writes DIR/<output>.npy\n"
    "(DIR is created if missing).\n";

static const char *usage_ops =
    "usage: smelt ops [--ir | --onnx] [--markdown]\n"
    "\n"
    "Prints the IR operator table (ir/ops.def: inputs, attributes, meaning) and the\n"
    "ONNX operators the ONNX reader lowers, with the IR ops each becomes.  --ir or\n"
    "--onnx prints one of the two; --markdown prints Markdown tables (the ONNX table\n"
    "only, unless --ir is given), as in README.md.\n";

static void log_cb(void *user, int level, const char *msg) {
  int verbose = *(int *)user;
  if (level <= verbose) fprintf(stderr, "smelt: %s\n", msg);
}

/* Text from a checkpoint (names, op types) may hold any byte: control characters
 * are printed as \xNN so every diagnostic stays one line. */
static void put_text(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 32 || *p == 127) fprintf(stderr, "\\x%02x", *p);
    else fputc(*p, stderr);
}

static int fail(smelt_ctx *cx, const char *model) {
  const char *m = smelt_error_msg(cx);
  if (!m) m = "failed";
  fputs("smelt: error: ", stderr);
  if (model && strncmp(m, model, strlen(model))) { put_text(model); fputs(": ", stderr); }
  put_text(m);
  fputc('\n', stderr);
  return 1;
}

static void print_warnings(smelt_ctx *cx) {
  for (int i = 0; i < smelt_warning_count(cx); i++) {
    fputs("smelt: warning: ", stderr);
    put_text(smelt_warning(cx, i));
    fputc('\n', stderr);
  }
}

/* Options shared by every command that loads a model. */
struct common {
  struct smelt_dimopt dims[64];
  struct smelt_constopt consts[64];
  int ndims, nconsts;
  char dim_names[64][128], const_names[64][256]; /* the names point here: nothing to free */
};

static int parse_dim(struct common *c, const char *arg) {
  const char *eq = strstr(arg, "<=");
  int fixed = !eq;
  if (!eq) eq = strchr(arg, '=');
  if (!eq || eq == arg || eq - arg >= (long)sizeof c->dim_names[0] || c->ndims == 64) return -1;
  char *end;
  long long v = strtoll(eq + (fixed ? 1 : 2), &end, 10);
  if (*end || v < 1 || v > ((long long)1 << 40)) return -1;
  memcpy(c->dim_names[c->ndims], arg, (size_t)(eq - arg));
  c->dim_names[c->ndims][eq - arg] = 0;
  c->dims[c->ndims].name = c->dim_names[c->ndims];
  c->dims[c->ndims].value = v;
  c->dims[c->ndims].fixed = fixed;
  c->ndims++;
  return 0;
}

/* Handles --dim/--const at argv[*i]; 1 if consumed, 0 if not ours, -1 on error. */
static int common_opt(struct common *c, int argc, char **argv, int *i) {
  const char *a = argv[*i];
  if (strcmp(a, "--dim") && strcmp(a, "--const")) return 0;
  if (*i + 1 >= argc) { fprintf(stderr, "smelt: error: %s needs a value\n", a); return -1; }
  const char *v = argv[++*i];
  if (!strcmp(a, "--dim")) {
    if (parse_dim(c, v)) { fprintf(stderr, "smelt: error: --dim %s: expected NAME=VALUE or NAME<=MAX with a value >= 1\n", v); return -1; }
    return 1;
  }
  const char *eq = strchr(v, '=');
  if (!eq || eq == v || !eq[1] || eq - v >= (long)sizeof c->const_names[0] || c->nconsts == 64) {
    fprintf(stderr, "smelt: error: --const %s: expected NAME=FILE\n", v);
    return -1;
  }
  memcpy(c->const_names[c->nconsts], v, (size_t)(eq - v));
  c->const_names[c->nconsts][eq - v] = 0;
  c->consts[c->nconsts].name = c->const_names[c->nconsts];
  c->consts[c->nconsts].file = eq + 1;
  c->nconsts++;
  return 1;
}

static int wants_help(int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
  return 0;
}

static const char *human(int64_t b, char *buf, size_t n) {
  if (b < 10 * 1024) snprintf(buf, n, "%lld B", (long long)b);
  else if (b < 10 * 1024 * 1024) snprintf(buf, n, "%.1f KiB", b / 1024.0);
  else snprintf(buf, n, "%.1f MiB", b / 1048576.0);
  return buf;
}

static double build_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmd_build(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_build, stdout); return 0; }
  struct common co = {0};
  struct smelt_build_opts o = {.target = "native", .emit = SMELT_EMIT_EXE};
  const char *model = NULL;
  int quiet = 0, verbose = 0, nskip = 0;
  const char *skips[64];
  static struct smelt_lora_opt loras[2][32]; /* --lora, --adapter */
  static char lora_buf[2][32][4200];
  int nl[2] = {0, 0};
  const char *cache_dir = NULL, *depfile = NULL;
  char optstr[2048] = "";
  size_t ol = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    int i0 = i;
    int r = common_opt(&co, argc, argv, &i);
    if (r < 0) return 1;
    if (r == 0) {
      int needs = !strcmp(a, "-o") || !strcmp(a, "--out") || !strcmp(a, "--name") || !strcmp(a, "--target") || !strcmp(a, "--emit") ||
                  !strcmp(a, "--cc") || !strcmp(a, "--cflags") || !strcmp(a, "--print-after") || !strcmp(a, "--weights-min") ||
                  !strcmp(a, "--ctx") || !strcmp(a, "--kv") || !strcmp(a, "--quant") || !strcmp(a, "--quant-group") ||
                  !strcmp(a, "--quant-skip") || !strcmp(a, "--lora") || !strcmp(a, "--adapter") || !strcmp(a, "--cache-dir") ||
                  !strcmp(a, "--depfile") || !strcmp(a, "--threads") || !strcmp(a, "--layout-min");
      if (needs && i + 1 >= argc) { fprintf(stderr, "smelt: error: %s needs a value\n", a); return 1; }
      if (!strcmp(a, "-o") || !strcmp(a, "--out")) o.out_dir = argv[++i];
      else if (!strcmp(a, "--name")) o.name = argv[++i];
      else if (!strcmp(a, "--target")) o.target = argv[++i];
      else if (!strcmp(a, "--emit")) {
        const char *e = argv[++i];
        if (!strcmp(e, "exe")) o.emit = SMELT_EMIT_EXE;
        else if (!strcmp(e, "lib")) o.emit = SMELT_EMIT_LIB;
        else if (!strcmp(e, "c")) o.emit = SMELT_EMIT_C;
        else { fprintf(stderr, "smelt: error: --emit %s: expected exe, lib or c\n", e); return 1; }
      } else if (!strcmp(a, "--cc")) o.cc = argv[++i];
      else if (!strcmp(a, "--cflags")) o.cflags = argv[++i];
      else if (!strcmp(a, "--print-after")) o.print_after = argv[++i];
      else if (!strcmp(a, "--weights-min")) o.weights_min = strtoll(argv[++i], NULL, 10);
      else if (!strcmp(a, "--layout-min")) {
        char *e;
        long long v = strtoll(argv[++i], &e, 10);
        if (*e || v < 1) { fprintf(stderr, "smelt: error: --layout-min %s: expected a positive element count\n", argv[i]); return 1; }
        o.layout_min = v;
      }
      else if (!strcmp(a, "--ctx")) {
        o.ctx = strtoll(argv[++i], NULL, 10);
        if (o.ctx < 1 || o.ctx > (1 << 20)) { fprintf(stderr, "smelt: error: --ctx %s: expected 1 to 1048576 tokens\n", argv[i]); return 1; }
      } else if (!strcmp(a, "--kv")) {
        const char *k = argv[++i];
        if (!strcmp(k, "f16")) o.kv_f16 = 1;
        else if (strcmp(k, "f32")) { fprintf(stderr, "smelt: error: --kv %s: expected f32 or f16\n", k); return 1; }
      }
      else if (!strcmp(a, "--quant")) {
        o.quant = argv[++i];
        if (!strcmp(o.quant, "none")) o.quant = NULL;
        else if (!smelt_quant_scheme_known(o.quant)) {
          fprintf(stderr, "smelt: error: --quant %s: expected one of %s, or none\n", o.quant, smelt_quant_scheme_list());
          return 1;
        }
      } else if (!strcmp(a, "--quant-group")) {
        char *end;
        long v = strtol(argv[++i], &end, 10);
        if (*end || v < 1 || v > 65536) { fprintf(stderr, "smelt: error: --quant-group %s: expected 1 to 65536\n", argv[i]); return 1; }
        o.quant_group = (int)v;
      } else if (!strcmp(a, "--quant-skip")) {
        if (nskip == (int)(sizeof skips / sizeof *skips)) { fprintf(stderr, "smelt: error: at most 64 --quant-skip\n"); return 1; }
        skips[nskip++] = argv[++i];
        o.quant_skip = skips;
        o.nquant_skip = nskip;
      } else if (!strcmp(a, "--lora") || !strcmp(a, "--adapter")) {
        int k = a[2] == 'a';
        if (nl[k] == 32) { fprintf(stderr, "smelt: error: at most 32 %s options\n", a); return 1; }
        const char *e = smelt_lora_parse_opt(argv[++i], k, &loras[k][nl[k]], lora_buf[k][nl[k]], sizeof lora_buf[k][nl[k]]);
        if (e) { fprintf(stderr, "smelt: error: %s %s: %s\n", a, argv[i], e); return 1; }
        nl[k]++;
      }
      else if (!strcmp(a, "--cache-dir")) cache_dir = argv[++i];
      else if (!strcmp(a, "--depfile")) depfile = argv[++i];
      else if (!strcmp(a, "--threads")) {
        char *e;
        long t = strtol(argv[++i], &e, 10);
        if (*e || t < 1 || t > 256) { fprintf(stderr, "smelt: error: --threads %s: expected 1 to 256\n", argv[i]); return 1; }
        o.threads = (int)t;
      }
      else if (!strcmp(a, "--verify-each")) o.verify_each = 1;
      else if (!strcmp(a, "--skip-pass") && i + 1 < argc) o.skip_passes = argv[++i];
      else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
      else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) verbose++;
      else if (a[0] == '-') { fprintf(stderr, "smelt: error: unknown option %s (see smelt build --help)\n", a); return 1; }
      else if (!model) model = a;
      else { fprintf(stderr, "smelt: error: more than one MODEL given (%s, %s)\n", model, a); return 1; }
    }
    /* the options that shape the output, with their values, are recorded in NAME.h
     * (not the output directory or verbosity: the same build anywhere gives the same files) */
    int shapes = a != model && strcmp(a, "-o") && strcmp(a, "--out") && strcmp(a, "-q") && strcmp(a, "--quiet") && strcmp(a, "-v") && strcmp(a, "--verbose") &&
                 strcmp(a, "--cache-dir") && strcmp(a, "--depfile");
    for (int k = i0; k <= i && shapes && ol < sizeof optstr - 1; k++)
      ol += snprintf(optstr + ol, sizeof optstr - ol, "%s%s", ol ? " " : "", argv[k]);
  }
  if (!model || !o.out_dir) { fputs(usage_build, stderr); return 1; }
  if (!smelt_target_find(o.target)) {
    fprintf(stderr, "smelt: error: --target %s: unknown (smelt knows %s)\n", o.target, smelt_target_names());
    return 1;
  }
  if (o.print_after && strcmp(o.print_after, "all") && !smelt_pass_find(o.print_after)) {
    fprintf(stderr, "smelt: error: --print-after %s: unknown pass (see --help, or all)\n", o.print_after);
    return 1;
  }
  o.load = (struct smelt_load_opts){co.dims, co.ndims, co.consts, co.nconsts};
  o.loras = loras[0];
  o.nloras = nl[0];
  o.adapters = loras[1];
  o.nadapters = nl[1];
  o.options = optstr;
  o.print_to = stdout;
  smelt_ctx *cx = smelt_ctx_new();
  if (!cx) { fprintf(stderr, "smelt: error: out of memory\n"); return 1; }
  smelt_set_log(cx, log_cb, &verbose);
  struct smelt_build_info info;
  struct smelt_progress prog;
  smelt_progress_init(&prog, stderr, quiet);
  o.progress = smelt_progress_cb;
  o.progress_user = &prog;
  /* the compile cache: only for a valid --name (it names files) and without --print-after */
  const char *cname = o.name ? o.name : smelt_default_name(cx, model);
  int valid = *cname && strlen(cname) <= 64 && strspn(cname, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == strlen(cname) &&
              !(cname[0] >= '0' && cname[0] <= '9');
  struct smelt_cache_req creq = {cache_dir, model, optstr, o.out_dir, cname, o.emit, smelt_progress_cb, &prog};
  double t_start = build_now();
  int hit = cache_dir && valid && !o.print_after ? smelt_cache_lookup(cx, &creq, &info) : 0;
  int rc = hit < 0 ? SMELT_ERR : hit ? 0 : smelt_build(cx, model, &o, &info);
  smelt_progress_cb(&prog, NULL, 0, 0);
  print_warnings(cx);
  if (rc) { rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  if (!hit && cache_dir && valid && !o.print_after && smelt_cache_store(cx, &creq, &info)) {
    fputs("smelt: warning: ", stderr); /* the build is fine; only the cache missed out */
    put_text(smelt_error_msg(cx));
    fputs(" (outputs not cached)\n", stderr);
    smelt_clear_error(cx);
  }
  if (depfile && smelt_write_depfile(cx, depfile, smelt_build_primary_output(cx, o.out_dir, info.name, o.emit))) {
    rc = fail(cx, depfile);
    smelt_ctx_free(cx);
    return rc;
  }
  if (hit && !quiet) {
    char a[32], w[32];
    fprintf(stderr, "smelt: %s -> %s (%s): weights %s, arena %s; cached, %.2f s\n", model,
            smelt_build_primary_output(cx, o.out_dir, info.name, o.emit), o.target, human(info.weight_bytes, w, sizeof w),
            human(info.arena_bytes, a, sizeof a), build_now() - t_start);
  } else if (!quiet) {
    char a[32], w[32];
    const char *kind = o.emit == SMELT_EMIT_EXE ? "executable" : o.emit == SMELT_EMIT_LIB ? "library" : "C sources";
    fprintf(stderr, "smelt: %s -> %s/%s%s%s (%s, %s): %d kernels, weights %s, arena %s; %.2f s + cc %.2f s\n", model, o.out_dir,
            o.emit == SMELT_EMIT_LIB ? "lib" : "", info.name, o.emit == SMELT_EMIT_LIB ? ".a" : o.emit == SMELT_EMIT_C ? ".c" : "",
            kind, o.target, info.nkernels, human(info.weight_bytes, w, sizeof w),
            human(info.arena_bytes, a, sizeof a), info.t_compile, info.t_cc);
  }
  smelt_ctx_free(cx);
  return 0;
}

static smelt_graph *load(smelt_ctx *cx, const char *model, struct common *co) {
  struct smelt_load_opts lo = {co->dims, co->ndims, co->consts, co->nconsts};
  return smelt_load_model(cx, model, &lo);
}

static int inspect_ckpt(const char *model); /* LLM checkpoints (defined at the end) */

/* Kernels and arena of g (the full pipeline already run) against g0 built without
 * fusion (the pipeline is run here, skipping fuse and concat). */
static int pass_stats(smelt_ctx *cx, const char *what, smelt_graph *g, smelt_graph *g0) {
  struct smelt_build_opts o0 = {.skip_passes = "fuse,concat"};
  if (!g0 || smelt_run_pipeline(cx, g0, &o0)) return SMELT_ERR;
  const struct smelt_plan *p = g->plan, *p0 = g0->plan;
  printf("%skernels: %d before fusion, %d after\n", what, smelt_count_kernels(g0), smelt_count_kernels(g));
  printf("%sarena: %lld bytes before fusion (lower bound %lld, ratio %.2f), %lld after (lower bound %lld, ratio %.2f)\n", what,
         (long long)p0->arena_bytes, (long long)p0->lower_bound, p0->lower_bound ? (double)p0->arena_bytes / (double)p0->lower_bound : 1.0,
         (long long)p->arena_bytes, (long long)p->lower_bound, p->lower_bound ? (double)p->arena_bytes / (double)p->lower_bound : 1.0);
  if (g->nstates) printf("%sstate (KV cache): %lld bytes%s\n", what, (long long)(p->state_bytes + p->states_in_arena), p->joint ? " (inside the arena)" : "");
  return 0;
}

/* The peak before and after the schedule pass: g (the full pipeline already run)
 * against g1, the same graph through the pipeline without schedule. */
static int sched_stats(smelt_ctx *cx, const char *what, smelt_graph *g, smelt_graph *g1) {
  struct smelt_build_opts o1 = {.skip_passes = "schedule"};
  if (!g1 || smelt_run_pipeline(cx, g1, &o1)) return SMELT_ERR;
  const struct smelt_plan *p = g->plan, *p1 = g1->plan;
  printf("%sschedule: peak (lower bound) %lld bytes in the source order, %lld scheduled (%.1f%% lower); arena %lld -> %lld\n", what,
         (long long)p1->lower_bound, (long long)p->lower_bound, p1->lower_bound ? 100.0 * (1.0 - (double)p->lower_bound / (double)p1->lower_bound) : 0.0,
         (long long)p1->arena_bytes, (long long)p->arena_bytes);
  return 0;
}

static int cmd_inspect(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_inspect, stdout); return 0; }
  struct common co = {0};
  const char *model = NULL;
  for (int i = 2; i < argc; i++) {
    int r = common_opt(&co, argc, argv, &i);
    if (r < 0) return 1;
    if (r) continue;
    if (argv[i][0] == '-') { fprintf(stderr, "smelt: error: unknown option %s (see smelt inspect --help)\n", argv[i]); return 1; }
    if (model) { fprintf(stderr, "smelt: error: more than one MODEL given\n"); return 1; }
    model = argv[i];
  }
  if (!model) { fputs(usage_inspect, stderr); return 1; }
  { int rc = inspect_ckpt(model); if (rc >= 0) return rc; }
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = load(cx, model, &co);
  print_warnings(cx);
  if (!g) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  char buf[256], hb[32];
  printf("model %s (graph '%s', xxh3 %016llx)\n", model, g->name, (unsigned long long)g->source_hash);
  for (int s = 0; s < g->nsyms; s++) printf("  dim %s <= %lld (dynamic)\n", g->syms[s].name, (long long)g->syms[s].max);
  printf("inputs:\n");
  for (int i = 0; i < g->ninputs; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    printf("  %-24s %s%s\n", v->name, smelt_dtype_name(v->dt), smelt_shape_str(g, &v->shape, buf, sizeof buf));
  }
  printf("outputs:\n");
  for (int i = 0; i < g->noutputs; i++) {
    const smelt_value *v = &g->values[g->outputs[i]];
    printf("  %-24s %s%s\n", v->name, smelt_dtype_name(v->dt), smelt_shape_str(g, &v->shape, buf, sizeof buf));
  }
  int hist[SMELT_OP_COUNT] = {0};
  for (int i = 0; i < g->nnodes; i++) hist[g->nodes[i].op]++;
  printf("ops (%d nodes as read):\n", g->nnodes);
  for (int k = 0; k < SMELT_OP_COUNT; k++)
    if (hist[k]) printf("  %-16s %d\n", smelt_op_info((smelt_op)k)->name, hist[k]);
  int64_t params[SMELT_DT_COUNT] = {0}, bytes[SMELT_DT_COUNT] = {0}, tp = 0, tb = 0;
  for (int v = 0; v < g->nvalues; v++) {
    const smelt_value *val = &g->values[v];
    if (val->kind != SMELT_V_CONST) continue;
    int64_t e = smelt_shape_max_elems(g, &val->shape);
    params[val->dt] += e;
    bytes[val->dt] += (int64_t)val->c.nbytes;
    tp += e;
    tb += (int64_t)val->c.nbytes;
  }
  printf("parameters: %lld in %s\n", (long long)tp, human(tb, hb, sizeof hb));
  for (int d = 0; d < SMELT_DT_COUNT; d++)
    if (params[d]) printf("  %-5s %12lld  %s\n", smelt_dtype_name((smelt_dtype)d), (long long)params[d], human(bytes[d], hb, sizeof hb));
  smelt_graph *g0 = load(cx, model, &co); /* the same without fusion, to compare */
  if (smelt_run_pipeline(cx, g, NULL)) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  printf("after passes: %d nodes\n", g->nnodes);
  printf("arena: %lld bytes (lower bound %lld, ratio %.2f)\n", (long long)g->plan->arena_bytes, (long long)g->plan->lower_bound,
         g->plan->lower_bound ? (double)g->plan->arena_bytes / (double)g->plan->lower_bound : 1.0);
  if (pass_stats(cx, "", g, g0)) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  if (sched_stats(cx, "", g, load(cx, model, &co))) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  smelt_ctx_free(cx);
  return 0;
}

static int cmd_dump(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_dump, stdout); return 0; }
  struct common co = {0};
  const char *model = NULL;
  int optimized = 0, all = 0;
  for (int i = 2; i < argc; i++) {
    int r = common_opt(&co, argc, argv, &i);
    if (r < 0) return 1;
    if (r) continue;
    if (!strcmp(argv[i], "--optimized")) optimized = 1;
    else if (!strcmp(argv[i], "--all-consts")) all = 1;
    else if (argv[i][0] == '-') { fprintf(stderr, "smelt: error: unknown option %s (see smelt dump --help)\n", argv[i]); return 1; }
    else if (model) { fprintf(stderr, "smelt: error: more than one MODEL given\n"); return 1; }
    else model = argv[i];
  }
  if (!model) { fputs(usage_dump, stderr); return 1; }
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = load(cx, model, &co);
  print_warnings(cx);
  if (!g || (optimized && smelt_run_pipeline(cx, g, NULL)) || smelt_print(g, stdout, all ? SMELT_PRINT_CONSTS : 0)) {
    int rc = fail(cx, model);
    smelt_ctx_free(cx);
    return rc;
  }
  smelt_ctx_free(cx);
  return 0;
}

/* ---- smelt ops -------------------------------------------------------------------- */

/* A formula from ops.def for display: the casts (T) and (U) dropped, P(name) -> name. */
static void clean_expr(const char *e, char *out, size_t n) {
  size_t k = 0;
  while (*e && k + 1 < n) {
    if (!strncmp(e, "(T)", 3) || !strncmp(e, "(U)", 3)) { e += 3; continue; }
    if (!strncmp(e, "P(", 2)) {
      const char *c = strchr(e, ')');
      if (c) {
        for (e += 2; e < c && k + 1 < n; e++) out[k++] = *e;
        e = c + 1;
        continue;
      }
    }
    out[k++] = *e++;
  }
  out[k] = 0;
}

/* Splits "SM_RED(init, acc, fin)" at its top-level commas; 0 on success. */
static int split_red(const char *e, char parts[3][128]) {
  if (strncmp(e, "SM_RED(", 7)) return -1;
  e += 7;
  int depth = 0, p = 0;
  size_t k = 0;
  for (; *e; e++) {
    if (*e == '(') depth++;
    if (*e == ')' && depth-- == 0) break;
    if (*e == ',' && depth == 0) {
      parts[p][k] = 0;
      if (++p == 3) return -1;
      k = 0;
      while (e[1] == ' ') e++;
      continue;
    }
    if (k < 127) parts[p][k++] = *e;
  }
  parts[p][k] = 0;
  return p == 2 ? 0 : -1;
}

/* What an IR op computes, in a line: from a few words for the structural ops, else
 * from its ops.def formula, else its kernel class. */
static const char *op_meaning(const struct smelt_opinfo *oi, char *buf, size_t n) {
  static const struct { const char *op, *what; } words[] = {
      {"Round", "round half to even"},
      {"Max", "max(x, y), NaN if either is"},
      {"Min", "min(x, y), NaN if either is"},
      {"Mod", "x mod y; integers take the sign of the divisor (Python's %)"},
      {"FMod", "fmod(x, y): the sign of the dividend (C's %)"},
      {"Shl", "x << y (0 when y >= the bit width)"},
      {"Shr", "x >> y, logical (0 when y >= the bit width)"},
      {"Where", "c ? x : y for inputs c, x, y, numpy broadcast"},
      {"Cast", "convert to dtype `to`; out-of-range float to integer saturates"},
      {"ArgMax", "index of the largest element along axis"},
      {"ArgMin", "index of the smallest element along axis"},
      {"Softmax", "exp(x - max) / sum(exp(x - max)) along axis"},
      {"LogSoftmax", "x - max - log(sum(exp(x - max))) along axis"},
      {"MatMul", "Y[..,m,n] = sum_k A[..,m,k] B[..,k,n] (B[..,n,k] with trans_b); batch dims broadcast"},
      {"Conv", "X[N,C,d..] convolved with W[M,C/group,k..] (+ B[M]); pads are begins then ends"},
      {"MaxPool", "max over each window"},
      {"AveragePool", "mean over each window"},
      {"Reshape", "the same elements in the output's shape"},
      {"Expand", "broadcast to the output's shape"},
      {"Transpose", "permute the dims by perm"},
      {"Concat", "join the inputs along axis"},
      {"Slice", "starts / ends / steps on every axis (already clamped)"},
      {"Gather", "take entries along axis at the indices (negative counts from the end)"},
      {"GatherElements", "Y[i] = X[i with i[axis] = I[i]]: the output has the indices' shape"},
      {"ScatterElements", "Y = X, then Y[i with i[axis] = I[i]] = U[i] (or combined by reduction) for every i"},
      {"GatherND", "the slices of X named by the index tuples in the last dim of I (after batch_dims shared dims)"},
      {"ScatterND", "Y = X, then the slices named by the index tuples of I take U (or combine by reduction)"},
      {"Trilu", "keep the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix, zero the rest"},
      {"CumSum", "running sum along axis (exclusive: without the element itself; reverse: from the end)"},
      {"OneHot", "a new axis of size depth: values[1] where it equals the index, values[0] elsewhere"},
      {"TopK", "the k largest (smallest) along axis, sorted, and their int64 indices"},
      {"ReverseSequence", "reverse the first L[b] steps along time_axis of each batch b"},
      {"Pad", "pads (begins then ends) with mode constant | reflect | edge"},
  };
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (!strcmp(words[i].op, oi->name)) return words[i].what;
  int has_f = strcmp(oi->fexpr, "0") != 0, has_i = strcmp(oi->iexpr, "0") != 0;
  char parts[3][128], e[512];
  if ((has_f || has_i) && !split_red(has_f ? oi->fexpr : oi->iexpr, parts)) {
    char init[128], acc[128], fin[128];
    clean_expr(parts[0], init, sizeof init);
    clean_expr(parts[1], acc, sizeof acc);
    clean_expr(parts[2], fin, sizeof fin);
    snprintf(buf, n, "reduce over axes: a = %s, then a = %s per element x; result %s%s", init, acc, fin,
             strstr(fin, "/ n") ? " (n: elements reduced)" : "");
    return buf;
  }
  if (has_f || has_i) {
    clean_expr(has_f ? oi->fexpr : oi->iexpr, e, sizeof e);
    snprintf(buf, n, "%s%s", e, !has_f ? " (integers, bool)" : !has_i ? " (floats)" : "");
    return buf;
  }
  snprintf(buf, n, "kernel class %s", oi->kind);
  return buf;
}

static const char *arity(int lo, int hi, char *buf, size_t n) {
  if (hi < 0) snprintf(buf, n, "%d+", lo);
  else if (hi != lo) snprintf(buf, n, "%d-%d", lo, hi);
  else snprintf(buf, n, "%d", lo);
  return buf;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* The IR ops an ONNX operator becomes: its row in onnx_notes.c, else the IR op of the
 * same name, else unknown. */
static const char *onnx_ir(const char *op, const char **note) {
  const struct smelt_onnx_note *n = smelt_onnx_note(op);
  smelt_op id;
  *note = n ? n->note : NULL;
  if (n && n->ir) return n->ir;
  if (!smelt_op_lookup(op, &id)) return smelt_op_info(id)->name;
  return NULL;
}

static const char *compile_time_note =
    "Operands that ONNX passes as tensors but that decide a shape (Reshape's shape, Slice's\n"
    "starts, reduction axes, Pad's pads, ...) must be known at compile time: constants, or\n"
    "graph inputs frozen with ";

static int cmd_ops(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_ops, stdout); return 0; }
  int md = 0, ir = 0, onnx = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--markdown")) md = 1;
    else if (!strcmp(argv[i], "--ir")) ir = 1;
    else if (!strcmp(argv[i], "--onnx")) onnx = 1;
    else { fprintf(stderr, "smelt: error: unknown argument %s (see smelt ops --help)\n", argv[i]); return 1; }
  }
  if (!ir && !onnx) { onnx = 1; ir = !md; }
  char a[32], b[32], m[640];
  if (ir) {
    if (md) {
      printf("| IR op | inputs | attributes | meaning |\n|---|---|---|---|\n");
    } else {
      printf("IR operators (ir/ops.def): %d\n", SMELT_OP_COUNT);
      printf("meaning: a formula over the inputs x, y, or what the op does; ONNX semantics unless noted\n");
      printf("attribute types: i int, f float, is ints, fs floats, s string, t dtype; =default\n\n");
    }
    for (int k = 0; k < SMELT_OP_COUNT; k++) {
      const struct smelt_opinfo *oi = smelt_op_info((smelt_op)k);
      arity(oi->nin_min, oi->nin_max, a, sizeof a);
      if (oi->nout_max != 1) snprintf(a + strlen(a), sizeof a - strlen(a), " -> %s", arity(oi->nout_min, oi->nout_max, b, sizeof b));
      const char *what = op_meaning(oi, m, sizeof m);
      if (md) {
        printf("| %s | %s | %s%s%s | ", oi->name, a, *oi->attrs ? "`" : "", oi->attrs, *oi->attrs ? "`" : "");
        for (const char *c = what; *c; c++) printf(*c == '|' ? "\\|" : "%c", *c);
        printf(" |\n");
      } else {
        printf("  %-16s %-6s %s\n", oi->name, a, what);
        if (*oi->attrs) printf("  %-16s %-6s attributes: %s\n", "", "", oi->attrs);
      }
    }
    if (onnx) printf("\n");
  }
  if (onnx) {
    int n = smelt_onnx_ops(NULL, 0);
    const char **names = malloc(sizeof *names * (size_t)(n ? n : 1));
    if (!names) { fprintf(stderr, "smelt: error: out of memory\n"); return 1; }
    smelt_onnx_ops(names, n);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    if (md) {
      /* the 1:1 operators in one paragraph, the others in a table */
      int same = 0, first = 1;
      for (int i = 0; i < n; i++) {
        const char *note, *irs = onnx_ir(names[i], &note);
        same += irs && !note && !strcmp(irs, names[i]);
      }
      printf("smelt reads %d ONNX operators (domain `ai.onnx`). These %d become the IR op of the same name:\n", n, same);
      for (int i = 0; i < n; i++) {
        const char *note, *irs = onnx_ir(names[i], &note);
        if (irs && !note && !strcmp(irs, names[i])) { printf("%s`%s`", first ? "" : ", ", names[i]); first = 0; }
      }
      printf(".\n\nThe others:\n\n| ONNX op | IR ops | notes |\n|---|---|---|\n");
      for (int i = 0; i < n; i++) {
        const char *note, *irs = onnx_ir(names[i], &note);
        if (irs && !note && !strcmp(irs, names[i])) continue;
        printf("| %s | %s | %s |\n", names[i], irs ? irs : "", note ? note : "");
      }
      printf("\n%s`--const NAME=FILE`.\n", compile_time_note);
    } else {
      printf("ONNX operators the reader lowers (compiler/onnx_lower_*.c): %d\n\n", n);
      for (int i = 0; i < n; i++) {
        const char *note, *irs = onnx_ir(names[i], &note);
        printf("  %-26s -> %s\n", names[i], irs ? irs : "?");
        if (note) printf("  %-26s    %s\n", "", note);
      }
      printf("\n%s--const NAME=FILE.\n", compile_time_note);
    }
    free(names);
  }
  return 0;
}

static int cmd_eval(int argc, char **argv);
static int cmd_tokenize(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    if (argc >= 3 && !strcmp(argv[1], "help")) {
      const char *c = argv[2];
      fputs(!strcmp(c, "build") ? usage_build : !strcmp(c, "inspect") ? usage_inspect : !strcmp(c, "dump") ? usage_dump : !strcmp(c, "eval") ? usage_eval : !strcmp(c, "ops") ? usage_ops : usage_main, stdout);
      return 0;
    }
    fputs(usage_main, argc < 2 ? stderr : stdout);
    return argc < 2;
  }
  if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) { printf("smelt %s\n", SMELT_VERSION); return 0; }
  if (!strcmp(argv[1], "build")) return cmd_build(argc, argv);
  if (!strcmp(argv[1], "inspect")) return cmd_inspect(argc, argv);
  if (!strcmp(argv[1], "dump")) return cmd_dump(argc, argv);
  if (!strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
  if (!strcmp(argv[1], "ops")) return cmd_ops(argc, argv);
  if (!strcmp(argv[1], "tokenize")) return cmd_tokenize(argc, argv);
  fprintf(stderr, "smelt: error: unknown command '%s' (see smelt --help)\n", argv[1]);
  return 1;
}

#include "runtime/smelt_npy.h"

#include <errno.h>
#include <sys/stat.h>

static int cmd_eval(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_eval, stdout); return 0; }
  struct common co = {0};
  const char *model = NULL, *outdir = NULL, *ins[64];
  int nin = 0;
  for (int i = 2; i < argc; i++) {
    int r = common_opt(&co, argc, argv, &i);
    if (r < 0) return 1;
    if (r) continue;
    if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
    else if (argv[i][0] == '-') { fprintf(stderr, "smelt: error: unknown option %s (see smelt eval --help)\n", argv[i]); return 1; }
    else if (!model) model = argv[i];
    else if (nin < 64) ins[nin++] = argv[i];
  }
  if (!model) { fputs(usage_eval, stderr); return 1; }
  if (outdir && mkdir(outdir, 0777) && errno != EEXIST) {
    fprintf(stderr, "smelt: error: %s: cannot create directory: %s\n", outdir, strerror(errno));
    return 1;
  }
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = load(cx, model, &co);
  print_warnings(cx);
  if (!g) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  if (nin != g->ninputs) {
    fprintf(stderr, "smelt: error: %s takes %d input(s), %d given\n", model, g->ninputs, nin);
    smelt_ctx_free(cx);
    return 1;
  }
  smelt_tensor in[64], out[64];
  int rc = 0, loaded = 0, evaluated = 0;
  for (; loaded < nin; loaded++) {
    if (smelt_read_tensor_file(cx, ins[loaded], &in[loaded])) { rc = fail(cx, ins[loaded]); break; }
    /* an array that does not fit its input is the file's error, not the model's */
    const smelt_value *v = &g->values[g->inputs[loaded]];
    int fits = in[loaded].dt == v->dt && in[loaded].rank == v->shape.rank;
    for (int k = 0; fits && k < v->shape.rank; k++)
      fits = v->shape.d[k].sym ? in[loaded].dims[k] >= 0 && in[loaded].dims[k] <= g->syms[v->shape.d[k].sym - 1].max
                               : in[loaded].dims[k] == v->shape.d[k].n;
    if (!fits) {
      char want[256];
      fprintf(stderr, "smelt: error: %s: input '%s' needs %s%s, the file has %s of rank %d\n", ins[loaded], v->name, smelt_dtype_name(v->dt),
              smelt_shape_str(g, &v->shape, want, sizeof want), smelt_dtype_name(in[loaded].dt), in[loaded].rank);
      loaded++;
      rc = 1;
      break;
    }
  }
  if (!rc && g->noutputs > 64) { fprintf(stderr, "smelt: error: too many outputs\n"); rc = 1; }
  /* a graph with state starts from zeroed state buffers, as the executables do */
  smelt_tensor *st = calloc((size_t)g->nstates + 1, sizeof *st);
  for (int i = 0; st && i < g->nstates; i++) {
    const smelt_value *sv = &g->values[g->states[i]];
    st[i].dt = sv->dt;
    st[i].rank = sv->shape.rank;
    smelt_shape_resolve(&sv->shape, NULL, st[i].dims);
    st[i].data = calloc(1, (size_t)smelt_dtype_nbytes(sv->dt, smelt_shape_max_elems(g, &sv->shape)) + 1);
  }
  if (!rc && (!st || smelt_eval_state(g, in, out, st))) rc = fail(cx, model);
  else if (!rc) evaluated = 1;
  if (!rc)
    for (int k = 0; k < g->noutputs; k++) {
      const smelt_value *v = &g->values[g->outputs[k]];
      int64_t n = smelt_tensor_elems(&out[k]);
      printf("%s [", v->name);
      for (int j = 0; j < out[k].rank; j++) printf("%s%lld", j ? "," : "", (long long)out[k].dims[j]);
      printf("]:");
      for (int64_t e = 0; e < n && e < 10; e++) printf(" %.6g", smelt_tensor_getf(&out[k], e));
      printf("%s\n", n > 10 ? " ..." : "");
      if (outdir) {
        char path[4096];
        int off = snprintf(path, sizeof path, "%s/", outdir);
        for (const char *c = v->name; *c && off < (int)sizeof path - 8; c++)
          path[off++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.') ? *c : '_';
        strcpy(path + off, ".npy");
        if (smelt_npy_write(path, smelt_dtype_npy(v->dt), out[k].rank, out[k].dims, out[k].data, (size_t)n * smelt_dtype_bytes(v->dt))) {
          fprintf(stderr, "smelt: error: %s: cannot write\n", path);
          rc = 1;
        }
      }
    }
  if (evaluated)
    for (int k = 0; k < g->noutputs; k++) smelt_tensor_free(&out[k]);
  for (int k = 0; k < loaded; k++) smelt_tensor_free(&in[k]);
  for (int i = 0; st && i < g->nstates; i++) smelt_tensor_free(&st[i]);
  free(st);
  smelt_ctx_free(cx);
  return rc;
}

/* ---- smelt tokenize -------------------------------------------------------------------- */

#include "compiler/tokenizer.h"

static const char *usage_tokenize =
    "usage: smelt tokenize MODEL TEXT [--bos] [--no-special]\n"
    "       smelt tokenize MODEL --file FILE [--bos] [--no-special]\n"
    "\n"
    "Prints the token ids of TEXT (or of the bytes of FILE) separated by spaces, as the\n"
    "compiled model tokenizes them.  MODEL is a GGUF file (a vocabulary-only file will\n"
    "do) or a folder with tokenizer.json (and optionally tokenizer_config.json), or a\n"
    "tokenizer.json itself.\n"
    "\n"
    "options:\n"
    "  --bos          add the BOS token (and EOS where the model adds one, as BERT's\n"
    "                 [SEP]); without it no BOS or EOS is added\n"
    "  --no-special   control-token text (<s>, <|im_start|>...) is plain text; added\n"
    "                 tokens that are not special are still matched\n"
    "  --file FILE    tokenize the contents of FILE instead of TEXT\n";

static int cmd_tokenize(int argc, char **argv) {
  if (wants_help(argc, argv)) { fputs(usage_tokenize, stdout); return 0; }
  const char *model = NULL, *text = NULL, *file = NULL;
  int bos = 0, nospecial = 0, have_text = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--bos")) bos = 1;
    else if (!strcmp(a, "--no-special")) nospecial = 1;
    else if (!strcmp(a, "--file")) {
      if (i + 1 >= argc) { fprintf(stderr, "smelt: error: --file needs a value\n"); return 1; }
      file = argv[++i];
    } else if (a[0] == '-' && a[1] && !have_text && model) { fprintf(stderr, "smelt: error: unknown option %s (see smelt tokenize --help)\n", a); return 1; }
    else if (!model) model = a;
    else if (!have_text) { text = a; have_text = 1; }
    else { fprintf(stderr, "smelt: error: more than one TEXT given (quote it)\n"); return 1; }
  }
  if (!model || (!have_text && !file) || (have_text && file)) { fputs(usage_tokenize, stderr); return 1; }
  smelt_ctx *cx = smelt_ctx_new();
  if (!cx) { fprintf(stderr, "smelt: error: out of memory\n"); return 1; }
  struct smelt_tokenizer *tk = NULL;
  struct stat st;
  if (stat(model, &st)) {
    fprintf(stderr, "smelt: error: %s: %s\n", model, strerror(errno));
    smelt_ctx_free(cx);
    return 1;
  }
  if (S_ISDIR(st.st_mode)) {
    char tj[4096], tc[4096];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", model);
    snprintf(tc, sizeof tc, "%s/tokenizer_config.json", model);
    if (access(tj, F_OK)) smelt_errorf(cx, "%s: no tokenizer.json in the folder", model);
    else tk = smelt_tokenizer_from_json(cx, tj, tc);
  } else {
    size_t ml = strlen(model);
    if (ml > 5 && !strcmp(model + ml - 5, ".json")) tk = smelt_tokenizer_from_json(cx, model, NULL);
    else {
      struct smelt_gguf *g = smelt_gguf_open(cx, model);
      if (g) tk = smelt_tokenizer_from_gguf(cx, g);
    }
  }
  print_warnings(cx);
  if (!tk) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  size_t len = have_text ? strlen(text) : 0;
  char *buf = NULL;
  if (file) {
    FILE *f = fopen(file, "rb");
    if (!f) { fprintf(stderr, "smelt: error: %s: %s\n", file, strerror(errno)); smelt_ctx_free(cx); return 1; }
    size_t cap = 65536;
    buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + len, 1, cap - len, f)) > 0;) {
      len += r;
      if (len == cap) { char *nb = cap < ((size_t)1 << 30) ? realloc(buf, cap *= 2) : NULL; if (!nb) { free(buf); buf = NULL; } else buf = nb; }
    }
    fclose(f);
    if (!buf) { fprintf(stderr, "smelt: error: %s: too large or out of memory\n", file); smelt_ctx_free(cx); return 1; }
    text = buf;
  }
  int32_t *ids;
  int n = smelt_tokenizer_encode(tk, text, len, bos | (nospecial ? 2 : 0), &ids);
  if (n < 0) {
    free(buf);
    int rc = fail(cx, file ? file : model);
    smelt_ctx_free(cx);
    return rc;
  }
  for (int i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
  printf("\n");
  free(buf);
  smelt_ctx_free(cx);
  return 0;
}

/* ---- smelt inspect on an LLM checkpoint (a Hugging Face folder or a GGUF file) ---------- */
#include "compiler/ckpt.h"
#include "compiler/tokenizer.h"
#include "compiler/arch/arch.h"

/* Returns -1 when model is neither a folder nor a GGUF file (the caller goes on). */
static int inspect_ckpt(const char *model) {
  struct stat st;
  char magic[4] = {0};
  if (stat(model, &st)) return -1;
  if (!S_ISDIR(st.st_mode)) {
    FILE *f = S_ISREG(st.st_mode) ? fopen(model, "rb") : NULL;
    size_t n = f ? fread(magic, 1, 4, f) : 0;
    if (f) fclose(f);
    if (n != 4 || memcmp(magic, "GGUF", 4)) return -1;
  }
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_ckpt *ck = smelt_ckpt_open(cx, model);
  smelt_graph *g = ck ? smelt_graph_new(cx, "inspect") : NULL;
  if (!g) { print_warnings(cx); int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  static const char *acts[] = {"silu", "gelu_tanh", "gelu"};
  printf("checkpoint %s (%s, arch %s, name '%s', xxh3 %016llx)\n", model, ck->format, ck->arch, ck->name ? ck->name : "",
         (unsigned long long)ck->hash);
  printf("hyperparameters:\n");
  printf("  n_vocab %lld\n  n_embd %lld\n  n_layer %lld\n  n_head %lld\n  n_head_kv %lld\n  head_dim %lld\n  n_ff %lld\n  n_ctx_train %lld\n",
         (long long)ck->n_vocab, (long long)ck->n_embd, (long long)ck->n_layer, (long long)ck->n_head, (long long)ck->n_head_kv,
         (long long)ck->head_dim, (long long)ck->n_ff, (long long)ck->n_ctx_train);
  printf("  norm_eps %g\n  act %s\n  norm_add_one %d\n  tie_embeddings %d\n", ck->norm_eps,
         ck->act >= 0 && ck->act <= 2 ? acts[ck->act] : "?", ck->norm_add_one, ck->tie_embeddings);
  if (ck->rope_theta) {
    printf("  rope_theta %g\n  rope_dim %lld (%s)\n", ck->rope_theta, (long long)ck->rope_dim, ck->rope_neox ? "neox" : "normal");
    if (ck->rope_scaling)
      printf("  rope_scaling %s (factor %g, low_freq_factor %g, high_freq_factor %g, original ctx %lld)\n", ck->rope_scaling, ck->rope_factor,
             ck->rope_low_freq_factor, ck->rope_high_freq_factor, (long long)ck->rope_orig_ctx);
  } else {
    printf("  positions learned\n");
  }
  if (ck->sliding_window) printf("  sliding_window %lld\n", (long long)ck->sliding_window);
  if (ck->attn_softcap) printf("  attn_softcap %g\n", ck->attn_softcap);
  if (ck->final_softcap) printf("  final_softcap %g\n", ck->final_softcap);
  if (ck->attn_scale) printf("  attn_scale %g\n", ck->attn_scale);
  if (ck->tok) {
    int64_t eos[8];
    int ne = smelt_tokenizer_eos(ck->tok, eos, 8);
    printf("tokenizer: %lld tokens, bos %lld, %d eos, add_bos %d\n", (long long)smelt_tokenizer_vocab_size(ck->tok),
           (long long)smelt_tokenizer_bos(ck->tok), ne, smelt_tokenizer_add_bos(ck->tok));
  } else {
    printf("tokenizer: none\n");
  }
  printf("generation: bos %lld, eos", (long long)ck->bos_id);
  for (int i = 0; i < ck->n_eos; i++) printf(" %lld", (long long)ck->eos_ids[i]);
  printf("%s, add_bos %d, temperature %g, top_p %g, top_k %lld\n", ck->n_eos ? "" : " none", ck->add_bos, ck->temperature, ck->top_p,
         (long long)ck->top_k);
  printf("chat template: %s%zu bytes\n", ck->chat_template ? "" : "none, ", ck->chat_template ? strlen(ck->chat_template) : (size_t)0);
  /* every tensor a builder may ask for, by its GGUF name */
  static const char *global[] = {"token_embd", "position_embd", "output_norm", "output", "rope_freqs"};
  static const char *layer[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_qkv", "attn_output", "post_attention_norm",
                                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm"};
  printf("tensors:\n");
  int64_t params = 0, bytes = 0;
  char name[128], buf[256], hb[32];
  for (int64_t l = -1; l < ck->n_layer && !smelt_failed(cx); l++)
    for (int i = 0; i < (l < 0 ? 5 : 12) && !smelt_failed(cx); i++)
      for (int b = 0; b < 2; b++) {
        if (l < 0) snprintf(name, sizeof name, "%s.%s", global[i], b ? "bias" : "weight");
        else snprintf(name, sizeof name, "blk.%lld.%s.%s", (long long)l, layer[i], b ? "bias" : "weight");
        int v = ck->weight(ck, g, name, 0);
        if (v < 0) continue;
        const smelt_value *val = &g->values[v];
        printf("  %-34s %s%s\n", name, smelt_dtype_name(val->dt), smelt_shape_str(g, &val->shape, buf, sizeof buf));
        params += smelt_shape_max_elems(g, &val->shape);
        bytes += (int64_t)val->c.nbytes;
      }
  print_warnings(cx);
  if (smelt_failed(cx)) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  printf("parameters: %lld in %s\n", (long long)params, human(bytes, hb, sizeof hb));
  /* what a build compiles: the prefill and decode graphs through the passes */
  struct smelt_llm_opts lo = smelt_llm_default_opts(ck);
  smelt_graph *egs[2] = {NULL, NULL};
  for (int dec = 0; dec < 2; dec++) {
    smelt_graph *eg = egs[dec] = smelt_arch_build(cx, ck, &lo, dec), *eg0 = eg ? smelt_arch_build(cx, ck, &lo, dec) : NULL;
    if (!eg0 || smelt_run_pipeline(cx, eg, NULL) || pass_stats(cx, dec ? "decode " : "prefill ", eg, eg0) ||
        sched_stats(cx, dec ? "decode " : "prefill ", eg, smelt_arch_build(cx, ck, &lo, dec))) {
      int rc = fail(cx, model);
      smelt_ctx_free(cx);
      return rc;
    }
  }
  /* what the build emits: the KV cache and both entry points' scratch in one plan */
  if (smelt_memplan_joint(cx, egs, 2)) { int rc = fail(cx, model); smelt_ctx_free(cx); return rc; }
  const struct smelt_plan *jp = egs[0]->plan;
  printf("one arena for the KV cache and both entry points: %lld bytes (lower bound %lld, ratio %.2f): state %lld, scratch prefill %lld / decode %lld\n",
         (long long)jp->arena_bytes, (long long)jp->lower_bound, jp->lower_bound ? (double)jp->arena_bytes / (double)jp->lower_bound : 1.0,
         (long long)jp->states_in_arena, (long long)jp->scratch_bytes, (long long)egs[1]->plan->scratch_bytes);
  smelt_ctx_free(cx);
  return 0;
}
