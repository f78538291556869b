/* tests/unit/safetensors.c — compiler/read_safetensors.c:
 *
 *   - a valid file with every integer and float dtype, an empty tensor, a scalar and
 *     __metadata__: every field of every tensor (name, dtype, shape, counts, offset,
 *     data pointer into the mapping), metadata lookups;
 *   - constants: a view of the mapping (c.file, c.offset) when aligned, an arena copy
 *     when not; a dtype smelt lacks (F8_E4M3) opens but is refused as a constant;
 *   - sharded models: the index (by path and by folder), a lone model.safetensors folder;
 *   - malformed headers and indexes: each is refused with a message naming the file
 *     and saying what is wrong (header length, JSON, dtype, shape, offsets, overlaps,
 *     names, metadata, shard names, missing or wrong shards, FIFOs);
 *   - smelt_json_load: missing files, size limits, invalid JSON with its line. */
#include "../testutil.h"
#include "compiler/safetensors.h"

static char dir[4096];

static const char *pathf(const char *name) {
  static char p[8][4300];
  static int k;
  k = (k + 1) % 8;
  snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
  return p[k];
}

/* u64 header length, the header text (padded with spaces to hlen when pad is set and
 * hlen > strlen), then ndata bytes 0, 1, 2, ... */
static const char *st_write_pad(const char *name, const char *header, uint64_t hlen, size_t ndata, int padded) {
  const char *p = pathf(name);
  size_t hl = strlen(header);
  size_t pad = padded && hlen > hl ? (size_t)hlen - hl : 0;
  size_t n = 8 + hl + pad + ndata;
  unsigned char *b = malloc(n + 1);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(hlen >> (8 * i));
  memcpy(b + 8, header, hl);
  memset(b + 8 + hl, ' ', pad);
  for (size_t i = 0; i < ndata; i++) b[8 + hl + pad + i] = (unsigned char)i;
  t_write_file(p, b, n);
  free(b);
  return p;
}

static const char *st_write(const char *name, const char *header, uint64_t hlen, size_t ndata) { return st_write_pad(name, header, hlen, ndata, 0); }
static const char *st_file(const char *name, const char *header, size_t ndata) { return st_write(name, header, strlen(header), ndata); }

/* expects smelt_safetensors_open(path) to fail with a message holding `words` and the path */
static void bad_open(const char *what, const char *path, const char *words) {
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_safetensors *st = smelt_safetensors_open(cx, path);
  const char *e = smelt_error_msg(cx);
  CHECK(!st && e && strstr(e, words) && strstr(e, dir), "%s: expected an error with '%s', got %s", what, words, e ? e : "success");
  smelt_ctx_free(cx);
}

static void bad_header(const char *what, const char *header, size_t ndata, const char *words) {
  char name[128];
  snprintf(name, sizeof name, "bad_%s.safetensors", what);
  bad_open(what, st_file(name, header, ndata), words);
}

