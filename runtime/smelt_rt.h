/* runtime/smelt_rt.h — the part of the runtime compiled into every generated model.
 *
 * Header-only and static, so several models can live in one program (or one
 * translation unit) without clashing.  C99; builds freestanding with
 * SMELT_FREESTANDING (no stdio, no heap: the model itself never allocates).
 *
 * It defines the error codes every generated function returns (0 or negative), the
 * model descriptor the generated executables' main() walks, and small helpers the
 * kernels share. */
#ifndef SMELT_RT_H
#define SMELT_RT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include "smelt_scalar.h"

/* newlib (arm-none-eabi and other bare-metal toolchains) lacks the long double complex
 * functions that GCC's <tgmath.h> names for every call, which generated kernels include
 * after this header: declaring them is enough, they are never called on real operands. */
#if defined(_NEWLIB_VERSION) && !defined(__cplusplus) && !defined(SMELT_NO_NEWLIB_TGMATH_FIX)
long double _Complex cacoshl(long double _Complex), cacosl(long double _Complex), casinhl(long double _Complex),
    catanhl(long double _Complex), ccoshl(long double _Complex), ccosl(long double _Complex), cexpl(long double _Complex),
    cpowl(long double _Complex, long double _Complex), csinhl(long double _Complex), csinl(long double _Complex),
    ctanhl(long double _Complex), ctanl(long double _Complex);
#endif

#define SMELT_OK 0
#define SMELT_E_NULL (-1)       /* a required pointer was NULL */
#define SMELT_E_ARENA (-2)      /* arena too small or misaligned */
#define SMELT_E_NOT_INIT (-3)   /* ctx not initialized with NAME_init */
#define SMELT_E_DIM (-4)        /* dimension value out of its bounds */
#define SMELT_E_INDEX (-5)      /* an index input was out of range */
#define SMELT_E_ARG (-6)        /* other bad argument */
#define SMELT_E_CTX (-7)        /* the tokens do not fit in the context */
#define SMELT_E_NO_TOKENIZER (-8) /* the model was built without a tokenizer */
#define SMELT_E_NOSPACE (-9)    /* an output buffer is too small (token ids, text) */

static inline const char *smelt_rt_strerror(int err) {
  switch (err) {
  case SMELT_OK: return "ok";
  case SMELT_E_NULL: return "a required pointer is NULL";
  case SMELT_E_ARENA: return "arena too small or not 16-byte aligned";
  case SMELT_E_NOT_INIT: return "context not initialized";
  case SMELT_E_DIM: return "dimension value outside its bounds";
  case SMELT_E_INDEX: return "index out of range in an input";
  case SMELT_E_ARG: return "bad argument";
  case SMELT_E_CTX: return "the tokens do not fit in the context";
  case SMELT_E_NO_TOKENIZER: return "the model was built without a tokenizer";
  case SMELT_E_NOSPACE: return "output buffer too small";
  default: return "unknown error";
  }
}

/* Describes one input or output for generic drivers (the executables' main). */
struct smelt_io_desc {
  const char *name;      /* as in the source model */
  const char *npy;       /* numpy dtype descriptor, e.g. "<f4" */
  int elem_bytes;
  int rank;
  int64_t dims[8];       /* the value, or the symbol's bound when dimsym >= 0 */
  int dimsym[8];         /* -1, or the index of the symbol this dim follows */
};

struct smelt_model_desc {
  const char *name;
  int nin, nout, ndims;
  const struct smelt_io_desc *in, *out;
  const char *const *dim_names;
  const int64_t *dim_max;
  size_t arena_bytes, ctx_bytes;
  int (*init)(void *ctx, void *arena, size_t arena_bytes);
  int (*set_dim)(void *ctx, int dim, int64_t value);
  int (*run)(void *ctx, void *const *inputs, void *const *outputs);
  const char *(*strerror)(int err);
};

/* The switchable LoRA adapters of a model built with --adapter (NAME_adapters): their
 * names, in index order, and NAME_set_adapter. */
struct smelt_adapter_desc {
  int n;
  const char *const *names;
  int (*set)(void *ctx, int adapter, float scale);
};

/* Activates the adapter called name (or given by its index; "none" or "-1": the base
 * model) with scale; SMELT_E_ARG when there is no such adapter. */
static inline int smelt_adapter_select(const struct smelt_adapter_desc *ad, void *ctx, const char *name, float scale) {
  if (!ad) return SMELT_E_ARG;
  int k = -2;
  for (int i = 0; i < ad->n; i++)
    if (!strcmp(ad->names[i], name)) k = i;
  if (k == -2 && (!strcmp(name, "none") || !strcmp(name, "-1"))) k = -1;
  if (k == -2 && name[0] >= '0' && name[0] <= '9' && name[1] == 0 && name[0] - '0' < ad->n) k = name[0] - '0';
  return k == -2 ? SMELT_E_ARG : ad->set(ctx, k, scale);
}

/* Dot product of two float rows with 16 independent partial sums, so compilers can
 * vectorize it without reassociating a single accumulator. */
static inline float sm_dot_f32(const float *a, const float *b, int64_t n) {
  float s[16] = {0};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    for (int u = 0; u < 16; u++) s[u] += a[k + u] * b[k + u];
  float r = 0;
  for (int u = 0; u < 15 && k + u < n; u++) r += a[k + u] * b[k + u]; /* the < 16 left */
  for (int u = 0; u < 16; u++) r += s[u];
  return r;
}

#if defined(__GNUC__)
#define SM_ALIGN(n) __attribute__((aligned(n)))
#else
#define SM_ALIGN(n)
#endif

#endif
