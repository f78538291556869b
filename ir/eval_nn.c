/* ir/eval_nn.c — interpreter kernels for matmul, convolution, pooling, reductions,
 * arg-reductions and softmax.  Accumulation is in double (floats) or 64-bit
 * integers, rounded once at the store. */
#include "eval.h"
#include "pack.h"
#include "wino.h"

#include <math.h>

/* The activations A [R, K] as the MatMul by a weight of dtype wdt reads them: as they
 * are, or (SMELT_EVAL_ACT_Q8, q8_0 / q4_0 / q4_k weights) rounded as
 * runtime/smelt_simd.h's sms_quantize_ref does: per block of 32, d = max|x| / 127 and
 * q = x * (127 / max|x|) rounded to nearest even (float arithmetic, as the kernels),
 * the value d * q.  malloc'ed, or NULL. */
static double *act_q8_rows(const smelt_graph *g, smelt_dtype wdt, const smelt_tensor *A, int64_t R, int64_t K) {
  double *a = malloc(sizeof(double) * (size_t)(R * K > 0 ? R * K : 1));
  if (!a) return NULL;
  for (int64_t i = 0; i < R * K; i++) a[i] = ev_getf(A, i);
  int blocks = wdt == SMELT_DT_Q8_0 || wdt == SMELT_DT_Q4_0 || wdt == SMELT_DT_Q4_K;
  if (!(g->eval_flags & SMELT_EVAL_ACT_Q8) || !blocks || K % 32) return a;
  for (int64_t b = 0; b < R * K; b += 32) {
    float x[32], amax = 0;
    for (int l = 0; l < 32; l++) {
      x[l] = (float)a[b + l];
      amax = fmaxf(amax, fabsf(x[l]));
    }
    const float id = amax > 0 ? 127.0f / amax : 0.0f, d = amax / 127.0f;
    for (int l = 0; l < 32; l++) {
      const float v = x[l] * id; /* a float product, as the kernels round it */
      a[b + l] = (double)d * (double)rintf(v);
    }
  }
  return a;
}

/* A f32 [..., K] times the rows of a weight B [N, K] stored as blocks / f16 / bf16
 * (trans_b = 1): each row of B is dequantized with the runtime's own function, then
 * the products are summed in double. */
static int eval_matmul_weight(const smelt_graph *g, const smelt_node *n, const smelt_tensor *A, const smelt_tensor *B, smelt_tensor *out) {
  int64_t N = B->dims[0], K = B->dims[1], R = 1;
  for (int k = 0; k < A->rank - 1; k++) R *= A->dims[k];
  size_t rb = (size_t)smelt_dtype_nbytes(B->dt, K);
  float *w = malloc(sizeof(float) * (size_t)(K ? K : 1));
  double *a = act_q8_rows(g, B->dt, A, R, K);
  if (!w || !a) { free(w); free(a); return ev_fail(g, n, "out of memory"); }
  for (int64_t j = 0; j < N; j++) {
    smelt_dequantize_row(B->dt, (const char *)B->data + j * rb, w, K);
    for (int64_t r = 0; r < R; r++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += (double)w[k] * a[r * K + k];
      ev_setf(out, r * N + j, acc);
    }
  }
  free(w);
  free(a);
  return 0;
}

/* A f32 [..., K] times a weight B [K, N] stored in panels (pack = P, ir/pack.h): each
 * element is read at its packed index, products summed in double. */
static int eval_matmul_packed(const smelt_node *n, const smelt_tensor *A, const smelt_tensor *B, smelt_tensor *out) {
  int64_t K = B->dims[0], N = B->dims[1], P = smelt_attr_i(n, "pack"), R = 1;
  for (int k = 0; k < A->rank - 1; k++) R *= A->dims[k];
  for (int64_t r = 0; r < R; r++)
    for (int64_t j = 0; j < N; j++) {
      double acc = 0;
      for (int64_t k = 0; k < K; k++) acc += ev_getf(A, r * K + k) * ev_getf(B, smelt_pack_index(k, j, K, N, P));
      ev_setf(out, r * N + j, acc);
    }
  return 0;
}

