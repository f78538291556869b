/* ir/eval_quant.c — the interpreter's QMatMul (ops.def; weight layouts in
 * compiler/quantizers.h).
 *
 * int8 follows the op's definition literally: each row of A is quantized to int8 with
 * the same float expressions the C kernel uses (so both pick the same integers), the
 * dot is exact in 64-bit integers, and the scales are applied in double.  int4 / nf4
 * decode each weight row to floats and sum in double. */
#include "eval.h"

#include <math.h>

/* The int8 code of activation v under inverse scale ia: round half away, clamped to
 * +-127 (NaN -> -127).  Kept identical to the line backends/c/k_quant.c emits. */
static int8_t act_q8(float v, float ia) {
  float t = roundf(v * ia);
  if (!(t >= -127.0f)) t = -127.0f;
  if (t > 127.0f) t = 127.0f;
  return (int8_t)t;
}

static const float nf4_tab[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                  0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                  0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

int eval_qmatmul(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *A = &in[0], *W = &in[1], *S = &in[2];
  const int64_t K = A->dims[A->rank - 1], N = W->dims[0], R = K ? smelt_tensor_elems(A) / K : 0;
  const float *a = (const float *)A->data, *s = (const float *)S->data;
  float *y = (float *)out->data;
  if (!strcmp(smelt_attr_s(n, "scheme"), "int8")) {
    const int8_t *w = (const int8_t *)W->data;
    int8_t *qa = malloc((size_t)(K ? K : 1));
    if (!qa) return ev_fail(g, n, "out of memory");
    for (int64_t r = 0; r < R; r++) {
      const float *ar = a + r * K;
      float amax = 0;
      for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(ar[k]));
      const float sa = amax / 127, ia = sa ? 1.0f / sa : 0.0f;
      for (int64_t k = 0; k < K; k++) qa[k] = act_q8(ar[k], ia);
      for (int64_t j = 0; j < N; j++) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; k++) acc += (int64_t)qa[k] * w[j * K + k];
        y[r * N + j] = (float)((double)acc * sa * s[j]);
      }
    }
    free(qa);
    return 0;
  }
  const int nf4 = !strcmp(smelt_attr_s(n, "scheme"), "nf4");
  const int64_t G = smelt_attr_i(n, "group"), NG = K / G, RB = (K + 1) / 2;
  const uint8_t *w = (const uint8_t *)W->data;
  float *wr = malloc(sizeof(float) * (size_t)(K ? K : 1));
  if (!wr) return ev_fail(g, n, "out of memory");
  for (int64_t j = 0; j < N; j++) {
    for (int64_t k = 0; k < K; k++) {
      const int code = (w[j * RB + k / 2] >> (4 * (k % 2))) & 15;
      wr[k] = s[j * NG + k / G] * (nf4 ? nf4_tab[code] : (float)(code - 8));
    }
    for (int64_t r = 0; r < R; r++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += (double)wr[k] * a[r * K + k];
      y[r * N + j] = (float)acc;
    }
  }
  free(wr);
  return 0;
}
