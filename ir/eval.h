/* ir/eval.h — internals of the reference interpreter (ir/eval*.c).
 *
 * Kernels of the interpreter are simple loops over concrete tensors: floats are
 * computed in double and rounded to the output dtype once per op, integers in
 * 64 bits and truncated to the output dtype, so every backend can be checked
 * against it.  eval_<kind>(g, n, in, out) gets its outputs already allocated with
 * the dims shape inference gives. */
#ifndef SMELT_EVAL_H
#define SMELT_EVAL_H

#include "ir.h"

#include <stdlib.h>
#include <string.h>

typedef int (*eval_fn)(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out);

/* Element access by dtype: floats as double, integers as 64-bit patterns. */
double ev_getf(const smelt_tensor *t, int64_t i);
void ev_setf(smelt_tensor *t, int64_t i, double v);   /* rounds to the dtype; ints saturate */
int64_t ev_geti(const smelt_tensor *t, int64_t i);    /* sign- or zero-extended */
void ev_seti(smelt_tensor *t, int64_t i, int64_t v);  /* truncates to the dtype's width */

/* Byte strides of a row-major tensor of rank r (elements, not bytes). */
void ev_strides(const int64_t *dims, int rank, int64_t *strides);
/* Strides of `in` aligned to an output of rank r under numpy broadcasting (0 where
 * the input broadcasts). */
void ev_bcast_strides(const smelt_tensor *in, int r, const int64_t *odims, int64_t *strides);
/* The scalar formulas of ops.def: part 0 = formula or reduction init, 1 =
 * accumulate, 2 = finalize (ir/eval_elemwise.c). */
double ev_scalar_f(int part, const smelt_node *nd, double x, double y, double a, double b, double m, double s, int64_t n);
int64_t ev_scalar_i(int part, const smelt_node *nd, smelt_dtype dt, int64_t x, int64_t y, int64_t a, int64_t b, int64_t n);
int ev_fail(const smelt_graph *g, const smelt_node *n, const char *msg);

#define KIND(k) int eval_##k(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out);
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) KIND(kind)
#include "ops.def"
#undef OP
#undef KIND

#endif
