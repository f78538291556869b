/* tests/e2e/lora/switch.c — run-time adapter switching in one process, compiled at test
 * time against a model built with `smelt build ... --name sw --emit lib --adapter ...`:
 *
 *   switch "PROMPT IDS" ADAPTER SCALE WANT.npy [ADAPTER SCALE WANT.npy ...]
 *
 * For each triple: sw_set_adapter(ADAPTER, SCALE) (-1: the base model), sw_reset, feed the
 * prompt one token at a time through sw_decode, and compare the logits of every position
 * with WANT.npy (max |got - want| <= 1e-5 * max |want|).  Then it measures a switch:
 * the median over 101 batches of 10000 sw_set_adapter calls, beside one decode step. */
#define _POSIX_C_SOURCE 200809L
#include "sw.h"
#include "smelt_rt.h"
#include "smelt_npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  if (argc < 5 || (argc - 2) % 3) { fprintf(stderr, "usage: switch \"IDS\" ADAPTER SCALE WANT.npy ...\n"); return 2; }
  int32_t ids[64];
  int n = 0;
  for (char *p = argv[1], *e; *p && n < 64; p = e) {
    long v = strtol(p, &e, 10);
    if (e == p) break;
    ids[n++] = (int32_t)v;
  }
  static sw_ctx ctx;
  void *arena = NULL;
  if (posix_memalign(&arena, 64, sw_ARENA_BYTES)) arena = NULL;
  float *got = malloc(sizeof(float) * (size_t)n * sw_VOCAB);
  if (!arena || !got || sw_init(&ctx, arena, sw_ARENA_BYTES)) { fprintf(stderr, "switch: init failed\n"); return 1; }
  int fails = 0;
  for (int t = 2; t + 2 < argc; t += 3) {
    int ad = atoi(argv[t]);
    float scale = (float)atof(argv[t + 1]);
    int rc = sw_set_adapter(&ctx, ad, scale);
    sw_reset(&ctx);
    for (int i = 0; !rc && i < n; i++) rc = sw_decode(&ctx, ids[i], got + (size_t)i * sw_VOCAB);
    if (rc) { printf("switch: adapter %d: %s\n", ad, sw_strerror(rc)); fails++; continue; }
    struct smelt_npy w;
    const char *e = smelt_npy_read(argv[t + 2], &w);
    if (e || w.elems != (int64_t)n * sw_VOCAB) { printf("switch: %s: %s\n", argv[t + 2], e ? e : "wrong size"); fails++; free(e ? NULL : w.data); continue; }
    double dmax = 0, wmax = 0;
    for (int64_t i = 0; i < w.elems; i++) {
      double d = fabs((double)got[i] - ((float *)w.data)[i]);
      dmax = isnan(d) ? INFINITY : fmax(dmax, d);
      wmax = fmax(wmax, fabs((double)((float *)w.data)[i]));
    }
    free(w.data);
    int ok = dmax <= 1e-5 * wmax;
    printf("switch: adapter %2d scale %.2f: relative error %.3g against %s%s\n", ad, scale, dmax / wmax, argv[t + 2], ok ? "" : " (FAIL, limit 1e-5)");
    fails += !ok;
  }
  /* what a switch costs */
  double b[101], dec[21];
  for (int k = 0; k < 101; k++) {
    double t0 = now();
    for (int i = 0; i < 10000; i++) sw_set_adapter(&ctx, i % 3 - 1, 1.0f);
    b[k] = (now() - t0) / 10000;
  }
  sw_set_adapter(&ctx, 0, 1.0f);
  for (int k = 0; k < 21; k++) {
    sw_reset(&ctx);
    double t0 = now();
    sw_decode(&ctx, ids[0], NULL);
    dec[k] = now() - t0;
  }
  qsort(b, 101, sizeof *b, cmp_d);
  qsort(dec, 21, sizeof *dec, cmp_d);
  printf("switch: sw_set_adapter takes %.1f ns (median of 101 x 10000 calls, %d adapters); one decode step %.1f us\n", 1e9 * b[50], sw_NUM_ADAPTERS,
         1e6 * dec[10]);
  free(arena);
  free(got);
  if (fails) printf("switch: %d check(s) failed\n", fails);
  return fails ? 1 : 0;
}
