/* compiler/read_hf.c — a Hugging Face model folder as a struct smelt_ckpt (ckpt.h):
 *
 *   config.json              architecture (model_type) and hyperparameters
 *   model.safetensors        weights, or model.safetensors.index.json and its shards
 *   generation_config.json   BOS / EOS ids, sampling defaults              (optional)
 *   tokenizer.json           the tokenizer (compiler/tokenizer.h)           (optional)
 *   tokenizer_config.json    add_bos_token, chat_template                   (optional)
 *
 * Weights are asked for by their GGUF names (llama.cpp's, per architecture); a table
 * per family maps them onto the Hugging Face names and gives their expected shapes.
 * The folder is checked when it is opened: every tensor the architecture needs exists
 * with the shape config.json implies and a float dtype, so builders may trust shapes.
 * Constants are views of the mapped safetensors, except GPT-2's Conv1D weights, which
 * Hugging Face stores [in, out] and GGUF [out, in]: those are transposed into the arena.
 * Llama-3 rope scaling is also offered as GGUF's computed "rope_freqs.weight".
 *
 * Defaults for keys config.json leaves out are those of the transformers config class
 * of each family (save_pretrained omits values equal to them, e.g. Gemma's
 * tie_word_embeddings). */
#define _POSIX_C_SOURCE 200809L
#include "compiler/ckpt.h"
#include "compiler/safetensors.h"
#include "compiler/tokenizer.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- architectures -------------------------------------------------------------------- */
enum { LLAMA = 1, MISTRAL = 2, QWEN2 = 4, GEMMA = 8, GEMMA2 = 16, PHI3 = 32, GPT2 = 64 };
#define LLAMA_LIKE (LLAMA | MISTRAL | QWEN2 | GEMMA | GEMMA2)
#define DECODERS (LLAMA_LIKE | PHI3)

static const struct arch_info {
  const char *model_type, *arch;
  int id;
  int tie;              /* transformers' default tie_word_embeddings */
  int64_t ctx;          /* default max_position_embeddings */
  double eps;           /* default rms_norm_eps / layer_norm_epsilon */
  int64_t head_dim;     /* default head_dim (0: hidden_size / num_attention_heads) */
  const char *act;      /* default activation */
} archs[] = {
    {"llama", "llama", LLAMA, 0, 2048, 1e-6, 0, "silu"},
    {"mistral", "mistral", MISTRAL, 0, 4096 * 32, 1e-6, 0, "silu"},
    {"qwen2", "qwen2", QWEN2, 0, 32768, 1e-6, 0, "silu"},
    {"gemma", "gemma", GEMMA, 1, 8192, 1e-6, 256, "gelu_pytorch_tanh"},
    {"gemma2", "gemma2", GEMMA2, 1, 8192, 1e-6, 256, "gelu_pytorch_tanh"},
    {"phi3", "phi3", PHI3, 0, 4096, 1e-5, 0, "silu"},
    {"gpt2", "gpt2", GPT2, 1, 1024, 1e-5, 0, "gelu_new"},
};

/* Dims of expected shapes: E n_embd, Q n_head*head_dim, K n_head_kv*head_dim,
 * X (n_head + 2 n_head_kv)*head_dim, F n_ff, G 2 n_ff, V n_vocab, P n_ctx_train. */
struct tmap {
  const char *gguf, *hf; /* base names, without .weight / .bias */
  int archs;
  char d0, d1;           /* weight shape [d0, d1] (d1 0: a vector) */
  unsigned flags;
};
enum { T_TRANSPOSE = 1, T_OPTIONAL = 2, T_BIAS = 4 /* the bias is required */, T_NOBIAS = 8 };

static const struct tmap global_map[] = {
    {"token_embd", "model.embed_tokens", DECODERS, 'V', 'E', T_NOBIAS},
    {"output_norm", "model.norm", DECODERS, 'E', 0, T_NOBIAS},
    {"output", "lm_head", DECODERS, 'V', 'E', T_NOBIAS},
    {"token_embd", "wte", GPT2, 'V', 'E', T_NOBIAS},
    {"position_embd", "wpe", GPT2, 'P', 'E', T_NOBIAS},
    {"output_norm", "ln_f", GPT2, 'E', 0, T_BIAS},
    {"output", "lm_head", GPT2, 'V', 'E', T_NOBIAS},
};

