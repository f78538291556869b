/* runtime/smelt_quant.h — ggml's block-quantized weight formats: the block layouts,
 * dequantization of a row, and the dot product of one quantized row with an f32
 * vector (the inner loop of a quantized GEMV / GEMM).  Also f16 and bf16 rows.
 *
 * Header-only and static (several models can share a program), C99, freestanding:
 * nothing beyond <stddef.h>, <stdint.h> and smelt_scalar.h (<string.h>'s memcpy).
 *
 * Layouts are exactly ggml's (ggml-common.h), little-endian, f16 scales; a row is a
 * whole number of blocks (k a multiple of SMQ_<T>_BLK).  The structs document them and
 * give the offsets; the code reads bytes (a row may sit at any 2-byte boundary of a
 * mapped file, and a byte array must not be read through a struct lvalue).
 *
 *   type  elems bytes  value of element l of a block (q: the stored quant)
 *   q8_0    32    34   d * q                      q int8
 *   q4_0    32    18   d * (q - 8)                q 4 bits: qs[l] low nibble, qs[l-16] high
 *   q4_1    32    20   d * q + m                  as q4_0
 *   q5_0    32    22   d * (q - 16)               4 bits as q4_0, bit 4 = bit l of qh (LE u32)
 *   q5_1    32    24   d * q + m                  as q5_0
 *   q4_k   256   144   d*sc[s] * q - dmin*mn[s]   8 sub-blocks s of 32, 6-bit sc/mn packed in
 *                                                 scales[12]; 64 elements per 32 bytes of qs
 *                                                 (low nibbles, then high nibbles)
 *   q5_k   256   176   as q4_k, bit 4 from qh[l % 32] bit (2 * (l / 64) + (l % 64 >= 32))
 *   q6_k   256   210   d * sc[l / 16] * (q - 32)  low 4 bits in ql, high 2 in qh; int8 sc
 *
 * dequantize_row computes each value with ggml's own expression, operation for
 * operation, so it reproduces ggml's floats bit-exactly (tests/unit/quant.c checks
 * this against data made by ggml) — provided the compiler does not contract a*b+c
 * into an FMA, which C99 mode (-std=c99) and the default x86-64 target guarantee.
 *
 * The dots are written for the auto-vectorizer at -O2 (GCC's "very cheap" model):
 * fixed-trip inner loops over 16 or 32 lanes, nibbles unpacked a whole block at a
 * time, no branch per element, and lane accumulators (acc[l]) so no float
 * reassociation is needed; the lanes are summed once at the end of the row in a
 * fixed order.  The value of each weight is ggml's, so a dot differs from the exact
 * dot of the dequantized row only by the rounding of its sums.  Target backends
 * (x86, arm) replace these with intrinsics; this is the portable reference. */
#ifndef SMELT_QUANT_H
#define SMELT_QUANT_H

#include <stddef.h>
#include <stdint.h>
#include "smelt_scalar.h"

/* ---- block layouts (ggml-common.h) ----------------------------------------------------- */
typedef struct { uint16_t d; int8_t qs[32]; } smq_block_q8_0;
typedef struct { uint16_t d; uint8_t qs[16]; } smq_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } smq_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } smq_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } smq_block_q5_1;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } smq_block_q4_k;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } smq_block_q5_k;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } smq_block_q6_k;

#define SMQ_Q8_0_BLK 32
#define SMQ_Q8_0_BYTES 34
#define SMQ_Q4_0_BLK 32
#define SMQ_Q4_0_BYTES 18
#define SMQ_Q4_1_BLK 32
#define SMQ_Q4_1_BYTES 20
#define SMQ_Q5_0_BLK 32
#define SMQ_Q5_0_BYTES 22
#define SMQ_Q5_1_BLK 32
#define SMQ_Q5_1_BYTES 24
#define SMQ_Q4_K_BLK 256
#define SMQ_Q4_K_BYTES 144
#define SMQ_Q5_K_BLK 256
#define SMQ_Q5_K_BYTES 176
#define SMQ_Q6_K_BLK 256
#define SMQ_Q6_K_BYTES 210