static void valid_file(void) {
  /* data: a f32[2,3] (24), bf16[4] (8), f16 scalar (2), i64[2] (16), u8[0], i8[3] (3), then
   * a misaligned f32[1] at 53 (4), u16 i16 i32 u32 u64 bool f64 f8 */
  const char *h =
      "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"hi\"},"
      "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
      "\"scalar\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[32,34]},"
      "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[34,50]},"
      "\"empty\":{\"dtype\":\"U8\",\"shape\":[0,5],\"data_offsets\":[50,50]},"
      "\"i8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[50,53]},"
      "\"odd\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[53,57]},"
      "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[57,59]},"
      "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[59,61]},"
      "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[61,65]},"
      "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[65,69]},"
      "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[69,77]},"
      "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[77,78]},"
      "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[78,86]},"
      "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[86,88]}}";
  uint64_t hlen = (strlen(h) + 7) / 8 * 8;
  const char *p = st_write_pad("valid.safetensors", h, hlen, 88, 1);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_st_file *f = smelt_safetensors_open_file(cx, p);
  CHECK(f != NULL, "valid file: %s", smelt_error_msg(cx));
  if (!f) { smelt_ctx_free(cx); return; }
  static const struct { const char *name, *dtype; int known, dt, es, rank; int64_t d0, d1; uint64_t b, n; } want[] = {
      {"a.weight", "F32", 1, SMELT_DT_F32, 4, 2, 2, 3, 0, 24}, {"b", "BF16", 1, SMELT_DT_BF16, 2, 1, 4, 0, 24, 8},
      {"scalar", "F16", 1, SMELT_DT_F16, 2, 0, 0, 0, 32, 2},   {"ids", "I64", 1, SMELT_DT_I64, 8, 1, 2, 0, 34, 16},
      {"empty", "U8", 1, SMELT_DT_U8, 1, 2, 0, 5, 50, 0},     {"i8", "I8", 1, SMELT_DT_I8, 1, 1, 3, 0, 50, 3},
      {"odd", "F32", 1, SMELT_DT_F32, 4, 1, 1, 0, 53, 4},      {"u16", "U16", 1, SMELT_DT_U16, 2, 1, 1, 0, 57, 2},
      {"i16", "I16", 1, SMELT_DT_I16, 2, 1, 1, 0, 59, 2},      {"i32", "I32", 1, SMELT_DT_I32, 4, 1, 1, 0, 61, 4},
      {"u32", "U32", 1, SMELT_DT_U32, 4, 1, 1, 0, 65, 4},      {"u64", "U64", 1, SMELT_DT_U64, 8, 1, 1, 0, 69, 8},
      {"bool", "BOOL", 1, SMELT_DT_BOOL, 1, 1, 1, 0, 77, 1},   {"f64", "F64", 1, SMELT_DT_F64, 8, 1, 1, 0, 78, 8},
      {"f8", "F8_E4M3", 0, -1, 1, 1, 2, 0, 86, 2},
  };
  int nw = (int)(sizeof want / sizeof *want);
  CHECK(f->ntensors == nw, "valid file: %d tensors, expected %d", f->ntensors, nw);
  CHECK(f->size == 8 + hlen + 88 && f->data_off == 8 + hlen, "valid file: size %llu, data at %llu", (unsigned long long)f->size,
        (unsigned long long)f->data_off);
  for (int i = 0; i < nw && i < f->ntensors; i++) {
    const struct smelt_st_tensor *t = &f->t[i];
    CHECK(!strcmp(t->name, want[i].name), "tensor %d is '%s', expected '%s' (header order)", i, t->name, want[i].name);
    CHECK(!strcmp(t->dtype, want[i].dtype) && t->known == want[i].known && (!t->known || (int)t->dt == want[i].dt) && t->esize == want[i].es,
          "%s: dtype %s known %d dt %d esize %d", t->name, t->dtype, t->known, (int)t->dt, t->esize);
    CHECK(t->rank == want[i].rank && (t->rank < 1 || t->shape[0] == want[i].d0) && (t->rank < 2 || t->shape[1] == want[i].d1),
          "%s: rank %d", t->name, t->rank);
    uint64_t ne = want[i].n / (uint64_t)want[i].es;
    CHECK(t->nelems == ne && t->nbytes == want[i].n, "%s: %llu elems %llu bytes", t->name, (unsigned long long)t->nelems,
          (unsigned long long)t->nbytes);
    CHECK(t->offset == f->data_off + want[i].b && t->data == f->map + t->offset && t->file == f, "%s: offset %llu", t->name,
          (unsigned long long)t->offset);
    CHECK(want[i].n == 0 || ((const unsigned char *)t->data)[0] == (unsigned char)want[i].b, "%s: first data byte", t->name);
  }
  CHECK(f->nmeta == 2 && smelt_safetensors_meta(f, "format") && !strcmp(smelt_safetensors_meta(f, "format"), "pt") &&
            !strcmp(smelt_safetensors_meta(f, "note"), "hi") && !smelt_safetensors_meta(f, "nope"),
        "metadata");
  /* as a model, and constants */
  struct smelt_safetensors *st = smelt_safetensors_open(cx, p);
  CHECK(st && st->nfiles == 1 && st->ntensors == nw, "open as a model");
  if (st) {
    CHECK(smelt_safetensors_get(st, "b") && !strcmp(smelt_safetensors_get(st, "b")->name, "b") && !smelt_safetensors_get(st, "c"),
          "lookup by name");
    smelt_graph *g = smelt_graph_new(cx, "g");
    const struct smelt_st_tensor *a = smelt_safetensors_get(st, "a.weight"), *odd = smelt_safetensors_get(st, "odd");
    int v = smelt_safetensors_const(g, a, "w");
    CHECK(v >= 0 && g->values[v].c.data == a->data && g->values[v].c.file && !strcmp(g->values[v].c.file, p) &&
              g->values[v].c.offset == a->offset && g->values[v].dt == SMELT_DT_F32 && g->values[v].shape.rank == 2 &&
              g->values[v].shape.d[0].n == 2 && g->values[v].shape.d[1].n == 3,
          "an aligned tensor is a view of the mapping");
    int v2 = smelt_safetensors_const(g, odd, "odd");
    CHECK(v2 >= 0 && g->values[v2].c.data != odd->data && !memcmp(g->values[v2].c.data, odd->data, 4) && !g->values[v2].c.file &&
              ((uintptr_t)g->values[v2].c.data % 4) == 0,
          "a misaligned tensor is copied");
    int v3 = smelt_safetensors_const(g, smelt_safetensors_get(st, "scalar"), "s");
    CHECK(v3 >= 0 && g->values[v3].shape.rank == 0 && g->values[v3].dt == SMELT_DT_F16, "a scalar");
    int v4 = smelt_safetensors_const(g, smelt_safetensors_get(st, "empty"), "e");
    CHECK(v4 >= 0 && g->values[v4].c.nbytes == 0, "an empty tensor");
    CHECK(smelt_safetensors_const(g, smelt_safetensors_get(st, "f8"), "f8") < 0 && strstr(smelt_error_msg(cx), "F8_E4M3"),
          "F8_E4M3 is refused as a constant");
  }
  smelt_ctx_free(cx);
}

