/* compiler/arch/decoder.c — the decoder-only transformer every supported family is:
 *
 *   x = embed(ids) [* sqrt(d) for Gemma] [+ position_embd for GPT-2]
 *   per layer:  h = norm(x)
 *               q, k, v = h Wq, h Wk, h Wv (+ biases; fused QKV for Phi-3 / GPT-2)
 *               q, k = rope(q, k)                (not GPT-2)
 *               cache[pos .. pos + n) = k, v
 *               a = attention(q, cache)          (GQA, window, soft-cap)
 *               x = x + [post_norm](a Wo)        (Gemma 2 post-attention norm)
 *               h = norm(x)
 *               x = x + [post_norm](ffn(h))      (SwiGLU, GeGLU, or GELU MLP)
 *   logits = norm(x_last) Wout (or the embedding, tied) [soft-capped for Gemma 2]
 *
 * Weights are looked up by their GGUF names through the checkpoint (ckpt.h). */
#include "compiler/arch/arch.h"

#include <math.h>
#include <string.h>

typedef struct {
  smelt_ctx *cx;
  struct smelt_ckpt *ck;
  smelt_graph *g;
  int layer;
  int err;
  int factors_done;
  const smelt_attr *factors;
} B;

static const char *lname(B *b, const char *suffix) { return smelt_sprintf(b->cx, "blk.%d.%s", b->layer, suffix); }

/* weight by GGUF name (layer-local when the name has no '.' prefix of its own) */
static int W(B *b, const char *name, int required) {
  int v = b->ck->weight(b->ck, b->g, name, required);
  if (v < 0 && required) b->err = 1;
  return v;
}

static int node(B *b, smelt_op op, const char *name, const int *in, int nin, const smelt_attr *a, int na, const smelt_shape *given) {
  for (int i = 0; i < nin; i++)
    if (in[i] < 0) { b->err = 1; return SMELT_ERR; }
  int v = smelt_graph_add_node(b->g, op, name, in, nin, a, na, 1, given);
  if (v < 0) b->err = 1;
  return v;
}

static int bin(B *b, smelt_op op, const char *name, int x, int y) { int in[2] = {x, y}; return node(b, op, name, in, 2, NULL, 0, NULL); }

static int reshape(B *b, const char *name, int x, smelt_dim d0, int64_t d1, int64_t d2) {
  smelt_shape s = d2 ? (smelt_shape){.rank = 3, .d = {d0, smelt_dim_c(d1), smelt_dim_c(d2)}} : (smelt_shape){.rank = 2, .d = {d0, smelt_dim_c(d1)}};
  return node(b, SMELT_OP_RESHAPE, name, &x, 1, NULL, 0, &s);
}

/* y = x W^T (+ bias) for W [out, in] */
static int linear(B *b, const char *name, int x, int w, int bias) {
  smelt_attr tb = smelt_attr_int("trans_b", 1);
  int in[2] = {x, w};
  int y = node(b, SMELT_OP_MATMUL, name, in, 2, &tb, 1, NULL);
  return bias >= 0 ? bin(b, SMELT_OP_ADD, smelt_sprintf(b->cx, "%s.bias", name), y, bias) : y;
}

/* columns [from, from + len) of x [n, cols] */
static int cols(B *b, const char *name, int x, int64_t from, int64_t len) {
  const smelt_shape *s = &b->g->values[x].shape;
  int64_t st[2] = {0, from}, en[2] = {INT64_MAX, from + len}, sp[2] = {1, 1};
  if (!s->d[0].sym) en[0] = s->d[0].n;
  smelt_attr a[3] = {smelt_attr_ints(b->cx, "starts", st, 2), smelt_attr_ints(b->cx, "ends", en, 2), smelt_attr_ints(b->cx, "steps", sp, 2)};
  return node(b, SMELT_OP_SLICE, name, &x, 1, a, 3, NULL);
}