/* the sizes above are the structs' (no padding): a compile error otherwise */
typedef char smq_size_check[(sizeof(smq_block_q8_0) == SMQ_Q8_0_BYTES && sizeof(smq_block_q4_0) == SMQ_Q4_0_BYTES &&
                             sizeof(smq_block_q4_1) == SMQ_Q4_1_BYTES && sizeof(smq_block_q5_0) == SMQ_Q5_0_BYTES &&
                             sizeof(smq_block_q5_1) == SMQ_Q5_1_BYTES && sizeof(smq_block_q4_k) == SMQ_Q4_K_BYTES &&
                             sizeof(smq_block_q5_k) == SMQ_Q5_K_BYTES && sizeof(smq_block_q6_k) == SMQ_Q6_K_BYTES) ? 1 : -1];

/* ---- scalars -------------------------------------------------------------------------- */
/* binary16 -> binary32, exact (nan payloads too) and branch-free, so it vectorizes:
 * the exponent is rebiased (twice for inf / nan); a subnormal is a normal float minus
 * 2^-14, selected by a mask. */
static inline float smq_h2f(uint16_t h) {
  uint32_t o = (uint32_t)(h & 0x7fff) << 13, e = o & 0x0f800000u;
  uint32_t inf = 0u - (uint32_t)(e == 0x0f800000u), sub = 0u - (uint32_t)(e == 0);
  o += 0x38000000u + (inf & 0x38000000u);
  uint32_t s = sm_f32_bits(sm_bits_f32(o + 0x00800000u) - 6.103515625e-05f);
  return sm_bits_f32((o & ~sub) | (s & sub) | (uint32_t)(h & 0x8000) << 16);
}
static inline float smq_bf2f(uint16_t h) { return sm_bits_f32((uint32_t)h << 16); }
/* a little-endian f16 at p (any alignment) */
static inline float smq_f16(const uint8_t *p) { return smq_h2f((uint16_t)(p[0] | p[1] << 8)); }

/* The sum of 32 (16) lanes, in a fixed pairwise order. */
static inline float smq_sum16(const float *a) {
  float t[8];
  for (int l = 0; l < 8; l++) t[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; l++) t[l] += t[l + 4];
  return (t[0] + t[2]) + (t[1] + t[3]);
}
static inline float smq_sum32(const float *a) {
  float t[16];
  for (int l = 0; l < 16; l++) t[l] = a[l] + a[l + 16];
  return smq_sum16(t);
}

/* The 6-bit scale and min of sub-block j of a q4_k / q5_k block (ggml's get_scale_min_k4). */
static inline void smq_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

/* Bit l of the 32-bit qh of a q5_0 / q5_1 block, as 0 or 16 (a mask per lane rather
 * than a variable shift, which SSE2 lacks). */
static const uint32_t smq_bit32[32] = {
    1u << 0,  1u << 1,  1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,  1u << 8,  1u << 9,  1u << 10,
    1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15, 1u << 16, 1u << 17, 1u << 18, 1u << 19, 1u << 20, 1u << 21,
    1u << 22, 1u << 23, 1u << 24, 1u << 25, 1u << 26, 1u << 27, 1u << 28, 1u << 29, 1u << 30, 1u << 31};
static inline uint32_t smq_qh32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* ---- f16 / bf16 rows --------------------------------------------------------------------- */
/* 32 little-endian 16-bit values at p (a copy, so the loops that use them vectorize) */
static inline void smq_load_h32(uint16_t *h, const uint8_t *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  for (int l = 0; l < 32; l++) h[l] = (uint16_t)(p[2 * l] | p[2 * l + 1] << 8);
#else
  memcpy(h, p, 64);
#endif
}
static inline uint16_t smq_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Dequantizing and dot products for the two 16-bit float weight types, which differ
 * only in the conversion to f32 (CONV: smq_h2f for f16, smq_bf2f for bf16). */
