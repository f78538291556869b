/* ir/llm.h — pieces of the decoder ops shared by the interpreter and the backends. */
#ifndef SMELT_IR_LLM_H
#define SMELT_IR_LLM_H

#include "ir.h"

/* RoPE inverse frequencies of a RoPE node: out[i] for i < dims/2, after scaling. */
void smelt_rope_inv_freq(const smelt_node *n, double *out);

#endif
