/* ir/eval_lora.c — interpreter kernel of LoRA (a switchable adapter on a MatMul):
 * Y = Y0 + S[adapter] * scale * (X·Aᵀ)·Bᵀ, in double. */
#include "eval.h"

int eval_lora(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *Y0 = &in[0], *X = &in[1], *A = &in[2], *B = &in[3], *S = &in[4];
  int64_t N = Y0->dims[Y0->rank - 1], K = X->dims[X->rank - 1], R = A->dims[0];
  int64_t rows = N ? smelt_tensor_elems(Y0) / N : 0;
  double s = ev_getf(S, smelt_attr_i(n, "adapter")) * smelt_attr_f(n, "scale");
  double *t = malloc(sizeof(double) * (size_t)(R ? R : 1));
  if (!t) return ev_fail(g, n, "out of memory");
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t j = 0; j < R; j++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += ev_getf(X, r * K + k) * ev_getf(A, j * K + k);
      t[j] = acc;
    }
    for (int64_t c = 0; c < N; c++) {
      double acc = 0;
      for (int64_t j = 0; j < R; j++) acc += ev_getf(B, c * R + j) * t[j];
      ev_setf(out, r * N + c, ev_getf(Y0, r * N + c) + s * acc);
    }
  }
  free(t);
  return 0;
}
