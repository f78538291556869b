/* tests/unit/npy.c — runtime/smelt_npy.h, the .npy reader and writer of the generated
 * executables and of `smelt eval` / `--const`:
 *
 *   - write -> read round trips for every dtype's descriptor, ranks 0..8 and empty
 *     arrays, byte for byte;
 *   - every truncation of a valid file is rejected;
 *   - malformed headers are rejected with a message: bad magic or version, header
 *     longer than the file, missing or odd descr, unsupported kinds (Unicode,
 *     complex, big-endian), Fortran order, bad or negative or absurd shapes (the
 *     reader must not allocate what the file does not hold), rank above 8. */
#include "../testutil.h"
#include "ir/ir.h"
#include "runtime/smelt_npy.h"

static char dir[4096];

/* A version-1 file with header text h (padded to 64 bytes, newline-terminated),
 * followed by `ndata` bytes of data. */
static const char *write_raw(const char *name, const char *h, size_t ndata, int version) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  size_t hl = strlen(h), pre = version == 1 ? 10 : 12, total = pre + hl + 1, pad = (64 - total % 64) % 64;
  size_t hlen = hl + pad + 1;
  unsigned char *buf = calloc(1, pre + hlen + ndata + 1);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)version;
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  if (version != 1) { buf[10] = (unsigned char)(hlen >> 16); buf[11] = (unsigned char)(hlen >> 24); }
  memcpy(buf + pre, h, hl);
  memset(buf + pre + hl, ' ', pad);
  buf[pre + hl + pad] = '\n';
  for (size_t i = 0; i < ndata; i++) buf[pre + hlen + i] = (unsigned char)(i * 7);
  t_write_file(path, buf, pre + hlen + ndata);
  free(buf);
  return path;
}

static void bad(const char *name, const char *h, size_t ndata, const char *words) {
  const char *p = write_raw(name, h, ndata, 1);
  struct smelt_npy a;
  const char *e = smelt_npy_read(p, &a);
  CHECK(e && (!words || strstr(e, words)), "%s: header %s: got %s, expected an error with '%s'", name, h, e ? e : "success", words ? words : "");
  CHECK(a.data == NULL, "%s: data left allocated after an error", name);
  if (!e) free(a.data);
}

