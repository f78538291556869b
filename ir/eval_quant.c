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

/* Row m of a QConv weight (R values) as floats, per the node's scheme. */
static void qconv_row(const smelt_node *n, const smelt_tensor *W, const smelt_tensor *S, int64_t m, int64_t R, float *wr) {
  const char *sch = smelt_attr_s(n, "scheme");
  if (W->dt == SMELT_DT_F16 || smelt_dtype_is_block(W->dt)) {
    smelt_dequantize_row(W->dt, (const char *)W->data + m * smelt_dtype_nbytes(W->dt, R), wr, R);
  } else if (!strcmp(sch, "int8")) {
    const int8_t *w = (const int8_t *)W->data + m * R;
    const float s = ((const float *)S->data)[m];
    for (int64_t k = 0; k < R; k++) wr[k] = (float)w[k] * s;
  } else {
    const int nf4 = !strcmp(sch, "nf4");
    const int64_t G = smelt_attr_i(n, "qgroup"), RB = (R + 1) / 2;
    const uint8_t *w = (const uint8_t *)W->data + m * RB;
    const float *s = (const float *)S->data + m * (R / G);
    for (int64_t k = 0; k < R; k++) {
      const int code = (w[k / 2] >> (4 * (k % 2))) & 15;
      wr[k] = s[k / G] * (nf4 ? nf4_tab[code] : (float)(code - 8));
    }
  }
}

/* QConv: each output channel's weight row is decoded to floats (as the C kernel does),
 * then the convolution sums in double like eval_conv. */
int eval_qconv(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *W = &in[1], *B = &in[2], *S = n->nin > 3 ? &in[3] : NULL;
  const int nsp = X->rank - 2;
  const int64_t *st, *pd, *dl, *kk;
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  smelt_attr_ints_get(n, "kernel", &kk);
  const int64_t grp = smelt_attr_i(n, "group"), N = X->dims[0], C = X->dims[1], M = W->dims[0], Cg = C / grp, Mg = M / grp;
  int64_t KK = 1, xsp = 1, osp = 1;
  for (int i = 0; i < nsp; i++) KK *= kk[i], xsp *= X->dims[2 + i], osp *= out->dims[2 + i];
  const int64_t R = Cg * KK;
  float *wr = malloc(sizeof(float) * (size_t)(R ? R : 1));
  if (!wr) return ev_fail(g, n, "out of memory");
  const float *x = (const float *)X->data, *b = (const float *)B->data;
  float *y = (float *)out->data;
  for (int64_t m = 0; m < M; m++) {
    qconv_row(n, W, S, m, R, wr);
    for (int64_t nb = 0; nb < N; nb++) {
      const float *xg = x + (nb * C + (m / Mg) * Cg) * xsp;
      for (int64_t o = 0; o < osp; o++) {
        int64_t oi[SMELT_MAX_RANK], r = o;
        for (int i = nsp - 1; i >= 0; i--) oi[i] = r % out->dims[2 + i], r /= out->dims[2 + i];
        double acc = b[m];
        for (int64_t c = 0; c < Cg; c++)
          for (int64_t kidx = 0; kidx < KK; kidx++) {
            int64_t xo = 0, rk = kidx, inside = 1, stride = 1;
            for (int i = nsp - 1; i >= 0; i--) {
              const int64_t ki = rk % kk[i], p = oi[i] * st[i] - pd[i] + ki * dl[i];
              rk /= kk[i];
              if (p < 0 || p >= X->dims[2 + i]) { inside = 0; break; }
              xo += p * stride;
              stride *= X->dims[2 + i];
            }
            if (inside) acc += (double)wr[c * KK + kidx] * xg[c * xsp + xo];
          }
        y[(nb * M + m) * osp + o] = (float)acc;
      }
    }
  }
  free(wr);
  return 0;
}
