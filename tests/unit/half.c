/* tests/unit/half.c — f16 and bf16 conversions of runtime/smelt_scalar.h.
 *
 *   - every one of the 65536 f16 (and bf16) bit patterns goes to f32 and back
 *     unchanged (NaNs stay NaNs with their sign and payload, made quiet);
 *   - f16 -> f32 is checked against the value computed from the fields in double;
 *   - f32 -> f16 and f32 -> bf16 rounding is checked against a reference written here
 *     in double arithmetic (scale to an integer significand, nearbyint = round half to
 *     even), over edge cases and a few million random floats. */
#include "../testutil.h"
#include "runtime/smelt_scalar.h"

#include <float.h>
#include <math.h>

/* ---- the reference ------------------------------------------------------------------
 * A binary format with `mbits` fraction bits and exponent bias `bias`: the bits of the
 * nearest value to |f| (ties to even), or of inf when it rounds past the largest finite. */
static uint32_t ref_round(double a, int mbits, int bias, int emax) {
  int emin = 1 - bias; /* exponent of the smallest normal */
  if (a == 0) return 0;
  if (a < ldexp(1.0, emin)) {
    /* subnormal: multiples of 2^(emin - mbits); q == 2^mbits is the smallest normal */
    double q = nearbyint(ldexp(a, mbits - emin));
    return (uint32_t)q;
  }
  int ex;
  frexp(a, &ex); /* a = m 2^ex, m in [0.5, 1) */
  int e = ex - 1;
  double q = nearbyint(ldexp(a, mbits - e)); /* in [2^mbits, 2^(mbits+1)] */
  if (q == ldexp(1.0, mbits + 1)) { q = ldexp(1.0, mbits); e++; }
  if (e > emax) return (uint32_t)((2 * bias + 1) << mbits); /* inf */
  return (uint32_t)(e + bias) << mbits | (uint32_t)(q - ldexp(1.0, mbits));
}

static uint16_t ref_f16(float f) {
  uint16_t sign = signbit(f) ? 0x8000 : 0;
  if (isinf(f)) return sign | 0x7c00;
  return (uint16_t)(sign | ref_round(fabs((double)f), 10, 15, 15));
}

static uint16_t ref_bf16(float f) {
  uint16_t sign = signbit(f) ? 0x8000 : 0;
  if (isinf(f)) return sign | 0x7f80;
  return (uint16_t)(sign | ref_round(fabs((double)f), 7, 127, 127));
}

