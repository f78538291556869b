/* compiler/driver.h — loading a checkpoint, the pass pipeline, and building the
 * outputs of DESIGN §6.  Everything the CLI does goes through here, so tests and
 * tools can drive smelt as a library. */
#ifndef SMELT_DRIVER_H
#define SMELT_DRIVER_H

#include "ir/ir.h"
#include "passes/passes.h"

struct smelt_dimopt { const char *name; int64_t value; int fixed; }; /* --dim N=V (fixed) or N<=V */
struct smelt_constopt { const char *name; const char *file; };       /* --const NAME=FILE */

struct smelt_load_opts {
  const struct smelt_dimopt *dims; int ndims;
  const struct smelt_constopt *consts; int nconsts;
};

enum smelt_emit_kind { SMELT_EMIT_EXE, SMELT_EMIT_LIB, SMELT_EMIT_C };

#define SMELT_LLM_LAYOUT_MIN 2048
struct smelt_build_opts {
  struct smelt_load_opts load;
  const char *out_dir;
  const char *name;        /* NULL: derived from the model's file name */
  const char *target;      /* "generic" | "native" */
  enum smelt_emit_kind emit;
  const char *cc, *cflags; /* NULL: $CC or "cc", $SMELT_CFLAGS */
  const char *options;     /* recorded in NAME.h */
  const char *print_after; /* pass name, or "all" */
  FILE *print_to;          /* where --print-after goes */
  int verify_each;
  int64_t weights_min;     /* bytes; constants at least this large go to NAME_weights.o */
  int64_t ctx;             /* LLMs: KV cache length (0: the model's, capped at 4096) */
  int kv_f16;              /* LLMs: f16 KV cache */
  /* quantize pass (passes/quantize.c) */
  const char *quant;       /* --quant f16|int8|q8_0|q4_0|int4|nf4, NULL: none */
  int quant_group;         /* --quant-group N for int4 / nf4 (0: 32) */
  const char *const *quant_skip; int nquant_skip; /* --quant-skip globs on weight names */
  struct smelt_quant_memo *quant_memo; /* set by smelt_build: one quantized copy per weight
                                          for the graphs of one build (an LLM's two) */
  /* LoRA adapters (compiler/lora.h): --lora merged into the weights, --adapter kept
   * switchable; lora is filled by smelt_build from them (callers leave it NULL) */
  const struct smelt_lora_opt *loras, *adapters;
  int nloras, nadapters;
  struct smelt_lora_set *lora;
  const char *skip_passes; /* comma-separated pass names not to run (--skip-pass; memplan always runs) */
  /* progress of long steps (compiler/progress.h); NULL: none.  step NULL ends a step */
  void (*progress)(void *user, const char *step, int64_t done, int64_t total);
  void *progress_user;
  int threads;             /* --threads: target kernels' thread pool size (0, 1: none) */
  /* layout pass (passes/layout.c) */
  struct smelt_layout_memo *layout_memo; /* set by smelt_build: one packed copy per weight */
  int64_t layout_min;      /* weights with fewer elements stay unpacked (0: 32768, language models SMELT_LLM_LAYOUT_MIN) */
  struct smelt_concat_memo *concat_memo; /* set by smelt_build: one concatenated copy of
                                            merged Q/K/V and gate/up weights per build */
};

struct smelt_build_info {
  const char *name;
  int nnodes, nkernels;
  int64_t arena_bytes, lower_bound, weight_bytes;
  double t_compile, t_cc; /* seconds: reading to written sources; the C compiler */
};

struct smelt_ckpt;
struct smelt_llm_opts;
int smelt_is_gguf(const char *path);
/* --ctx default: the model's training context, capped at 4096; f32 KV cache */
struct smelt_llm_opts smelt_llm_default_opts(const struct smelt_ckpt *ck);

/* Reads a model by format (ONNX, smelt text IR) into a verified graph. */
smelt_graph *smelt_load_model(smelt_ctx *cx, const char *path, const struct smelt_load_opts *o);
/* The pipeline's pass called name, or NULL. */
const struct smelt_pass *smelt_pass_find(const char *name);
/* Runs the pass pipeline up to and including memplan. */
int smelt_run_pipeline(smelt_ctx *cx, smelt_graph *g, const struct smelt_build_opts *o);
/* Loads, optimizes, emits and (per o->emit) compiles a model into o->out_dir. */
int smelt_build(smelt_ctx *cx, const char *model, const struct smelt_build_opts *o, struct smelt_build_info *info);
/* The same for a graph already in memory (built by a program or a test): o->name, or
 * the graph's name, names the outputs. */
int smelt_build_graph(smelt_ctx *cx, smelt_graph *g, const struct smelt_build_opts *o, struct smelt_build_info *info);
/* A C identifier derived from a path ("models/mnist-8.onnx" -> "mnist_8"). */
const char *smelt_default_name(smelt_ctx *cx, const char *path);
/* Writes bytes to path atomically (temp file in the same directory + rename). */
int smelt_write_file(smelt_ctx *cx, const char *path, const void *data, size_t n);
/* Reads a tensor file (.npy, or ONNX TensorProto .pb) into a malloc'ed tensor. */
int smelt_read_tensor_file(smelt_ctx *cx, const char *path, smelt_tensor *t);

/* Is name in the comma-separated list skip (the --skip-pass list)? */
int smelt_skip_listed(const char *skip, const char *name);

#endif
