/* tests/malformed/malformed.h — what the corpus makers of tests/malformed share with
 * malformed.c, which runs the CLI over the corpus. */
#ifndef SMELT_MALFORMED_H
#define SMELT_MALFORMED_H

#include <stdint.h>

enum { K_ONNX, K_IR, K_NPY, K_TOK, K_HF };
/* must_fail: 1 must be rejected, 2 by build only, 0 either, -1 must be accepted */
void add_case(const char *path, int kind, int must_fail);
uint32_t rnd(uint32_t n);
extern char work[4096];

/* Hugging Face folders made from the fixtures of tests/e2e/llm (malformed/hf.c) */
void hf_mutants(const char *fixtures);
/* GGUF model files made from tests/e2e/llm/llama/model.gguf (malformed/gguf.c) */
void gguf_mutants(const char *fixtures);

#endif
