/* ir/wino.h — the Winograd form of a 3x3 stride-1 Conv (Conv attribute wino = m, m = 2 or
 * 4: F(m x m, 3 x 3), tiles of A = m + 2).  passes/layout.c writes it for the vector
 * targets; the interpreter (ir/wino.c), the generic C kernel (backends/c/k_wino.c) and the
 * target kernels (runtime/smelt_simd_wino.h) read it.
 *
 * The weight input is then U [A·A, C, M] f32 (one group only): U[e][c][k] =
 * (G g[k][c] Gᵀ)[e / A][e % A] for the 3x3 kernel g of output channel k and input channel
 * c, output channel innermost.  An m x m output tile at (oh, ow) = (ty·m, tx·m) reads the
 * A x A input window from (ty·m − pad_h, tx·m − pad_w) (zeros outside the input), d, and is
 *     Y = Aᵀ [Σ_c U_c ⊙ (Bᵀ d_c B)] A + bias,
 * which equals the direct convolution by the g that G g Gᵀ came from exactly in real
 * arithmetic (Lavin & Gray's matrices below; the outputs past OH / OW of the last tiles
 * are dropped). */
#ifndef SMELT_IR_WINO_H
#define SMELT_IR_WINO_H

#include "ir.h"

/* Bᵀ [A][A], G [A][3], Aᵀ [m][A] of F(m x m, 3 x 3); 0 when m is neither 2 nor 4 */
int smelt_wino_mats(int m, const double **bt, const double **g, const double **at);

/* U of the f32 weight w [M, C, 3, 3] (computed in double, rounded once), into u [A·A, C, M] */
void smelt_wino_weights(int m, const float *w, int64_t M, int64_t C, float *u);

/* the interpreter's Conv with wino = m (ir/wino.c; eval_conv calls it) */
int eval_conv_wino(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out);

#endif
