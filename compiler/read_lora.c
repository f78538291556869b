/* compiler/read_lora.c — LoRA adapter files (compiler/lora.h): a PEFT folder
 * (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA file, read into f32
 * A/B pairs named after the base model's weights.
 *
 * PEFT names a pair "base_model.model.<module>.lora_A.weight" / ".lora_B.weight" (older
 * files add the adapter name: ".lora_A.default.weight"); A is [r, in], B [out, r] in
 * every case (fan_in_fan_out says the *base* weight is stored [in, out], as GPT-2's
 * Conv1D; smelt's readers already hold such weights as [out, in] — or the pass finds the
 * orientation from the MatMul that uses the weight — so it needs no transposition
 * here).  GGUF (llama.cpp's convert_lora_to_gguf.py) names them "<base>.lora_a" /
 * "<base>.lora_b" with the base's GGUF name, ggml shapes [in, r] and [r, out].
 *
 * llama.cpp stores a GGUF llama's Q/K rows permuted (compiler/ckpt.h, rope_neox = 0);
 * its adapter converter permutes B's rows the same way.  So a PEFT adapter for a GGUF
 * llama base gets B's rows of attn_q / attn_k permuted, and a GGUF llama adapter for a
 * Hugging Face base gets them un-permuted.
 *
 * Every file is hostile: shapes must pair up (A [r, in], B [out, r], 1 <= r <= 4096),
 * every tensor must be a LoRA tensor smelt understands, dtypes F32/F16/BF16 (GGUF: any
 * type smelt can dequantize). */
#include "compiler/lora.h"
#include "compiler/ckpt.h"
#include "compiler/gguf.h"
#include "compiler/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *smelt_lora_parse_opt(const char *arg, int named, struct smelt_lora_opt *o, char *buf, size_t size) {
  memset(o, 0, sizeof *o);
  o->scale = 1;
  if (strlen(arg) >= size) return "too long";
  strcpy(buf, arg);
  char *p = buf;
  if (named) {
    char *eq = strchr(buf, '=');
    if (!eq || eq == buf) return "expected NAME=PATH[:SCALE]";
    if (eq - buf > 64) return "the name is longer than 64 characters";
    for (const char *q = buf; q < eq; q++)
      if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || *q == '_' || *q == '-' || (*q >= '0' && *q <= '9')))
        return "the name may hold letters, digits, '_' and '-' only";
    *eq = 0;
    o->name = buf;
    p = eq + 1;
  }
  char *colon = strrchr(p, ':');
  if (colon && colon[1]) { /* a trailing :NUMBER is the scale; anything else is part of the path */
    char *end;
    errno = 0;
    double s = strtod(colon + 1, &end);
    if (!*end && !errno && isfinite(s)) {
      o->scale = s;
      *colon = 0;
    }
  }
  o->path = p;
  return *p ? NULL : "no PATH";
}

/* ---- names ------------------------------------------------------------------------------ */

