/* ir/eval_data.c — interpreter kernels for data movement: reshape (copy), expand,
 * transpose, concat, slice, gather, pad.  They move bytes and never look at values
 * (except gather's indices and pad's fill value); gather dequantizes the rows of a
 * block-quantized, f16 or bf16 table to f32. */
#include "eval.h"

static size_t esz(const smelt_tensor *t) { return (size_t)smelt_dtype_bytes(t->dt); }

int eval_copy(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g; (void)n;
  memcpy(out->data, in[0].data, (size_t)smelt_tensor_elems(out) * esz(out));
  return 0;
}

/* Copies with a per-output-axis source stride table (0 = broadcast). */
static void strided_copy(const smelt_tensor *src, int64_t base, const int64_t *sst, smelt_tensor *out) {
  size_t b = esz(out);
  int r = out->rank;
  int64_t idx[SMELT_MAX_RANK] = {0}, off = base, total = smelt_tensor_elems(out);
  for (int64_t o = 0; o < total; o++) {
    memcpy((char *)out->data + o * b, (const char *)src->data + off * b, b);
    for (int k = r - 1; k >= 0; k--) {
      off += sst[k];
      if (++idx[k] < out->dims[k]) break;
      off -= sst[k] * idx[k];
      idx[k] = 0;
    }
  }
}

int eval_expand(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g; (void)n;
  int64_t st[SMELT_MAX_RANK];
  ev_bcast_strides(&in[0], out->rank, out->dims, st);
  strided_copy(&in[0], 0, st, out);
  return 0;
}

int eval_transpose(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const int64_t *perm;
  smelt_attr_ints_get(n, "perm", &perm);
  int64_t xs[SMELT_MAX_RANK], st[SMELT_MAX_RANK];
  ev_strides(in[0].dims, in[0].rank, xs);
  for (int k = 0; k < out->rank; k++) st[k] = xs[perm[k]];
  strided_copy(&in[0], 0, st, out);
  return 0;
}

int eval_concat(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  int r = out->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; i++) outer *= out->dims[i];
  for (int i = ax + 1; i < r; i++) inner *= out->dims[i];
  size_t b = esz(out);
  int64_t orow = out->dims[ax] * inner, at = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t row = in[k].dims[ax] * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy((char *)out->data + (o * orow + at) * b, (const char *)in[k].data + o * row * b, (size_t)row * b);
    at += row;
  }
  return 0;
}

int eval_slice(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const int64_t *st, *sp;
  smelt_attr_ints_get(n, "starts", &st);
  smelt_attr_ints_get(n, "steps", &sp);
  int64_t xs[SMELT_MAX_RANK], ss[SMELT_MAX_RANK], base = 0;
  ev_strides(in[0].dims, in[0].rank, xs);
  for (int k = 0; k < out->rank; k++) {
    ss[k] = xs[k] * sp[k];
    if (out->dims[k]) base += st[k] * xs[k];
  }
  if (smelt_tensor_elems(out)) strided_copy(&in[0], base, ss, out);
  return 0;
}

int eval_gather(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  const smelt_tensor *X = &in[0], *I = &in[1];
  int r = X->rank, ax = (int)smelt_attr_i(n, "axis");
  if (ax < 0) ax += r;
  int64_t outer = 1, inner = 1, D = X->dims[ax], ni = smelt_tensor_elems(I);
  for (int i = 0; i < ax; i++) outer *= X->dims[i];
  for (int i = ax + 1; i < r; i++) inner *= X->dims[i];
  if (smelt_dtype_is_block(X->dt)) { /* f32 rows dequantized from a [D, inner] table (axis 0) */
    size_t rb = (size_t)smelt_dtype_nbytes(X->dt, inner);
    for (int64_t j = 0; j < ni; j++) {
      int64_t ix = ev_geti(I, j);
      if (ix < 0) ix += D;
      if (ix < 0 || ix >= D) return ev_fail(g, n, "index out of range");
      smelt_dequantize_row(X->dt, (const char *)X->data + ix * rb, (float *)out->data + j * inner, inner);
    }
    return 0;
  }
  size_t b = esz(X);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t ix = ev_geti(I, j);
      if (ix < 0) ix += D;
      if (ix < 0 || ix >= D) return ev_fail(g, n, "index out of range");
      const char *src = (const char *)X->data + ((o * D + ix) * inner) * b;
      if (out->dt != X->dt) smelt_dequantize_row(X->dt, src, (float *)out->data + (o * ni + j) * inner, inner); /* f16 / bf16 rows to f32 */
      else memcpy((char *)out->data + ((o * ni + j) * inner) * b, src, (size_t)inner * b);
    }
  return 0;
}

int eval_pad(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  (void)g;
  const smelt_tensor *X = &in[0];
  const int64_t *p;
  smelt_attr_ints_get(n, "pads", &p);
  const char *mode = smelt_attr_s(n, "mode");
  int r = X->rank, m = !strcmp(mode, "reflect") ? 1 : !strcmp(mode, "edge") ? 2 : 0;
  smelt_tensor fill = {.dt = X->dt, .rank = 0};
  unsigned char fb[16];
  fill.data = fb;
  if (smelt_dtype_is_float(X->dt)) ev_setf(&fill, 0, smelt_attr_f(n, "value"));
  else ev_seti(&fill, 0, (int64_t)smelt_attr_f(n, "value"));
  int64_t xs[SMELT_MAX_RANK], idx[SMELT_MAX_RANK] = {0}, total = smelt_tensor_elems(out);
  ev_strides(X->dims, r, xs);
  size_t b = esz(X);
  for (int64_t o = 0; o < total; o++) {
    int64_t off = 0, inside = 1;
    for (int k = 0; k < r; k++) {
      int64_t q = idx[k] - p[k], d = X->dims[k];
      if (q < 0 || q >= d) {
        if (m == 0) { inside = 0; break; }
        if (m == 1) { /* reflect without repeating the edge; pads < d keep one fold */
          if (q < 0) q = -q;
          if (q >= d) q = 2 * (d - 1) - q;
        } else q = q < 0 ? 0 : d - 1;
      }
      off += q * xs[k];
    }
    memcpy((char *)out->data + o * b, inside ? (const char *)X->data + off * b : (const char *)fb, b);
    for (int k = r - 1; k >= 0; k--) {
      if (++idx[k] < out->dims[k]) break;
      idx[k] = 0;
    }
  }
  return 0;
}
