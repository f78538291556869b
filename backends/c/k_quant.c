/* backends/c/k_quant.c — the portable C kernel of QMatMul (ops.def; weight layouts in
 * compiler/quantizers.h), specialized on K, N, the scheme and the group size.
 *
 * int8: each row of A is quantized to int8 once (max|a| / 127, round half away, the
 * interpreter's expressions), rows in chunks of up to 64 KiB; every weight row meets the
 * chunk's rows in int8 x int8 -> int32 dots (|sum| <= K * 127 * 127 < 2^31 for K <= 131072, which shape inference enforces),
 * scaled once by s_a * s_w.  int4 / nf4: each weight row is decoded into a float row
 * (codebook lookup times the group's scale) and met by every row of A with the float
 * dot, so prefill decodes a row once for all tokens.
 *
 * Plain loops GCC vectorizes at -O2; target backends (backends/x86, backends/arm)
 * override QMatMul through the kernel hook of backends/backend.h and return 1 for the
 * cases they leave to this one. */
#include "cgen.h"

#include <string.h>

static void nf4_table(struct cg *c, int nf4) {
  if (nf4) {
    cg_line(c, "static const float tab[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,");
    cg_line(c, "  -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f,");
    cg_line(c, "  0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f, 0.44070982933044434f,");
    cg_line(c, "  0.5626170039176941f, 0.7229568362236023f, 1.0f};");
  } else {
    cg_line(c, "static const float tab[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};");
  }
}

