/* compiler/read_gguf.c — parses a GGUF file (versions 2 and 3) into its metadata and
 * tensor infos over a read-only mapping (see gguf.h).
 *
 * Layout: "GGUF", u32 version, u64 tensor count, u64 kv count, the key/values
 * (string key, u32 type, value), the tensor infos (string name, u32 ndims, u64 ne[],
 * u32 type, u64 offset), padding to general.alignment (default 32), then the data.
 * Strings are u64 length + bytes.  All values are little-endian.
 *
 * smelt_gguf_add_tensor turns a tensor into an IR constant over the mapping: ggml's
 * block-quantized weights stay blocks (runtime/smelt_quant.h computes on them). */
#define _POSIX_C_SOURCE 200809L
#include "compiler/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ggml_type ids -> block geometry (from ggml's type table) */
static const struct smelt_ggml_type ggml_types[] = {
    [0] = {"F32", 1, 4},     [1] = {"F16", 1, 2},      [2] = {"Q4_0", 32, 18},  [3] = {"Q4_1", 32, 20},
    [6] = {"Q5_0", 32, 22},  [7] = {"Q5_1", 32, 24},   [8] = {"Q8_0", 32, 34},  [9] = {"Q8_1", 32, 36},
    [10] = {"Q2_K", 256, 84}, [11] = {"Q3_K", 256, 110}, [12] = {"Q4_K", 256, 144}, [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210}, [15] = {"Q8_K", 256, 292}, [24] = {"I8", 1, 1},   [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},    [27] = {"I64", 1, 8},     [28] = {"F64", 1, 8},    [30] = {"BF16", 1, 2},
};

const struct smelt_ggml_type *smelt_ggml_type(uint32_t type) {
  if (type >= sizeof ggml_types / sizeof *ggml_types || !ggml_types[type].name) return NULL;
  return &ggml_types[type];
}

/* ggml_type ids smelt computes on -> smelt dtypes (SMELT_DT_COUNT: not supported) */
static smelt_dtype ggml_to_dtype(uint32_t type) {
  switch (type) {
  case 0: return SMELT_DT_F32;
  case 1: return SMELT_DT_F16;
  case 30: return SMELT_DT_BF16;
  case 8: return SMELT_DT_Q8_0;
  case 2: return SMELT_DT_Q4_0;
  case 3: return SMELT_DT_Q4_1;
  case 6: return SMELT_DT_Q5_0;
  case 7: return SMELT_DT_Q5_1;
  case 12: return SMELT_DT_Q4_K;
  case 13: return SMELT_DT_Q5_K;
  case 14: return SMELT_DT_Q6_K;
  default: return SMELT_DT_COUNT;
  }
}

typedef struct {
  smelt_ctx *cx;
  const char *path;
  const unsigned char *p, *end, *base;
} cur;

static int bad(cur *c, const char *what) {
  return smelt_errorf(c->cx, "%s: malformed GGUF at byte %llu: %s", c->path, (unsigned long long)(c->p - c->base), what);
}

static int need(cur *c, uint64_t n) { return (uint64_t)(c->end - c->p) >= n ? 0 : bad(c, "unexpected end of file"); }

static int rd_u32(cur *c, uint32_t *v) {
  if (need(c, 4)) return SMELT_ERR;
  memcpy(v, c->p, 4);
  c->p += 4;
  return 0;
}

static int rd_u64(cur *c, uint64_t *v) {
  if (need(c, 8)) return SMELT_ERR;
  memcpy(v, c->p, 8);
  c->p += 8;
  return 0;
}

/* a string: u64 length + bytes, at most 1 MiB (keys at most 64 KiB) */
static int rd_str(cur *c, const char **s, uint64_t *len, uint64_t max) {
  uint64_t n;
  if (rd_u64(c, &n)) return SMELT_ERR;
  if (n > max) return bad(c, "string too long");
  if (need(c, n)) return SMELT_ERR;
  *s = (const char *)c->p;
  *len = n;
  c->p += n;
  return 0;
}

static int scalar_size(uint32_t t) {
  switch (t) {
  case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
  case GGUF_U16: case GGUF_I16: return 2;
  case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
  case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
  default: return 0;
  }
}

