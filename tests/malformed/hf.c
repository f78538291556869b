/* tests/malformed/hf.c — malformed Hugging Face folders for the malformed-input corpus.
 *
 * Each case is a folder WORK/hf/NAME whose files are symbolic links to a fixture of
 * tests/e2e/llm (llama, qwen2 for the sharded index, gemma2, phi3, gpt2 for their own
 * keys), with one file replaced: config.json with one key changed (cJSON edit), a
 * safetensors file with its header edited (the data section kept), an index, a
 * generation or tokenizer config, or a file swapped for a FIFO, a device or a folder.
 * Random truncations and bit flips of config.json and of the safetensors header are
 * added as cases that may be accepted.  Generation problems end the program (exit 2). */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include "malformed.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fix[4096];

static void die(const char *what, const char *p) {
  fprintf(stderr, "malformed/hf.c: %s: %s\n", what, p);
  exit(2);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot read", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) die("cannot read", path);
  fclose(f);
  b[n] = 0;
  *len = (size_t)n;
  return b;
}

static void put(const char *path, const void *d, size_t n) {
  unlink(path);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(d, 1, n, f) != n || fclose(f)) die("cannot write", path);
}

/* WORK/hf/NAME with every file of fixture `base` linked in; registers the case */
static const char *mk(const char *name, const char *base, int must_fail) {
  static char dir[4200];
  snprintf(dir, sizeof dir, "%s/hf/%s", work, name);
  if (mkdir(dir, 0777) && errno != EEXIST) die("cannot make", dir);
  char from[4200], to[8500];
  snprintf(from, sizeof from, "%s/%s", fix, base);
  DIR *d = opendir(from);
  if (!d) die("cannot list", from);
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char src[8500];
    snprintf(src, sizeof src, "%s/%s", from, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
    unlink(to);
    if (symlink(src, to)) die("cannot link", to);
  }
  closedir(d);
  add_case(dir, K_HF, must_fail);
  return dir;
}

static const char *in(const char *dir, const char *file) {
  static char p[2][8500];
  static int k;
  k ^= 1;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, file);
  return p[k];
}

/* file of `base` with key set to the JSON text value (NULL: removed) at the top level,
 * or in the object `sub` when given */
static void json_edit(const char *name, const char *base, const char *file, const char *sub, const char *key, const char *value, int must_fail) {
  const char *dir = mk(name, base, must_fail);
  char src[4200];
  snprintf(src, sizeof src, "%s/%s/%s", fix, base, file);
  size_t n;
  char *text = slurp(src, &n);
  cJSON *root = cJSON_Parse(text);
  if (!root) die("not JSON", src);
  cJSON *obj = sub ? cJSON_GetObjectItem(root, sub) : root;
  if (!obj) die("no such object", sub);
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  if (value) {
    cJSON *v = cJSON_Parse(value);
    if (!v) die("bad value", value);
    cJSON_AddItemToObject(obj, key, v);
  }
  char *out = cJSON_PrintUnformatted(root);
  put(in(dir, file), out, strlen(out));
  free(out);
  cJSON_Delete(root);
  free(text);
}

static void raw(const char *name, const char *base, const char *file, const char *data, size_t n, int must_fail) {
  const char *dir = mk(name, base, must_fail);
  put(in(dir, file), data, n);
}

/* ---- safetensors headers ----------------------------------------------------------------- */
struct st { unsigned char *bytes; size_t len; uint64_t hl; cJSON *h; };

static struct st st_read(const char *base, const char *file) {
  struct st s;
  char p[4200];
  snprintf(p, sizeof p, "%s/%s/%s", fix, base, file);
  s.bytes = (unsigned char *)slurp(p, &s.len);
  memcpy(&s.hl, s.bytes, 8);
  s.h = cJSON_ParseWithLength((const char *)s.bytes + 8, (size_t)s.hl);
  if (!s.h) die("bad safetensors header", p);
  return s;
}

