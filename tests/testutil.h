/* tests/testutil.h — helpers shared by the C test programs of tests/ (unit, ir,
 * golden, malformed, e2e): checks that count failures instead of stopping, SKIPPED
 * with ctest's skip code 77, files, directories, and running a command with its
 * output captured and a time limit.
 *
 * Header-only (static functions): each test program is one .c file that includes
 * it.  A test prints one summary line and exits 0 (pass), 1 (fail) or 77 (skip). */
#ifndef SMELT_TESTUTIL_H
#define SMELT_TESTUTIL_H

#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int t_checks, t_failures;

/* Records a failed check; prints at most 50 of them so a broken build stays readable. */
static inline void t_fail(const char *file, int line, const char *fmt, ...) {
  t_failures++;
  if (t_failures > 50) return;
  fprintf(stdout, "%s:%d: FAIL: ", file, line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
}

/* CHECK(cond, "printf-style message", ...) */
#define CHECK(cond, ...)                                  \
  do {                                                    \
    t_checks++;                                           \
    if (!(cond)) t_fail(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

#define SKIP(...)                      \
  do {                                 \
    printf("SKIPPED: " __VA_ARGS__);   \
    printf("\n");                      \
    exit(77);                          \
  } while (0)

/* Prints the summary line and returns the exit status. */
static inline int t_done(const char *name) {
  if (t_failures) printf("%s: FAILED %d of %d checks\n", name, t_failures, t_checks);
  else printf("%s: %d checks passed\n", name, t_checks);
  return t_failures ? 1 : 0;
}

static inline double t_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- files --------------------------------------------------------------------------- */
static inline int t_exists(const char *p) { struct stat st; return !stat(p, &st); }

/* Whole file, NUL-terminated, malloc'ed; NULL if unreadable. */
static inline char *t_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += r;
    if (cap - n - 1 == 0) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) { free(buf); buf = NULL; }
      else buf = nb;
    }
  }
  fclose(f);
  if (buf) buf[n] = 0;
  if (len) *len = n;
  return buf;
}

static inline int t_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  int ok = fwrite(data, 1, n, f) == n;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* mkdir -p */
static inline int t_mkdirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') { *p = 0; mkdir(buf, 0777); *p = '/'; }
  return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

/* rm -rf of a directory the test made (one level of files and subdirectories deep
 * is all the tests create, but it recurses anyway). */
static inline void t_rmtree(const char *path) {
  DIR *d = opendir(path);
  if (!d) { remove(path); return; }
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    struct stat st;
    if (!lstat(p, &st) && S_ISDIR(st.st_mode)) t_rmtree(p);
    else remove(p);
  }
  closedir(d);
  rmdir(path);
}

static inline int t_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names in dir ending with suffix (malloc'ed array of malloc'ed strings). */
static inline int t_list_dir(const char *dir, const char *suffix, char ***out) {
  DIR *d = opendir(dir);
  *out = NULL;
  if (!d) return -1;
  int n = 0, cap = 0;
  char **v = NULL;
  size_t sl = strlen(suffix);
  for (struct dirent *e; (e = readdir(d));) {
    size_t l = strlen(e->d_name);
    if (e->d_name[0] == '.' || l < sl || strcmp(e->d_name + l - sl, suffix)) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nv = realloc(v, sizeof *v * (size_t)cap);
      if (!nv) break;
      v = nv;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n) qsort(v, (size_t)n, sizeof *v, t_cmp_str);
  *out = v;
  return n;
}

static inline void t_free_list(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* ---- running commands ------------------------------------------------------------------ */
struct t_run {
  int exited, code;   /* normal exit and its status */
  int signaled, sig;  /* killed by a signal */
  int timed_out;
  char *out, *err;    /* captured stdout / stderr (malloc'ed, NUL-terminated) */
};

static inline void t_run_free(struct t_run *r) { free(r->out); free(r->err); memset(r, 0, sizeof *r); }

/* Runs argv (NULL-terminated) with stdout and stderr captured through files in
 * tmpdir, killing it after `timeout` seconds.  Returns 0 if it could be started. */
static inline int t_run(const char *const *argv, const char *tmpdir, double timeout, struct t_run *r) {
  memset(r, 0, sizeof *r);
  static int seq;
  char o[4096], e[4096];
  snprintf(o, sizeof o, "%s/.run%ld_%d.out", tmpdir, (long)getpid(), seq);
  snprintf(e, sizeof e, "%s/.run%ld_%d.err", tmpdir, (long)getpid(), seq++);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  double t0 = t_now();
  int st = 0;
  for (;;) {
    pid_t p = waitpid(pid, &st, WNOHANG);
    if (p == pid) break;
    if (p < 0 && errno != EINTR) return -1;
    if (t_now() - t0 > timeout && !r->timed_out) { kill(pid, SIGKILL); r->timed_out = 1; }
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
  }
  r->exited = WIFEXITED(st);
  r->code = r->exited ? WEXITSTATUS(st) : -1;
  r->signaled = WIFSIGNALED(st);
  r->sig = r->signaled ? WTERMSIG(st) : 0;
  r->out = t_read_file(o, NULL);
  r->err = t_read_file(e, NULL);
  if (!r->out) r->out = strdup("");
  if (!r->err) r->err = strdup("");
  remove(o);
  remove(e);
  return 0;
}

/* A one-line description of how a command ended, for messages. */
static inline const char *t_status(const struct t_run *r, char *buf, size_t n) {
  if (r->timed_out) snprintf(buf, n, "timed out");
  else if (r->signaled) snprintf(buf, n, "killed by signal %d", r->sig);
  else snprintf(buf, n, "exit %d", r->code);
  return buf;
}

/* Prints the first differing line of two texts (for golden comparisons). */
static inline void t_show_diff(const char *what, const char *got, const char *exp) {
  int line = 1;
  const char *a = got, *b = exp;
  while (*a && *a == *b) {
    if (*a == '\n') line++;
    a++, b++;
  }
  while (a > got && a[-1] != '\n') a--;
  while (b > exp && b[-1] != '\n') b--;
  printf("  %s: first difference at line %d\n    got:      %.*s\n    expected: %.*s\n", what, line, (int)strcspn(a, "\n"), a,
         (int)strcspn(b, "\n"), b);
}

/* Compares `got` with the checked-in file `expected`; with SMELT_UPDATE_GOLDEN=1 in
 * the environment, rewrites the file instead (make update-golden).  Returns 1 when
 * they match (or the file was updated). */
static inline int t_golden(const char *expected, const char *got, size_t len) {
  const char *up = getenv("SMELT_UPDATE_GOLDEN");
  size_t el = 0;
  char *exp = t_read_file(expected, &el);
  if (up && !strcmp(up, "1")) {
    if (exp && el == len && !memcmp(exp, got, len)) { free(exp); return 1; }
    free(exp);
    if (t_write_file(expected, got, len)) { printf("  cannot write %s\n", expected); return 0; }
    printf("  updated %s\n", expected);
    return 1;
  }
  if (!exp) { printf("  %s is missing (make update-golden writes it)\n", expected); return 0; }
  int same = el == len && !memcmp(exp, got, len);
  if (!same) {
    char *g = malloc(len + 1);
    memcpy(g, got, len);
    g[len] = 0;
    t_show_diff(expected, g, exp);
    printf("  (if the change is intended: make update-golden, and review the diff)\n");
    free(g);
  }
  free(exp);
  return same;
}

#endif
