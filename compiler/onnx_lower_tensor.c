/* compiler/onnx_lower_tensor.c — ONNX shape and data-movement operators: Shape,
 * Size, Reshape, Flatten, Squeeze, Unsqueeze, Transpose, Concat, Split, Slice,
 * Gather, Expand, Tile, Pad, Constant, ConstantOfShape, Range, EyeLike,
 * DepthToSpace, SpaceToDepth.
 *
 * Shape operands are needed at compile time; symbolic dims flow through as
 * symbolic shape values (compiler/onnx.h). */
#include "compiler/onnx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- shapes of symbolic dims ----------------------------------------------------------- */
static int shape_of(onnx_rd *r, int k, smelt_dim *d) {
  int x = on_in(r, k);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  memcpy(d, s->d, sizeof(smelt_dim) * s->rank);
  return s->rank;
}

/* Input k as a list of dims: a constant int tensor or a symbolic shape value. */
static int dims_operand(onnx_rd *r, int k, const char *what, smelt_dim *d, int max) {
  if (on_is_symshape(r, k)) {
    int sc;
    return on_symshape_in(r, k, d, &sc);
  }
  int64_t *v;
  int n = on_const_ints(r, k, what, &v);
  if (n < 0) return SMELT_ERR;
  if (n > max) return on_err(r, "%s has %d entries (at most %d)", what, n, max);
  for (int i = 0; i < n; i++) d[i] = smelt_dim_c(v[i]);
  return n;
}

static int lower_shape(onnx_rd *r, int arg) {
  smelt_dim d[SMELT_MAX_RANK];
  int n = shape_of(r, 0, d);
  if (n < 0) return SMELT_ERR;
  int64_t st = on_att_i(r, "start", 0), en = on_att_i(r, "end", n);
  if (st < 0) st += n;
  if (en < 0) en += n;
  st = st < 0 ? 0 : st > n ? n : st;
  en = en < st ? st : en > n ? n : en;
  return on_bind_symshape(r, 0, d + st, (int)(en - st));
}

static int lower_size(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  if (!smelt_shape_is_static(on_shape(r, x))) return on_err(r, "the size of a tensor with dynamic dims is not known at compile time; fix them with --dim");
  smelt_shape s = {0};
  int64_t n = smelt_shape_max_elems(r->g, on_shape(r, x));
  return on_bind(r, 0, on_const_tensor(r, SMELT_DT_I64, &s, &n));
}

/* Product of dims [from, to) as one dim: constants multiply; a single symbol with
 * nothing else (or 1s) stays itself; anything else cannot be expressed. */
static int prod_dim(onnx_rd *r, const smelt_dim *d, int from, int to, smelt_dim *out) {
  int64_t c = 1;
  int sym = 0;
  for (int i = from; i < to; i++) {
    if (d[i].sym) {
      if (sym) return on_err(r, "the product of two dynamic dims cannot be a dim; fix one with --dim");
      sym = d[i].sym;
    } else c *= d[i].n;
  }
  if (sym && c != 1) return on_err(r, "a dynamic dim times %lld cannot be a dim; fix it with --dim", (long long)c);
  *out = sym ? (smelt_dim){0, sym} : smelt_dim_c(c);
  return 0;
}

