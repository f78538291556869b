/* compiler/onnx_lower_nn2.c — ONNX operators of CNN decoders and pooling extras:
 * Resize (opsets 10-13, and 18's axes / keep_aspect_ratio_policy), Upsample,
 * ConvTranspose, MaxPool (with its Indices output), LpPool, GlobalLpPool, MaxUnpool,
 * Einsum and Det.
 *
 * Resize's scales or sizes must be known at compile time: the output shape is
 * fixed, and the IR op carries both (sizes for the shape, scales for the coordinate
 * mapping).  Einsum is lowered to Mul / ReduceSum / Transpose / Reshape / MatMul;
 * LpPool to an average pool of |x|^p. */
#include "compiler/onnx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t floordiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* ---- Resize and Upsample ----------------------------------------------------------------- */
/* arg: 0 Resize, 1 Upsample */
static int lower_resize(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *xs = on_shape(r, x);
  int rank = xs->rank, legacy = arg == 1 || r->opset < 11;
  if (rank < 1) return on_err(r, "input needs rank >= 1");
  const char *mode = on_att_s(r, "mode", "nearest"), *cm, *nm;
  if (!strcmp(mode, "bilinear") || !strcmp(mode, "trilinear")) mode = "linear";
  if (strcmp(mode, "nearest") && strcmp(mode, "linear") && (legacy || strcmp(mode, "cubic"))) return on_err(r, "unknown mode '%s'", mode);
  if (on_att_i(r, "antialias", 0)) return on_err(r, "antialias is not supported");
  /* which axes the operands describe (opset 18), all by default */
  int64_t axes[SMELT_MAX_RANK], *av;
  int naxes = on_att_ints(r, "axes", &av);
  if (naxes < 0) {
    naxes = rank;
    for (int i = 0; i < rank; i++) axes[i] = i;
  } else {
    if (naxes > rank) return on_err(r, "axes has %d entries", naxes);
    for (int i = 0; i < naxes; i++) {
      int a = on_norm_axis(r, av[i], rank);
      if (a < 0) return SMELT_ERR;
      axes[i] = a;
    }
  }
  double scale[SMELT_MAX_RANK], roi[2 * SMELT_MAX_RANK];
  int64_t size[SMELT_MAX_RANK];
  smelt_dim sdim[SMELT_MAX_RANK];
  int have_sizes = 0, have_roi = 0;
  for (int i = 0; i < rank; i++) { scale[i] = 1; roi[i] = 0; roi[rank + i] = 1; sdim[i] = xs->d[i]; }
  if (legacy) {
    cm = "asymmetric";
    nm = "simple"; /* floor, or ceil where an axis shrinks, as runtimes did before opset 11 */
    double *sc;
    int ns = arg == 1 && r->opset < 9 ? on_att_floats(r, "scales", &sc) : on_const_floats(r, 1, "scales", &sc);
    if (ns < 0) return arg == 1 && r->opset < 9 ? on_err(r, "missing scales") : SMELT_ERR;
    if (ns != rank) return on_err(r, "scales has %d entries for rank %d", ns, rank);
    for (int i = 0; i < rank; i++) scale[i] = sc[i];
  } else {
    cm = on_att_s(r, "coordinate_transformation_mode", "half_pixel");
    nm = on_att_s(r, "nearest_mode", "round_prefer_floor");
    if (!strcmp(cm, "tf_crop_and_resize")) {
      double *rv;
      int nr = on_has_in(r, 1) ? on_const_floats(r, 1, "roi", &rv) : on_err(r, "tf_crop_and_resize needs a roi");
      if (nr < 0) return SMELT_ERR;
      if (nr != 2 * naxes) return on_err(r, "roi has %d entries, expected %d", nr, 2 * naxes);
      for (int i = 0; i < naxes; i++) { roi[axes[i]] = rv[i]; roi[rank + axes[i]] = rv[naxes + i]; }
      have_roi = 1;
    }
    int ns = 0;
    double *sc = NULL;
    if (on_has_in(r, 2) && (ns = on_const_floats(r, 2, "scales", &sc)) < 0) return SMELT_ERR;
    if (ns > 0) {
      if (ns != naxes) return on_err(r, "scales has %d entries, expected %d", ns, naxes);
      for (int i = 0; i < naxes; i++) scale[axes[i]] = sc[i];
    }
    if (on_has_in(r, 3)) {
      smelt_dim d[SMELT_MAX_RANK];
      int nz;
      if (on_is_symshape(r, 3)) {
        int scal;
        nz = on_symshape_in(r, 3, d, &scal);
      } else {
        int64_t *v;
        if ((nz = on_const_ints(r, 3, "sizes", &v)) < 0) return SMELT_ERR;
        if (nz > SMELT_MAX_RANK) return on_err(r, "sizes has %d entries", nz);
        for (int i = 0; i < nz; i++) d[i] = smelt_dim_c(v[i]);
      }
      if (nz > 0) {
        if (ns > 0) return on_err(r, "only one of scales and sizes may be given");
        if (nz != naxes) return on_err(r, "sizes has %d entries, expected %d", nz, naxes);
        for (int i = 0; i < naxes; i++) sdim[axes[i]] = d[i];
        have_sizes = 1;
      }
    }
    if (!have_sizes && ns <= 0) return on_err(r, "needs scales or sizes");
  }
  if (have_sizes) {
    /* keep_aspect_ratio_policy (opset 18): one scale for every listed axis */
    const char *kp = on_att_s(r, "keep_aspect_ratio_policy", "stretch");
    int kar = !strcmp(kp, "not_larger") ? 1 : !strcmp(kp, "not_smaller") ? 2 : 0;
    if (!kar && strcmp(kp, "stretch")) return on_err(r, "unknown keep_aspect_ratio_policy '%s'", kp);
    double s0 = kar == 1 ? INFINITY : 0;
    for (int i = 0; i < naxes && kar; i++) {
      int a = (int)axes[i];
      if (sdim[a].sym || xs->d[a].sym) return on_err(r, "keep_aspect_ratio_policy needs static dims");
      double s = (double)sdim[a].n / (double)xs->d[a].n;
      s0 = kar == 1 ? fmin(s0, s) : fmax(s0, s);
    }
    for (int i = 0; i < rank; i++) {
      int listed = 0;
      for (int k = 0; k < naxes; k++) listed |= axes[k] == i;
      if (xs->d[i].sym || sdim[i].sym) {
        if (!smelt_dim_eq(xs->d[i], sdim[i])) return on_err(r, "cannot resize a dynamic dim (axis %d); fix it with --dim", i);
        size[i] = -1;
        continue;
      }
      if (kar && listed) {
        size[i] = (int64_t)floor((double)xs->d[i].n * s0 + 0.5);
        scale[i] = s0;
        continue;
      }
      size[i] = sdim[i].n;
      if (size[i] < 0) return on_err(r, "negative size");
      scale[i] = xs->d[i].n ? (double)size[i] / (double)xs->d[i].n : 1;
    }
  } else {
    for (int i = 0; i < rank; i++) {
      if (!(scale[i] > 0) || scale[i] > 1e9) return on_err(r, "scales must be positive");
      if (xs->d[i].sym) {
        if (scale[i] != 1) return on_err(r, "cannot resize a dynamic dim (axis %d); fix it with --dim", i);
        size[i] = -1;
        continue;
      }
      double len = (double)xs->d[i].n * (have_roi ? roi[rank + i] - roi[i] : 1) * scale[i];
      size[i] = (int64_t)floor(len);
    }
  }
  smelt_attr a[9];
  int na = 0;
  a[na++] = smelt_attr_ints(r->cx, "sizes", size, rank);
  a[na++] = smelt_attr_floats(r->cx, "scales", scale, rank);
  if (have_roi) a[na++] = smelt_attr_floats(r->cx, "roi", roi, 2 * rank);
  a[na++] = smelt_attr_str("mode", mode);
  a[na++] = smelt_attr_str("coord", cm);
  a[na++] = smelt_attr_str("nearest_mode", nm);
  a[na++] = smelt_attr_float("cubic_coeff_a", on_att_f(r, "cubic_coeff_a", -0.75));
  a[na++] = smelt_attr_int("exclude_outside", on_att_i(r, "exclude_outside", 0));
  a[na++] = smelt_attr_float("extrapolation_value", on_att_f(r, "extrapolation_value", 0));
  return on_bind(r, 0, on_emit(r, SMELT_OP_RESIZE, &x, 1, a, na, NULL));
}

