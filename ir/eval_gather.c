/* ir/eval_gather.c — interpreter kernels for index-driven ops: GatherElements,
 * ScatterElements, GatherND, ScatterND, Trilu, CumSum, OneHot, TopK and
 * ReverseSequence.
 *
 * Indices are checked here (an index out of range is an error, never a wild
 * access); negative indices count from the end of their dim once.  Scatters copy
 * the input, then apply the updates in the order of the indices, combining with
 * the reduction one element at a time in the output's dtype, as the C kernels do.
 * Floats accumulate in double, integers in 64 bits with wrap-around. */
#include "eval.h"

#include <math.h>

static size_t esz(const smelt_tensor *t) { return (size_t)smelt_dtype_bytes(t->dt); }

static int64_t prod(const int64_t *d, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}

/* Steps a row-major multi-index over dims (the last axis fastest). */
static void step(int64_t *idx, const int64_t *dims, int r) {
  for (int k = r - 1; k >= 0; k--) {
    if (++idx[k] < dims[k]) return;
    idx[k] = 0;
  }
}

/* Index ix into a dim of size d, wrapped once when negative; -1 when out of range. */
static int64_t wrap(int64_t ix, int64_t d) {
  if (ix < 0) ix += d;
  return ix < 0 || ix >= d ? -1 : ix;
}

static int is_unsigned(smelt_dtype dt) { return !smelt_dtype_is_float(dt) && !(smelt_dtype_flags(dt) & DTF_SIGNED); }

/* ---- scatter reductions -------------------------------------------------------------- */
enum { RED_NONE, RED_ADD, RED_MUL, RED_MIN, RED_MAX };

static int reduction(const smelt_node *n) {
  const char *r = smelt_attr_s(n, "reduction");
  return !strcmp(r, "add") ? RED_ADD : !strcmp(r, "mul") ? RED_MUL : !strcmp(r, "min") ? RED_MIN : !strcmp(r, "max") ? RED_MAX : RED_NONE;
}

/* y[at] = y[at] (op) u[from] */
static void combine(smelt_tensor *y, int64_t at, const smelt_tensor *u, int64_t from, int red) {
  if (red == RED_NONE) {
    memcpy((char *)y->data + at * esz(y), (const char *)u->data + from * esz(u), esz(y));
  } else if (smelt_dtype_is_float(y->dt)) {
    double a = ev_getf(y, at), b = ev_getf(u, from);
    ev_setf(y, at, red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MIN ? (b < a ? b : a) : (b > a ? b : a));
  } else {
    int64_t a = ev_geti(y, at), b = ev_geti(u, from);
    int lt = is_unsigned(y->dt) ? (uint64_t)b < (uint64_t)a : b < a;
    int64_t r = red == RED_ADD ? (int64_t)((uint64_t)a + (uint64_t)b) : red == RED_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
              : red == RED_MIN ? (lt ? b : a) : (lt || a == b ? a : b);
    ev_seti(y, at, r);
  }
}

/* ---- GatherElements / ScatterElements ------------------------------------------------- */
/* Offset into X of the element that position idx of the indices names (ix on the axis). */
static int64_t elem_offset(const int64_t *xs, const int64_t *idx, int r, int ax, int64_t ix) {
  int64_t off = 0;
  for (int k = 0; k < r; k++) off += (k == ax ? ix : idx[k]) * xs[k];
  return off;
}

int eval_gather_elements(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int64_t xs[SMELT_MAX_RANK], idx[SMELT_MAX_RANK] = {0}, total = smelt_tensor_elems(I);
  ev_strides(X->dims, r, xs);
  size_t b = esz(X);
  for (int64_t o = 0; o < total; o++, step(idx, I->dims, r)) {
    int64_t ix = wrap(ev_geti(I, o), X->dims[ax]);
    if (ix < 0) return ev_fail(g, n, "index out of range");
    memcpy((char *)out->data + o * b, (const char *)X->data + elem_offset(xs, idx, r, ax, ix) * b, b);
  }
  return 0;
}

