/* ir/wino.c — the Winograd transform matrices (ir/wino.h) and the interpreter's Conv in
 * Winograd form (eval_conv_wino, called by eval_conv for a Conv with wino = m): all in
 * double, from the stored U, so a layout pass that transformed the weights changes the
 * interpreter's result only by U's rounding (one float rounding of G g Gᵀ per element). */
#include "eval.h"
#include "wino.h"

#include <stdlib.h>

static const double bt4[36] = {4, 0, -5, 0, 1, 0, 0, -4, -4, 1, 1, 0, 0, 4, -4, -1, 1, 0,
                               0, -2, -1, 2, 1, 0, 0, 2, -1, -2, 1, 0, 0, 4, 0, -5, 0, 1};
static const double g4[18] = {1 / 4.0, 0, 0, -1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0, 1 / 6.0, -1 / 6.0,
                              1 / 24.0, 1 / 12.0, 1 / 6.0, 1 / 24.0, -1 / 12.0, 1 / 6.0, 0, 0, 1};
static const double at4[24] = {1, 1, 1, 1, 1, 0, 0, 1, -1, 2, -2, 0, 0, 1, 1, 4, 4, 0, 0, 1, -1, 8, -8, 1};
static const double bt2[16] = {1, 0, -1, 0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 0, -1};
static const double g2[12] = {1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1};
static const double at2[8] = {1, 1, 1, 0, 0, 1, -1, -1};

int smelt_wino_mats(int m, const double **bt, const double **g, const double **at) {
  if (m != 2 && m != 4) return 0;
  *bt = m == 4 ? bt4 : bt2, *g = m == 4 ? g4 : g2, *at = m == 4 ? at4 : at2;
  return 1;
}

void smelt_wino_weights(int m, const float *w, int64_t M, int64_t C, float *u) {
  const double *bt, *g, *at;
  if (!smelt_wino_mats(m, &bt, &g, &at)) return;
  const int A = m + 2;
  for (int64_t k = 0; k < M; k++)
    for (int64_t c = 0; c < C; c++) {
      const float *gk = w + (k * C + c) * 9;
      for (int e = 0; e < A * A; e++) {
        double s = 0;
        for (int a = 0; a < 3; a++)
          for (int b = 0; b < 3; b++) s += g[e / A * 3 + a] * (double)gk[a * 3 + b] * g[e % A * 3 + b];
        u[(e * C + c) * M + k] = (float)s;
      }
    }
}

int eval_conv_wino(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0], *U = &in[1];
  const double *bt, *gm, *at;
  const int m = (int)smelt_attr_i(n, "wino");
  if (!smelt_wino_mats(m, &bt, &gm, &at)) return SMELT_ERR;
  const int A = m + 2, E = A * A;
  const int64_t *pd;
  smelt_attr_ints_get(n, "pads", &pd);
  const int64_t N = X->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3], M = U->dims[2];
  const int64_t OH = out->dims[2], OW = out->dims[3];
  double *acc = malloc(sizeof(double) * (size_t)(E * M + 2 * E));
  if (!acc) return SMELT_ERR;
  double *v = acc + E * M, *t = v + E;
  for (int64_t b = 0; b < N; b++)
    for (int64_t ty = 0; ty * m < OH; ty++)
      for (int64_t tx = 0; tx * m < OW; tx++) {
        for (int64_t i = 0; i < E * M; i++) acc[i] = 0;
        for (int64_t c = 0; c < C; c++) {
          for (int r = 0; r < A; r++) /* t = Bᵀ d */
            for (int q = 0; q < A; q++) {
              double s = 0;
              for (int k = 0; k < A; k++) {
                int64_t ih = ty * m + k - pd[0], iw = tx * m + q - pd[1];
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += bt[r * A + k] * ev_getf(X, ((b * C + c) * H + ih) * W + iw);
              }
              t[r * A + q] = s;
            }
          for (int r = 0; r < A; r++) /* v = t B */
            for (int q = 0; q < A; q++) {
              double s = 0;
              for (int k = 0; k < A; k++) s += t[r * A + k] * bt[q * A + k];
              v[r * A + q] = s;
            }
          for (int e = 0; e < E; e++)
            for (int64_t k = 0; k < M; k++) acc[e * M + k] += v[e] * ev_getf(U, (e * C + c) * M + k);
        }
        for (int64_t k = 0; k < M; k++)
          for (int i = 0; i < m && ty * m + i < OH; i++)
            for (int j = 0; j < m && tx * m + j < OW; j++) {
              double s = n->nin > 2 ? ev_getf(&in[2], k) : 0;
              for (int r = 0; r < A; r++)
                for (int q = 0; q < A; q++) s += at[i * A + r] * acc[(r * A + q) * M + k] * at[j * A + q];
              ev_setf(out, ((b * M + k) * OH + ty * m + i) * OW + tx * m + j, s);
            }
      }
  free(acc);
  return 0;
}