int main(void) {
  snprintf(dir, sizeof dir, "unit_npy.tmp");
  t_rmtree(dir);
  t_mkdirs(dir);
  /* ---- round trips ---- */
  int n = 0;
  for (int d = 0; d < SMELT_DT_COUNT; d++) {
    if (smelt_dtype_is_block((smelt_dtype)d)) continue; /* weights only: no .npy form */
    const char *descr = smelt_dtype_npy((smelt_dtype)d);
    int es = smelt_dtype_bytes((smelt_dtype)d);
    for (int rank = 0; rank <= 8; rank++)
      for (int empty = 0; empty < 2; empty++) {
        int64_t dims[8], ne = 1;
        for (int k = 0; k < rank; k++) { dims[k] = empty && k == rank / 2 ? 0 : 1 + (k * 3 + d) % 3; ne *= dims[k]; }
        if (empty && rank == 0) continue;
        size_t bytes = (size_t)ne * es;
        unsigned char *data = malloc(bytes + 1);
        for (size_t i = 0; i < bytes; i++) data[i] = (unsigned char)(i * 31 + d);
        if (d == SMELT_DT_BOOL)
          for (size_t i = 0; i < bytes; i++) data[i] &= 1;
        char path[4200];
        snprintf(path, sizeof path, "%s/rt_%d_%d_%d.npy", dir, d, rank, empty);
        CHECK(!smelt_npy_write(path, descr, rank, dims, data, bytes), "write %s", path);
        struct smelt_npy a;
        const char *e = smelt_npy_read(path, &a);
        CHECK(!e, "read %s: %s", path, e ? e : "");
        if (!e) {
          int same = !strcmp(a.descr, descr) && a.rank == rank && a.elems == ne && !memcmp(a.data, data, bytes);
          for (int k = 0; k < rank; k++) same &= a.dims[k] == dims[k];
          CHECK(same, "%s: round trip differs (descr %s, rank %d)", path, a.descr, a.rank);
          free(a.data);
        }
        /* every truncation of the file fails */
        if (rank == 2 && !empty) {
          size_t len;
          char *whole = t_read_file(path, &len);
          for (size_t cut = 0; whole && cut < len; cut++) {
            char tp[4300];
            snprintf(tp, sizeof tp, "%s.cut", path);
            t_write_file(tp, whole, cut);
            e = smelt_npy_read(tp, &a);
            CHECK(e && !a.data, "%s truncated to %zu of %zu bytes was read", path, cut, len);
            if (!e) free(a.data);
          }
          free(whole);
        }
        free(data);
        n++;
      }
  }
  CHECK(n > 200, "only %d round trips", n);
  /* a header written by numpy itself: spaces and trailing commas, version 2 */
  const char *p = write_raw("v2.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, 2);
  struct smelt_npy a;
  const char *e = smelt_npy_read(p, &a);
  CHECK(!e && a.rank == 2 && a.dims[0] == 2 && a.dims[1] == 3 && !strcmp(a.descr, "<f4"), "version 2 header: %s", e ? e : "");
  free(a.data);
  p = write_raw("scalar.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (), }", 8, 1);
  e = smelt_npy_read(p, &a);
  CHECK(!e && a.rank == 0 && a.elems == 1, "rank-0 array: %s", e ? e : "");
  free(a.data);
  p = write_raw("native.npy", "{'descr': '=i4', 'fortran_order': False, 'shape': (1,), }", 4, 1);
  e = smelt_npy_read(p, &a);
  CHECK(!e && !strcmp(a.descr, "<i4"), "'=' byte order reads as little-endian: %s", e ? e : a.descr);
  free(a.data);

  /* ---- malformed ---- */
  char path[4200];
  snprintf(path, sizeof path, "%s/magic.npy", dir);
  t_write_file(path, "\x93NUMPX\x01\x00\x10\x00{'descr': '<f4'}", 26);
  e = smelt_npy_read(path, &a);
  CHECK(e && strstr(e, "not a .npy"), "bad magic: %s", e ? e : "read");
  snprintf(path, sizeof path, "%s/version.npy", dir);
  t_write_file(path, "\x93NUMPY\x04\x00\x10\x00{'descr': '<f4'}", 26);
  e = smelt_npy_read(path, &a);
  CHECK(e && strstr(e, "version"), "version 4: %s", e ? e : "read");
  snprintf(path, sizeof path, "%s/hlen.npy", dir);
  t_write_file(path, "\x93NUMPY\x01\x00\xff\xff{'descr': '<f4'}", 26);
  e = smelt_npy_read(path, &a);
  CHECK(e && strstr(e, "truncated header"), "header longer than the file: %s", e ? e : "read");
  snprintf(path, sizeof path, "%s/hlen2.npy", dir);
  t_write_file(path, "\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr': '<f4'}", 28);
  e = smelt_npy_read(path, &a);
  CHECK(e && strstr(e, "too long"), "4 GiB header: %s", e ? e : "read");
  snprintf(path, sizeof path, "%s/missing.npy", dir);
  e = smelt_npy_read(path, &a);
  CHECK(e && strstr(e, "cannot open"), "missing file: %s", e ? e : "read");
  snprintf(path, sizeof path, "%s/empty.npy", dir);
  t_write_file(path, "", 0);
  e = smelt_npy_read(path, &a);
  CHECK(e != NULL, "empty file read");

  bad("nodescr.npy", "{'fortran_order': False, 'shape': (2,), }", 8, "descr");
  bad("descr_unterminated.npy", "{'descr': '<f4, 'fortran_order': False, 'shape': (2,) }", 8, NULL);
  bad("descr_empty.npy", "{'descr': '', 'fortran_order': False, 'shape': (2,), }", 8, "descr");
  bad("descr_long.npy", "{'descr': '<f4444444', 'fortran_order': False, 'shape': (2,), }", 8, "descr");
  bad("descr_f3.npy", "{'descr': '<f3', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype");
  bad("descr_f16.npy", "{'descr': '<f16', 'fortran_order': False, 'shape': (2,), }", 64, "unsupported dtype");
  bad("descr_unicode.npy", "{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", 32, "unsupported dtype");
  bad("descr_complex.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype");
  bad("descr_object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, "unsupported dtype");
  bad("descr_bigendian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype");
  bad("descr_pipe4.npy", "{'descr': '|i4', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype");
  bad("descr_b2.npy", "{'descr': '<b2', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype");
  bad("descr_i4x.npy", "{'descr': '<i4x', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype");
  bad("descr_struct.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8, NULL);
  bad("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "Fortran");
  bad("noshape.npy", "{'descr': '<f4', 'fortran_order': False, }", 8, "shape");
  bad("shape_neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "shape");
  bad("shape_text.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", 8, "shape");
  bad("shape_float.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 8, "shape");
  bad("shape_open.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", 24, "shape");
  bad("shape_rank9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, "rank");
  bad("shape_huge.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000,), }", 8, "too large");
  bad("shape_product.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2097152, 1048576), }", 8, "too large");
  bad("shape_big.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", 8, "shorter");
  bad("shape_overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }", 8, NULL);
  bad("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 11, "shorter");
  bad("short_scalar.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 7, "shorter");
  bad("garbage.npy", "\x01\x02\x03\xff\xfe", 8, NULL);
  bad("nul.npy", "{'de\0scr': '<f4', 'shape': (2,), }", 8, NULL);
  t_rmtree(dir);
  return t_done("unit_npy");
}
