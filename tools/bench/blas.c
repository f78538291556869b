/* tools/bench/blas.c — the OpenBLAS side of `make bench`'s GEMM/GEMV rows: times
 * cblas_sgemm for C[M,N] = A[M,K]·B[K,N] (row-major, f32, B constant like a weight)
 * and prints the median of R runs in milliseconds.  Run with OPENBLAS_NUM_THREADS=1
 * (the bench does) to compare one thread against one thread; M = 1 is the GEMV shape
 * (OpenBLAS dispatches it to its own GEMV kernel).
 *
 *   blas M N K [R]   prints "median_ms MS" */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: blas M N K [RUNS]\n"); return 2; }
  int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), R = argc > 4 ? atoi(argv[4]) : 5;
  if (M < 1 || N < 1 || K < 1 || R < 1 || R > 100000) { fprintf(stderr, "blas: bad arguments\n"); return 2; }
  float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)K * N), *c = malloc(sizeof(float) * (size_t)M * N);
  double *t = malloc(sizeof(double) * (size_t)R);
  if (!a || !b || !c || !t) { fprintf(stderr, "blas: out of memory\n"); return 1; }
  srand(1);
  for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
  for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int r = 0; r < R; r++) {
    double t0 = now();
    if (M == 1) cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, b, N, a, 1, 0.0f, c, 1);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    t[r] = now() - t0;
  }
  qsort(t, (size_t)R, sizeof *t, cmp);
  printf("median_ms %.6f\n", 1e3 * t[R / 2]);
  free(a); free(b); free(c); free(t);
  return 0;
}