static const struct tmap layer_map[] = {
    {"attn_norm", "input_layernorm", DECODERS, 'E', 0, T_NOBIAS},
    {"attn_q", "self_attn.q_proj", LLAMA_LIKE, 'Q', 'E', 0},
    {"attn_k", "self_attn.k_proj", LLAMA_LIKE, 'K', 'E', 0},
    {"attn_v", "self_attn.v_proj", LLAMA_LIKE, 'K', 'E', 0},
    {"attn_qkv", "self_attn.qkv_proj", PHI3, 'X', 'E', 0},
    {"attn_output", "self_attn.o_proj", DECODERS, 'E', 'Q', 0},
    {"ffn_norm", "post_attention_layernorm", LLAMA | MISTRAL | QWEN2 | GEMMA | PHI3, 'E', 0, T_NOBIAS},
    {"ffn_norm", "pre_feedforward_layernorm", GEMMA2, 'E', 0, T_NOBIAS},
    {"post_attention_norm", "post_attention_layernorm", GEMMA2, 'E', 0, T_NOBIAS},
    {"post_ffw_norm", "post_feedforward_layernorm", GEMMA2, 'E', 0, T_NOBIAS},
    {"ffn_gate", "mlp.gate_proj", LLAMA_LIKE, 'F', 'E', 0},
    {"ffn_up", "mlp.up_proj", LLAMA_LIKE, 'F', 'E', 0},
    {"ffn_up", "mlp.gate_up_proj", PHI3, 'G', 'E', 0},
    {"ffn_down", "mlp.down_proj", DECODERS, 'E', 'F', 0},
    /* GPT-2: Conv1D weights are [in, out] in the file */
    {"attn_norm", "ln_1", GPT2, 'E', 0, T_BIAS},
    {"attn_qkv", "attn.c_attn", GPT2, 'X', 'E', T_TRANSPOSE | T_BIAS},
    {"attn_output", "attn.c_proj", GPT2, 'E', 'E', T_TRANSPOSE | T_BIAS},
    {"ffn_norm", "ln_2", GPT2, 'E', 0, T_BIAS},
    {"ffn_up", "mlp.c_fc", GPT2, 'F', 'E', T_TRANSPOSE | T_BIAS},
    {"ffn_down", "mlp.c_proj", GPT2, 'E', 'F', T_TRANSPOSE | T_BIAS},
};
#define NLAYER_MAP (int)(sizeof layer_map / sizeof *layer_map)
#define NGLOBAL_MAP (int)(sizeof global_map / sizeof *global_map)

struct hf {
  struct smelt_ckpt ck;
  const struct arch_info *ai;
  const char *dir;
  struct smelt_safetensors *st;
  const char *prefix;  /* GPT-2's "transformer." when the file has it */
  int qkv_bias;        /* Qwen2 always has Q/K/V biases */
  float *rope_freqs;   /* Llama-3 rope scaling factors per frequency */
};

static int64_t dim_of(const struct hf *h, char d) {
  const struct smelt_ckpt *c = &h->ck;
  switch (d) {
  case 'E': return c->n_embd;
  case 'Q': return c->n_head * c->head_dim;
  case 'K': return c->n_head_kv * c->head_dim;
  case 'X': return (c->n_head + 2 * c->n_head_kv) * c->head_dim;
  case 'F': return c->n_ff;
  case 'G': return 2 * c->n_ff;
  case 'V': return c->n_vocab;
  case 'P': return c->n_ctx_train;
  default: return 0;
  }
}

/* One GGUF tensor of this checkpoint, resolved. */
struct resolved {
  const struct tmap *m;
  int bias;          /* the .bias of m */
  int required;
  char hf[1200];     /* the Hugging Face name */
};

/* Parses a GGUF name ("blk.3.attn_q.weight", "output_norm.bias") into the table entry
 * for this architecture; 0 when the architecture has no such tensor. */
static int resolve(const struct hf *h, const char *name, struct resolved *r) {
  const char *p = name;
  int64_t layer = -1;
  if (!strncmp(p, "blk.", 4)) {
    p += 4;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] != '.')) return 0;
    layer = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
      layer = layer * 10 + (*p - '0');
      if (layer >= h->ck.n_layer) return 0;
    }
    if (*p++ != '.') return 0;
  }
  const char *dot = strrchr(p, '.');
  if (!dot) return 0;
  r->bias = !strcmp(dot, ".bias");
  if (!r->bias && strcmp(dot, ".weight")) return 0;
  size_t bl = (size_t)(dot - p);
  const struct tmap *tab = layer >= 0 ? layer_map : global_map;
  int n = layer >= 0 ? NLAYER_MAP : NGLOBAL_MAP;
  for (int i = 0; i < n; i++) {
    const struct tmap *m = &tab[i];
    if (!(m->archs & h->ai->id) || strlen(m->gguf) != bl || strncmp(m->gguf, p, bl)) continue;
    if (r->bias && (m->flags & T_NOBIAS)) return 0;
    if (!strcmp(m->gguf, "output") && h->ck.tie_embeddings) return 0; /* tied: the embedding is the output */
    r->m = m;
    const char *pre = m->archs == GPT2 && strcmp(m->hf, "lm_head") ? h->prefix : "";
    if (layer >= 0)
      snprintf(r->hf, sizeof r->hf, "%s%s%lld.%s.%s", pre, m->archs == GPT2 ? "h." : "model.layers.", (long long)layer, m->hf,
               r->bias ? "bias" : "weight");
    else
      snprintf(r->hf, sizeof r->hf, "%s%s.%s", pre, m->hf, r->bias ? "bias" : "weight");
    int qkv = !strcmp(m->gguf, "attn_q") || !strcmp(m->gguf, "attn_k") || !strcmp(m->gguf, "attn_v");
    r->required = r->bias ? (m->flags & T_BIAS) || (h->qkv_bias && qkv) : !(m->flags & T_OPTIONAL);
    return 1;
  }
  return 0;
}

