/* tests/e2e/lora/lora_cmp.c — compares logits / outputs (.npy, f32) with a reference:
 * same shape, and max |got - want| <= REL * max |want| (the relative error the LoRA tests
 * state).  Prints the error; exit 0 when within REL, 1 otherwise.
 *
 *   lora_cmp GOT.npy WANT.npy REL */
#include "runtime/smelt_npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: lora_cmp GOT.npy WANT.npy REL\n"); return 2; }
  struct smelt_npy a, b;
  const char *e;
  if ((e = smelt_npy_read(argv[1], &a))) { fprintf(stderr, "lora_cmp: %s: %s\n", argv[1], e); return 1; }
  if ((e = smelt_npy_read(argv[2], &b))) { fprintf(stderr, "lora_cmp: %s: %s\n", argv[2], e); free(a.data); return 1; }
  int ok = !strcmp(a.descr, "<f4") && !strcmp(b.descr, "<f4") && a.rank == b.rank && a.elems == b.elems;
  for (int i = 0; ok && i < a.rank; i++) ok = a.dims[i] == b.dims[i];
  if (!ok) { fprintf(stderr, "lora_cmp: %s and %s differ in dtype or shape\n", argv[1], argv[2]); free(a.data); free(b.data); return 1; }
  const float *x = a.data, *y = b.data;
  double dmax = 0, wmax = 0;
  for (int64_t i = 0; i < a.elems; i++) {
    double d = fabs((double)x[i] - (double)y[i]);
    dmax = isnan(d) ? INFINITY : fmax(dmax, d);
    wmax = fmax(wmax, fabs((double)y[i]));
  }
  double rel = dmax / (wmax > 0 ? wmax : 1), lim = atof(argv[3]);
  printf("lora_cmp: %s vs %s: relative error %.3g (limit %g)\n", argv[1], argv[2], rel, lim);
  free(a.data);
  free(b.data);
  return rel <= lim ? 0 : 1;
}
