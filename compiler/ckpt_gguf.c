/* compiler/ckpt_gguf.c — a GGUF file as a struct smelt_ckpt: hyperparameters from the
 * "<arch>.*" metadata keys llama.cpp writes, tensors as constants viewing the mapping
 * (block-quantized types stay quantized), the tokenizer from tokenizer.ggml.*.
 *
 * GGUF conventions: llama and mistral rotate adjacent pairs (llama.cpp's converter
 * permuted their Q/K rows), the other families rotate halves (neox); Gemma's norm
 * weights are stored as 1 + w; Llama 3.1 frequency factors come as rope_freqs.weight. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/ckpt.h"
#include "compiler/gguf.h"
#include "compiler/tokenizer.h"

#include <math.h>
#include <string.h>


static int gguf_weight(struct smelt_ckpt *ck, smelt_graph *g, const char *name, int required) {
  const struct smelt_gguf *f = ck->impl;
  const struct smelt_gguf_tensor *t = smelt_gguf_tensor(f, name);
  if (!t) return required ? smelt_errorf(ck->cx, "%s: the model has no tensor '%s'", ck->path, name) : -1;
  return smelt_gguf_add_tensor(g, f, t); /* a view of the mapping; blocks stay blocks */
}

/* "<arch>.<key>" as an integer / float, with a default */
static int64_t ai(const struct smelt_gguf *f, const char *arch, const char *key, int64_t def) {
  char k[160];
  int64_t v;
  snprintf(k, sizeof k, "%s.%s", arch, key);
  return smelt_gguf_int(f, k, &v) ? def : v;
}

static double af(const struct smelt_gguf *f, const char *arch, const char *key, double def) {
  char k[160];
  double v;
  snprintf(k, sizeof k, "%s.%s", arch, key);
  return smelt_gguf_float(f, k, &v) ? def : v;
}

struct smelt_ckpt *smelt_ckpt_from_gguf(smelt_ctx *cx, const char *path) {
  struct smelt_gguf *f = smelt_gguf_open(cx, path);
  if (!f) return NULL;
  struct smelt_ckpt *ck = smelt_alloc(cx, sizeof *ck);
  if (!ck) return NULL;
  ck->cx = cx;
  ck->path = f->path;
  ck->format = "gguf";
  ck->impl = f;
  ck->weight = gguf_weight;
  int err;
  ck->hash = smelt_hash_file(path, &err);
  const char *arch = smelt_gguf_str(cx, f, "general.architecture");
  if (!arch) { smelt_errorf(cx, "%s: no general.architecture (a vocabulary-only file cannot be compiled into a model)", path); return NULL; }
  static const char *const known[] = {"llama", "qwen2", "mistral", "gemma", "gemma2", "phi3", "gpt2", NULL};
  int ok = 0;
  for (int i = 0; known[i]; i++) ok |= !strcmp(arch, known[i]);
  if (!ok) { smelt_errorf(cx, "%s: architecture '%s' is not supported (smelt knows llama, qwen2, mistral, gemma, gemma2, phi3, gpt2)", path, arch); return NULL; }
  ck->arch = arch;
  ck->name = smelt_gguf_str(cx, f, "general.name");
  ck->n_embd = ai(f, arch, "embedding_length", 0);
  ck->n_layer = ai(f, arch, "block_count", 0);
  ck->n_head = ai(f, arch, "attention.head_count", 0);
  ck->n_head_kv = ai(f, arch, "attention.head_count_kv", ck->n_head);
  ck->n_ff = ai(f, arch, "feed_forward_length", 0);
  ck->n_ctx_train = ai(f, arch, "context_length", 2048);
  ck->head_dim = ai(f, arch, "attention.key_length", ck->n_head ? ck->n_embd / ck->n_head : 0);
  ck->norm_eps = af(f, arch, "attention.layer_norm_rms_epsilon", af(f, arch, "attention.layer_norm_epsilon", 1e-5));
  ck->rope_theta = !strcmp(arch, "gpt2") ? 0 : af(f, arch, "rope.freq_base", 10000);
  ck->rope_dim = ai(f, arch, "rope.dimension_count", ck->head_dim);
  ck->rope_neox = strcmp(arch, "llama") && strcmp(arch, "mistral");
  char key[160];
  snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
  const char *st = smelt_gguf_str(cx, f, key);
  if (st && !strcmp(st, "linear")) {
    ck->rope_scaling = "linear";
    ck->rope_factor = af(f, arch, "rope.scaling.factor", 1);
  } else if (st && strcmp(st, "none")) {
    smelt_errorf(cx, "%s: rope scaling '%s' is not supported (linear and Llama 3's are)", path, st);
    return NULL;
  }
  ck->rope_orig_ctx = ai(f, arch, "rope.scaling.original_context_length", 0);
  ck->sliding_window = ai(f, arch, "attention.sliding_window", 0);
  ck->attn_softcap = af(f, arch, "attn_logit_softcapping", 0);
  ck->final_softcap = af(f, arch, "final_logit_softcapping", 0);
  if (!strcmp(arch, "gemma2") && ck->head_dim) ck->attn_scale = 1 / sqrt((double)ck->head_dim); /* query_pre_attn_scalar = head_dim in the GGUF models llama.cpp converts */
  ck->act = !strcmp(arch, "gemma") || !strcmp(arch, "gemma2") || !strcmp(arch, "gpt2") ? 1 : 0;
  ck->tie_embeddings = !smelt_gguf_tensor(f, "output.weight");
  const struct smelt_gguf_tensor *emb = smelt_gguf_tensor(f, "token_embd.weight");
  const struct smelt_gguf_kv *toks = smelt_gguf_get(f, "tokenizer.ggml.tokens");
  ck->n_vocab = emb ? emb->ne[1] : toks ? (int64_t)toks->n : 0;
  if (ck->n_embd <= 0 || ck->n_layer <= 0 || ck->n_head <= 0 || ck->n_head_kv <= 0 || ck->head_dim <= 0 || ck->n_vocab <= 0 ||
      ck->n_head % ck->n_head_kv || ck->n_layer > 4096 || ck->n_embd > (1 << 20) || ck->head_dim > 4096 || ck->rope_dim > ck->head_dim)
    { smelt_errorf(cx, "%s: missing or inconsistent hyperparameters for '%s'", path, arch); return NULL; }
  int64_t v;
  ck->bos_id = smelt_gguf_int(f, "tokenizer.ggml.bos_token_id", &v) ? -1 : v;
  if (!smelt_gguf_int(f, "tokenizer.ggml.eos_token_id", &v)) ck->eos_ids[ck->n_eos++] = v;
  if (!smelt_gguf_int(f, "tokenizer.ggml.eot_token_id", &v) && (ck->n_eos == 0 || ck->eos_ids[0] != v)) ck->eos_ids[ck->n_eos++] = v;
  ck->add_bos = smelt_gguf_int(f, "tokenizer.ggml.add_bos_token", &v) ? !strcmp(arch, "llama") || !strcmp(arch, "gemma") || !strcmp(arch, "gemma2") : (int)v;
  ck->chat_template = smelt_gguf_str(cx, f, "tokenizer.chat_template");
  if (toks) {
    ck->tok = smelt_tokenizer_from_gguf(cx, f);
    if (!ck->tok) return NULL;
  }
  return ck;
}
