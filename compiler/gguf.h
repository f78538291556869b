/* compiler/gguf.h — a GGUF (v2/v3) file: metadata key/values and tensor infos over a
 * read-only mapping of the file.
 *
 * smelt_gguf_open treats the file as hostile: every length, count and offset is
 * checked against the file before use, strings are bounded, arrays may not nest
 * deeper than 8 and tensor data must lie inside the file.  Values are not copied:
 * getters decode them from the mapping, which lives as long as the ctx.
 *
 * Dims follow ggml: ne[0] is the innermost (contiguous) dim.  The IR's shape of a
 * tensor is ne reversed ([ne[n-1], ..., ne[0]]). */
#ifndef SMELT_GGUF_H
#define SMELT_GGUF_H

#include "ir/ir.h"

enum {
  GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
  GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
};

struct smelt_gguf_kv {
  const char *key;               /* NUL-terminated copy */
  uint32_t type;                 /* GGUF_* */
  uint32_t elem;                 /* element type of an array */
  uint64_t n;                    /* element count of an array (1 otherwise) */
  const unsigned char *val;      /* the value's bytes in the mapping (after type, count) */
  uint64_t *str_off;             /* string arrays: offset of each element from val (lazy) */
};

struct smelt_gguf_tensor {
  const char *name;
  int ndims;
  int64_t ne[4];
  uint32_t type;                 /* ggml type id */
  uint64_t offset;               /* from the data section */
  const void *data;
  uint64_t nbytes;
};

struct smelt_gguf {
  const char *path;
  const unsigned char *map;
  uint64_t size;
  uint32_t version;
  uint64_t alignment, data_off;
  int nkv, ntensors;
  struct smelt_gguf_kv *kv;
  struct smelt_gguf_tensor *t;
  smelt_map kv_index, t_index;
};

/* ggml tensor types smelt knows: block size and bytes per block (0 if unknown). */
struct smelt_ggml_type { const char *name; int blk, bytes; };
const struct smelt_ggml_type *smelt_ggml_type(uint32_t type); /* NULL if unknown */

struct smelt_gguf *smelt_gguf_open(smelt_ctx *cx, const char *path);
const struct smelt_gguf_kv *smelt_gguf_get(const struct smelt_gguf *g, const char *key);
const struct smelt_gguf_tensor *smelt_gguf_tensor(const struct smelt_gguf *g, const char *name);

/* Adds tensor t of f as a constant of g: a view of the mapping (not copied; the
 * mapping lives as long as the ctx), named after the tensor, with ggml's type mapped
 * to a smelt dtype (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K;
 * anything else is an error naming the tensor and its type) and the shape reversed
 * from ne.  Returns the value index or SMELT_ERR. */
int smelt_gguf_add_tensor(smelt_graph *g, const struct smelt_gguf *f, const struct smelt_gguf_tensor *t);

/* Scalar getters: 0 on success, SMELT_ERR (no diagnostic) when absent or of another kind.
 * Integers of any width and bools read as int64; floats (and integers) as double. */
int smelt_gguf_int(const struct smelt_gguf *g, const char *key, int64_t *out);
int smelt_gguf_float(const struct smelt_gguf *g, const char *key, double *out);
const char *smelt_gguf_str(smelt_ctx *cx, const struct smelt_gguf *g, const char *key); /* arena copy or NULL */

/* Array elements (kv->type == GGUF_ARRAY). */
int64_t smelt_gguf_arr_int(const struct smelt_gguf_kv *kv, uint64_t i);
double smelt_gguf_arr_float(const struct smelt_gguf_kv *kv, uint64_t i);
/* String element i: pointer into the mapping (not NUL-terminated) and its length. */
const char *smelt_gguf_arr_str(const struct smelt_gguf_kv *kv, uint64_t i, uint64_t *len);

#endif