static const char *shape_str(smelt_ctx *cx, int rank, const int64_t *d) {
  char buf[256];
  size_t k = 0;
  buf[k++] = '[';
  for (int i = 0; i < rank && k < 200; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%lld", i ? "," : "", (long long)d[i]);
  snprintf(buf + k, sizeof buf - k, "]");
  return smelt_strdup(cx, buf);
}

/* The file's tensor for r, checked: float dtype, and the shape config.json implies
 * (as stored: GPT-2's transposed weights are [in, out]). */
static const struct smelt_st_tensor *lookup(struct hf *h, const struct resolved *r, const char *gguf, int required) {
  smelt_ctx *cx = h->ck.cx;
  const struct smelt_st_tensor *t = smelt_safetensors_get(h->st, r->hf);
  if (!t) {
    if (required) smelt_errorf(cx, "%s: tensor '%s' (GGUF '%s') is missing from the checkpoint", h->st->path, r->hf, gguf);
    return NULL;
  }
  if (!t->known || (t->dt != SMELT_DT_F32 && t->dt != SMELT_DT_F16 && t->dt != SMELT_DT_BF16)) {
    smelt_errorf(cx, "%s: tensor '%s' has dtype %s (weights must be F32, F16 or BF16)", t->file->path, r->hf, t->dtype);
    return NULL;
  }
  int64_t want[2] = {dim_of(h, r->m->d0), dim_of(h, r->m->d1)};
  int wr = r->m->d1 && !r->bias ? 2 : 1;
  if (wr == 2 && (r->m->flags & T_TRANSPOSE)) { int64_t x = want[0]; want[0] = want[1]; want[1] = x; }
  if (t->rank != wr || t->shape[0] != want[0] || (wr == 2 && t->shape[1] != want[1])) {
    smelt_errorf(cx, "%s: tensor '%s' has shape %s, config.json implies %s", t->file->path, r->hf, shape_str(cx, t->rank, t->shape),
                 shape_str(cx, wr, want));
    return NULL;
  }
  return t;
}

static int hf_weight(struct smelt_ckpt *ck, smelt_graph *g, const char *name, int required) {
  struct hf *h = ck->impl;
  if (!strcmp(name, "rope_freqs.weight") && h->rope_freqs) {
    smelt_shape s = {.rank = 1, .d = {smelt_dim_c(ck->rope_dim / 2)}};
    return smelt_graph_add_const(g, name, SMELT_DT_F32, &s, h->rope_freqs, sizeof(float) * (uint64_t)(ck->rope_dim / 2));
  }
  struct resolved r;
  if (!resolve(h, name, &r)) {
    if (required) smelt_errorf(ck->cx, "%s: a %s checkpoint has no tensor '%s'", h->dir, ck->arch, name);
    return -1;
  }
  const struct smelt_st_tensor *t = lookup(h, &r, name, required);
  if (!t) return smelt_failed(ck->cx) ? SMELT_ERR : -1;
  if (!(r.m->flags & T_TRANSPOSE) || r.bias) return smelt_safetensors_const(g, t, name);
  /* [in, out] -> [out, in], element by element (any element size) */
  int64_t rows = t->shape[0], cols = t->shape[1];
  size_t es = (size_t)t->esize;
  unsigned char *d = smelt_alloc(ck->cx, t->nbytes ? t->nbytes : 1);
  if (!d) return SMELT_ERR;
  const unsigned char *s = t->data;
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) memcpy(d + ((size_t)j * (size_t)rows + (size_t)i) * es, s + ((size_t)i * (size_t)cols + (size_t)j) * es, es);
  smelt_shape sh = {.rank = 2, .d = {smelt_dim_c(cols), smelt_dim_c(rows)}};
  return smelt_graph_add_const(g, name, t->dt, &sh, d, t->nbytes);
}

/* Every tensor the architecture has: required ones must exist, present ones must have
 * the right shape and dtype; tensors nothing maps onto get one warning. */
