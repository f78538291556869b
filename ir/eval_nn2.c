/* ir/eval_nn2.c — interpreter kernels for resize, transposed convolution, max
 * unpooling and determinants, and the resize tap tables (ir/nn2.h) the backends
 * share.  Floats accumulate in double and are rounded once at the store. */
#include "eval.h"
#include "nn2.h"

#include <math.h>

/* ---- resize taps ------------------------------------------------------------------- */
/* Input coordinate of output index xo (ONNX's formulas, evaluated in the same order);
 * *outside is set when tf_crop_and_resize leaves the input. */
static double resize_coord(const char *cm, int64_t xo, double scale, int64_t in, int64_t out, double r0, double r1, int *outside) {
  double x = (double)xo, ow = scale * (double)in;
  *outside = 0;
  if (!strcmp(cm, "align_corners")) return ow == 1 ? 0.0 : (double)(xo * (in - 1)) / (ow - 1);
  if (!strcmp(cm, "asymmetric")) return x / scale;
  if (!strcmp(cm, "tf_half_pixel_for_nn")) return (x + 0.5) / scale;
  if (!strcmp(cm, "pytorch_half_pixel")) return ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (!strcmp(cm, "half_pixel_symmetric")) {
    double adj = (double)out / ow, center = (double)in / 2;
    return center * (1 - adj) + (x + 0.5) / scale - 0.5;
  }
  if (!strcmp(cm, "tf_crop_and_resize")) {
    double v = ow == 1 ? (r1 - r0) * (double)(in - 1) / 2 : x * (r1 - r0) * (double)(in - 1) / (ow - 1);
    v += r0 * (double)(in - 1);
    *outside = v < 0 || v > (double)(in - 1);
    return v;
  }
  return (x + 0.5) / scale - 0.5; /* half_pixel */
}

