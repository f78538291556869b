/* ir/pack.h — the packed-panel layout of a MatMul weight (MatMul attribute pack = P,
 * written by passes/layout.c, read by the interpreter, the generic C kernel and the
 * target GEMM kernels of runtime/smelt_simd_gemm.h).
 *
 * The logical weight is B [K, N].  Its columns are cut into panels of P (the last one
 * narrower when P does not divide N: w = N - j0 columns, no padding), and each panel is
 * stored k-major: the w values B[k, j0 .. j0 + w) of one k are contiguous, then k + 1.
 * So element (k, j) of panel j0 = j - j % P sits at j0 * K + k * w + (j - j0), the
 * buffer holds exactly K * N elements, and a micro-kernel streams one panel as rows of
 * P contiguous values. */
#ifndef SMELT_PACK_H
#define SMELT_PACK_H

#include <stdint.h>

/* panel widths the pass may choose (and the shape check accepts) */
#define SMELT_PACK_MAX 64

static inline int64_t smelt_pack_index(int64_t k, int64_t j, int64_t K, int64_t N, int64_t P) {
  int64_t j0 = j - j % P, w = N - j0 < P ? N - j0 : P;
  return j0 * K + k * w + (j - j0);
}

#endif