static int check_tensors(struct hf *h) {
  smelt_ctx *cx = h->ck.cx;
  unsigned char *used = smelt_alloc(cx, (size_t)h->st->ntensors + 1);
  if (!used) return SMELT_ERR;
  char name[256];
  for (int64_t l = -1; l < h->ck.n_layer; l++) {
    int n = l >= 0 ? NLAYER_MAP : NGLOBAL_MAP;
    const struct tmap *tab = l >= 0 ? layer_map : global_map;
    for (int i = 0; i < n; i++)
      for (int b = 0; b < 2; b++) {
        if (!(tab[i].archs & h->ai->id)) continue;
        if (l >= 0) snprintf(name, sizeof name, "blk.%lld.%s.%s", (long long)l, tab[i].gguf, b ? "bias" : "weight");
        else snprintf(name, sizeof name, "%s.%s", tab[i].gguf, b ? "bias" : "weight");
        struct resolved r;
        if (!resolve(h, name, &r)) continue;
        const struct smelt_st_tensor *t = lookup(h, &r, name, r.required);
        if (smelt_failed(cx)) return SMELT_ERR;
        if (t) used[smelt_map_get(&h->st->index, t->name)] = 1;
      }
  }
  int unused = 0;
  const char *first = NULL;
  for (int i = 0; i < h->st->ntensors; i++) {
    const char *n = h->st->t[i]->name;
    size_t l = strlen(n);
    /* buffers some checkpoints carry: causal masks, rotary tables, tied copies */
    if (used[i] || (l > 10 && !strcmp(n + l - 10, ".attn.bias")) || strstr(n, "masked_bias") || strstr(n, "rotary_emb.inv_freq") ||
        (h->ck.tie_embeddings && !strcmp(n, "lm_head.weight")))
      continue;
    if (!unused++) first = n;
  }
  if (unused)
    smelt_warnf(cx, "%s: %d tensor%s of the checkpoint %s not used by smelt's %s reader (first: '%s')", h->st->path, unused,
                unused > 1 ? "s" : "", unused > 1 ? "are" : "is", h->ck.arch, first);
  return 0;
}

/* ---- config.json values ------------------------------------------------------------------- */
struct cfg { smelt_ctx *cx; const char *path; const cJSON *root; };

/* The first of the keys (a |-separated list) present and not null, or NULL. */
static const cJSON *item(const struct cfg *c, const char *keys, const char **which) {
  char k[64];
  for (const char *p = keys; *p;) {
    size_t n = strcspn(p, "|");
    snprintf(k, sizeof k, "%.*s", (int)n, p);
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(c->root, k);
    if (x && !cJSON_IsNull(x)) { *which = x->string; return x; }
    p += n + (p[n] == '|');
  }
  return NULL;
}

/* 1 when set, 0 when absent (or null), SMELT_ERR when not an integer in [lo, hi]. */
static int get_int(const struct cfg *c, const char *keys, int64_t lo, int64_t hi, int64_t *out) {
  const char *k;
  const cJSON *x = item(c, keys, &k);
  if (!x) return 0;
  double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
  if (!isfinite(v) || v != floor(v) || v < (double)lo || v > (double)hi)
    return smelt_errorf(c->cx, "%s: \"%s\" must be an integer in [%lld, %lld]", c->path, k, (long long)lo, (long long)hi);
  *out = (int64_t)v;
  return 1;
}

static int get_num(const struct cfg *c, const char *keys, double lo, double hi, double *out) {
  const char *k;
  const cJSON *x = item(c, keys, &k);
  if (!x) return 0;
  double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
  if (!isfinite(v) || v < lo || v > hi) return smelt_errorf(c->cx, "%s: \"%s\" must be a number in [%g, %g]", c->path, k, lo, hi);
  *out = v;
  return 1;
}

static int get_bool(const struct cfg *c, const char *keys, int *out) {
  const char *k;
  const cJSON *x = item(c, keys, &k);
  if (!x) return 0;
  if (!cJSON_IsBool(x)) return smelt_errorf(c->cx, "%s: \"%s\" must be true or false", c->path, k);
  *out = cJSON_IsTrue(x);
  return 1;
}

static int get_str(const struct cfg *c, const char *keys, const char **out) {
  const char *k;
  const cJSON *x = item(c, keys, &k);
  if (!x) return 0;
  if (!cJSON_IsString(x) || !x->valuestring) return smelt_errorf(c->cx, "%s: \"%s\" must be a string", c->path, k);
  *out = x->valuestring;
  return 1;
}

/* A token id or a list of them (EOS), each in [0, n_vocab). */
static int get_ids(const struct cfg *c, const char *key, int64_t n_vocab, int64_t *ids, int max, int *n) {
  const char *k;
  const cJSON *x = item(c, key, &k);
  if (!x) return 0;
  const cJSON *one = cJSON_IsArray(x) ? x->child : x;
  *n = 0;
  for (; one; one = cJSON_IsArray(x) ? one->next : NULL) {
    double v = cJSON_IsNumber(one) ? one->valuedouble : NAN;
    if (!isfinite(v) || v != floor(v) || v < 0 || v >= (double)n_vocab)
      return smelt_errorf(c->cx, "%s: \"%s\" must be token ids in [0, %lld)", c->path, k, (long long)n_vocab);
    if (*n < max) ids[(*n)++] = (int64_t)v;
  }
  return 1;
}

static int act_id(const char *s) {
  static const char *tanh_names[] = {"gelu_pytorch_tanh", "gelu_new", "gelu_fast", "gelu_tanh", "gelu_python_tanh"};
  if (!strcmp(s, "silu") || !strcmp(s, "swish")) return 0;
  for (size_t i = 0; i < sizeof tanh_names / sizeof *tanh_names; i++)
    if (!strcmp(s, tanh_names[i])) return 1;
  if (!strcmp(s, "gelu") || !strcmp(s, "gelu_python")) return 2;
  return -1;
}

