/* compiler/read_safetensors.c — safetensors files and sharded indexes over read-only
 * mappings (see safetensors.h), and the bounded JSON file loader the Hugging Face
 * reader uses.
 *
 * The header is parsed with cJSON straight from the mapping (cJSON never reads past
 * the length it is given).  JSON numbers arrive as doubles: a dim or an offset must be
 * a non-negative integer below 2^53, so no value is rounded on the way in.  Tensors
 * are checked one by one (dtype, shape, offsets against the data section and against
 * shape x dtype size), then sorted by offset to reject overlaps. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADER ((uint64_t)100 << 20) /* as the reference implementation */
#define MAX_NAME 1024
#define MAX_TENSORS (1 << 20)
#define MAX_SHARDS 4096

static const struct { const char *name; int bytes; int dt; } st_types[] = {
    {"F64", 8, SMELT_DT_F64}, {"F32", 4, SMELT_DT_F32}, {"F16", 2, SMELT_DT_F16}, {"BF16", 2, SMELT_DT_BF16},
    {"I64", 8, SMELT_DT_I64}, {"I32", 4, SMELT_DT_I32}, {"I16", 2, SMELT_DT_I16}, {"I8", 1, SMELT_DT_I8},
    {"U64", 8, SMELT_DT_U64}, {"U32", 4, SMELT_DT_U32}, {"U16", 2, SMELT_DT_U16}, {"U8", 1, SMELT_DT_U8},
    {"BOOL", 1, SMELT_DT_BOOL},
    /* stored by some checkpoints; sized, but smelt has no such type */
    {"F8_E4M3", 1, -1}, {"F8_E5M2", 1, -1}, {"F8_E8M0", 1, -1},
};

/* ---- files ------------------------------------------------------------------------ */
/* Opens path read-only without blocking (a FIFO must not hang us) and checks it is a
 * regular file; returns the fd or -1 with a diagnostic (none when *missing is set). */
static int open_regular(smelt_ctx *cx, const char *path, struct stat *st, int *missing) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (missing && errno == ENOENT) { *missing = 1; return -1; }
    smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
    close(fd);
    smelt_errorf(cx, "%s: not a regular file", path);
    return -1;
  }
  smelt_ctx_note_input(cx, path);
  return fd;
}

static void json_free(void *p) { cJSON_Delete(p); }

cJSON *smelt_json_load(smelt_ctx *cx, const char *path, uint64_t max_bytes, int *missing) {
  if (missing) *missing = 0;
  struct stat st;
  int fd = open_regular(cx, path, &st, missing);
  if (fd < 0) return NULL;
  if ((uint64_t)st.st_size > max_bytes) {
    close(fd);
    smelt_errorf(cx, "%s: %lld bytes is too large for this file (at most %llu)", path, (long long)st.st_size, (unsigned long long)max_bytes);
    return NULL;
  }
  size_t n = (size_t)st.st_size, got = 0;
  char *buf = smelt_alloc(cx, n + 1);
  if (!buf) { close(fd); return NULL; }
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != n) { smelt_errorf(cx, "%s: read error", path); return NULL; }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(buf, n, &end, 0);
  if (root) {
    smelt_ctx_on_free(cx, json_free, root);
    while (end && end < buf + n && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (end && end < buf + n) {
      smelt_errorf(cx, "%s: invalid JSON: text after the value at byte %lld", path, (long long)(end - buf));
      return NULL;
    }
    return root;
  }
  if (!end || end < buf || end > buf + n) end = buf + n;
  long line = 1, col = 1;
  for (const char *p = buf; p < end; p++) {
    if (*p == '\n') line++, col = 1;
    else col++;
  }
  smelt_errorf(cx, "%s: invalid JSON at line %ld, column %ld", path, line, col);
  return NULL;
}

/* ---- one file ------------------------------------------------------------------------- */
static void unmap(void *p) {
  struct smelt_st_file *f = p;
  munmap((void *)f->map, (size_t)f->size);
}

/* a name fit for a one-line message: at most 80 bytes of it */
static const char *shown(smelt_ctx *cx, const char *name) {
  size_t n = strlen(name);
  return n <= 80 ? name : smelt_sprintf(cx, "%.64s...", name);
}