/* the value of f16 bits h, from the fields */
static double f16_value(uint16_t h) {
  int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return s ? -v : v;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void) { /* xorshift64* */
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static int nbad16, nbadbf;

static void check_f32(float f) {
  uint16_t h = sm_f32_to_f16(f), rh = ref_f16(f);
  uint16_t b = sm_f32_to_bf16(f), rb = ref_bf16(f);
  if (isnan(f)) {
    /* NaN stays NaN, sign kept, quiet */
    CHECK((h & 0x7c00) == 0x7c00 && (h & 0x200) && !!(h & 0x8000) == !!signbit(f), "f16(nan %08x) = %04x", sm_f32_bits(f), h);
    CHECK((b & 0x7f80) == 0x7f80 && (b & 0x40) && !!(b & 0x8000) == !!signbit(f), "bf16(nan %08x) = %04x", sm_f32_bits(f), b);
    return;
  }
  if (h != rh && nbad16++ < 20) CHECK(h == rh, "f32 %a (%08x) -> f16 %04x, reference %04x", f, sm_f32_bits(f), h, rh);
  else t_checks++;
  if (b != rb && nbadbf++ < 20) CHECK(b == rb, "f32 %a (%08x) -> bf16 %04x, reference %04x", f, sm_f32_bits(f), b, rb);
  else t_checks++;
}

int main(void) {
  /* every f16 and bf16 value through f32 and back */
  int bad = 0;
  for (uint32_t i = 0; i < 65536; i++) {
    uint16_t h = (uint16_t)i;
    float f = sm_f16_to_f32(h);
    double v = f16_value(h);
    uint16_t back = sm_f32_to_f16(f);
    if (isnan(v)) {
      if (!(isnan(f) && back == (h | 0x200)) && bad++ < 10) CHECK(0, "f16 nan %04x -> %a -> %04x", h, f, back);
    } else {
      if (!((double)f == v && !signbit(f) == !signbit(v)) && bad++ < 10) CHECK(0, "f16 %04x -> %a, expected %a", h, f, v);
      if (back != h && bad++ < 10) CHECK(0, "f16 %04x -> f32 -> %04x", h, back);
    }
    float g = sm_bf16_to_f32(h);
    uint16_t bback = sm_f32_to_bf16(g);
    if (isnan(g)) {
      if (bback != (h | 0x40) && bad++ < 10) CHECK(0, "bf16 nan %04x -> %04x", h, bback);
    } else if (bback != h && bad++ < 10) CHECK(0, "bf16 %04x -> f32 -> %04x", h, bback);
    if (sm_f32_bits(g) != (uint32_t)h << 16 && bad++ < 10) CHECK(0, "bf16 %04x -> f32 bits %08x", h, sm_f32_bits(g));
  }
  CHECK(bad == 0, "%d round-trip failures over 65536 values", bad);

  /* edge cases */
  static const float edges[] = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 65536.0f, 1e10f, FLT_MAX, -FLT_MAX,
                                INFINITY, -INFINITY, NAN, -NAN, 6.103515625e-05f /* 2^-14 */, 6.1035156e-05f, 6.0975552e-05f /* largest subnormal */,
                                5.9604645e-08f /* 2^-24 */, 2.9802322e-08f /* 2^-25: tie to 0 */, 2.9802326e-08f, 8.940697e-08f /* 3*2^-25: tie to 2 */,
                                1.0009766f /* 1 + 2^-10 */, 1.00048828125f /* tie: 1 */, 1.00146484375f /* tie: up */, FLT_MIN, FLT_TRUE_MIN,
                                -FLT_TRUE_MIN, 1.0039062f /* bf16 1 + 2^-8 */, 1.00390625f, 1.01171875f, 3.3895314e38f /* bf16 max */,
                                3.3961776e38f /* tie to bf16 inf */, 1e-40f, 0.1f, 1.0f / 3.0f};
  for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) check_f32(edges[i]);
  /* every f32 whose low 13 (f16) or 16 (bf16) bits sit at a rounding boundary, over all exponents */
  for (uint32_t e = 0; e < 256; e++)
    for (uint32_t lo = 0; lo < 8; lo++) {
      static const uint32_t tails[] = {0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x7fff, 0x8000};
      for (uint32_t m = 0; m < 4; m++) {
        uint32_t base = e << 23 | (m * 0x1a2b3u & 0x7fe000u);
        check_f32(sm_bits_f32(base | tails[lo]));
        check_f32(sm_bits_f32(0x80000000u | base | tails[lo]));
        check_f32(sm_bits_f32((base & ~0xffffu) | (tails[lo] == 0x1000 ? 0x8000 : tails[lo] == 0x1001 ? 0x8001 : tails[lo])));
      }
    }
  /* random floats: uniform bit patterns, and patterns with exponents in f16's range */
  for (int i = 0; i < 2000000; i++) check_f32(sm_bits_f32(rnd32()));
  for (int i = 0; i < 2000000; i++) {
    uint32_t u = rnd32();
    uint32_t e = 96 + (u >> 24) % 48; /* 2^-31 .. 2^16 */
    check_f32(sm_bits_f32((u & 0x80000000u) | e << 23 | (rnd32() & 0x7fffff)));
  }
  CHECK(nbad16 == 0, "%d f32 -> f16 mismatches", nbad16);
  CHECK(nbadbf == 0, "%d f32 -> bf16 mismatches", nbadbf);
  return t_done("unit_half");
}