int eval_matmul(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *A = &in[0], *B = &in[1];
  if (smelt_attr_i(n, "pack")) return eval_matmul_packed(n, A, B, out);
  if (smelt_dtype_is_weight_for(A->dt, B->dt)) return eval_matmul_weight(g, n, A, B, out);
  int tb = (int)smelt_attr_i(n, "trans_b"), r = out->rank, isf = smelt_dtype_is_float(A->dt);
  int64_t M = A->dims[A->rank - 2], K = A->dims[A->rank - 1], N = out->dims[r - 1];
  /* batch strides with broadcasting */
  int64_t sa[SMELT_MAX_RANK], sb[SMELT_MAX_RANK], bd[SMELT_MAX_RANK];
  smelt_tensor a2 = *A, b2 = *B;
  a2.rank -= 2; b2.rank -= 2;
  ev_bcast_strides(&a2, r - 2, out->dims, sa);
  ev_bcast_strides(&b2, r - 2, out->dims, sb);
  int64_t nb = 1;
  for (int k = 0; k < r - 2; k++) { bd[k] = out->dims[k]; nb *= bd[k]; }
  for (int64_t bi = 0; bi < nb; bi++) {
    int64_t oa = 0, ob = 0, rem = bi;
    for (int k = r - 3; k >= 0; k--) { int64_t ix = rem % bd[k]; rem /= bd[k]; oa += ix * sa[k]; ob += ix * sb[k]; }
    oa *= M * K; ob *= K * N;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) {
        double acc = 0;
        int64_t iacc = 0;
        for (int64_t k = 0; k < K; k++) {
          int64_t ai = oa + i * K + k, bi2 = ob + (tb ? j * K + k : k * N + j);
          if (isf) acc += ev_getf(A, ai) * ev_getf(B, bi2);
          else iacc = (int64_t)((uint64_t)iacc + (uint64_t)ev_geti(A, ai) * (uint64_t)ev_geti(B, bi2));
        }
        int64_t o = bi * M * N + i * N + j;
        if (isf) ev_setf(out, o, acc);
        else ev_seti(out, o, iacc);
      }
  }
  return 0;
}

/* Iterates the spatial index space of `dims` (nsp dims): returns 0 when done. */
static int next_index(int64_t *idx, const int64_t *dims, int nsp) {
  for (int k = nsp - 1; k >= 0; k--) {
    if (++idx[k] < dims[k]) return 1;
    idx[k] = 0;
  }
  return 0;
}

int eval_conv(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  if (smelt_attr_i(n, "wino")) return eval_conv_wino(g, n, in, out); /* weights in Winograd form (ir/wino.h) */
  const smelt_tensor *X = &in[0], *W = &in[1];
  int nsp = X->rank - 2, isf = smelt_dtype_is_float(X->dt);
  const int64_t *st, *pd, *dl;
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  int64_t grp = smelt_attr_i(n, "group");
  int64_t N = X->dims[0], C = X->dims[1], M = W->dims[0], Cg = C / grp, Mg = M / grp;
  int64_t xs[SMELT_MAX_RANK], ws[SMELT_MAX_RANK], os[SMELT_MAX_RANK];
  ev_strides(X->dims, X->rank, xs);
  ev_strides(W->dims, W->rank, ws);
  ev_strides(out->dims, out->rank, os);
  for (int64_t b = 0; b < N; b++)
    for (int64_t m = 0; m < M; m++) {
      int64_t gi = m / Mg;
      int64_t oi[SMELT_MAX_RANK] = {0};
      do {
        double acc = n->nin > 2 ? ev_getf(&in[2], m) : 0;
        int64_t iacc = n->nin > 2 && !isf ? ev_geti(&in[2], m) : 0;
        for (int64_t c = 0; c < Cg; c++) {
          int64_t ki[SMELT_MAX_RANK] = {0};
          do {
            int64_t xo = b * xs[0] + (gi * Cg + c) * xs[1], wo = m * ws[0] + c * ws[1], inside = 1;
            for (int k = 0; k < nsp; k++) {
              int64_t p = oi[k] * st[k] - pd[k] + ki[k] * dl[k];
              if (p < 0 || p >= X->dims[2 + k]) { inside = 0; break; }
              xo += p * xs[2 + k];
              wo += ki[k] * ws[2 + k];
            }
            if (!inside) continue;
            if (isf) acc += ev_getf(X, xo) * ev_getf(W, wo);
            else iacc = (int64_t)((uint64_t)iacc + (uint64_t)ev_geti(X, xo) * (uint64_t)ev_geti(W, wo));
          } while (next_index(ki, W->dims + 2, nsp));
        }
        int64_t o = b * os[0] + m * os[1];
        for (int k = 0; k < nsp; k++) o += oi[k] * os[2 + k];
        if (isf) ev_setf(out, o, acc);
        else ev_seti(out, o, iacc);
      } while (next_index(oi, out->dims + 2, nsp));
    }
  return 0;
}

