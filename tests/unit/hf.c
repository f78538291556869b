/* tests/unit/hf.c — compiler/read_hf.c over the reference fixtures of tests/e2e/llm
 * (made by tools/make_llm_fixtures.py):
 *
 *   - every hyperparameter, flag and generation setting of struct smelt_ckpt, per
 *     fixture, against what the script wrote into config.json and friends;
 *   - the weight callback: GGUF names onto the right Hugging Face tensors (bytes and
 *     shapes compared with an independent read of the safetensors), tied outputs,
 *     names an architecture lacks, GPT-2's transposed Conv1D weights, Qwen2's biases,
 *     Gemma 2's four norms, Phi-3's fused tensors;
 *   - the fixtures' GGUF forms (model.gguf) against the Hugging Face form through the
 *     callback: every GGUF tensor equals the mapped tensor (with GGUF llama's permuted
 *     Q/K rows, Gemma's 1 + w norms, and the computed llama3 rope_freqs.weight), and
 *     the GGUF metadata agrees with the hyperparameters;
 *   - errors: an unknown model_type, a missing config.json, a required missing name.
 * When the fixtures are absent the test is SKIPPED. */
#include "../testutil.h"
#include "compiler/ckpt.h"
#include "compiler/gguf.h"
#include "compiler/safetensors.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

static char fixdir[4096];

struct expect {
  const char *dir, *arch;
  int64_t n_vocab, n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx;
  double eps, theta;
  int64_t rope_dim;
  const char *scaling;
  double factor;
  int64_t sliding;
  double attn_cap, final_cap, attn_scale;
  int norm_add_one, tie, act;
  int64_t bos, eos[3];
  int n_eos, add_bos;
  double temperature, top_p;
  int64_t top_k;
  int has_template;
  smelt_dtype dt;
};

static const struct expect fixtures[] = {
    {"llama", "llama", 381, 32, 2, 4, 2, 8, 64, 1024, 1e-5, 10000, 8, "llama3", 8, 0, 0, 0, 0, 0, 0, 0, 376, {377, 380}, 2, 1, 0.6, 0.9, 0, 1, SMELT_DT_F32},
    {"llama_spm", "llama", 400, 32, 2, 4, 4, 8, 64, 256, 1e-6, 10000, 8, "linear", 2, 0, 0, 0, 0, 0, 1, 0, 1, {2}, 1, 1, 0, 0, 0, 1, SMELT_DT_F32},
    {"qwen2", "qwen2", 448, 32, 2, 4, 2, 8, 96, 4096, 1e-6, 1e6, 8, NULL, 0, 0, 0, 0, 0, 0, 1, 0, 376, {378, 376}, 2, 0, 0.7, 0.8, 20, 1, SMELT_DT_F32},
    {"mistral", "mistral", 400, 48, 2, 4, 2, 16, 96, 32768, 1e-5, 1e6, 16, NULL, 0, 6, 0, 0, 0, 0, 0, 0, 1, {2}, 1, 1, 0, 0, 0, 1, SMELT_DT_F16},
    {"gemma", "gemma", 400, 32, 2, 4, 1, 16, 96, 8192, 1e-6, 10000, 16, NULL, 0, 0, 0, 0, 0, 1, 1, 1, 2, {1}, 1, 1, 0, 0, 0, 1, SMELT_DT_BF16},
    {"gemma2", "gemma2", 400, 32, 3, 4, 2, 16, 64, 8192, 1e-6, 10000, 16, NULL, 0, 5, 1.5, 8, 0.2041241452319315, 1, 1, 1, 2, {1, 5}, 2, 1, 0, 0, 0, 1, SMELT_DT_F32},
    {"phi3", "phi3", 416, 32, 2, 4, 2, 8, 64, 4096, 1e-5, 10000, 4, NULL, 0, 2047, 0, 0, 0, 0, 0, 0, 1, {400, 401, 403}, 3, 0, 0, 0, 0, 1, SMELT_DT_F32},
    {"gpt2", "gpt2", 377, 32, 2, 4, 4, 8, 128, 64, 1e-5, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 1, 1, 376, {376}, 1, 0, 0, 0, 0, 0, SMELT_DT_F32},
};

static int close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1, fabs(b)); }

