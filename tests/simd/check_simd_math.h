/* tests/simd/check_simd_math.h — the vector math of runtime/smelt_simd_math.h, included
 * by check_simd.c (so it runs once per instruction set, as the matmul checks do).
 *
 * Functions: a sweep of each over dense grids and random bit patterns plus special values
 * (+-0, +-inf, NaN, the overflow and underflow edges, subnormal results) against double
 * libm rounded to f32.  Bounds (ulp = distance in representable floats): exp 2 ulp;
 * sigmoid, SiLU, tanh, erf 4 ulp; GELU and GeluTanh 4 ulp or 1e-6 |x| absolute (1 + erf
 * cancels for x << 0, in f32 as in any f32 formula).  Specials must match exactly (NaN
 * for NaN).  Row kernels: softmax / log-softmax, RMSNorm, LayerNorm and attention (causal,
 * windowed, soft-capped, grouped-query, f32 and f16 caches) and batched products (smm_bmm,
 * within 1e-6 of the sum of |terms|) against double references
 * within 1e-5 relative to the row's scale (attention: 2e-5 absolute, values in [-1, 1]), for lengths with vector tails.  The max ulp
 * seen per function (among results within the ulp bound) and the max |error| / max(1, |x|) are printed after the "ok" line. */
#include <float.h>

static int mfails;
static void mfail(const char *fmt, double a, double b, double c) {
  fails++;
  if (mfails++ < 10) {
    fprintf(stderr, "FAIL: ");
    fprintf(stderr, fmt, a, b, c);
    fprintf(stderr, "\n");
  }
}

static int64_t ulps(float a, float b) {
  if (a == b) return 0;
  if (a != a || b != b) return (a != a) == (b != b) ? 0 : INT64_MAX;
  uint32_t ua, ub;
  memcpy(&ua, &a, 4);
  memcpy(&ub, &b, 4);
  int64_t ia = ua & 0x80000000u ? -(int64_t)(ua & 0x7fffffffu) : (int64_t)ua;
  int64_t ib = ub & 0x80000000u ? -(int64_t)(ub & 0x7fffffffu) : (int64_t)ub;
  return ia > ib ? ia - ib : ib - ia;
}

enum { F_EXP, F_SIGMOID, F_SILU, F_TANH, F_ERF, F_GELU, F_GELU_TANH, F_N };
static const char *fname[F_N] = {"exp", "sigmoid", "silu", "tanh", "erf", "gelu", "gelu_tanh"};
static int64_t maxulp[F_N];
static double maxabs[F_N]; /* max |error| / max(1, |x|) over finite x */

static smm_v apply(int f, smm_v x) {
  switch (f) {
  case F_EXP: return smm_exp(x);
  case F_SIGMOID: return smm_sigmoid(x);
  case F_SILU: return smm_silu(x);
  case F_TANH: return smm_tanh(x);
  case F_ERF: return smm_erf(x);
  case F_GELU: return smm_gelu(x);
  default: return smm_gelu_tanh(x);
  }
}
static double want(int f, double x) {
  switch (f) {
  case F_EXP: return exp(x);
  /* exp(-x) through f32, as in ops.def's f32 formula: it overflows below x = -88.72,
   * where the f32 kernels (generic and vector) give 0 */
  case F_SIGMOID: return 1 / (1 + (double)(float)exp(-x));
  case F_SILU: return x / (1 + (double)(float)exp(-x));
  case F_TANH: return tanh(x);
  case F_ERF: return erf(x);
  case F_GELU: return 0.5 * x * (1 + erf(x * 0.70710678118654752));
  default: return 0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
  }
}

static void check_fn(int f, const float *x, int64_t n) {
  float y[SMM_W];
  for (int64_t i = 0; i < n; i += SMM_W) {
    int64_t m = n - i < SMM_W ? n - i : SMM_W;
    smm_stn(y, apply(f, smm_ldn(x + i, m, 0.0f)), m);
    for (int64_t l = 0; l < m; l++) {
      checks++;
      double wd = want(f, x[i + l]);
      float w = (float)wd;
      int64_t u = ulps(y[l], w);
      int bound = f == F_EXP ? 2 : 4;
      int ok = u <= bound;
      if (!ok && (f == F_GELU || f == F_GELU_TANH) && y[l] == y[l] && fabs((double)y[l] - wd) <= 1e-6 * fabs((double)x[i + l])) ok = 1;
      if (ok && u <= bound && u > maxulp[f] && isfinite(x[i + l])) maxulp[f] = u;
      if (ok && isfinite(x[i + l]) && isfinite(w)) {
        double e = fabs((double)y[l] - wd) / fmax(1.0, fabs((double)x[i + l]));
        if (e > maxabs[f]) maxabs[f] = e;
      }
      if (!ok) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s(%%.9g) = %%.9g, want %%.9g", fname[f]);
        mfail(msg, x[i + l], y[l], w);
      }
    }
  }
}