int eval_pool(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  int nsp = X->rank - 2, ismax = n->op == SMELT_OP_MAX_POOL;
  const int64_t *kk, *st, *pd, *dl;
  smelt_attr_ints_get(n, "kernel", &kk);
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  int incl = !ismax && smelt_attr_i(n, "count_include_pad");
  int64_t xs[SMELT_MAX_RANK], os[SMELT_MAX_RANK];
  ev_strides(X->dims, X->rank, xs);
  ev_strides(out->dims, out->rank, os);
  int isf = smelt_dtype_is_float(X->dt), colmajor = smelt_attr_i(n, "storage_order") != 0;
  smelt_tensor *ind = n->nout > 1 && out[1].data ? &out[1] : NULL; /* MaxPool's indices */
  for (int64_t b = 0; b < X->dims[0]; b++)
    for (int64_t c = 0; c < X->dims[1]; c++) {
      int64_t oi[SMELT_MAX_RANK] = {0};
      do {
        double acc = ismax ? -INFINITY : 0;
        int64_t imax = INT64_MIN, cnt = 0, padcnt = 0, amax = -1;
        int64_t ki[SMELT_MAX_RANK] = {0};
        do {
          int64_t xo = b * xs[0] + c * xs[1], inside = 1, inpad = 1;
          for (int k = 0; k < nsp; k++) {
            int64_t p = oi[k] * st[k] - pd[k] + ki[k] * dl[k];
            if (p < 0 || p >= X->dims[2 + k]) inside = 0;
            if (p < -pd[k] || p >= X->dims[2 + k] + pd[nsp + k]) inpad = 0;
            xo += p * xs[2 + k];
          }
          padcnt += inpad;
          if (!inside) continue;
          cnt++;
          int64_t at = xo; /* flat index of the position, for MaxPool's indices */
          if (colmajor) {
            at = b * xs[0] + c * xs[1];
            for (int k = nsp - 1; k >= 0; k--) at = at + (oi[k] * st[k] - pd[k] + ki[k] * dl[k]) * (xs[1] / xs[2 + k] / X->dims[2 + k]);
          }
          if (amax < 0) amax = at;
          if (!isf) { int64_t v = ev_geti(X, xo); if (v > imax) { imax = v; amax = at; } continue; }
          double v = ev_getf(X, xo);
          if (ismax) { if (v > acc || (isnan(v) && !isnan(acc))) { acc = v; amax = at; } }
          else acc += v;
        } while (next_index(ki, kk, nsp));
        int64_t o = b * os[0] + c * os[1];
        for (int k = 0; k < nsp; k++) o += oi[k] * os[2 + k];
        if (ind) ((int64_t *)ind->data)[o] = amax;
        if (!out[0].data) continue;
        if (!isf) ev_seti(out, o, imax);
        else ev_setf(out, o, ismax ? acc : acc / (double)(incl ? padcnt : cnt ? cnt : 1));
      } while (next_index(oi, out->dims + 2, nsp));
    }
  return 0;
}