int emit_qmatmul(struct cg *c, const smelt_node *n) {
  const smelt_value *A = cg_in(c, n, 0), *W = cg_in(c, n, 1);
  const char *R = cg_elems(c, &A->shape, 0, A->shape.rank - 1);
  const long long K = (long long)A->shape.d[A->shape.rank - 1].n, N = (long long)W->shape.d[0].n;
  cg_line(c, "const int64_t R = %s;", R);
  if (!strcmp(smelt_attr_s(n, "scheme"), "int8")) {
    /* rows of A go to int8 in chunks of up to 64 KiB on the stack (at least one row,
     * K <= 131072); each weight row then meets every row of the chunk while it is in
     * L1, so prefill reads the weights once per chunk rather than once per token */
    long long ch = 65536 / K;
    if (ch < 1) ch = 1;
    cg_line(c, "int8_t qa[%lld];", ch * K);
    cg_line(c, "float sa[%lld];", ch);
    cg_line(c, "for (int64_t r0 = 0; r0 < R; r0 += %lld) {", ch);
    cg_line(c, "  const int64_t nr = R - r0 < %lld ? R - r0 : %lld;", ch, ch);
    cg_line(c, "  for (int64_t i = 0; i < nr; i++) {");
    cg_line(c, "    const float *a = x0 + (r0 + i) * %lld;", K);
    cg_line(c, "    int8_t *q = qa + i * %lld;", K);
    cg_line(c, "    float amax = 0;");
    cg_line(c, "    for (int64_t k = 0; k < %lld; k++) amax = fmaxf(amax, fabsf(a[k]));", K);
    cg_line(c, "    const float s = amax / 127, ia = s ? 1.0f / s : 0.0f;");
    cg_line(c, "    sa[i] = s;");
    cg_line(c, "    for (int64_t k = 0; k < %lld; k++) {", K);
    cg_line(c, "      float t = roundf(a[k] * ia);");
    cg_line(c, "      if (!(t >= -127.0f)) t = -127.0f;");
    cg_line(c, "      if (t > 127.0f) t = 127.0f;");
    cg_line(c, "      q[k] = (int8_t)t;");
    cg_line(c, "    }");
    cg_line(c, "  }");
    cg_line(c, "  for (int64_t j = 0; j < %lld; j++) {", N);
    cg_line(c, "    const int8_t *w = x1 + j * %lld;", K);
    cg_line(c, "    for (int64_t i = 0; i < nr; i++) {");
    cg_line(c, "      const int8_t *q = qa + i * %lld;", K);
    cg_line(c, "      int32_t acc = 0;");
    cg_line(c, "      for (int64_t k = 0; k < %lld; k++) acc += (int32_t)q[k] * (int32_t)w[k];", K);
    cg_line(c, "      y0[(r0 + i) * %lld + j] = (float)((double)acc * sa[i] * x2[j]);", N);
    cg_line(c, "    }");
    cg_line(c, "  }");
    cg_line(c, "}");
    return 0;
  }
  const int nf4 = !strcmp(smelt_attr_s(n, "scheme"), "nf4");
  const long long G = (long long)smelt_attr_i(n, "group"), NG = K / G, RB = (K + 1) / 2;
  nf4_table(c, nf4);
  if (K <= 16384) { /* decode a weight row once (64 KiB of stack at most), then float dots */
    cg_line(c, "float wr[%lld];", K);
    cg_line(c, "for (int64_t j = 0; j < %lld; j++) {", N);
    cg_line(c, "  const uint8_t *w = x1 + j * %lld;", RB);
    cg_line(c, "  const float *s = x2 + j * %lld;", NG);
    if (G % 2 == 0) { /* a group is whole bytes: one scale per group, two codes a byte */
      cg_line(c, "  for (int64_t b = 0; b < %lld; b++) {", NG);
      cg_line(c, "    const uint8_t *wb = w + b * %lld;", G / 2);
      cg_line(c, "    float *o = wr + b * %lld;", G);
      cg_line(c, "    const float sb = s[b];");
      if (nf4) cg_line(c, "    for (int l = 0; l < %lld; l++) { o[2 * l] = tab[wb[l] & 15] * sb; o[2 * l + 1] = tab[wb[l] >> 4] * sb; }", G / 2);
      else cg_line(c, "    for (int l = 0; l < %lld; l++) { o[2 * l] = (float)((wb[l] & 15) - 8) * sb; o[2 * l + 1] = (float)((wb[l] >> 4) - 8) * sb; }", G / 2);
      cg_line(c, "  }");
    } else {
      cg_line(c, "  for (int64_t k = 0; k < %lld; k++) wr[k] = tab[(w[k >> 1] >> ((k & 1) * 4)) & 15] * s[k / %lld];", K, G);
    }
    cg_line(c, "  for (int64_t r = 0; r < R; r++) y0[r * %lld + j] = sm_dot_f32(x0 + r * %lld, wr, %lld);", N, K, K);
    cg_line(c, "}");
    return 0;
  }
  /* wide rows: one fused pass per (row of A, weight row), summed per group */
  cg_line(c, "for (int64_t r = 0; r < R; r++) {");
  cg_line(c, "  const float *a = x0 + r * %lld;", K);
  cg_line(c, "  for (int64_t j = 0; j < %lld; j++) {", N);
  cg_line(c, "    const uint8_t *w = x1 + j * %lld;", RB);
  cg_line(c, "    float tot = 0;");
  cg_line(c, "    for (int64_t b = 0; b < %lld; b++) {", NG);
  cg_line(c, "      float acc = 0;");
  cg_line(c, "      for (int64_t k = b * %lld; k < (b + 1) * %lld; k++) acc += tab[(w[k >> 1] >> ((k & 1) * 4)) & 15] * a[k];", G, G);
  cg_line(c, "      tot += acc * x2[j * %lld + b];", NG);
  cg_line(c, "    }");
  cg_line(c, "    y0[r * %lld + j] = tot;", N);
  cg_line(c, "  }");
  cg_line(c, "}");
  return 0;
}

/* sum over i of VAR<i> * (product of dims[i+1 .. nsp-1]) */
static const char *qc_off(struct cg *c, const char *var, const int64_t *dims, int nsp) {
  const char *e = "0";
  for (int i = 0; i < nsp; i++) {
    int64_t st = 1;
    for (int j = i + 1; j < nsp; j++) st *= dims[j];
    e = smelt_sprintf(c->cx, "%s + %s%d * %lld", e, var, i, (long long)st);
  }
  return e;
}

/* QConv (ops.def, shape_qconv in ir/shape.c): per output channel, the weight row
 * (C/group * prod(kernel) values, at most 16384: 64 KiB of stack) is decoded to
 * floats once, then met by every image of the batch with the generic convolution's
 * loops (float accumulator, as emit_conv).  Weight-only: activations stay f32. */
