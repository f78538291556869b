/* compiler/cache.c — the compile cache and the dependency file (see cache.h).
 *
 * Layout of the cache directory:
 *
 *   hashes.txt    "size mtime_ns inode xxh3 path" per file ever hashed: a file whose
 *                 size, mtime and inode are unchanged is not read again, so a hit on a
 *                 1 GB checkpoint costs a stat, not a read
 *   m-<M>.txt     the manifest of one (model, options, name, emit): the absolute paths
 *                 of the files its last build read, one a line
 *   o-<K>/        the outputs of the build whose key is K, and `info` (the summary
 *                 numbers); K = XXH3(smelt version, the smelt executable's hash,
 *                 options, model, name, emit, $CC $SMELT_CFLAGS $AR, each input's path
 *                 and XXH3; for a model folder, the names of its entries)
 *
 * A lookup reads the manifest, hashes (or looks up) each file it lists, computes K and
 * restores o-<K>/ when it exists.  Outputs of 1 MiB and more are hard-linked (both
 * ways; smelt replaces files by rename, never writes into them), smaller ones copied;
 * restored files get the current time, so make and ninja see them as newer than the
 * inputs that were touched.  Every file and directory appears atomically (temp +
 * rename), so concurrent builds sharing a cache at worst both build.  Nothing is ever
 * evicted: delete the directory to reclaim it. */
#define _GNU_SOURCE
#include "compiler/cache.h"
#include "compiler/embed.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define BIG_FILE (1 << 20) /* outputs at least this large are hard-linked */

/* ---- file hashes, memoized by (path, size, mtime, inode) ---------------------------- */

struct memo_ent { char *path; long long size, mtime, ino; uint64_t hash; };
struct memo { struct memo_ent *e; int n, cap, dirty; };

static long long mtime_ns(const struct stat *st) { return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec; }

static void memo_free(struct memo *m) {
  for (int i = 0; i < m->n; i++) free(m->e[i].path);
  free(m->e);
}

static struct memo_ent *memo_find(struct memo *m, const char *path) {
  for (int i = 0; i < m->n; i++)
    if (!strcmp(m->e[i].path, path)) return &m->e[i];
  return NULL;
}

static int memo_put(struct memo *m, const char *path, long long size, long long mt, long long ino, uint64_t h) {
  struct memo_ent *e = memo_find(m, path);
  if (!e) {
    if (m->n == m->cap) {
      int cap = m->cap ? 2 * m->cap : 64;
      struct memo_ent *n = realloc(m->e, sizeof *n * (size_t)cap);
      if (!n) return -1;
      m->e = n;
      m->cap = cap;
    }
    e = &m->e[m->n];
    if (!(e->path = strdup(path))) return -1;
    m->n++;
  }
  e->size = size, e->mtime = mt, e->ino = ino, e->hash = h;
  m->dirty = 1;
  return 0;
}

static void memo_load(struct memo *m, const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) return;
  char line[PATH_MAX + 128];
  while (fgets(line, sizeof line, f)) {
    long long size, mt, ino;
    unsigned long long h;
    int off = 0;
    size_t L = strlen(line);
    if (!L || line[L - 1] != '\n') continue; /* a cut line: ignore it */
    line[L - 1] = 0;
    if (sscanf(line, "%lld %lld %lld %16llx %n", &size, &mt, &ino, &h, &off) != 4 || !off || line[off] != '/') continue;
    memo_put(m, line + off, size, mt, ino, (uint64_t)h);
  }
  fclose(f);
  m->dirty = 0;
}

/* Writes text to path atomically; 0 or -1 (errno set). */
static int write_atomic(const char *path, const char *text, size_t n) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return -1;
  int ok = fwrite(text, 1, n, f) == n;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path)) { int e = errno; remove(tmp); errno = e; return -1; }
  return 0;
}

static void memo_save(struct memo *m, const char *file) {
  if (!m->dirty) return;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (int i = 0; buf && i < m->n; i++) {
    size_t need = strlen(m->e[i].path) + 96;
    if (n + need > cap) {
      char *nb = realloc(buf, cap = 2 * (n + need));
      if (!nb) { free(buf); buf = NULL; break; }
      buf = nb;
    }
    n += (size_t)snprintf(buf + n, cap - n, "%lld %lld %lld %016llx %s\n", m->e[i].size, m->e[i].mtime, m->e[i].ino,
                          (unsigned long long)m->e[i].hash, m->e[i].path);
  }
  if (buf) write_atomic(file, buf, n); /* a memo that cannot be saved only costs a rehash */
  free(buf);
}

