/* compiler/progress.c — rendering build progress (see progress.h).  This is the one
 * place besides compiler/main.c that prints, and only through the callback main.c
 * installs: library code calls smelt_progress(), which does nothing without one. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/progress.h"
#include "compiler/driver.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void smelt_progress_init(struct smelt_progress *p, FILE *out, int quiet) {
  memset(p, 0, sizeof *p);
  p->out = out;
  p->quiet = quiet;
  p->tty = isatty(fileno(out));
}

static void end_step(struct smelt_progress *p) {
  if (!p->step[0]) return;
  double dt = now() - p->t_step;
  if (p->tty) fputs("\r\033[K", p->out); /* erase the bar */
  else if (dt >= 1.0) fprintf(p->out, "smelt: %s: %.1f s\n", p->step, dt);
  fflush(p->out);
  p->step[0] = 0;
}

static void draw(struct smelt_progress *p, int64_t done, int64_t total) {
  enum { W = 30 };
  double dt = now() - p->t_step;
  if (total > 0) {
    int fill = (int)((double)W * (double)done / (double)total + 0.5);
    if (fill > W) fill = W;
    char bar[W + 1];
    for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
    bar[W] = 0;
    fprintf(p->out, "\r\033[Ksmelt: %-16s [%s] %3d%%  %.1f/%.1f MiB  %.1f s", p->step, bar, (int)(100.0 * (double)done / (double)total),
            (double)done / 1048576.0, (double)total / 1048576.0, dt);
  } else {
    fprintf(p->out, "\r\033[Ksmelt: %s ... %.1f s", p->step, dt);
  }
  fflush(p->out);
  p->t_draw = now();
}

void smelt_progress_cb(void *user, const char *step, int64_t done, int64_t total) {
  struct smelt_progress *p = user;
  if (!p || p->quiet) return;
  if (!step) { end_step(p); return; }
  if (strncmp(p->step, step, sizeof p->step - 1)) { /* a new step */
    end_step(p);
    snprintf(p->step, sizeof p->step, "%s", step);
    p->t_step = now();
    p->t_draw = 0;
  }
  p->total = total;
  /* redraw at most 10 times a second (and at 100%) */
  if (p->tty && (now() - p->t_draw >= 0.1 || (total > 0 && done >= total))) draw(p, done, total);
}

void smelt_progress(const struct smelt_build_opts *o, const char *step, int64_t done, int64_t total) {
  if (o && o->progress) o->progress(o->progress_user, step, done, total);
}