/* Hugging Face module names (inside a layer) -> GGUF's, for the families smelt builds. */
static const struct { const char *hf, *gguf; } layer_names[] = {
    {"self_attn.q_proj", "attn_q"},     {"self_attn.k_proj", "attn_k"},   {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"}, {"self_attn.qkv_proj", "attn_qkv"}, {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},          {"mlp.gate_up_proj", "ffn_up"},   {"mlp.down_proj", "ffn_down"},
    {"attn.c_attn", "attn_qkv"},        {"attn.c_proj", "attn_output"},   {"mlp.c_fc", "ffn_up"},
    {"mlp.c_proj", "ffn_down"},
};

/* The GGUF name of a Hugging Face module path ("model.layers.3.self_attn.q_proj"), or NULL. */
static const char *gguf_name(smelt_ctx *cx, const char *m) {
  if (!strcmp(m, "lm_head")) return "output.weight";
  const char *p = NULL;
  static const char *pre[] = {"model.layers.", "transformer.h.", "h.", "layers."};
  for (size_t i = 0; i < sizeof pre / sizeof *pre && !p; i++)
    if (!strncmp(m, pre[i], strlen(pre[i]))) p = m + strlen(pre[i]);
  if (!p || *p < '0' || *p > '9') return NULL;
  long layer = strtol(p, (char **)&p, 10);
  if (*p++ != '.' || layer > 100000) return NULL;
  for (size_t i = 0; i < sizeof layer_names / sizeof *layer_names; i++)
    if (!strcmp(p, layer_names[i].hf)) return smelt_sprintf(cx, "blk.%ld.%s.weight", layer, layer_names[i].gguf);
  return NULL;
}

/* Permutes B's rows as llama.cpp's converter permutes a llama Q/K weight (inverse: back):
 * rows [heads, 2, hd/2] <-> [heads, hd/2, 2]. */
static int permute_rows(smelt_ctx *cx, float *b, int64_t out, int64_t r, int64_t heads, int inverse) {
  if (heads <= 0 || out % (2 * heads)) return smelt_errorf(cx, "cannot permute %lld rows into %lld heads", (long long)out, (long long)heads);
  int64_t half = out / heads / 2;
  float *t = malloc(sizeof(float) * (size_t)(out * r));
  if (!t) return smelt_errorf(cx, "out of memory");
  memcpy(t, b, sizeof(float) * (size_t)(out * r));
  for (int64_t h = 0; h < heads; h++)
    for (int64_t two = 0; two < 2; two++)
      for (int64_t i = 0; i < half; i++) {
        int64_t src = h * 2 * half + two * half + i, dst = h * 2 * half + i * 2 + two; /* forward: [h, two, i] -> [h, i, two] */
        if (inverse) { int64_t x = src; src = dst; dst = x; }
        memcpy(b + dst * r, t + src * r, sizeof(float) * (size_t)r);
      }
  free(t);
  return 0;
}

/* Names the pair after the base's weights, and puts llama Q/K rows in the base's order. */
static int bind_names(smelt_ctx *cx, struct smelt_lora *L, struct smelt_lora_tensor *t, const char *module, const struct smelt_ckpt *ck,
                      int adapter_permuted) {
  t->module = module;
  const char *gg = NULL;
  if (!strcmp(L->format, "gguf")) {
    gg = smelt_sprintf(cx, "%s", module); /* already a GGUF weight name */
    t->names[t->nnames++] = gg;
  } else {
    t->names[t->nnames++] = smelt_sprintf(cx, "%s.weight", module);
    if (ck && (gg = gguf_name(cx, module))) t->names[t->nnames++] = gg;
  }
  if (!ck || !gg) return 0;
  int base_permuted = !strcmp(ck->format, "gguf") && !ck->rope_neox;
  if (base_permuted == adapter_permuted) return 0;
  const char *w = strstr(gg, ".attn_q.weight") ? "q" : strstr(gg, ".attn_k.weight") ? "k" : NULL;
  if (!w) return 0;
  if (adapter_permuted && ck->rope_neox == 0) return 0;
  float *b = (float *)t->b;
  return permute_rows(cx, b, t->out, t->r, *w == 'q' ? ck->n_head : ck->n_head_kv, adapter_permuted);
}

/* f32 copy (in the arena) of a tensor's elements. */
static float *to_f32(smelt_ctx *cx, smelt_dtype dt, const void *data, int64_t n, const char *path, const char *name) {
  float *f = smelt_alloc(cx, sizeof(float) * (size_t)(n ? n : 1));
  if (!f) return NULL;
  if (smelt_dequantize_row(dt, data, f, n)) {
    smelt_errorf(cx, "%s: tensor '%s' has dtype %s (LoRA tensors must be F32, F16, BF16 or a GGUF type smelt reads)", path, name, smelt_dtype_name(dt));
    return NULL;
  }
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(f[i])) { smelt_errorf(cx, "%s: tensor '%s' holds a NaN or infinity", path, name); return NULL; }
  return f;
}

/* Adds the pair (A, B) for module, checking shapes. */
static int add_pair(smelt_ctx *cx, struct smelt_lora *L, const char *module, int64_t ar, int64_t ain, int64_t bout, int64_t br, float *a, float *b,
                    double alpha, int rslora, const struct smelt_ckpt *ck, int permuted, double user_scale) {
  if (ar != br || ar < 1 || ar > 4096 || ain < 1 || bout < 1)
    return smelt_errorf(cx, "%s: '%s': lora A is [%lld, %lld] and lora B [%lld, %lld]; they must be [r, in] and [out, r] with 1 <= r <= 4096", L->path,
                        module, (long long)ar, (long long)ain, (long long)bout, (long long)br);
  struct smelt_lora_tensor *t = &L->t[L->n++];
  t->r = ar;
  t->in = ain;
  t->out = bout;
  t->a = a;
  t->b = b;
  t->scale = user_scale * (rslora ? alpha / sqrt((double)ar) : alpha / (double)ar);
  return bind_names(cx, L, t, module, ck, permuted);
}

/* ---- PEFT ---------------------------------------------------------------------------------- */