/* x is a JSON integer in [0, max]: no fraction, no rounding (below 2^53) */
static int json_uint(const cJSON *x, uint64_t max, uint64_t *out) {
  if (!cJSON_IsNumber(x)) return SMELT_ERR;
  double v = x->valuedouble;
  if (!isfinite(v) || v < 0 || v > 9007199254740992.0 || v != floor(v) || v > (double)max) return SMELT_ERR;
  *out = (uint64_t)v;
  return 0;
}

struct span { uint64_t b, e; int i; };
static int cmp_span(const void *a, const void *b) {
  const struct span *x = a, *y = b;
  return x->b < y->b ? -1 : x->b > y->b ? 1 : x->e < y->e ? -1 : x->e > y->e;
}

static int read_tensor(smelt_ctx *cx, struct smelt_st_file *f, const cJSON *e, struct smelt_st_tensor *t) {
  const char *path = f->path, *nm = shown(cx, t->name);
  if (!cJSON_IsObject(e)) return smelt_errorf(cx, "%s: tensor '%s': its header entry is not an object", path, nm);
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype"), *sh = cJSON_GetObjectItemCaseSensitive(e, "shape"),
              *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsString(dt) || !dt->valuestring) return smelt_errorf(cx, "%s: tensor '%s': no \"dtype\" string", path, nm);
  if (!cJSON_IsArray(sh)) return smelt_errorf(cx, "%s: tensor '%s': no \"shape\" array", path, nm);
  if (!cJSON_IsArray(off)) return smelt_errorf(cx, "%s: tensor '%s': no \"data_offsets\" array", path, nm);
  t->esize = 0;
  for (size_t k = 0; k < sizeof st_types / sizeof *st_types; k++)
    if (!strcmp(dt->valuestring, st_types[k].name)) {
      t->esize = st_types[k].bytes;
      t->known = st_types[k].dt >= 0;
      t->dt = t->known ? (smelt_dtype)st_types[k].dt : SMELT_DT_U8;
      t->dtype = st_types[k].name;
    }
  if (!t->esize) return smelt_errorf(cx, "%s: tensor '%s': unknown dtype '%s'", path, nm, shown(cx, dt->valuestring));
  int rank = cJSON_GetArraySize(sh);
  if (rank > SMELT_MAX_RANK) return smelt_errorf(cx, "%s: tensor '%s': rank %d (at most %d)", path, nm, rank, SMELT_MAX_RANK);
  t->rank = rank;
  uint64_t ne = 1;
  int k = 0;
  for (const cJSON *d = sh->child; d; d = d->next, k++) {
    uint64_t v;
    if (json_uint(d, (uint64_t)1 << 40, &v))
      return smelt_errorf(cx, "%s: tensor '%s': shape[%d] is not an integer in [0, 2^40]", path, nm, k);
    t->shape[k] = (int64_t)v;
    if (v && ne > ((uint64_t)1 << 48) / v) return smelt_errorf(cx, "%s: tensor '%s': more than 2^48 elements", path, nm);
    ne *= v;
  }
  t->nelems = ne;
  t->nbytes = ne * (uint64_t)t->esize;
  uint64_t b, en, data_len = f->size - f->data_off;
  if (cJSON_GetArraySize(off) != 2 || json_uint(off->child, UINT64_MAX, &b) || json_uint(off->child->next, UINT64_MAX, &en))
    return smelt_errorf(cx, "%s: tensor '%s': data_offsets is not a pair of non-negative integers", path, nm);
  if (b > en || en > data_len)
    return smelt_errorf(cx, "%s: tensor '%s': data_offsets [%llu, %llu) lie outside the data section (%llu bytes)", path, nm,
                        (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_len);
  if (en - b != t->nbytes)
    return smelt_errorf(cx, "%s: tensor '%s': data_offsets hold %llu bytes, its shape and dtype %s need %llu", path, nm,
                        (unsigned long long)(en - b), t->dtype, (unsigned long long)t->nbytes);
  t->offset = f->data_off + b;
  t->data = f->map + t->offset;
  t->file = f;
  return 0;
}