#define SMQ_HALF_ROWS(NAME, CONV)                                                                                         \
  static inline void smq_dequantize_row_##NAME(const void *row, float *restrict y, int64_t k) {                          \
    const uint8_t *p = (const uint8_t *)row;                                                                              \
    int64_t i = 0;                                                                                                        \
    for (uint16_t h[32]; i + 32 <= k; i += 32, p += 64) {                                                                 \
      smq_load_h32(h, p);                                                                                                 \
      for (int l = 0; l < 32; l++) y[i + l] = CONV(h[l]);                                                                 \
    }                                                                                                                     \
    for (int64_t l = 0; l < 31 && i + l < k; l++) y[i + l] = CONV(smq_u16(p + 2 * l)); /* the < 32 left */                \
  }                                                                                                                       \
  static inline float smq_dot_##NAME(const void *row, const float *restrict x, int64_t k) {                              \
    const uint8_t *p = (const uint8_t *)row;                                                                              \
    float acc[32] = {0}, tail = 0;                                                                                        \
    int64_t i = 0;                                                                                                        \
    for (uint16_t h[32]; i + 32 <= k; i += 32, p += 64) {                                                                 \
      smq_load_h32(h, p);                                                                                                 \
      for (int l = 0; l < 32; l++) acc[l] += CONV(h[l]) * x[i + l];                                                       \
    }                                                                                                                     \
    for (int64_t l = 0; l < 31 && i + l < k; l++) tail += CONV(smq_u16(p + 2 * l)) * x[i + l]; /* the < 32 left */        \
    return smq_sum32(acc) + tail;                                                                                         \
  }
SMQ_HALF_ROWS(f16, smq_h2f)
SMQ_HALF_ROWS(bf16, smq_bf2f)

/* ---- q8_0 -------------------------------------------------------------------------------- */
static inline void smq_dequantize_row_q8_0(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 32; b++, p += 34, y += 32) {
    const float d = smq_f16(p);
    const int8_t *q = (const int8_t *)(p + 2);
    for (int l = 0; l < 32; l++) y[l] = q[l] * d;
  }
}
static inline float smq_dot_q8_0(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[32] = {0};
  for (int64_t b = 0; b < k / 32; b++, p += 34, x += 32) {
    const float d = smq_f16(p);
    const int8_t *q = (const int8_t *)(p + 2);
    for (int l = 0; l < 32; l++) acc[l] += (q[l] * d) * x[l];
  }
  return smq_sum32(acc);
}

/* ---- q4_0, q4_1 ------------------------------------------------------------------------- */
static inline void smq_dequantize_row_q4_0(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 32; b++, p += 18, y += 32) {
    const float d = smq_f16(p);
    const uint8_t *q = p + 2;
    for (int l = 0; l < 16; l++) {
      y[l] = ((q[l] & 0x0F) - 8) * d;
      y[l + 16] = ((q[l] >> 4) - 8) * d;
    }
  }
}
static inline float smq_dot_q4_0(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[16] = {0};
  for (int64_t b = 0; b < k / 32; b++, p += 18, x += 32) {
    const float d = smq_f16(p);
    const uint8_t *q = p + 2;
    for (int l = 0; l < 16; l++) acc[l] += (((q[l] & 0x0F) - 8) * x[l] + ((q[l] >> 4) - 8) * x[l + 16]) * d;
  }
  return smq_sum16(acc);
}

static inline void smq_dequantize_row_q4_1(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 32; b++, p += 20, y += 32) {
    const float d = smq_f16(p), m = smq_f16(p + 2);
    const uint8_t *q = p + 4;
    for (int l = 0; l < 16; l++) {
      y[l] = (q[l] & 0x0F) * d + m;
      y[l + 16] = (q[l] >> 4) * d + m;
    }
  }
}
static inline float smq_dot_q4_1(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[16] = {0};
  for (int64_t b = 0; b < k / 32; b++, p += 20, x += 32) {
    const float d = smq_f16(p), m = smq_f16(p + 2);
    const uint8_t *q = p + 4;
    for (int l = 0; l < 16; l++) acc[l] += ((q[l] & 0x0F) * x[l] + (q[l] >> 4) * x[l + 16]) * d + (x[l] + x[l + 16]) * m;
  }
  return smq_sum16(acc);
}