/* rope_scaling: none, "linear" or "llama3" */
static int read_rope_scaling(struct hf *h, const struct cfg *c) {
  struct smelt_ckpt *ck = &h->ck;
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c->root, "rope_scaling");
  if (!rs || cJSON_IsNull(rs)) return 0;
  if (!cJSON_IsObject(rs)) return smelt_errorf(ck->cx, "%s: \"rope_scaling\" must be an object or null", c->path);
  struct cfg s = {c->cx, c->path, rs};
  const char *type = NULL;
  if (get_str(&s, "rope_type|type", &type) < 0) return SMELT_ERR;
  if (!type) return smelt_errorf(ck->cx, "%s: rope_scaling has no \"rope_type\"", c->path);
  if (!strcmp(type, "default")) return 0;
  if (strcmp(type, "linear") && strcmp(type, "llama3"))
    return smelt_errorf(ck->cx, "%s: rope_scaling type '%s' is not supported (smelt reads linear and llama3)", c->path, type);
  if (get_num(&s, "factor", 1e-6, 1e6, &ck->rope_factor) < 1)
    return smelt_failed(ck->cx) ? SMELT_ERR : smelt_errorf(ck->cx, "%s: rope_scaling has no \"factor\"", c->path);
  ck->rope_scaling = type;
  if (!strcmp(type, "linear")) return 0;
  if (get_num(&s, "low_freq_factor", 1e-6, 1e6, &ck->rope_low_freq_factor) < 1 ||
      get_num(&s, "high_freq_factor", 1e-6, 1e6, &ck->rope_high_freq_factor) < 1 ||
      get_int(&s, "original_max_position_embeddings", 1, (int64_t)1 << 26, &ck->rope_orig_ctx) < 1)
    return smelt_failed(ck->cx) ? SMELT_ERR
                                : smelt_errorf(ck->cx, "%s: llama3 rope_scaling needs factor, low_freq_factor, high_freq_factor and "
                                                       "original_max_position_embeddings", c->path);
  if (ck->rope_high_freq_factor <= ck->rope_low_freq_factor)
    return smelt_errorf(ck->cx, "%s: rope_scaling high_freq_factor must exceed low_freq_factor", c->path);
  /* GGUF's rope_freqs.weight, as llama.cpp's converter computes it (f32 frequencies) */
  int64_t nf = ck->rope_dim / 2;
  h->rope_freqs = smelt_alloc(ck->cx, sizeof(float) * (size_t)nf);
  if (!h->rope_freqs) return SMELT_ERR;
  double lo_wl = (double)ck->rope_orig_ctx / ck->rope_low_freq_factor, hi_wl = (double)ck->rope_orig_ctx / ck->rope_high_freq_factor;
  for (int64_t i = 0; i < nf; i++) {
    float freq = 1.0f / powf((float)ck->rope_theta, (float)(2 * i) / (float)ck->rope_dim);
    double wl = 2 * 3.14159265358979323846 / (double)freq, f;
    if (wl < hi_wl) f = 1;
    else if (wl > lo_wl) f = ck->rope_factor;
    else {
      double smooth = ((double)ck->rope_orig_ctx / wl - ck->rope_low_freq_factor) / (ck->rope_high_freq_factor - ck->rope_low_freq_factor);
      f = 1 / ((1 - smooth) / ck->rope_factor + smooth);
    }
    h->rope_freqs[i] = (float)f;
  }
  return 0;
}