/* XXH3 of a file's bytes, streamed over a read-only mapping in 64 MiB steps (progress
 * after each).  0 on success, -1 with errno. */
static int hash_bytes(const char *path, const struct smelt_cache_req *r, uint64_t *out) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); errno = EINVAL; return -1; }
  XXH3_state_t *s = XXH3_createState();
  if (!s) { close(fd); errno = ENOMEM; return -1; }
  XXH3_64bits_reset(s);
  size_t size = (size_t)st.st_size;
  const unsigned char *map = NULL;
  if (size) {
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) { close(fd); XXH3_freeState(s); return -1; }
    madvise((void *)map, size, MADV_SEQUENTIAL);
  }
  close(fd);
  const size_t step = (size_t)64 << 20;
  int show = size >= 4 * step && r->progress;
  for (size_t o = 0; o < size; o += step) {
    XXH3_64bits_update(s, map + o, size - o < step ? size - o : step);
    if (show) r->progress(r->progress_user, "hashing", (int64_t)(o + step < size ? o + step : size), (int64_t)size);
  }
  *out = XXH3_64bits_digest(s);
  XXH3_freeState(s);
  if (map) munmap((void *)map, size);
  return 0;
}

static int hash_file(struct memo *m, const char *path, const struct smelt_cache_req *r, uint64_t *out) {
  struct stat st;
  if (stat(path, &st)) return -1;
  struct memo_ent *e = memo_find(m, path);
  if (e && e->size == (long long)st.st_size && e->mtime == mtime_ns(&st) && e->ino == (long long)st.st_ino) {
    *out = e->hash;
    return 0;
  }
  if (hash_bytes(path, r, out)) return -1;
  memo_put(m, path, (long long)st.st_size, mtime_ns(&st), (long long)st.st_ino, *out);
  return 0;
}

/* ---- keys ----------------------------------------------------------------------------- */

static void h_str(XXH3_state_t *s, const char *str) {
  if (!str) str = "";
  XXH3_64bits_update(s, str, strlen(str) + 1); /* with the NUL: "a","bc" != "ab","c" */
}

/* The key of the manifest: which build this is, before anything is read. */
static uint64_t manifest_key(const struct smelt_cache_req *r, const char *model_abs) {
  XXH3_state_t *s = XXH3_createState();
  if (!s) return 0;
  XXH3_64bits_reset(s);
  h_str(s, "smelt-manifest-1");
  h_str(s, model_abs);
  h_str(s, r->options);
  h_str(s, r->name);
  XXH3_64bits_update(s, &r->emit, sizeof r->emit);
  uint64_t k = XXH3_64bits_digest(s);
  XXH3_freeState(s);
  return k;
}

/* The key of the outputs, from the hashes of the inputs (paths[i], hashes[i]). */
static int output_key(struct memo *m, const struct smelt_cache_req *r, char **paths, const uint64_t *hashes, int n, uint64_t *key) {
  char exe[PATH_MAX];
  ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
  uint64_t exe_hash = 0;
  if (el > 0) {
    exe[el] = 0;
    if (hash_file(m, exe, r, &exe_hash)) return -1;
  }
  XXH3_state_t *s = XXH3_createState();
  if (!s) return -1;
  XXH3_64bits_reset(s);
  h_str(s, "smelt-cache-1");
  h_str(s, SMELT_VERSION);
  XXH3_64bits_update(s, &exe_hash, sizeof exe_hash);
  h_str(s, r->options);
  h_str(s, r->model);
  h_str(s, r->name);
  XXH3_64bits_update(s, &r->emit, sizeof r->emit);
  h_str(s, getenv("CC"));
  h_str(s, getenv("SMELT_CFLAGS"));
  h_str(s, getenv("AR"));
  for (int i = 0; i < n; i++) {
    h_str(s, paths[i]);
    XXH3_64bits_update(s, &hashes[i], sizeof hashes[i]);
  }
  /* a model folder: the names in it too, so an optional file that appears (a chat
   * template, a tokenizer) is a miss, though no build read it before */
  struct dirent **names = NULL;
  int nn = scandir(r->model, &names, NULL, alphasort);
  for (int i = 0; i < nn; i++) {
    h_str(s, names[i]->d_name);
    free(names[i]);
  }
  free(names);
  *key = XXH3_64bits_digest(s);
  XXH3_freeState(s);
  return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

static int mkdir_p(const char *dir) {
  char p[PATH_MAX];
  if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) { errno = ENAMETOOLONG; return -1; }
  for (char *q = p + 1; *q; q++)
    if (*q == '/') {
      *q = 0;
      if (mkdir(p, 0777) && errno != EEXIST) return -1;
      *q = '/';
    }
  if (mkdir(p, 0777) && errno != EEXIST) return -1;
  return 0;
}