static void check_params(const struct expect *x, const struct smelt_ckpt *c) {
  const char *d = x->dir;
  CHECK(!strcmp(c->format, "hf") && !strcmp(c->arch, x->arch), "%s: format %s arch %s", d, c->format, c->arch);
  CHECK(c->n_vocab == x->n_vocab && c->n_embd == x->n_embd && c->n_layer == x->n_layer && c->n_head == x->n_head &&
            c->n_head_kv == x->n_head_kv && c->head_dim == x->head_dim && c->n_ff == x->n_ff && c->n_ctx_train == x->n_ctx,
        "%s: sizes %lld %lld %lld %lld %lld %lld %lld %lld", d, (long long)c->n_vocab, (long long)c->n_embd, (long long)c->n_layer,
        (long long)c->n_head, (long long)c->n_head_kv, (long long)c->head_dim, (long long)c->n_ff, (long long)c->n_ctx_train);
  CHECK(close_to(c->norm_eps, x->eps) && close_to(c->rope_theta, x->theta) && c->rope_dim == x->rope_dim, "%s: eps %g theta %g rope_dim %lld", d,
        c->norm_eps, c->rope_theta, (long long)c->rope_dim);
  CHECK(c->rope_neox == (x->theta != 0), "%s: Hugging Face RoPE is neox-style (rope_neox %d)", d, c->rope_neox);
  CHECK(x->scaling ? c->rope_scaling && !strcmp(c->rope_scaling, x->scaling) && close_to(c->rope_factor, x->factor) : !c->rope_scaling,
        "%s: rope_scaling %s", d, c->rope_scaling ? c->rope_scaling : "none");
  if (x->scaling && !strcmp(x->scaling, "llama3"))
    CHECK(close_to(c->rope_low_freq_factor, 1) && close_to(c->rope_high_freq_factor, 4) && c->rope_orig_ctx == 128, "%s: llama3 parameters", d);
  CHECK(c->sliding_window == x->sliding && close_to(c->attn_softcap, x->attn_cap) && close_to(c->final_softcap, x->final_cap) &&
            close_to(c->attn_scale, x->attn_scale),
        "%s: window %lld softcaps %g %g scale %g", d, (long long)c->sliding_window, c->attn_softcap, c->final_softcap, c->attn_scale);
  CHECK(c->norm_add_one == x->norm_add_one && c->tie_embeddings == x->tie && c->act == x->act, "%s: add_one %d tie %d act %d", d,
        c->norm_add_one, c->tie_embeddings, c->act);
  int eos_ok = c->n_eos == x->n_eos;
  for (int i = 0; eos_ok && i < x->n_eos; i++) eos_ok = c->eos_ids[i] == x->eos[i];
  CHECK(c->bos_id == x->bos && eos_ok && c->add_bos == x->add_bos, "%s: bos %lld, %d eos (%lld), add_bos %d", d, (long long)c->bos_id, c->n_eos,
        (long long)c->eos_ids[0], c->add_bos);
  CHECK(close_to(c->temperature, x->temperature) && close_to(c->top_p, x->top_p) && c->top_k == x->top_k, "%s: sampling %g %g %lld", d,
        c->temperature, c->top_p, (long long)c->top_k);
  CHECK(!!c->chat_template == x->has_template, "%s: chat template", d);
  CHECK(c->name && !strncmp(c->name, "smelt/tiny-", 11), "%s: name '%s'", d, c->name ? c->name : "(null)");
  CHECK(c->hash != 0, "%s: hash", d);
}

/* weight(gguf) is the file's tensor hf (transposed for GPT-2's Conv1D), or absent (hf NULL) */
static void check_map(struct smelt_ckpt *c, smelt_graph *g, const struct smelt_safetensors *st, const char *gguf, const char *hf, int transposed) {
  int v = c->weight(c, g, gguf, 0);
  const char *d = c->path;
  if (!hf) {
    CHECK(v == -1 && !smelt_failed(c->cx), "%s: %s should be absent (got %d)", d, gguf, v);
    return;
  }
  const struct smelt_st_tensor *t = smelt_safetensors_get(st, hf);
  CHECK(v >= 0 && t, "%s: %s -> %s: value %d, tensor %p (%s)", d, gguf, hf, v, (void *)t, smelt_error_msg(c->cx));
  if (v < 0 || !t) return;
  const smelt_value *val = &g->values[v];
  CHECK(val->kind == SMELT_V_CONST && val->dt == t->dt && val->shape.rank == t->rank && val->c.nbytes == t->nbytes, "%s: %s: kind, dtype, size", d, gguf);
  if (!transposed) {
    CHECK(val->shape.rank < 1 || val->shape.d[0].n == t->shape[0], "%s: %s: shape", d, gguf);
    CHECK(!memcmp(val->c.data, t->data, t->nbytes), "%s: %s: bytes differ from %s", d, gguf, hf);
    return;
  }
  int64_t r = t->shape[0], cl = t->shape[1];
  CHECK(val->shape.d[0].n == cl && val->shape.d[1].n == r, "%s: %s: transposed shape", d, gguf);
  int same = 1;
  const float *a = val->c.data, *b = t->data;
  for (int64_t i = 0; i < r && same; i++)
    for (int64_t j = 0; j < cl && same; j++) same = a[j * r + i] == b[i * cl + j];
  CHECK(same, "%s: %s is %s transposed", d, gguf, hf);
}