/* Reductions: one accumulator per output element, inputs visited in order. */
int eval_reduce(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0];
  const int64_t *axes;
  int na = smelt_attr_ints_get(n, "axes", &axes), r = X->rank, isf = smelt_dtype_is_float(X->dt);
  int red[SMELT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + r : axes[i]] = 1;
  if (!na)
    for (int i = 0; i < r; i++) red[i] = 1;
  /* output strides over the input's axes (0 on reduced axes) */
  int64_t ost[SMELT_MAX_RANK], s = 1, cnt = 1;
  for (int i = r - 1; i >= 0; i--) {
    ost[i] = red[i] ? 0 : s;
    if (!red[i]) s *= X->dims[i];
    else cnt *= X->dims[i];
  }
  int64_t no = smelt_tensor_elems(out);
  double *fa = isf ? malloc(sizeof(double) * (no ? no : 1)) : NULL;
  int64_t *ia = isf ? NULL : malloc(sizeof(int64_t) * (no ? no : 1));
  if (!fa && !ia) return ev_fail(g, n, "out of memory");
  for (int64_t o = 0; o < no; o++)
    if (isf) fa[o] = ev_scalar_f(0, n, 0, 0, 0, 0, 0, 0, cnt);
    else ia[o] = ev_scalar_i(0, n, X->dt, 0, 0, 0, 0, cnt);
  int64_t idx[SMELT_MAX_RANK] = {0}, o = 0, total = smelt_tensor_elems(X);
  for (int64_t i = 0; i < total; i++) {
    if (isf) fa[o] = ev_scalar_f(1, n, ev_getf(X, i), 0, fa[o], 0, 0, 0, cnt);
    else ia[o] = ev_scalar_i(1, n, X->dt, ev_geti(X, i), 0, ia[o], 0, cnt);
    for (int k = r - 1; k >= 0; k--) {
      o += ost[k];
      if (++idx[k] < X->dims[k]) break;
      o -= ost[k] * idx[k];
      idx[k] = 0;
    }
  }
  for (int64_t q = 0; q < no; q++)
    if (isf) ev_setf(out, q, ev_scalar_f(2, n, 0, 0, fa[q], 0, 0, 0, cnt));
    else ev_seti(out, q, ev_scalar_i(2, n, X->dt, 0, 0, ia[q], 0, cnt));
  free(fa);
  free(ia);
  return 0;
}

int eval_argreduce(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis"), last = (int)smelt_attr_i(n, "select_last_index");
  if (ax < 0) ax += r;
  int isf = smelt_dtype_is_float(X->dt);
  int64_t outer = 1, inner = 1, D = X->dims[ax];
  for (int i = 0; i < ax; i++) outer *= X->dims[i];
  for (int i = ax + 1; i < r; i++) inner *= X->dims[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t best = 0, base = o * D * inner + i;
      for (int64_t d = 1; d < D; d++) {
        int64_t xi = base + d * inner, bi = base + best * inner;
        int better, equal;
        if (isf) {
          double x = ev_getf(X, xi), b = ev_getf(X, bi);
          better = ev_scalar_f(0, n, x, 0, 0, b, 0, 0, 0) != 0;
          equal = x == b;
        } else {
          int64_t x = ev_geti(X, xi), b = ev_geti(X, bi);
          better = ev_scalar_i(0, n, X->dt, x, 0, 0, b, 0) != 0;
          equal = x == b;
        }
        if (better || (last && equal)) best = d;
      }
      ((int64_t *)out->data)[o * inner + i] = best;
    }
  return 0;
}

int eval_softmax(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int64_t outer = 1, inner = 1, D = X->dims[ax];
  for (int i = 0; i < ax; i++) outer *= X->dims[i];
  for (int i = ax + 1; i < r; i++) inner *= X->dims[i];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t base = o * D * inner + i;
      double m = -INFINITY, s = 0;
      for (int64_t d = 0; d < D; d++) m = fmax(m, ev_getf(X, base + d * inner));
      for (int64_t d = 0; d < D; d++) s += exp(ev_getf(X, base + d * inner) - m);
      for (int64_t d = 0; d < D; d++) {
        double x = ev_getf(X, base + d * inner);
        ev_setf(out, base + d * inner, ev_scalar_f(0, n, x, 0, 0, 0, m, s, D));
      }
    }
  return 0;
}