/* Skips one value of type t, checking it lies in the file. */
static int skip_value(cur *c, uint32_t t, int depth) {
  if (depth > 8) return bad(c, "arrays nested too deeply");
  int sz = scalar_size(t);
  if (sz) return need(c, (uint64_t)sz) ? SMELT_ERR : (c->p += sz, 0);
  if (t == GGUF_STRING) {
    const char *s;
    uint64_t n;
    return rd_str(c, &s, &n, 1 << 20);
  }
  if (t != GGUF_ARRAY) return bad(c, "unknown value type");
  uint32_t et;
  uint64_t n;
  if (rd_u32(c, &et) || rd_u64(c, &n)) return SMELT_ERR;
  int es = scalar_size(et);
  if (es) {
    if (n > (uint64_t)(c->end - c->p) / (uint64_t)es) return bad(c, "array longer than the file");
    c->p += n * (uint64_t)es;
    return 0;
  }
  if (n > (uint64_t)(c->end - c->p) / 8) return bad(c, "array longer than the file"); /* every element takes >= 8 bytes */
  for (uint64_t i = 0; i < n; i++)
    if (skip_value(c, et, depth + 1)) return SMELT_ERR;
  return 0;
}

static void unmap(void *g) {
  struct smelt_gguf *gg = g;
  munmap((void *)gg->map, (size_t)gg->size);
}

