/* backends/c/k_llm.c — C kernels of the decoder ops: RMSNorm, LayerNorm, RoPE, KV-cache
 * writes, causal attention over the cache, take-last.
 *
 * Rows are processed with float accumulators (the interpreter uses double).  Positions
 * come from the pos operand at run time and are checked against the cache: a position
 * past the end returns SMELT_E_ARG.  Temporaries are stack arrays sized at compile
 * time (a row of scores over the cache, one head's accumulator). */
#include "cgen.h"
#include "ir/llm.h"

#include <math.h>
#include <string.h>

/* rows of the last dim: count and size */
static const char *rows_of(struct cg *c, const smelt_shape *s) { return cg_elems(c, s, 0, s->rank - 1); }

int emit_rms_norm(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *W = cg_in(c, n, 1);
  int64_t D = X->shape.d[X->shape.rank - 1].n;
  const char *one = smelt_attr_i(n, "add_one") ? "1.0f + " : "";
  cg_line(c, "const int64_t rows = %s, D = %lld;", rows_of(c, &X->shape), (long long)D);
  cg_line(c, "for (int64_t r = 0; r < rows; r++) {");
  cg_line(c, "  float ss = 0;");
  cg_line(c, "  for (int64_t i = 0; i < D; i++) { const float x = %s; ss += x * x; }", cg_load(c, X->dt, "x0[r * D + i]"));
  cg_line(c, "  const float inv = 1.0f / sqrtf(ss / (float)D + (float)%s);", cg_double(c, smelt_attr_f(n, "eps")));
  cg_line(c, "  for (int64_t i = 0; i < D; i++) y0[r * D + i] = %s;",
          cg_store(c, X->dt, smelt_sprintf(c->cx, "%s * inv * (%s%s)", cg_load(c, X->dt, "x0[r * D + i]"), one, cg_load(c, W->dt, "x1[i]"))));
  cg_line(c, "}");
  return 0;
}

int emit_layer_norm(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *W = cg_in(c, n, 1);
  int64_t D = X->shape.d[X->shape.rank - 1].n;
  cg_line(c, "const int64_t rows = %s, D = %lld;", rows_of(c, &X->shape), (long long)D);
  cg_line(c, "for (int64_t r = 0; r < rows; r++) {");
  cg_line(c, "  float m = 0, v = 0;");
  cg_line(c, "  for (int64_t i = 0; i < D; i++) m += %s;", cg_load(c, X->dt, "x0[r * D + i]"));
  cg_line(c, "  m /= (float)D;");
  cg_line(c, "  for (int64_t i = 0; i < D; i++) { const float d = %s - m; v += d * d; }", cg_load(c, X->dt, "x0[r * D + i]"));
  cg_line(c, "  const float inv = 1.0f / sqrtf(v / (float)D + (float)%s);", cg_double(c, smelt_attr_f(n, "eps")));
  const char *e = smelt_sprintf(c->cx, "(%s - m) * inv * %s%s", cg_load(c, X->dt, "x0[r * D + i]"), cg_load(c, W->dt, "x1[i]"),
                                n->nin > 2 ? smelt_sprintf(c->cx, " + %s", cg_load(c, cg_in(c, n, 2)->dt, "x2[i]")) : "");
  cg_line(c, "  for (int64_t i = 0; i < D; i++) y0[r * D + i] = %s;", cg_store(c, X->dt, e));
  cg_line(c, "}");
  return 0;
}