/* ---- q5_0, q5_1 ------------------------------------------------------------------------- */
static inline void smq_dequantize_row_q5_0(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 32; b++, p += 22, y += 32) {
    const float d = smq_f16(p);
    const uint32_t qh = smq_qh32(p + 2);
    const uint8_t *q = p + 6;
    for (int l = 0; l < 16; l++) {
      const int h0 = ((qh & smq_bit32[l]) != 0) << 4, h1 = ((qh & smq_bit32[l + 16]) != 0) << 4;
      y[l] = (((q[l] & 0x0F) | h0) - 16) * d;
      y[l + 16] = (((q[l] >> 4) | h1) - 16) * d;
    }
  }
}
static inline float smq_dot_q5_0(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[32] = {0};
  for (int64_t b = 0; b < k / 32; b++, p += 22, x += 32) {
    const float d = smq_f16(p);
    const uint32_t qh = smq_qh32(p + 2);
    const uint8_t *q = p + 6;
    for (int l = 0; l < 16; l++) {
      const int h0 = ((qh & smq_bit32[l]) != 0) << 4, h1 = ((qh & smq_bit32[l + 16]) != 0) << 4;
      acc[l] += ((((q[l] & 0x0F) | h0) - 16) * d) * x[l];
      acc[l + 16] += ((((q[l] >> 4) | h1) - 16) * d) * x[l + 16];
    }
  }
  return smq_sum32(acc);
}

static inline void smq_dequantize_row_q5_1(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 32; b++, p += 24, y += 32) {
    const float d = smq_f16(p), m = smq_f16(p + 2);
    const uint32_t qh = smq_qh32(p + 4);
    const uint8_t *q = p + 8;
    for (int l = 0; l < 16; l++) {
      const int h0 = ((qh & smq_bit32[l]) != 0) << 4, h1 = ((qh & smq_bit32[l + 16]) != 0) << 4;
      y[l] = ((q[l] & 0x0F) | h0) * d + m;
      y[l + 16] = ((q[l] >> 4) | h1) * d + m;
    }
  }
}
static inline float smq_dot_q5_1(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[32] = {0};
  for (int64_t b = 0; b < k / 32; b++, p += 24, x += 32) {
    const float d = smq_f16(p), m = smq_f16(p + 2);
    const uint32_t qh = smq_qh32(p + 4);
    const uint8_t *q = p + 8;
    for (int l = 0; l < 16; l++) {
      const int h0 = ((qh & smq_bit32[l]) != 0) << 4, h1 = ((qh & smq_bit32[l + 16]) != 0) << 4;
      acc[l] += (((q[l] & 0x0F) | h0) * d + m) * x[l];
      acc[l + 16] += (((q[l] >> 4) | h1) * d + m) * x[l + 16];
    }
  }
  return smq_sum32(acc);
}

/* ---- q4_k, q5_k: 8 sub-blocks of 32 with 6-bit scales and mins ----------------------------- */
static inline void smq_dequantize_row_q4_k(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 256; b++, p += 144) {
    const float d = smq_f16(p), dmin = smq_f16(p + 2);
    const uint8_t *sc = p + 4, *q = p + 16;
    for (int j = 0; j < 4; j++, q += 32, y += 64) {
      uint8_t s, m;
      smq_scale_min_k4(2 * j, sc, &s, &m);
      const float d1 = d * s, m1 = dmin * m;
      smq_scale_min_k4(2 * j + 1, sc, &s, &m);
      const float d2 = d * s, m2 = dmin * m;
      for (int l = 0; l < 32; l++) y[l] = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; l++) y[l + 32] = d2 * (q[l] >> 4) - m2;
    }
  }
}
static inline float smq_dot_q4_k(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[32] = {0};
  for (int64_t b = 0; b < k / 256; b++, p += 144) {
    const float d = smq_f16(p), dmin = smq_f16(p + 2);
    const uint8_t *sc = p + 4, *q = p + 16;
    for (int j = 0; j < 4; j++, q += 32, x += 64) {
      uint8_t s, m;
      smq_scale_min_k4(2 * j, sc, &s, &m);
      const float d1 = d * s, m1 = dmin * m;
      smq_scale_min_k4(2 * j + 1, sc, &s, &m);
      const float d2 = d * s, m2 = dmin * m;
      for (int l = 0; l < 32; l++) acc[l] += (d1 * (q[l] & 0xF) - m1) * x[l] + (d2 * (q[l] >> 4) - m2) * x[l + 32];
    }
  }
  return smq_sum32(acc);
}

