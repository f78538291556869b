/* backends/c/k_wino.c — the generic C kernel of a Conv in Winograd form (attribute wino =
 * m, weights U [(m+2)², C, M], ir/wino.h): the interpreter's loops (ir/wino.c), in double,
 * so IR the layout pass wrote for a vector target also runs on every other target.  Per
 * output tile and channel it transforms the input tiles again (not fast: the vector
 * targets run runtime/smelt_simd_wino.h instead). */
#include "cgen.h"
#include "ir/wino.h"

static const char *mat(struct cg *c, const double *v, int n) {
  const char *s = "";
  for (int i = 0; i < n; i++) s = smelt_sprintf(c->cx, "%s%s%s", s, i ? ", " : "", cg_double(c, v[i]));
  return s;
}

int emit_conv_wino(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *U = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  const double *bt, *g, *at;
  const int m = (int)smelt_attr_i(n, "wino");
  if (!smelt_wino_mats(m, &bt, &g, &at) || X->dt != SMELT_DT_F32) return 1;
  const int A = m + 2;
  const int64_t *pd;
  smelt_attr_ints_get(n, "pads", &pd);
  long long C = (long long)X->shape.d[1].n, H = (long long)X->shape.d[2].n, W = (long long)X->shape.d[3].n, M = (long long)U->shape.d[2].n;
  long long OH = (long long)Y->shape.d[2].n, OW = (long long)Y->shape.d[3].n;
  cg_line(c, "static const double bt[%d] = {%s};", A * A, mat(c, bt, A * A));
  cg_line(c, "static const double at[%d] = {%s};", m * A, mat(c, at, m * A));
  cg_line(c, "for (int64_t nb = 0; nb < %s; nb++)", cg_dim(c, X->shape.d[0]));
  cg_line(c, "for (int64_t k = 0; k < %lld; k++)", M);
  cg_line(c, "for (int64_t ty = 0; ty * %d < %lld; ty++)", m, OH);
  cg_line(c, "for (int64_t tx = 0; tx * %d < %lld; tx++) {", m, OW);
  CG_IN(c);
  cg_line(c, "double acc[%d] = {0}, t[%d], v[%d];", A * A, A * A, A * A);
  cg_line(c, "for (int64_t ci = 0; ci < %lld; ci++) {", C);
  CG_IN(c);
  cg_line(c, "const float *xc = x0 + (nb * %lld + ci) * %lld;", C, H * W);
  cg_line(c, "for (int r = 0; r < %d; r++) /* t = Bt d */", A);
  cg_line(c, "  for (int q = 0; q < %d; q++) {", A);
  cg_line(c, "    double s = 0;");
  cg_line(c, "    for (int kk = 0; kk < %d; kk++) {", A);
  cg_line(c, "      const int64_t ih = ty * %d + kk - %lld, iw = tx * %d + q - %lld;", m, (long long)pd[0], m, (long long)pd[1]);
  cg_line(c, "      if (ih >= 0 && ih < %lld && iw >= 0 && iw < %lld) s += bt[r * %d + kk] * xc[ih * %lld + iw];", H, W, A, W);
  cg_line(c, "    }");
  cg_line(c, "    t[r * %d + q] = s;", A);
  cg_line(c, "  }");
  cg_line(c, "for (int r = 0; r < %d; r++) /* v = t B */", A);
  cg_line(c, "  for (int q = 0; q < %d; q++) {", A);
  cg_line(c, "    double s = 0;");
  cg_line(c, "    for (int kk = 0; kk < %d; kk++) s += t[r * %d + kk] * bt[q * %d + kk];", A, A, A);
  cg_line(c, "    v[r * %d + q] = s;", A);
  cg_line(c, "  }");
  cg_line(c, "for (int e = 0; e < %d; e++) acc[e] += v[e] * x1[(e * %lld + ci) * %lld + k];", A * A, C, M);
  CG_OUT(c);
  cg_line(c, "}");
  cg_line(c, "for (int i = 0; i < %d && ty * %d + i < %lld; i++)", m, m, OH);
  cg_line(c, "  for (int j = 0; j < %d && tx * %d + j < %lld; j++) {", m, m, OW);
  cg_line(c, "    double s = %s;", n->nin > 2 && n->in[2] >= 0 ? "x2[k]" : "0");
  cg_line(c, "    for (int r = 0; r < %d; r++)", A);
  cg_line(c, "      for (int q = 0; q < %d; q++) s += at[i * %d + r] * acc[r * %d + q] * at[j * %d + q];", A, A, A, A);
  cg_line(c, "    y0[((nb * %lld + k) * %lld + ty * %d + i) * %lld + tx * %d + j] = (float)s;", M, OH, m, OW, m);
  cg_line(c, "  }");
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}