struct smelt_st_file *smelt_safetensors_open_file(smelt_ctx *cx, const char *path) {
  struct stat st;
  int fd = open_regular(cx, path, &st, NULL);
  if (fd < 0) return NULL;
  if (st.st_size < 10) { close(fd); smelt_errorf(cx, "%s: not a safetensors file (%lld bytes)", path, (long long)st.st_size); return NULL; }
  void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) { smelt_errorf(cx, "%s: cannot map the file", path); return NULL; }
  struct smelt_st_file *f = smelt_alloc(cx, sizeof *f);
  if (!f) { munmap(m, (size_t)st.st_size); return NULL; }
  f->path = smelt_strdup(cx, path);
  f->map = m;
  f->size = (uint64_t)st.st_size;
  smelt_ctx_on_free(cx, unmap, f);
  uint64_t hl = 0;
  for (int i = 0; i < 8; i++) hl |= (uint64_t)f->map[i] << (8 * i);
  if (hl > f->size - 8 || hl > MAX_HEADER || hl < 2) {
    smelt_errorf(cx, "%s: not a safetensors file: header length %llu does not fit the file (%llu bytes; at most 100 MiB)", path,
                 (unsigned long long)hl, (unsigned long long)f->size);
    return NULL;
  }
  f->data_off = 8 + hl;
  const char *h = (const char *)f->map + 8;
  if (h[0] != '{') { smelt_errorf(cx, "%s: not a safetensors file: the header does not start with '{'", path); return NULL; }
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hl, &end, 0);
  if (!root) {
    smelt_errorf(cx, "%s: malformed safetensors header: invalid JSON at byte %lld", path,
                 (long long)(end && end >= h && end <= h + hl ? 8 + (end - h) : 8));
    return NULL;
  }
  smelt_ctx_on_free(cx, json_free, root);
  for (; end < h + hl; end++) /* padding: whitespace only */
    if (*end != ' ' && *end != '\t' && *end != '\n' && *end != '\r') {
      smelt_errorf(cx, "%s: malformed safetensors header: text after the JSON object at byte %lld", path, (long long)(8 + (end - h)));
      return NULL;
    }
  if (!cJSON_IsObject(root)) { smelt_errorf(cx, "%s: malformed safetensors header: not a JSON object", path); return NULL; }
  int n = cJSON_GetArraySize(root);
  if (n > MAX_TENSORS) { smelt_errorf(cx, "%s: malformed safetensors header: %d entries (at most %d)", path, n, MAX_TENSORS); return NULL; }
  f->t = smelt_alloc(cx, sizeof *f->t * (size_t)(n + 1));
  struct span *sp = malloc(sizeof *sp * (size_t)(n + 1));
  smelt_map names;
  smelt_map_init(&names, cx);
  if (!f->t || !sp) { free(sp); smelt_errorf(cx, "%s: out of memory", path); return NULL; }
  int meta_seen = 0;
  for (const cJSON *e = root->child; e; e = e->next) {
    const char *name = e->string ? e->string : "";
    size_t nl = strlen(name);
    if (!strcmp(name, "__metadata__")) {
      if (meta_seen++) { smelt_errorf(cx, "%s: malformed safetensors header: two __metadata__ entries", path); goto fail; }
      if (!cJSON_IsObject(e)) { smelt_errorf(cx, "%s: malformed safetensors header: __metadata__ is not an object", path); goto fail; }
      int nm = cJSON_GetArraySize(e);
      f->meta_key = smelt_alloc(cx, sizeof(char *) * (size_t)(nm + 1));
      f->meta_val = smelt_alloc(cx, sizeof(char *) * (size_t)(nm + 1));
      if (!f->meta_key || !f->meta_val) goto fail;
      for (const cJSON *m2 = e->child; m2; m2 = m2->next) {
        if (!cJSON_IsString(m2) || !m2->valuestring) {
          smelt_errorf(cx, "%s: malformed safetensors header: __metadata__ '%s' is not a string", path, shown(cx, m2->string ? m2->string : ""));
          goto fail;
        }
        f->meta_key[f->nmeta] = m2->string ? m2->string : "";
        f->meta_val[f->nmeta++] = m2->valuestring;
      }
      continue;
    }
    if (!nl || nl > MAX_NAME) {
      smelt_errorf(cx, "%s: malformed safetensors header: a tensor name of %zu bytes (1 to %d allowed)", path, nl, MAX_NAME);
      goto fail;
    }
    if (smelt_map_get(&names, name) >= 0) { smelt_errorf(cx, "%s: tensor '%s' appears twice in the header", path, shown(cx, name)); goto fail; }
    struct smelt_st_tensor *t = &f->t[f->ntensors];
    t->name = name;
    if (read_tensor(cx, f, e, t) || smelt_map_put(&names, name, f->ntensors)) goto fail;
    sp[f->ntensors] = (struct span){t->offset, t->offset + t->nbytes, f->ntensors};
    f->ntensors++;
  }
  qsort(sp, (size_t)f->ntensors, sizeof *sp, cmp_span);
  for (int i = 1; i < f->ntensors; i++)
    if (sp[i].b < sp[i - 1].e) {
      smelt_errorf(cx, "%s: tensors '%s' and '%s' overlap in the data section", path, shown(cx, f->t[sp[i - 1].i].name),
                   shown(cx, f->t[sp[i].i].name));
      goto fail;
    }
  free(sp);
  return f;
