/* compiler/quantizers.h — quantizing float weights into smelt's weight dtypes, for the
 * quantize pass (passes/quantize.c) and for re-quantizing a LoRA-merged weight whose
 * base was quantized (passes/lora_merge.c).
 *
 * Block types follow ggml's reference quantizers (quantize_row_*_ref) exactly, so a
 * tensor quantized here equals llama.cpp's; f16 / bf16 round to nearest even. */
#ifndef SMELT_QUANTIZERS_H
#define SMELT_QUANTIZERS_H

#include "ir/ir.h"

/* Quantizes n rows of k floats (k a whole number of blocks of dt) into out, which holds
 * n * smelt_dtype_nbytes(dt, k) bytes.  Returns 0, or SMELT_ERR (no diagnostic) when dt
 * is not a weight dtype smelt can produce. */
int smelt_quantize_rows(smelt_dtype dt, const float *x, int64_t n, int64_t k, void *out);
/* Whether smelt_quantize_rows can produce dt. */
int smelt_can_quantize(smelt_dtype dt);

/* ---- the QMatMul weight schemes (ops.def: QMatMul; passes/quantize.c) -----------------
 * int8: symmetric per output row: q int8 [n, k], scale f32 [n]; w = scale * q, scale =
 *       max|row| / 127, q = round(w / scale) (half away from zero).
 * int4: symmetric per group of g along k: 4-bit q in -7..7 stored as q + 8, two per byte
 *       (element i of a row in byte i / 2, the low nibble for even i; a row is
 *       (k + 1) / 2 bytes); scale f32 [n, k / g] = max|group| / 7.
 * nf4:  QLoRA's NormalFloat4 codebook (smelt_nf4[16]) times the group's max|w|: the
 *       nibble is the index of the nearest code to w / max|group|.
 * g divides k.  Zero rows / groups get scale 0 and decode to 0. */
extern const float smelt_nf4[16];
void smelt_quantize_int8(const float *x, int64_t n, int64_t k, int8_t *q, float *scale);
void smelt_quantize_int4(const float *x, int64_t n, int64_t k, int64_t g, uint8_t *q, float *scale);
void smelt_quantize_nf4(const float *x, int64_t n, int64_t k, int64_t g, uint8_t *q, float *scale);
/* Decodes n rows back to floats (for error reports and tests); nf4 != 0 picks the codebook. */
void smelt_dequantize_int8(const int8_t *q, const float *scale, int64_t n, int64_t k, float *y);
void smelt_dequantize_4bit(int nf4, const uint8_t *q, const float *scale, int64_t n, int64_t k, int64_t g, float *y);

#endif