static void check_names(const struct expect *x, struct smelt_ckpt *c, const struct smelt_safetensors *st) {
  smelt_graph *g = smelt_graph_new(c->cx, "t");
  const char *a = x->arch;
  int llama_like = strcmp(a, "gpt2") && strcmp(a, "phi3");
  if (strcmp(a, "gpt2")) {
    check_map(c, g, st, "token_embd.weight", "model.embed_tokens.weight", 0);
    check_map(c, g, st, "output_norm.weight", "model.norm.weight", 0);
    check_map(c, g, st, "output.weight", x->tie ? NULL : "lm_head.weight", 0);
    check_map(c, g, st, "blk.1.attn_norm.weight", "model.layers.1.input_layernorm.weight", 0);
    check_map(c, g, st, "blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj.weight", 0);
    check_map(c, g, st, "blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight", 0);
    check_map(c, g, st, "blk.0.attn_output.bias", NULL, 0);
    check_map(c, g, st, "position_embd.weight", NULL, 0);
  }
  if (llama_like) {
    check_map(c, g, st, "blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", 0);
    check_map(c, g, st, "blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", 0);
    check_map(c, g, st, "blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight", 0);
    check_map(c, g, st, "blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj.weight", 0);
    check_map(c, g, st, "blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj.weight", 0);
    check_map(c, g, st, "blk.0.attn_qkv.weight", NULL, 0);
    if (!strcmp(a, "gemma2")) {
      check_map(c, g, st, "blk.2.ffn_norm.weight", "model.layers.2.pre_feedforward_layernorm.weight", 0);
      check_map(c, g, st, "blk.2.post_attention_norm.weight", "model.layers.2.post_attention_layernorm.weight", 0);
      check_map(c, g, st, "blk.0.post_ffw_norm.weight", "model.layers.0.post_feedforward_layernorm.weight", 0);
    } else {
      check_map(c, g, st, "blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight", 0);
      check_map(c, g, st, "blk.0.post_ffw_norm.weight", NULL, 0);
    }
    if (!strcmp(a, "qwen2")) {
      check_map(c, g, st, "blk.0.attn_q.bias", "model.layers.0.self_attn.q_proj.bias", 0);
      check_map(c, g, st, "blk.1.attn_k.bias", "model.layers.1.self_attn.k_proj.bias", 0);
      check_map(c, g, st, "blk.1.attn_v.bias", "model.layers.1.self_attn.v_proj.bias", 0);
    } else {
      check_map(c, g, st, "blk.0.attn_q.bias", NULL, 0);
    }
  }
  if (!strcmp(a, "phi3")) {
    check_map(c, g, st, "blk.0.attn_qkv.weight", "model.layers.0.self_attn.qkv_proj.weight", 0);
    check_map(c, g, st, "blk.1.ffn_up.weight", "model.layers.1.mlp.gate_up_proj.weight", 0);
    check_map(c, g, st, "blk.0.ffn_norm.weight", "model.layers.0.post_attention_layernorm.weight", 0);
    check_map(c, g, st, "blk.0.attn_q.weight", NULL, 0);
    check_map(c, g, st, "blk.0.ffn_gate.weight", NULL, 0);
  }
  if (!strcmp(a, "gpt2")) {
    check_map(c, g, st, "token_embd.weight", "wte.weight", 0);
    check_map(c, g, st, "position_embd.weight", "wpe.weight", 0);
    check_map(c, g, st, "output_norm.weight", "ln_f.weight", 0);
    check_map(c, g, st, "output_norm.bias", "ln_f.bias", 0);
    check_map(c, g, st, "output.weight", NULL, 0);
    check_map(c, g, st, "blk.1.attn_norm.bias", "h.1.ln_1.bias", 0);
    check_map(c, g, st, "blk.1.ffn_norm.weight", "h.1.ln_2.weight", 0);
    check_map(c, g, st, "blk.1.attn_qkv.weight", "h.1.attn.c_attn.weight", 1);
    check_map(c, g, st, "blk.1.attn_qkv.bias", "h.1.attn.c_attn.bias", 0);
    check_map(c, g, st, "blk.0.attn_output.weight", "h.0.attn.c_proj.weight", 1);
    check_map(c, g, st, "blk.0.ffn_up.weight", "h.0.mlp.c_fc.weight", 1);
    check_map(c, g, st, "blk.0.ffn_down.weight", "h.0.mlp.c_proj.weight", 1);
    check_map(c, g, st, "blk.0.ffn_down.bias", "h.0.mlp.c_proj.bias", 0);
    check_map(c, g, st, "blk.0.attn_q.weight", NULL, 0);
  }
  /* names no architecture has, or past the last layer */
  static const char *nowhere[] = {"blk.2.attn_q.weight", "blk.9.attn_norm.weight", "blk.01.attn_norm.weight", "blk.-1.attn_norm.weight",
                                  "blk.x.attn_norm.weight", "blk..attn_norm.weight", "blk.0.attn_norm", "blk.0.attn_norm.scale",
                                  "attn_norm.weight", "token_embd", "", "rope_freqs.bias", "blk.99999999999999999999.attn_q.weight"};
  for (size_t i = 0; i < sizeof nowhere / sizeof *nowhere; i++) {
    if (!strcmp(nowhere[i], "blk.2.attn_q.weight") && x->n_layer > 2) continue;
    check_map(c, g, st, nowhere[i], NULL, 0);
  }
  CHECK(strcmp(a, "llama") || x->scaling == NULL || strcmp(x->scaling, "llama3") || c->weight(c, g, "rope_freqs.weight", 0) >= 0,
        "%s: llama3 rope scaling offers rope_freqs.weight", c->path);
  CHECK(c->weight(c, g, "blk.0.attn_qkvx.weight", 1) == -1 && smelt_failed(c->cx) && strstr(smelt_error_msg(c->cx), "blk.0.attn_qkvx.weight"),
        "%s: a required name the checkpoint lacks is an error naming it", c->path);
  smelt_clear_error(c->cx);
}

