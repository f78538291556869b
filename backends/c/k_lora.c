/* backends/c/k_lora.c — the C kernel of LoRA, a switchable adapter on a MatMul:
 * Y = Y0 + S[adapter] * scale * (X·Aᵀ)·Bᵀ.  The run-time scale S[adapter] is read
 * first: an adapter that is off costs one copy of Y0 (no arithmetic).  Per row, the
 * r-vector X·Aᵀ lives on the stack (r is a compile-time constant); float accumulators. */
#include "cgen.h"

int emit_lora(struct cg *c, const smelt_node *n) {
  const smelt_value *Y0 = cg_in(c, n, 0), *X = cg_in(c, n, 1), *A = cg_in(c, n, 2);
  int64_t N = Y0->shape.d[Y0->shape.rank - 1].n, K = X->shape.d[X->shape.rank - 1].n, R = A->shape.d[0].n;
  cg_line(c, "const int64_t rows = %s, N = %lld, K = %lld;", cg_elems(c, &Y0->shape, 0, Y0->shape.rank - 1), (long long)N, (long long)K);
  cg_line(c, "const float s = x4[%lld] * (float)%s;", (long long)smelt_attr_i(n, "adapter"), cg_double(c, (double)(float)smelt_attr_f(n, "scale")));
  cg_line(c, "memcpy(y0, x0, sizeof(float) * (size_t)(rows * N));");
  cg_line(c, "if (s == 0.0f) return 0;");
  cg_line(c, "for (int64_t r = 0; r < rows; r++) {");
  cg_line(c, "  float t[%lld];", (long long)R);
  cg_line(c, "  const float *x = x1 + r * K;");
  cg_line(c, "  for (int j = 0; j < %lld; j++) {", (long long)R);
  cg_line(c, "    float acc = 0;");
  cg_line(c, "    for (int64_t k = 0; k < K; k++) acc += x[k] * x2[j * K + k];");
  cg_line(c, "    t[j] = s * acc;");
  cg_line(c, "  }");
  cg_line(c, "  for (int64_t o = 0; o < N; o++) {");
  cg_line(c, "    float acc = 0;");
  cg_line(c, "    for (int j = 0; j < %lld; j++) acc += x3[o * %lld + j] * t[j];", (long long)R, (long long)R);
  cg_line(c, "    y0[r * N + o] += acc;");
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}
