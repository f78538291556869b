/* runtime/smelt_npy.h — minimal .npy (format 1.0/2.0/3.0) reading and writing for
 * the generated executables and for smelt itself (--const FILE.npy).
 *
 * Reads C-order arrays of fixed-size little-endian types; the header is parsed as
 * hostile input (bounded lengths, checked dims and element counts).  Writes
 * version 1.0 files.  Hosted only (stdio, malloc). */
#ifndef SMELT_NPY_H
#define SMELT_NPY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct smelt_npy {
  char descr[8]; /* e.g. "<f4", "|b1" */
  int rank;
  int64_t dims[8];
  int64_t elems;
  void *data;    /* malloc'ed; the caller frees it */
};

/* Returns NULL on success, else a message (static text). */
static inline const char *smelt_npy_read(const char *path, struct smelt_npy *a) {
  memset(a, 0, sizeof *a);
  FILE *f = fopen(path, "rb");
  if (!f) return "cannot open file";
  unsigned char pre[12];
  const char *err = NULL;
  char *hdr = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) { err = "not a .npy file"; goto out; }
  uint32_t hlen;
  if (pre[6] == 1) hlen = pre[8] | (uint32_t)pre[9] << 8;
  else if (pre[6] == 2 || pre[6] == 3) {
    if (fread(pre + 10, 1, 2, f) != 2) { err = "truncated header"; goto out; }
    hlen = pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 | (uint32_t)pre[11] << 24;
  } else { err = "unsupported .npy version"; goto out; }
  if (hlen > 65536) { err = "header too long"; goto out; }
  hdr = malloc(hlen + 1);
  if (!hdr || fread(hdr, 1, hlen, f) != hlen) { err = "truncated header"; goto out; }
  hdr[hlen] = 0;
  char *p = strstr(hdr, "'descr'");
  if (!p || !(p = strchr(p + 7, '\''))) { err = "no descr in header"; goto out; }
  char *q = strchr(p + 1, '\'');
  if (!q || q - p - 1 <= 0 || q - p - 1 >= (long)sizeof a->descr) { err = "bad descr"; goto out; }
  memcpy(a->descr, p + 1, (size_t)(q - p - 1));
  if (a->descr[0] == '=') a->descr[0] = '<';
  if ((p = strstr(hdr, "'fortran_order'")) && (p = strchr(p + 15, ':'))) {
    while (*++p == ' ') {}
    if (!strncmp(p, "True", 4)) { err = "Fortran-order arrays are not supported"; goto out; }
  }
  if (!(p = strstr(hdr, "'shape'")) || !(p = strchr(p, '('))) { err = "no shape in header"; goto out; }
  p++;
  a->elems = 1;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    if (*p < '0' || *p > '9') { err = "bad shape"; goto out; }
    if (a->rank == 8) { err = "rank above 8"; goto out; }
    char *e;
    long long d = strtoll(p, &e, 10);
    if (d < 0 || d > ((int64_t)1 << 40) || (d && a->elems > ((int64_t)1 << 40) / d)) { err = "array too large"; goto out; }
    a->dims[a->rank++] = d;
    a->elems *= d;
    p = e;
  }
  /* little-endian (or one-byte) bool, int, unsigned or float of a size smelt has */
  char kind = a->descr[1];
  int es = (int)strtol(a->descr + 2, &p, 10);
  if (*p || (a->descr[0] != '<' && a->descr[0] != '|') || (a->descr[0] == '|' && es != 1) ||
      !((kind == 'b' && es == 1) || ((kind == 'i' || kind == 'u') && (es == 1 || es == 2 || es == 4 || es == 8)) ||
        (kind == 'f' && (es == 2 || es == 4 || es == 8)))) {
    err = "unsupported dtype (smelt reads little-endian bool, int, uint and float arrays)";
    goto out;
  }
  size_t bytes = (size_t)a->elems * (size_t)es;
  /* the data must be in the file before anything is allocated for it */
  long pos = ftell(f);
  if (pos >= 0 && !fseek(f, 0, SEEK_END)) {
    long end = ftell(f);
    if (end < pos || (unsigned long)(end - pos) < bytes || fseek(f, pos, SEEK_SET)) { err = "file shorter than its shape"; goto out; }
  }
  a->data = malloc(bytes ? bytes : 1);
  if (!a->data) { err = "out of memory"; goto out; }
  if (fread(a->data, 1, bytes, f) != bytes) { err = "file shorter than its shape"; free(a->data); a->data = NULL; goto out; }
out:
  free(hdr);
  fclose(f);
  return err;
}

/* Writes atomically (temp file + rename).  Returns 0 or -1. */
static inline int smelt_npy_write(const char *path, const char *descr, int rank, const int64_t *dims, const void *data, size_t bytes) {
  char hdr[256];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < rank; i++) n += snprintf(hdr + n, sizeof hdr - n, "%lld,%s", (long long)dims[i], i + 1 < rank ? " " : "");
  n += snprintf(hdr + n, sizeof hdr - n, "), }");
  int total = 10 + n + 1, pad = (64 - total % 64) % 64;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return -1;
  snprintf(tmp, plen + 16, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  if (!f) { free(tmp); return -1; }
  unsigned hl = (unsigned)(n + pad + 1);
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8)};
  int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, (size_t)n, f) == (size_t)n;
  for (int i = 0; i < pad && ok; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF && fwrite(data, 1, bytes, f) == bytes;
  ok = (fclose(f) == 0) && ok;
  if (ok) ok = rename(tmp, path) == 0;
  else remove(tmp);
  free(tmp);
  return ok ? 0 : -1;
}

#endif