static float elem(const smelt_value *v, int64_t i) {
  const unsigned char *p = v->c.data;
  uint16_t h;
  switch (v->dt) {
  case SMELT_DT_F32: { float f; memcpy(&f, p + 4 * i, 4); return f; }
  case SMELT_DT_F16: memcpy(&h, p + 2 * i, 2); return sm_f16_to_f32(h);
  case SMELT_DT_BF16: memcpy(&h, p + 2 * i, 2); return sm_bf16_to_f32(h);
  default: return NAN;
  }
}

/* model.gguf (the same weights as llama.cpp's converter writes them) against the HF form */
static void check_gguf(const struct expect *x, struct smelt_ckpt *c, const char *path) {
  smelt_ctx *cx = c->cx;
  struct smelt_gguf *gg = smelt_gguf_open(cx, path);
  CHECK(gg != NULL, "%s: %s", path, smelt_error_msg(cx));
  if (!gg) return;
  smelt_graph *g = smelt_graph_new(cx, "gguf");
  const char *arch = smelt_gguf_str(cx, gg, "general.architecture");
  CHECK(arch && !strcmp(arch, x->arch), "%s: general.architecture %s", path, arch ? arch : "none");
  char k[128];
  struct { const char *key; int64_t want; } ints[] = {{"embedding_length", c->n_embd}, {"block_count", c->n_layer},
      {"attention.head_count", c->n_head}, {"attention.head_count_kv", c->n_head_kv}, {"feed_forward_length", c->n_ff},
      {"context_length", c->n_ctx_train}, {"rope.dimension_count", c->rope_dim}};
  for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
    int64_t v = -1;
    snprintf(k, sizeof k, "%s.%s", x->arch, ints[i].key);
    CHECK(!smelt_gguf_int(gg, k, &v) && v == ints[i].want, "%s: %s is %lld, the HF form says %lld", path, k, (long long)v, (long long)ints[i].want);
  }
  double f = 0;
  snprintf(k, sizeof k, "%s.rope.freq_base", x->arch);
  CHECK(!smelt_gguf_float(gg, k, &f) && fabs(f - c->rope_theta) <= 1e-6 * c->rope_theta, "%s: %s", path, k);
  snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", x->arch);
  CHECK(!smelt_gguf_float(gg, k, &f) && fabs(f - c->norm_eps) <= 1e-6 * c->norm_eps, "%s: %s", path, k);
  const struct smelt_gguf_kv *toks = smelt_gguf_get(gg, "tokenizer.ggml.tokens");
  CHECK(toks && (int64_t)toks->n == c->n_vocab, "%s: tokenizer.ggml.tokens has the model's vocab_size entries", path);
  int llama = !strcmp(x->arch, "llama"), gemma = !strcmp(x->arch, "gemma");
  for (int i = 0; i < gg->ntensors; i++) {
    const struct smelt_gguf_tensor *t = &gg->t[i];
    int v = c->weight(c, g, t->name, 1);
    CHECK(v >= 0, "%s: the HF form has no '%s' (%s)", path, t->name, smelt_error_msg(cx));
    if (v < 0) { smelt_clear_error(cx); continue; }
    const smelt_value *val = &g->values[v];
    int shape_ok = val->shape.rank == t->ndims && t->type == 0;
    for (int j = 0; shape_ok && j < t->ndims; j++) shape_ok = val->shape.d[j].n == t->ne[t->ndims - 1 - j];
    CHECK(shape_ok, "%s: %s: shape or type differs", path, t->name);
    if (!shape_ok) continue;
    int64_t n = smelt_shape_max_elems(g, &val->shape), cols = t->ne[0];
    int perm = llama && (strstr(t->name, ".attn_q.weight") || strstr(t->name, ".attn_k.weight"));
    int64_t hd = c->head_dim;
    int plus_one = gemma && strstr(t->name, "norm.weight");
    double maxerr = 0;
    const float *gf = t->data;
    for (int64_t e = 0; e < n; e++) {
      int64_t src = e;
      if (perm) { /* GGUF row h*hd + 2i + t holds HF row h*hd + t*hd/2 + i */
        int64_t row = e / cols, col = e % cols, h = row / hd, r = row % hd, i2 = r / 2, tt = r % 2;
        src = (h * hd + tt * (hd / 2) + i2) * cols + col;
      }
      double want = elem(val, src) + (plus_one ? 1.0 : 0.0);
      maxerr = fmax(maxerr, fabs(gf[e] - want) / fmax(1, fabs(want)));
    }
    CHECK(maxerr <= (strstr(t->name, "rope_freqs") ? 1e-6 : 0), "%s: %s differs from the HF form by %g", path, t->name, maxerr);
  }
}

