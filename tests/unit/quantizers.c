/* tests/unit/quantizers.c — compiler/quantizers.c:
 *
 *   - smelt_quantize_rows gives exactly ggml's bytes for f16, bf16, q8_0, q4_0, q4_1,
 *     q5_0 and q5_1 on ggml's own reference rows (tests/unit/data/quant: the input rows
 *     and the blocks ggml's reference quantizers wrote for them);
 *   - every --quant scheme's relative error ||W - Wq|| / ||W|| on fixed tensors (a
 *     gaussian weight 64 x 256 of sigma 0.02, and one with a 20x outlier every 37
 *     values) stays within the bounds below, and the decoded weight is what the
 *     layouts promise (int8 codes within +-127, int4 within -7..7, zero rows decode to 0);
 *   - nf4 beats int4 on gaussian weights (what its codebook is for), 8 bits beat 4.
 *
 * Bounds (measured values are printed; the bounds leave ~30% headroom over them):
 *   scheme   gaussian  outliers   measured
 *   f16      3e-4      3e-4       2.1e-4  1.9e-4
 *   q8_0     7e-3      1.6e-2     5.4e-3  1.2e-2
 *   int8     1e-2      3.2e-2     7.1e-3  2.4e-2   (one scale per 256-wide row)
 *   q4_0     0.12      0.21       0.087   0.158
 *   int4     0.13      0.23       0.098   0.170    (group 32)
 *   nf4      0.115     0.16       0.087   0.122    (group 32) */
#include "../testutil.h"
#include "compiler/quantizers.h"
#include "runtime/smelt_quant.h"

#include <math.h>

#ifndef SMELT_SOURCE_DIR
#define SMELT_SOURCE_DIR "."
#endif

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
  return (uint32_t)((rs * 0x2545F4914F6CDD1Dull) >> 32);
}
static double unif01(void) { return (rnd() + 0.5) / 4294967296.0; }
static float gauss(double sigma) { return (float)(sigma * sqrt(-2 * log(unif01())) * cos(6.283185307179586 * unif01())); }

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static double rel(const float *w, const float *q, int64_t n) {
  double a = 0, b = 0;
  for (int64_t i = 0; i < n; i++) {
    a += ((double)w[i] - q[i]) * ((double)w[i] - q[i]);
    b += (double)w[i] * w[i];
  }
  return sqrt(a / b);
}

/* the decoded weight of one scheme; returns the relative error */
static double scheme_err(const char *s, const float *w, int64_t n, int64_t k, int64_t g, float *dq) {
  if (!strcmp(s, "f16") || !strcmp(s, "q8_0") || !strcmp(s, "q4_0")) {
    smelt_dtype dt = !strcmp(s, "f16") ? SMELT_DT_F16 : !strcmp(s, "q8_0") ? SMELT_DT_Q8_0 : SMELT_DT_Q4_0;
    int64_t rb = smelt_dtype_nbytes(dt, k);
    unsigned char *q = malloc((size_t)(rb * n));
    CHECK(smelt_quantize_rows(dt, w, n, k, q) == 0, "%s: quantize_rows failed", s);
    for (int64_t r = 0; r < n; r++) smelt_dequantize_row(dt, q + r * rb, dq + r * k, k);
    free(q);
  } else if (!strcmp(s, "int8")) {
    int8_t *q = malloc((size_t)(n * k));
    float *sc = malloc(sizeof(float) * (size_t)n);
    smelt_quantize_int8(w, n, k, q, sc);
    int bad = 0;
    for (int64_t i = 0; i < n * k; i++) bad += q[i] < -127;
    CHECK(!bad, "int8: %d codes below -127", bad);
    smelt_dequantize_int8(q, sc, n, k, dq);
    free(q);
    free(sc);
  } else {
    int nf4 = !strcmp(s, "nf4");
    uint8_t *q = malloc((size_t)(n * ((k + 1) / 2)));
    float *sc = malloc(sizeof(float) * (size_t)(n * (k / g)));
    (nf4 ? smelt_quantize_nf4 : smelt_quantize_int4)(w, n, k, g, q, sc);
    int bad = 0;
    for (int64_t i = 0; !nf4 && i < n * ((k + 1) / 2); i++) bad += (q[i] & 15) == 0 || (q[i] >> 4) == 0; /* int4 codes are 1..15 */
    CHECK(!bad, "int4: %d bytes hold code 0 (-8)", bad);
    smelt_dequantize_4bit(nf4, q, sc, n, k, g, dq);
    free(q);
    free(sc);
  }
  return rel(w, dq, n * k);
}