static void check_functions(void) {
  static float x[1 << 15];
  for (int f = 0; f < F_N; f++) {
    double lo = f == F_EXP ? -110 : -12, hi = f == F_EXP ? 95 : 12;
    for (int rep = 0; rep < 2; rep++) {
      int64_t n = 0;
      for (; n < (1 << 14); n++) x[n] = (float)(lo + (hi - lo) * (n + 0.5 * rep) / (1 << 14));
      for (; n < (1 << 15) - 64; n++) { /* random floats of every magnitude up to the range */
        uint32_t b = rnd();
        float v;
        memcpy(&v, &b, 4);
        x[n] = isfinite(v) && fabs(v) <= hi ? v : unif() * (float)hi;
      }
      static const float sp[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 88.72f, 88.7228f, 88.73f, 89.0f, -87.33f, -87.34f, -100.0f,
                                 -103.9f, -103.98f, -104.0f, -200.0f, 1e-30f, -1e-30f, 1e-7f, 0.625f, -0.625f, 0.921875f, 0.92f,
                                 3.99f, 4.0f, 4.01f, -4.0f, 9.0f, -9.0f, 20.0f, -20.0f, FLT_MIN, FLT_MAX, -FLT_MAX, 0.5f, -0.5f};
      for (unsigned k = 0; k < sizeof sp / sizeof *sp; k++) x[n++] = sp[k];
      check_fn(f, x, n);
    }
  }
}

/* ---- row kernels ---- */
static void check_rows(int kind, int64_t rows, int64_t D) {
  float *xv = malloc(sizeof(float) * (size_t)(rows * D)), *y = malloc(sizeof(float) * (size_t)(rows * D));
  float *w = malloc(sizeof(float) * (size_t)D), *b = malloc(sizeof(float) * (size_t)D);
  for (int64_t i = 0; i < rows * D; i++) xv[i] = unif() * 8 + (kind == SMM_LAYER_NORM ? 3 : 0);
  for (int64_t i = 0; i < D; i++) w[i] = unif(), b[i] = unif();
  for (int add_one = 0; add_one < 2; add_one++) {
    smm_rows_run(kind, xv, w, kind == SMM_LAYER_NORM && add_one ? b : NULL, y, rows, D, 1e-5f, kind == SMM_RMS_NORM && add_one);
    for (int64_t r = 0; r < rows; r++) {
      const float *x = xv + r * D;
      double m = -INFINITY, s = 0, mean = 0, var = 0;
      for (int64_t i = 0; i < D; i++) m = x[i] > m ? x[i] : m, mean += x[i];
      mean /= (double)D;
      for (int64_t i = 0; i < D; i++) s += exp(x[i] - m), var += kind == SMM_RMS_NORM ? (double)x[i] * x[i] : (x[i] - mean) * (x[i] - mean);
      double inv = 1 / sqrt(var / (double)D + 1e-5);
      for (int64_t i = 0; i < D; i++) {
        double ref, scale = 1;
        switch (kind) {
        case SMM_SOFTMAX: ref = exp(x[i] - m) / s; scale = fabs(ref); break;
        case SMM_LOG_SOFTMAX: ref = x[i] - m - log(s); scale = 8 + log((double)D); break;
        case SMM_RMS_NORM: ref = x[i] * inv * (add_one + (double)w[i]); scale = fabs(x[i] * inv) * (1 + fabs(w[i])); break;
        default: ref = (x[i] - mean) * inv * w[i] + (add_one ? b[i] : 0); scale = fabs((x[i] - mean) * inv * w[i]) + 1; break;
        }
        checks++;
        if (!(fabs(y[r * D + i] - ref) <= 1e-5 * scale + 1e-30)) {
          char msg[96];
          snprintf(msg, sizeof msg, "rows kind %d D=%lld: y = %%.9g, want %%.9g (x %%.9g)", kind, (long long)D);
          mfail(msg, y[r * D + i], ref, x[i]);
        }
      }
    }
  }
  free(xv), free(y), free(w), free(b);
}