struct smelt_gguf *smelt_gguf_open(smelt_ctx *cx, const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) { smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  smelt_ctx_note_input(cx, path);
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < 24) {
    close(fd);
    smelt_errorf(cx, "%s: not a GGUF file (too short or not a regular file)", path);
    return NULL;
  }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) { smelt_errorf(cx, "%s: cannot map the file", path); return NULL; }
  struct smelt_gguf *g = smelt_alloc(cx, sizeof *g);
  if (!g) { munmap(m, (size_t)st.st_size); return NULL; }
  g->path = smelt_strdup(cx, path);
  g->map = m;
  g->size = (uint64_t)st.st_size;
  smelt_ctx_on_free(cx, unmap, g);
  smelt_map_init(&g->kv_index, cx);
  smelt_map_init(&g->t_index, cx);
  cur c = {cx, path, m, (const unsigned char *)m + st.st_size, m};
  if (memcmp(c.p, "GGUF", 4)) { smelt_errorf(cx, "%s: not a GGUF file (bad magic)", path); return NULL; }
  c.p += 4;
  uint64_t nt, nkv;
  if (rd_u32(&c, &g->version) || rd_u64(&c, &nt) || rd_u64(&c, &nkv)) return NULL;
  if (g->version != 2 && g->version != 3) { smelt_errorf(cx, "%s: GGUF version %u is not supported (2 and 3 are)", path, g->version); return NULL; }
  if (nkv > (1 << 20) || nt > (1 << 20)) { bad(&c, "absurd key or tensor count"); return NULL; }
  g->kv = smelt_alloc(cx, sizeof *g->kv * (nkv + 1));
  g->t = smelt_alloc(cx, sizeof *g->t * (nt + 1));
  if (!g->kv || !g->t) return NULL;
  g->alignment = 32;
  for (uint64_t i = 0; i < nkv; i++) {
    struct smelt_gguf_kv *kv = &g->kv[i];
    const char *k;
    uint64_t kl;
    if (rd_str(&c, &k, &kl, 65536) || rd_u32(&c, &kv->type)) return NULL;
    kv->key = smelt_strndup(cx, k, kl);
    if (!kv->key) return NULL;
    kv->n = 1;
    if (kv->type == GGUF_ARRAY) {
      const unsigned char *at = c.p;
      if (rd_u32(&c, &kv->elem) || rd_u64(&c, &kv->n)) return NULL;
      kv->val = c.p;
      c.p = at; /* skip_value re-reads the element type and count, and checks it all */
      if (skip_value(&c, GGUF_ARRAY, 0)) return NULL;
      if (kv->elem == GGUF_STRING) { /* index the strings */
        kv->str_off = smelt_alloc(cx, sizeof(uint64_t) * (kv->n + 1));
        if (!kv->str_off) return NULL;
        const unsigned char *q = kv->val;
        for (uint64_t j = 0; j < kv->n; j++) {
          uint64_t len;
          memcpy(&len, q, 8);
          kv->str_off[j] = (uint64_t)(q - kv->val);
          q += 8 + len;
        }
      } else if (!scalar_size(kv->elem)) {
        smelt_errorf(cx, "%s: metadata '%s' is an array of arrays, which smelt does not read", path, kv->key);
        return NULL;
      }
    } else {
      kv->val = c.p;
      if (skip_value(&c, kv->type, 0)) return NULL;
    }
    if (smelt_map_put(&g->kv_index, kv->key, (int)i)) return NULL;
    g->nkv++;
  }
  int64_t al;
  if (!smelt_gguf_int(g, "general.alignment", &al)) {
    if (al <= 0 || al > 65536 || (al & (al - 1))) { smelt_errorf(cx, "%s: general.alignment %lld is not a power of two", path, (long long)al); return NULL; }
    g->alignment = (uint64_t)al;
  }
  for (uint64_t i = 0; i < nt; i++) {
    struct smelt_gguf_tensor *t = &g->t[i];
    const char *nm;
    uint64_t nl;
    uint32_t nd;
    if (rd_str(&c, &nm, &nl, 65536) || rd_u32(&c, &nd)) return NULL;
    t->name = smelt_strndup(cx, nm, nl);
    if (!t->name) return NULL;
    if (nd < 1 || nd > 4) { smelt_errorf(cx, "%s: tensor '%s' has %u dims (1 to 4 allowed)", path, t->name, nd); return NULL; }
    t->ndims = (int)nd;
    uint64_t ne = 1;
    for (uint32_t k = 0; k < nd; k++) {
      uint64_t d;
      if (rd_u64(&c, &d)) return NULL;
      if (d > ((uint64_t)1 << 40) || (d && ne > ((uint64_t)1 << 42) / d)) { smelt_errorf(cx, "%s: tensor '%s' is absurdly large", path, t->name); return NULL; }
      t->ne[k] = (int64_t)d;
      ne *= d;
    }
    for (uint32_t k = nd; k < 4; k++) t->ne[k] = 1;
    if (rd_u32(&c, &t->type) || rd_u64(&c, &t->offset)) return NULL;
    const struct smelt_ggml_type *ty = smelt_ggml_type(t->type);
    if (!ty) { smelt_errorf(cx, "%s: tensor '%s' has unknown ggml type %u", path, t->name, t->type); return NULL; }
    if (t->ne[0] % ty->blk) { smelt_errorf(cx, "%s: tensor '%s': row of %lld is not a whole number of %s blocks", path, t->name, (long long)t->ne[0], ty->name); return NULL; }
    t->nbytes = ne / (uint64_t)ty->blk * (uint64_t)ty->bytes;
    if (smelt_map_get(&g->t_index, t->name) >= 0) { smelt_errorf(cx, "%s: tensor '%s' appears twice", path, t->name); return NULL; }
    if (smelt_map_put(&g->t_index, t->name, (int)i)) return NULL;
    g->ntensors++;
  }
  uint64_t off = (uint64_t)(c.p - c.base);
  g->data_off = (off + g->alignment - 1) / g->alignment * g->alignment;
  for (int i = 0; i < g->ntensors; i++) {
    struct smelt_gguf_tensor *t = &g->t[i];
    if (t->offset % g->alignment) { smelt_errorf(cx, "%s: tensor '%s' data is not aligned to %llu", path, t->name, (unsigned long long)g->alignment); return NULL; }
    if (g->data_off > g->size || t->offset > g->size - g->data_off || t->nbytes > g->size - g->data_off - t->offset) {
      smelt_errorf(cx, "%s: tensor '%s' data [%llu, +%llu) lies outside the file (%llu bytes)", path, t->name,
                   (unsigned long long)(g->data_off + t->offset), (unsigned long long)t->nbytes, (unsigned long long)g->size);
      return NULL;
    }
    t->data = g->map + g->data_off + t->offset;
  }
  return g;
}

const struct smelt_gguf_kv *smelt_gguf_get(const struct smelt_gguf *g, const char *key) {
  int i = smelt_map_get(&g->kv_index, key);
  return i < 0 ? NULL : &g->kv[i];
}

const struct smelt_gguf_tensor *smelt_gguf_tensor(const struct smelt_gguf *g, const char *name) {
  int i = smelt_map_get(&g->t_index, name);
  return i < 0 ? NULL : &g->t[i];
}