/* Resolves a Reshape target (0 = copy, -1 = infer) against the input shape. */
static int reshape_target(onnx_rd *r, const smelt_shape *in, const smelt_dim *t, int n, int allowzero, smelt_shape *out) {
  if (n > SMELT_MAX_RANK) return on_err(r, "target rank %d above 8", n);
  out->rank = n;
  int infer = -1;
  for (int i = 0; i < n; i++) {
    if (t[i].sym) { out->d[i] = t[i]; continue; }
    if (t[i].n == 0 && !allowzero) {
      if (i >= in->rank) return on_err(r, "target dim %d is 0 (copy) beyond the input's rank", i);
      out->d[i] = in->d[i];
    } else if (t[i].n == -1) {
      if (infer >= 0) return on_err(r, "more than one -1 in the target shape");
      infer = i;
    } else if (t[i].n < 0) return on_err(r, "negative target dim %lld", (long long)t[i].n);
    else out->d[i] = t[i];
  }
  if (infer < 0) return 0;
  /* element counts: constant part and symbol multiset on each side */
  int64_t ci = 1, co = 1;
  int si[SMELT_MAX_RANK], so[SMELT_MAX_RANK], nsi = 0, nso = 0;
  for (int i = 0; i < in->rank; i++) { if (in->d[i].sym) si[nsi++] = in->d[i].sym; else ci *= in->d[i].n; }
  for (int i = 0; i < n; i++) {
    if (i == infer) continue;
    if (out->d[i].sym) so[nso++] = out->d[i].sym;
    else if (out->d[i].n && co > ((int64_t)1 << 62) / out->d[i].n) return on_err(r, "the target shape is too large");
    else co *= out->d[i].n;
  }
  /* cancel common symbols */
  for (int a = 0; a < nsi; a++)
    for (int b = 0; b < nso; b++)
      if (si[a] && si[a] == so[b]) { si[a] = so[b] = 0; break; }
  int left = 0, lsym = 0;
  for (int a = 0; a < nsi; a++) if (si[a]) { left++; lsym = si[a]; }
  for (int b = 0; b < nso; b++) if (so[b]) return on_err(r, "cannot infer -1: the target has dynamic dims the input lacks");
  if (left == 0) {
    if (co == 0 || ci % co) return on_err(r, "cannot reshape %lld elements with the given target", (long long)ci);
    out->d[infer] = smelt_dim_c(ci / co);
  } else if (left == 1 && ci == co) {
    out->d[infer] = (smelt_dim){0, lsym};
  } else return on_err(r, "cannot infer -1 with dynamic dims; fix them with --dim");
  return 0;
}

static int lower_reshape(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  smelt_dim t[SMELT_MAX_RANK + 1];
  smelt_shape out = {0};
  int n;
  if (r->opset < 5) {
    int64_t *v;
    n = on_att_ints(r, "shape", &v);
    if (n < 0 || n > SMELT_MAX_RANK) return on_err(r, "missing or too long 'shape'");
    for (int i = 0; i < n; i++) t[i] = smelt_dim_c(v[i]);
  } else if ((n = dims_operand(r, 1, "the target shape", t, SMELT_MAX_RANK + 1)) < 0) return SMELT_ERR;
  if (reshape_target(r, on_shape(r, x), t, n, (int)on_att_i(r, "allowzero", 0), &out)) return SMELT_ERR;
  return on_bind(r, 0, on_reshape(r, x, &out));
}

static int lower_flatten(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int64_t ax = on_att_i(r, "axis", 1);
  if (ax < 0) ax += s->rank;
  if (ax < 0 || ax > s->rank) return on_err(r, "axis out of range");
  smelt_shape o = {.rank = 2};
  if (prod_dim(r, s->d, 0, (int)ax, &o.d[0]) || prod_dim(r, s->d, (int)ax, s->rank, &o.d[1])) return SMELT_ERR;
  return on_bind(r, 0, on_reshape(r, x, &o));
}

/* axes from the attribute (old opsets) or input 1 */
static int axes_operand(onnx_rd *r, int input_from_opset, int64_t **axes) {
  if (r->opset >= input_from_opset || on_has_in(r, 1)) {
    if (!on_has_in(r, 1)) return -1;
    return on_const_ints(r, 1, "axes", axes);
  }
  return on_att_ints(r, "axes", axes);
}