static void check_attention(int64_t T, int64_t H, int64_t Hkv, int64_t D, int64_t C, int64_t p0, int64_t win, float cap, int kv16) {
  float *q = malloc(sizeof(float) * (size_t)(T * H * D)), *y = malloc(sizeof(float) * (size_t)(T * H * D));
  float *kf = malloc(sizeof(float) * (size_t)(C * Hkv * D)), *vf = malloc(sizeof(float) * (size_t)(C * Hkv * D));
  uint16_t *kh = malloc(2 * (size_t)(C * Hkv * D)), *vh = malloc(2 * (size_t)(C * Hkv * D));
  double *s = malloc(sizeof(double) * (size_t)C);
  for (int64_t i = 0; i < T * H * D; i++) q[i] = unif() * 2;
  for (int64_t i = 0; i < C * Hkv * D; i++) {
    kf[i] = unif() * 2, vf[i] = unif();
    kh[i] = sm_f32_to_f16(kf[i]), vh[i] = sm_f32_to_f16(vf[i]);
    if (kv16) kf[i] = sm_f16_to_f32(kh[i]), vf[i] = sm_f16_to_f32(vh[i]);
  }
  float scale = 1.0f / sqrtf((float)D);
  int rc = smm_attention(q, kv16 ? (const void *)kh : kf, kv16 ? (const void *)vh : vf, y, T, H, Hkv, D, C, p0, scale, cap, win, kv16);
  checks++;
  if (rc) mfail("attention returned %g (T %g, p0 %g)", rc, (double)T, (double)p0);
  for (int64_t t = 0; !rc && t < T; t++)
    for (int64_t h = 0; h < H; h++) {
      int64_t p = p0 + t, kh0 = h / (H / Hkv), lo = win > 0 && p - win + 1 > 0 ? p - win + 1 : 0;
      double m = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= p; j++) {
        double d = 0;
        for (int64_t i = 0; i < D; i++) d += (double)q[(t * H + h) * D + i] * kf[(j * Hkv + kh0) * D + i];
        d *= scale;
        if (cap > 0) d = cap * tanh(d / cap);
        s[j] = d, m = d > m ? d : m;
      }
      for (int64_t j = lo; j <= p; j++) s[j] = exp(s[j] - m), sum += s[j];
      for (int64_t i = 0; i < D; i++) {
        double ref = 0;
        for (int64_t j = lo; j <= p; j++) ref += s[j] * vf[(j * Hkv + kh0) * D + i];
        ref /= sum;
        checks++;
        if (!(fabs(y[(t * H + h) * D + i] - ref) <= 2e-5)) {
          char msg[128];
          snprintf(msg, sizeof msg, "attention T=%lld H=%lld/%lld D=%lld p0=%lld win=%lld cap=%g f16=%d: %%.9g, want %%.9g (t %%g)",
                   (long long)T, (long long)H, (long long)Hkv, (long long)D, (long long)p0, (long long)win, cap, kv16);
          mfail(msg, y[(t * H + h) * D + i], ref, (double)t);
        }
      }
    }
  /* past the cache: an error, nothing written */
  checks++;
  if (smm_attention(q, kf, vf, y, T, H, Hkv, D, C, C - T + 1, scale, cap, win, 0) != SMELT_E_ARG) mfail("attention past the cache: no error%g%g%g", 0, 0, 0);
  free(q), free(y), free(kf), free(vf), free(kh), free(vh), free(s);
}

static void check_bmm(int64_t nb, int64_t M, int64_t N, int64_t K) {
  float *a = malloc(sizeof(float) * (size_t)(nb * M * K)), *b = malloc(sizeof(float) * (size_t)(nb * K * N));
  float *y = malloc(sizeof(float) * (size_t)(nb * M * N));
  for (int64_t i = 0; i < nb * M * K; i++) a[i] = unif();
  for (int64_t i = 0; i < nb * K * N; i++) b[i] = unif();
  smm_bmm(a, b, y, nb, M, N, K);
  for (int64_t q = 0; q < nb; q++)
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        double ref = 0, mag = 0;
        for (int64_t k = 0; k < K; k++) {
          double t = (double)a[(q * M + m) * K + k] * b[(q * K + k) * N + n];
          ref += t, mag += fabs(t);
        }
        checks++;
        if (!(fabs(y[(q * M + m) * N + n] - ref) <= 1e-6 * mag + 1e-30)) {
          char msg[96];
          snprintf(msg, sizeof msg, "bmm %lldx%lldx%lldx%lld: %%.9g, want %%.9g (m %%g)", (long long)nb, (long long)M, (long long)N, (long long)K);
          mfail(msg, y[(q * M + m) * N + n], ref, (double)m);
        }
      }
  free(a), free(b), free(y);
}

