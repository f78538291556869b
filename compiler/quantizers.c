/* compiler/quantizers.c — float weights into smelt's weight formats.
 *
 * The ggml block types are quantized as ggml's reference quantizers do
 * (quantize_row_q8_0_ref, _q4_0_ref, _q4_1_ref, _q5_0_ref, _q5_1_ref in ggml-quants.c):
 * the same float expressions in the same order, f16 scales rounded to nearest even, so a
 * tensor quantized here is byte-identical to llama.cpp's.  The QMatMul schemes (int8 per
 * row, int4 and nf4 per group; layouts in quantizers.h) are smelt's own.
 *
 * Values are assumed finite (a NaN weight quantizes to an unspecified code, never UB:
 * every float-to-int conversion is clamped first). */
#include "compiler/quantizers.h"
#include "runtime/smelt_scalar.h"

#include <math.h>
#include <string.h>

/* float -> int for a value already known to lie in [lo, hi] (NaN -> lo) */
static int clampi(float v, int lo, int hi) {
  if (!(v >= (float)lo)) return lo;
  if (v > (float)hi) return hi;
  return (int)v;
}
static void put16(uint8_t *p, uint16_t h) { p[0] = (uint8_t)h; p[1] = (uint8_t)(h >> 8); }
static void put32(uint8_t *p, uint32_t u) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(u >> (8 * i)); }

static void q8_0_block(const float *x, uint8_t *y) {
  float amax = 0;
  for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
  const float d = amax / ((1 << 7) - 1), id = d ? 1.0f / d : 0.0f;
  put16(y, sm_f32_to_f16(d));
  for (int j = 0; j < 32; j++) y[2 + j] = (uint8_t)(int8_t)clampi(roundf(x[j] * id), -128, 127);
}

/* the value of largest magnitude (the first such, as ggml) */
static float absmax_signed(const float *x, int n, float *amax_out) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; j++)
    if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
  if (amax_out) *amax_out = amax;
  return max;
}

static void q4_0_block(const float *x, uint8_t *y) {
  const float max = absmax_signed(x, 32, NULL);
  const float d = max / -8, id = d ? 1.0f / d : 0.0f;
  put16(y, sm_f32_to_f16(d));
  for (int j = 0; j < 16; j++) {
    const float x0 = x[j] * id, x1 = x[16 + j] * id;
    const int xi0 = clampi(x0 + 8.5f, 0, 15), xi1 = clampi(x1 + 8.5f, 0, 15);
    y[2 + j] = (uint8_t)(xi0 | (xi1 << 4));
  }
}

static void minmax(const float *x, int n, float *mn, float *mx) {
  float lo = INFINITY, hi = -INFINITY;
  for (int j = 0; j < n; j++) {
    if (x[j] < lo) lo = x[j];
    if (x[j] > hi) hi = x[j];
  }
  *mn = lo;
  *mx = hi;
}

static void q4_1_block(const float *x, uint8_t *y) {
  float min, max;
  minmax(x, 32, &min, &max);
  const float d = (max - min) / ((1 << 4) - 1), id = d ? 1.0f / d : 0.0f;
  put16(y, sm_f32_to_f16(d));
  put16(y + 2, sm_f32_to_f16(min));
  for (int j = 0; j < 16; j++) {
    const float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
    const int xi0 = clampi(x0 + 0.5f, 0, 15), xi1 = clampi(x1 + 0.5f, 0, 15);
    y[4 + j] = (uint8_t)(xi0 | (xi1 << 4));
  }
}

