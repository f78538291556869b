/* backends/x86/kernels.c — the x86-64 kernel backend (x86-64-avx2, x86-64-avx512, native
 * on x86-64): matmuls by weights go to runtime/smelt_simd.h, whose AVX2 path uses
 * vpmaddubsw / vpmaddwd int8 dots, F16C and FMA, and whose AVX-512 path (VNNI + VL)
 * uses vpdpbusd; the rest is the generic C backend's. */
#include "backends/simd.h"

int smelt_x86_kernel(struct cg *c, const smelt_node *n) { return smelt_simd_kernel(c, n); }
