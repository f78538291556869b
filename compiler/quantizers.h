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

#endif
