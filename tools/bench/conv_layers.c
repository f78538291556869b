/* tools/bench/conv_layers.c — the bench CNN's 3x3 stride-1 layers through the direct
 * kernel (smc_conv_epi) and Winograd F(2x2) / F(4x4) (smc_wino_epi), one thread, process
 * CPU time, the best of 30 calls (NOTES "Winograd convolution (h-wino)").  Random data:
 * speed only (unit_simd checks the results).
 *
 *   cc -std=c11 -O2 -march=native -I. tools/bench/conv_layers.c -o conv_layers -lm && ./conv_layers */
#define _POSIX_C_SOURCE 200809L
#include "runtime/smelt_simd.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
  int64_t sh[][3] = {{32, 64, 32}, {64, 32, 64}, {128, 16, 128}, {256, 8, 256}, {3, 64, 32}};
  for (int s = 0; s < 5; s++) {
    int64_t C = sh[s][0], H = sh[s][1], M = sh[s][2];
    struct smc_op o = {SMC_CONV, C, H, H, M, H, H, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float *x = malloc(4 * C * H * H), *w = malloc(4 * M * C * 9), *u = malloc(4 * 36 * C * M), *y = malloc(4 * M * H * H), *b = malloc(4 * M);
    for (int64_t i = 0; i < C * H * H; i++) x[i] = (float)rand() / RAND_MAX;
    for (int64_t i = 0; i < M * C * 9; i++) w[i] = (float)rand() / RAND_MAX;
    for (int64_t i = 0; i < 36 * C * M; i++) u[i] = (float)rand() / RAND_MAX;
    for (int64_t i = 0; i < M; i++) b[i] = 0;
    double flops = 2.0 * C * M * 9 * H * H, best[3] = {1e9, 1e9, 1e9};
    for (int rep = 0; rep < 30; rep++) {
      double t = now(); smc_conv_epi(&o, x, w, b, NULL, 1, y, 1); t = now() - t; if (t < best[0]) best[0] = t;
      if (smc_wino_fits(&o, 2)) { t = now(); smc_wino_epi(&o, 2, x, u, b, NULL, 1, y, 1); t = now() - t; if (t < best[1]) best[1] = t; }
      if (smc_wino_fits(&o, 4)) { t = now(); smc_wino_epi(&o, 4, x, u, b, NULL, 1, y, 1); t = now() - t; if (t < best[2]) best[2] = t; }
    }
    printf("C %4lld HxW %3lld M %4lld: direct %.1f us (%.0f GFLOP/s)  F2 %.1f us (%.0f eff)  F4 %.1f us (%.0f eff)\n", (long long)C, (long long)H, (long long)M,
           best[0] * 1e6, flops / best[0] * 1e-9, best[1] * 1e6, flops / best[1] * 1e-9, best[2] * 1e6, flops / best[2] * 1e-9);
  }
}