static inline void smq_dequantize_row_q5_k(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 256; b++, p += 176) {
    const float d = smq_f16(p), dmin = smq_f16(p + 2);
    const uint8_t *sc = p + 4, *qh = p + 16, *q = p + 48;
    for (int j = 0; j < 4; j++, q += 32, y += 64) {
      uint8_t s, m;
      smq_scale_min_k4(2 * j, sc, &s, &m);
      const float d1 = d * s, m1 = dmin * m;
      smq_scale_min_k4(2 * j + 1, sc, &s, &m);
      const float d2 = d * s, m2 = dmin * m;
      for (int l = 0; l < 32; l++) y[l] = d1 * ((q[l] & 0xF) + (((qh[l] >> (2 * j)) & 1) << 4)) - m1;
      for (int l = 0; l < 32; l++) y[l + 32] = d2 * ((q[l] >> 4) + (((qh[l] >> (2 * j + 1)) & 1) << 4)) - m2;
    }
  }
}
static inline float smq_dot_q5_k(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[32] = {0};
  for (int64_t b = 0; b < k / 256; b++, p += 176) {
    const float d = smq_f16(p), dmin = smq_f16(p + 2);
    const uint8_t *sc = p + 4, *qh = p + 16, *q = p + 48;
    for (int j = 0; j < 4; j++, q += 32, x += 64) {
      uint8_t s, m;
      smq_scale_min_k4(2 * j, sc, &s, &m);
      const float d1 = d * s, m1 = dmin * m;
      smq_scale_min_k4(2 * j + 1, sc, &s, &m);
      const float d2 = d * s, m2 = dmin * m;
      const int s1 = 2 * j, s2 = 2 * j + 1;
      for (int l = 0; l < 32; l++)
        acc[l] += (d1 * ((q[l] & 0xF) + (((qh[l] >> s1) & 1) << 4)) - m1) * x[l] +
                  (d2 * ((q[l] >> 4) + (((qh[l] >> s2) & 1) << 4)) - m2) * x[l + 32];
    }
  }
  return smq_sum32(acc);
}

/* ---- q6_k: 16 sub-blocks of 16 with int8 scales ------------------------------------------------ */
static inline void smq_dequantize_row_q6_k(const void *row, float *restrict y, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  for (int64_t b = 0; b < k / 256; b++, p += 210) {
    const float d = smq_f16(p + 208);
    const uint8_t *ql = p, *qh = p + 128;
    const int8_t *sc = (const int8_t *)(p + 192);
    for (int n = 0; n < 2; n++, y += 128, ql += 64, qh += 32, sc += 8)
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
  }
}
static inline float smq_dot_q6_k(const void *row, const float *restrict x, int64_t k) {
  const uint8_t *p = (const uint8_t *)row;
  float acc[16] = {0};
  for (int64_t b = 0; b < k / 256; b++, p += 210) {
    const float d = smq_f16(p + 208);
    const uint8_t *ql = p, *qh = p + 128;
    const int8_t *sc = (const int8_t *)(p + 192);
    for (int n = 0; n < 2; n++, x += 128, ql += 64, qh += 32, sc += 8)
      for (int h = 0; h < 2; h++) { /* 16 lanes with one scale each for q1..q4 */
        const float d1 = d * sc[h], d2 = d * sc[h + 2], d3 = d * sc[h + 4], d4 = d * sc[h + 6];
        const uint8_t *a = ql + 16 * h, *c = ql + 32 + 16 * h, *u = qh + 16 * h;
        const float *xa = x + 16 * h;
        for (int l = 0; l < 16; l++)
          acc[l] += (d1 * (((a[l] & 0xF) | ((u[l] & 3) << 4)) - 32)) * xa[l] +
                    (d2 * (((c[l] & 0xF) | (((u[l] >> 2) & 3) << 4)) - 32)) * xa[l + 32] +
                    (d3 * (((a[l] >> 4) | (((u[l] >> 4) & 3) << 4)) - 32)) * xa[l + 64] +
                    (d4 * (((c[l] >> 4) | (((u[l] >> 6) & 3) << 4)) - 32)) * xa[l + 96];
      }
  }
  return smq_sum16(acc);
}

#endif