static int read_config(struct hf *h, const char *path) {
  smelt_ctx *cx = h->ck.cx;
  struct smelt_ckpt *ck = &h->ck;
  int missing;
  cJSON *root = smelt_json_load(cx, path, 4 << 20, &missing);
  if (!root) return missing ? smelt_errorf(cx, "%s: no config.json: not a Hugging Face model folder", h->dir) : SMELT_ERR;
  if (!cJSON_IsObject(root)) return smelt_errorf(cx, "%s: not a JSON object", path);
  struct cfg c = {cx, path, root};
  const char *mt = NULL;
  if (get_str(&c, "model_type", &mt) < 0) return SMELT_ERR;
  if (!mt) return smelt_errorf(cx, "%s: no \"model_type\"", path);
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
    if (!strcmp(mt, archs[i].model_type)) h->ai = &archs[i];
  if (!h->ai)
    return smelt_errorf(cx, "%s: model_type '%.64s' is not supported (smelt reads llama, mistral, qwen2, gemma, gemma2, phi3, gpt2)", path, mt);
  const struct arch_info *ai = h->ai;
  int gpt2 = ai->id == GPT2;
  ck->arch = ai->arch;
  /* sizes */
  if (get_int(&c, "vocab_size", 1, 1 << 24, &ck->n_vocab) < 1 || get_int(&c, gpt2 ? "n_embd|hidden_size" : "hidden_size", 1, 1 << 20, &ck->n_embd) < 1 ||
      get_int(&c, gpt2 ? "n_layer|num_hidden_layers" : "num_hidden_layers", 1, 4096, &ck->n_layer) < 1 ||
      get_int(&c, gpt2 ? "n_head|num_attention_heads" : "num_attention_heads", 1, 4096, &ck->n_head) < 1)
    return smelt_failed(cx) ? SMELT_ERR
                            : smelt_errorf(cx, "%s: needs vocab_size, %s", path,
                                           gpt2 ? "n_embd, n_layer and n_head" : "hidden_size, num_hidden_layers and num_attention_heads");
  ck->n_head_kv = ck->n_head;
  if (!gpt2 && get_int(&c, "num_key_value_heads", 1, ck->n_head, &ck->n_head_kv) < 0) return SMELT_ERR;
  if (ck->n_head % ck->n_head_kv)
    return smelt_errorf(cx, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld", path, (long long)ck->n_head,
                        (long long)ck->n_head_kv);
  ck->head_dim = ai->head_dim;
  int r = gpt2 ? 0 : get_int(&c, "head_dim", 1, 4096, &ck->head_dim);
  if (r < 0) return SMELT_ERR;
  if (!ck->head_dim) {
    if (ck->n_embd % ck->n_head)
      return smelt_errorf(cx, "%s: hidden size %lld is not a multiple of the %lld heads", path, (long long)ck->n_embd, (long long)ck->n_head);
    ck->head_dim = ck->n_embd / ck->n_head;
    if (ck->head_dim > 4096) return smelt_errorf(cx, "%s: head dim %lld is too large (at most 4096)", path, (long long)ck->head_dim);
  }
  if (gpt2) {
    ck->n_ff = 4 * ck->n_embd;
    if (get_int(&c, "n_inner", 1, 1 << 22, &ck->n_ff) < 0) return SMELT_ERR;
  } else if (get_int(&c, "intermediate_size", 1, 1 << 22, &ck->n_ff) < 1) {
    return smelt_failed(cx) ? SMELT_ERR : smelt_errorf(cx, "%s: no \"intermediate_size\"", path);
  }
  ck->n_ctx_train = ai->ctx;
  if (get_int(&c, gpt2 ? "n_positions|n_ctx" : "max_position_embeddings", 1, (int64_t)1 << 26, &ck->n_ctx_train) < 0) return SMELT_ERR;
  ck->norm_eps = ai->eps;
  if (get_num(&c, gpt2 ? "layer_norm_epsilon" : "rms_norm_eps", 1e-30, 1, &ck->norm_eps) < 0) return SMELT_ERR;
  /* activation */
  const char *act = ai->act;
  if (get_str(&c, ai->id & (GEMMA | GEMMA2) ? "hidden_activation" : gpt2 ? "activation_function" : "hidden_act", &act) < 0) return SMELT_ERR;
  if ((ck->act = act_id(act)) < 0) return smelt_errorf(cx, "%s: activation '%.64s' is not supported", path, act);
  /* positions */
  if (!gpt2) {
    ck->rope_theta = 10000;
    ck->rope_neox = 1; /* Hugging Face rotates halves */
    if (get_num(&c, "rope_theta", 1e-3, 1e12, &ck->rope_theta) < 0) return SMELT_ERR;
    ck->rope_dim = ck->head_dim;
    double prf = 1;
    if (ai->id == PHI3 && get_num(&c, "partial_rotary_factor", 1e-6, 1, &prf) < 0) return SMELT_ERR;
    ck->rope_dim = (int64_t)((double)ck->head_dim * prf);
    if (ck->rope_dim < 2 || ck->rope_dim % 2)
      return smelt_errorf(cx, "%s: partial_rotary_factor %g leaves %lld rotary dims (must be even and at least 2)", path, prf, (long long)ck->rope_dim);
    int scaled = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "rope_scaling"));
    if (scaled && (ai->id == PHI3 || ai->id == GEMMA || ai->id == GEMMA2))
      return smelt_errorf(cx, "%s: rope_scaling is not supported for %s", path, ai->arch);
    if (read_rope_scaling(h, &c)) return SMELT_ERR;
  }
  /* attention window, soft-capping, scaling */
  if (ai->id == MISTRAL || ai->id == GEMMA2 || ai->id == PHI3) {
    if (ai->id != PHI3) ck->sliding_window = 4096; /* the config classes' default; null means none */
    if (cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "sliding_window"))) ck->sliding_window = 0;
    if (get_int(&c, "sliding_window", 0, (int64_t)1 << 26, &ck->sliding_window) < 0) return SMELT_ERR;
  }
  if (ai->id == QWEN2) {
    int sw = 0;
    if (get_bool(&c, "use_sliding_window", &sw) < 0) return SMELT_ERR;
    if (sw) return smelt_errorf(cx, "%s: use_sliding_window is not supported for qwen2", path);
    h->qkv_bias = 1;
  }
  if (ai->id == GEMMA2) {
    ck->attn_softcap = 50;
    ck->final_softcap = 30;
    double qs = 256;
    if (get_num(&c, "attn_logit_softcapping", 0, 1e6, &ck->attn_softcap) < 0 || get_num(&c, "final_logit_softcapping", 0, 1e6, &ck->final_softcap) < 0 ||
        get_num(&c, "query_pre_attn_scalar", 1e-6, 1e9, &qs) < 0)
      return SMELT_ERR;
    /* null means no capping */
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "attn_logit_softcapping");
    if (x && cJSON_IsNull(x)) ck->attn_softcap = 0;
    x = cJSON_GetObjectItemCaseSensitive(root, "final_logit_softcapping");
    if (x && cJSON_IsNull(x)) ck->final_softcap = 0;
    ck->attn_scale = 1 / sqrt(qs);
  }
  if (gpt2) {
    int on = 1, inv = 0;
    if (get_bool(&c, "scale_attn_weights", &on) < 0 || get_bool(&c, "scale_attn_by_inverse_layer_idx", &inv) < 0) return SMELT_ERR;
    if (!on || inv) return smelt_errorf(cx, "%s: GPT-2 attention scaling other than 1/sqrt(head_dim) is not supported", path);
  }
  ck->norm_add_one = ai->id == GEMMA || ai->id == GEMMA2;
  ck->tie_embeddings = ai->tie;
  if (get_bool(&c, "tie_word_embeddings", &ck->tie_embeddings) < 0) return SMELT_ERR;
  /* overflow guard for products builders form */
  if ((ck->n_head + 2 * ck->n_head_kv) * ck->head_dim > ((int64_t)1 << 22))
    return smelt_errorf(cx, "%s: %lld heads of %lld dims is too large", path, (long long)ck->n_head, (long long)ck->head_dim);
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "_name_or_path"); /* informative only */
  if (cJSON_IsString(nm) && nm->valuestring && *nm->valuestring && strlen(nm->valuestring) < 256) ck->name = nm->valuestring;
  int n = 0;
  if (get_ids(&c, "bos_token_id", ck->n_vocab, &ck->bos_id, 1, &n) < 0 || get_ids(&c, "eos_token_id", ck->n_vocab, ck->eos_ids, 8, &ck->n_eos) < 0)
    return SMELT_ERR;
  return 0;
}

