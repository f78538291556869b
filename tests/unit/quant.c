/* tests/unit/quant.c — runtime/smelt_quant.h against ggml itself.
 *
 *   - smq_h2f (branch-free f16 -> f32) equals sm_f16_to_f32 on all 65536 patterns;
 *   - for every type, smelt's dequantize_row of blocks made by ggml's quantizers
 *     reproduces the floats of ggml's own dequantization bit for bit
 *     (tests/unit/data/quant, see its README);
 *   - smelt's f32 -> f16 / bf16 rounding gives ggml's f16 / bf16 rows from the same input;
 *   - smq_dot_<type>(row, x, k) matches the dot of the dequantized row computed in
 *     double: |dot - exact| <= 1e-5 * sum |w_i x_i| (float accumulation over at most
 *     a few hundred partial sums per lane: the bound has a wide margin), on ggml's
 *     rows and on random blocks of long rows (k up to 8192). */
#include "../testutil.h"
#include "runtime/smelt_quant.h"

#include <math.h>

#ifndef SMELT_SOURCE_DIR
#define SMELT_SOURCE_DIR "."
#endif

typedef void (*deq_fn)(const void *, float *, int64_t);
typedef float (*dot_fn)(const void *, const float *, int64_t);

static const struct qtype {
  const char *name;
  uint32_t ggml_type;
  int blk, bytes;
  deq_fn deq;
  dot_fn dot;
} types[] = {
    {"f16", 1, 1, 2, smq_dequantize_row_f16, smq_dot_f16},
    {"bf16", 30, 1, 2, smq_dequantize_row_bf16, smq_dot_bf16},
    {"q8_0", 8, SMQ_Q8_0_BLK, SMQ_Q8_0_BYTES, smq_dequantize_row_q8_0, smq_dot_q8_0},
    {"q4_0", 2, SMQ_Q4_0_BLK, SMQ_Q4_0_BYTES, smq_dequantize_row_q4_0, smq_dot_q4_0},
    {"q4_1", 3, SMQ_Q4_1_BLK, SMQ_Q4_1_BYTES, smq_dequantize_row_q4_1, smq_dot_q4_1},
    {"q5_0", 6, SMQ_Q5_0_BLK, SMQ_Q5_0_BYTES, smq_dequantize_row_q5_0, smq_dot_q5_0},
    {"q5_1", 7, SMQ_Q5_1_BLK, SMQ_Q5_1_BYTES, smq_dequantize_row_q5_1, smq_dot_q5_1},
    {"q4_k", 12, SMQ_Q4_K_BLK, SMQ_Q4_K_BYTES, smq_dequantize_row_q4_k, smq_dot_q4_k},
    {"q5_k", 13, SMQ_Q5_K_BLK, SMQ_Q5_K_BYTES, smq_dequantize_row_q5_k, smq_dot_q5_k},
    {"q6_k", 14, SMQ_Q6_K_BLK, SMQ_Q6_K_BYTES, smq_dequantize_row_q6_k, smq_dot_q6_k},
};

static uint64_t rs = 0x243F6A8885A308D3ull;
static uint32_t rnd(void) {
  rs ^= rs >> 12; rs ^= rs << 25; rs ^= rs >> 27;
  return (uint32_t)((rs * 0x2545F4914F6CDD1Dull) >> 32);
}
static float unif(void) { return (float)((rnd() + 0.5) / 4294967296.0 * 2 - 1); }

static uint32_t rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* checks one dot against the double-precision dot of the dequantized row */
static void check_dot(const struct qtype *t, const void *row, const float *w, const float *x, int64_t k, const char *what) {
  double exact = 0, mag = 0;
  for (int64_t i = 0; i < k; i++) {
    exact += (double)w[i] * x[i];
    mag += fabs((double)w[i] * x[i]);
  }
  float got = t->dot(row, x, k);
  CHECK(fabs(got - exact) <= 1e-5 * mag + 1e-37, "%s: %s: dot %.9g, exact %.9g (sum |wx| %.3g)", t->name, what, got, exact, mag);
}