static void errors(void) {
  char d[4300];
  snprintf(d, sizeof d, "unit_hf.tmp");
  t_rmtree(d);
  t_mkdirs(d);
  smelt_ctx *cx = smelt_ctx_new();
  CHECK(!smelt_ckpt_from_hf(cx, d) && strstr(smelt_error_msg(cx), "no config.json"), "a folder without config.json");
  smelt_ctx_free(cx);
  const char *cfg = "{\"model_type\": \"mamba\", \"hidden_size\": 8}";
  char p[4400];
  snprintf(p, sizeof p, "%s/config.json", d);
  t_write_file(p, cfg, strlen(cfg));
  cx = smelt_ctx_new();
  CHECK(!smelt_ckpt_from_hf(cx, d) && strstr(smelt_error_msg(cx), "model_type 'mamba' is not supported"), "an unknown model_type is named");
  smelt_ctx_free(cx);
  cx = smelt_ctx_new();
  CHECK(!smelt_ckpt_open(cx, p) && strstr(smelt_error_msg(cx), "not a Hugging Face model folder or a GGUF file"),
        "smelt_ckpt_open refuses a file that is neither");
  smelt_ctx_free(cx);
  t_rmtree(d);
}

int main(void) {
  snprintf(fixdir, sizeof fixdir, "%s/tests/e2e/llm", SMELT_SOURCE_DIR);
  char p[4400];
  snprintf(p, sizeof p, "%s/llama/config.json", fixdir);
  if (!t_exists(p)) SKIP("the fixtures of %s are missing (tools/make_llm_fixtures.py makes them)", fixdir);
  for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
    const struct expect *x = &fixtures[i];
    snprintf(p, sizeof p, "%s/%s", fixdir, x->dir);
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_ckpt *c = smelt_ckpt_open(cx, p);
    CHECK(c != NULL, "%s: %s", p, smelt_error_msg(cx));
    struct smelt_safetensors *st = smelt_safetensors_open(cx, p);
    if (c && st) {
      CHECK(smelt_warning_count(cx) == 0, "%s: warnings: %s", p, smelt_warning_count(cx) ? smelt_warning(cx, 0) : "");
      check_params(x, c);
      check_names(x, c, st);
      /* every weight has the fixture's storage dtype */
      smelt_graph *g = smelt_graph_new(cx, "t");
      int v = c->weight(c, g, "token_embd.weight", 1);
      CHECK(v >= 0 && g->values[v].dt == x->dt, "%s: stored as %s", p, v >= 0 ? smelt_dtype_name(g->values[v].dt) : "?");
      snprintf(p, sizeof p, "%s/%s/model.gguf", fixdir, x->dir);
      if (t_exists(p)) check_gguf(x, c, p);
    }
    smelt_ctx_free(cx);
  }
  errors();
  return t_done("unit_hf");
}