static const char *lora_part(const char *name, char which, size_t *mlen) {
  /* "<module>.lora_A.weight" or "<module>.lora_A.<adapter>.weight" */
  char pat[16];
  snprintf(pat, sizeof pat, ".lora_%c.", which);
  const char *p = strstr(name, pat);
  if (!p) return NULL;
  const char *rest = p + strlen(pat);
  size_t n = strlen(rest);
  if (n < 6 || strcmp(rest + n - 6, "weight") || (n > 6 && (rest[n - 7] != '.' || strchr(rest, '.') != rest + n - 7))) return NULL;
  *mlen = (size_t)(p - name);
  return p;
}

static struct smelt_lora *read_peft(smelt_ctx *cx, const struct smelt_lora_opt *o, const struct smelt_ckpt *ck) {
  const char *dir = o->path;
  const char *cpath = smelt_sprintf(cx, "%s/adapter_config.json", dir);
  int missing = 0;
  cJSON *root = smelt_json_load(cx, cpath, 4 << 20, &missing);
  if (!root) {
    if (missing) smelt_errorf(cx, "%s: no adapter_config.json: not a PEFT adapter folder", dir);
    return NULL;
  }
  if (!cJSON_IsObject(root)) { smelt_errorf(cx, "%s: not a JSON object", cpath); return NULL; }
  const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "peft_type");
  if (pt && (!cJSON_IsString(pt) || strcmp(pt->valuestring, "LORA"))) {
    smelt_errorf(cx, "%s: peft_type %s is not supported (LORA is)", cpath, cJSON_IsString(pt) ? pt->valuestring : "(not a string)");
    return NULL;
  }
  const cJSON *jr = cJSON_GetObjectItemCaseSensitive(root, "r"), *ja = cJSON_GetObjectItemCaseSensitive(root, "lora_alpha");
  if (!cJSON_IsNumber(jr) || jr->valuedouble < 1 || jr->valuedouble > 4096 || jr->valuedouble != floor(jr->valuedouble)) {
    smelt_errorf(cx, "%s: \"r\" must be an integer from 1 to 4096", cpath);
    return NULL;
  }
  if (ja && !cJSON_IsNull(ja) && (!cJSON_IsNumber(ja) || !isfinite(ja->valuedouble))) { smelt_errorf(cx, "%s: \"lora_alpha\" must be a number", cpath); return NULL; }
  int64_t r = (int64_t)jr->valuedouble;
  double alpha = ja && cJSON_IsNumber(ja) ? ja->valuedouble : 8; /* PEFT's default */
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "use_rslora");
  int rslora = cJSON_IsTrue(rs);
  if (rs && !cJSON_IsBool(rs) && !cJSON_IsNull(rs)) { smelt_errorf(cx, "%s: \"use_rslora\" must be true or false", cpath); return NULL; }
  static const char *unsupported[] = {"rank_pattern", "alpha_pattern"};
  for (int i = 0; i < 2; i++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, unsupported[i]);
    if (x && !cJSON_IsNull(x) && !(cJSON_IsObject(x) && !x->child)) {
      smelt_errorf(cx, "%s: \"%s\" (per-module ranks or alphas) is not supported yet", cpath, unsupported[i]);
      return NULL;
    }
  }
  const cJSON *dora = cJSON_GetObjectItemCaseSensitive(root, "use_dora");
  if (cJSON_IsTrue(dora)) { smelt_errorf(cx, "%s: DoRA (use_dora) is not supported yet", cpath); return NULL; }
  const char *wpath = smelt_sprintf(cx, "%s/adapter_model.safetensors", dir);
  struct stat st;
  if (stat(wpath, &st)) {
    const char *bin = smelt_sprintf(cx, "%s/adapter_model.bin", dir);
    if (!stat(bin, &st)) smelt_errorf(cx, "%s: PyTorch pickles are not supported: save the adapter with safetensors", bin);
    else smelt_errorf(cx, "%s: no adapter_model.safetensors", dir);
    return NULL;
  }
  struct smelt_st_file *f = smelt_safetensors_open_file(cx, wpath);
  if (!f) return NULL;
  struct smelt_lora *L = smelt_alloc(cx, sizeof *L);
  if (!L) return NULL;
  L->name = o->name;
  L->path = dir;
  L->format = "peft";
  L->t = smelt_alloc(cx, sizeof *L->t * (size_t)(f->ntensors + 1));
  if (!L->t) return NULL;
  smelt_map seen;
  smelt_map_init(&seen, cx);
  for (int i = 0; i < f->ntensors; i++) {
    const struct smelt_st_tensor *ta = &f->t[i];
    size_t ml = 0;
    if (lora_part(ta->name, 'B', &ml)) continue; /* found from its A */
    if (!lora_part(ta->name, 'A', &ml)) {
      smelt_errorf(cx, "%s: tensor '%s' is not a LoRA A/B weight (embedding LoRA, modules_to_save and biases are not supported)", wpath, ta->name);
      return NULL;
    }
    /* the matching B: the same name with lora_B */
    char *bn = smelt_strdup(cx, ta->name);
    if (!bn) return NULL;
    bn[ml + 6] = 'B';
    const struct smelt_st_tensor *tb = NULL;
    for (int k = 0; k < f->ntensors && !tb; k++)
      if (!strcmp(f->t[k].name, bn)) tb = &f->t[k];
    if (!tb) { smelt_errorf(cx, "%s: '%s' has no '%s'", wpath, ta->name, bn); return NULL; }
    const char *module = smelt_strndup(cx, ta->name, ml);
    if (!strncmp(module, "base_model.model.", 17)) module += 17;
    if (smelt_map_get(&seen, module) >= 0) { smelt_errorf(cx, "%s: module '%s' has two LoRA pairs", wpath, module); return NULL; }
    smelt_map_put(&seen, module, i);
    if (ta->rank != 2 || tb->rank != 2) { smelt_errorf(cx, "%s: '%s': lora A and B must be matrices", wpath, module); return NULL; }
    if (!ta->known || !tb->known) { smelt_errorf(cx, "%s: '%s': dtype %s is not supported", wpath, module, ta->known ? tb->dtype : ta->dtype); return NULL; }
    if (ta->shape[0] != r) {
      smelt_errorf(cx, "%s: '%s': lora A has rank %lld but adapter_config.json says r = %lld", wpath, module, (long long)ta->shape[0], (long long)r);
      return NULL;
    }
    float *a = to_f32(cx, ta->dt, ta->data, (int64_t)ta->nelems, wpath, ta->name), *b = a ? to_f32(cx, tb->dt, tb->data, (int64_t)tb->nelems, wpath, tb->name) : NULL;
    if (!b) return NULL;
    if (add_pair(cx, L, module, ta->shape[0], ta->shape[1], tb->shape[0], tb->shape[1], a, b, alpha, rslora, ck, 0, o->scale)) return NULL;
  }
  /* B tensors without an A */
  for (int i = 0; i < f->ntensors; i++) {
    size_t ml = 0;
    if (!lora_part(f->t[i].name, 'B', &ml)) continue;
    const char *module = smelt_strndup(cx, f->t[i].name, ml);
    if (!strncmp(module, "base_model.model.", 17)) module += 17;
    if (smelt_map_get(&seen, module) < 0) { smelt_errorf(cx, "%s: '%s' has no lora_A", wpath, f->t[i].name); return NULL; }
  }
  if (!L->n) { smelt_errorf(cx, "%s: no LoRA weights", wpath); return NULL; }
  return L;
}