/* decodes a scalar of type t at p */
static int scalar_int(uint32_t t, const unsigned char *p, int64_t *out) {
  switch (t) {
  case GGUF_U8: case GGUF_BOOL: *out = p[0]; return 0;
  case GGUF_I8: *out = (int8_t)p[0]; return 0;
  case GGUF_U16: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
  case GGUF_I16: { int16_t v; memcpy(&v, p, 2); *out = v; return 0; }
  case GGUF_U32: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
  case GGUF_I32: { int32_t v; memcpy(&v, p, 4); *out = v; return 0; }
  case GGUF_U64: { uint64_t v; memcpy(&v, p, 8); *out = (int64_t)v; return 0; }
  case GGUF_I64: { int64_t v; memcpy(&v, p, 8); *out = v; return 0; }
  default: return SMELT_ERR;
  }
}

static int scalar_float(uint32_t t, const unsigned char *p, double *out) {
  if (t == GGUF_F32) { float v; memcpy(&v, p, 4); *out = v; return 0; }
  if (t == GGUF_F64) { memcpy(out, p, 8); return 0; }
  int64_t i;
  if (scalar_int(t, p, &i)) return SMELT_ERR;
  *out = (double)i;
  return 0;
}

int smelt_gguf_int(const struct smelt_gguf *g, const char *key, int64_t *out) {
  const struct smelt_gguf_kv *kv = smelt_gguf_get(g, key);
  return kv ? scalar_int(kv->type, kv->val, out) : SMELT_ERR;
}

int smelt_gguf_float(const struct smelt_gguf *g, const char *key, double *out) {
  const struct smelt_gguf_kv *kv = smelt_gguf_get(g, key);
  return kv ? scalar_float(kv->type, kv->val, out) : SMELT_ERR;
}

const char *smelt_gguf_str(smelt_ctx *cx, const struct smelt_gguf *g, const char *key) {
  const struct smelt_gguf_kv *kv = smelt_gguf_get(g, key);
  if (!kv || kv->type != GGUF_STRING) return NULL;
  uint64_t n;
  memcpy(&n, kv->val, 8);
  return smelt_strndup(cx, (const char *)kv->val + 8, n);
}

int64_t smelt_gguf_arr_int(const struct smelt_gguf_kv *kv, uint64_t i) {
  int64_t v = 0;
  if (i < kv->n) scalar_int(kv->elem, kv->val + i * (uint64_t)scalar_size(kv->elem), &v);
  return v;
}

double smelt_gguf_arr_float(const struct smelt_gguf_kv *kv, uint64_t i) {
  double v = 0;
  if (i < kv->n) scalar_float(kv->elem, kv->val + i * (uint64_t)scalar_size(kv->elem), &v);
  return v;
}

const char *smelt_gguf_arr_str(const struct smelt_gguf_kv *kv, uint64_t i, uint64_t *len) {
  if (!kv->str_off || i >= kv->n) { *len = 0; return ""; }
  const unsigned char *q = kv->val + kv->str_off[i];
  memcpy(len, q, 8);
  return (const char *)q + 8;
}

int smelt_gguf_add_tensor(smelt_graph *g, const struct smelt_gguf *f, const struct smelt_gguf_tensor *t) {
  smelt_ctx *cx = g->cx;
  smelt_dtype dt = ggml_to_dtype(t->type);
  if (dt == SMELT_DT_COUNT) {
    const struct smelt_ggml_type *ty = smelt_ggml_type(t->type);
    return smelt_errorf(cx, "%s: tensor '%s' has ggml type %s (%u), which smelt cannot compute on (F32, F16, BF16, Q8_0, Q4_0, "
                        "Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K are supported)", f->path, t->name, ty ? ty->name : "?", t->type);
  }
  smelt_shape s = {.rank = t->ndims};
  int64_t ne = 1;
  for (int i = 0; i < t->ndims; i++) {
    s.d[i] = smelt_dim_c(t->ne[t->ndims - 1 - i]);
    ne *= t->ne[i];
  }
  /* smelt_gguf_open checked rows of whole blocks and the bytes against the file */
  if ((uint64_t)smelt_dtype_nbytes(dt, ne) != t->nbytes)
    return smelt_errorf(cx, "%s: tensor '%s': %llu bytes do not hold its %s elements", f->path, t->name, (unsigned long long)t->nbytes, smelt_dtype_name(dt));
  int v = smelt_graph_add_const(g, t->name, dt, &s, t->data, t->nbytes);
  if (v < 0) return SMELT_ERR;
  smelt_value *val = &g->values[v];
  if (!val->c.file) { /* a view of the checkpoint (an identical earlier tensor keeps its own) */
    val->c.file = f->path;
    val->c.offset = f->data_off + t->offset;
  }
  return v;
}