int eval_scatter_elements(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1], *U = &in[2];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis"), red = reduction(n);
  if (ax < 0) ax += r;
  memcpy(out->data, X->data, (size_t)smelt_tensor_elems(X) * esz(X));
  int64_t xs[SMELT_MAX_RANK], idx[SMELT_MAX_RANK] = {0}, total = smelt_tensor_elems(I);
  ev_strides(X->dims, r, xs);
  for (int64_t o = 0; o < total; o++, step(idx, I->dims, r)) {
    int64_t ix = wrap(ev_geti(I, o), X->dims[ax]);
    if (ix < 0) return ev_fail(g, n, "index out of range");
    combine(out, elem_offset(xs, idx, r, ax, ix), U, o, red);
  }
  return 0;
}

/* ---- GatherND / ScatterND --------------------------------------------------------------- */
/* Offset into X (from dim `first` on) of the index tuple I[t0 .. t0+m); -1 when out of range. */
static int64_t tuple_offset(const smelt_tensor *X, const smelt_tensor *I, int64_t t0, int first, int64_t m) {
  int64_t xs[SMELT_MAX_RANK], off = 0;
  ev_strides(X->dims, X->rank, xs);
  for (int64_t t = 0; t < m; t++) {
    int64_t ix = wrap(ev_geti(I, t0 + t), X->dims[first + t]);
    if (ix < 0) return -1;
    off += ix * xs[first + t];
  }
  return off;
}

int eval_gather_nd(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1];
  int b = (int)smelt_attr_i(n, "batch_dims"), q = I->rank, r = X->rank;
  int64_t m = I->dims[q - 1];
  int64_t B = prod(X->dims, 0, b), N = prod(I->dims, b, q - 1), inner = prod(X->dims, b + (int)m, r), bstride = prod(X->dims, b, r);
  size_t e = esz(X);
  for (int64_t bb = 0; bb < B; bb++)
    for (int64_t j = 0; j < N; j++) {
      int64_t off = tuple_offset(X, I, (bb * N + j) * m, b, m);
      if (off < 0) return ev_fail(g, n, "index out of range");
      memcpy((char *)out->data + (bb * N + j) * inner * e, (const char *)X->data + (bb * bstride + off) * e, (size_t)inner * e);
    }
  return 0;
}

int eval_scatter_nd(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1], *U = &in[2];
  int q = I->rank, r = X->rank, red = reduction(n);
  int64_t m = I->dims[q - 1], N = prod(I->dims, 0, q - 1), inner = prod(X->dims, (int)m, r);
  memcpy(out->data, X->data, (size_t)smelt_tensor_elems(X) * esz(X));
  for (int64_t j = 0; j < N; j++) {
    int64_t off = tuple_offset(X, I, j * m, 0, m);
    if (off < 0) return ev_fail(g, n, "index out of range");
    for (int64_t k = 0; k < inner; k++) combine(out, off + k, U, j * inner + k, red);
  }
  return 0;
}

/* ---- Trilu, CumSum -------------------------------------------------------------------------- */
int eval_trilu(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  int r = X->rank, upper = (int)smelt_attr_i(n, "upper");
  int64_t k = smelt_attr_i(n, "k"), R = X->dims[r - 2], C = X->dims[r - 1], B = prod(X->dims, 0, r - 2);
  size_t e = esz(X);
  for (int64_t bb = 0; bb < B; bb++)
    for (int64_t i = 0; i < R; i++)
      for (int64_t j = 0; j < C; j++) {
        int64_t p = (bb * R + i) * C + j;
        int keep = upper ? j - i >= k : j - i <= k;
        if (keep) memcpy((char *)out->data + p * e, (const char *)X->data + p * e, e);
        else memset((char *)out->data + p * e, 0, e);
      }
  return 0;
}

int eval_cumsum(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int excl = (int)smelt_attr_i(n, "exclusive"), rev = (int)smelt_attr_i(n, "reverse"), fl = smelt_dtype_is_float(X->dt);
  int64_t outer = prod(X->dims, 0, ax), D = X->dims[ax], inner = prod(X->dims, ax + 1, r);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      double af = 0;
      uint64_t ai = 0;
      for (int64_t s = 0; s < D; s++) {
        int64_t p = (o * D + (rev ? D - 1 - s : s)) * inner + i;
        if (fl) {
          double x = ev_getf(X, p);
          if (!excl) af += x;
          ev_setf(out, p, af);
          if (excl) af += x;
        } else {
          uint64_t x = (uint64_t)ev_geti(X, p);
          if (!excl) ai += x;
          ev_seti(out, p, (int64_t)ai);
          if (excl) ai += x;
        }
      }
    }
  return 0;
}

