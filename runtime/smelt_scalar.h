/* runtime/smelt_scalar.h — scalar helpers shared by the reference interpreter and
 * every generated model: half-precision conversions, integer division/modulo/power
 * without undefined behaviour, saturating float -> integer conversion.
 *
 * C99, header-only (static inline), no libc beyond <stdint.h>/<string.h>, so it
 * builds freestanding.  The SM_* macros take the element type T as their first
 * argument and evaluate x and y once each where it matters. */
#ifndef SMELT_SCALAR_H
#define SMELT_SCALAR_H

#include <stdint.h>
#include <string.h>

static inline float sm_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t sm_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE binary16 -> binary32, exact. */
static inline float sm_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return sm_bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, nan */
  if (exp == 0) {
    if (!man) return sm_bits_f32(sign);
    /* subnormal: value = man * 2^-24 */
    float f = (float)man * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  return sm_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* binary32 -> binary16, round to nearest even, overflow to inf, nan kept quiet. */
static inline uint16_t sm_f32_to_f16(float f) {
  uint32_t u = sm_f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0));
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds past 65504 */
  if (a < 0x38800000u) {                                   /* below the smallest normal half */
    if (a < 0x33000000u) return (uint16_t)sign;            /* below half the smallest subnormal */
    uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ((a >> 13) - (112u << 10)), rem = a & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return (uint16_t)(sign | r);
}

static inline float sm_bf16_to_f32(uint16_t h) { return sm_bits_f32((uint32_t)h << 16); }

/* binary32 -> bfloat16, round to nearest even, nan kept quiet. */
static inline uint16_t sm_f32_to_bf16(float f) {
  uint32_t u = sm_f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

/* Integer ops without undefined behaviour: x / 0 and x % 0 give 0; MIN / -1 wraps. */
static inline int64_t sm_idiv_s(int64_t x, int64_t y) { return y == 0 ? 0 : y == -1 ? (int64_t)(0 - (uint64_t)x) : x / y; }
static inline uint64_t sm_idiv_u(uint64_t x, uint64_t y) { return y == 0 ? 0 : x / y; }
static inline int64_t sm_ifmod_s(int64_t x, int64_t y) { return y == 0 || y == -1 ? 0 : x % y; }
static inline uint64_t sm_ifmod_u(uint64_t x, uint64_t y) { return y == 0 ? 0 : x % y; }
static inline int64_t sm_imod_s(int64_t x, int64_t y) { /* result has the sign of y */
  int64_t r = sm_ifmod_s(x, y);
  return r != 0 && ((r < 0) != (y < 0)) ? r + y : r;
}
static inline uint64_t sm_ipow_u(uint64_t b, int64_t e) { /* wraps; negative e truncates 1/b^-e */
  if (e < 0) return b == 1 ? 1 : b == (uint64_t)-1 ? ((uint64_t)e & 1 ? (uint64_t)-1 : 1) : 0; /* parity of -e is that of e */
  uint64_t r = 1;
  while (e) { if (e & 1) r *= b; b *= b; e >>= 1; }
  return r;
}

#define SM_SIGNED(T) ((T)-1 < (T)0)
#define SM_IDIV(T, x, y) (SM_SIGNED(T) ? (T)sm_idiv_s((int64_t)(x), (int64_t)(y)) : (T)sm_idiv_u((uint64_t)(x), (uint64_t)(y)))
#define SM_IFMOD(T, x, y) (SM_SIGNED(T) ? (T)sm_ifmod_s((int64_t)(x), (int64_t)(y)) : (T)sm_ifmod_u((uint64_t)(x), (uint64_t)(y)))
#define SM_IMOD(T, x, y) (SM_SIGNED(T) ? (T)sm_imod_s((int64_t)(x), (int64_t)(y)) : (T)sm_ifmod_u((uint64_t)(x), (uint64_t)(y)))
#define SM_IPOW(T, x, y) ((T)sm_ipow_u((uint64_t)(x), (int64_t)(y)))

/* Saturating conversion of a double to an integer range [lo, hi]; nan -> 0. */
static inline int64_t sm_sat_s(double v, int64_t lo, int64_t hi) {
  return v != v ? 0 : v <= (double)lo ? lo : v >= (double)hi ? hi : (int64_t)v;
}
static inline uint64_t sm_sat_u(double v, uint64_t hi) {
  return v != v || v <= 0 ? 0 : v >= (double)hi ? hi : (uint64_t)v;
}

#endif
