/* runtime/smelt_llm.h — the part of the runtime compiled into every generated LLM:
 * sampling settings, a seeded random generator and the sampler.
 *
 * Header-only, static, C99, no allocation: the sampler works in scratch memory the
 * model's arena provides.  Sampling order (as llama.cpp's common chain): repetition
 * penalty over the recent tokens, then greedy when temperature <= 0, else top-k,
 * temperature, min-p, top-p, and a draw from what is left.  Same seed, same tokens.
 * Only top-p orders candidates, and only as far as its mass reaches. */
#ifndef SMELT_LLM_H
#define SMELT_LLM_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#ifndef SMELT_SAMPLING_DEFINED
#define SMELT_SAMPLING_DEFINED
/* Sampling settings; zero-initialized means greedy. */
struct smelt_sampling {
  float temperature;    /* <= 0: greedy */
  int top_k;            /* 0: all */
  float top_p;          /* 0 or >= 1: off */
  float min_p;          /* 0: off */
  float repeat_penalty; /* 0 or 1: off */
  int repeat_last_n;    /* window for the penalty (default 64 when 0) */
  uint64_t seed;
};
#endif

/* splitmix64 */
static inline uint64_t smelt_rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline double smelt_rng_uniform(uint64_t *s) { return (double)(smelt_rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* candidates ordered by value, larger first, ties by lower id */
static inline int smelt_cand_before(float va, int32_t ia, float vb, int32_t ib) { return va > vb || (va == vb && ia < ib); }

/* sift-down in a heap whose top is the most preferred candidate */
static void smelt_sift(float *v, int32_t *id, int i, int n) {
  for (;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && smelt_cand_before(v[l], id[l], v[m], id[m])) m = l;
    if (r < n && smelt_cand_before(v[r], id[r], v[m], id[m])) m = r;
    if (m == i) return;
    float tv = v[i]; v[i] = v[m]; v[m] = tv;
    int32_t ti = id[i]; id[i] = id[m]; id[m] = ti;
    i = m;
  }
}

/* Keeps the k most preferred of n candidates in v/id[0..k) (order unspecified). */
static void smelt_top_k_select(float *v, int32_t *id, int n, int k) {
  /* a min-heap (least preferred on top) of the best k seen so far */
  for (int i = 0; i < n; i++) {
    float x = v[i];
    int32_t xi = id[i];
    int pos;
    if (i < k) pos = i;
    else if (smelt_cand_before(x, xi, v[0], id[0])) pos = 0;
    else continue;
    if (i < k) { /* sift up */
      while (pos > 0) {
        int par = (pos - 1) / 2;
        if (!smelt_cand_before(v[par], id[par], x, xi)) break;
        v[pos] = v[par]; id[pos] = id[par];
        pos = par;
      }
      v[pos] = x; id[pos] = xi;
    } else { /* replace the top, sift down */
      int m = 0;
      for (;;) {
        int l = 2 * m + 1, r = l + 1, c = m;
        float cv = x; int32_t ci = xi;
        if (l < k && smelt_cand_before(cv, ci, v[l], id[l])) { c = l; cv = v[l]; ci = id[l]; }
        if (r < k && smelt_cand_before(cv, ci, v[r], id[r])) { c = r; }
        if (c == m) break;
        v[m] = v[c]; id[m] = id[c];
        m = c;
      }
      v[m] = x; id[m] = xi;
    }
  }
}

/* The first index of the largest of x[0..n): the maximum over 16 independent lanes (a
 * loop compilers vectorize; one compare-and-reload chain through the best index cost
 * ~7 ns per logit, a quarter of a 15M model's decode), then the first index holding it.
 * NaNs are never the largest; all NaN gives 0. */
static int32_t smelt_argmax(const float *x, int n) {
  float m[16], mx;
  int i = 0;
  if (n < 1) return 0;
  for (int j = 0; j < 16; j++) m[j] = x[0];
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  mx = m[0];
  for (int j = 1; j < 16; j++) mx = m[j] > mx ? m[j] : mx;
  for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  for (i = 0; i < n; i++)
    if (x[i] == mx) return i;
  return 0;
}

/* The next token from logits[n].  recent: the last tokens (for the penalty).  Scratch:
 * vals[n] floats and ids[n] int32s. */
static int32_t smelt_sample(const float *logits, int n, const struct smelt_sampling *p, uint64_t *rng,
                            const int32_t *recent, int nrecent, float *vals, int32_t *ids) {
  int penalty = p && p->repeat_penalty > 0 && p->repeat_penalty != 1;
  if ((!p || p->temperature <= 0) && !penalty) return smelt_argmax(logits, n); /* plain greedy: no copy of the vocabulary */
  for (int i = 0; i < n; i++) { vals[i] = logits[i]; ids[i] = i; }
  if (penalty) {
    for (int r = 0; r < nrecent; r++) {
      int32_t t = recent[r];
      if (t < 0 || t >= n) continue;
      int seen = 0;
      for (int q = 0; q < r && !seen; q++) seen = recent[q] == t;
      if (seen) continue;
      vals[t] = vals[t] > 0 ? vals[t] / p->repeat_penalty : vals[t] * p->repeat_penalty;
    }
  }
  if (!p || p->temperature <= 0) return smelt_argmax(vals, n); /* greedy: the largest, lowest id on ties */
  int m = n;
  if (p->top_k > 0 && p->top_k < n) { smelt_top_k_select(vals, ids, n, p->top_k); m = p->top_k; }
  int nucleus = p->top_p > 0 && p->top_p < 1;
  double mx = vals[0], sum = 0;
  for (int i = 1; i < m; i++)
    if (vals[i] > mx) mx = vals[i];
  for (int i = 0; i < m; i++) { double e = exp(((double)vals[i] - mx) / p->temperature); vals[i] = (float)e; sum += e; }
  double pmax = 0;
  for (int i = 0; i < m; i++) { vals[i] = (float)(vals[i] / sum); if (vals[i] > pmax) pmax = vals[i]; }
  if (p->min_p > 0) { /* drop candidates below min_p times the most likely (order kept) */
    int k = 0;
    for (int i = 0; i < m; i++)
      if (vals[i] >= p->min_p * pmax) { vals[k] = vals[i]; ids[k] = ids[i]; k++; }
    m = k;
  }
  if (nucleus) { /* the most likely candidates until their mass reaches top_p: a heap
                  * popped only that far, the popped ones gathered at the end */
    for (int i = m / 2 - 1; i >= 0; i--) smelt_sift(vals, ids, i, m);
    double c = 0;
    int k = 0;
    while (k < m && c < p->top_p) {
      int end = m - 1 - k;
      float tv = vals[0]; vals[0] = vals[end]; vals[end] = tv;
      int32_t ti = ids[0]; ids[0] = ids[end]; ids[end] = ti;
      smelt_sift(vals, ids, 0, end);
      c += vals[end];
      k++;
    }
    vals += m - k;
    ids += m - k;
    m = k;
  }
  double total = 0;
  for (int i = 0; i < m; i++) total += vals[i];
  double u = smelt_rng_uniform(rng) * total, acc = 0;
  for (int i = 0; i < m; i++) {
    acc += vals[i];
    if (u < acc) return ids[i];
  }
  return ids[m - 1];
}

/* What a generated LLM exposes to generic drivers (the executables' main). */
struct smelt_llm_desc {
  const char *name, *arch;
  int vocab, ctx, has_tokenizer, chat_kind; /* chat_kind < 0: no known template */
  size_t arena_bytes, ctx_bytes;
  int (*init)(void *ctx, void *arena, size_t arena_bytes);
  void (*reset)(void *ctx);
  int (*tokenize)(void *ctx, const char *text, int32_t *ids, int max_ids);
  int (*prefill)(void *ctx, const int32_t *ids, int n);
  int (*decode)(void *ctx, int32_t id, float *logits);
  const float *(*logits)(const void *ctx);
  int32_t (*sample)(void *ctx, const struct smelt_sampling *s);
  int (*piece)(void *ctx, int32_t id, char *out, int max);
  int (*is_eos)(int32_t id);
  int (*chat)(const char *user, char *out, int max);
  const char *(*strerror)(int err);
  int (*set_threads)(int n); /* the kernels' threads, 1 .. --threads of the build */
};

#endif
