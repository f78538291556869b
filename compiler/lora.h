/* compiler/lora.h — LoRA adapters: what `--lora PATH[:SCALE]` (merged into the weights
 * by passes/lora_merge.c) and `--adapter NAME=PATH` (kept as low-rank constants and
 * switched at run time) read, whatever the file format.
 *
 * compiler/read_lora.c reads a PEFT adapter folder (adapter_config.json +
 * adapter_model.safetensors) or a GGUF LoRA file (general.type = adapter) into f32
 * A [r, in] and B [out, r] per target weight, and names each target the way the graph
 * names its constant: the ONNX initializer / Hugging Face tensor name
 * ("model.layers.0.self_attn.q_proj.weight", "fc1.weight") and, for a language model,
 * the GGUF name the architecture builders use ("blk.0.attn_q.weight").  The delta a
 * target gets is  scale · B·A  ([out, in], PyTorch's Linear layout) with
 * scale = user scale · alpha / r  (alpha / sqrt(r) with use_rslora). */
#ifndef SMELT_LORA_H
#define SMELT_LORA_H

#include "ir/ir.h"

struct smelt_ckpt;

struct smelt_lora_opt {   /* --lora PATH[:SCALE] (name NULL) or --adapter NAME=PATH[:SCALE] */
  const char *name, *path;
  double scale;
};

struct smelt_lora_tensor {
  const char *module;      /* the adapter's own name for it, for diagnostics */
  const char *names[2];    /* graph constant names it may be (first: the plain one) */
  int nnames;
  int64_t r, in, out;
  const float *a, *b;      /* A [r, in], B [out, r] (ctx arena; shared by every graph) */
  double scale;            /* alpha / r (rsLoRA: alpha / sqrt r) times the user's scale */
};

struct smelt_lora {
  const char *name, *path; /* name: the --adapter NAME, or NULL */
  const char *format;      /* "peft" | "gguf" */
  int n;
  struct smelt_lora_tensor *t;
};

/* Everything a build's adapters need; the driver makes it once per build, so the
 * prefill and decode graphs of a language model get the same merged buffers and A/B
 * constants (one symbol each in the output). */
struct smelt_lora_set {
  int nmerge, nswitch;
  struct smelt_lora *merge, *sw;
  smelt_map merged;        /* "%p:name" of an original constant -> index in bufs */
  struct smelt_lora_done { const void *data; uint64_t nbytes, hash; } *bufs;
  int nbufs, capbufs;
};

/* The name of the state holding the run-time scale of each switchable adapter (0 when
 * inactive): f32 [nswitch], written by the generated NAME_set_adapter. */
#define SMELT_ADAPTER_STATE "smelt.adapter_scales"

/* Reads one adapter; ck (NULL for ONNX models) gives the GGUF names of a language
 * model's weights and whether its Q/K rows are in llama.cpp's permuted order. */
struct smelt_lora *smelt_lora_read(smelt_ctx *cx, const struct smelt_lora_opt *o, const struct smelt_ckpt *ck);
/* Reads every --lora and --adapter of a build; NULL with a diagnostic on failure. */
struct smelt_lora_set *smelt_lora_load(smelt_ctx *cx, const struct smelt_lora_opt *merge, int nmerge, const struct smelt_lora_opt *sw,
                                       int nsw, const struct smelt_ckpt *ck);
/* Parses "PATH[:SCALE]" (lora) or "NAME=PATH[:SCALE]" (adapter) into o, whose strings
 * point into buf (size bytes); NULL, or what is wrong. */
const char *smelt_lora_parse_opt(const char *arg, int named, struct smelt_lora_opt *o, char *buf, size_t size);

int smelt_pass_lora_merge(smelt_ctx *cx, smelt_graph *g);

#endif
