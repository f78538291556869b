/* tests/malformed/gguf.c — malformed GGUF model files for the malformed-input corpus.
 *
 * From a valid model (tests/e2e/llm/llama/model.gguf): the header, a key/value and the
 * first tensor info edited one field at a time — bad magic and versions, absurd key
 * and tensor counts, a string length past the end, a kv of an unknown type, a tensor
 * with 0 or 5 dims, a dim of 2^41, a row that is not whole blocks, an unknown ggml
 * type, data offsets misaligned or past the end, a file cut inside the data — each a
 * case that must be rejected; random truncations and bit flips may be accepted.
 * Generation problems end the program (exit 2). */
#define _POSIX_C_SOURCE 200809L
#include "malformed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned char *base;
static size_t nbase;

static void die(const char *what, const char *p) {
  fprintf(stderr, "malformed/gguf.c: %s: %s\n", what, p);
  exit(2);
}

/* writes WORK/gguf/NAME.gguf = base with n bytes at off replaced by v (or cut at `cut`) */
static void variant(const char *name, size_t off, const void *v, size_t n, size_t cut, int must_fail) {
  char p[4300];
  snprintf(p, sizeof p, "%s/gguf/%s.gguf", work, name);
  size_t len = cut ? cut : nbase;
  unsigned char *b = malloc(nbase);
  if (!b) die("out of memory", name);
  memcpy(b, base, nbase);
  if (n && off + n <= nbase) memcpy(b + off, v, n);
  FILE *f = fopen(p, "wb");
  if (!f || fwrite(b, 1, len, f) != len || fclose(f)) die("cannot write", p);
  free(b);
  add_case(p, K_HF, must_fail);
}

static uint64_t rd64(size_t off) { uint64_t v; memcpy(&v, base + off, 8); return v; }
static uint32_t rd32(size_t off) { uint32_t v; memcpy(&v, base + off, 4); return v; }

/* size of a value of type t at off (scalars, strings, arrays of those) */
static size_t value_size(uint32_t t, size_t off) {
  static const int sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (t == 8) return 8 + rd64(off);
  if (t == 9) {
    uint32_t et = rd32(off);
    uint64_t n = rd64(off + 4);
    size_t s = 12;
    for (uint64_t i = 0; i < n; i++) s += value_size(et, off + s);
    return s;
  }
  return t < 13 ? (size_t)sz[t] : 0;
}

void gguf_mutants(const char *fixtures) {
  char p[4200];
  snprintf(p, sizeof p, "%s/llama/model.gguf", fixtures);
  FILE *f = fopen(p, "rb");
  if (!f) return; /* fixtures absent: nothing to mutate */
  fseek(f, 0, SEEK_END);
  nbase = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  base = malloc(nbase);
  if (!base || fread(base, 1, nbase, f) != nbase) die("cannot read", p);
  fclose(f);
  snprintf(p, sizeof p, "%s/gguf", work);
  if (mkdir(p, 0777) && errno != EEXIST) die("cannot make", p);
  /* walk the header to the first tensor info */
  uint64_t nt = rd64(8), nkv = rd64(16);
  size_t off = 24, first_kv = off;
  for (uint64_t i = 0; i < nkv; i++) {
    off += 8 + rd64(off);              /* key */
    uint32_t t = rd32(off);
    off += 4 + value_size(t, off + 4);
  }
  size_t ti = off;                     /* first tensor info: name, ndims, dims, type, offset */
  size_t nd_off = ti + 8 + rd64(ti);
  uint32_t nd = rd32(nd_off);
  size_t dim0 = nd_off + 4, type_off = dim0 + 8 * nd, toff = type_off + 4;
  (void)nt;
  uint32_t u32;
  uint64_t u64;
  variant("magic", 0, "GGUX", 4, 0, 1);
  u32 = 1; variant("version1", 4, &u32, 4, 0, 1);
  u32 = 4; variant("version4", 4, &u32, 4, 0, 1);
  u64 = (uint64_t)1 << 40; variant("kv_count", 16, &u64, 8, 0, 1);
  u64 = (uint64_t)1 << 40; variant("tensor_count", 8, &u64, 8, 0, 1);
  u64 = (uint64_t)1 << 50; variant("key_length", first_kv, &u64, 8, 0, 1);
  u32 = 77; variant("kv_type", first_kv + 8 + rd64(first_kv), &u32, 4, 0, 1);
  u32 = 0; variant("ndims0", nd_off, &u32, 4, 0, 1);
  u32 = 5; variant("ndims5", nd_off, &u32, 4, 0, 1);
  u64 = (uint64_t)1 << 41; variant("dim_huge", dim0, &u64, 8, 0, 1);
  u32 = 99; variant("ggml_type", type_off, &u32, 4, 0, 1);
  u32 = 2; variant("type_q4_0_rows", type_off, &u32, 4, 0, 0); /* whole blocks and a smaller size: a valid (garbage) file, or an error; never a crash */
  u64 = rd64(toff) + 1; variant("offset_misaligned", toff, &u64, 8, 0, 1);
  u64 = (uint64_t)1 << 40; variant("offset_past_end", toff, &u64, 8, 0, 1);
  variant("cut_in_data", 0, NULL, 0, nbase - 100, 1);
  variant("cut_in_header", 0, NULL, 0, ti + 5, 1);
  /* random truncations and bit flips: may be accepted */
  for (int i = 0; i < 24; i++) {
    char nm[64];
    snprintf(nm, sizeof nm, "trunc%d", i);
    variant(nm, 0, NULL, 0, 1 + rnd((uint32_t)(nbase - 1)), 0);
    unsigned char x = (unsigned char)(1u << rnd(8));
    size_t at = rnd((uint32_t)(toff + 8));
    unsigned char y = base[at] ^ x;
    snprintf(nm, sizeof nm, "flip%d", i);
    variant(nm, at, &y, 1, 0, 0);
  }
  free(base);
}