/* writes the edited header with the original data section */
static void st_write(const char *dir, const char *file, struct st *s) {
  char *h = cJSON_PrintUnformatted(s->h);
  size_t hl = strlen(h), dl = s->len - 8 - (size_t)s->hl;
  unsigned char *b = malloc(8 + hl + dl);
  uint64_t v = hl;
  memcpy(b, &v, 8);
  memcpy(b + 8, h, hl);
  memcpy(b + 8 + hl, s->bytes + 8 + s->hl, dl);
  put(in(dir, file), b, 8 + hl + dl);
  free(b);
  free(h);
  cJSON_Delete(s->h);
  free(s->bytes);
}

#define Q "model.layers.0.self_attn.q_proj.weight"
#define UP "model.layers.1.mlp.up_proj.weight"

/* one field of one tensor set to a JSON value (NULL field: the tensor removed) */
static void st_field(const char *name, const char *tensor, const char *field, const char *value, int must_fail) {
  const char *dir = mk(name, "llama", must_fail);
  struct st s = st_read("llama", "model.safetensors");
  if (!field) {
    cJSON_DeleteItemFromObjectCaseSensitive(s.h, tensor);
  } else {
    cJSON *t = cJSON_GetObjectItem(s.h, tensor);
    if (!t) die("no tensor", tensor);
    cJSON_DeleteItemFromObjectCaseSensitive(t, field);
    if (value) cJSON_AddItemToObject(t, field, cJSON_Parse(value));
  }
  st_write(dir, "model.safetensors", &s);
}

static void safetensors_cases(void) {
  st_field("st_shape_reshaped", Q, "shape", "[16,64]", 1);     /* same bytes, not what config.json implies */
  st_field("st_shape_rank3", Q, "shape", "[32,2,16]", 1);
  st_field("st_dtype_i32", Q, "dtype", "\"I32\"", 1);          /* same size, not a float */
  st_field("st_dtype_f8", Q, "dtype", "\"F8_E4M3\"", 1);
  st_field("st_dtype_unknown", Q, "dtype", "\"F7\"", 1);
  st_field("st_dtype_missing", Q, "dtype", NULL, 1);
  st_field("st_shape_missing", Q, "shape", NULL, 1);
  st_field("st_offsets_missing", Q, "data_offsets", NULL, 1);
  st_field("st_offsets_outside", Q, "data_offsets", "[0, 99999999]", 1);
  st_field("st_offsets_overlap", UP, "data_offsets", "[0, 8192]", 1);
  st_field("st_offsets_huge", Q, "data_offsets", "[18446744073709551615, 18446744073709551615]", 1);
  st_field("st_shape_negative", Q, "shape", "[-32,-32]", 1);
  st_field("st_shape_huge", Q, "shape", "[1099511627776,1099511627776]", 1);
  st_field("st_missing_tensor", UP, NULL, NULL, 1);
  st_field("st_missing_embedding", "model.embed_tokens.weight", NULL, NULL, 1);
  st_field("st_missing_lm_head", "lm_head.weight", NULL, NULL, 1);
  st_field("st_metadata_number", "__metadata__", "format", "7", 1);
  { /* a tensor renamed: missing under its name, unknown under the new one */
    const char *dir = mk("st_renamed", "llama", 1);
    struct st s = st_read("llama", "model.safetensors");
    cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(s.h, UP);
    cJSON_AddItemToObject(s.h, "model.layers.1.mlp.upp_proj.weight", t);
    st_write(dir, "model.safetensors", &s);
  }
  { /* an extra tensor nothing uses: accepted with a warning */
    const char *dir = mk("st_extra_tensor_ok", "llama", -1);
    struct st s = st_read("llama", "model.safetensors");
    cJSON *t = cJSON_Duplicate(cJSON_GetObjectItem(s.h, "model.norm.weight"), 1);
    cJSON_DeleteItemFromObjectCaseSensitive(t, "data_offsets");
    cJSON_DeleteItemFromObjectCaseSensitive(t, "shape");
    cJSON_AddItemToObject(t, "shape", cJSON_Parse("[0]"));
    cJSON_AddItemToObject(t, "data_offsets", cJSON_Parse("[0,0]"));
    cJSON_AddItemToObject(s.h, "model.rotary.unused", t);
    st_write(dir, "model.safetensors", &s);
  }
  /* the header length field, truncations and bit flips */
  size_t n;
  char p[4200];
  snprintf(p, sizeof p, "%s/llama/model.safetensors", fix);
  unsigned char *b = (unsigned char *)slurp(p, &n);
  uint64_t hl;
  memcpy(&hl, b, 8);
  uint64_t lens[] = {hl + 1, hl - 1, 0, 1, (uint64_t)n, (uint64_t)1 << 40, UINT64_MAX};
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    char name[64];
    snprintf(name, sizeof name, "st_header_len%zu", i);
    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    memcpy(c, &lens[i], 8);
    raw(name, "llama", "model.safetensors", (char *)c, n, i == 1 ? 0 : 1); /* one less may only drop padding */
    free(c);
  }
  size_t cuts[] = {0, 4, 8, 9, 100, (size_t)hl, (size_t)hl + 7, (size_t)hl + 8, (size_t)hl + 9, (size_t)hl + 1000, n / 2, n - 4, n - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    char name[64];
    snprintf(name, sizeof name, "st_cut%zu", cuts[i]);
    raw(name, "llama", "model.safetensors", (char *)b, cuts[i], 1);
  }
  for (int i = 0; i < 60; i++) { /* flips in the header: most break it, some keep it valid */
    char name[64];
    size_t at = 8 + rnd((uint32_t)hl);
    int bit = (int)rnd(8);
    b[at] ^= (unsigned char)(1u << bit);
    snprintf(name, sizeof name, "st_flip%zu.%d", at, bit);
    raw(name, "llama", "model.safetensors", (char *)b, n, 0);
    b[at] ^= (unsigned char)(1u << bit);
  }
  free(b);
}