/* RMSNorm or LayerNorm with the weights named `base`.weight / .bias */
static int norm(B *b, const char *base, int x) {
  int w = W(b, smelt_sprintf(b->cx, "%s.weight", base), 1);
  if (!strcmp(b->ck->arch, "gpt2")) {
    int in[3] = {x, w, W(b, smelt_sprintf(b->cx, "%s.bias", base), 1)};
    smelt_attr a = smelt_attr_float("eps", b->ck->norm_eps);
    return node(b, SMELT_OP_LAYER_NORM, base, in, 3, &a, 1, NULL);
  }
  int in[2] = {x, w};
  smelt_attr a[2] = {smelt_attr_float("eps", b->ck->norm_eps), smelt_attr_int("add_one", b->ck->norm_add_one)};
  return node(b, SMELT_OP_RMS_NORM, base, in, 2, a, 2, NULL);
}

/* per-frequency divisors from rope_freqs.weight (Llama 3.1 scaling in GGUF; the
 * Hugging Face reader computes the same tensor), or NULL */
static const smelt_attr *rope_factors(B *b) {
  static const char *const key = "rope_freqs.weight";
  if (b->factors_done) return b->factors;
  b->factors_done = 1;
  int v = W(b, key, 0);
  if (v < 0) return NULL;
  const smelt_value *val = &b->g->values[v];
  int64_t n = smelt_shape_max_elems(b->g, &val->shape);
  if (val->dt != SMELT_DT_F32 || n < 1 || n > 65536 || !val->c.data) {
    smelt_errorf(b->cx, "%s: %s must be f32", b->ck->path, key);
    b->err = 1;
    return NULL;
  }
  double *f = smelt_alloc(b->cx, sizeof(double) * (size_t)n);
  smelt_attr *a = smelt_alloc(b->cx, sizeof *a);
  if (!f || !a) { b->err = 1; return NULL; }
  for (int64_t i = 0; i < n; i++) f[i] = ((const float *)val->c.data)[i];
  *a = smelt_attr_floats(b->cx, "factors", f, (int)n);
  return b->factors = a;
}

static int rope(B *b, const char *name, int x, int pos) {
  struct smelt_ckpt *ck = b->ck;
  smelt_attr a[9];
  int na = 0;
  a[na++] = smelt_attr_float("theta", ck->rope_theta);
  a[na++] = smelt_attr_int("dims", ck->rope_dim ? ck->rope_dim : ck->head_dim);
  a[na++] = smelt_attr_int("neox", ck->rope_neox);
  const smelt_attr *fac = rope_factors(b);
  if (fac) a[na++] = *fac; /* replaces the llama3 formula: the tensor already holds it */
  else if (ck->rope_scaling) {
    a[na++] = smelt_attr_str("scaling", ck->rope_scaling);
    a[na++] = smelt_attr_float("factor", ck->rope_factor);
    if (!strcmp(ck->rope_scaling, "llama3")) {
      a[na++] = smelt_attr_float("low_freq", ck->rope_low_freq_factor);
      a[na++] = smelt_attr_float("high_freq", ck->rope_high_freq_factor);
      a[na++] = smelt_attr_int("orig_ctx", ck->rope_orig_ctx);
    }
  }
  int in[2] = {x, pos};
  return node(b, SMELT_OP_ROPE, name, in, 2, a, na, NULL);
}

static int act(B *b, const char *name, int x) {
  smelt_op op = b->ck->act == 0 ? SMELT_OP_SILU : b->ck->act == 1 ? SMELT_OP_GELU_TANH : SMELT_OP_GELU;
  return node(b, op, name, &x, 1, NULL, 0, NULL);
}

static int feed_forward(B *b, int h, smelt_dim n) {
  struct smelt_ckpt *ck = b->ck;
  if (!strcmp(ck->arch, "gpt2")) { /* up -> GELU -> down, with biases */
    int u = linear(b, lname(b, "ffn_up"), h, W(b, lname(b, "ffn_up.weight"), 1), W(b, lname(b, "ffn_up.bias"), 1));
    return linear(b, lname(b, "ffn_down"), act(b, lname(b, "ffn_act"), u), W(b, lname(b, "ffn_down.weight"), 1), W(b, lname(b, "ffn_down.bias"), 1));
  }
  int gate, up, gw = W(b, lname(b, "ffn_gate.weight"), 0);
  if (gw >= 0) {
    gate = linear(b, lname(b, "ffn_gate"), h, gw, -1);
    up = linear(b, lname(b, "ffn_up"), h, W(b, lname(b, "ffn_up.weight"), 1), -1);
  } else { /* fused gate and up (Phi-3): the first half is the gate */
    int gu = linear(b, lname(b, "ffn_up"), h, W(b, lname(b, "ffn_up.weight"), 1), -1);
    gate = cols(b, lname(b, "ffn_gate"), gu, 0, ck->n_ff);
    up = cols(b, lname(b, "ffn_up_half"), gu, ck->n_ff, ck->n_ff);
  }
  (void)n;
  int m = bin(b, SMELT_OP_MUL, lname(b, "ffn_glu"), act(b, lname(b, "ffn_act"), gate), up);
  return linear(b, lname(b, "ffn_down"), m, W(b, lname(b, "ffn_down.weight"), 1), -1);
}