/* dst appears atomically as src's bytes and mode: a hard link when big (and on the
 * same file system), else a copy.  touch: give it the current time. */
static int place(const char *src, const char *dst, int touch) {
  struct stat st;
  if (stat(src, &st)) return -1;
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid());
  remove(tmp);
  int linked = st.st_size >= BIG_FILE && !link(src, tmp);
  if (!linked) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return -1;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 0777);
    if (out < 0) { close(in); return -1; }
    char buf[1 << 16];
    ssize_t n;
    int ok = 1;
    while ((n = read(in, buf, sizeof buf)) > 0)
      if (write(out, buf, (size_t)n) != n) { ok = 0; break; }
    if (n < 0) ok = 0;
    if (fchmod(out, st.st_mode & 0777)) ok = 0;
    close(in);
    if (close(out)) ok = 0;
    if (!ok) { remove(tmp); return -1; }
  }
  if (touch && utimensat(AT_FDCWD, tmp, NULL, 0)) { remove(tmp); return -1; }
  if (rename(tmp, dst)) { int e = errno; remove(tmp); errno = e; return -1; }
  return 0;
}

/* Removes a cache entry directory (its files are plain). */
static void remove_entry(smelt_ctx *cx, const char *dir) {
  DIR *d = opendir(dir);
  for (struct dirent *de; d && (de = readdir(d));)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) remove(smelt_sprintf(cx, "%s/%s", dir, de->d_name));
  if (d) closedir(d);
  rmdir(dir);
}

/* The outputs a build leaves in OUT (besides the runtime headers, which smelt carries). */
static int output_names(smelt_ctx *cx, const char *name, enum smelt_emit_kind emit, const char **names) {
  int n = 0;
  names[n++] = smelt_sprintf(cx, "%s.h", name);
  names[n++] = smelt_sprintf(cx, "%s.c", name);
  names[n++] = smelt_sprintf(cx, "%s_weights.o", name);
  if (emit != SMELT_EMIT_LIB) names[n++] = smelt_sprintf(cx, "%s_main.c", name);
  if (emit == SMELT_EMIT_LIB) names[n++] = smelt_sprintf(cx, "lib%s.a", name);
  if (emit == SMELT_EMIT_EXE) names[n++] = smelt_sprintf(cx, "%s", name);
  return n;
}

const char *smelt_build_primary_output(smelt_ctx *cx, const char *out_dir, const char *name, enum smelt_emit_kind emit) {
  if (emit == SMELT_EMIT_LIB) return smelt_sprintf(cx, "%s/lib%s.a", out_dir, name);
  if (emit == SMELT_EMIT_EXE) return smelt_sprintf(cx, "%s/%s", out_dir, name);
  return smelt_sprintf(cx, "%s/%s.c", out_dir, name);
}

static const char *abs_path(smelt_ctx *cx, const char *p) {
  char buf[PATH_MAX];
  if (realpath(p, buf)) return smelt_strdup(cx, buf);
  return smelt_strdup(cx, p);
}

/* ---- lookup and store ------------------------------------------------------------------- */