int main(void) {
  /* ---- f16 -> f32 without branches ---- */
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++)
    if (sm_f32_bits(smq_h2f((uint16_t)h)) != sm_f32_bits(sm_f16_to_f32((uint16_t)h))) bad++;
  CHECK(!bad, "smq_h2f differs from sm_f16_to_f32 on %d patterns", bad);

  const char *dir = SMELT_SOURCE_DIR "/tests/unit/data/quant";
  char path[4096];
  snprintf(path, sizeof path, "%s/input.bin", dir);
  size_t ilen;
  unsigned char *in = (unsigned char *)t_read_file(path, &ilen);
  if (!in) SKIP("%s is missing", path);
  CHECK(ilen >= 12 && !memcmp(in, "SMQI", 4), "input.bin: bad header");
  uint32_t inrows = rd32(in + 4), ink = rd32(in + 8);
  CHECK(ilen == 12 + (size_t)inrows * ink * 4, "input.bin: size");
  const float *xin = (const float *)(in + 12);

  for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
    const struct qtype *t = &types[ti];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.bin", dir, t->name);
    unsigned char *f = (unsigned char *)t_read_file(path, &len);
    CHECK(f != NULL, "%s is missing", path);
    if (!f) continue;
    uint32_t ty = rd32(f + 4), nrows = rd32(f + 8), k = rd32(f + 12);
    size_t rb = (size_t)k / t->blk * t->bytes;
    CHECK(!memcmp(f, "SMQ1", 4) && ty == t->ggml_type && k % t->blk == 0 && len == 16 + nrows * (rb + 4 * (size_t)k),
          "%s: bad header or size", t->name);
    if (len != 16 + nrows * (rb + 4 * (size_t)k)) { free(f); continue; }
    const unsigned char *blocks = f + 16;
    float *ref = malloc(4 * (size_t)nrows * k); /* copied: after the blocks they may sit unaligned */
    memcpy(ref, f + 16 + nrows * rb, 4 * (size_t)nrows * k);
    float *y = malloc(4 * (size_t)k), *x = malloc(4 * (size_t)k);
    for (uint32_t r = 0; r < nrows; r++) {
      t->deq(blocks + r * rb, y, k);
      int nd = 0;
      int64_t first = -1;
      for (uint32_t i = 0; i < k; i++)
        if (sm_f32_bits(y[i]) != sm_f32_bits(ref[r * k + i])) { nd++; if (first < 0) first = i; }
      CHECK(!nd, "%s row %u: %d of %u values differ from ggml's (first at %lld: %.9g vs %.9g)", t->name, r, nd, k, (long long)first,
            first >= 0 ? y[first] : 0, first >= 0 ? ref[r * k + first] : 0);
      for (uint32_t i = 0; i < k; i++) x[i] = unif();
      char what[64];
      snprintf(what, sizeof what, "ggml row %u", r);
      check_dot(t, blocks + r * rb, y, x, k, what);
    }
    /* ggml's f16 / bf16 rows are its rounding of the input: smelt's must agree */
    if (t->blk == 1 && inrows == nrows && ink == k) {
      int nd = 0;
      for (size_t i = 0; i < (size_t)nrows * k; i++) {
        uint16_t h = t->ggml_type == 1 ? sm_f32_to_f16(xin[i]) : sm_f32_to_bf16(xin[i]), g;
        memcpy(&g, blocks + 2 * i, 2);
        nd += h != g;
      }
      CHECK(!nd, "%s: %d values round differently from ggml", t->name, nd);
    }
    free(y);
    free(x);
    free(ref);
    free(f);

    /* ---- long rows of random blocks (every bit pattern of the quants; scales sane) ---- */
    static const int64_t ks[] = {256, 1024, 4096, 8192};
    for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++) {
      int64_t kk = ks[ki], nb = kk / t->blk;
      unsigned char *row = malloc((size_t)(nb * t->bytes));
      float *w = malloc(4 * (size_t)kk), *xx = malloc(4 * (size_t)kk);
      for (int64_t i = 0; i < nb * t->bytes; i++) row[i] = (unsigned char)rnd();
      /* f16 fields: finite values of moderate size (exponent 5..20 of 31) */
      for (int64_t b = 0; b < nb; b++) {
        unsigned char *blk = row + b * t->bytes;
        int off[2] = {-1, -1};
        if (t->blk == 1) off[0] = 0;
        else if (!strcmp(t->name, "q6_k")) off[0] = 208;
        else {
          off[0] = 0;
          if (!strcmp(t->name, "q4_1") || !strcmp(t->name, "q5_1") || t->blk == 256) off[1] = 2;
        }
        for (int o = 0; o < 2; o++)
          if (off[o] >= 0) {
            uint16_t h = (uint16_t)((rnd() & 0x83ff) | (5 + rnd() % 16) << 10);
            memcpy(blk + off[o], &h, 2);
          }
      }
      t->deq(row, w, kk);
      for (int64_t i = 0; i < kk; i++) xx[i] = unif();
      char what[64];
      snprintf(what, sizeof what, "random row of %lld", (long long)kk);
      check_dot(t, row, w, xx, kk, what);
      /* x = e_i picks out w[i] exactly (one nonzero product, added to zeros) */
      memset(xx, 0, 4 * (size_t)kk);
      int bad1 = 0;
      for (int rep = 0; rep < 16; rep++) {
        int64_t i = rnd() % kk;
        xx[i] = 1;
        bad1 += t->dot(row, xx, kk) != w[i];
        xx[i] = 0;
      }
      CHECK(!bad1, "%s: dot with unit vectors differs from the dequantized value (%d of 16)", t->name, bad1);
      free(row);
      free(w);
      free(xx);
    }
  }
  free(in);
  return t_done("quant");
}
