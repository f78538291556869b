/* runtime/smelt_threads.h — the small thread pool the target kernels split matmul rows
 * over.  Present only when the model was built with --threads N > 1 (the generated
 * source defines SMELT_THREADS N before including it) on a hosted target; otherwise
 * smt_run calls the function once on the caller's thread and nothing here needs
 * pthreads.
 *
 * One pool per model source (it is static, like the rest of the runtime): SMELT_THREADS
 * - 1 workers, started on first use and kept for the life of the process.  A call splits
 * the work into parts (up to 8 per thread) that the caller and the workers claim one
 * at a time, so a busy machine where a worker is not scheduled degrades to the
 * caller doing the work, not to waiting for it.  smt_set_threads (the executable's -t,
 * NAME_set_threads) lowers the thread count at run time; with 1 no worker runs.
 * Workers spin briefly for the next job (the kernels of one step come back to back)
 * and then sleep on a condition variable; a small job (under SMT_WAKE_PARTS parts per
 * thread) does not wake them, it runs on the caller's thread.  A call made while another is running (two
 * threads using the model at once) runs on its own thread, so jobs never mix. */
#ifndef SMELT_THREADS_H
#define SMELT_THREADS_H

#ifndef SMELT_THREADS
#define SMELT_THREADS 1
#endif

/* fn(arg, part, nparts) does part `part` of `nparts` (parts are independent) */
typedef void (*smt_fn)(void *arg, int part, int nparts);

#if SMELT_THREADS > 1 && !defined(SMELT_FREESTANDING)
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#define SMT_LINE __attribute__((aligned(64)))
/* Fewer parts than this per thread do not wake a sleeping worker: a part is about 64 K
 * multiply-adds (the callers' unit, a microsecond or two), and waking a thread costs a
 * futex call and a trip through the scheduler, tens of microseconds on a busy machine.
 * A worker still spinning after the previous job (the kernels of one step come back to
 * back) takes any job of 2 parts or more.  So a tiny model's decode, whose kernels are
 * all small, stays on the caller's thread, and prefill's big kernels use every thread. */
#ifndef SMT_WAKE_PARTS /* (tests set 0: every split job then meets the workers) */
#define SMT_WAKE_PARTS 4
#endif

/* job: the high 32 bits count jobs, the low 32 the next part to claim; a part is claimed
 * by a compare-and-swap that also checks the job, so a worker that wakes late never
 * runs a part of a newer job with an older one's arguments. */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t go;
  int started, nworkers, busy;
  int sleepers;                 /* workers waiting on `go` (or about to) */
  /* the claim word and the done count each on a cache line of their own: every part
   * writes both, and the read-mostly fields above should not bounce with them */
  SMT_LINE uint64_t job;
  SMT_LINE int done;            /* parts finished */
  SMT_LINE int nparts;          /* parts of the current job */
  smt_fn fn;
  void *arg;
  pthread_t th[SMELT_THREADS];
} smt_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, 0, {0}};
static int smt_nthreads = SMELT_THREADS;

/* -DSMT_STATS (e.g. SMELT_CFLAGS=-DSMT_STATS when building a model): counts the calls
 * that ran on the caller alone, the split jobs, and the jobs that had to wake a
 * sleeping worker, and prints them to stderr when the process ends (where 2-thread time goes). */
#ifdef SMT_STATS
#include <stdio.h>
static uint64_t smt_stat_solo, smt_stat_jobs, smt_stat_wakes, smt_stat_parts;
__attribute__((destructor)) static void smt_stats_print(void) {
  fprintf(stderr, "smt: %llu calls on the caller alone, %llu split jobs (%llu parts), %llu woke a sleeping worker\n",
          (unsigned long long)smt_stat_solo, (unsigned long long)smt_stat_jobs, (unsigned long long)smt_stat_parts,
          (unsigned long long)smt_stat_wakes);
}
#define SMT_STAT(x) (x)
#else
#define SMT_STAT(x) ((void)0)
#endif

