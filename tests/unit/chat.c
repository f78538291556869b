/* tests/unit/chat.c — chat-template recognition (compiler/chat.c) and the prompt text of
 * runtime/smelt_chat.h against published templates rendered by jinja2 as Hugging Face
 * renders them (tests/chat/NAME.jinja -> NAME.{sys,nosys}.expected, made by
 * tools/render_chat_templates.py): one user turn, with and without a system message. */
#include "../testutil.h"

#include "compiler/chat.h"
#include "runtime/smelt_chat.h"

static const struct { const char *name; int kind; } T[] = {
    {"chatml-openhermes", SMELT_CHAT_CHATML}, {"qwen2", SMELT_CHAT_CHATML},     {"qwen2.5", SMELT_CHAT_CHATML},
    {"llama3", SMELT_CHAT_LLAMA3},            {"llama3.1", SMELT_CHAT_LLAMA31}, {"gemma2", SMELT_CHAT_GEMMA},
    {"gemma3", SMELT_CHAT_GEMMA3},            {"phi3-mini", SMELT_CHAT_PHI3_NOSYS}, {"phi3.5-mini", SMELT_CHAT_PHI3}, {"phi3-roles", SMELT_CHAT_PHI3},
    {"mistral-v0.2", -1},                     {"zephyr", -1},
};

int main(void) {
  const char *dir = SMELT_SOURCE_DIR "/tests/chat";
  static const char SYSTEM[] = "You are a terse assistant.", USER[] = "  Hello, who are you?\n";
  int formatted = 0;
  for (size_t i = 0; i < sizeof T / sizeof *T; i++) {
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.jinja", dir, T[i].name);
    char *tmpl = t_read_file(path, &len);
    CHECK(tmpl != NULL, "%s: cannot read", path);
    if (!tmpl) continue;
    int kind = smelt_chat_kind(tmpl);
    CHECK(kind == T[i].kind, "%s: kind %d (%s), expected %d", T[i].name, kind, smelt_chat_kind_name(kind), T[i].kind);
    if (kind < 0 || kind != T[i].kind) { free(tmpl); continue; }
    smelt_ctx *cx = smelt_ctx_new();
    const char *dflt = smelt_chat_default_system(cx, tmpl);
    for (int ws = 0; ws < 2; ws++) {
      snprintf(path, sizeof path, "%s/%s.%s.expected", dir, T[i].name, ws ? "sys" : "nosys");
      char *exp = t_read_file(path, &len);
      CHECK(exp != NULL, "%s: cannot read", path);
      if (!exp) continue;
      char out[4096];
      int n = smelt_chat_format(kind, USER, ws ? SYSTEM : dflt, out, sizeof out);
      if (!strncmp(exp, "!error", 6)) CHECK(n == SMELT_E_ARG, "%s (%s): the template refuses this, smelt_chat_format gave %d", T[i].name, ws ? "sys" : "nosys", n);
      else {
        CHECK(n >= 0 && !strcmp(out, exp), "%s (%s): got\n%s\n---- expected\n%s", T[i].name, ws ? "sys" : "nosys", n >= 0 ? out : "(error)", exp);
        formatted++;
      }
      free(exp);
    }
    smelt_ctx_free(cx);
    free(tmpl);
  }
  /* buffer limits and bad arguments */
  char small[8];
  CHECK(smelt_chat_format(SMELT_CHAT_CHATML, "hi", NULL, small, sizeof small) == SMELT_E_NOSPACE, "a small buffer is an error");
  CHECK(smelt_chat_format(99, "hi", NULL, small, sizeof small) == SMELT_E_ARG, "an unknown kind is an error");
  CHECK(smelt_chat_format(SMELT_CHAT_CHATML, NULL, NULL, small, sizeof small) == SMELT_E_NULL, "no user text is an error");
  CHECK(smelt_chat_kind("{{ messages }}") == -1 && smelt_chat_kind(NULL) == -1, "unknown templates are -1");
  printf("%d prompts formatted as their templates render them\n", formatted);
  return t_done("unit_chat");
}
