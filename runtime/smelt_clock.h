/* runtime/smelt_clock.h — the monotonic clock the hosted executables' mains time runs
 * with (smelt_main.h, smelt_llm_main.h).  Hosted only: the model code never uses it. */
#ifndef SMELT_CLOCK_H
#define SMELT_CLOCK_H

#include <time.h>

/* seconds, monotonic */
static inline double smelt_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