static void q5_0_block(const float *x, uint8_t *y) {
  const float max = absmax_signed(x, 32, NULL);
  const float d = max / -16, id = d ? 1.0f / d : 0.0f;
  put16(y, sm_f32_to_f16(d));
  uint32_t qh = 0;
  for (int j = 0; j < 16; j++) {
    const float x0 = x[j] * id, x1 = x[16 + j] * id;
    const int xi0 = clampi(x0 + 16.5f, 0, 31), xi1 = clampi(x1 + 16.5f, 0, 31);
    y[6 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((uint32_t)(xi0 & 0x10) >> 4) << j;
    qh |= ((uint32_t)(xi1 & 0x10) >> 4) << (j + 16);
  }
  put32(y + 2, qh);
}

static void q5_1_block(const float *x, uint8_t *y) {
  float min, max;
  minmax(x, 32, &min, &max);
  const float d = (max - min) / ((1 << 5) - 1), id = d ? 1.0f / d : 0.0f;
  put16(y, sm_f32_to_f16(d));
  put16(y + 2, sm_f32_to_f16(min));
  uint32_t qh = 0;
  for (int j = 0; j < 16; j++) {
    const float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
    const int xi0 = clampi(x0 + 0.5f, 0, 31), xi1 = clampi(x1 + 0.5f, 0, 31);
    y[8 + j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((uint32_t)(xi0 & 0x10) >> 4) << j;
    qh |= ((uint32_t)(xi1 & 0x10) >> 4) << (j + 16);
  }
  put32(y + 4, qh);
}

int smelt_can_quantize(smelt_dtype dt) {
  switch (dt) {
  case SMELT_DT_F32: case SMELT_DT_F16: case SMELT_DT_BF16:
  case SMELT_DT_Q8_0: case SMELT_DT_Q4_0: case SMELT_DT_Q4_1: case SMELT_DT_Q5_0: case SMELT_DT_Q5_1: return 1;
  default: return 0;
  }
}

int smelt_quantize_rows(smelt_dtype dt, const float *x, int64_t n, int64_t k, void *out) {
  if (!smelt_can_quantize(dt) || n < 0 || k < 0 || k % smelt_dtype_blk(dt)) return SMELT_ERR;
  uint8_t *y = (uint8_t *)out;
  const int64_t ne = n * k;
  void (*blk)(const float *, uint8_t *) = NULL;
  switch (dt) {
  case SMELT_DT_F32: memcpy(out, x, sizeof(float) * (size_t)ne); return 0;
  case SMELT_DT_F16: for (int64_t i = 0; i < ne; i++) put16(y + 2 * i, sm_f32_to_f16(x[i])); return 0;
  case SMELT_DT_BF16: for (int64_t i = 0; i < ne; i++) put16(y + 2 * i, sm_f32_to_bf16(x[i])); return 0;
  case SMELT_DT_Q8_0: blk = q8_0_block; break;
  case SMELT_DT_Q4_0: blk = q4_0_block; break;
  case SMELT_DT_Q4_1: blk = q4_1_block; break;
  case SMELT_DT_Q5_0: blk = q5_0_block; break;
  case SMELT_DT_Q5_1: blk = q5_1_block; break;
  default: return SMELT_ERR;
  }
  const int bytes = smelt_dtype_bytes(dt);
  for (int64_t b = 0; b < ne / 32; b++) blk(x + 32 * b, y + bytes * b); /* rows are whole blocks: blocks run on */
  return 0;
}

/* ---- int8 per row, int4 / nf4 per group ----------------------------------------------- */
const float smelt_nf4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                             -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                             0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                             0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

void smelt_quantize_int8(const float *x, int64_t n, int64_t k, int8_t *q, float *scale) {
  for (int64_t r = 0; r < n; r++) {
    const float *xr = x + r * k;
    float amax = 0;
    for (int64_t j = 0; j < k; j++) amax = fmaxf(amax, fabsf(xr[j]));
    const float s = amax / 127, id = s ? 1.0f / s : 0.0f;
    scale[r] = s;
    for (int64_t j = 0; j < k; j++) q[r * k + j] = (int8_t)clampi(roundf(xr[j] * id), -127, 127);
  }
}

/* the nearest code to v in [-1, 1] (ties to the lower code) */
static int nf4_code(float v) {
  int best = 0;
  float bd = INFINITY;
  for (int c = 0; c < 16; c++) {
    const float d = fabsf(v - smelt_nf4[c]);
    if (d < bd) { bd = d; best = c; }
  }
  return best;
}

static void quantize_4bit(int nf4, const float *x, int64_t n, int64_t k, int64_t g, uint8_t *q, float *scale) {
  const int64_t rb = (k + 1) / 2, ng = k / g;
  memset(q, 0, (size_t)(n * rb));
  for (int64_t r = 0; r < n; r++)
    for (int64_t b = 0; b < ng; b++) {
      const float *xg = x + r * k + b * g;
      float amax = 0;
      for (int64_t j = 0; j < g; j++) amax = fmaxf(amax, fabsf(xg[j]));
      const float s = nf4 ? amax : amax / 7, id = s ? 1.0f / s : 0.0f;
      scale[r * ng + b] = s;
      for (int64_t j = 0; j < g; j++) {
        const int code = nf4 ? nf4_code(xg[j] * id) : clampi(roundf(xg[j] * id), -7, 7) + 8;
        const int64_t i = b * g + j;
        q[r * rb + i / 2] |= (uint8_t)(i % 2 ? code << 4 : code);
      }
    }
}
void smelt_quantize_int4(const float *x, int64_t n, int64_t k, int64_t g, uint8_t *q, float *scale) { quantize_4bit(0, x, n, k, g, q, scale); }
void smelt_quantize_nf4(const float *x, int64_t n, int64_t k, int64_t g, uint8_t *q, float *scale) { quantize_4bit(1, x, n, k, g, q, scale); }

void smelt_dequantize_int8(const int8_t *q, const float *scale, int64_t n, int64_t k, float *y) {
  for (int64_t r = 0; r < n; r++)
    for (int64_t j = 0; j < k; j++) y[r * k + j] = scale[r] * q[r * k + j];
}

void smelt_dequantize_4bit(int nf4, const uint8_t *q, const float *scale, int64_t n, int64_t k, int64_t g, float *y) {
  const int64_t rb = (k + 1) / 2, ng = k / g;
  for (int64_t r = 0; r < n; r++)
    for (int64_t i = 0; i < k; i++) {
      const int code = (q[r * rb + i / 2] >> (4 * (i % 2))) & 15;
      y[r * k + i] = scale[r * ng + i / g] * (nf4 ? smelt_nf4[code] : (float)(code - 8));
    }
}