int emit_rope(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  int64_t H = X->shape.d[1].n, D = X->shape.d[2].n, dims = smelt_attr_i(n, "dims"), half = dims / 2;
  int neox = (int)smelt_attr_i(n, "neox");
  double *f = smelt_alloc(c->cx, sizeof(double) * (size_t)(half + 1));
  if (!f) return SMELT_ERR;
  smelt_rope_inv_freq(n, f);
  /* cos and sin of position p0 from libm, then of p0 + 1, p0 + 2 .. by rotating through
   * the angle of one step (its cos and sin computed here, at compile time) in double:
   * one libm pair per frequency per call instead of one per token, and the rotation's
   * rounding (about 1e-16 per step) stays far under the float results' */
  cg_line(c, "static const double inv_freq[%lld] = {", (long long)half);
  for (int64_t i = 0; i < half; i++) cg_line(c, "  %.17g,", f[i]);
  cg_line(c, "};");
  cg_line(c, "static const double step[%lld][2] = {", (long long)half);
  for (int64_t i = 0; i < half; i++) cg_line(c, "  {%.17g, %.17g},", cos(f[i]), sin(f[i]));
  cg_line(c, "};");
  cg_line(c, "const int64_t T = %s, H = %lld, D = %lld, half = %lld, p0 = (int64_t)x1[0];", cg_dim(c, X->shape.d[0]), (long long)H, (long long)D, (long long)half);
  cg_line(c, "float cs[%lld], sn[%lld];", (long long)half, (long long)half);
  cg_line(c, "double cd[%lld], sd[%lld];", (long long)half, (long long)half);
  cg_line(c, "for (int64_t i = 0; i < half; i++) { const double a = (double)p0 * inv_freq[i]; cd[i] = cos(a); sd[i] = sin(a); }");
  cg_line(c, "for (int64_t t = 0; t < T; t++) {");
  cg_line(c, "  for (int64_t i = 0; i < half; i++) {");
  cg_line(c, "    cs[i] = (float)cd[i];");
  cg_line(c, "    sn[i] = (float)sd[i];");
  cg_line(c, "    const double c2 = cd[i] * step[i][0] - sd[i] * step[i][1];");
  cg_line(c, "    sd[i] = sd[i] * step[i][0] + cd[i] * step[i][1];");
  cg_line(c, "    cd[i] = c2;");
  cg_line(c, "  }");
  cg_line(c, "  for (int64_t h = 0; h < H; h++) {");
  cg_line(c, "    const int64_t b = (t * H + h) * D;");
  if (dims < D) cg_line(c, "    for (int64_t i = %lld; i < D; i++) y0[b + i] = x0[b + i];", (long long)dims);
  cg_line(c, "    for (int64_t i = 0; i < half; i++) {");
  cg_line(c, "      const int64_t i0 = %s, i1 = %s;", neox ? "i" : "2 * i", neox ? "i + half" : "2 * i + 1");
  cg_line(c, "      const float a = %s, b2 = %s;", cg_load(c, X->dt, "x0[b + i0]"), cg_load(c, X->dt, "x0[b + i1]"));
  cg_line(c, "      y0[b + i0] = %s;", cg_store(c, X->dt, "a * cs[i] - b2 * sn[i]"));
  cg_line(c, "      y0[b + i1] = %s;", cg_store(c, X->dt, "a * sn[i] + b2 * cs[i]"));
  cg_line(c, "    }");
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}

/* y0 is x0 (the cache, updated in place): write rows [pos, pos + T) */
int emit_kv_write(struct cg *c, const smelt_node *n) {
  const smelt_value *Cv = cg_in(c, n, 0), *X = cg_in(c, n, 1);
  int64_t C = Cv->shape.d[0].n, row = Cv->shape.d[1].n * Cv->shape.d[2].n;
  cg_line(c, "const int64_t T = %s, row = %lld, p0 = (int64_t)x2[0];", cg_dim(c, X->shape.d[0]), (long long)row);
  cg_line(c, "if (p0 < 0 || p0 + T > %lld) return SMELT_E_ARG;", (long long)C);
  if (Cv->dt == X->dt) cg_line(c, "memcpy(y0 + p0 * row, x1, (size_t)(T * row) * sizeof(*y0));");
  else cg_line(c, "for (int64_t i = 0; i < T * row; i++) y0[p0 * row + i] = %s;", cg_store(c, Cv->dt, cg_load(c, X->dt, "x1[i]")));
  cg_line(c, "(void)x0;");
  return 0;
}

