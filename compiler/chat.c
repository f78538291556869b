/* compiler/chat.c — recognises the chat-template families of runtime/smelt_chat.h in a
 * checkpoint's Jinja text by the special markers their published templates are built
 * from, and the default system text ChatML templates (Qwen) insert.  Nothing is
 * executed; a template without all the markers of one family is -1. */
#include "compiler/chat.h"

#include "runtime/smelt_chat.h"

#include <string.h>

static int has(const char *t, const char *s) { return strstr(t, s) != NULL; }

int smelt_chat_kind(const char *t) {
  if (!t) return -1;
  if (has(t, "<|im_start|>") && has(t, "<|im_end|>")) return SMELT_CHAT_CHATML;
  if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>") && has(t, "<|eot_id|>"))
    return has(t, "Cutting Knowledge Date") ? SMELT_CHAT_LLAMA31 : SMELT_CHAT_LLAMA3;
  if (has(t, "<start_of_turn>") && has(t, "<end_of_turn>")) return has(t, "first_user_prefix") ? SMELT_CHAT_GEMMA3 : SMELT_CHAT_GEMMA;
  if (has(t, "<|user|>") && has(t, "<|end|>") && has(t, "<|assistant|>")) return has(t, "<|system|>") ? SMELT_CHAT_PHI3 : SMELT_CHAT_PHI3_NOSYS;
  /* Phi-3.5: '<|' + message['role'] + '|>' for every role, system included */
  if (has(t, "'<|' + message['role'] + '|>'") && has(t, "<|end|>") && has(t, "<|assistant|>")) return SMELT_CHAT_PHI3;
  return -1;
}

const char *smelt_chat_kind_name(int kind) {
  static const char *names[] = {"chatml", "llama3", "llama3.1", "gemma", "gemma3", "phi3", "phi3 (no system)"};
  return kind >= 0 && kind < SMELT_CHAT_COUNT ? names[kind] : "unsupported";
}

/* '<|im_start|>system\n' + literal text + '<|im_end|>' inside one Jinja string */
char *smelt_chat_default_system(smelt_ctx *cx, const char *t) {
  static const char mark[] = "<|im_start|>system";
  if (!t || smelt_chat_kind(t) != SMELT_CHAT_CHATML) return NULL;
  for (const char *p = strstr(t, mark); p; p = strstr(p + 1, mark)) {
    const char *q = p + sizeof mark - 1;
    if (q[0] == '\\' && q[1] == 'n') q += 2;
    else if (q[0] == '\n') q += 1;
    else continue;
    const char *e = strstr(q, "<|im_end|>");
    if (!e || e == q) continue;
    size_t n = (size_t)(e - q);
    if (memchr(q, '\'', n) || memchr(q, '"', n) || memchr(q, '{', n) || memchr(q, '}', n)) continue;
    char *s = smelt_alloc(cx, n + 1);
    if (!s) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (q[i] == '\\' && i + 1 < n) {
        char c = q[++i];
        s[k++] = c == 'n' ? '\n' : c == 't' ? '\t' : c;
      } else {
        s[k++] = q[i];
      }
    }
    s[k] = 0;
    return s;
  }
  return NULL;
}
