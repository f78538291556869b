/* runtime/smelt_chat.h — the prompt text of one user turn in the chat formats smelt
 * recognises (compiler/chat.c tells which one a checkpoint's Jinja template is), for
 * the generated LLM executables and libraries.
 *
 * Header-only, static, C99, no allocation.  The text leaves out BOS: tokenize it with
 * the model's add_bos (as Hugging Face tokenizes a rendered template, the template's
 * own bos_token and the tokenizer's BOS being the same token).  Special-token text
 * (<|im_start|>...) is matched by the tokenizer.  Contents are copied as given, except
 * where the template trims them (Llama-3 and Gemma: ASCII whitespace at both ends). */
#ifndef SMELT_CHAT_H
#define SMELT_CHAT_H

#include <stddef.h>
#include "smelt_rt.h"

enum {
  SMELT_CHAT_CHATML = 0,     /* <|im_start|>role\n...<|im_end|>\n (Qwen, SmolLM, OpenHermes) */
  SMELT_CHAT_LLAMA3 = 1,     /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
  SMELT_CHAT_LLAMA31 = 2,    /* Llama 3.1+: a system header with the knowledge/today dates */
  SMELT_CHAT_GEMMA = 3,      /* <start_of_turn>user\n...<end_of_turn>\n; no system role */
  SMELT_CHAT_GEMMA3 = 4,     /* Gemma 3: the system text opens the first user turn */
  SMELT_CHAT_PHI3 = 5,       /* <|system|>\n...<|end|>\n<|user|>\n...<|end|>\n<|assistant|>\n */
  SMELT_CHAT_PHI3_NOSYS = 6, /* Phi-3 mini's first template, which ignores system messages */
  SMELT_CHAT_COUNT
};

struct smelt_chat_buf { char *p; int n, max; };

static inline void smelt_chat_put(struct smelt_chat_buf *b, const char *s, int len) {
  if (len < 0)
    for (len = 0; s[len]; len++) {}
  for (int i = 0; i < len; i++) {
    if (b->n < b->max) b->p[b->n] = s[i];
    b->n++;
  }
}

static inline int smelt_chat_ws(char c) { return c == ' ' || (c >= 9 && c <= 13); }

/* s trimmed of ASCII whitespace at both ends */
static inline void smelt_chat_trimmed(struct smelt_chat_buf *b, const char *s) {
  int e = 0;
  while (smelt_chat_ws(*s)) s++;
  for (int i = 0; s[i]; i++)
    if (!smelt_chat_ws(s[i])) e = i + 1;
  smelt_chat_put(b, s, e);
}

/* Writes the prompt for `user` (after the optional `system` text, NULL for none) plus
 * the assistant's header into out[0..max) with a terminating NUL: the length, or
 * SMELT_E_NOSPACE, SMELT_E_ARG for an unknown kind or a system text the format has no
 * place for (Gemma 1/2 templates refuse one), SMELT_E_NULL. */
static inline int smelt_chat_format(int kind, const char *user, const char *system, char *out, int max) {
  if (!user || (!out && max)) return SMELT_E_NULL;
  struct smelt_chat_buf b = {out, 0, max};
  switch (kind) {
  case SMELT_CHAT_CHATML:
    if (system) { smelt_chat_put(&b, "<|im_start|>system\n", -1); smelt_chat_put(&b, system, -1); smelt_chat_put(&b, "<|im_end|>\n", -1); }
    smelt_chat_put(&b, "<|im_start|>user\n", -1);
    smelt_chat_put(&b, user, -1);
    smelt_chat_put(&b, "<|im_end|>\n<|im_start|>assistant\n", -1);
    break;
  case SMELT_CHAT_LLAMA3:
  case SMELT_CHAT_LLAMA31:
    if (system || kind == SMELT_CHAT_LLAMA31) {
      smelt_chat_put(&b, "<|start_header_id|>system<|end_header_id|>\n\n", -1);
      if (kind == SMELT_CHAT_LLAMA31) smelt_chat_put(&b, "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n", -1);
      if (system) smelt_chat_trimmed(&b, system);
      smelt_chat_put(&b, "<|eot_id|>", -1);
    }
    smelt_chat_put(&b, "<|start_header_id|>user<|end_header_id|>\n\n", -1);
    smelt_chat_trimmed(&b, user);
    smelt_chat_put(&b, "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", -1);
    break;
  case SMELT_CHAT_GEMMA:
  case SMELT_CHAT_GEMMA3:
    if (system && kind == SMELT_CHAT_GEMMA) return SMELT_E_ARG;
    smelt_chat_put(&b, "<start_of_turn>user\n", -1);
    if (system) { smelt_chat_put(&b, system, -1); smelt_chat_put(&b, "\n\n", -1); }
    smelt_chat_trimmed(&b, user);
    smelt_chat_put(&b, "<end_of_turn>\n<start_of_turn>model\n", -1);
    break;
  case SMELT_CHAT_PHI3:
  case SMELT_CHAT_PHI3_NOSYS:
    if (system && *system && kind == SMELT_CHAT_PHI3) { smelt_chat_put(&b, "<|system|>\n", -1); smelt_chat_put(&b, system, -1); smelt_chat_put(&b, "<|end|>\n", -1); }
    smelt_chat_put(&b, "<|user|>\n", -1);
    smelt_chat_put(&b, user, -1);
    smelt_chat_put(&b, "<|end|>\n<|assistant|>\n", -1);
    break;
  default:
    return SMELT_E_ARG;
  }
  if (b.n >= max) return SMELT_E_NOSPACE;
  out[b.n] = 0;
  return b.n;
}

#endif
