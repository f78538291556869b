/* samples/desktop-classifier/classify.c — classifies handwritten 8x8 digits with the
 * model smelt_add_model() compiled (digits.h, libdigits.a).
 *
 *     classify DIGITS.npy [LABELS.npy]
 *
 * DIGITS.npy: float32 [n, 64], pixels in [0, 1].  Prints "digit I: class C" for the
 * first 16 digits and, with LABELS.npy (int64 [n]), the accuracy over all of them.
 * Only the generated C API is used: a caller-owned context and arena, digits_init once,
 * digits_run per digit.  The .npy reader is smelt's runtime/smelt_npy.h, which smelt
 * writes next to every compiled model. */
#define _POSIX_C_SOURCE 200809L
#include "digits.h"
#include "smelt_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* digits_ARENA_BYTES of memory, 16-byte aligned (C99 has no alignas: align by hand) */
static unsigned char arena_storage[digits_ARENA_BYTES + 15];

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s DIGITS.npy [LABELS.npy]\n", argv[0]);
    return 1;
  }
  struct smelt_npy xs, ys = {0};
  const char *err = smelt_npy_read(argv[1], &xs);
  if (err) { fprintf(stderr, "%s: %s\n", argv[1], err); return 1; }
  if (strcmp(xs.descr, "<f4") || xs.rank != 2 || xs.dims[1] != digits_INPUT0_ELEMS) {
    fprintf(stderr, "%s: expected float32 [n, %d]\n", argv[1], digits_INPUT0_ELEMS);
    return 1;
  }
  if (argc == 3) {
    if ((err = smelt_npy_read(argv[2], &ys))) { fprintf(stderr, "%s: %s\n", argv[2], err); return 1; }
    if (strcmp(ys.descr, "<i8") || ys.rank != 1 || ys.dims[0] != xs.dims[0]) {
      fprintf(stderr, "%s: expected int64 [%lld]\n", argv[2], (long long)xs.dims[0]);
      return 1;
    }
  }
  digits_ctx ctx;
  void *arena = (void *)(((uintptr_t)arena_storage + 15) & ~(uintptr_t)15);
  int rc = digits_init(&ctx, arena, digits_ARENA_BYTES);
  if (rc) { fprintf(stderr, "digits_init: %s\n", digits_strerror(rc)); return 2; }

  int n = (int)xs.dims[0], correct = 0;
  const float *pixels = xs.data;
  const int64_t *labels = ys.data;
  for (int i = 0; i < n; i++) {
    float logits[digits_OUTPUT0_ELEMS];
    rc = digits_run(&ctx, pixels + (size_t)i * digits_INPUT0_ELEMS, logits);
    if (rc) { fprintf(stderr, "digits_run: %s\n", digits_strerror(rc)); return 2; }
    int best = 0;
    for (int k = 1; k < digits_OUTPUT0_ELEMS; k++)
      if (logits[k] > logits[best]) best = k;
    if (i < 16) printf("digit %d: class %d\n", i, best);
    if (labels && best == labels[i]) correct++;
  }
  if (labels) printf("accuracy: %.2f%% (%d/%d)\n", 100.0 * correct / n, correct, n);
  free(xs.data);
  free(ys.data);
  return 0;
}
