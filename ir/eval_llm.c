/* ir/eval_llm.c — interpreter kernels of the decoder ops: RMSNorm, LayerNorm, RoPE,
 * KV-cache writes, causal attention over the cache, take-last.  Double accumulation. */
#include "eval.h"
#include "llm.h"

#include <math.h>

static int64_t pos_of(const smelt_tensor *p) { return ev_geti(p, 0); }

int eval_rms_norm(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0], *W = &in[1];
  int64_t D = X->dims[X->rank - 1], rows = smelt_tensor_elems(X) / (D ? D : 1);
  double eps = smelt_attr_f(n, "eps"), one = smelt_attr_i(n, "add_one") ? 1 : 0;
  for (int64_t r = 0; r < rows; r++) {
    double ss = 0;
    for (int64_t i = 0; i < D; i++) { double x = ev_getf(X, r * D + i); ss += x * x; }
    double inv = 1 / sqrt(ss / (double)D + eps);
    for (int64_t i = 0; i < D; i++) ev_setf(out, r * D + i, ev_getf(X, r * D + i) * inv * (one + ev_getf(W, i)));
  }
  return 0;
}

int eval_layer_norm(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0], *W = &in[1];
  int64_t D = X->dims[X->rank - 1], rows = smelt_tensor_elems(X) / (D ? D : 1);
  double eps = smelt_attr_f(n, "eps");
  for (int64_t r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < D; i++) m += ev_getf(X, r * D + i);
    m /= (double)D;
    for (int64_t i = 0; i < D; i++) { double d = ev_getf(X, r * D + i) - m; v += d * d; }
    double inv = 1 / sqrt(v / (double)D + eps);
    for (int64_t i = 0; i < D; i++) {
      double y = (ev_getf(X, r * D + i) - m) * inv * ev_getf(W, i);
      if (n->nin > 2) y += ev_getf(&in[2], i);
      ev_setf(out, r * D + i, y);
    }
  }
  return 0;
}

int eval_rope(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0];
  int64_t T = X->dims[0], H = X->dims[1], D = X->dims[2], dims = smelt_attr_i(n, "dims"), half = dims / 2;
  int neox = (int)smelt_attr_i(n, "neox");
  double f[4096];
  if (half > 4096) return ev_fail(g, n, "too many rotated dims");
  smelt_rope_inv_freq(n, f);
  int64_t p0 = pos_of(&in[1]);
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++) {
      int64_t b = (t * H + h) * D;
      for (int64_t i = 0; i < D; i++) ev_setf(out, b + i, ev_getf(X, b + i));
      for (int64_t i = 0; i < half; i++) {
        double a = (double)(p0 + t) * f[i], c = cos(a), s = sin(a);
        int64_t i0 = neox ? i : 2 * i, i1 = neox ? i + half : 2 * i + 1;
        double x0 = ev_getf(X, b + i0), x1 = ev_getf(X, b + i1);
        ev_setf(out, b + i0, x0 * c - x1 * s);
        ev_setf(out, b + i1, x0 * s + x1 * c);
      }
    }
  return 0;
}

/* out[0] shares the cache's buffer (OPF_INPLACE): write the new rows into it */
int eval_kv_write(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[1];
  int64_t C = out->dims[0], row = out->dims[1] * out->dims[2], T = X->dims[0], p = pos_of(&in[2]);
  if (p < 0 || p + T > C) return ev_fail(g, n, "positions past the end of the cache");
  for (int64_t i = 0; i < T * row; i++) ev_setf(out, p * row + i, ev_getf(X, i));
  return 0;
}

int eval_attention(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *Q = &in[0], *K = &in[1], *V = &in[2];
  int64_t T = Q->dims[0], H = Q->dims[1], D = Q->dims[2], C = K->dims[0], Hkv = K->dims[1], grp = H / Hkv;
  int64_t p0 = pos_of(&in[3]), win = smelt_attr_i(n, "window");
  double scale = smelt_attr_f(n, "scale"), cap = smelt_attr_f(n, "softcap");
  if (p0 < 0 || p0 + T > C) return ev_fail(g, n, "positions past the end of the cache");
  double *s = malloc(sizeof(double) * (size_t)(C ? C : 1));
  if (!s) return ev_fail(g, n, "out of memory");
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < H; h++) {
      int64_t p = p0 + t, kh = h / grp, lo = win > 0 && p - win + 1 > 0 ? p - win + 1 : 0;
      double m = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= p; j++) {
        double d = 0;
        for (int64_t i = 0; i < D; i++) d += ev_getf(Q, (t * H + h) * D + i) * ev_getf(K, (j * Hkv + kh) * D + i);
        d *= scale;
        if (cap > 0) d = cap * tanh(d / cap);
        s[j] = d;
        if (d > m) m = d;
      }
      for (int64_t j = lo; j <= p; j++) { s[j] = exp(s[j] - m); sum += s[j]; }
      for (int64_t i = 0; i < D; i++) {
        double y = 0;
        for (int64_t j = lo; j <= p; j++) y += s[j] * ev_getf(V, (j * Hkv + kh) * D + i);
        ev_setf(out, (t * H + h) * D + i, y / sum);
      }
    }
  free(s);
  return 0;
}

int eval_take_last(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g; (void)n;
  const smelt_tensor *X = &in[0];
  size_t row = (size_t)smelt_dtype_nbytes(X->dt, smelt_tensor_elems(out));
  if (X->dims[0] > 0) memcpy(out->data, (const char *)X->data + (size_t)(X->dims[0] - 1) * row, row);
  return 0;
}

int eval_positions(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g; (void)n;
  int64_t p = pos_of(&in[0]);
  for (int64_t i = 0; i < out->dims[0]; i++) ev_seti(out, i, p + i);
  return 0;
}
