/* tests/unit/simd.c — the target kernels of runtime/smelt_simd.h against the scalar
 * reference: tests/simd/check_simd.c is compiled once per instruction set this machine
 * (or qemu) can run and run; each build must report the instruction set it was meant
 * to use (so a macro mistake that silently falls back to the portable code fails).
 *
 *   portable C (no target flags); x86-64: AVX2+FMA+F16C, AVX-512 VNNI (when the CPU
 *   has it; 256-bit, and zmm with AVX-512 BW), -march=native with a 3-thread pool,
 *   clang -march=native; aarch64 through
 *   aarch64-linux-gnu-gcc and qemu-aarch64 (when installed): NEON and dotprod.
 *
 * SMELT_CFLAGS (the sanitizers under make test-sanitize) applies to the host builds. */
#include "../testutil.h"

static char work[4096];

static int split(char *s, const char **av, int n, int max) {
  for (char *t = strtok(s, " "); t && n < max; t = strtok(NULL, " ")) av[n++] = t;
  return n;
}

/* compiles check_simd.c with cc and flags, runs it (through runner if not NULL) with
 * `threads`, and expects "ok: ISA, " */
static void variant(const char *cc, const char *flags, int host, const char *runner, const char *threads, const char *isa) {
  char exe[4096], src[4096], fl[1024], san[1024];
  static int k;
  snprintf(exe, sizeof exe, "%s/check_simd_%d", work, k++);
  snprintf(src, sizeof src, "%s/tests/simd/check_simd.c", SMELT_SOURCE_DIR);
  snprintf(fl, sizeof fl, "%s", flags);
  const char *sf = getenv("SMELT_CFLAGS");
  snprintf(san, sizeof san, "%s", host && sf ? sf : "");
  const char *av[64];
  int n = 0;
  av[n++] = cc;
  av[n++] = "-std=c99";
  av[n++] = "-O2";
  av[n++] = "-Wall";
  av[n++] = "-Wextra";
  av[n++] = "-pedantic";
  av[n++] = "-Werror";
  n = split(fl, av, n, 40);
  n = split(san, av, n, 56);
  av[n++] = "-I";
  av[n++] = SMELT_SOURCE_DIR;
  av[n++] = src;
  av[n++] = "-o";
  av[n++] = exe;
  av[n++] = "-lm";
  av[n++] = "-pthread";
  av[n] = NULL;
  struct t_run r;
  char st[64];
  if (t_run(av, work, 300, &r) || !r.exited || r.code) {
    CHECK(0, "%s %s: does not compile (%s):\n%s", cc, flags, t_status(&r, st, sizeof st), r.err ? r.err : "");
    t_run_free(&r);
    return;
  }
  t_run_free(&r);
  const char *rv[6];
  n = 0;
  if (runner) {
    rv[n++] = runner;
    rv[n++] = "-cpu";
    rv[n++] = "max";
  }
  rv[n++] = exe;
  rv[n++] = threads;
  rv[n] = NULL;
  char want[128];
  snprintf(want, sizeof want, "ok: %s%s", isa, isa[strlen(isa) - 1] == '*' ? "" : ", ");
  if (isa[strlen(isa) - 1] == '*') want[strlen(want) - 1] = 0; /* "neon*": neon or neon+dotprod */
  int ok = !t_run(rv, work, 600, &r) && r.exited && !r.code && !strncmp(r.out, want, strlen(want));
  CHECK(ok, "%s %s: %s\n%s%s", cc, flags, t_status(&r, st, sizeof st), r.out ? r.out : "", r.err ? r.err : "");
  if (ok) printf("  %s %s: %s", cc, flags, r.out);
  t_run_free(&r);
}

static int have(const char *prog) {
  const char *av[] = {prog, "--version", NULL};
  struct t_run r;
  int ok = !t_run(av, work, 30, &r) && r.exited && !r.code;
  t_run_free(&r);
  return ok;
}

int main(void) {
  snprintf(work, sizeof work, "%s/simd-work", getcwd(work, sizeof work) ? work : ".");
  t_mkdirs(work);
  const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
  variant(cc, "", 1, NULL, "1", "portable");
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    variant(cc, "-mavx2 -mfma -mf16c", 1, NULL, "1", "avx2");
    int vnni = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
    if (vnni) variant(cc, "-mavx2 -mfma -mf16c -mavx512f -mavx512vl -mavx512vnni", 1, NULL, "1", "avx2+vnni");
    /* with AVX-512 BW too, q8_0 / q4_0 take the zmm kernels (runtime/smelt_simd_q.h) */
    int zmm = vnni && __builtin_cpu_supports("avx512bw");
    if (zmm) variant(cc, "-mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512vnni", 1, NULL, "1", "avx512+vnni");
    const char *nat = zmm ? "avx512+vnni" : vnni ? "avx2+vnni" : "avx2";
    variant(cc, "-march=native -DSMELT_THREADS=3", 1, NULL, "3", nat);
    if (have("clang")) variant("clang", "-march=native -DSMELT_THREADS=2 -DSMT_WAKE_PARTS=0", 1, NULL, "2", nat);
  }
  if (have("aarch64-linux-gnu-gcc") && have("qemu-aarch64")) {
    variant("aarch64-linux-gnu-gcc", "-static -march=armv8-a", 0, "qemu-aarch64", "1", "neon");
    variant("aarch64-linux-gnu-gcc", "-static -march=armv8.2-a+dotprod -DSMELT_THREADS=2 -DSMT_WAKE_PARTS=0", 0, "qemu-aarch64", "2", "neon+dotprod");
  } else
    printf("  (aarch64-linux-gnu-gcc or qemu-aarch64 missing: NEON kernels not run)\n");
#elif defined(__aarch64__)
  variant(cc, "-march=armv8-a", 1, NULL, "1", "neon");
  variant(cc, "-march=native -DSMELT_THREADS=2", 1, NULL, "2", "neon*");
#endif
  return t_done("unit_simd");
}
