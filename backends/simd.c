/* backends/simd.c — the kernel overrides the vector backends (x86, arm) share: MatMul by
 * a weight [N, K] (trans_b) stored as f32, f16, q8_0, q4_0, q4_k or q6_k becomes one call of
 * sms_matmul, and an f32 MatMul by B [K, N] one of sms_gemm_nn (runtime/smelt_simd.h),
 * whose intrinsics follow the target's compiler flags (AVX2 / AVX-512 VNNI, NEON /
 * dotprod) and whose work may be split between the threads of --threads.  QMatMul (the
 * quantize pass's int8 / int4 / nf4 weights) becomes sms_qmatmul_i8 / _q4.  Small f32
 * products stay generic.  Everything else is left to the generic C backend. */
#include "backends/simd.h"
#include "backends/c/cgen.h"

#include <string.h>

/* f32 products with fewer weights stay generic: there the generic kernel, specialized on
 * constant sizes, is as fast (stories260K's 64 x 64 matmuls measured 20% slower) */
#define SMALL_F32 32768

const char *smelt_simd_kind(const smelt_node *n, const smelt_value *A, const smelt_value *B, const smelt_value *Y) {
  if (n->op == SMELT_OP_QMATMUL) { /* the quantize pass's int8 / int4 / nf4 weights */
    if (A->dt != SMELT_DT_F32 || A->shape.rank < 1 || A->shape.d[A->shape.rank - 1].sym || B->shape.rank != 2) return NULL;
    const char *sch = smelt_attr_s(n, "scheme");
    int64_t K = A->shape.d[A->shape.rank - 1].n, G = smelt_attr_i(n, "group");
    if (sch && !strcmp(sch, "int8")) return K <= 131072 ? "SMS_QI8" : NULL;
    if (sch && (!strcmp(sch, "int4") || !strcmp(sch, "nf4"))) /* the decoded row on the stack */
      return K % 2 == 0 && G > 0 && G % 2 == 0 && K % G == 0 && K <= 16384 ? (sch[0] == 'n' ? "SMS_QNF4" : "SMS_QI4") : NULL;
    return NULL;
  }
  if (n->op != SMELT_OP_MATMUL || A->dt != SMELT_DT_F32 || B->shape.rank != 2 || A->shape.rank < 1) return NULL;
  if (smelt_attr_i(n, "pack")) /* a weight in panels (passes/layout.c): the packed GEMM */
    return (B->dt == SMELT_DT_F32 || B->dt == SMELT_DT_F16) && !smelt_attr_i(n, "trans_b") ? "SMS_PACKED" : NULL;
  if (B->shape.d[0].sym || B->shape.d[1].sym || A->shape.d[A->shape.rank - 1].sym) return NULL;
  if (Y->shape.rank != A->shape.rank) return NULL; /* B's batch dims would broadcast */
  if (!smelt_attr_i(n, "trans_b")) /* B [K, N]: the f32 GEMM (ONNX MatMul, Gemm) */
    return B->dt == SMELT_DT_F32 && B->shape.d[0].n * B->shape.d[1].n >= SMALL_F32 ? "SMS_F32_NN" : NULL;
  int64_t K = B->shape.d[1].n;
  switch (B->dt) {
  /* small float matmuls (classifier heads) stay generic: nothing to gain */
  case SMELT_DT_F32: return B->shape.d[0].n * K >= SMALL_F32 ? "SMS_F32" : NULL;
  case SMELT_DT_F16: return "SMS_F16";
  /* the activations of a chunk of rows are quantized on the stack: K bounded */
  case SMELT_DT_Q8_0: return K % 32 == 0 && K <= 65536 ? "SMS_Q8_0" : NULL;
  case SMELT_DT_Q4_0: return K % 32 == 0 && K <= 65536 ? "SMS_Q4_0" : NULL;
  case SMELT_DT_Q4_K: return K % 256 == 0 && K <= 65536 ? "SMS_Q4_K" : NULL;
  case SMELT_DT_Q6_K: return K % 256 == 0 && K <= 65536 ? "SMS_Q6_K" : NULL;
  default: return NULL;
  }
}

int smelt_simd_kernel(struct cg *c, const smelt_node *n) {
  if (n->op != SMELT_OP_MATMUL && n->op != SMELT_OP_QMATMUL) { /* backends/simd_conv.c, then simd_math.c */
    int r = smelt_simd_conv_kernel(c, n);
    return r != 1 ? r : smelt_simd_math_kernel(c, n);
  }
  const smelt_value *A = cg_in(c, n, 0), *B = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  const char *kind = smelt_simd_kind(n, A, B, Y);
  if (!kind) return smelt_simd_math_kernel(c, n); /* batched activations: backends/simd_math.c */
  const char *R = cg_elems(c, &A->shape, 0, A->shape.rank - 1);
  if (n->op == SMELT_OP_QMATMUL) {
    long long K = (long long)A->shape.d[A->shape.rank - 1].n, N = (long long)B->shape.d[0].n;
    if (!strcmp(kind, "SMS_QI8")) cg_line(c, "sms_qmatmul_i8(x0, x1, x2, y0, %s, %lld, %lld);", R, N, K);
    else cg_line(c, "sms_qmatmul_q4(%d, x0, x1, x2, y0, %s, %lld, %lld, %lld);", !strcmp(kind, "SMS_QNF4"), R, N, K, (long long)smelt_attr_i(n, "group"));
    return 0;
  }
  if (!strcmp(kind, "SMS_PACKED")) { /* runtime/smelt_simd_gemm.h */
    cg_line(c, "sms_gemm_packed(x1, %d, x0, y0, %s, %lld, %lld, %lld);", B->dt == SMELT_DT_F16, R, (long long)B->shape.d[1].n,
            (long long)B->shape.d[0].n, (long long)smelt_attr_i(n, "pack"));
    return 0;
  }
  if (!strcmp(kind, "SMS_F32_NN")) {
    cg_line(c, "sms_gemm_nn(x0, x1, y0, %s, %lld, %lld);", R, (long long)B->shape.d[1].n, (long long)B->shape.d[0].n);
    return 0;
  }
  int64_t N = B->shape.d[0].n, K = B->shape.d[1].n, rb = smelt_dtype_nbytes(B->dt, K);
  cg_line(c, "sms_matmul(%s, x1, %lld, x0, y0, %s, %lld, %lld);", kind, (long long)rb, R, (long long)N, (long long)K);
  return 0;
}