/* ---- GGUF ------------------------------------------------------------------------------------ */

static struct smelt_lora *read_gguf_lora(smelt_ctx *cx, const struct smelt_lora_opt *o, const struct smelt_ckpt *ck) {
  struct smelt_gguf *f = smelt_gguf_open(cx, o->path);
  if (!f) return NULL;
  const char *type = smelt_gguf_str(cx, f, "general.type");
  if (!type || strcmp(type, "adapter")) { smelt_errorf(cx, "%s: not a GGUF adapter (general.type is %s)", o->path, type ? type : "absent"); return NULL; }
  const char *at = smelt_gguf_str(cx, f, "adapter.type");
  if (at && strcmp(at, "lora")) { smelt_errorf(cx, "%s: adapter.type %s is not supported (lora is)", o->path, at); return NULL; }
  double alpha = 0;
  if (smelt_gguf_float(f, "adapter.lora.alpha", &alpha) || !isfinite(alpha)) { smelt_errorf(cx, "%s: no adapter.lora.alpha", o->path); return NULL; }
  const char *arch = smelt_gguf_str(cx, f, "general.architecture");
  if (ck && arch && strcmp(arch, ck->arch)) { smelt_errorf(cx, "%s: an adapter for %s, not %s", o->path, arch, ck->arch); return NULL; }
  int permuted = arch && !strcmp(arch, "llama");
  struct smelt_lora *L = smelt_alloc(cx, sizeof *L);
  if (!L) return NULL;
  L->name = o->name;
  L->path = o->path;
  L->format = "gguf";
  L->t = smelt_alloc(cx, sizeof *L->t * (size_t)(f->ntensors + 1));
  if (!L->t) return NULL;
  for (int i = 0; i < f->ntensors; i++) {
    const struct smelt_gguf_tensor *ta = &f->t[i];
    size_t n = strlen(ta->name);
    if (n > 7 && !strcmp(ta->name + n - 7, ".lora_b")) continue;
    if (n <= 7 || strcmp(ta->name + n - 7, ".lora_a")) { smelt_errorf(cx, "%s: tensor '%s' is not a LoRA tensor (<weight>.lora_a / .lora_b)", o->path, ta->name); return NULL; }
    const char *base = smelt_strndup(cx, ta->name, n - 7);
    const struct smelt_gguf_tensor *tb = smelt_gguf_tensor(f, smelt_sprintf(cx, "%s.lora_b", base));
    if (!tb) { smelt_errorf(cx, "%s: '%s' has no '%s.lora_b'", o->path, ta->name, base); return NULL; }
    if (ta->ndims != 2 || tb->ndims != 2) { smelt_errorf(cx, "%s: '%s': lora_a and lora_b must be matrices", o->path, base); return NULL; }
    const struct smelt_ggml_type *gta = smelt_ggml_type(ta->type), *gtb = smelt_ggml_type(tb->type);
    smelt_dtype da, db;
    char na[16] = "", nb[16] = "";
    for (int k = 0; gta && gta->name[k] && k < 15; k++) na[k] = (char)(gta->name[k] | 0x20); /* "Q8_0" -> smelt's "q8_0" */
    for (int k = 0; gtb && gtb->name[k] && k < 15; k++) nb[k] = (char)(gtb->name[k] | 0x20);
    if (!gta || !gtb || smelt_dtype_parse(na, &da) || smelt_dtype_parse(nb, &db)) {
      smelt_errorf(cx, "%s: '%s': a ggml type smelt does not read", o->path, base);
      return NULL;
    }
    /* ggml ne is reversed: lora_a ne [in, r] is A [r, in]; lora_b ne [r, out] is B [out, r] */
    float *a = to_f32(cx, da, ta->data, ta->ne[0] * ta->ne[1], o->path, ta->name), *b = a ? to_f32(cx, db, tb->data, tb->ne[0] * tb->ne[1], o->path, tb->name) : NULL;
    if (!b) return NULL;
    if (add_pair(cx, L, base, ta->ne[1], ta->ne[0], tb->ne[1], tb->ne[0], a, b, alpha > 0 ? alpha : (double)ta->ne[1], 0, ck, permuted, o->scale)) return NULL;
  }
  if (!L->n) { smelt_errorf(cx, "%s: no LoRA tensors", o->path); return NULL; }
  return L;
}