int smelt_cache_lookup(smelt_ctx *cx, const struct smelt_cache_req *r, struct smelt_build_info *info) {
  if (mkdir_p(r->dir)) return smelt_errorf(cx, "%s: cannot create the cache directory: %s", r->dir, strerror(errno));
  const char *mpath = smelt_sprintf(cx, "%s/m-%016llx.txt", r->dir, (unsigned long long)manifest_key(r, abs_path(cx, r->model)));
  FILE *f = fopen(mpath, "r");
  if (!f) return 0;
  char *paths[4096];
  uint64_t hashes[4096];
  int n = 0, ok = 1, hit = 0;
  char line[PATH_MAX + 2];
  struct memo m = {0};
  const char *memo_path = smelt_sprintf(cx, "%s/hashes.txt", r->dir);
  memo_load(&m, memo_path);
  while (ok && fgets(line, sizeof line, f)) {
    size_t L = strlen(line);
    if (!L || line[L - 1] != '\n' || n == 4096) { ok = 0; break; }
    line[L - 1] = 0;
    paths[n] = smelt_strdup(cx, line);
    if (hash_file(&m, paths[n], r, &hashes[n])) ok = 0; /* gone or unreadable: build, and say why there */
    n++;
  }
  fclose(f);
  uint64_t key;
  if (ok && n > 0 && !output_key(&m, r, paths, hashes, n, &key)) {
    const char *odir = smelt_sprintf(cx, "%s/o-%016llx", r->dir, (unsigned long long)key);
    FILE *inf = fopen(smelt_sprintf(cx, "%s/info", odir), "r");
    long long wb, ab, lb;
    int nk, nn, broken = 0;
    double tc, tcc;
    if (inf && fscanf(inf, "%lld %lld %lld %d %d %lf %lf", &wb, &ab, &lb, &nk, &nn, &tc, &tcc) != 7) broken = 1;
    else if (inf) {
      const char *names[8];
      int nn_out = output_names(cx, r->name, r->emit, names);
      hit = 1;
      if (mkdir(r->out_dir, 0777) && errno != EEXIST) hit = 0;
      for (int i = 0; hit && i < nn_out; i++) {
        const char *src = smelt_sprintf(cx, "%s/%s", odir, names[i]), *dst = smelt_sprintf(cx, "%s/%s", r->out_dir, names[i]);
        struct stat st;
        if (stat(src, &st)) { /* no weights object: none; any other file missing: a damaged entry */
          if (errno == ENOENT && i == 2) { remove(dst); continue; }
          hit = 0, broken = 1;
          break;
        }
        if (place(src, dst, 1)) hit = 0;
      }
      for (const struct smelt_embedded *e = smelt_runtime_files; hit && e->name; e++)
        if (smelt_write_file(cx, smelt_sprintf(cx, "%s/%s", r->out_dir, e->name), e->text, strlen(e->text))) hit = -1;
      if (hit == 1) {
        memset(info, 0, sizeof *info);
        info->name = r->name;
        info->weight_bytes = wb, info->arena_bytes = ab, info->lower_bound = lb;
        info->nkernels = nk, info->nnodes = nn;
        for (int i = 0; i < n; i++) smelt_ctx_note_input(cx, paths[i]);
      }
    }
    if (inf) fclose(inf);
    if (broken) remove_entry(cx, odir); /* so this build's store replaces it */
  }
  memo_save(&m, memo_path);
  memo_free(&m);
  return hit < 0 ? SMELT_ERR : hit;
}

