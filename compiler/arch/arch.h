/* compiler/arch/arch.h — graph builders for decoder-only language models.
 *
 * One builder (decoder.c) covers the supported families — Llama (Llama 2/3, SmolLM,
 * TinyLlama), Mistral, Qwen2, Gemma, Gemma 2, Phi-3, GPT-2 — from the checkpoint's
 * hyperparameters and flags (compiler/ckpt.h); a family's quirks are a few lines
 * each, not a copy of the builder.
 *
 * Each call builds one entry point over the same weights and state:
 *   prefill  inputs ids i32[n] (n a symbol <= max_tokens) and pos i32[1]
 *   decode   the same with n = 1
 * The KV cache is state: per layer kc<L>, vc<L> [ctx, kv_heads, head_dim], written at
 * rows pos .. pos + n - 1.  The output is logits f32[1, vocab] for the last token
 * (or [n, vocab] with all_logits). */
#ifndef SMELT_ARCH_H
#define SMELT_ARCH_H

#include "compiler/ckpt.h"

struct smelt_llm_opts {
  int64_t ctx;          /* KV cache length (positions) */
  smelt_dtype kv_dtype; /* f32 or f16 */
  int64_t max_tokens;   /* bound of n in prefill (<= ctx) */
  int all_logits;       /* logits for every position, not only the last */
};

smelt_graph *smelt_arch_build(smelt_ctx *cx, struct smelt_ckpt *ck, const struct smelt_llm_opts *o, int decode);

#endif
