/* runtime/smelt_threads.h — the small thread pool the target kernels split matmul rows
 * over.  Present only when the model was built with --threads N > 1 (the generated
 * source defines SMELT_THREADS N before including it) on a hosted target; otherwise
 * smt_run calls the function once on the caller's thread and nothing here needs
 * pthreads.
 *
 * One pool per model source (it is static, like the rest of the runtime): SMELT_THREADS
 * - 1 workers, started on first use and kept until the process exits.  A call splits
 * the work into at most smt_nthreads parts (lowered at run time by smt_set_threads,
 * which the executable's -t and NAME_set_threads call); the caller runs part 0 and
 * waits for the rest.  Workers spin briefly for the next job (the kernels of one step
 * come back to back) and then sleep on a condition variable.  A call made while
 * another is running (two threads using the model at once) runs on its own thread,
 * so the pool never mixes jobs. */
#ifndef SMELT_THREADS_H
#define SMELT_THREADS_H

#ifndef SMELT_THREADS
#define SMELT_THREADS 1
#endif

/* fn(arg, part, nparts) does part `part` of `nparts` */
typedef void (*smt_fn)(void *arg, int part, int nparts);

#if SMELT_THREADS > 1 && !defined(SMELT_FREESTANDING)
#include <pthread.h>
#include <stdint.h>

static struct {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  int started, nworkers;          /* workers running (may be fewer than asked if creation failed) */
  unsigned gen;                   /* job number: workers start a job when it changes */
  int pending, busy;              /* workers yet to finish the job; a job is running */
  smt_fn fn;
  void *arg;
  int nparts;
  pthread_t th[SMELT_THREADS];
} smt_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0, {0}};
static int smt_nthreads = SMELT_THREADS;

static inline void smt_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void *smt_worker(void *p) {
  int id = (int)(intptr_t)p;
  unsigned seen = 0;
  for (;;) {
    unsigned g = __atomic_load_n(&smt_pool.gen, __ATOMIC_ACQUIRE);
    for (int i = 0; g == seen && i < 50000; i++) {
      smt_pause();
      g = __atomic_load_n(&smt_pool.gen, __ATOMIC_ACQUIRE);
    }
    if (g == seen) {
      pthread_mutex_lock(&smt_pool.mu);
      while ((g = __atomic_load_n(&smt_pool.gen, __ATOMIC_ACQUIRE)) == seen) pthread_cond_wait(&smt_pool.go, &smt_pool.mu);
      pthread_mutex_unlock(&smt_pool.mu);
    }
    seen = g;
    if (id < smt_pool.nparts) smt_pool.fn(smt_pool.arg, id, smt_pool.nparts);
    if (__atomic_sub_fetch(&smt_pool.pending, 1, __ATOMIC_ACQ_REL) == 0) {
      pthread_mutex_lock(&smt_pool.mu);
      pthread_cond_signal(&smt_pool.done);
      pthread_mutex_unlock(&smt_pool.mu);
    }
  }
  return NULL;
}

/* The number of threads kernels use from now on: 1 .. SMELT_THREADS (clamped). */
static inline void smt_set_threads(int n) {
  __atomic_store_n(&smt_nthreads, n < 1 ? 1 : n > SMELT_THREADS ? SMELT_THREADS : n, __ATOMIC_RELAXED);
}

static inline void smt_run(smt_fn fn, void *arg, int want) {
  int n = __atomic_load_n(&smt_nthreads, __ATOMIC_RELAXED);
  if (want < n) n = want;
  if (n <= 1 || __atomic_exchange_n(&smt_pool.busy, 1, __ATOMIC_ACQUIRE)) {
    fn(arg, 0, 1);
    return;
  }
  if (!smt_pool.started) {
    smt_pool.started = 1;
    for (int i = 1; i < SMELT_THREADS; i++) {
      if (pthread_create(&smt_pool.th[i], NULL, smt_worker, (void *)(intptr_t)i)) break;
      smt_pool.nworkers++;
    }
  }
  if (n > smt_pool.nworkers + 1) n = smt_pool.nworkers + 1;
  smt_pool.fn = fn;
  smt_pool.arg = arg;
  smt_pool.nparts = n;
  __atomic_store_n(&smt_pool.pending, smt_pool.nworkers, __ATOMIC_RELAXED);
  pthread_mutex_lock(&smt_pool.mu);
  __atomic_add_fetch(&smt_pool.gen, 1, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&smt_pool.go);
  pthread_mutex_unlock(&smt_pool.mu);
  fn(arg, 0, n);
  for (int i = 0; __atomic_load_n(&smt_pool.pending, __ATOMIC_ACQUIRE) && i < 200000; i++) smt_pause();
  if (__atomic_load_n(&smt_pool.pending, __ATOMIC_ACQUIRE)) {
    pthread_mutex_lock(&smt_pool.mu);
    while (__atomic_load_n(&smt_pool.pending, __ATOMIC_ACQUIRE)) pthread_cond_wait(&smt_pool.done, &smt_pool.mu);
    pthread_mutex_unlock(&smt_pool.mu);
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