/* ---- config.json -------------------------------------------------------------------- */
static void config_cases(void) {
  static const struct { const char *name, *key, *value; int must_fail; } llama[] = {
      {"model_type_missing", "model_type", NULL, 1}, {"model_type_unknown", "model_type", "\"mamba\"", 1},
      {"model_type_number", "model_type", "7", 1}, {"model_type_empty", "model_type", "\"\"", 1},
      {"hidden_negative", "hidden_size", "-1", 1}, {"hidden_zero", "hidden_size", "0", 1}, {"hidden_1e9", "hidden_size", "1e9", 1},
      {"hidden_string", "hidden_size", "\"32\"", 1}, {"hidden_fraction", "hidden_size", "32.5", 1}, {"hidden_null", "hidden_size", "null", 1},
      {"hidden_mismatch", "hidden_size", "64", 1}, {"hidden_nan", "hidden_size", "1e999", 1},
      {"heads_zero", "num_attention_heads", "0", 1}, {"heads_not_dividing", "num_attention_heads", "5", 1},
      {"heads_huge", "num_attention_heads", "1000000", 1}, {"heads_mismatch", "num_attention_heads", "8", 1},
      {"kv_heads_not_dividing", "num_key_value_heads", "3", 1}, {"kv_heads_more", "num_key_value_heads", "8", 1},
      {"kv_heads_zero", "num_key_value_heads", "0", 1}, {"kv_heads_mismatch", "num_key_value_heads", "1", 1},
      {"head_dim_huge", "head_dim", "100000", 1}, {"head_dim_mismatch", "head_dim", "16", 1}, {"head_dim_zero", "head_dim", "0", 1},
      {"layers_more", "num_hidden_layers", "3", 1}, {"layers_zero", "num_hidden_layers", "0", 1},
      {"layers_huge", "num_hidden_layers", "5000", 1}, {"layers_fewer_ok", "num_hidden_layers", "1", -1},
      {"ff_missing", "intermediate_size", NULL, 1}, {"ff_mismatch", "intermediate_size", "65", 1},
      {"vocab_small", "vocab_size", "10", 1}, {"vocab_huge", "vocab_size", "1e12", 1}, {"vocab_missing", "vocab_size", NULL, 1},
      {"theta_negative", "rope_theta", "-1", 1}, {"theta_string", "rope_theta", "\"x\"", 1}, {"theta_zero", "rope_theta", "0", 1},
      {"eps_zero", "rms_norm_eps", "0", 1}, {"eps_two", "rms_norm_eps", "2", 1}, {"eps_negative", "rms_norm_eps", "-1e-5", 1},
      {"rope_yarn", "rope_scaling", "{\"rope_type\":\"yarn\",\"factor\":4}", 1},
      {"rope_dynamic", "rope_scaling", "{\"type\":\"dynamic\",\"factor\":2}", 1},
      {"rope_llama3_factor0", "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":0,\"low_freq_factor\":1,\"high_freq_factor\":4,\"original_max_position_embeddings\":128}", 1},
      {"rope_llama3_missing", "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8}", 1},
      {"rope_llama3_equal", "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":4,\"high_freq_factor\":4,\"original_max_position_embeddings\":128}", 1},
      {"rope_llama3_ctx0", "rope_scaling", "{\"rope_type\":\"llama3\",\"factor\":8,\"low_freq_factor\":1,\"high_freq_factor\":4,\"original_max_position_embeddings\":0}", 1},
      {"rope_number", "rope_scaling", "5", 1}, {"rope_no_type", "rope_scaling", "{\"factor\":2}", 1},
      {"rope_linear_no_factor", "rope_scaling", "{\"type\":\"linear\"}", 1},
      {"rope_type_number", "rope_scaling", "{\"type\":3,\"factor\":2}", 1},
      {"rope_none_ok", "rope_scaling", "null", -1}, {"rope_default_ok", "rope_scaling", "{\"rope_type\":\"default\"}", -1},
      {"ctx_zero", "max_position_embeddings", "0", 1}, {"ctx_negative", "max_position_embeddings", "-5", 1},
      {"ctx_huge", "max_position_embeddings", "1e30", 1},
      {"act_relu", "hidden_act", "\"relu\"", 1}, {"act_number", "hidden_act", "5", 1},
      {"tie_string", "tie_word_embeddings", "\"yes\"", 1}, {"tie_true_ok", "tie_word_embeddings", "true", -1},
      {"bos_out_of_range", "bos_token_id", "100000", 1}, {"bos_negative", "bos_token_id", "-1", 1},
      {"bos_string", "bos_token_id", "\"1\"", 1}, {"bos_fraction", "bos_token_id", "1.5", 1},
      {"eos_list_string", "eos_token_id", "[1,\"x\"]", 1}, {"eos_list_range", "eos_token_id", "[1,100000]", 1},
      {"eos_object", "eos_token_id", "{}", 1}, {"eos_many_ok", "eos_token_id", "[1,2,3,4,5,6,7,8,9,10,11,12]", -1},
      {"name_number_ok", "_name_or_path", "5", -1},
  };
  char name[128];
  for (size_t i = 0; i < sizeof llama / sizeof *llama; i++) {
    snprintf(name, sizeof name, "config_%s", llama[i].name);
    json_edit(name, "llama", "config.json", NULL, llama[i].key, llama[i].value, llama[i].must_fail);
  }
  static const struct { const char *base, *name, *key, *value; int must_fail; } other[] = {
      {"gpt2", "gpt2_inverse_layer_idx", "scale_attn_by_inverse_layer_idx", "true", 1},
      {"gpt2", "gpt2_unscaled", "scale_attn_weights", "false", 1},
      {"gpt2", "gpt2_inner_mismatch", "n_inner", "7", 1},
      {"gpt2", "gpt2_positions_mismatch", "n_positions", "10", 1},
      {"gpt2", "gpt2_act_relu", "activation_function", "\"relu\"", 1},
      {"gpt2", "gpt2_heads_zero", "n_head", "0", 1},
      {"gemma2", "gemma2_softcap_negative", "attn_logit_softcapping", "-1", 1},
      {"gemma2", "gemma2_softcap_string", "final_logit_softcapping", "\"x\"", 1},
      {"gemma2", "gemma2_softcap_null_ok", "final_logit_softcapping", "null", -1},
      {"gemma2", "gemma2_query_scalar_zero", "query_pre_attn_scalar", "0", 1},
      {"gemma2", "gemma2_window_negative", "sliding_window", "-3", 1},
      {"mistral", "mistral_window_null_ok", "sliding_window", "null", -1},
      {"mistral", "mistral_window_absent_ok", "sliding_window", NULL, -1},
      {"gemma2", "gemma2_rope_scaling", "rope_scaling", "{\"type\":\"linear\",\"factor\":2}", 1},
      {"phi3", "phi3_partial_tiny", "partial_rotary_factor", "0.1", 1},
      {"phi3", "phi3_partial_over", "partial_rotary_factor", "1.5", 1},
      {"phi3", "phi3_longrope", "rope_scaling", "{\"type\":\"longrope\",\"short_factor\":[1],\"long_factor\":[1]}", 1},
      {"phi3", "phi3_qkv_mismatch", "num_key_value_heads", "4", 1},
      {"qwen2", "qwen2_sliding", "use_sliding_window", "true", 1},
      {"qwen2", "qwen2_sliding_string", "use_sliding_window", "\"no\"", 1},
  };
  for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
    snprintf(name, sizeof name, "config_%s", other[i].name);
    json_edit(name, other[i].base, "config.json", NULL, other[i].key, other[i].value, other[i].must_fail);
  }
  static const char *whole[][2] = {{"empty", ""}, {"array", "[]"}, {"open", "{"}, {"null", "null"}, {"string", "\"llama\""},
                                   {"trailing", "{\"model_type\":\"llama\"} x"}, {"binary", "\x01\x02\xff\xfe"}};
  for (size_t i = 0; i < sizeof whole / sizeof *whole; i++) {
    snprintf(name, sizeof name, "config_whole_%s", whole[i][0]);
    raw(name, "llama", "config.json", whole[i][1], strlen(whole[i][1]), 1);
  }
  /* truncations and flips of the text */
  size_t n;
  char p[4200];
  snprintf(p, sizeof p, "%s/llama/config.json", fix);
  char *text = slurp(p, &n);
  for (size_t cut = 0; cut + 1 < n; cut += 1 + n / 40) {
    snprintf(name, sizeof name, "config_cut%zu", cut);
    raw(name, "llama", "config.json", text, cut, 1); /* the closing brace is last: every cut is invalid JSON */
  }
  for (int i = 0; i < 40; i++) {
    size_t at = rnd((uint32_t)n);
    int bit = (int)rnd(8);
    text[at] ^= (char)(1u << bit);
    snprintf(name, sizeof name, "config_flip%zu.%d", at, bit);
    raw(name, "llama", "config.json", text, n, 0);
    text[at] ^= (char)(1u << bit);
  }
  free(text);
}

