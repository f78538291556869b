/* backends/arm/kernels.c — the aarch64 kernel backend (aarch64, aarch64-dotprod, native
 * on aarch64): matmuls by weights go to runtime/smelt_simd.h, whose NEON path uses
 * smull / sadalp int8 dots (sdot with dotprod), fcvtl for f16 and fmla; the rest is the
 * generic C backend's. */
#include "backends/simd.h"

int smelt_arm_kernel(struct cg *c, const smelt_node *n) { return smelt_simd_kernel(c, n); }
