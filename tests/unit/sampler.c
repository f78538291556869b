/* tests/unit/sampler.c — the LLM sampler of runtime/smelt_llm.h: greedy picks the
 * largest logit (lowest id on ties); top-k, top-p and min-p restrict the draws to the
 * expected candidates; the repetition penalty demotes recent tokens; the same seed
 * gives the same tokens; and the empirical frequencies of many draws follow the
 * softmax at the given temperature (within 4 standard errors). */
#include "../testutil.h"
#include "runtime/smelt_llm.h"

#include <math.h>

#define N 64

int main(void) {
  float logits[N], vals[N];
  int32_t ids[N];
  for (int i = 0; i < N; i++) logits[i] = (float)sin(i * 1.7) * 3;
  int best = 0;
  for (int i = 1; i < N; i++)
    if (logits[i] > logits[best]) best = i;
  uint64_t rng = 1;
  /* greedy, with and without a settings struct, and ties */
  CHECK(smelt_sample(logits, N, NULL, &rng, NULL, 0, vals, ids) == best, "greedy (NULL settings)");
  struct smelt_sampling s = {0};
  CHECK(smelt_sample(logits, N, &s, &rng, NULL, 0, vals, ids) == best, "greedy (temperature 0)");
  float tie[4] = {1, 5, 5, 2};
  CHECK(smelt_sample(tie, 4, &s, &rng, NULL, 0, vals, ids) == 1, "greedy tie goes to the lower id");
  /* long rows (the 16-lane maximum, then the first index holding it): ties in other
   * lanes and blocks, a maximum in the tail, NaNs never chosen */
  {
    static float row[1000];
    for (int n = 1; n <= 1000; n += 37) {
      for (int i = 0; i < n; i++) row[i] = (float)((i * 7919) % 23);
      int want = 0;
      for (int i = 1; i < n; i++)
        if (row[i] > row[want]) want = i;
      CHECK(smelt_sample(row, n, &s, &rng, NULL, 0, vals, ids) == want, "greedy over %d logits: the first largest", n);
      row[n - 1] = 99;
      CHECK(smelt_sample(row, n, &s, &rng, NULL, 0, vals, ids) == n - 1, "greedy over %d logits: the largest last", n);
      if (n > 2) {
        row[1] = NAN;
        CHECK(smelt_sample(row, n, &s, &rng, NULL, 0, vals, ids) == n - 1, "greedy over %d logits: a NaN is not chosen", n);
      }
    }
  }
  /* repetition penalty: the best token, once recent, loses to the runner-up */
  float two[3] = {4.0f, 3.9f, -1};
  int32_t recent[2] = {0, 0};
  s.repeat_penalty = 1.3f;
  CHECK(smelt_sample(two, 3, &s, &rng, recent, 2, vals, ids) == 1, "penalised token still chosen");
  float neg[3] = {-1.0f, -1.2f, -5};
  CHECK(smelt_sample(neg, 3, &s, &rng, recent, 1, vals, ids) == 1, "negative logits are multiplied by the penalty");
  s.repeat_penalty = 0;
  /* top-k: only the k largest are ever drawn */
  s.temperature = 1.5f;
  s.top_k = 5;
  int order[N];
  for (int i = 0; i < N; i++) order[i] = i;
  for (int i = 0; i < N; i++) /* indices by logit, descending */
    for (int j = i + 1; j < N; j++)
      if (logits[order[j]] > logits[order[i]]) { int t = order[i]; order[i] = order[j]; order[j] = t; }
  int ok = 1;
  for (int r = 0; r < 2000; r++) {
    int32_t t = smelt_sample(logits, N, &s, &rng, NULL, 0, vals, ids), in = 0;
    for (int k = 0; k < 5; k++) in |= order[k] == t;
    ok &= in;
  }
  CHECK(ok, "top-k drew outside the 5 largest");
  /* top-p: the smallest prefix of the sorted softmax whose mass reaches p */
  s.top_k = 0;
  s.top_p = 0.5f;
  double p[N], z = 0, mx = logits[order[0]];
  for (int i = 0; i < N; i++) z += (p[i] = exp((logits[i] - mx) / 1.5));
  int kp = 0;
  for (double c = 0; kp < N && c < 0.5; kp++) c += p[order[kp]] / z;
  ok = 1;
  int seen[N] = {0};
  for (int r = 0; r < 4000; r++) {
    int32_t t = smelt_sample(logits, N, &s, &rng, NULL, 0, vals, ids), in = 0;
    for (int k = 0; k < kp; k++) in |= order[k] == t;
    ok &= in;
    seen[t] = 1;
  }
  CHECK(ok, "top-p drew outside the %d most likely", kp);
  int nseen = 0;
  for (int i = 0; i < N; i++) nseen += seen[i];
  CHECK(nseen == kp, "top-p drew %d distinct tokens, expected all %d of its set", nseen, kp);
  /* min-p: candidates below min_p times the most likely are never drawn */
  s.top_p = 0;
  s.min_p = 0.3f;
  ok = 1;
  for (int r = 0; r < 2000; r++) {
    int32_t t = smelt_sample(logits, N, &s, &rng, NULL, 0, vals, ids);
    ok &= p[t] >= 0.3 * p[order[0]] * (1 - 1e-6);
  }
  CHECK(ok, "min-p drew a token below the threshold");
  s.min_p = 0;
  /* the seed decides the draws */
  uint64_t r1 = 7, r2 = 7, r3 = 8;
  int same = 1, diff = 0;
  for (int r = 0; r < 200; r++) {
    int32_t a = smelt_sample(logits, N, &s, &r1, NULL, 0, vals, ids), b = smelt_sample(logits, N, &s, &r2, NULL, 0, vals, ids);
    int32_t c = smelt_sample(logits, N, &s, &r3, NULL, 0, vals, ids);
    same &= a == b;
    diff |= a != c;
  }
  CHECK(same, "same seed, different tokens");
  CHECK(diff, "different seeds gave identical sequences");
  /* frequencies follow the softmax */
  int cnt[N] = {0}, R = 200000;
  for (int r = 0; r < R; r++) cnt[smelt_sample(logits, N, &s, &rng, NULL, 0, vals, ids)]++;
  double worst = 0;
  for (int i = 0; i < N; i++) {
    double q = p[i] / z, se = sqrt(q * (1 - q) / R) + 1e-12, dev = fabs(cnt[i] / (double)R - q) / se;
    if (dev > worst) worst = dev;
  }
  CHECK(worst < 4.5, "draw frequencies deviate from the softmax by %.1f standard errors", worst);
  return t_done("unit_sampler");
}