/* generation_config.json and tokenizer_config.json (both optional) */
static int read_generation(struct hf *h, const char *path) {
  struct smelt_ckpt *ck = &h->ck;
  int missing, n = 0;
  cJSON *root = smelt_json_load(ck->cx, path, 1 << 20, &missing);
  if (!root) return missing ? 0 : SMELT_ERR;
  if (!cJSON_IsObject(root)) return smelt_errorf(ck->cx, "%s: not a JSON object", path);
  struct cfg c = {ck->cx, path, root};
  int64_t eos[8];
  int r = get_ids(&c, "eos_token_id", ck->n_vocab, eos, 8, &n);
  if (r < 0) return SMELT_ERR;
  if (r) {
    memcpy(ck->eos_ids, eos, sizeof eos);
    ck->n_eos = n;
  }
  if (get_ids(&c, "bos_token_id", ck->n_vocab, &ck->bos_id, 1, &n) < 0 || get_num(&c, "temperature", 0, 1e6, &ck->temperature) < 0 ||
      get_num(&c, "top_p", 0, 1, &ck->top_p) < 0 || get_int(&c, "top_k", 0, (int64_t)1 << 30, &ck->top_k) < 0)
    return SMELT_ERR;
  return 0;
}

static int read_tokenizer_config(struct hf *h, const char *path, int *add_bos_set) {
  struct smelt_ckpt *ck = &h->ck;
  int missing;
  cJSON *root = smelt_json_load(ck->cx, path, 16 << 20, &missing);
  if (!root) return missing ? 0 : SMELT_ERR;
  if (!cJSON_IsObject(root)) return smelt_errorf(ck->cx, "%s: not a JSON object", path);
  struct cfg c = {ck->cx, path, root};
  int r = get_bool(&c, "add_bos_token", &ck->add_bos);
  if (r < 0) return SMELT_ERR;
  *add_bos_set = r;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "chat_template");
  if (!t || cJSON_IsNull(t)) return 0;
  if (cJSON_IsString(t)) { ck->chat_template = t->valuestring; return 0; }
  if (cJSON_IsArray(t)) { /* named templates: the "default" one, else the first */
    for (const cJSON *e = t->child; e; e = e->next) {
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name"), *tp = cJSON_GetObjectItemCaseSensitive(e, "template");
      if (!cJSON_IsString(nm) || !cJSON_IsString(tp)) return smelt_errorf(ck->cx, "%s: chat_template entries need a name and a template", path);
      if (!ck->chat_template || !strcmp(nm->valuestring, "default")) ck->chat_template = tp->valuestring;
    }
    return 0;
  }
  return smelt_errorf(ck->cx, "%s: \"chat_template\" must be a string or a list of named templates", path);
}