/* ---- OneHot, TopK, ReverseSequence ------------------------------------------------------------- */
int eval_one_hot(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *I = &in[0], *Vl = &in[1];
  int ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += I->rank + 1;
  int64_t depth = smelt_attr_i(n, "depth"), outer = prod(I->dims, 0, ax), inner = prod(I->dims, ax, I->rank);
  size_t e = esz(out);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t d = 0; d < depth; d++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t ix = wrap(ev_geti(I, o * inner + i), depth);
        memcpy((char *)out->data + ((o * depth + d) * inner + i) * e, (const char *)Vl->data + (ix == d ? e : 0), e);
      }
  return 0;
}

/* a comes before b in TopK's order: larger (smaller) first, NaN the largest value */
static int better(const smelt_tensor *A, int64_t i, const smelt_tensor *B, int64_t j, int largest) {
  if (smelt_dtype_is_float(A->dt)) {
    double a = ev_getf(A, i), b = ev_getf(B, j);
    return largest ? a > b || (isnan(a) && !isnan(b)) : a < b || (!isnan(a) && isnan(b));
  }
  int64_t a = ev_geti(A, i), b = ev_geti(B, j);
  if (is_unsigned(A->dt)) return largest ? (uint64_t)a > (uint64_t)b : (uint64_t)a < (uint64_t)b;
  return largest ? a > b : a < b;
}

/* Insertion into the (sorted) output row: stable, so equal values keep index order. */
int eval_top_k(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  smelt_tensor *Y = &out[0], *Ix = &out[1];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis"), largest = (int)smelt_attr_i(n, "largest");
  if (ax < 0) ax += r;
  int64_t K = smelt_attr_i(n, "k"), outer = prod(X->dims, 0, ax), D = X->dims[ax], inner = prod(X->dims, ax + 1, r);
  size_t e = esz(X);
  if (K == 0) return 0;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t cnt = 0, y0 = o * K * inner + i;
      for (int64_t d = 0; d < D; d++) {
        int64_t xp = (o * D + d) * inner + i;
        if (cnt == K && !better(X, xp, Y, y0 + (K - 1) * inner, largest)) continue;
        int64_t p = cnt < K ? cnt++ : K - 1;
        for (; p > 0 && better(X, xp, Y, y0 + (p - 1) * inner, largest); p--) {
          memcpy((char *)Y->data + (y0 + p * inner) * e, (char *)Y->data + (y0 + (p - 1) * inner) * e, e);
          ((int64_t *)Ix->data)[y0 + p * inner] = ((int64_t *)Ix->data)[y0 + (p - 1) * inner];
        }
        memcpy((char *)Y->data + (y0 + p * inner) * e, (const char *)X->data + xp * e, e);
        ((int64_t *)Ix->data)[y0 + p * inner] = d;
      }
    }
  return 0;
}

int eval_reverse_sequence(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *L = &in[1];
  int ba = (int)smelt_attr_i(n, "batch_axis"), ta = (int)smelt_attr_i(n, "time_axis");
  int64_t d0 = X->dims[0], d1 = X->dims[1], T = X->dims[ta], inner = prod(X->dims, 2, X->rank);
  for (int64_t bi = 0; bi < X->dims[ba]; bi++) {
    int64_t len = ev_geti(L, bi);
    if (len < 0 || len > T) return ev_fail(g, n, "sequence length out of range");
  }
  size_t row = (size_t)inner * esz(X);
  for (int64_t i0 = 0; i0 < d0; i0++)
    for (int64_t i1 = 0; i1 < d1; i1++) {
      int64_t len = ev_geti(L, ba == 0 ? i0 : i1), t = ta == 0 ? i0 : i1;
      int64_t st = t < len ? len - 1 - t : t;
      int64_t src = ta == 0 ? st * d1 + i1 : i0 * d1 + st;
      memcpy((char *)out->data + (i0 * d1 + i1) * row, (const char *)X->data + src * row, row);
    }
  return 0;
}
