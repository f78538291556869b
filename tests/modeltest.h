/* tests/modeltest.h — what the tests that build or read graphs, run the compiled
 * executable and compare it with the interpreter share (tests/unit/qmatmul.c,
 * quant_ops.c, simd_ops.c, fuse_exec.c; tests/ir/passes.c, quantize.c, roundtrip.c): a
 * seeded random source, random tensors and weight rows, a graph's text, and running an
 * executable on .npy inputs.  Include after testutil.h. */
#ifndef SMELT_MODELTEST_H
#define SMELT_MODELTEST_H

#include "ir/ir.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

/* xorshift64*; a test sets t_rs to its own seed before drawing, if it wants one */
static uint64_t t_rs = 0x6A09E667F3BCC909ull;
static inline uint32_t t_rnd(void) {
  t_rs ^= t_rs >> 12; t_rs ^= t_rs << 25; t_rs ^= t_rs >> 27;
  return (uint32_t)((t_rs * 0x2545F4914F6CDD1Dull) >> 32);
}
/* uniform in (-1, 1) */
static inline float t_unif(void) { return (float)((t_rnd() + 0.5) / 4294967296.0 * 2 - 1); }

/* g as text (smelt_print with flags), malloc'ed; NULL on failure. */
static inline char *t_print_graph(const smelt_graph *g, int flags, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  if (!f) return NULL;
  int rc = smelt_print(g, f, flags);
  fclose(f);
  if (rc) { free(buf); return NULL; }
  return buf;
}

/* A malloc'ed tensor: f32 elements uniform in (-1, 1), other dtypes zero. */
static inline void t_rand_tensor(smelt_tensor *t, smelt_dtype dt, int rank, const int64_t *dims) {
  t->dt = dt;
  t->rank = rank;
  memcpy(t->dims, dims, sizeof(int64_t) * rank);
  int64_t n = smelt_tensor_elems(t);
  t->data = malloc((size_t)(n ? n : 1) * smelt_dtype_bytes(dt));
  for (int64_t i = 0; i < n; i++) {
    if (dt == SMELT_DT_F32) ((float *)t->data)[i] = t_unif();
    else ((int32_t *)t->data)[i] = 0;
  }
}

/* N random rows of K weights of dt (malloc'ed): f32 / f16 / bf16 uniform in (-1, 1);
 * block types random quants with f16 scales of moderate size. */
static inline unsigned char *t_make_weights(smelt_dtype dt, int64_t N, int64_t K, size_t *nbytes) {
  if (dt == SMELT_DT_F32) {
    float *f = malloc(sizeof(float) * (size_t)(N * K));
    for (int64_t i = 0; i < N * K; i++) f[i] = t_unif();
    *nbytes = sizeof(float) * (size_t)(N * K);
    return (unsigned char *)f;
  }
  size_t n = (size_t)smelt_dtype_nbytes(dt, N * K);
  unsigned char *w = malloc(n);
  *nbytes = n;
  if (dt == SMELT_DT_F16 || dt == SMELT_DT_BF16) {
    for (size_t i = 0; i < n / 2; i++) {
      uint16_t h = dt == SMELT_DT_F16 ? sm_f32_to_f16(t_unif()) : sm_f32_to_bf16(t_unif());
      memcpy(w + 2 * i, &h, 2);
    }
    return w;
  }
  for (size_t i = 0; i < n; i++) w[i] = (unsigned char)t_rnd();
  int bytes = smelt_dtype_bytes(dt), off[2] = {0, -1};
  if (dt == SMELT_DT_Q6_K) off[0] = 208;
  if (dt == SMELT_DT_Q4_1 || dt == SMELT_DT_Q5_1 || dt == SMELT_DT_Q4_K || dt == SMELT_DT_Q5_K) off[1] = 2;
  for (size_t b = 0; b < n / (size_t)bytes; b++)
    for (int o = 0; o < 2; o++)
      if (off[o] >= 0) {
        uint16_t h = (uint16_t)((t_rnd() & 0x83ff) | (7 + t_rnd() % 7) << 10); /* |d| in [2^-8, 2^-1) */
        memcpy(w + b * bytes + off[o], &h, 2);
      }
  return w;
}

/* Runs the executable exe on in[0..nin) (written to WORK/TAG_inI.npy) with -o
 * WORK/TAG_out, and reads the outputs onames[0..nout) back into out[] (f32,
 * malloc'ed).  Returns 0, or -1 after printing why. */
static inline int t_run_exe(const char *work, const char *exe, const char *tag, const smelt_tensor *in, int nin, smelt_tensor *out,
                            const char *const *onames, int nout) {
  char paths[8][4096], odir[4096];
  const char *argv[16];
  int n = 0;
  if (nin > 8) return -1;
  argv[n++] = exe;
  for (int i = 0; i < nin; i++) {
    snprintf(paths[i], sizeof paths[i], "%s/%s_in%d.npy", work, tag, i);
    if (smelt_npy_write(paths[i], smelt_dtype_npy(in[i].dt), in[i].rank, in[i].dims, in[i].data,
                        (size_t)smelt_tensor_elems(&in[i]) * smelt_dtype_bytes(in[i].dt)))
      return -1;
    argv[n++] = paths[i];
  }
  snprintf(odir, sizeof odir, "%s/%s_out", work, tag);
  t_mkdirs(odir);
  argv[n++] = "-o";
  argv[n++] = odir;
  argv[n] = NULL;
  struct t_run r;
  if (t_run(argv, work, 120, &r)) return -1;
  char st[64];
  int ok = r.exited && r.code == 0;
  if (!ok) printf("  %s: %s\n%s%s", exe, t_status(&r, st, sizeof st), r.out, r.err);
  t_run_free(&r);
  if (!ok) return -1;
  for (int o = 0; o < nout; o++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s.npy", odir, onames[o]);
    struct smelt_npy a;
    const char *e = smelt_npy_read(p, &a);
    if (e) { printf("  %s: %s\n", p, e); return -1; }
    out[o].dt = SMELT_DT_F32;
    out[o].rank = a.rank;
    memcpy(out[o].dims, a.dims, sizeof(int64_t) * a.rank);
    out[o].data = a.data;
  }
  return 0;
}

#endif