/* ---- the other files ------------------------------------------------------------------- */
static void other_cases(void) {
  /* sharded index (qwen2) */
  json_edit("index_no_map", "qwen2", "model.safetensors.index.json", NULL, "weight_map", NULL, 1);
  json_edit("index_map_array", "qwen2", "model.safetensors.index.json", NULL, "weight_map", "[]", 1);
  json_edit("index_dotdot", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "\"../qwen2/model-00002-of-00002.safetensors\"", 1);
  json_edit("index_absolute", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "\"/etc/passwd\"", 1);
  json_edit("index_missing_shard", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "\"model-00003-of-00003.safetensors\"", 1);
  json_edit("index_wrong_shard", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "\"model-00001-of-00002.safetensors\"", 1);
  json_edit("index_number", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "5", 1);
  json_edit("index_unknown_tensor_entry", "qwen2", "model.safetensors.index.json", "weight_map", "x.weight", "\"model-00001-of-00002.safetensors\"", 1);
  json_edit("index_self", "qwen2", "model.safetensors.index.json", "weight_map", "model.norm.weight", "\"model.safetensors.index.json\"", 1);
  raw("index_not_json", "qwen2", "model.safetensors.index.json", "{\"weight_map\":", 14, 1);
  raw("index_shard_cut", "qwen2", "model-00002-of-00002.safetensors", "\x10\0\0\0\0\0\0\0{}", 10, 1);
  {
    const char *d = mk("index_shard_fifo", "qwen2", 1);
    unlink(in(d, "model-00002-of-00002.safetensors"));
    mkfifo(in(d, "model-00002-of-00002.safetensors"), 0666);
  }
  /* generation_config.json */
  static const struct { const char *name, *key, *value; } gen[] = {
      {"eos_string", "eos_token_id", "\"x\""}, {"eos_range", "eos_token_id", "100000"}, {"eos_negative", "eos_token_id", "[1,-1]"},
      {"bos_range", "bos_token_id", "381"}, {"temperature_string", "temperature", "\"hot\""}, {"temperature_negative", "temperature", "-1"},
      {"top_p_two", "top_p", "2"}, {"top_k_negative", "top_k", "-1"}, {"top_k_fraction", "top_k", "2.5"}};
  char name[128];
  for (size_t i = 0; i < sizeof gen / sizeof *gen; i++) {
    snprintf(name, sizeof name, "generation_%s", gen[i].name);
    json_edit(name, "llama", "generation_config.json", NULL, gen[i].key, gen[i].value, 1);
  }
  raw("generation_not_json", "llama", "generation_config.json", "{", 1, 1);
  raw("generation_array", "llama", "generation_config.json", "[]", 2, 1);
  /* tokenizer_config.json */
  json_edit("tokcfg_add_bos_string", "llama", "tokenizer_config.json", NULL, "add_bos_token", "\"yes\"", 1);
  json_edit("tokcfg_template_number", "llama", "tokenizer_config.json", NULL, "chat_template", "5", 1);
  json_edit("tokcfg_template_list_bad", "llama", "tokenizer_config.json", NULL, "chat_template", "[{\"name\":1}]", 1);
  json_edit("tokcfg_template_list_ok", "llama", "tokenizer_config.json", NULL, "chat_template",
            "[{\"name\":\"default\",\"template\":\"x\"},{\"name\":\"tool_use\",\"template\":\"y\"}]", -1);
  raw("tokcfg_not_json", "llama", "tokenizer_config.json", "{\"a\"", 4, 1);
  raw("tokcfg_array", "llama", "tokenizer_config.json", "[1]", 3, 1);
  /* files that are not regular files, or absent */
  static const char *files[] = {"config.json", "model.safetensors", "generation_config.json", "tokenizer_config.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(name, sizeof name, "fifo_%s", files[i]);
    const char *d = mk(name, "llama", 1);
    unlink(in(d, files[i]));
    mkfifo(in(d, files[i]), 0666);
    snprintf(name, sizeof name, "device_%s", files[i]);
    d = mk(name, "llama", 1);
    unlink(in(d, files[i]));
    if (symlink("/dev/zero", in(d, files[i]))) die("cannot link", in(d, files[i]));
    snprintf(name, sizeof name, "folder_%s", files[i]);
    d = mk(name, "llama", 1);
    unlink(in(d, files[i]));
    mkdir(in(d, files[i]), 0777);
  }
  {
    const char *d = mk("missing_config", "llama", 1);
    unlink(in(d, "config.json"));
    d = mk("missing_weights", "llama", 1);
    unlink(in(d, "model.safetensors"));
    d = mk("template_file_fifo", "gpt2", 1); /* gpt2 has no chat_template: the .jinja file is read */
    mkfifo(in(d, "chat_template.jinja"), 0666);
    d = mk("template_file_ok", "gpt2", -1);
    put(in(d, "chat_template.jinja"), "{{ messages }}", 14);
  }
  /* every fixture as it is */
  static const char *all[] = {"llama", "llama_spm", "qwen2", "mistral", "gemma", "gemma2", "phi3", "gpt2"};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
    snprintf(name, sizeof name, "ok_%s", all[i]);
    mk(name, all[i], -1);
  }
}

void hf_mutants(const char *fixtures) {
  if (!realpath(fixtures, fix)) return; /* no fixtures: no HF cases */
  char p[4200];
  snprintf(p, sizeof p, "%s/hf", work);
  mkdir(p, 0777);
  other_cases();
  config_cases();
  safetensors_cases();
}
