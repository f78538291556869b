/* tests/modeltest.h — what the tests that build or read graphs, run the compiled
 * executable and compare it with the interpreter share (tests/unit/qmatmul.c,
 * quant_ops.c, simd_ops.c, simd_conv.c, simd_math_ops.c, fuse_exec.c; tests/ir/passes.c,
 * quantize.c, roundtrip.c): a seeded random source, random tensors and weight rows, a
 * graph's text, building a graph as an executable, running it on .npy inputs and
 * comparing its outputs with the interpreter's.  Include after testutil.h. */
#ifndef SMELT_MODELTEST_H
#define SMELT_MODELTEST_H

#include "compiler/driver.h"
#include "ir/ir.h"
#include "runtime/smelt_npy.h"
#include "runtime/smelt_scalar.h"

#include <math.h>

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

/* Builds g as an executable into WORK/NAME (o->out_dir is set to it; emit EXE); on
 * success exe is WORK/NAME/NAME and *src (when src is not NULL) the generated C,
 * malloc'ed.  Returns the build's result (its error is in cx). */
static inline int t_build_exe(smelt_ctx *cx, smelt_graph *g, const char *work, const char *name, struct smelt_build_opts *o, char *exe,
                              size_t exe_size, char **src) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", work, name);
  t_mkdirs(dir);
  o->out_dir = dir;
  o->emit = SMELT_EMIT_EXE;
  struct smelt_build_info info;
  int rc = smelt_build_graph(cx, g, o, &info);
  o->out_dir = NULL;
  if (rc) return rc;
  snprintf(exe, exe_size, "%s/%s", dir, name);
  if (src) {
    char p[4200];
    snprintf(p, sizeof p, "%s.c", exe);
    *src = t_read_file(p, NULL);
  }
  return 0;
}

/* A random f32 input *in of rank 4 and dims xd, the interpreter's outputs of g for it in
 * ref, then g built for target with threads (weights object from 1 KiB) as t_build_exe
 * does.  Returns nonzero when the interpreter failed (reported; *in freed, ref unset);
 * else 0, with *built saying whether the build succeeded (a failure is reported), and
 * *in and ref for the caller to free. */
static inline int t_eval_build(smelt_ctx *cx, smelt_graph *g, const char *work, const char *name, const char *target, int threads,
                               const int64_t *xd, smelt_tensor *in, smelt_tensor *ref, char *exe, size_t exe_size, char **src, int *built) {
  t_rand_tensor(in, SMELT_DT_F32, 4, xd);
  int rc = smelt_eval(g, in, ref);
  CHECK(!rc, "%s: eval: %s", name, smelt_error_msg(cx));
  if (rc) {
    smelt_tensor_free(in);
    return 1;
  }
  struct smelt_build_opts bo = {.target = target, .weights_min = 1024, .threads = threads};
  rc = t_build_exe(cx, g, work, name, &bo, exe, exe_size, src);
  CHECK(!rc, "%s: build: %s", name, smelt_error_msg(cx));
  *built = !rc;
  return 0;
}

/* The tolerance of output element e whose interpreter value is ref. */
typedef double (*t_tol_fn)(void *arg, int64_t e, double ref);

/* got (f32, from t_run_exe) against the interpreter's ref: the same element count, and
 * |got - ref| <= tol(arg, e, ref) everywhere (NaN matches NaN); reports the first three
 * differences with `what`.  Frees got.  Returns the number of differences reported. */
static inline int t_compare(const char *what, smelt_tensor *got, const smelt_tensor *ref, t_tol_fn tol, void *arg) {
  int64_t ne = smelt_tensor_elems(ref);
  int bad = 0;
  CHECK(smelt_tensor_elems(got) == ne, "%s: %lld elements, the interpreter %lld", what, (long long)smelt_tensor_elems(got), (long long)ne);
  const float *gp = got->data;
  for (int64_t e = 0; e < ne && smelt_tensor_elems(got) == ne && bad < 3; e++) {
    double r = smelt_tensor_getf(ref, e), t = tol(arg, e, r);
    if (!(fabs((double)gp[e] - r) <= t) && !(isnan(r) && isnan(gp[e]))) {
      bad++;
      CHECK(0, "%s[%lld] = %.9g, interpreter %.9g (tolerance %.3g)", what, (long long)e, gp[e], r, t);
    }
  }
  smelt_tensor_free(got);
  return bad;
}

#endif