/* chat_template.jinja, which newer folders hold instead */
static int read_template_file(struct hf *h, const char *path) {
  struct stat st;
  if (h->ck.chat_template || stat(path, &st)) return 0;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    if (fd >= 0) close(fd);
    return smelt_errorf(h->ck.cx, "%s: not a readable file of at most 1 MiB", path);
  }
  smelt_ctx_note_input(h->ck.cx, path);
  char *buf = smelt_alloc(h->ck.cx, (size_t)st.st_size + 1);
  ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
  close(fd);
  if (got != st.st_size) return smelt_errorf(h->ck.cx, "%s: read error", path);
  h->ck.chat_template = buf;
  return 0;
}

/* XXH3 of a regular file's bytes (0 when it is absent) */
static uint64_t hash_path(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0) return 0;
  uint64_t h = 0;
  if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      h = smelt_hash(m, (size_t)st.st_size);
      munmap(m, (size_t)st.st_size);
    }
  }
  close(fd);
  return h;
}

struct smelt_ckpt *smelt_ckpt_from_hf(smelt_ctx *cx, const char *dir) {
  struct hf *h = smelt_alloc(cx, sizeof *h);
  if (!h) return NULL;
  struct smelt_ckpt *ck = &h->ck;
  size_t dl = strlen(dir);
  while (dl > 1 && dir[dl - 1] == '/') dl--;
  h->dir = smelt_strndup(cx, dir, dl);
  ck->cx = cx;
  ck->path = h->dir;
  ck->format = "hf";
  ck->impl = h;
  ck->weight = hf_weight;
  ck->bos_id = -1;
  h->prefix = "";
  const char *D = h->dir;
  const char *files[] = {"config.json", "generation_config.json", "tokenizer_config.json", "tokenizer.json", "chat_template.jinja"};
  char *p[5];
  for (int i = 0; i < 5; i++)
    if (!(p[i] = smelt_sprintf(cx, "%s/%s", D, files[i]))) return NULL;
  if (read_config(h, p[0])) return NULL;
  h->st = smelt_safetensors_open(cx, D);
  if (!h->st) return NULL;
  if (ck->arch && !strcmp(ck->arch, "gpt2")) h->prefix = smelt_safetensors_get(h->st, "transformer.wte.weight") ? "transformer." : "";
  if (check_tensors(h)) return NULL;
  int add_bos_set = 0;
  if (read_generation(h, p[1]) || read_tokenizer_config(h, p[2], &add_bos_set) || read_template_file(h, p[4])) return NULL;
  /* the tokenizer */
  struct stat st;
  if (!stat(p[3], &st)) {
    ck->tok = smelt_tokenizer_from_json(cx, p[3], stat(p[2], &st) ? NULL : p[2]);
    if (!ck->tok && smelt_failed(cx)) return NULL;
  } else if (!stat(smelt_sprintf(cx, "%s/tokenizer.model", D), &st)) {
    smelt_warnf(cx, "%s: only tokenizer.model (SentencePiece protobuf) is present; smelt reads tokenizer.json", D);
  }
  if (ck->tok) {
    int64_t nt = smelt_tokenizer_vocab_size(ck->tok);
    if (nt > ck->n_vocab)
      smelt_warnf(cx, "%s: tokenizer.json has %lld tokens, more than the model's vocab_size %lld", D, (long long)nt, (long long)ck->n_vocab);
    if (ck->bos_id < 0) ck->bos_id = smelt_tokenizer_bos(ck->tok);
    if (!ck->n_eos) ck->n_eos = smelt_tokenizer_eos(ck->tok, ck->eos_ids, 8);
    if (!add_bos_set) ck->add_bos = smelt_tokenizer_add_bos(ck->tok);
  }
  if (!ck->name) {
    const char *b = strrchr(D, '/');
    ck->name = b && b[1] ? b + 1 : D;
  }
  /* the checkpoint's hash: over the hashes of every file read */
  uint64_t hs[5 + 4096];
  int nh = 0;
  for (int i = 0; i < 5; i++) hs[nh++] = hash_path(p[i]);
  for (int i = 0; i < h->st->nfiles && nh < (int)(sizeof hs / sizeof *hs); i++) hs[nh++] = smelt_hash(h->st->files[i]->map, (size_t)h->st->files[i]->size);
  ck->hash = smelt_hash(hs, sizeof *hs * (size_t)nh);
  return ck;
}

struct smelt_ckpt *smelt_ckpt_open(smelt_ctx *cx, const char *path) {
  struct stat st;
  if (stat(path, &st)) { smelt_errorf(cx, "%s: %s", path, strerror(errno)); return NULL; }
  if (S_ISDIR(st.st_mode)) return smelt_ckpt_from_hf(cx, path);
  unsigned char magic[4] = {0};
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ssize_t n = fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode) ? read(fd, magic, 4) : -1;
  if (fd >= 0) close(fd);
  if (n == 4 && !memcmp(magic, "GGUF", 4)) return smelt_ckpt_from_gguf(cx, path);
  smelt_errorf(cx, "%s: not a Hugging Face model folder or a GGUF file", path);
  return NULL;
}