smelt_graph *smelt_arch_build(smelt_ctx *cx, struct smelt_ckpt *ck, const struct smelt_llm_opts *o, int decode) {
  B b = {.cx = cx, .ck = ck};
  smelt_graph *g = b.g = smelt_graph_new(cx, decode ? "decode" : "prefill");
  if (!g) return NULL;
  g->source = ck->path;
  g->source_hash = ck->hash;
  const int gpt2 = !strcmp(ck->arch, "gpt2"), gemma = !strncmp(ck->arch, "gemma", 5), gemma2 = !strcmp(ck->arch, "gemma2");
  int64_t d = ck->n_embd, H = ck->n_head, Hkv = ck->n_head_kv, hd = ck->head_dim, C = o->ctx;
  smelt_dim n = smelt_dim_c(1);
  if (!decode) {
    int sym = smelt_graph_add_sym(g, "n_tokens", o->max_tokens);
    if (sym < 0) return NULL;
    n = (smelt_dim){0, sym};
  }
  smelt_shape ids_s = {.rank = 1, .d = {n}}, pos_s = {.rank = 1, .d = {smelt_dim_c(1)}};
  int ids = smelt_graph_add_input(g, "ids", SMELT_DT_I32, &ids_s), pos = smelt_graph_add_input(g, "pos", SMELT_DT_I32, &pos_s);
  if (ids < 0 || pos < 0) return NULL;
  smelt_shape cache_s = {.rank = 3, .d = {smelt_dim_c(C), smelt_dim_c(Hkv), smelt_dim_c(hd)}};
  int *kc = smelt_alloc(cx, sizeof(int) * ck->n_layer), *vc = smelt_alloc(cx, sizeof(int) * ck->n_layer);
  if (!kc || !vc) return NULL;
  for (int l = 0; l < ck->n_layer; l++) {
    kc[l] = smelt_graph_add_state(g, smelt_sprintf(cx, "kc%d", l), o->kv_dtype, &cache_s);
    vc[l] = smelt_graph_add_state(g, smelt_sprintf(cx, "vc%d", l), o->kv_dtype, &cache_s);
    if (kc[l] < 0 || vc[l] < 0) return NULL;
  }

  /* embeddings */
  int emb = W(&b, "token_embd.weight", 1);
  int gin[2] = {emb, ids};
  int x = node(&b, SMELT_OP_GATHER, "token_embd", gin, 2, NULL, 0, NULL);
  if (gemma) x = bin(&b, SMELT_OP_MUL, "embd_scale", x, smelt_graph_add_const_copy(g, "sqrt_d", SMELT_DT_F32, &(smelt_shape){0}, &(float){(float)sqrt((double)d)}, 4));
  if (gpt2) {
    int pin[2] = {pos, ids};
    int p = node(&b, SMELT_OP_POSITIONS, "positions", pin, 2, NULL, 0, NULL);
    int pe[2] = {W(&b, "position_embd.weight", 1), p};
    x = bin(&b, SMELT_OP_ADD, "embd_pos", x, node(&b, SMELT_OP_GATHER, "position_embd", pe, 2, NULL, 0, NULL));
  }

  double scale = ck->attn_scale > 0 ? ck->attn_scale : 1 / sqrt((double)hd);
  for (int l = 0; l < ck->n_layer && !b.err; l++) {
    b.layer = l;
    int h = norm(&b, lname(&b, "attn_norm"), x);
    int q, k, v, qkvw = W(&b, lname(&b, "attn_qkv.weight"), 0);
    if (qkvw >= 0) { /* fused QKV (Phi-3, GPT-2) */
      int qkv = linear(&b, lname(&b, "attn_qkv"), h, qkvw, W(&b, lname(&b, "attn_qkv.bias"), 0));
      q = cols(&b, lname(&b, "attn_q"), qkv, 0, H * hd);
      k = cols(&b, lname(&b, "attn_k"), qkv, H * hd, Hkv * hd);
      v = cols(&b, lname(&b, "attn_v"), qkv, (H + Hkv) * hd, Hkv * hd);
    } else {
      q = linear(&b, lname(&b, "attn_q"), h, W(&b, lname(&b, "attn_q.weight"), 1), W(&b, lname(&b, "attn_q.bias"), 0));
      k = linear(&b, lname(&b, "attn_k"), h, W(&b, lname(&b, "attn_k.weight"), 1), W(&b, lname(&b, "attn_k.bias"), 0));
      v = linear(&b, lname(&b, "attn_v"), h, W(&b, lname(&b, "attn_v.weight"), 1), W(&b, lname(&b, "attn_v.bias"), 0));
    }
    q = reshape(&b, lname(&b, "q_heads"), q, n, H, hd);
    k = reshape(&b, lname(&b, "k_heads"), k, n, Hkv, hd);
    v = reshape(&b, lname(&b, "v_heads"), v, n, Hkv, hd);
    if (!gpt2) {
      q = rope(&b, lname(&b, "rope_q"), q, pos);
      k = rope(&b, lname(&b, "rope_k"), k, pos);
    }
    int kw[3] = {kc[l], k, pos}, vw[3] = {vc[l], v, pos};
    int kcn = node(&b, SMELT_OP_KV_WRITE, lname(&b, "k_cache"), kw, 3, NULL, 0, NULL);
    int vcn = node(&b, SMELT_OP_KV_WRITE, lname(&b, "v_cache"), vw, 3, NULL, 0, NULL);
    /* Gemma 2 alternates a sliding window (even layers) and global attention */
    int64_t win = gemma2 ? (l % 2 == 0 ? ck->sliding_window : 0) : ck->sliding_window;
    smelt_attr aa[3] = {smelt_attr_float("scale", scale), smelt_attr_float("softcap", ck->attn_softcap), smelt_attr_int("window", win)};
    int ain[4] = {q, kcn, vcn, pos};
    int a = node(&b, SMELT_OP_ATTENTION, lname(&b, "attn"), ain, 4, aa, 3, NULL);
    a = reshape(&b, lname(&b, "attn_merge"), a, n, H * hd, 0);
    a = linear(&b, lname(&b, "attn_output"), a, W(&b, lname(&b, "attn_output.weight"), 1), W(&b, lname(&b, "attn_output.bias"), 0));
    if (gemma2) a = norm(&b, lname(&b, "post_attention_norm"), a);
    x = bin(&b, SMELT_OP_ADD, lname(&b, "attn_residual"), x, a);
    h = norm(&b, lname(&b, "ffn_norm"), x);
    int f = feed_forward(&b, h, n);
    if (gemma2) f = norm(&b, lname(&b, "post_ffw_norm"), f);
    x = bin(&b, SMELT_OP_ADD, lname(&b, "ffn_residual"), x, f);
  }
  if (b.err) return NULL;
  if (!o->all_logits && !decode) x = node(&b, SMELT_OP_TAKE_LAST, "last_token", &x, 1, NULL, 0, NULL);
  x = norm(&b, "output_norm", x);
  int out = ck->tie_embeddings ? emb : W(&b, "output.weight", 1);
  int logits = linear(&b, "output", x, out, -1);
  if (ck->final_softcap > 0) { /* cap * tanh(logits / cap) */
    int c = smelt_graph_add_const_copy(g, "final_softcap", SMELT_DT_F32, &(smelt_shape){0}, &(float){(float)ck->final_softcap}, 4);
    logits = bin(&b, SMELT_OP_MUL, "softcap_out", node(&b, SMELT_OP_TANH, "softcap_tanh", (int[]){bin(&b, SMELT_OP_DIV, "softcap_in", logits, c)}, 1, NULL, 0, NULL), c);
  }
  if (b.err || logits < 0) return NULL;
  g->values[logits].name = "logits";
  smelt_graph_add_output(g, logits);
  return smelt_verify(g) ? NULL : g;
}