fail:
  free(sp);
  return NULL;
}

const char *smelt_safetensors_meta(const struct smelt_st_file *f, const char *key) {
  for (int i = 0; i < f->nmeta; i++)
    if (!strcmp(f->meta_key[i], key)) return f->meta_val[i];
  return NULL;
}

/* ---- a model: one file or the shards of an index ------------------------------------- */
static int add_file(smelt_ctx *cx, struct smelt_safetensors *st, struct smelt_st_file *f) {
  for (int i = 0; i < f->ntensors; i++) {
    const struct smelt_st_tensor *t = &f->t[i];
    int j = smelt_map_get(&st->index, t->name);
    if (j >= 0)
      return smelt_errorf(cx, "%s: tensor '%s' is in both %s and %s", st->path, shown(cx, t->name), st->t[j]->file->path, f->path);
    st->t[st->ntensors] = t;
    if (smelt_map_put(&st->index, t->name, st->ntensors++)) return SMELT_ERR;
  }
  return 0;
}

static struct smelt_safetensors *new_model(smelt_ctx *cx, const char *path, int nfiles, int ntensors) {
  struct smelt_safetensors *st = smelt_alloc(cx, sizeof *st);
  if (!st) return NULL;
  st->path = smelt_strdup(cx, path);
  st->files = smelt_alloc(cx, sizeof *st->files * (size_t)(nfiles + 1));
  st->t = smelt_alloc(cx, sizeof *st->t * (size_t)(ntensors + 1));
  smelt_map_init(&st->index, cx);
  return st->files && st->t ? st : NULL;
}

static struct smelt_safetensors *open_index(smelt_ctx *cx, const char *path) {
  cJSON *root = smelt_json_load(cx, path, (uint64_t)64 << 20, NULL);
  if (!root) return NULL;
  const cJSON *wm = cJSON_GetObjectItemCaseSensitive(root, "weight_map");
  if (!cJSON_IsObject(root) || !cJSON_IsObject(wm)) { smelt_errorf(cx, "%s: no \"weight_map\" object", path); return NULL; }
  const char *slash = strrchr(path, '/');
  const char *dir = slash ? smelt_strndup(cx, path, (size_t)(slash - path)) : ".";
  /* the shards, each opened once, in order of first mention */
  smelt_map shard_ix;
  smelt_map_init(&shard_ix, cx);
  struct smelt_st_file **files = NULL;
  int nfiles = 0, total = 0, nentries = 0;
  for (const cJSON *e = wm->child; e; e = e->next, nentries++) {
    const char *tn = e->string ? e->string : "";
    if (!cJSON_IsString(e) || !e->valuestring) { smelt_errorf(cx, "%s: weight_map['%s'] is not a file name", path, shown(cx, tn)); goto fail; }
    const char *fn = e->valuestring;
    size_t fl = strlen(fn);
    if (!fl || fl > 255 || strchr(fn, '/') || !strcmp(fn, ".") || !strcmp(fn, "..")) {
      smelt_errorf(cx, "%s: weight_map['%s']: '%s' is not a file name in the index's folder", path, shown(cx, tn), shown(cx, fn));
      goto fail;
    }
    if (smelt_map_get(&shard_ix, fn) >= 0) continue;
    if (nfiles == MAX_SHARDS) { smelt_errorf(cx, "%s: more than %d shards", path, MAX_SHARDS); goto fail; }
    struct smelt_st_file **nf = realloc(files, sizeof *files * (size_t)(nfiles + 1));
    if (!nf) { smelt_errorf(cx, "%s: out of memory", path); goto fail; }
    files = nf;
    files[nfiles] = smelt_safetensors_open_file(cx, smelt_sprintf(cx, "%s/%s", dir, fn));
    if (!files[nfiles]) goto fail;
    total += files[nfiles]->ntensors;
    if (total > MAX_TENSORS) { smelt_errorf(cx, "%s: more than %d tensors in the shards", path, MAX_TENSORS); goto fail; }
    if (smelt_map_put(&shard_ix, fn, nfiles++)) goto fail;
  }
  if (!nentries) { smelt_errorf(cx, "%s: the weight_map is empty", path); goto fail; }
  struct smelt_safetensors *st = new_model(cx, path, nfiles, total);
  if (!st) goto fail;
  for (int i = 0; i < nfiles; i++) {
    st->files[st->nfiles++] = files[i];
    if (add_file(cx, st, files[i])) goto fail;
  }
  /* every entry names the shard that really holds the tensor */
  for (const cJSON *e = wm->child; e; e = e->next) {
    const struct smelt_st_tensor *t = smelt_safetensors_get(st, e->string);
    const struct smelt_st_file *want = files[smelt_map_get(&shard_ix, e->valuestring)];
    if (!t || t->file != want) {
      smelt_errorf(cx, "%s: weight_map says tensor '%s' is in %s, which does not hold it", path, shown(cx, e->string), e->valuestring);
      goto fail;
    }
  }
  free(files);
  return st;
fail:
  free(files);
  return NULL;
}