int emit_attention(struct cg *c, const smelt_node *n) {
  const smelt_value *Q = cg_in(c, n, 0), *K = cg_in(c, n, 1), *V = cg_in(c, n, 2);
  int64_t H = Q->shape.d[1].n, D = Q->shape.d[2].n, C = K->shape.d[0].n, Hkv = K->shape.d[1].n;
  int64_t win = smelt_attr_i(n, "window");
  double cap = smelt_attr_f(n, "softcap");
  if (C * 4 > 4 << 20) return smelt_errorf(c->cx, "node '%s': a context of %lld needs more stack for scores than smelt allows (4 MiB)", n->name, (long long)C);
  cg_line(c, "const int64_t T = %s, H = %lld, D = %lld, Hkv = %lld, grp = %lld, p0 = (int64_t)x3[0];", cg_dim(c, Q->shape.d[0]),
          (long long)H, (long long)D, (long long)Hkv, (long long)(H / Hkv));
  cg_line(c, "const float scale = (float)%s;", cg_double(c, smelt_attr_f(n, "scale")));
  cg_line(c, "float s[%lld], acc[%lld];", (long long)C, (long long)D);
  cg_line(c, "if (p0 < 0 || p0 + T > %lld) return SMELT_E_ARG;", (long long)C);
  cg_line(c, "for (int64_t t = 0; t < T; t++) {");
  cg_line(c, "  const int64_t p = p0 + t, lo = %s;", win > 0 ? smelt_sprintf(c->cx, "p - %lld + 1 > 0 ? p - %lld + 1 : 0", (long long)win, (long long)win) : "0");
  cg_line(c, "  for (int64_t h = 0; h < H; h++) {");
  cg_line(c, "    const %s *q = x0 + (t * H + h) * D;", cg_ctype(Q->dt));
  cg_line(c, "    const int64_t kh = h / grp;");
  cg_line(c, "    float m = -INFINITY, sum = 0;");
  cg_line(c, "    for (int64_t j = lo; j <= p; j++) {");
  cg_line(c, "      const %s *k = x1 + (j * Hkv + kh) * D;", cg_ctype(K->dt));
  if (Q->dt == SMELT_DT_F32 && K->dt == SMELT_DT_F32) cg_line(c, "      float d = sm_dot_f32(q, k, D);");
  else {
    cg_line(c, "      float d = 0;");
    cg_line(c, "      for (int64_t i = 0; i < D; i++) d += %s * %s;", cg_load(c, Q->dt, "q[i]"), cg_load(c, K->dt, "k[i]"));
  }
  cg_line(c, "      d *= scale;");
  if (cap > 0) cg_line(c, "      d = (float)%s * tanhf(d / (float)%s);", cg_double(c, cap), cg_double(c, cap));
  cg_line(c, "      s[j] = d;");
  cg_line(c, "      if (d > m) m = d;");
  cg_line(c, "    }");
  cg_line(c, "    for (int64_t j = lo; j <= p; j++) { s[j] = expf(s[j] - m); sum += s[j]; }");
  cg_line(c, "    for (int64_t i = 0; i < D; i++) acc[i] = 0;");
  cg_line(c, "    for (int64_t j = lo; j <= p; j++) {");
  cg_line(c, "      const %s *v = x2 + (j * Hkv + kh) * D;", cg_ctype(V->dt));
  cg_line(c, "      const float w = s[j];");
  cg_line(c, "      for (int64_t i = 0; i < D; i++) acc[i] += w * %s;", cg_load(c, V->dt, "v[i]"));
  cg_line(c, "    }");
  cg_line(c, "    const float inv = 1.0f / sum;");
  cg_line(c, "    for (int64_t i = 0; i < D; i++) y0[(t * H + h) * D + i] = %s;", cg_store(c, Q->dt, "acc[i] * inv"));
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}

int emit_take_last(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0);
  const char *row = cg_elems(c, &X->shape, 1, X->shape.rank);
  cg_line(c, "const int64_t T = %s;", cg_dim(c, X->shape.d[0]));
  cg_line(c, "if (T > 0) memcpy(y0, x0 + (T - 1) * %s, (size_t)(%s) * sizeof(*y0));", row, row);
  return 0;
}

int emit_positions(struct cg *c, const smelt_node *n) {
  cg_line(c, "const int64_t T = %s, p0 = (int64_t)x0[0];", cg_dim(c, cg_out(c, n, 0)->shape.d[0]));
  cg_line(c, "for (int64_t i = 0; i < T; i++) y0[i] = (int32_t)(p0 + i);");
  cg_line(c, "(void)x1;");
  return 0;
}