static int lower_squeeze(onnx_rd *r, int arg) {
  int64_t *axes = NULL;
  int na = axes_operand(r, 13, &axes);
  if (na == SMELT_ERR && smelt_failed(r->cx)) return SMELT_ERR;
  if (on_is_symshape(r, 0)) { /* squeezing a 1-element shape value to a scalar */
    smelt_dim d[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    if (n != 1 || sc) return on_err(r, "unsupported squeeze of a shape value");
    return on_bind_symscalar(r, 0, d[0]);
  }
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int drop[SMELT_MAX_RANK] = {0};
  if (na < 0)
    for (int i = 0; i < s->rank; i++) drop[i] = smelt_dim_is(s->d[i], 1);
  for (int i = 0; i < na; i++) {
    int a = on_norm_axis(r, axes[i], s->rank);
    if (a < 0) return SMELT_ERR;
    if (!smelt_dim_is(s->d[a], 1)) return on_err(r, "cannot squeeze axis %d of size other than 1", a);
    drop[a] = 1;
  }
  smelt_shape o = {0};
  for (int i = 0; i < s->rank; i++)
    if (!drop[i]) o.d[o.rank++] = s->d[i];
  return on_bind(r, 0, on_reshape(r, x, &o));
}

static int lower_unsqueeze(onnx_rd *r, int arg) {
  int64_t *axes = NULL;
  int na = axes_operand(r, 13, &axes);
  if (na < 0) return smelt_failed(r->cx) ? SMELT_ERR : on_err(r, "axes are required");
  if (on_is_symshape(r, 0)) {
    smelt_dim d[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    if (!sc || na != 1) return on_err(r, "unsupported unsqueeze of a shape value");
    return on_bind_symshape(r, 0, d, n);
  }
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int orank = s->rank + na;
  if (orank > SMELT_MAX_RANK) return on_err(r, "result rank above 8");
  int ins[SMELT_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a = on_norm_axis(r, axes[i], orank);
    if (a < 0) return SMELT_ERR;
    if (ins[a]++) return on_err(r, "repeated axis");
  }
  smelt_shape o = {.rank = orank};
  for (int i = 0, j = 0; i < orank; i++) o.d[i] = ins[i] ? smelt_dim_c(1) : s->d[j++];
  return on_bind(r, 0, on_reshape(r, x, &o));
}

static int lower_transpose(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  int rank = on_shape(r, x)->rank;
  int64_t *perm, def[SMELT_MAX_RANK];
  int np = on_att_ints(r, "perm", &perm);
  if (np < 0) {
    for (int i = 0; i < rank; i++) def[i] = rank - 1 - i;
    perm = def;
    np = rank;
  }
  int id = np == rank;
  for (int i = 0; i < np && id; i++) id = perm[i] == i;
  if (id) return on_bind(r, 0, x);
  return on_bind(r, 0, on_transpose(r, x, perm, np));
}

static int lower_concat(onnx_rd *r, int arg) {
  int n = on_nin(r), anysym = 0;
  for (int i = 0; i < n; i++) anysym |= on_is_symshape(r, i);
  if (anysym) { /* concatenating shape values */
    smelt_dim all[ON_MAX_SYMSHAPE * 2];
    int len = 0;
    for (int i = 0; i < n; i++) {
      smelt_dim d[ON_MAX_SYMSHAPE + 1];
      int k = dims_operand(r, i, "a shape operand", d, ON_MAX_SYMSHAPE);
      if (k < 0) return SMELT_ERR;
      if (len + k > ON_MAX_SYMSHAPE) return on_err(r, "shape value too long");
      memcpy(all + len, d, sizeof(smelt_dim) * k);
      len += k;
    }
    return on_bind_symshape(r, 0, all, len);
  }
  int in[256], m = 0;
  if (n > 256) return on_err(r, "more than 256 inputs");
  for (int i = 0; i < n; i++) {
    int v = on_in(r, i);
    if (v < 0) return SMELT_ERR;
    in[m++] = v;
  }
  smelt_attr a = smelt_attr_int("axis", on_att_i(r, "axis", 0));
  if (m == 1) return on_bind(r, 0, in[0]);
  return on_bind(r, 0, on_emit(r, SMELT_OP_CONCAT, in, m, &a, 1, NULL));
}

/* One Slice node over every axis (starts/ends clamped per ONNX's rules). */
static int emit_slice(onnx_rd *r, int x, const int64_t *st, const int64_t *en, const int64_t *sp) {
  const smelt_shape *s = on_shape(r, x);
  int full = 1;
  for (int i = 0; i < s->rank; i++) full &= st[i] == 0 && sp[i] == 1 && (s->d[i].sym ? en[i] >= INT64_MAX / 2 : en[i] == s->d[i].n);
  if (full) return x;
  smelt_attr a[3] = {smelt_attr_ints(r->cx, "starts", st, s->rank), smelt_attr_ints(r->cx, "ends", en, s->rank), smelt_attr_ints(r->cx, "steps", sp, s->rank)};
  return on_emit(r, SMELT_OP_SLICE, &x, 1, a, 3, NULL);
}

/* Clamps one axis' start/end for step sp over a dim of size d (ONNX Slice rules). */
static void clamp_slice(int64_t d, int64_t sp, int64_t *st, int64_t *en) {
  int64_t s = *st, e = *en;
  if (s < 0) s = s < -d ? (sp > 0 ? 0 : -1) : s + d;
  if (e < 0) e = e < -d ? (sp > 0 ? 0 : -1) : e + d;
  if (sp > 0) { s = s > d ? d : s; e = e > d ? d : e; }
  else { s = s > d - 1 ? d - 1 : s; e = e > d - 1 ? d - 1 : e; }
  *st = s;
  *en = e;
}

static int lower_slice(onnx_rd *r, int arg) {
  int64_t *starts, *ends, *axes = NULL, *steps = NULL;
  int ns, ne, na = -1, nst = -1;
  if (r->opset < 10) {
    ns = on_att_ints(r, "starts", &starts);
    ne = on_att_ints(r, "ends", &ends);
    na = on_att_ints(r, "axes", &axes);
  } else {
    if ((ns = on_const_ints(r, 1, "starts", &starts)) < 0 || (ne = on_const_ints(r, 2, "ends", &ends)) < 0) return SMELT_ERR;
    if (on_has_in(r, 3) && (na = on_const_ints(r, 3, "axes", &axes)) < 0) return SMELT_ERR;
    if (on_has_in(r, 4) && (nst = on_const_ints(r, 4, "steps", &steps)) < 0) return SMELT_ERR;
  }
  if (ns < 0 || ne != ns || (na >= 0 && na != ns) || (nst >= 0 && nst != ns)) return on_err(r, "starts, ends, axes and steps must have equal lengths");
  if (on_is_symshape(r, 0)) { /* slicing a shape value */
    smelt_dim d[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    if (ns != 1 || (na >= 0 && axes[0] != 0 && axes[0] != -1)) return on_err(r, "unsupported slice of a shape value");
    int64_t st = starts[0], en = ends[0], sp = steps ? steps[0] : 1;
    if (sp != 1) return on_err(r, "unsupported step in a slice of a shape value");
    clamp_slice(n, sp, &st, &en);
    return on_bind_symshape(r, 0, d + st, en > st ? (int)(en - st) : 0);
  }
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int64_t st[SMELT_MAX_RANK], en[SMELT_MAX_RANK], sp[SMELT_MAX_RANK];
  int seen[SMELT_MAX_RANK] = {0};
  for (int i = 0; i < s->rank; i++) { st[i] = 0; en[i] = s->d[i].sym ? INT64_MAX : s->d[i].n; sp[i] = 1; }
  for (int i = 0; i < ns; i++) {
    int a = on_norm_axis(r, axes ? axes[i] : i, s->rank);
    if (a < 0) return SMELT_ERR;
    if (seen[a]++) return on_err(r, "axis %d repeated", a);
    int64_t step = steps ? steps[i] : 1;
    if (step == 0) return on_err(r, "step 0");
    if (s->d[a].sym) {
      if (starts[i] != 0 || step != 1 || ends[i] < s->d[a].n) {
        if (!(starts[i] == 0 && step == 1 && ends[i] >= INT32_MAX))
          return on_err(r, "slicing the dynamic dim '%s' is not supported; fix it with --dim", r->g->syms[s->d[a].sym - 1].name);
      }
      continue;
    }
    st[a] = starts[i];
    en[a] = ends[i];
    /* a step past the dim picks the start element only, as a step of the dim does */
    int64_t dm = s->d[a].n > 0 ? s->d[a].n : 1;
    sp[a] = step > dm ? dm : step < -dm ? -dm : step;
    clamp_slice(s->d[a].n, step, &st[a], &en[a]);
  }
  return on_bind(r, 0, emit_slice(r, x, st, en, sp));
}

static int lower_split(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int ax = on_norm_axis(r, on_att_i(r, "axis", 0), s->rank), no = on_nout(r);
  if (ax < 0) return SMELT_ERR;
  if (s->d[ax].sym) return on_err(r, "cannot split the dynamic dim '%s'; fix it with --dim", r->g->syms[s->d[ax].sym - 1].name);
  int64_t *split = NULL, d = s->d[ax].n;
  int nsp = -1;
  if (r->opset < 13) nsp = on_att_ints(r, "split", &split);
  else if (on_has_in(r, 1) && (nsp = on_const_ints(r, 1, "split", &split)) < 0) return SMELT_ERR;
  int64_t sizes[256];
  if (no > 256) return on_err(r, "more than 256 outputs");
  if (nsp >= 0) {
    if (nsp != no) return on_err(r, "split has %d entries for %d outputs", nsp, no);
    int64_t tot = 0;
    for (int i = 0; i < no; i++) { if (split[i] < 0) return on_err(r, "negative split"); sizes[i] = split[i]; tot += split[i]; }
    if (tot != d) return on_err(r, "split sizes add to %lld, the axis has %lld", (long long)tot, (long long)d);
  } else {
    int64_t each = (d + no - 1) / no;
    for (int i = 0; i < no; i++) { int64_t rem = d - i * each; sizes[i] = rem < 0 ? 0 : rem < each ? rem : each; }
  }
  int64_t at = 0;
  for (int i = 0; i < no; i++) {
    int64_t st[SMELT_MAX_RANK], en[SMELT_MAX_RANK], sp[SMELT_MAX_RANK];
    for (int k = 0; k < s->rank; k++) { st[k] = 0; en[k] = s->d[k].sym ? INT64_MAX : s->d[k].n; sp[k] = 1; }
    st[ax] = at;
    en[ax] = at + sizes[i];
    at += sizes[i];
    if (on_has_out(r, i) && on_bind(r, i, emit_slice(r, x, st, en, sp))) return SMELT_ERR;
  }
  return 0;
}

static int lower_gather(onnx_rd *r, int arg) {
  if (on_is_symshape(r, 0)) { /* picking dims out of a shape value */
    smelt_dim d[ON_MAX_SYMSHAPE], o[ON_MAX_SYMSHAPE];
    int sc, n = on_symshape_in(r, 0, d, &sc);
    int64_t *ix;
    int ni = on_const_ints(r, 1, "indices into a shape value", &ix);
    if (ni < 0) return SMELT_ERR;
    int iv = on_in(r, 1);
    if (ni > ON_MAX_SYMSHAPE) return on_err(r, "too many indices");
    for (int i = 0; i < ni; i++) {
      int64_t k = ix[i] < 0 ? ix[i] + n : ix[i];
      if (k < 0 || k >= n) return on_err(r, "index %lld out of range", (long long)ix[i]);
      o[i] = d[k];
    }
    if (on_shape(r, iv)->rank == 0) return on_bind_symscalar(r, 0, o[0]);
    return on_bind_symshape(r, 0, o, ni);
  }
  int in[2] = {on_in(r, 0), on_in(r, 1)};
  if (in[0] < 0 || in[1] < 0) return SMELT_ERR;
  if (on_dtype(r, in[1]) != SMELT_DT_I64 && on_dtype(r, in[1]) != SMELT_DT_I32) in[1] = on_cast(r, in[1], SMELT_DT_I64);
  smelt_attr a = smelt_attr_int("axis", on_att_i(r, "axis", 0));
  if (on_norm_axis(r, a.i, on_shape(r, in[0])->rank) < 0) return SMELT_ERR;
  int y = on_emit(r, SMELT_OP_GATHER, in, 2, &a, 1, NULL);
  smelt_dtype dt = on_dtype(r, in[0]);
  if (y >= 0 && (dt == SMELT_DT_F16 || dt == SMELT_DT_BF16)) y = on_cast(r, y, dt); /* the IR's Gather gives f32 rows of a half table */
  return on_bind(r, 0, y);
}

/* broadcast of shape s with target dims t into out */
static int bcast_to(onnx_rd *r, const smelt_shape *s, const smelt_dim *t, int n, smelt_shape *out) {
  int rank = s->rank > n ? s->rank : n;
  if (rank > SMELT_MAX_RANK) return on_err(r, "result rank above 8");
  out->rank = rank;
  for (int k = 0; k < rank; k++) {
    int a = k - (rank - s->rank), b = k - (rank - n);
    smelt_dim x = a >= 0 ? s->d[a] : smelt_dim_c(1), y = b >= 0 ? t[b] : smelt_dim_c(1);
    if (!y.sym && y.n < 0) return on_err(r, "negative dim in the target shape");
    if (smelt_dim_is(x, 1)) out->d[k] = y;
    else if (smelt_dim_is(y, 1) || smelt_dim_eq(x, y)) out->d[k] = x;
    else return on_err(r, "input does not broadcast to the target shape");
  }
  return 0;
}

static int lower_expand(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  smelt_dim t[SMELT_MAX_RANK];
  int n = dims_operand(r, 1, "the target shape", t, SMELT_MAX_RANK);
  if (n < 0) return SMELT_ERR;
  smelt_shape o;
  if (bcast_to(r, on_shape(r, x), t, n, &o)) return SMELT_ERR;
  if (smelt_shape_eq(&o, on_shape(r, x))) return on_bind(r, 0, x);
  return on_bind(r, 0, on_emit(r, SMELT_OP_EXPAND, &x, 1, NULL, 0, &o));
}

/* Tile as reshape [1,d0,1,d1..] -> expand [r0,d0,r1,d1..] -> reshape [r0*d0, ..] */
static int lower_tile(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int64_t *rep;
  int n = on_const_ints(r, 1, "repeats", &rep);
  if (n < 0) return SMELT_ERR;
  if (n != s->rank) return on_err(r, "repeats has %d entries for rank %d", n, s->rank);
  int ones = 1;
  for (int i = 0; i < n; i++) { if (rep[i] < 0) return on_err(r, "negative repeat"); ones &= rep[i] == 1; }
  if (ones) return on_bind(r, 0, x);
  if (2 * s->rank > SMELT_MAX_RANK) return on_err(r, "Tile of rank above 4 is not supported");
  smelt_shape a = {.rank = 2 * s->rank}, b = a, c = {.rank = s->rank};
  for (int i = 0; i < s->rank; i++) {
    if (s->d[i].sym && rep[i] != 1) return on_err(r, "cannot tile the dynamic dim '%s'", r->g->syms[s->d[i].sym - 1].name);
    a.d[2 * i] = smelt_dim_c(1);
    a.d[2 * i + 1] = s->d[i];
    b.d[2 * i] = smelt_dim_c(rep[i]);
    b.d[2 * i + 1] = s->d[i];
    c.d[i] = s->d[i].sym ? s->d[i] : smelt_dim_c(rep[i] * s->d[i].n);
  }
  int v = on_reshape(r, x, &a);
  v = on_emit(r, SMELT_OP_EXPAND, &v, 1, NULL, 0, &b);
  return on_bind(r, 0, on_reshape(r, v, &c));
}

static int lower_pad(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int64_t *pads;
  double value = 0;
  int np;
  const char *mode = on_att_s(r, "mode", "constant");
  if (r->opset < 11) {
    np = on_att_ints(r, r->opset < 2 ? "paddings" : "pads", &pads);
    value = on_att_f(r, "value", 0);
  } else {
    if ((np = on_const_ints(r, 1, "pads", &pads)) < 0) return SMELT_ERR;
    if (on_has_in(r, 2)) {
      double *cv;
      if (on_const_floats(r, 2, "constant_value", &cv) < 0) return SMELT_ERR;
      value = cv[0];
    }
  }
  int64_t full[2 * SMELT_MAX_RANK] = {0};
  if (on_has_in(r, 3)) { /* opset 18 axes */
    int64_t *axes;
    int na = on_const_ints(r, 3, "axes", &axes);
    if (na < 0) return SMELT_ERR;
    if (np != 2 * na) return on_err(r, "pads must have 2 entries per axis");
    for (int i = 0; i < na; i++) {
      int a = on_norm_axis(r, axes[i], s->rank);
      if (a < 0) return SMELT_ERR;
      full[a] = pads[i];
      full[s->rank + a] = pads[na + i];
    }
  } else {
    if (np != 2 * s->rank) return on_err(r, "pads must have 2 entries per axis (%d given for rank %d)", np, s->rank);
    memcpy(full, pads, sizeof(int64_t) * np);
  }
  int zero = 1;
  for (int i = 0; i < 2 * s->rank; i++) zero &= full[i] == 0;
  if (zero) return on_bind(r, 0, x);
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge")) return on_err(r, "pad mode '%s' is not supported", mode);
  smelt_attr a[3] = {smelt_attr_ints(r->cx, "pads", full, 2 * s->rank), smelt_attr_str("mode", mode), smelt_attr_float("value", value)};
  return on_bind(r, 0, on_emit(r, SMELT_OP_PAD, &x, 1, a, 3, NULL));
}

/* Constant node: value (tensor) or value_float(s) / value_int(s). */
static int lower_constant(onnx_rd *r, int arg) {
  const Onnx__AttributeProto *a;
  if ((a = on_att(r, "value")) && a->t) {
    smelt_dtype dt;
    smelt_shape s;
    const void *data;
    uint64_t nb;
    if (on_tensor(r->cx, r->path, r->dir, a->t, &dt, &s, &data, &nb)) return SMELT_ERR;
    return on_bind(r, 0, smelt_graph_add_const(r->g, r->node->output[0], dt, &s, data, nb));
  }
  smelt_shape s = {0};
  if ((a = on_att(r, "value_float"))) { float f = a->f; return on_bind(r, 0, on_const_tensor(r, SMELT_DT_F32, &s, &f)); }
  if ((a = on_att(r, "value_int"))) { int64_t i = a->i; return on_bind(r, 0, on_const_tensor(r, SMELT_DT_I64, &s, &i)); }
  if ((a = on_att(r, "value_floats"))) {
    float *f = smelt_alloc(r->cx, sizeof(float) * (a->n_floats + 1));
    if (!f) return SMELT_ERR;
    if (a->n_floats) memcpy(f, a->floats, sizeof(float) * a->n_floats);
    s.rank = 1;
    s.d[0] = smelt_dim_c((int64_t)a->n_floats);
    return on_bind(r, 0, on_const_tensor(r, SMELT_DT_F32, &s, f));
  }
  if ((a = on_att(r, "value_ints"))) {
    s.rank = 1;
    s.d[0] = smelt_dim_c((int64_t)a->n_ints);
    return on_bind(r, 0, on_const_tensor(r, SMELT_DT_I64, &s, a->ints));
  }
  return on_err(r, "only tensor, float(s) and int(s) constants are supported (not strings or sparse tensors)");
}

static int lower_constant_of_shape(onnx_rd *r, int arg) {
  smelt_dim t[SMELT_MAX_RANK];
  int n = dims_operand(r, 0, "the shape", t, SMELT_MAX_RANK);
  if (n < 0) return SMELT_ERR;
  const Onnx__AttributeProto *a = on_att(r, "value");
  int v;
  if (a && a->t) {
    smelt_dtype dt;
    smelt_shape s;
    const void *data;
    uint64_t nb;
    if (on_tensor(r->cx, r->path, r->dir, a->t, &dt, &s, &data, &nb)) return SMELT_ERR;
    if (nb != (uint64_t)smelt_dtype_bytes(dt)) return on_err(r, "value must hold one element");
    smelt_shape s0 = {0};
    v = on_const_tensor(r, dt, &s0, data);
  } else v = on_scalar(r, SMELT_DT_F32, 0);
  smelt_shape o = {.rank = n};
  for (int i = 0; i < n; i++) {
    if (!t[i].sym && t[i].n < 0) return on_err(r, "negative dim");
    o.d[i] = t[i];
  }
  return on_bind(r, 0, on_emit(r, SMELT_OP_EXPAND, &v, 1, NULL, 0, &o));
}

static int lower_range(onnx_rd *r, int arg) {
  int v0 = on_in(r, 0);
  if (v0 < 0) return SMELT_ERR;
  smelt_dtype dt = on_dtype(r, v0);
  double *st, *li, *de;
  if (on_const_floats(r, 0, "start", &st) < 0 || on_const_floats(r, 1, "limit", &li) < 0 || on_const_floats(r, 2, "delta", &de) < 0) return SMELT_ERR;
  if (de[0] == 0) return on_err(r, "delta is 0");
  double cnt = ceil((li[0] - st[0]) / de[0]);
  int64_t n = cnt > 0 ? (int64_t)cnt : 0;
  if (n > (1 << 24)) return on_err(r, "range of %lld elements", (long long)n);
  smelt_shape s = {.rank = 1, .d = {smelt_dim_c(n)}};
  void *buf = smelt_alloc(r->cx, (size_t)(n ? n : 1) * 8);
  if (!buf) return SMELT_ERR;
  smelt_tensor t = {.dt = dt, .rank = 1, .dims = {n}, .data = buf};
  int64_t *is = NULL;
  if (!smelt_dtype_is_float(dt)) { /* exact integers */
    int64_t *a, *b, *c;
    if (on_const_ints(r, 0, "start", &a) < 0 || on_const_ints(r, 1, "limit", &b) < 0 || on_const_ints(r, 2, "delta", &c) < 0) return SMELT_ERR;
    is = a;
    for (int64_t i = 0; i < n; i++) smelt_tensor_seti(&t, i, a[0] + i * c[0]);
  } else
    for (int64_t i = 0; i < n; i++) smelt_tensor_setf(&t, i, st[0] + (double)i * de[0]);
  (void)is;
  return on_bind(r, 0, on_const_tensor(r, dt, &s, buf));
}

static int lower_eyelike(onnx_rd *r, int arg) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  if (s->rank != 2 || !smelt_shape_is_static(s)) return on_err(r, "needs a static 2-D input");
  smelt_dtype dt = on_dtype(r, x);
  if (on_att(r, "dtype") && on_dtype_from_onnx((int32_t)on_att_i(r, "dtype", 1), &dt)) return on_err(r, "unsupported dtype");
  int64_t R = s->d[0].n, C = s->d[1].n, k = on_att_i(r, "k", 0);
  void *buf = smelt_alloc(r->cx, (size_t)(R * C > 0 ? R * C : 1) * 8);
  if (!buf) return SMELT_ERR;
  smelt_tensor t = {.dt = dt, .rank = 2, .dims = {R, C}, .data = buf};
  for (int64_t i = 0; i < R; i++)
    for (int64_t j = 0; j < C; j++) smelt_tensor_seti(&t, i * C + j, j - i == k);
  return on_bind(r, 0, on_const_tensor(r, dt, s, buf));
}

/* DepthToSpace (DCR or CRD) and SpaceToDepth as reshape -> transpose -> reshape. */
static int lower_depth_space(onnx_rd *r, int to_space) {
  int x = on_in(r, 0);
  if (x < 0) return SMELT_ERR;
  const smelt_shape *s = on_shape(r, x);
  int64_t b = on_att_i(r, "blocksize", 0);
  if (s->rank != 4 || b <= 0) return on_err(r, "needs a 4-D input and a positive blocksize");
  for (int i = 1; i < 4; i++)
    if (s->d[i].sym) return on_err(r, "channel and spatial dims must be static");
  smelt_dim N = s->d[0];
  int64_t C = s->d[1].n, H = s->d[2].n, W = s->d[3].n;
  smelt_shape a = {.rank = 6}, o = {.rank = 4};
  int64_t perm[6];
  if (to_space) {
    if (C % (b * b)) return on_err(r, "channels not divisible by blocksize^2");
    int crd = !strcmp(on_att_s(r, "mode", "DCR"), "CRD");
    smelt_dim da[6] = {N, smelt_dim_c(crd ? C / (b * b) : b), smelt_dim_c(b), smelt_dim_c(crd ? b : C / (b * b)), smelt_dim_c(H), smelt_dim_c(W)};
    memcpy(a.d, da, sizeof da);
    int64_t p1[6] = {0, 3, 4, 1, 5, 2}, p2[6] = {0, 1, 4, 2, 5, 3};
    memcpy(perm, crd ? p2 : p1, sizeof perm);
    smelt_dim dout[4] = {N, smelt_dim_c(C / (b * b)), smelt_dim_c(H * b), smelt_dim_c(W * b)};
    memcpy(o.d, dout, sizeof dout);
  } else {
    if (H % b || W % b) return on_err(r, "spatial dims not divisible by blocksize");
    smelt_dim da[6] = {N, smelt_dim_c(C), smelt_dim_c(H / b), smelt_dim_c(b), smelt_dim_c(W / b), smelt_dim_c(b)};
    memcpy(a.d, da, sizeof da);
    int64_t p[6] = {0, 3, 5, 1, 2, 4};
    memcpy(perm, p, sizeof perm);
    smelt_dim dout[4] = {N, smelt_dim_c(C * b * b), smelt_dim_c(H / b), smelt_dim_c(W / b)};
    memcpy(o.d, dout, sizeof dout);
  }
  int v = on_reshape(r, x, &a);
  v = on_transpose(r, v, perm, 6);
  return on_bind(r, 0, on_reshape(r, v, &o));
}

const struct on_lowering on_lower_tensor[] = {
    {"Shape", lower_shape, 0}, {"Size", lower_size, 0}, {"Reshape", lower_reshape, 0}, {"Flatten", lower_flatten, 0},
    {"Squeeze", lower_squeeze, 0}, {"Unsqueeze", lower_unsqueeze, 0}, {"Transpose", lower_transpose, 0},
    {"Concat", lower_concat, 0}, {"Split", lower_split, 0}, {"Slice", lower_slice, 0}, {"Gather", lower_gather, 0},
    {"Expand", lower_expand, 0}, {"Tile", lower_tile, 0}, {"Pad", lower_pad, 0}, {"Constant", lower_constant, 0},
    {"ConstantOfShape", lower_constant_of_shape, 0}, {"Range", lower_range, 0}, {"EyeLike", lower_eyelike, 0},
    {"DepthToSpace", lower_depth_space, 1}, {"SpaceToDepth", lower_depth_space, 0},
    {NULL, NULL, 0},
};