static struct smelt_safetensors *one_file(smelt_ctx *cx, const char *path) {
  struct smelt_st_file *f = smelt_safetensors_open_file(cx, path);
  struct smelt_safetensors *st = f ? new_model(cx, path, 1, f->ntensors) : NULL;
  if (!st) return NULL;
  st->files[st->nfiles++] = f;
  return add_file(cx, st, f) ? NULL : st;
}

struct smelt_safetensors *smelt_safetensors_open(smelt_ctx *cx, const char *path) {
  struct stat s;
  if (stat(path, &s)) { smelt_errorf(cx, "%s: %s", path, strerror(errno)); return NULL; }
  if (S_ISDIR(s.st_mode)) {
    const char *ix = smelt_sprintf(cx, "%s/model.safetensors.index.json", path);
    const char *one = smelt_sprintf(cx, "%s/model.safetensors", path);
    if (!ix || !one) return NULL;
    if (!stat(ix, &s)) return open_index(cx, ix);
    if (!stat(one, &s)) return one_file(cx, one); /* a regular file, not another folder */
    smelt_errorf(cx, "%s: no model.safetensors or model.safetensors.index.json in the folder", path);
    return NULL;
  }
  size_t n = strlen(path);
  if (n >= 5 && !strcmp(path + n - 5, ".json")) return open_index(cx, path);
  return one_file(cx, path);
}

const struct smelt_st_tensor *smelt_safetensors_get(const struct smelt_safetensors *st, const char *name) {
  int i = smelt_map_get(&st->index, name);
  return i < 0 ? NULL : st->t[i];
}

int smelt_safetensors_const(smelt_graph *g, const struct smelt_st_tensor *t, const char *name) {
  if (!t->known)
    return smelt_errorf(g->cx, "%s: tensor '%s' has dtype %s, which smelt does not read", t->file->path, shown(g->cx, t->name), t->dtype);
  smelt_shape s = {.rank = t->rank};
  for (int i = 0; i < t->rank; i++) s.d[i] = smelt_dim_c(t->shape[i]);
  int nv = g->nvalues, v;
  if ((uintptr_t)t->data % (uintptr_t)t->esize) {
    v = smelt_graph_add_const_copy(g, name, t->dt, &s, t->data, t->nbytes);
  } else {
    v = smelt_graph_add_const(g, name, t->dt, &s, t->nbytes ? t->data : "", t->nbytes);
    if (v >= nv) { /* a new value (not an identical constant added before) */
      g->values[v].c.file = t->file->path;
      g->values[v].c.offset = t->offset;
    }
  }
  return v;
}