static void sharded(void) {
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/shards", dir);
  t_mkdirs(sub);
  st_file("shards/s1.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                   "\"y\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]}}", 12);
  st_file("shards/s2.safetensors", "{\"z\":{\"dtype\":\"BF16\",\"shape\":[3,1],\"data_offsets\":[0,6]}}", 6);
  const char *ix = "{\"metadata\":{\"total_size\":18},\"weight_map\":{\"x\":\"s1.safetensors\",\"z\":\"s2.safetensors\",\"y\":\"s1.safetensors\"}}";
  t_write_file(pathf("shards/model.safetensors.index.json"), ix, strlen(ix));
  for (int how = 0; how < 2; how++) {
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_safetensors *st = smelt_safetensors_open(cx, how ? pathf("shards/model.safetensors.index.json") : sub);
    CHECK(st && st->nfiles == 2 && st->ntensors == 3, "sharded (%s): %s", how ? "index" : "folder", smelt_error_msg(cx));
    if (st) {
      const struct smelt_st_tensor *x = smelt_safetensors_get(st, "x"), *z = smelt_safetensors_get(st, "z");
      CHECK(x && z && strstr(x->file->path, "s1.safetensors") && strstr(z->file->path, "s2.safetensors") && z->rank == 2 &&
                z->shape[0] == 3 && z->dt == SMELT_DT_BF16,
            "sharded: tensors found in their shards");
      CHECK(strstr(st->path, "model.safetensors.index.json") != NULL, "sharded: the model's path is the index");
    }
    smelt_ctx_free(cx);
  }
  /* a folder with one model.safetensors */
  snprintf(sub, sizeof sub, "%s/single", dir);
  t_mkdirs(sub);
  st_file("single/model.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_safetensors *st = smelt_safetensors_open(cx, sub);
  CHECK(st && st->ntensors == 1 && smelt_safetensors_get(st, "x"), "folder with model.safetensors");
  smelt_ctx_free(cx);
  /* a folder with neither */
  snprintf(sub, sizeof sub, "%s/none", dir);
  t_mkdirs(sub);
  bad_open("empty folder", sub, "no model.safetensors");
}

static void bad_index(const char *what, const char *json, const char *words) {
  char name[128];
  snprintf(name, sizeof name, "shards/%s.index.json", what);
  t_write_file(pathf(name), json, strlen(json));
  bad_open(what, pathf(name), words);
}

static void malformed(void) {
  const char *ok = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  /* the header length field */
  bad_open("header_len_past_end", st_write("hl_past.safetensors", ok, 4096, 8), "header length");
  bad_open("header_len_huge", st_write("hl_huge.safetensors", ok, (uint64_t)1 << 63, 8), "header length");
  bad_open("header_len_1", st_write("hl_1.safetensors", ok, 1, 8), "header length");
  bad_open("header_len_0", st_write("hl_0.safetensors", "", 0, 8), "header length");
  bad_open("short_file", st_write("short.safetensors", "", 0, 0), "not a safetensors file");
  bad_open("header_len_cuts_json", st_write("hl_cut.safetensors", ok, 20, 40), "invalid JSON");
  bad_open("missing", pathf("nothing.safetensors"), "No such file");
  /* the JSON */
  bad_header("not_object", "[1,2,3]", 8, "does not start with '{'");
  bad_header("not_json", "{\"x\":", 8, "invalid JSON");
  bad_header("trailing", "{} x", 8, "text after");
  {
    char h[700];
    int k = snprintf(h, sizeof h, "{\"x\":");
    for (int i = 0; i < 300; i++) h[k++] = '[';
    for (int i = 0; i < 300; i++) h[k++] = ']';
    snprintf(h + k, sizeof h - (size_t)k, "}");
    bad_header("nested", h, 8, "not an object");
  }
  bad_header("entry_not_object", "{\"x\":5}", 8, "not an object");
  bad_header("no_dtype", "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
  bad_header("dtype_number", "{\"x\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
  bad_header("dtype_unknown", "{\"x\":{\"dtype\":\"F7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype 'F7'");
  bad_header("no_shape", "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "shape");
  bad_header("shape_object", "{\"x\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,8]}}", 8, "shape");
  bad_header("shape_negative", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_header("shape_fraction", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10, "shape[0]");
  bad_header("shape_string", "{\"x\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_header("shape_1e15", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1000000000000000],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_header("shape_inf", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1e999],\"data_offsets\":[0,8]}}", 8, "shape[0]");
  bad_header("elements_2e80", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}", 8, "2^48");
  bad_header("rank9", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8, "rank 9");
  bad_header("no_offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets");
  bad_header("offsets_three", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8, "pair");
  bad_header("offsets_strings", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[\"0\",\"8\"]}}", 8, "pair");
  bad_header("offsets_negative", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, "pair");
  bad_header("offsets_2e60", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1152921504606846976,1152921504606846984]}}", 8, "pair");
  bad_header("offsets_reversed", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside");
  bad_header("offsets_outside", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8, "outside the data section");
  bad_header("offsets_wrong_size", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "need 8");
  bad_header("overlap", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
             "overlap");
  bad_header("duplicate", "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
             "appears twice");
  bad_header("empty_name", "{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "name of 0 bytes");
  {
    char h[4200];
    snprintf(h, sizeof h, "{\"%02000d\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7);
    bad_header("long_name", h, 8, "name of 2000 bytes");
  }
  bad_header("metadata_array", "{\"__metadata__\":[1],\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "__metadata__");
  bad_header("metadata_number", "{\"__metadata__\":{\"a\":1},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "not a string");
  bad_header("metadata_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 8, "two __metadata__");
  /* a FIFO must not hang the open */
  mkfifo(pathf("fifo.safetensors"), 0666);
  bad_open("fifo", pathf("fifo.safetensors"), "not a regular file");
  /* indexes */
  bad_index("ix_not_json", "{\"weight_map\":", "invalid JSON");
  bad_index("ix_no_map", "{\"metadata\":{}}", "weight_map");
  bad_index("ix_map_array", "{\"weight_map\":[]}", "weight_map");
  bad_index("ix_empty", "{\"weight_map\":{}}", "empty");
  bad_index("ix_value_number", "{\"weight_map\":{\"x\":1}}", "not a file name");
  bad_index("ix_slash", "{\"weight_map\":{\"x\":\"../s1.safetensors\"}}", "not a file name in the index's folder");
  bad_index("ix_absolute", "{\"weight_map\":{\"x\":\"/etc/passwd\"}}", "not a file name in the index's folder");
  bad_index("ix_dotdot", "{\"weight_map\":{\"x\":\"..\"}}", "not a file name in the index's folder");
  bad_index("ix_empty_name", "{\"weight_map\":{\"x\":\"\"}}", "not a file name in the index's folder");
  bad_index("ix_missing_shard", "{\"weight_map\":{\"x\":\"nope.safetensors\"}}", "No such file");
  bad_index("ix_wrong_shard", "{\"weight_map\":{\"x\":\"s2.safetensors\",\"z\":\"s2.safetensors\"}}", "does not hold it");
  bad_index("ix_unknown_tensor", "{\"weight_map\":{\"x\":\"s1.safetensors\",\"w\":\"s1.safetensors\"}}", "does not hold it");
  st_file("shards/dup.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
  bad_index("ix_twice", "{\"weight_map\":{\"x\":\"s1.safetensors\",\"q\":\"dup.safetensors\"}}", "is in both");
  st_file("shards/broken.safetensors", "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9]}}", 8);
  bad_index("ix_broken_shard", "{\"weight_map\":{\"x\":\"broken.safetensors\"}}", "broken.safetensors: tensor 'x'");
  mkfifo(pathf("shards/fifo.safetensors"), 0666);
  bad_index("ix_fifo_shard", "{\"weight_map\":{\"x\":\"fifo.safetensors\"}}", "not a regular file");
}

static void json_files(void) {
  smelt_ctx *cx = smelt_ctx_new();
  int missing = 0;
  CHECK(!smelt_json_load(cx, pathf("none.json"), 100, &missing) && missing && !smelt_failed(cx), "a missing JSON file: *missing");
  const char *big = "{\"a\": 1234567890}", *bad = "{\n\"a\": 1,\n\"b\": }", *ok = "\xef\xbb\xbf {\"a\": [1, 2]}\n";
  t_write_file(pathf("big.json"), big, strlen(big));
  CHECK(!smelt_json_load(cx, pathf("big.json"), 10, NULL) && strstr(smelt_error_msg(cx), "too large"), "size limit");
  smelt_clear_error(cx);
  t_write_file(pathf("bad.json"), bad, strlen(bad));
  CHECK(!smelt_json_load(cx, pathf("bad.json"), 100, NULL) && strstr(smelt_error_msg(cx), "line 3"), "invalid JSON names its line: %s",
        smelt_error_msg(cx));
  smelt_clear_error(cx);
  t_write_file(pathf("ok.json"), ok, strlen(ok));
  cJSON *j = smelt_json_load(cx, pathf("ok.json"), 100, NULL);
  CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "a")) == 2, "a valid JSON file (with a BOM)");
  mkfifo(pathf("fifo.json"), 0666);
  CHECK(!smelt_json_load(cx, pathf("fifo.json"), 100, &missing) && strstr(smelt_error_msg(cx), "not a regular file"), "a FIFO");
  smelt_ctx_free(cx);
}

int main(void) {
  snprintf(dir, sizeof dir, "unit_safetensors.tmp");
  t_rmtree(dir);
  t_mkdirs(dir);
  t_mkdirs(pathf("shards"));
  valid_file();
  sharded();
  malformed();
  json_files();
  if (!t_failures) t_rmtree(dir);
  return t_done("unit_safetensors");
}