struct smelt_lora *smelt_lora_read(smelt_ctx *cx, const struct smelt_lora_opt *o, const struct smelt_ckpt *ck) {
  struct stat st;
  if (stat(o->path, &st)) { smelt_errorf(cx, "%s: %s", o->path, strerror(errno)); return NULL; }
  if (S_ISDIR(st.st_mode)) return read_peft(cx, o, ck);
  FILE *fp = fopen(o->path, "rb");
  char magic[4] = {0};
  size_t got = fp ? fread(magic, 1, 4, fp) : 0;
  if (fp) fclose(fp);
  if (got == 4 && !memcmp(magic, "GGUF", 4)) return read_gguf_lora(cx, o, ck);
  smelt_errorf(cx, "%s: not a LoRA adapter (a PEFT folder or a GGUF adapter file)", o->path);
  return NULL;
}

struct smelt_lora_set *smelt_lora_load(smelt_ctx *cx, const struct smelt_lora_opt *merge, int nmerge, const struct smelt_lora_opt *sw,
                                       int nsw, const struct smelt_ckpt *ck) {
  struct smelt_lora_set *s = smelt_alloc(cx, sizeof *s);
  if (!s) return NULL;
  s->merge = smelt_alloc(cx, sizeof *s->merge * (size_t)(nmerge + 1));
  s->sw = smelt_alloc(cx, sizeof *s->sw * (size_t)(nsw + 1));
  if (!s->merge || !s->sw) return NULL;
  smelt_map_init(&s->merged, cx);
  for (int i = 0; i < nmerge; i++) {
    struct smelt_lora *L = smelt_lora_read(cx, &merge[i], ck);
    if (!L) return NULL;
    s->merge[s->nmerge++] = *L;
  }
  for (int i = 0; i < nsw; i++) {
    for (int k = 0; k < i; k++)
      if (!strcmp(sw[k].name, sw[i].name)) { smelt_errorf(cx, "--adapter %s: the name is given twice", sw[i].name); return NULL; }
    struct smelt_lora *L = smelt_lora_read(cx, &sw[i], ck);
    if (!L) return NULL;
    s->sw[s->nswitch++] = *L;
  }
  return s;
}
