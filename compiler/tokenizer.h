/* compiler/tokenizer.h — tokenizers, built at compile time into tables that the
 * generated model's runtime (runtime/smelt_tok.h) encodes and decodes with, so no JSON
 * is parsed at run time.
 *
 * Kinds: SentencePiece-style BPE with byte fallback (GGUF "llama", tokenizer.json
 * BPE with a Metaspace pre-tokenizer), byte-level BPE (GGUF "gpt2", with the GPT-2,
 * Llama-3 and Qwen2 pre-tokenizer rules among others) and WordPiece (GGUF "bert").
 * The compiler encodes with the same runtime code (`smelt tokenize`), so what the CLI
 * prints is what the compiled model does. */
#ifndef SMELT_TOKENIZER_H
#define SMELT_TOKENIZER_H

#include "compiler/gguf.h"

struct smelt_tokenizer;

/* From a GGUF file's tokenizer.ggml.* metadata (works on vocabulary-only files). */
struct smelt_tokenizer *smelt_tokenizer_from_gguf(smelt_ctx *cx, const struct smelt_gguf *g);
/* From a Hugging Face tokenizer.json; tokenizer_config.json (may be NULL or missing)
 * supplies add_bos_token / add_eos_token and special tokens. */
struct smelt_tokenizer *smelt_tokenizer_from_json(smelt_ctx *cx, const char *tokenizer_json, const char *tokenizer_config_json);

int64_t smelt_tokenizer_vocab_size(const struct smelt_tokenizer *t);
int64_t smelt_tokenizer_bos(const struct smelt_tokenizer *t); /* -1 if none */
int smelt_tokenizer_eos(const struct smelt_tokenizer *t, int64_t *ids, int max); /* count */
int smelt_tokenizer_add_bos(const struct smelt_tokenizer *t);  /* the model expects BOS first */

/* Encodes text (UTF-8, len bytes) into *ids (ctx arena); returns the count or SMELT_ERR.
 * add_bos: 1 adds BOS (and EOS where the model adds one); | 2 treats control-token text
 * as plain text (llama.cpp's parse_special = false). */
int smelt_tokenizer_encode(const struct smelt_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids);
/* The bytes token id stands for (for `smelt tokenize --decode` and tests). */
const char *smelt_tokenizer_piece(const struct smelt_tokenizer *t, int32_t id, size_t *len);

/* C definitions of the tables for a generated model: defines
 *     static const struct smelt_tok PREFIX_tok = { ... };
 * (with its arrays named PREFIX_tok_*) for runtime/smelt_tok.h.  Returns an arena
 * string or NULL with a diagnostic. */
char *smelt_tokenizer_emit_c(smelt_ctx *cx, const struct smelt_tokenizer *t, const char *prefix);

/* The runtime tables themselves (runtime/smelt_tok.h), to encode or decode with the
 * runtime functions directly (tests, `smelt tokenize --decode`). */
struct smelt_tok;
const struct smelt_tok *smelt_tokenizer_tables(const struct smelt_tokenizer *t);

#endif