static inline void smt_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* claims and runs parts of job `id` until none is left */
static inline void smt_work(uint32_t id) {
  uint64_t j = __atomic_load_n(&smt_pool.job, __ATOMIC_ACQUIRE);
  /* nparts is read atomically: when every part is claimed the caller may be setting
   * up the next job (the compare-and-swap then fails) */
  while ((uint32_t)(j >> 32) == id && (int)(uint32_t)j < __atomic_load_n(&smt_pool.nparts, __ATOMIC_RELAXED)) {
    if (!__atomic_compare_exchange_n(&smt_pool.job, &j, j + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
    smt_pool.fn(smt_pool.arg, (int)(uint32_t)j, smt_pool.nparts);
    __atomic_add_fetch(&smt_pool.done, 1, __ATOMIC_RELEASE);
    j = __atomic_load_n(&smt_pool.job, __ATOMIC_ACQUIRE);
  }
}

static void *smt_worker(void *p) {
  (void)p;
  uint32_t seen = 0;
  for (;;) {
    uint32_t id = (uint32_t)(__atomic_load_n(&smt_pool.job, __ATOMIC_ACQUIRE) >> 32);
    for (int i = 0; id == seen && i < 2000; i++) { /* the next kernel's job comes soon */
      smt_pause();
      id = (uint32_t)(__atomic_load_n(&smt_pool.job, __ATOMIC_ACQUIRE) >> 32);
    }
    if (id == seen) {
      pthread_mutex_lock(&smt_pool.mu);
      __atomic_add_fetch(&smt_pool.sleepers, 1, __ATOMIC_RELAXED);
      while ((id = (uint32_t)(__atomic_load_n(&smt_pool.job, __ATOMIC_ACQUIRE) >> 32)) == seen) pthread_cond_wait(&smt_pool.go, &smt_pool.mu);
      __atomic_sub_fetch(&smt_pool.sleepers, 1, __ATOMIC_RELAXED);
      pthread_mutex_unlock(&smt_pool.mu);
    }
    seen = id;
    smt_work(id);
  }
  return NULL;
}

/* The number of threads kernels use from now on: 1 .. SMELT_THREADS (clamped). */
static inline void smt_set_threads(int n) {
  __atomic_store_n(&smt_nthreads, n < 1 ? 1 : n > SMELT_THREADS ? SMELT_THREADS : n, __ATOMIC_RELAXED);
}

/* Runs fn(arg, i, nparts) for every i < nparts, the parts shared between the caller and
 * the workers (whoever is free claims the next), and returns when all are done.  The
 * caller keeps claiming until none is left, so a worker the OS has not scheduled costs
 * nothing but its share. */
static inline void smt_run(smt_fn fn, void *arg, int nparts) {
  int n = __atomic_load_n(&smt_nthreads, __ATOMIC_RELAXED);
  if (nparts > 8 * n) nparts = 8 * n;
  /* a small job with every worker asleep: the caller alone is done sooner (a heuristic
   * only: a worker that falls asleep right after this check is woken below as usual) */
  int small = nparts < SMT_WAKE_PARTS * n && (!__atomic_load_n(&smt_pool.started, __ATOMIC_ACQUIRE) ||
                                              __atomic_load_n(&smt_pool.sleepers, __ATOMIC_RELAXED) >= __atomic_load_n(&smt_pool.nworkers, __ATOMIC_RELAXED));
  if (n <= 1 || nparts <= 1 || small || __atomic_exchange_n(&smt_pool.busy, 1, __ATOMIC_ACQUIRE)) {
    SMT_STAT(smt_stat_solo++);
    fn(arg, 0, 1);
    return;
  }
  SMT_STAT((smt_stat_jobs++, smt_stat_parts += (uint64_t)nparts));
  SMT_STAT(smt_stat_wakes += __atomic_load_n(&smt_pool.sleepers, __ATOMIC_RELAXED) > 0);
  if (!smt_pool.started) {
    for (int i = 1; i < SMELT_THREADS; i++) {
      if (pthread_create(&smt_pool.th[i], NULL, smt_worker, NULL)) break;
      __atomic_add_fetch(&smt_pool.nworkers, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&smt_pool.started, 1, __ATOMIC_RELEASE);
  }
  /* First a job id whose parts nobody can claim: a worker still looping in smt_work on
   * the previous job could otherwise claim part k of it (its compare-and-swap succeeds
   * while the id is unchanged) once nparts grows below, run the new fn on it and count
   * it in the new job's done, and the caller would return with a part unfinished. */
  uint32_t id = (uint32_t)(__atomic_load_n(&smt_pool.job, __ATOMIC_RELAXED) >> 32) + 1;
  __atomic_store_n(&smt_pool.job, ((uint64_t)id << 32) | 0x7fffffffu, __ATOMIC_SEQ_CST);
  smt_pool.fn = fn;
  smt_pool.arg = arg;
  __atomic_store_n(&smt_pool.nparts, nparts, __ATOMIC_RELAXED);
  __atomic_store_n(&smt_pool.done, 0, __ATOMIC_RELAXED);
  id++; /* then the job itself, with a new id (workers that saw the blocked one wake again) */
  pthread_mutex_lock(&smt_pool.mu);
  __atomic_store_n(&smt_pool.job, (uint64_t)id << 32, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&smt_pool.go);
  pthread_mutex_unlock(&smt_pool.mu);
  smt_work(id);
  for (int i = 0; __atomic_load_n(&smt_pool.done, __ATOMIC_ACQUIRE) < nparts; i++) {
    if (i < 2000) smt_pause();
    else sched_yield(); /* a worker holds a part but has lost its CPU */
  }
  __atomic_store_n(&smt_pool.busy, 0, __ATOMIC_RELEASE);
}
#else
static inline void smt_set_threads(int n) { (void)n; }
static inline void smt_run(smt_fn fn, void *arg, int want) {
  (void)want;
  fn(arg, 0, 1);
}
#endif

#endif
