/* ir/nn2.h — compile-time tables of the resize op, shared by the reference
 * interpreter (ir/eval_nn2.c) and the backends, which bake them into their kernels.
 *
 * Resize is separable: along each axis, output index o reads `ntaps` input indices
 * with weights (1 for nearest, 2 for linear, 4 for cubic), so the whole op is a sum
 * over the product of the axes' taps.  The coordinate arithmetic follows ONNX's
 * reference implementation (float64, the same operation order), so the choice of
 * neighbours matches it exactly. */
#ifndef SMELT_NN2_H
#define SMELT_NN2_H

#include "ir.h"

#define SMELT_RESIZE_MAXTAPS 4

/* Taps of `axis` of Resize node n with input length `in` and output length `out`:
 * idx[o*T + t] (clamped into [0, in)) and w[o*T + t] for t < T, and ext[o] = 1 where
 * tf_crop_and_resize maps o outside the input (the output is extrapolation_value
 * there).  The arrays need out*SMELT_RESIZE_MAXTAPS (idx, w) and out (ext) entries.
 * Returns T. */
int smelt_resize_taps(const smelt_node *n, int axis, int64_t in, int64_t out, int64_t *idx, double *w, unsigned char *ext);

#endif