int emit_qconv(struct cg *c, const smelt_node *n) {
  const smelt_value *X = cg_in(c, n, 0), *W = cg_in(c, n, 1), *Y = cg_out(c, n, 0);
  const int nsp = X->shape.rank - 2;
  const int64_t *st, *pd, *dl, *kk;
  smelt_attr_ints_get(n, "strides", &st);
  smelt_attr_ints_get(n, "pads", &pd);
  smelt_attr_ints_get(n, "dilations", &dl);
  smelt_attr_ints_get(n, "kernel", &kk);
  const char *sch = smelt_attr_s(n, "scheme");
  int64_t xd[SMELT_MAX_RANK], yd[SMELT_MAX_RANK], KK = 1, XSP = 1, OSP = 1;
  for (int i = 0; i < nsp; i++) {
    xd[i] = X->shape.d[2 + i].n, yd[i] = Y->shape.d[2 + i].n;
    KK *= kk[i], XSP *= xd[i], OSP *= yd[i];
  }
  const long long grp = (long long)smelt_attr_i(n, "group"), C = (long long)X->shape.d[1].n, M = (long long)W->shape.d[0].n;
  const long long Cg = C / grp, Mg = M / grp, R = Cg * KK;
  if (W->dt != SMELT_DT_F16 && !smelt_dtype_is_block(W->dt)) nf4_table(c, !strcmp(sch, "nf4"));
  cg_line(c, "float wr[%lld];", R);
  cg_line(c, "for (int64_t m = 0; m < %lld; m++) {", M);
  CG_IN(c);
  if (W->dt == SMELT_DT_F16 || smelt_dtype_is_block(W->dt)) {
    cg_line(c, "smq_dequantize_row_%s((const unsigned char *)x1 + m * %lld, wr, %lld);", smelt_dtype_name(W->dt),
            (long long)smelt_dtype_nbytes(W->dt, R), R);
  } else if (!strcmp(sch, "int8")) {
    cg_line(c, "for (int64_t k = 0; k < %lld; k++) wr[k] = (float)x1[m * %lld + k] * x3[m];", R, R);
  } else {
    const long long G = (long long)smelt_attr_i(n, "qgroup");
    cg_line(c, "const uint8_t *w = x1 + m * %lld;", (R + 1) / 2);
    cg_line(c, "for (int64_t k = 0; k < %lld; k++) wr[k] = x3[m * %lld + k / %lld] * tab[(w[k >> 1] >> ((k & 1) * 4)) & 15];", R, R / G, G);
  }
  cg_line(c, "for (int64_t nb = 0; nb < %s; nb++) {", cg_dim(c, X->shape.d[0]));
  CG_IN(c);
  cg_line(c, "const float *xg = x0 + (nb * %lld + (m / %lld) * %lld) * %lld;", C, Mg, Cg, (long long)XSP);
  cg_line(c, "float *ym = y0 + (nb * %lld + m) * %lld;", M, (long long)OSP);
  for (int i = 0; i < nsp; i++) {
    cg_line(c, "for (int64_t o%d = 0; o%d < %lld; o%d++) {", i, i, (long long)yd[i], i);
    CG_IN(c);
  }
  cg_line(c, "float acc = x2[m];");
  cg_line(c, "for (int64_t ci = 0; ci < %lld; ci++) {", Cg);
  CG_IN(c);
  cg_line(c, "const float *xc = xg + ci * %lld, *wc = wr + ci * %lld;", (long long)XSP, (long long)KK);
  for (int i = 0; i < nsp; i++) {
    cg_line(c, "for (int64_t k%d = 0; k%d < %lld; k%d++) {", i, i, (long long)kk[i], i);
    CG_IN(c);
    cg_line(c, "const int64_t p%d = o%d * %lld - %lld + k%d * %lld;", i, i, (long long)st[i], (long long)pd[i], i, (long long)dl[i]);
    cg_line(c, "if (p%d < 0 || p%d >= %lld) continue;", i, i, (long long)xd[i]);
  }
  cg_line(c, "acc += xc[%s] * wc[%s];", qc_off(c, "p", xd, nsp), qc_off(c, "k", kk, nsp));
  for (int i = 0; i < nsp; i++) { CG_OUT(c); cg_line(c, "}"); }
  CG_OUT(c);
  cg_line(c, "}");
  cg_line(c, "ym[%s] = acc;", qc_off(c, "o", yd, nsp));
  for (int i = 0; i < nsp; i++) { CG_OUT(c); cg_line(c, "}"); }
  CG_OUT(c);
  cg_line(c, "}");
  CG_OUT(c);
  cg_line(c, "}");
  return 0;
}
