/* runtime/smelt_llm_main.h — main() of the executables smelt generates for LLMs
 * (DESIGN §6):
 *
 *   NAME -p "prompt" [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
 *        [--repeat-penalty R] [--seed S] [--prompt-ids "1 2 3"] [--tokens]
 *        [--logits FILE.npy] [--prompt-logits] [--chat] [-t THREADS] [--adapter NAME [--adapter-scale S]]
 *   NAME --perplexity FILE.txt | --perplexity-ids FILE
 *
 * Text streams to stdout (token ids with --tokens); prefill and decode tokens/s go to
 * stderr.  --logits writes the logits of every generated step as [steps, vocab];
 * with --prompt-logits the prompt is fed one token at a time and the file holds the
 * logits after each prompt token instead (to check a model position by position).
 * --perplexity tokenizes the file (--perplexity-ids reads whitespace-separated token
 * ids), runs it through decode in windows of the context length, each starting afresh
 * with the tokenizer's prefix (BOS), and prints exp(mean negative log-likelihood) of every
 * token that has a predecessor in its window.
 * Exit status: 0 ok, 1 bad usage, 2 the model returned an error. */
#ifndef SMELT_LLM_MAIN_H
#define SMELT_LLM_MAIN_H

#include "smelt_rt.h"
#include "smelt_llm.h"
#include "smelt_npy.h"
#include "smelt_clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int smelt_llm_usage(const char *prog, const struct smelt_llm_desc *d, FILE *f) {
  fprintf(f,
          "usage: %s -p \"prompt\" [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]\n"
          "       [--repeat-penalty R] [--seed S] [--prompt-ids \"1 2 3\"] [--tokens]\n"
          "       [--logits FILE.npy] [--prompt-logits] [--chat] [-t THREADS]\n"
          "   or: %s --perplexity FILE.txt | --perplexity-ids FILE\n\n"
          "Generates text with %s (%s, vocabulary %d, context %d).  Greedy unless --temp > 0.\n",
          prog, prog, d->name, d->arch, d->vocab, d->ctx);
  return f == stdout ? 0 : 1;
}

/* --perplexity / --perplexity-ids (see the top of the file).  Returns the exit status. */
static int smelt_llm_perplexity(const char *prog, const struct smelt_llm_desc *d, const char *path, int as_ids) {
  int rc = 1, n = 0, np = 0;
  int32_t pre[4], *ids = NULL;
  char *text = NULL;
  float *lg = NULL;
  void *ctx = calloc(1, d->ctx_bytes), *arena = calloc(1, d->arena_bytes);
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "%s: cannot open %s\n", prog, path); goto done; }
  size_t len = 0, cap = 1 << 16;
  text = malloc(cap + 1);
  for (size_t r; text && (r = fread(text + len, 1, cap - len, f)) > 0;) {
    len += r;
    if (len == cap) { char *t = realloc(text, 2 * cap + 1); if (!t) { free(text); text = NULL; break; } text = t; cap *= 2; }
  }
  fclose(f);
  if (!ctx || !arena || !text) { fprintf(stderr, "%s: out of memory\n", prog); goto done; }
  text[len] = 0;
  if (len > (1u << 28)) { fprintf(stderr, "%s: %s: larger than 256 MiB\n", prog, path); goto done; }
  int err = d->init(ctx, arena, d->arena_bytes);
  if (err) { fprintf(stderr, "%s: %s\n", prog, d->strerror(err)); rc = 2; goto done; }
  ids = malloc(sizeof(int32_t) * (len + 8));
  lg = malloc(sizeof(float) * (size_t)d->vocab);
  if (!ids || !lg) { fprintf(stderr, "%s: out of memory\n", prog); goto done; }
  if (as_ids) {
    for (const char *p = text; *p;) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p) { if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r' || *p == ',') { p++; continue; } fprintf(stderr, "%s: %s: not a token id at byte %ld\n", prog, path, (long)(p - text)); goto done; }
      if (v < 0 || v >= d->vocab) { fprintf(stderr, "%s: %s: token id %ld out of range [0, %d)\n", prog, path, v, d->vocab); goto done; }
      ids[n++] = (int32_t)v;
      p = e;
    }
  } else {
    if (!d->has_tokenizer) { fprintf(stderr, "%s: this model was built without a tokenizer: use --perplexity-ids\n", prog); goto done; }
    n = d->tokenize(ctx, text, ids, (int)(len + 8));
    if (n < 0) { fprintf(stderr, "%s: %s\n", prog, d->strerror(n)); rc = 2; goto done; }
  }
  /* the prefix every window starts with: what the tokenizer puts before any text */
  if (d->has_tokenizer) {
    np = d->tokenize(ctx, "", pre, 4);
    if (np < 0 || np >= d->ctx) np = 0;
  }
  int skip = 0; /* a tokenized file already starts with the prefix */
  if (!as_ids && np && n >= np && !memcmp(ids, pre, sizeof(int32_t) * (size_t)np)) skip = np;
  const int per = d->ctx - np; /* file tokens per window */
  double nll = 0;
  long scored = 0;
  int windows = 0;
  double t0 = smelt_now();
  for (int s = skip; s < n; s += per, windows++) {
    const int e = s + per < n ? s + per : n;
    d->reset(ctx);
    int have = 0; /* logits of the last token fed are in lg */
    for (int i = 0; i < np; i++) {
      if ((err = d->decode(ctx, pre[i], lg))) { fprintf(stderr, "%s: %s\n", prog, d->strerror(err)); rc = 2; goto done; }
      have = 1;
    }
    for (int i = s; i < e; i++) {
      if (have) { /* -log softmax(lg)[ids[i]] in double */
        double m = lg[0], z = 0;
        for (int v = 1; v < d->vocab; v++) if (lg[v] > m) m = lg[v];
        for (int v = 0; v < d->vocab; v++) z += exp((double)lg[v] - m);
        nll += log(z) + m - (double)lg[ids[i]];
        scored++;
      }
      if (i + 1 < e && (err = d->decode(ctx, ids[i], lg))) { fprintf(stderr, "%s: %s\n", prog, d->strerror(err)); rc = 2; goto done; }
      have = 1;
    }
  }
  if (!scored) { fprintf(stderr, "%s: %s: no token to score\n", prog, path); goto done; }
  printf("perplexity: %.4f over %ld tokens (%d windows of at most %d, %.2f s)\n", exp(nll / (double)scored), scored, windows, d->ctx,
         smelt_now() - t0);
  rc = 0;