int smelt_cache_store(smelt_ctx *cx, const struct smelt_cache_req *r, const struct smelt_build_info *info) {
  int n = smelt_ctx_ninputs(cx);
  if (n < 0) return smelt_errorf(cx, "cache: out of memory listing the build's inputs");
  if (n == 0 || n > 4096) return smelt_errorf(cx, "cache: %d input files: not cached", n);
  if (mkdir_p(r->dir)) return smelt_errorf(cx, "%s: cannot create the cache directory: %s", r->dir, strerror(errno));
  char *paths[4096];
  uint64_t hashes[4096];
  struct memo m = {0};
  const char *memo_path = smelt_sprintf(cx, "%s/hashes.txt", r->dir);
  memo_load(&m, memo_path);
  int rc = SMELT_ERR;
  size_t mlen = 0;
  for (int i = 0; i < n; i++) {
    paths[i] = (char *)abs_path(cx, smelt_ctx_input(cx, i));
    if (hash_file(&m, paths[i], r, &hashes[i])) { smelt_errorf(cx, "%s: cannot hash: %s", paths[i], strerror(errno)); goto done; }
    mlen += strlen(paths[i]) + 1;
  }
  uint64_t key;
  if (output_key(&m, r, paths, hashes, n, &key)) { smelt_errorf(cx, "cache: cannot hash the smelt executable"); goto done; }
  const char *odir = smelt_sprintf(cx, "%s/o-%016llx", r->dir, (unsigned long long)key);
  struct stat st;
  if (stat(odir, &st)) { /* not there yet: fill a temp directory, then rename it into place */
    const char *tdir = smelt_sprintf(cx, "%s.tmp%ld", odir, (long)getpid());
    const char *names[8];
    int nn = output_names(cx, r->name, r->emit, names), ok = !mkdir(tdir, 0777);
    for (int i = 0; ok && i < nn; i++) {
      const char *src = smelt_sprintf(cx, "%s/%s", r->out_dir, names[i]);
      if (stat(src, &st)) { if (i == 2) continue; ok = 0; break; } /* the weights object is optional */
      ok = !place(src, smelt_sprintf(cx, "%s/%s", tdir, names[i]), 0);
    }
    char *inf = smelt_sprintf(cx, "%lld %lld %lld %d %d %.3f %.3f\n", (long long)info->weight_bytes, (long long)info->arena_bytes,
                              (long long)info->lower_bound, info->nkernels, info->nnodes, info->t_compile, info->t_cc);
    ok = ok && !write_atomic(smelt_sprintf(cx, "%s/info", tdir), inf, strlen(inf));
    if (!ok || rename(tdir, odir)) {
      int e = errno;
      remove_entry(cx, tdir); /* the partial copy, or a duplicate of a concurrent build's */
      if (!ok) { smelt_errorf(cx, "%s: cannot store the outputs: %s", odir, strerror(e)); goto done; }
    }
  }
  char *text = smelt_alloc(cx, mlen + 1);
  if (!text) goto done;
  size_t k = 0;
  for (int i = 0; i < n; i++) k += (size_t)sprintf(text + k, "%s\n", paths[i]);
  const char *mpath = smelt_sprintf(cx, "%s/m-%016llx.txt", r->dir, (unsigned long long)manifest_key(r, abs_path(cx, r->model)));
  if (write_atomic(mpath, text, k)) { smelt_errorf(cx, "%s: cannot write: %s", mpath, strerror(errno)); goto done; }
  rc = 0;
done:
  memo_save(&m, memo_path);
  memo_free(&m);
  return rc;
}

/* ---- the dependency file ----------------------------------------------------------------- */

struct buf { char *p; size_t n, cap; };

/* Appends s; escaped: as a Makefile path (spaces, '#', '\' and '$'). */
static void put(struct buf *b, const char *s, int escaped) {
  for (; b->p && *s; s++) {
    if (b->n + 3 > b->cap) {
      char *q = realloc(b->p, b->cap = 2 * b->cap + 64);
      if (!q) { free(b->p); b->p = NULL; return; }
      b->p = q;
    }
    if (escaped && (*s == ' ' || *s == '#' || *s == '\\')) b->p[b->n++] = '\\';
    if (escaped && *s == '$') b->p[b->n++] = '$';
    b->p[b->n++] = *s;
  }
}

int smelt_write_depfile(smelt_ctx *cx, const char *path, const char *target) {
  int n = smelt_ctx_ninputs(cx);
  if (n < 0) return smelt_errorf(cx, "%s: out of memory listing the build's inputs", path);
  struct buf b = {malloc(256), 0, 256};
  put(&b, target, 1);
  put(&b, ":", 0);
  for (int i = 0; i < n; i++) {
    put(&b, " \\\n  ", 0);
    put(&b, abs_path(cx, smelt_ctx_input(cx, i)), 1);
  }
  put(&b, "\n", 0);
  for (int i = 0; i < n; i++) { /* an empty rule per input: a deleted input is not an error */
    put(&b, "\n", 0);
    put(&b, abs_path(cx, smelt_ctx_input(cx, i)), 1);
    put(&b, ":\n", 0);
  }
  if (!b.p) return smelt_errorf(cx, "%s: out of memory", path);
  int rc = smelt_write_file(cx, path, b.p, b.n);
  free(b.p);
  return rc;
}
