/* compiler/cache.h — the compile cache (`smelt build --cache-dir DIR`) and the
 * dependency file (`--depfile FILE`).
 *
 * A build's outputs are reused when the XXH3 of everything that shapes them is
 * unchanged: the bytes of every file the build read (checkpoint, external data,
 * adapters, tokenizer files, --const tensors), the options, the model argument, $CC /
 * $SMELT_CFLAGS / $AR, and the smelt executable itself (so a rebuilt compiler never
 * reuses an older one's outputs).  See compiler/cache.c for the layout on disk. */
#ifndef SMELT_CACHE_H
#define SMELT_CACHE_H

#include "compiler/driver.h"

struct smelt_cache_req {
  const char *dir;      /* the cache directory (created if missing) */
  const char *model;    /* MODEL as given on the command line */
  const char *options;  /* the options that shape the outputs (what NAME.h records) */
  const char *out_dir;  /* where the outputs go */
  const char *name;     /* the model's C name */
  enum smelt_emit_kind emit;
  void (*progress)(void *user, const char *step, int64_t done, int64_t total);
  void *progress_user;
};

/* 1: a hit — the outputs are in r->out_dir, *info is filled (name points into the
 * ctx), and the files the build depends on are noted in the ctx
 * (smelt_ctx_note_input); 0: a miss; SMELT_ERR: an error (reported in cx). */
int smelt_cache_lookup(smelt_ctx *cx, const struct smelt_cache_req *r, struct smelt_build_info *info);
/* After a successful build: keeps its outputs under the key of the files it read
 * (the ctx's inputs).  Failing to store is not an error of the build: it returns
 * SMELT_ERR with a diagnostic the caller may show as a warning. */
int smelt_cache_store(smelt_ctx *cx, const struct smelt_cache_req *r, const struct smelt_build_info *info);

/* Writes a Makefile-format dependency file, atomically: `target: input...` (spaces,
 * '#' and '$' escaped) with one empty rule per input, so a deleted input does not
 * break make or ninja. */
int smelt_write_depfile(smelt_ctx *cx, const char *path, const char *target);

/* The path of the output a depfile names as its target: OUT/libNAME.a, OUT/NAME or
 * OUT/NAME.c per emit kind. */
const char *smelt_build_primary_output(smelt_ctx *cx, const char *out_dir, const char *name, enum smelt_emit_kind emit);

#endif
