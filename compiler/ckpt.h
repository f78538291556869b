/* compiler/ckpt.h — what an LLM architecture builder (compiler/arch/) reads, whatever
 * the file format: hyperparameters, named weights, tokenizer and generation settings.
 *
 * Readers fill it: compiler/read_gguf.c (smelt_ckpt_from_gguf) and compiler/read_hf.c
 * (a Hugging Face folder: config.json, safetensors, tokenizer.json).  Weights are named
 * with GGUF's tensor names as llama.cpp writes them ("token_embd.weight",
 * "blk.3.attn_q.weight", "output_norm.weight", ...); a reader for another format maps
 * its names onto these, splitting or keeping fused tensors as GGUF does for that
 * architecture (Phi-3's attn_qkv and ffn_up, GPT-2's attn_qkv).
 *
 * Conventions that differ between formats are flags here rather than rewrites of the
 * weights:
 *   rope_neox  1 when Q/K use rotate-half RoPE pairs (i, i + d/2) — Hugging Face
 *              checkpoints and GGUF's neox-style architectures (qwen2, phi3, gemma...);
 *              0 for GGUF llama, whose Q/K rows llama.cpp's converter permuted so that
 *              pairs are adjacent (2i, 2i + 1).  Both give the same logits.
 *   norm_add_one  Gemma's RMSNorm scales by (1 + w); GGUF files already store 1 + w
 *              (set 0 there), Hugging Face stores w (set 1). */
#ifndef SMELT_CKPT_H
#define SMELT_CKPT_H

#include "ir/ir.h"

struct smelt_tokenizer; /* compiler/tokenizer.h */

struct smelt_ckpt {
  smelt_ctx *cx;
  const char *path;         /* the file or folder, for diagnostics */
  const char *format;       /* "gguf" | "hf" */
  const char *arch;         /* "llama" "qwen2" "mistral" "gemma" "gemma2" "phi3" "gpt2" */
  const char *name;         /* model name when the file says one */
  uint64_t hash;            /* XXH3 over the files read */

  /* ---- hyperparameters (0 / absent when an architecture has no such thing) ---- */
  int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, head_dim, n_ctx_train;
  double norm_eps;          /* RMSNorm / LayerNorm epsilon */
  double rope_theta;        /* base frequency; 0 for learned positions (GPT-2) */
  int64_t rope_dim;         /* rotated dims per head (<= head_dim; Phi-3 partial rotary) */
  int rope_neox;            /* see above */
  /* Llama-3 style rope scaling ("llama3"), or "linear"; NULL when none */
  const char *rope_scaling;
  double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  int64_t rope_orig_ctx;
  int64_t sliding_window;   /* attention window (Mistral, Gemma 2 alternate layers); 0 = none */
  double attn_softcap, final_softcap; /* Gemma 2 logit soft-capping; 0 = none */
  double attn_scale;        /* query scaling; 0 = 1/sqrt(head_dim) */
  int norm_add_one;         /* see above */
  int tie_embeddings;       /* output projection = token embedding (no output.weight) */
  int act;                  /* 0 SiLU (SwiGLU), 1 GELU-tanh (GeGLU / GPT-2), 2 GELU */

  /* ---- weights ---- */
  /* Adds the tensor with the GGUF name `name` to g as a constant (a view of the mapped
   * file where possible, keeping block-quantized types) and returns its value, or -1
   * when the checkpoint lacks it (with a diagnostic when `required`). */
  int (*weight)(struct smelt_ckpt *ck, smelt_graph *g, const char *name, int required);
  void *impl;               /* the reader's own state */

  /* ---- tokenizer and generation ---- */
  struct smelt_tokenizer *tok;    /* NULL when the checkpoint has none */
  const char *chat_template;      /* Jinja text from the checkpoint, or NULL */
  int64_t bos_id, eos_ids[8];     /* -1 / none when unknown */
  int n_eos;
  int add_bos;                    /* prompts start with BOS */
  double temperature, top_p;      /* generation_config defaults; 0 when unset */
  int64_t top_k;
};

/* Readers (each returns NULL with one diagnostic naming the file on failure). */
struct smelt_ckpt *smelt_ckpt_from_gguf(smelt_ctx *cx, const char *path);
struct smelt_ckpt *smelt_ckpt_from_hf(smelt_ctx *cx, const char *dir);
/* Picks the reader: a directory is a Hugging Face folder, a file starting "GGUF" is GGUF. */
struct smelt_ckpt *smelt_ckpt_open(smelt_ctx *cx, const char *path);

#endif