static void check_math(void) {
  check_functions();
  static const int64_t Ds[] = {1, 3, 8, 16, 17, 33, 128, 1000};
  for (int kind = SMM_SOFTMAX; kind <= SMM_LAYER_NORM; kind++)
    for (unsigned d = 0; d < sizeof Ds / sizeof *Ds; d++) check_rows(kind, kind == SMM_SOFTMAX ? 70 : 5, Ds[d]);
  check_rows(SMM_SOFTMAX, 300, 129); /* split between threads */
  check_attention(1, 4, 4, 16, 32, 0, 0, 0, 0);     /* decode at position 0 */
  check_attention(1, 6, 2, 48, 64, 40, 0, 0, 0);    /* decode, grouped-query */
  check_attention(7, 4, 2, 20, 32, 3, 0, 0, 0);     /* prefill after 3 cached rows, D with a tail */
  check_attention(9, 2, 1, 64, 16, 0, 4, 0, 0);     /* sliding window */
  check_attention(5, 2, 2, 33, 16, 2, 0, 30.0f, 0); /* soft cap */
  check_attention(6, 4, 1, 24, 40, 10, 5, 0, 1);    /* f16 cache */
  check_attention(1, 2, 2, 5, 8, 7, 0, 0, 1);       /* f16, D < one vector, last row */
  check_attention(64, 6, 6, 48, 128, 0, 0, 0, 0);   /* prefill big enough for threads */
  check_attention(12, 8, 4, 8, 128, 0, 0, 0, 1);    /* stories260K with an f16 cache: D < one vector */
  check_attention(1, 8, 4, 8, 128, 11, 0, 0, 1);    /* and its decode */
  check_attention(1, 8, 4, 8, 160, 130, 0, 0, 0);   /* f32 decode, D = 8: blocks of 16 keys (AVX-512), 4 at a time, a tail */
  check_attention(1, 8, 4, 8, 160, 150, 0, 0, 1);   /* the same over an f16 cache */
  check_attention(1, 4, 2, 5, 96, 70, 0, 0, 0);     /* D = 5: masked loads within the 2-keys-per-vector path */
  check_attention(1, 4, 2, 5, 96, 60, 0, 0, 1);
  check_attention(1, 4, 4, 3, 64, 50, 33, 0, 0);    /* D = 3 under a sliding window (block starts past 0) */
  check_attention(1, 4, 2, 16, 64, 45, 0, 0, 0);    /* D of one AVX-512 vector */
  check_attention(1, 2, 2, 12, 64, 40, 0, 10.0f, 1); /* D between 8 and 16, soft cap */
  static const int64_t bm[][4] = {{1, 1, 8, 1}, {3, 5, 37, 9}, {2, 7, 16, 33}, {1, 4, 64, 5}, {2, 9, 100, 3}, {4, 128, 128, 64}, {2, 30, 70, 20}};
  for (unsigned i = 0; i < sizeof bm / sizeof *bm; i++) check_bmm(bm[i][0], bm[i][1], bm[i][2], bm[i][3]);
#if (SMS_VNNI && defined(__AVX512F__) && SMM_W != 16) || (SMS_AVX2 && !defined(__AVX512F__) && SMM_W != 8) || (SMS_NEON && SMM_W != 4)
  mfail("vector math width %g does not follow the target macros%g%g", SMM_W, 0, 0);
#endif
}

static void print_math(void) {
  printf("  vector math %s (%d lanes), max ulp:", SMM_ISA, SMM_W);
  for (int f = 0; f < F_N; f++) {
    printf(" %s %lld", fname[f], (long long)maxulp[f]);
    if (f != F_EXP) printf(" (abs %.2g)", maxabs[f]);
  }
  printf("\n");
}
