/* samples/llm-chat/chat.c — generates text with a language model compiled by
 * smelt_add_model(... NAME llm), through the generated C API only (llm.h):
 *
 *     chat "PROMPT" [-n N] [--temp T] [--top-k K] [--seed S]   text in, streamed text out
 *     chat --ids "1 2 3" [-n N]                                 token ids in, greedy ids out
 *
 * The context and the arena belong to the caller (here static: no allocation at all);
 * llm_generate tokenizes, prefills, samples and decodes, calling on_token with each
 * piece of text.  The --ids form uses the step-by-step API (prefill, sample, decode),
 * which is what a custom loop or a chat UI builds on. */
#include "llm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char arena_storage[llm_ARENA_BYTES + 15];

static int on_token(const char *piece, void *user) {
  (void)user;
  fputs(piece, stdout);
  fflush(stdout);
  return 0; /* non-zero stops the generation */
}

int main(int argc, char **argv) {
  const char *prompt = NULL, *ids_text = NULL;
  int n_new = 32;
  llm_sampling s;
  memset(&s, 0, sizeof s); /* all zero: greedy */
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) n_new = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--temp") && i + 1 < argc) s.temperature = (float)atof(argv[++i]);
    else if (!strcmp(argv[i], "--top-k") && i + 1 < argc) s.top_k = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) s.seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--ids") && i + 1 < argc) ids_text = argv[++i];
    else if (argv[i][0] != '-' && !prompt) prompt = argv[i];
    else { fprintf(stderr, "usage: %s \"PROMPT\" | --ids \"1 2 3\" [-n N] [--temp T] [--top-k K] [--seed S]\n", argv[0]); return 1; }
  }
  if (!prompt && !ids_text) prompt = "Once upon a time";

  llm_ctx ctx;
  void *arena = (void *)(((uintptr_t)arena_storage + 15) & ~(uintptr_t)15);
  int rc = llm_init(&ctx, arena, llm_ARENA_BYTES);
  if (rc < 0) { fprintf(stderr, "llm_init: %s\n", llm_strerror(rc)); return 2; }

  if (prompt) {
    rc = llm_generate(&ctx, prompt, n_new, &s, on_token, NULL);
    putchar('\n');
    if (rc < 0) { fprintf(stderr, "llm_generate: %s\n", llm_strerror(rc)); return 2; }
    return 0;
  }
  /* token ids in: prefill them, then sample and decode one token at a time */
  int32_t ids[llm_CTX];
  int n = 0;
  for (char *p = (char *)ids_text, *end; *p && n < llm_CTX; p = end) {
    long v = strtol(p, &end, 10);
    if (end == p) break;
    ids[n++] = (int32_t)v;
  }
  if ((rc = llm_prefill(&ctx, ids, n)) < 0) { fprintf(stderr, "llm_prefill: %s\n", llm_strerror(rc)); return 2; }
  for (int k = 0; k < n_new; k++) {
    int32_t id = llm_sample(&ctx, &s);
    if (id < 0) { fprintf(stderr, "llm_sample: %s\n", llm_strerror(id)); return 2; }
    printf("%s%d", k ? " " : "", (int)id);
    if (k + 1 < n_new && (rc = llm_decode(&ctx, id, NULL)) < 0) { fprintf(stderr, "llm_decode: %s\n", llm_strerror(rc)); return 2; }
  }
  putchar('\n');
  return 0;
}
