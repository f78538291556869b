/* compiler/progress.h — progress of the long steps of `smelt build` (reading, optimizing,
 * emitting, hashing, writing weights, compiling).
 *
 * The library reports steps through the callback in smelt_build_opts (it never prints);
 * the command line renders them with smelt_progress_cb: on a terminal a bar redrawn in
 * place and erased when the step ends, in a log (stderr not a terminal) one plain line
 * for each step that took a second or more. */
#ifndef SMELT_PROGRESS_H
#define SMELT_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct smelt_progress {
  FILE *out;
  int tty, quiet;
  char step[48];       /* the current step ("" for none) */
  double t_step, t_draw;
  int64_t total;       /* bytes of the current step, 0 if unknown */
};

void smelt_progress_init(struct smelt_progress *p, FILE *out, int quiet);
/* The callback: step NULL ends the current step; done/total in bytes (total 0: unknown). */
void smelt_progress_cb(void *user, const char *step, int64_t done, int64_t total);
/* Library side: reports through o's callback when there is one (o may be NULL). */
struct smelt_build_opts;
void smelt_progress(const struct smelt_build_opts *o, const char *step, int64_t done, int64_t total);

#endif