static void cubic_coeffs(double r, double A, double *c) {
  double s = 1 - r;
  c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
  c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
  c[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
  c[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
}

int smelt_resize_taps(const smelt_node *n, int axis, int64_t in, int64_t out, int64_t *idx, double *w, unsigned char *ext) {
  const smelt_attr *sc = smelt_node_attr(n, "scales"), *roi = smelt_node_attr(n, "roi");
  const char *mode = smelt_attr_s(n, "mode"), *cm = smelt_attr_s(n, "coord"), *nm = smelt_attr_s(n, "nearest_mode");
  double scale = sc && axis < sc->n ? sc->fs[axis] : 1, A = smelt_attr_f(n, "cubic_coeff_a");
  int r = roi ? roi->n / 2 : 0, excl = smelt_attr_i(n, "exclude_outside") != 0;
  double r0 = r ? roi->fs[axis] : 0, r1 = r ? roi->fs[r + axis] : 1;
  int T = !strcmp(mode, "nearest") ? 1 : !strcmp(mode, "linear") ? 2 : 4;
  for (int64_t o = 0; o < out; o++) {
    int outside;
    double x = resize_coord(cm, o, scale, in, out, r0, r1, &outside);
    int64_t *ix = idx + o * T;
    double *wt = w + o * T;
    ext[o] = (unsigned char)outside;
    if (outside || in == 0) {
      for (int t = 0; t < T; t++) { ix[t] = 0; wt[t] = 0; }
      continue;
    }
    /* the left neighbour f and ratio in (0, 1]: an integral x is f + 1 */
    double fl = floor(x);
    int64_t f = x == fl ? (int64_t)fl - 1 : (int64_t)fl;
    double ratio = x == fl ? 1.0 : x - fl;
    if (T == 1) {
      int up = 1;
      if (x != fl) {
        if (!strcmp(nm, "round_prefer_ceil")) up = ratio >= 0.5;
        else if (!strcmp(nm, "floor")) up = 0;
        else if (!strcmp(nm, "ceil")) up = 1;
        else if (!strcmp(nm, "simple")) up = scale < 1;
        else up = ratio > 0.5;
      }
      ix[0] = f + up;
      wt[0] = 1;
    } else if (T == 2) {
      ix[0] = f;
      ix[1] = f + 1;
      wt[0] = 1 - ratio;
      wt[1] = ratio;
    } else {
      cubic_coeffs(ratio, A, wt);
      for (int t = 0; t < 4; t++) ix[t] = f - 1 + t;
      if (excl) {
        double sum = 0;
        for (int t = 0; t < 4; t++) {
          if (ix[t] < 0 || ix[t] >= in) wt[t] = 0;
          sum += wt[t];
        }
        for (int t = 0; t < 4; t++) wt[t] /= sum;
      }
    }
    for (int t = 0; t < T; t++) ix[t] = ix[t] < 0 ? 0 : ix[t] >= in ? in - 1 : ix[t];
  }
  return T;
}

/* ---- resize ----------------------------------------------------------------------------- */
int eval_resize(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0];
  int r = X->rank, T[SMELT_MAX_RANK];
  int64_t *idx[SMELT_MAX_RANK] = {0}, xs[SMELT_MAX_RANK], total = smelt_tensor_elems(out), combos = 1;
  int isf = smelt_dtype_is_float(X->dt);
  double *w[SMELT_MAX_RANK] = {0};
  unsigned char *ext[SMELT_MAX_RANK] = {0};
  int rc = 0;
  ev_strides(X->dims, r, xs);
  for (int a = 0; a < r && !rc; a++) {
    int64_t m = out->dims[a] ? out->dims[a] : 1;
    idx[a] = malloc(sizeof(int64_t) * SMELT_RESIZE_MAXTAPS * m);
    w[a] = malloc(sizeof(double) * SMELT_RESIZE_MAXTAPS * m);
    ext[a] = malloc((size_t)m);
    if (!idx[a] || !w[a] || !ext[a]) { rc = ev_fail(g, n, "out of memory"); break; }
    T[a] = smelt_resize_taps(n, a, X->dims[a], out->dims[a], idx[a], w[a], ext[a]);
    combos *= T[a];
  }
  smelt_tensor ev = {.dt = X->dt, .rank = 0};
  unsigned char eb[16];
  ev.data = eb;
  if (isf) ev_setf(&ev, 0, smelt_attr_f(n, "extrapolation_value"));
  else ev_seti(&ev, 0, (int64_t)smelt_attr_f(n, "extrapolation_value"));
  size_t b = (size_t)smelt_dtype_bytes(X->dt);
  int64_t oi[SMELT_MAX_RANK] = {0};
  for (int64_t o = 0; o < total && !rc; o++) {
    int outside = 0;
    for (int a = 0; a < r; a++) outside |= ext[a][oi[a]];
    if (outside) memcpy((char *)out->data + o * b, eb, b);
    else if (combos == 1) { /* nearest: an exact copy, any dtype */
      int64_t off = 0;
      for (int a = 0; a < r; a++) off += idx[a][oi[a] * T[a]] * xs[a];
      memcpy((char *)out->data + o * b, (const char *)X->data + off * b, b);
    } else {
      double acc = 0;
      for (int64_t c = 0; c < combos; c++) {
        int64_t rem = c, off = 0;
        int t[SMELT_MAX_RANK];
        double wt = 1;
        for (int a = r - 1; a >= 0; a--) {
          t[a] = (int)(rem % T[a]);
          rem /= T[a];
        }
        for (int a = 0; a < r; a++) { /* the weights' product in axis order, as the C kernels do */
          off += idx[a][oi[a] * T[a] + t[a]] * xs[a];
          if (T[a] > 1) wt *= w[a][oi[a] * T[a] + t[a]];
        }
        acc += wt * (isf ? ev_getf(X, off) : (double)ev_geti(X, off));
      }
      ev_setf(out, o, isf ? acc : nearbyint(acc)); /* integers: rounded half to even, saturated */
    }
    for (int a = r - 1; a >= 0; a--) {
      if (++oi[a] < out->dims[a]) break;
      oi[a] = 0;
    }
  }
  for (int a = 0; a < r; a++) { free(idx[a]); free(w[a]); free(ext[a]); }
  return rc;
}

/* ---- transposed convolution: scatter every input element through the kernel ---------- */
/* Advances the row-major index idx over dims (nsp of them); 0 when it wraps. */
static int next_ix(int64_t *idx, const int64_t *dims, int nsp) {
  for (int k = nsp - 1; k >= 0; k--) {
    if (++idx[k] < dims[k]) return 1;
    idx[k] = 0;
  }
  return 0;
}

int eval_conv_transpose(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *W = &in[1];
  int nsp = X->rank - 2;
  const int64_t *st, *pd, *dl;
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  int64_t grp = smelt_attr_i(n, "group"), N = X->dims[0], C = X->dims[1], M = out->dims[1], Cg = C / grp, Mg = M / grp;
  int64_t xs[SMELT_MAX_RANK], ws[SMELT_MAX_RANK], os[SMELT_MAX_RANK], total = smelt_tensor_elems(out);
  ev_strides(X->dims, X->rank, xs);
  ev_strides(W->dims, W->rank, ws);
  ev_strides(out->dims, out->rank, os);
  double *acc = malloc(sizeof(double) * (total ? total : 1));
  if (!acc) return ev_fail(g, n, "out of memory");
  for (int64_t o = 0; o < total; o++) acc[o] = n->nin > 2 ? ev_getf(&in[2], (o / os[1]) % M) : 0;
  for (int64_t b = 0; b < N; b++)
    for (int64_t c = 0; c < C; c++) {
      int64_t gi = c / Cg;
      int64_t xi[SMELT_MAX_RANK] = {0};
      do {
        int64_t xo = b * xs[0] + c * xs[1];
        for (int k = 0; k < nsp; k++) xo += xi[k] * xs[2 + k];
        double xv = ev_getf(X, xo);
        for (int64_t mi = 0; mi < Mg; mi++) {
          int64_t m = gi * Mg + mi;
          int64_t ki[SMELT_MAX_RANK] = {0};
          do {
            int64_t oo = b * os[0] + m * os[1], wo = c * ws[0] + mi * ws[1], inside = 1;
            for (int k = 0; k < nsp; k++) {
              int64_t p = xi[k] * st[k] - pd[k] + ki[k] * dl[k];
              if (p < 0 || p >= out->dims[2 + k]) { inside = 0; break; }
              oo += p * os[2 + k];
              wo += ki[k] * ws[2 + k];
            }
            if (inside) acc[oo] += xv * ev_getf(W, wo);
          } while (next_ix(ki, W->dims + 2, nsp));
        }
      } while (next_ix(xi, X->dims + 2, nsp));
    }
  for (int64_t o = 0; o < total; o++) ev_setf(out, o, acc[o]);
  free(acc);
  return 0;
}

/* ---- max unpooling: a scatter into zeros --------------------------------------------- */
int eval_max_unpool(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1];
  int64_t total = smelt_tensor_elems(out), ne = smelt_tensor_elems(X);
  size_t b = (size_t)smelt_dtype_bytes(X->dt);
  memset(out->data, 0, (size_t)total * b);
  for (int64_t j = 0; j < ne; j++) {
    int64_t ix = ev_geti(I, j);
    if (ix < 0 || ix >= total) return ev_fail(g, n, "index out of range");
    memcpy((char *)out->data + ix * b, (const char *)X->data + j * b, b);
  }
  return 0;
}