done:
  free(ctx); free(arena); free(ids); free(text); free(lg);
  return rc;
}

/* ad: the model's switchable LoRA adapters (--adapter), or NULL */
static int smelt_llm_main_adapters(int argc, char **argv, const struct smelt_llm_desc *d, const struct smelt_adapter_desc *ad) {
  const char *prompt = NULL, *prompt_ids = NULL, *logits_path = NULL, *adapter = NULL;
  float adapter_scale = 1;
  int n_new = 64, show_tokens = 0, prompt_logits = 0, chat = 0, rc = 1;
  struct smelt_sampling s = {0};
  s.seed = 42;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      for (int k = 0; ad && k < ad->n; k++) printf("%s%s%s", k ? ", " : "LoRA adapters (--adapter NAME [--adapter-scale S]; default none): ", ad->names[k], k + 1 == ad->n ? "\n" : "");
      return smelt_llm_usage(argv[0], d, stdout);
    }
    else if (!strcmp(a, "-p") && more) prompt = argv[++i];
    else if (!strcmp(a, "-n") && more) n_new = atoi(argv[++i]);
    else if (!strcmp(a, "--temp") && more) s.temperature = (float)atof(argv[++i]);
    else if (!strcmp(a, "--top-k") && more) s.top_k = atoi(argv[++i]);
    else if (!strcmp(a, "--top-p") && more) s.top_p = (float)atof(argv[++i]);
    else if (!strcmp(a, "--min-p") && more) s.min_p = (float)atof(argv[++i]);
    else if (!strcmp(a, "--repeat-penalty") && more) s.repeat_penalty = (float)atof(argv[++i]);
    else if (!strcmp(a, "--seed") && more) s.seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(a, "--prompt-ids") && more) prompt_ids = argv[++i];
    else if (!strcmp(a, "--logits") && more) logits_path = argv[++i];
    else if (!strcmp(a, "-t") && more) {
      int t = atoi(argv[++i]);
      if (t < 1 || d->set_threads(t)) { fprintf(stderr, "%s: -t %s: expected a thread count >= 1\n", argv[0], argv[i]); return 1; }
    }
    else if (!strcmp(a, "--tokens")) show_tokens = 1;
    else if (!strcmp(a, "--prompt-logits")) prompt_logits = 1;
    else if (!strcmp(a, "--chat")) chat = 1;
    else if ((!strcmp(a, "--perplexity") || !strcmp(a, "--perplexity-ids")) && more) return smelt_llm_perplexity(argv[0], d, argv[i + 1], a[12] == '-');
    else if (ad && !strcmp(a, "--adapter") && more) adapter = argv[++i];
    else if (ad && !strcmp(a, "--adapter-scale") && more) adapter_scale = (float)atof(argv[++i]);
    else { fprintf(stderr, "%s: unknown or incomplete option %s (try --help)\n", argv[0], a); return 1; }
  }
  if (!prompt && !prompt_ids) prompt = "";
  if (n_new < 0) n_new = 0;
  void *ctx = calloc(1, d->ctx_bytes), *arena = calloc(1, d->arena_bytes);
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)d->ctx);
  float *lbuf = NULL;
  char *text = NULL;
  if (!ctx || !arena || !ids) { fprintf(stderr, "%s: out of memory\n", argv[0]); goto done; }
  int err = d->init(ctx, arena, d->arena_bytes);
  if (err) { fprintf(stderr, "%s: %s\n", argv[0], d->strerror(err)); rc = 2; goto done; }
  if (adapter && smelt_adapter_select(ad, ctx, adapter, adapter_scale)) {
    fprintf(stderr, "%s: --adapter %s: no such adapter (", argv[0], adapter);
    for (int k = 0; k < ad->n; k++) fprintf(stderr, "%s%s", k ? ", " : "", ad->names[k]);
    fprintf(stderr, ", or none)\n");
    goto done;
  }
  /* the prompt as ids */
  int n = 0;
  if (prompt_ids) {
    for (const char *p = prompt_ids; *p;) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p) { if (*p == ' ' || *p == ',') { p++; continue; } fprintf(stderr, "%s: bad --prompt-ids\n", argv[0]); goto done; }
      if (n == d->ctx) { fprintf(stderr, "%s: the prompt is longer than the context (%d)\n", argv[0], d->ctx); rc = 2; goto done; }
      if (v < 0 || v >= d->vocab) { fprintf(stderr, "%s: token id %ld out of range [0, %d)\n", argv[0], v, d->vocab); goto done; }
      ids[n++] = (int32_t)v;
      p = e;
    }
  } else {
    if (!d->has_tokenizer) { fprintf(stderr, "%s: this model was built without a tokenizer: use --prompt-ids\n", argv[0]); goto done; }
    const char *src = prompt;
    if (chat) {
      if (d->chat_kind < 0) { fprintf(stderr, "%s: the model's chat template is not one smelt knows; --chat is unavailable\n", argv[0]); goto done; }
      size_t cap = strlen(prompt) * 2 + 4096;
      text = malloc(cap);
      if (!text || d->chat(prompt, text, (int)cap) < 0) { fprintf(stderr, "%s: cannot format the chat prompt\n", argv[0]); goto done; }
      src = text;
    }
    n = d->tokenize(ctx, src, ids, d->ctx);
    if (n < 0) { fprintf(stderr, "%s: %s\n", argv[0], d->strerror(n)); rc = 2; goto done; }
  }
  if (logits_path) {
    int steps = prompt_logits ? n : n_new;
    lbuf = calloc((size_t)(steps > 0 ? steps : 1), sizeof(float) * (size_t)d->vocab);
    if (!lbuf) { fprintf(stderr, "%s: out of memory\n", argv[0]); goto done; }
  }
  double t0 = smelt_now(), t1, t2;
  if (prompt_logits) { /* position by position through decode */
    for (int i = 0; i < n; i++) {
      err = d->decode(ctx, ids[i], lbuf ? lbuf + (size_t)i * (size_t)d->vocab : NULL);
      if (err) { fprintf(stderr, "%s: %s\n", argv[0], d->strerror(err)); rc = 2; goto done; }
    }
  } else if (n > 0) {
    err = d->prefill(ctx, ids, n);
    if (err) { fprintf(stderr, "%s: %s\n", argv[0], d->strerror(err)); rc = 2; goto done; }
  }
  t1 = smelt_now();
  int gen = 0;
  if (!prompt_logits && n > 0) {
    char piece[256];
    for (; gen < n_new; gen++) {
      if (lbuf) memcpy(lbuf + (size_t)gen * (size_t)d->vocab, d->logits(ctx), sizeof(float) * (size_t)d->vocab);
      int32_t id = d->sample(ctx, &s);
      if (show_tokens) printf("%s%d", gen ? " " : "", id);
      else if (d->has_tokenizer) {
        int k = d->piece(ctx, id, piece, (int)sizeof piece);
        if (k > 0) fwrite(piece, 1, (size_t)k, stdout);
      }
      fflush(stdout);
      if (d->is_eos(id)) { gen++; break; }
      if (gen + 1 < n_new) {
        err = d->decode(ctx, id, NULL);
        if (err == SMELT_E_CTX) { fprintf(stderr, "\n%s: the context (%d tokens) is full\n", argv[0], d->ctx); gen++; break; }
        if (err) { fprintf(stderr, "%s: %s\n", argv[0], d->strerror(err)); rc = 2; goto done; }
      }
    }
    printf("\n");
  }
  t2 = smelt_now();
  fprintf(stderr, "%s: prefill %d tokens in %.2f ms (%.1f tok/s); decode %d tokens in %.2f ms (%.1f tok/s)\n", d->name, n,
          1e3 * (t1 - t0), n && t1 > t0 ? n / (t1 - t0) : 0.0, gen, 1e3 * (t2 - t1), gen && t2 > t1 ? gen / (t2 - t1) : 0.0);
  if (logits_path) {
    int64_t dims[2] = {prompt_logits ? n : gen, d->vocab};
    if (smelt_npy_write(logits_path, "<f4", 2, dims, lbuf, sizeof(float) * (size_t)dims[0] * (size_t)d->vocab)) {
      fprintf(stderr, "%s: cannot write %s\n", argv[0], logits_path);
      goto done;
    }
  }
  rc = 0;
done:
  free(ctx); free(arena); free(ids); free(lbuf); free(text);
  return rc;
}

static inline int smelt_llm_main(int argc, char **argv, const struct smelt_llm_desc *d) { return smelt_llm_main_adapters(argc, argv, d, NULL); }

#endif
