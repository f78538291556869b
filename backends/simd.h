/* backends/simd.h — kernels shared by the vector backends (backends/simd.c). */
#ifndef SMELT_BACKENDS_SIMD_H
#define SMELT_BACKENDS_SIMD_H

#include "backends/backend.h"

/* The sms_matmul kind ("SMS_Q8_0", ...) of MatMul node n (A, B, Y its values), or NULL
 * when the runtime's target kernels do not cover it. */
const char *smelt_simd_kind(const smelt_node *n, const smelt_value *A, const smelt_value *B, const smelt_value *Y);
/* smelt_kernel_fn of the x86 and arm backends */
int smelt_simd_kernel(struct cg *c, const smelt_node *n);
/* backends/simd_math.c: does runtime/smelt_simd_math.h take node n of g (softmax, norms,
 * attention, exp/tanh/erf-style and Fused elementwise kernels, f32)?  Its emitter (1: not
 * taken, left to the generic kernel). */
int smelt_simd_math_takes(const smelt_graph *g, const smelt_node *n);
int smelt_simd_math_kernel(struct cg *c, const smelt_node *n);

/* backends/simd_conv.c: does node n (Conv, pools, a Fused node anchored on a Conv) go to
 * runtime/smelt_simd_conv.h; its kernel (1: not handled, as smelt_kernel_fn) */
int smelt_simd_conv_node(const smelt_graph *g, const smelt_node *n);
int smelt_simd_conv_kernel(struct cg *c, const smelt_node *n);

#endif