/* ---- determinant: LU with partial pivoting, in double ---------------------------------- */
int eval_det(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0];
  int64_t k = X->dims[X->rank - 1], nm = smelt_tensor_elems(out);
  double *a = malloc(sizeof(double) * (k > 0 ? k * k : 1));
  if (!a) return ev_fail(g, n, "out of memory");
  for (int64_t m = 0; m < nm; m++) {
    for (int64_t i = 0; i < k * k; i++) a[i] = ev_getf(X, m * k * k + i);
    double det = 1;
    for (int64_t c = 0; c < k && det != 0; c++) {
      int64_t p = c;
      for (int64_t i = c + 1; i < k; i++)
        if (fabs(a[i * k + c]) > fabs(a[p * k + c])) p = i;
      if (a[p * k + c] == 0) { det = 0; break; }
      if (p != c) {
        for (int64_t j = 0; j < k; j++) { double t = a[c * k + j]; a[c * k + j] = a[p * k + j]; a[p * k + j] = t; }
        det = -det;
      }
      det *= a[c * k + c];
      for (int64_t i = c + 1; i < k; i++) {
        double f = a[i * k + c] / a[c * k + c];
        for (int64_t j = c + 1; j < k; j++) a[i * k + j] -= f * a[c * k + j];
      }
    }
    ev_setf(out, m, det);
  }
  free(a);
  return 0;
}
