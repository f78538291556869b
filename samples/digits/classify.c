/* samples/digits/classify.c — the `make demo` program: classifies handwritten digits
 * with a model compiled by smelt into a static library.
 *
 *     smelt build digits.onnx --emit lib --name digits --dim N=1 -o OUT
 *     cc -std=c99 -I OUT -I RUNTIME classify.c -L OUT -ldigits -lm
 *     ./a.out test_digits.npy test_labels.npy [--all]
 *
 * It uses only the generated C API (digits.h): a caller-owned context and arena,
 * digits_init once, digits_run per digit.  The .npy files are read with smelt's
 * runtime/smelt_npy.h (RUNTIME above is smelt's runtime/ folder).  Prints the first
 * digits and every misclassified one as 8x8 text art with the prediction and the
 * true label (every digit with --all), then the accuracy over all of them. */
#define _POSIX_C_SOURCE 200809L
#include "digits.h"
#include "smelt_npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SHOW_FIRST 12 /* digits shown without --all (misclassified ones always are) */
#define PER_ROW 4     /* digits per row of text art */
#define CELL 20       /* columns per digit */

/* The memory the model works in: digits_ARENA_BYTES, 16-byte aligned, owned by the
 * caller (static here; the stack or a malloc'ed block work as well).  C99 has no
 * alignas, so the buffer has 15 spare bytes and we align its start ourselves. */
static unsigned char arena_storage[digits_ARENA_BYTES + 15];

struct shown { int index, pred, label; const float *pixels; };

/* Prints one line of text, without trailing blanks. */
static void put_line(char *line, int len) {
  while (len > 0 && line[len - 1] == ' ') len--;
  printf("%.*s\n", len, line);
}

/* Prints up to PER_ROW digits side by side: two caption lines, then 8 rows of 8
 * pixels, each pixel two characters wide so the digit keeps its aspect ratio. */
static void print_row(const struct shown *s, int n) {
  static const char shades[] = " .:-=+*#%@";
  const int nshades = (int)sizeof shades - 1;
  char line[PER_ROW * CELL + 1];
  for (int row = 0; row < 10; row++) {
    memset(line, ' ', sizeof line);
    for (int k = 0; k < n; k++) {
      char *cell = line + k * CELL, text[CELL + 1];
      int len;
      if (row == 0) len = snprintf(text, sizeof text, "#%d: pred %d", s[k].index, s[k].pred);
      else if (row == 1) len = snprintf(text, sizeof text, "     true %d%s", s[k].label, s[k].pred == s[k].label ? "" : "  WRONG");
      else {
        text[0] = '|';
        for (int x = 0; x < 8; x++) {
          int c = (int)(s[k].pixels[(row - 2) * 8 + x] * (float)(nshades - 1) + 0.5f);
          c = c < 0 ? 0 : c >= nshades ? nshades - 1 : c;
          text[1 + 2 * x] = text[2 + 2 * x] = shades[c];
        }
        text[17] = '|';
        len = 18;
      }
      memcpy(cell, text, (size_t)(len < CELL ? len : CELL - 1));
    }
    put_line(line, n * CELL);
  }
  printf("\n");
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const char *files[2] = {NULL, NULL};
  int nfiles = 0, all = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--all")) all = 1;
    else if (argv[i][0] != '-' && nfiles < 2) files[nfiles++] = argv[i];
    else { nfiles = -1; break; }
  }
  if (nfiles != 2) {
    fprintf(stderr, "usage: %s test_digits.npy test_labels.npy [--all]\n", argv[0]);
    return 1;
  }

  /* ---- the data: pixels f32 [n, 64] in [0, 1], labels i64 [n] ---- */
  struct smelt_npy xs, ys;
  const char *err = smelt_npy_read(files[0], &xs);
  if (err) { fprintf(stderr, "%s: %s\n", files[0], err); return 1; }
  if ((err = smelt_npy_read(files[1], &ys))) { fprintf(stderr, "%s: %s\n", files[1], err); return 1; }
  if (strcmp(xs.descr, "<f4") || xs.rank != 2 || xs.dims[1] != digits_INPUT0_ELEMS) {
    fprintf(stderr, "%s: expected float32 [n, %d]\n", files[0], digits_INPUT0_ELEMS);
    return 1;
  }
  if (strcmp(ys.descr, "<i8") || ys.rank != 1 || ys.dims[0] != xs.dims[0]) {
    fprintf(stderr, "%s: expected int64 [%lld]\n", files[1], (long long)xs.dims[0]);
    return 1;
  }
  int n = (int)xs.dims[0];
  const float *pixels = xs.data;
  const int64_t *labels = ys.data;

  /* ---- the model: one context, one arena, init once ---- */
  digits_ctx ctx;
  void *arena = (void *)(((uintptr_t)arena_storage + 15) & ~(uintptr_t)15);
  int rc = digits_init(&ctx, arena, digits_ARENA_BYTES);
  if (rc) { fprintf(stderr, "digits_init: %s\n", digits_strerror(rc)); return 2; }

  printf("smelt demo: %d held-out handwritten digits (8x8) through the compiled model\n", n);
  printf("(source %s, xxh3 %s; arena %d bytes)\n\n", "digits.onnx", digits_SOURCE_XXH3, digits_ARENA_BYTES);
  int *pred = malloc(sizeof(int) * (size_t)(n ? n : 1));
  if (!pred) { fprintf(stderr, "out of memory\n"); return 1; }
  int correct = 0, wrong = 0;
  double seconds = 0;
  for (int i = 0; i < n; i++) {
    float logits[digits_OUTPUT0_ELEMS];
    double t0 = now();
    rc = digits_run(&ctx, pixels + (size_t)i * digits_INPUT0_ELEMS, logits);
    seconds += now() - t0;
    if (rc) { fprintf(stderr, "digits_run: %s\n", digits_strerror(rc)); return 2; }
    pred[i] = 0;
    for (int k = 1; k < digits_OUTPUT0_ELEMS; k++)
      if (logits[k] > logits[pred[i]]) pred[i] = k;
    if (pred[i] == labels[i]) correct++;
    else if (i >= SHOW_FIRST) wrong++;
  }

  /* ---- the text art: the first digits (or all), then the misclassified ones ---- */
  struct shown row[PER_ROW];
  int nrow = 0;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1 && !all && n > SHOW_FIRST)
      printf(wrong ? "misclassified among the other %d digits:\n\n" : "no misclassified digit among the other %d.\n\n", n - SHOW_FIRST);
    for (int i = pass ? SHOW_FIRST : 0; i < (pass || all ? n : SHOW_FIRST) && i < n; i++) {
      if (pass && pred[i] == labels[i]) continue;
      row[nrow++] = (struct shown){i, pred[i], (int)labels[i], pixels + (size_t)i * digits_INPUT0_ELEMS};
      if (nrow == PER_ROW) { print_row(row, nrow); nrow = 0; }
    }
    if (nrow) { print_row(row, nrow); nrow = 0; }
    if (all) break;
  }
  printf("accuracy: %.2f%% (%d/%d correct)\n", 100.0 * correct / n, correct, n);
  printf("time: %.2f us per digit (digits_run, batch 1)\n", 1e6 * seconds / n);
  free(pred);
  free(xs.data);
  free(ys.data);
  return 0;
}
