/* tests/e2e/npy_compare.c — compares two f32 .npy files: same shape, and every element
 * within rel * max(|b|, 1) of the other.  Exit 0 when they agree, 1 otherwise. */
#include "runtime/smelt_npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: npy_compare A.npy B.npy REL\n"); return 2; }
  struct smelt_npy a, b;
  const char *e;
  if ((e = smelt_npy_read(argv[1], &a)) || (e = smelt_npy_read(argv[2], &b))) { fprintf(stderr, "npy_compare: %s\n", e); return 1; }
  double rel = atof(argv[3]), worst = 0;
  if (strcmp(a.descr, "<f4") || strcmp(b.descr, "<f4") || a.rank != b.rank || a.elems != b.elems) { fprintf(stderr, "npy_compare: shapes or dtypes differ\n"); return 1; }
  for (int i = 0; i < a.rank; i++)
    if (a.dims[i] != b.dims[i]) { fprintf(stderr, "npy_compare: dim %d differs\n", i); return 1; }
  const float *x = a.data, *y = b.data;
  for (int64_t i = 0; i < a.elems; i++) {
    double d = fabs((double)x[i] - y[i]) / fmax(fabs((double)y[i]), 1.0);
    if (!(d <= worst)) worst = d;
  }
  printf("npy_compare: %lld elements, worst relative difference %.3g (limit %g)\n", (long long)a.elems, worst, rel);
  free(a.data);
  free(b.data);
  return worst <= rel ? 0 : 1;
}
