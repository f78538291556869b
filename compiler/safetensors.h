/* compiler/safetensors.h — safetensors files (one, or the shards a
 * model.safetensors.index.json names) as tensors over read-only mappings, and the
 * small JSON helpers the Hugging Face reader shares.
 *
 * A safetensors file is a u64 little-endian header length N, N bytes of JSON
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * optionally "__metadata__": {string: string}}), then the data section; offsets are
 * relative to its start.  smelt_safetensors_open treats every file as hostile: the
 * header lies inside the file (at most 100 MiB), names are 1..1024 bytes and unique,
 * ranks at most 8, dims at most 2^40, every tensor's [begin, end) lies inside the data
 * section, holds exactly shape x dtype bytes, and no two tensors overlap.  Tensor
 * data is never copied: `data` points into the mapping, which lives as long as the ctx. */
#ifndef SMELT_SAFETENSORS_H
#define SMELT_SAFETENSORS_H

#include "ir/ir.h"

#include <cjson/cJSON.h>

struct smelt_st_file;

struct smelt_st_tensor {
  const char *name;
  const char *dtype;       /* as the file spells it: "F32", "BF16", "F8_E4M3", ... */
  int known;               /* 1 when dt is meaningful (smelt has the type) */
  smelt_dtype dt;
  int esize;               /* bytes per element */
  int rank;
  int64_t shape[SMELT_MAX_RANK];
  uint64_t nelems, nbytes;
  uint64_t offset;         /* byte offset of the data in the file */
  const void *data;        /* in the mapping */
  const struct smelt_st_file *file;
};

struct smelt_st_file {
  const char *path;
  const unsigned char *map;
  uint64_t size, data_off;  /* data section: [data_off, size) */
  int ntensors;
  struct smelt_st_tensor *t; /* in header order */
  int nmeta;
  const char **meta_key, **meta_val; /* __metadata__, in file order */
};

/* A model's weights: one file, or every shard of an index. */
struct smelt_safetensors {
  const char *path;          /* the .safetensors file or the index .json */
  int nfiles;
  struct smelt_st_file **files;
  int ntensors;
  const struct smelt_st_tensor **t; /* every tensor, file by file */
  smelt_map index;           /* name -> position in t */
};

/* Opens one .safetensors file. */
struct smelt_st_file *smelt_safetensors_open_file(smelt_ctx *cx, const char *path);
/* Opens a .safetensors file, a model.safetensors.index.json (and its shards, which
 * must be plain file names in the index's folder), or a folder holding either
 * (the index wins).  NULL with one diagnostic naming the file on failure. */
struct smelt_safetensors *smelt_safetensors_open(smelt_ctx *cx, const char *path);
const struct smelt_st_tensor *smelt_safetensors_get(const struct smelt_safetensors *st, const char *name);
const char *smelt_safetensors_meta(const struct smelt_st_file *f, const char *key); /* NULL if absent */
/* Adds tensor t to g as a constant named `name`: a view of the mapping (c.file and
 * c.offset say where), or an arena copy when the data is not aligned to its element
 * size.  Returns the value or SMELT_ERR (a dtype smelt does not have is an error). */
int smelt_safetensors_const(smelt_graph *g, const struct smelt_st_tensor *t, const char *name);

/* ---- JSON files (config.json, index files, ...) ---- */
/* Reads and parses a JSON file of at most max_bytes (a regular file, opened without
 * blocking).  The tree is freed with the ctx.  NULL with a diagnostic ("PATH: invalid
 * JSON at line L, column C") on failure; *missing is set (and no diagnostic
 * recorded) when the file does not exist and missing is not NULL. */
cJSON *smelt_json_load(smelt_ctx *cx, const char *path, uint64_t max_bytes, int *missing);

#endif