/* ---- ConvTranspose --------------------------------------------------------------------- */
static int lower_conv_transpose(onnx_rd *r, int arg) {
  int x = on_in(r, 0), w = on_in(r, 1);
  if (x < 0 || w < 0) return SMELT_ERR;
  const smelt_shape *xs = on_shape(r, x), *ws = on_shape(r, w);
  if (xs->rank < 3 || ws->rank != xs->rank) return on_err(r, "input and weight need equal rank >= 3");
  int nsp = xs->rank - 2;
  for (int i = 0; i < ws->rank; i++)
    if (ws->d[i].sym) return on_err(r, "weight shape must be static");
  for (int i = 2; i < xs->rank; i++)
    if (xs->d[i].sym) return on_err(r, "spatial dims must be static; fix them with --dim");
  int64_t s[SMELT_MAX_RANK], d[SMELT_MAX_RANK], p[2 * SMELT_MAX_RANK], op[SMELT_MAX_RANK], *v;
  int nv;
  for (int i = 0; i < nsp; i++) { s[i] = d[i] = 1; p[i] = p[nsp + i] = op[i] = 0; }
  if ((nv = on_att_ints(r, "kernel_shape", &v)) >= 0) {
    if (nv != nsp) return on_err(r, "kernel_shape has %d entries", nv);
    for (int i = 0; i < nsp; i++)
      if (v[i] != ws->d[2 + i].n) return on_err(r, "kernel_shape differs from the weight's shape");
  }
  if ((nv = on_att_ints(r, "strides", &v)) >= 0) { if (nv != nsp) return on_err(r, "strides has %d entries", nv); memcpy(s, v, 8 * nv); }
  if ((nv = on_att_ints(r, "dilations", &v)) >= 0) { if (nv != nsp) return on_err(r, "dilations has %d entries", nv); memcpy(d, v, 8 * nv); }
  if ((nv = on_att_ints(r, "pads", &v)) >= 0) { if (nv != 2 * nsp) return on_err(r, "pads has %d entries", nv); memcpy(p, v, 8 * nv); }
  if ((nv = on_att_ints(r, "output_padding", &v)) >= 0) { if (nv != nsp) return on_err(r, "output_padding has %d entries", nv); memcpy(op, v, 8 * nv); }
  int64_t *os = NULL;
  int nos = on_att_ints(r, "output_shape", &os);
  if (nos >= 0 && nos != nsp && nos != xs->rank) return on_err(r, "output_shape has %d entries", nos);
  if (nos == xs->rank) os += 2;
  for (int i = 0; i < nsp; i++)
    if (s[i] <= 0 || d[i] <= 0 || s[i] > (1 << 20) || d[i] > (1 << 20) || op[i] < 0 || op[i] > (1 << 20) || p[i] < 0 || p[nsp + i] < 0 ||
        p[i] > (1 << 20) || p[nsp + i] > (1 << 20) || (os && (os[i] < 1 || os[i] > ((int64_t)1 << 32))))
      return on_err(r, "strides, dilations, pads, output_padding and output_shape must be positive (pads >= 0) and sane");
  const char *ap = on_att_s(r, "auto_pad", "NOTSET");
  int upper = !strcmp(ap, "SAME_UPPER"), same = upper || !strcmp(ap, "SAME_LOWER");
  if (!same && strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return on_err(r, "unknown auto_pad '%s'", ap);
  for (int i = 0; i < nsp; i++) {
    int64_t in = xs->d[2 + i].n, k = ws->d[2 + i].n;
    if (os || same) {
      /* total padding for the requested output; SAME_UPPER puts the smaller half first */
      int64_t out = os ? os[i] : in * s[i];
      int64_t total = s[i] * (in - 1) + op[i] + (k - 1) * d[i] + 1 - out;
      p[i] = upper ? floordiv(total, 2) : total - floordiv(total, 2);
      p[nsp + i] = total - p[i];
    } else if (!strcmp(ap, "VALID")) p[i] = p[nsp + i] = 0;
    p[nsp + i] -= op[i]; /* output_padding extends the end */
  }
  smelt_attr a[4] = {smelt_attr_ints(r->cx, "strides", s, nsp), smelt_attr_ints(r->cx, "pads", p, 2 * nsp),
                     smelt_attr_ints(r->cx, "dilations", d, nsp), smelt_attr_int("group", on_att_i(r, "group", 1))};
  int in[3] = {x, w, on_has_in(r, 2) ? on_in(r, 2) : -1};
  return on_bind(r, 0, on_emit(r, SMELT_OP_CONV_TRANSPOSE, in, on_has_in(r, 2) ? 3 : 2, a, 4, NULL));
}

/* ---- pooling ----------------------------------------------------------------------------- */
/* kernel_shape, strides, dilations, pads and auto_pad of a pooling node */
static int pool_window(onnx_rd *r, const smelt_shape *x, struct on_window *w) {
  if (x->rank < 3) return on_err(r, "input needs rank >= 3");
  int64_t *v;
  int n = on_att_ints(r, "kernel_shape", &v);
  if (n != x->rank - 2) return on_err(r, "kernel_shape must give every spatial dim");
  return on_window(r, x, v, w);
}

static int lower_maxpool(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  struct on_window w;
  if (pool_window(r, on_shape(r, x), &w)) return SMELT_ERR;
  int64_t so = on_att_i(r, "storage_order", 0);
  if (so != 0 && so != 1) return on_err(r, "storage_order must be 0 or 1");
  smelt_attr a[6];
  int na = on_window_attrs(r, &w, a, 1), ind = on_has_out(r, 1);
  a[na++] = smelt_attr_int("ceil_mode", on_att_i(r, "ceil_mode", 0));
  a[na++] = smelt_attr_int("storage_order", so);
  int y = on_emit_n(r, SMELT_OP_MAX_POOL, &x, 1, a, na, ind ? 2 : 1, NULL);
  if (y < 0 || on_bind(r, 0, y)) return SMELT_ERR;
  return ind ? on_bind(r, 1, r->g->nodes[r->g->nnodes - 1].out[1]) : 0;
}

/* (sum over the window of |x|^p)^(1/p): an average pool counting the pads, times the
 * window size (every window lies inside input + pads without ceil_mode). */
static int lp_power(onnx_rd *r, int x, int64_t p, int inverse) {
  smelt_dtype dt = on_dtype(r, x);
  if (!inverse) {
    if (p == 1) return on_unary(r, SMELT_OP_ABS, x);
    if (p == 2) return on_binary(r, SMELT_OP_MUL, x, x);
    return on_binary(r, SMELT_OP_POW, on_unary(r, SMELT_OP_ABS, x), on_scalar(r, dt, (double)p));
  }
  if (p == 1) return x;
  if (p == 2) return on_unary(r, SMELT_OP_SQRT, x);
  return on_binary(r, SMELT_OP_POW, x, on_scalar(r, dt, 1.0 / (double)p));
}

static int lower_lppool(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  if (!smelt_dtype_is_float(on_dtype(r, x))) return on_err(r, "needs a float input");
  int64_t p = on_att_i(r, "p", 2);
  if (p < 1 || p > 64) return on_err(r, "p must be a small positive integer");
  if (on_att_i(r, "ceil_mode", 0)) return on_err(r, "ceil_mode is not supported for LpPool");
  struct on_window w;
  if (pool_window(r, on_shape(r, x), &w)) return SMELT_ERR;
  smelt_attr a[6];
  int na = on_window_attrs(r, &w, a, 1);
  a[na++] = smelt_attr_int("ceil_mode", 0);
  a[na++] = smelt_attr_int("count_include_pad", 1);
  int64_t ksz = 1;
  for (int i = 0; i < w.nsp; i++) ksz *= w.k[i];
  int px = lp_power(r, x, p, 0);
  if (px < 0) return SMELT_ERR;
  int avg = on_emit(r, SMELT_OP_AVG_POOL, &px, 1, a, na, NULL);
  int sum = on_binary(r, SMELT_OP_MUL, avg, on_scalar(r, on_dtype(r, x), (double)ksz));
  return on_bind(r, 0, sum < 0 ? SMELT_ERR : lp_power(r, sum, p, 1));
}

static int lower_global_lppool(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  if (!smelt_dtype_is_float(on_dtype(r, x))) return on_err(r, "needs a float input");
  int rank = on_shape(r, x)->rank;
  if (rank < 3) return on_err(r, "input needs rank >= 3");
  int64_t p = on_att_i(r, "p", 2), axes[SMELT_MAX_RANK];
  if (p < 1 || p > 64) return on_err(r, "p must be a small positive integer");
  for (int i = 2; i < rank; i++) axes[i - 2] = i;
  if (p == 1) return on_bind(r, 0, on_reduce(r, SMELT_OP_REDUCE_L1, x, axes, rank - 2, 1));
  if (p == 2) return on_bind(r, 0, on_reduce(r, SMELT_OP_REDUCE_L2, x, axes, rank - 2, 1));
  int s = on_reduce(r, SMELT_OP_REDUCE_SUM, lp_power(r, x, p, 0), axes, rank - 2, 1);
  return on_bind(r, 0, s < 0 ? SMELT_ERR : lp_power(r, s, p, 1));
}

/* Y with X at the flat indices I of the pooling's input size; a larger output_shape
 * pads that at the end (ONNX's reference keeps the indices of the inferred shape) */
static int lower_maxunpool(onnx_rd *r, int arg) {
  int x = on_in(r, 0), ix = on_in(r, 1);
  if (x < 0 || ix < 0) return SMELT_ERR;
  const smelt_shape *xs = on_shape(r, x);
  if (!smelt_shape_is_static(xs)) return on_err(r, "needs a static input; fix its dims with --dim");
  struct on_window w;
  if (pool_window(r, xs, &w)) return SMELT_ERR;
  int rank = xs->rank;
  int64_t shape[SMELT_MAX_RANK], pads[2 * SMELT_MAX_RANK] = {0};
  shape[0] = xs->d[0].n;
  shape[1] = xs->d[1].n;
  for (int i = 0; i < w.nsp; i++) shape[2 + i] = (xs->d[2 + i].n - 1) * w.s[i] - w.p[i] - w.p[w.nsp + i] + w.k[i];
  int padded = 0;
  if (on_has_in(r, 2)) {
    int64_t *v;
    int n = on_const_ints(r, 2, "output_shape", &v);
    if (n < 0) return SMELT_ERR;
    if (n != rank) return on_err(r, "output_shape has %d entries for rank %d", n, rank);
    for (int i = 0; i < rank; i++) {
      if (v[i] < shape[i] || (i < 2 && v[i] != shape[i])) return on_err(r, "output_shape is smaller than the unpooled input");
      pads[rank + i] = v[i] - shape[i];
      padded |= pads[rank + i] != 0;
    }
  }
  int ii = on_cast(r, ix, SMELT_DT_I64);
  smelt_attr a = smelt_attr_ints(r->cx, "shape", shape, rank);
  int in[2] = {x, ii};
  int y = on_emit(r, SMELT_OP_MAX_UNPOOL, in, 2, &a, 1, NULL);
  if (y >= 0 && padded) {
    smelt_attr pa = smelt_attr_ints(r->cx, "pads", pads, 2 * rank);
    y = on_emit(r, SMELT_OP_PAD, &y, 1, &pa, 1, NULL);
  }
  return on_bind(r, 0, y);
}

/* ---- Einsum -------------------------------------------------------------------------------- */
/* An operand while contracting: its value and one label per axis (letters 0-51,
 * the axes of "..." 52 and up). */
struct eop { int v, n; int lab[SMELT_MAX_RANK]; };

static int lab_of(char ch) { return ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= 'A' && ch <= 'Z' ? 26 + ch - 'A' : -1; }

/* The number of axes "..." stands for in a term ("ij", "...ii", "b...k") of an
 * operand of `rank` axes (rank < 0: the output, where it stands for `nell`);
 * lab (when not NULL) receives the labels, the ellipsis' right-aligned on nell. */
static int ein_term(onnx_rd *r, const char *t, size_t len, int rank, int nell, int *lab) {
  int n = 0, letters = 0, ell = 0;
  for (size_t i = 0; i < len; i++) {
    if (t[i] == '.') {
      if (ell || i + 3 > len || strncmp(t + i, "...", 3)) return on_err(r, "bad ellipsis in the equation");
      ell = 1;
      i += 2;
    } else if (lab_of(t[i]) >= 0) letters++;
    else return on_err(r, "bad character '%c' in the equation", t[i]);
  }
  int ne = rank < 0 ? (ell ? nell : 0) : rank - letters;
  if (ne < 0 || (!ell && ne)) return on_err(r, "the equation gives %d labels for a rank-%d operand", letters, rank);
  if (!lab) return ne;
  if (letters + ne > SMELT_MAX_RANK) return on_err(r, "too many labels");
  for (size_t i = 0; i < len; i++) {
    if (t[i] == '.') {
      for (int k = 0; k < ne; k++) lab[n++] = 52 + (nell - ne) + k;
      i += 2;
    } else lab[n++] = lab_of(t[i]);
  }
  return n;
}

static int ein_transpose(onnx_rd *r, struct eop *e, const int *order) {
  int64_t perm[SMELT_MAX_RANK];
  int ident = 1, lab[SMELT_MAX_RANK];
  for (int i = 0; i < e->n; i++) {
    int k = 0;
    while (e->lab[k] != order[i]) k++;
    perm[i] = k;
    lab[i] = order[i];
    ident &= k == i;
  }
  if (!ident) e->v = on_transpose(r, e->v, perm, e->n);
  memcpy(e->lab, lab, sizeof lab);
  return e->v;
}

static int has_lab(const int *l, int n, int x) {
  for (int i = 0; i < n; i++)
    if (l[i] == x) return 1;
  return 0;
}

/* Sums over axis k of e (keepdims 0). */
static int ein_sum_axis(onnx_rd *r, struct eop *e, int k) {
  int64_t ax = k;
  e->v = on_reduce(r, SMELT_OP_REDUCE_SUM, e->v, &ax, 1, 0);
  memmove(e->lab + k, e->lab + k + 1, sizeof(int) * (e->n - k - 1));
  e->n--;
  return e->v;
}

/* Takes the diagonal of every label repeated in e, and sums the labels not in keep. */
static int ein_reduce(onnx_rd *r, struct eop *e, const int *keep, int nkeep) {
  for (int i = 0; i < e->n; i++)
    for (int j = i + 1; j < e->n; j++) {
      if (e->lab[i] != e->lab[j]) continue;
      const smelt_shape *s = on_shape(r, e->v);
      if (s->d[i].sym || s->d[j].sym || s->d[i].n != s->d[j].n) return on_err(r, "a repeated label needs equal static dims");
      int64_t m = s->d[i].n;
      smelt_shape es = {.rank = e->n};
      for (int k = 0; k < e->n; k++) es.d[k] = smelt_dim_c(k == i || k == j ? m : 1);
      smelt_dtype dt = on_dtype(r, e->v);
      unsigned char *eye = smelt_alloc(r->cx, (size_t)(m > 0 ? m * m : 1) * smelt_dtype_bytes(dt));
      if (!eye) return SMELT_ERR;
      smelt_tensor t = {.dt = dt, .rank = 1, .dims = {m * m}, .data = eye};
      for (int64_t a = 0; a < m; a++) smelt_tensor_setf(&t, a * m + a, 1);
      e->v = on_binary(r, SMELT_OP_MUL, e->v, on_const_tensor(r, dt, &es, eye));
      if (e->v < 0 || ein_sum_axis(r, e, j) < 0) return SMELT_ERR;
      j--;
    }
  for (int i = 0; i < e->n; i++)
    if (!has_lab(keep, nkeep, e->lab[i])) {
      if (ein_sum_axis(r, e, i) < 0) return SMELT_ERR;
      i--;
    }
  return 0;
}

/* a x b over their shared labels, keeping those in keep: one batched MatMul */
static int ein_contract(onnx_rd *r, struct eop *a, struct eop *b, const int *keep, int nkeep, struct eop *out) {
  int bat[SMELT_MAX_RANK], con[SMELT_MAX_RANK], lo[SMELT_MAX_RANK], ro[SMELT_MAX_RANK], nb = 0, nc = 0, nl = 0, nr = 0;
  for (int i = 0; i < a->n; i++) {
    int l = a->lab[i];
    if (has_lab(b->lab, b->n, l)) {
      if (has_lab(keep, nkeep, l)) bat[nb++] = l;
      else con[nc++] = l;
    } else lo[nl++] = l;
  }
  for (int i = 0; i < b->n; i++)
    if (!has_lab(a->lab, a->n, b->lab[i])) ro[nr++] = b->lab[i];
  for (int i = 0; i < a->n; i++)
    for (int j = 0; j < b->n; j++)
      if (a->lab[i] == b->lab[j] && !smelt_dim_eq(on_shape(r, a->v)->d[i], on_shape(r, b->v)->d[j]))
        return on_err(r, "label '%c' has different dims in two operands", a->lab[i] < 52 ? (a->lab[i] < 26 ? 'a' + a->lab[i] : 'A' + a->lab[i] - 26) : '.');
  int oa[SMELT_MAX_RANK], ob[SMELT_MAX_RANK], k = 0;
  for (int i = 0; i < nb; i++) oa[k++] = bat[i];
  for (int i = 0; i < nl; i++) oa[k++] = lo[i];
  for (int i = 0; i < nc; i++) oa[k++] = con[i];
  k = 0;
  for (int i = 0; i < nb; i++) ob[k++] = bat[i];
  for (int i = 0; i < nc; i++) ob[k++] = con[i];
  for (int i = 0; i < nr; i++) ob[k++] = ro[i];
  if (ein_transpose(r, a, oa) < 0 || ein_transpose(r, b, ob) < 0) return SMELT_ERR;
  smelt_dim bd[SMELT_MAX_RANK], ld[SMELT_MAX_RANK], rd[SMELT_MAX_RANK];
  const smelt_shape *as = on_shape(r, a->v), *bs = on_shape(r, b->v);
  for (int i = 0; i < nb; i++) bd[i] = as->d[i];
  for (int i = 0; i < nl; i++) ld[i] = as->d[nb + i];
  for (int i = 0; i < nr; i++) rd[i] = bs->d[nb + nc + i];
  /* [batch..., L, K] x [batch..., K, R]: the left, contracted and right labels each
   * merged into one axis (of size 1 when there are none) */
  smelt_shape sa = {.rank = nb + 2}, sb = {.rank = nb + 2};
  for (int i = 0; i < nb; i++) sa.d[i] = sb.d[i] = bd[i];
  int64_t L = 1, K = 1, R = 1;
  for (int i = 0; i < nl; i++) { if (ld[i].sym && nl > 1) return on_err(r, "Einsum cannot merge dynamic dims; fix them with --dim"); L *= ld[i].n; }
  for (int i = 0; i < nc; i++) { if (as->d[nb + nl + i].sym) return on_err(r, "Einsum cannot contract a dynamic dim; fix it with --dim"); K *= as->d[nb + nl + i].n; }
  for (int i = 0; i < nr; i++) { if (rd[i].sym && nr > 1) return on_err(r, "Einsum cannot merge dynamic dims; fix them with --dim"); R *= rd[i].n; }
  sa.d[nb] = nl == 1 ? ld[0] : smelt_dim_c(L);
  sa.d[nb + 1] = smelt_dim_c(K);
  sb.d[nb] = smelt_dim_c(K);
  sb.d[nb + 1] = nr == 1 ? rd[0] : smelt_dim_c(R);
  int va = on_reshape(r, a->v, &sa), vb = on_reshape(r, b->v, &sb);
  int in[2] = {va, vb};
  smelt_attr tb = smelt_attr_int("trans_b", 0);
  int y = on_emit(r, SMELT_OP_MATMUL, in, 2, &tb, 1, NULL);
  if (y < 0) return SMELT_ERR;
  smelt_shape ys = {.rank = nb + nl + nr};
  if (ys.rank > SMELT_MAX_RANK) return on_err(r, "result rank above 8");
  int n = 0;
  for (int i = 0; i < nb; i++) { ys.d[n] = bd[i]; out->lab[n++] = bat[i]; }
  for (int i = 0; i < nl; i++) { ys.d[n] = ld[i]; out->lab[n++] = lo[i]; }
  for (int i = 0; i < nr; i++) { ys.d[n] = rd[i]; out->lab[n++] = ro[i]; }
  out->n = n;
  out->v = on_reshape(r, y, &ys);
  return out->v;
}

static int lower_einsum(onnx_rd *r, int arg) {
  const char *eq = on_att_s(r, "equation", NULL);
  if (!eq) return on_err(r, "missing equation");
  char buf[256];
  size_t bl = 0;
  for (const char *p = eq; *p && bl + 1 < sizeof buf; p++)
    if (*p != ' ') buf[bl++] = *p;
  buf[bl] = 0;
  int nin = on_nin(r);
  if (nin < 1 || nin > 8) return on_err(r, "Einsum with %d operands is not supported", nin);
  struct eop ops[8];
  const char *arrow = strstr(buf, "->"), *end = arrow ? arrow : buf + bl, *term[8];
  size_t tlen[8];
  int nell = 0;
  for (int k = 0, at = 0; k < nin; k++) {
    int q = at;
    while (buf + q < end && buf[q] != ',') q++;
    if (k + 1 < nin ? buf + q >= end : buf + q != end) return on_err(r, "the equation does not give %d operands", nin);
    term[k] = buf + at;
    tlen[k] = (size_t)(q - at);
    at = q + 1;
    if ((ops[k].v = on_in(r, k)) < 0) return SMELT_ERR;
    int ne = ein_term(r, term[k], tlen[k], on_shape(r, ops[k].v)->rank, 0, NULL);
    if (ne < 0) return SMELT_ERR;
    if (ne > nell) nell = ne;
  }
  for (int k = 0; k < nin; k++)
    if ((ops[k].n = ein_term(r, term[k], tlen[k], on_shape(r, ops[k].v)->rank, nell, ops[k].lab)) < 0) return SMELT_ERR;
  if (on_dtype(r, ops[0].v) == SMELT_DT_BOOL) return on_err(r, "bool operands");
  for (int k = 1; k < nin; k++)
    if (on_dtype(r, ops[k].v) != on_dtype(r, ops[0].v)) return on_err(r, "operands have different types");
  int out[SMELT_MAX_RANK], nout = 0;
  if (arrow) {
    nout = ein_term(r, arrow + 2, strlen(arrow + 2), -1, nell, out);
    if (nout < 0) return SMELT_ERR;
  } else {
    /* implicit output: the ellipsis, then the labels used once, in ASCII order */
    for (int k = 0; k < nell; k++) out[nout++] = 52 + k;
    for (int li = 0; li < 52; li++) {
      int l = (li + 26) % 52; /* upper case first */
      int cnt = 0;
      for (int k = 0; k < nin; k++)
        for (int i = 0; i < ops[k].n; i++) cnt += ops[k].lab[i] == l;
      if (cnt == 1) {
        if (nout == SMELT_MAX_RANK) return on_err(r, "result rank above 8");
        out[nout++] = l;
      }
    }
  }
  for (int i = 0; i < nout; i++) {
    int found = 0;
    for (int k = 0; k < nin; k++) found |= has_lab(ops[k].lab, ops[k].n, out[i]);
    if (!found || has_lab(out, i, out[i])) return on_err(r, "output label %d is repeated or in no operand", i);
  }
  /* contract left to right, keeping labels the output or a later operand needs */
  struct eop acc = ops[0];
  for (int k = 0; k < nin; k++) {
    int keep[64], nk = 0;
    for (int i = 0; i < nout; i++) keep[nk++] = out[i];
    for (int j = k + 1; j < nin; j++)
      for (int i = 0; i < ops[j].n && nk < 64; i++) keep[nk++] = ops[j].lab[i];
    if (k == 0) {
      if (ein_reduce(r, &acc, keep, nk)) return SMELT_ERR;
      continue;
    }
    struct eop b = ops[k], res;
    /* labels of acc and b needed by the other or kept */
    int keep2[80], nk2 = nk;
    memcpy(keep2, keep, sizeof(int) * nk);
    for (int i = 0; i < acc.n && nk2 < 80; i++) keep2[nk2++] = acc.lab[i];
    if (ein_reduce(r, &b, keep2, nk2)) return SMELT_ERR;
    nk2 = nk;
    for (int i = 0; i < b.n && nk2 < 80; i++) keep2[nk2++] = b.lab[i];
    if (ein_reduce(r, &acc, keep2, nk2)) return SMELT_ERR;
    if (ein_contract(r, &acc, &b, keep, nk, &res) < 0) return SMELT_ERR;
    acc = res;
  }
  if (acc.n != nout) return on_err(r, "internal: labels left after contraction");
  return on_bind(r, 0, ein_transpose(r, &acc, out));
}

/* ---- Det ------------------------------------------------------------------------------------ */
static int lower_det(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  return on_bind(r, 0, on_emit(r, SMELT_OP_DET, &x, 1, NULL, 0, NULL));
}

const struct on_lowering on_lower_nn2[] = {
    {"Resize", lower_resize, 0}, {"Upsample", lower_resize, 1}, {"ConvTranspose", lower_conv_transpose, 0},
    {"MaxPool", lower_maxpool, 0}, {"LpPool", lower_lppool, 0}, {"GlobalLpPool", lower_global_lppool, 0},
    {"MaxUnpool", lower_maxunpool, 0}, {"Einsum", lower_einsum, 0}, {"Det", lower_det, 0},
    {NULL, NULL, 0},
};