static void ggml_bytes(void) {
  static const struct { const char *name; smelt_dtype dt; } types[] = {
      {"f16", SMELT_DT_F16}, {"bf16", SMELT_DT_BF16}, {"q8_0", SMELT_DT_Q8_0}, {"q4_0", SMELT_DT_Q4_0},
      {"q4_1", SMELT_DT_Q4_1}, {"q5_0", SMELT_DT_Q5_0}, {"q5_1", SMELT_DT_Q5_1}};
  const char *dir = SMELT_SOURCE_DIR "/tests/unit/data/quant";
  char path[4096];
  snprintf(path, sizeof path, "%s/input.bin", dir);
  size_t ilen;
  unsigned char *in = (unsigned char *)t_read_file(path, &ilen);
  CHECK(in != NULL, "%s is missing", path);
  if (!in) return;
  uint32_t rows = rd32(in + 4), k = rd32(in + 8);
  float *x = malloc(4 * (size_t)rows * k);
  memcpy(x, in + 12, 4 * (size_t)rows * k);
  for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
    size_t len;
    snprintf(path, sizeof path, "%s/%s.bin", dir, types[t].name);
    unsigned char *f = (unsigned char *)t_read_file(path, &len);
    CHECK(f != NULL, "%s is missing", path);
    if (!f) continue;
    size_t rb = (size_t)smelt_dtype_nbytes(types[t].dt, k);
    CHECK(smelt_can_quantize(types[t].dt), "%s: cannot quantize", types[t].name);
    unsigned char *q = malloc(rb * rows);
    CHECK(smelt_quantize_rows(types[t].dt, x, rows, k, q) == 0, "%s: quantize_rows failed", types[t].name);
    for (uint32_t r = 0; r < rows; r++) {
      size_t first = rb;
      for (size_t i = 0; i < rb; i++)
        if (q[r * rb + i] != f[16 + r * rb + i]) { first = i; break; }
      CHECK(first == rb, "%s row %u: byte %zu differs from ggml's (0x%02x vs 0x%02x)", types[t].name, r, first,
            first < rb ? q[r * rb + first] : 0, first < rb ? f[16 + r * rb + first] : 0);
    }
    free(q);
    free(f);
  }
  CHECK(!smelt_can_quantize(SMELT_DT_Q4_K) && smelt_quantize_rows(SMELT_DT_Q4_K, x, 1, 256, in) == SMELT_ERR, "q4_k is not produced");
  CHECK(smelt_quantize_rows(SMELT_DT_Q8_0, x, 1, 48, in) == SMELT_ERR, "q8_0 rows must be whole blocks");
  free(x);
  free(in);
}

int main(void) {
  ggml_bytes();

  enum { N = 64, K = 256 };
  static float w[2][N * K], dq[N * K];
  for (int i = 0; i < N * K; i++) {
    w[0][i] = gauss(0.02);
    w[1][i] = gauss(0.02) * (i % 37 == 0 ? 20.0f : 1.0f);
  }
  static const struct { const char *s; double bound[2]; } tab[] = {
      {"f16", {3e-4, 3e-4}}, {"q8_0", {7e-3, 1.6e-2}}, {"int8", {1e-2, 3.2e-2}},
      {"q4_0", {0.12, 0.21}}, {"int4", {0.13, 0.23}}, {"nf4", {0.115, 0.16}}};
  double e[6][2];
  for (int t = 0; t < 6; t++)
    for (int c = 0; c < 2; c++) {
      e[t][c] = scheme_err(tab[t].s, w[c], N, K, 32, dq);
      printf("  %-5s %-9s rel. error %.4g (bound %g)\n", tab[t].s, c ? "outliers" : "gaussian", e[t][c], tab[t].bound[c]);
      CHECK(e[t][c] <= tab[t].bound[c], "%s on the %s weight: relative error %.4g above %g", tab[t].s, c ? "outlier" : "gaussian", e[t][c],
            tab[t].bound[c]);
    }
  CHECK(e[5][0] < e[4][0], "nf4 (%.4g) should beat int4 (%.4g) on a gaussian weight", e[5][0], e[4][0]);
  CHECK(e[1][0] < e[3][0] && e[2][0] < e[4][0], "8-bit schemes should beat 4-bit ones");

  /* a zero row and odd widths / other groups */
  static float z[3 * 10];
  for (int i = 10; i < 30; i++) z[i] = gauss(1);
  for (int s = 2; s < 6; s++) {
    if (s == 3) continue; /* q4_0 needs whole blocks */
    double r = scheme_err(tab[s].s, z, 3, 10, 5, dq);
    int zero = 1;
    for (int i = 0; i < 10; i++) zero &= dq[i] == 0;
    CHECK(zero, "%s: a zero row must decode to zeros", tab[s].s);
    CHECK(r < (s == 2 ? 0.02 : 0.2), "%s on 3 x 10, group 5: relative error %.4g", tab[s].s, r);
  }
  /* the codebook's ends are exact: a group's largest magnitude survives nf4 and int4 */
  float one[8] = {0.5f, -1.25f, 0.1f, 0, 0, 0.3f, -0.2f, 1.0f};
  scheme_err("nf4", one, 1, 8, 8, dq);
  CHECK(dq[1] == -1.25f, "nf4 keeps the group's absmax (got %g)", dq[1]);
  scheme_err("int4", one, 1, 8, 8, dq);
  CHECK(fabsf(dq[1] + 1.25f) < 1e-6f, "int4 keeps the group's absmax (got %g)", dq[1]);
  return t_done("quantizers");
}
