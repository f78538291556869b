/* backends/c/k_rnn.c — C kernels of the recurrent ops (RNN, GRU, LSTM).
 *
 * Each direction is emitted as its own block (its activations and its time order
 * are then constants); inside it, every batch row runs its sequence on its own:
 * per step the gate pre-activations W x_t + R h + biases go to a stack array sized
 * at compile time (G*H values, plus 2*H for GRU), then the cell's elementwise
 * update writes the state in place.  The state lives in the outputs: h in Y_h,
 * c in Y_c (which is why those outputs always exist), so nothing else is needed
 * and no memory is allocated.  Y rows past a sequence's length are zeroed. */
#include "cgen.h"
#include "ir/rnn.h"

#include <math.h>
#include <string.h>

#define RNN_STACK_MAX (256 * 1024) /* bytes of gate temporaries a kernel may put on the stack */

/* The activation's formula applied to the expression v, with A and B replaced by
 * the node's values in type T; parenthesized, so it is one operand. */
static const char *act_text(struct cg *c, int act, double alpha, double beta, const char *v) {
  const char *f = smelt_rnn_act_formula(act);
  struct sbuf b = {0};
  sb_puts(&b, "(");
  for (const char *p = f; *p;) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_') {
      const char *q = p;
      while ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_') q++;
      size_t len = (size_t)(q - p);
      if (len == 1 && *p == 'x') sb_printf(&b, "(%s)", v);
      else if (len == 1 && *p == 'A') sb_printf(&b, "(T)%s", cg_double(c, alpha));
      else if (len == 1 && *p == 'B') sb_printf(&b, "(T)%s", cg_double(c, beta));
      else sb_printf(&b, "%.*s", (int)len, p);
      p = q;
    } else {
      sb_printf(&b, "%c", *p++);
    }
  }
  sb_puts(&b, ")");
  const char *r = b.p ? smelt_strdup(c->cx, b.p) : "0";
  sb_free(&b);
  return r;
}

/* activation k of direction d over the (clipped) pre-activation e */
static const char *act_of(struct cg *c, const struct smelt_rnn *r, int d, int k, const char *e) {
  int i = d * r->nacts + k;
  if (k < 2 && !isinf(r->clip)) e = smelt_sprintf(c->cx, "fmin(fmax(%s, (T)%s), (T)%s)", e, cg_double(c, -r->clip), cg_double(c, r->clip));
  return act_text(c, r->act[i], r->alpha[i], r->beta[i], e);
}

/* One loop over gate rows j in [j0, j1): dst = bias + M x (+ bias2 + M2 y), where
 * M's row j starts at m + j * cols. */
struct term { const char *bias, *m, *vec; int64_t cols; };
static void rows(struct cg *c, const char *dst, int64_t j0, int64_t j1, const struct term *t, int nt) {
  cg_line(c, "for (int64_t j = %lld; j < %lld; j++) {", (long long)j0, (long long)j1);
  CG_IN(c);
  const char *init = NULL;
  for (int i = 0; i < nt; i++)
    if (t[i].bias) init = init ? smelt_sprintf(c->cx, "%s + %s[j]", init, t[i].bias) : smelt_sprintf(c->cx, "%s[j]", t[i].bias);
  cg_line(c, "T a = %s;", init ? init : "0");
  for (int i = 0; i < nt; i++) {
    cg_line(c, "{ const T *mr = %s + j * %lld;", t[i].m, (long long)t[i].cols);
    cg_line(c, "  for (int64_t k = 0; k < %lld; k++) a += mr[k] * %s[k]; }", (long long)t[i].cols, t[i].vec);
  }
  cg_line(c, "%s = a;", dst);
  CG_OUT(c);
  cg_line(c, "}");
}

int emit_rnn(struct cg *c, const smelt_node *n) {
  struct smelt_rnn r;
  char err[200];
  if (smelt_rnn_describe(c->g, n, &r, err, sizeof err)) return smelt_errorf(c->cx, "node '%s' (%s): %s", n->name, smelt_op_info(n->op)->name, err);
  smelt_dtype dt = cg_in(c, n, 0)->dt;
  int64_t S = r.seq, I = r.input, H = r.hidden, D = r.ndir, GH = r.ngates * H;
  int gru = r.cell == SMELT_RNN_CELL_GRU, lstm = r.cell == SMELT_RNN_CELL_LSTM;
  int64_t ntmp = GH + (gru ? 2 * H : 0), bytes = ntmp * smelt_dtype_bytes(dt);
  if (bytes > RNN_STACK_MAX)
    return smelt_errorf(c->cx, "node '%s' (%s): hidden_size %lld needs %lld bytes of gate temporaries on the stack; generated kernels use at most %d",
                        n->name, smelt_op_info(n->op)->name, (long long)H, (long long)bytes, RNN_STACK_MAX);
  int has_y = n->out[1] >= 0;
  const char *xb = r.in_b >= 0 ? smelt_sprintf(c->cx, "x%d", r.in_b) : NULL;
  const char *xl = r.in_seq >= 0 ? smelt_sprintf(c->cx, "x%d", r.in_seq) : NULL;
  const char *xh0 = r.in_h0 >= 0 ? smelt_sprintf(c->cx, "x%d", r.in_h0) : NULL;
  const char *xc0 = r.in_c0 >= 0 ? smelt_sprintf(c->cx, "x%d", r.in_c0) : NULL;
  const char *xp = r.in_p >= 0 ? smelt_sprintf(c->cx, "x%d", r.in_p) : NULL;
  /* offsets of X row (t, b), Y row (t, d, b) and state row (d, b), as text over t, b */
  const char *xoff = r.layout ? smelt_sprintf(c->cx, "(b * %lld + t) * %lld", (long long)S, (long long)I)
                              : smelt_sprintf(c->cx, "(t * N + b) * %lld", (long long)I);

  cg_line(c, "typedef %s T;", cg_ctype(dt));
  cg_line(c, "const int64_t N = %s;", cg_dim(c, r.batch));
  cg_line(c, "T g[%lld];%s", (long long)GH, gru ? "" : " /* gate pre-activations */");
  if (gru) cg_line(c, "T u[%lld], v[%lld]; /* R_h part of the candidate; r * h */", (long long)H, (long long)H);
  for (int64_t d = 0; d < D; d++) {
    int rev = r.reverse || d == 1;
    const char *yoff = r.layout ? smelt_sprintf(c->cx, "((b * %lld + t) * %lld + %lld) * %lld", (long long)S, (long long)D, (long long)d, (long long)H)
                                : smelt_sprintf(c->cx, "((t * %lld + %lld) * N + b) * %lld", (long long)D, (long long)d, (long long)H);
    const char *soff = r.layout ? smelt_sprintf(c->cx, "(b * %lld + %lld) * %lld", (long long)D, (long long)d, (long long)H)
                                : smelt_sprintf(c->cx, "(%lld * N + b) * %lld", (long long)d, (long long)H);
    cg_line(c, "{ /* direction %lld: %s */", (long long)d, rev ? "reverse" : "forward");
    CG_IN(c);
    cg_line(c, "const T *w = x1 + %lld, *r = x2 + %lld;", (long long)(d * GH * I), (long long)(d * GH * H));
    if (xb) cg_line(c, "const T *wb = %s + %lld, *rb = wb + %lld;", xb, (long long)(d * 2 * GH), (long long)GH);
    if (xp) cg_line(c, "const T *p = %s + %lld;", xp, (long long)(d * 3 * H));
    cg_line(c, "for (int64_t b = 0; b < N; b++) {");
    CG_IN(c);
    cg_line(c, "T *h = y0 + %s;", soff);
    if (lstm) cg_line(c, "T *c = y2 + %s;", soff);
    cg_line(c, "int64_t len = %lld;", (long long)S);
    if (xl) {
      cg_line(c, "len = (int64_t)%s[b];", xl);
      cg_line(c, "if (len < 0 || len > %lld) return SMELT_E_INDEX; /* sequence_lens outside [0, seq_length] */", (long long)S);
    }
    cg_line(c, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
    cg_line(c, "  h[j] = %s;", xh0 ? smelt_sprintf(c->cx, "%s[%s + j]", xh0, soff) : "0");
    if (lstm) cg_line(c, "  c[j] = %s;", xc0 ? smelt_sprintf(c->cx, "%s[%s + j]", xc0, soff) : "0");
    cg_line(c, "}");
    if (has_y && xl) {
      cg_line(c, "for (int64_t t = len; t < %lld; t++)", (long long)S);
      cg_line(c, "  for (int64_t j = 0; j < %lld; j++) y1[%s + j] = 0;", (long long)H, yoff);
    }
    cg_line(c, "for (int64_t s = 0; s < len; s++) {");
    CG_IN(c);
    cg_line(c, "const int64_t t = %s;", rev ? "len - 1 - s" : "s");
    cg_line(c, "const T *xt = x0 + %s;", xoff);
    struct term full[2] = {{xb ? "wb" : NULL, "w", "xt", I}, {xb ? "rb" : NULL, "r", "h", H}};
    if (!gru) {
      rows(c, "g[j]", 0, GH, full, 2);
    } else {
      rows(c, "g[j]", 0, 2 * H, full, 2);
      rows(c, "g[j]", 2 * H, 3 * H, full, 1);
    }
    switch (r.cell) {
    case SMELT_RNN_CELL_RNN:
      cg_line(c, "for (int64_t j = 0; j < %lld; j++) h[j] = %s;", (long long)H, act_of(c, &r, (int)d, 0, "g[j]"));
      break;
    case SMELT_RNN_CELL_GRU: {
      /* z = g[0,H), r = g[H,2H) through f; candidate through g; h = (1 - z) h~ + z h */
      cg_line(c, "for (int64_t j = 0; j < %lld; j++) g[j] = %s;", (long long)(2 * H), act_of(c, &r, (int)d, 0, "g[j]"));
      struct term rh = {xb ? smelt_sprintf(c->cx, "(rb + %lld)", (long long)(2 * H)) : NULL, smelt_sprintf(c->cx, "(r + %lld)", (long long)(2 * H * H)), "h", H};
      const char *cand;
      if (r.linear_before_reset) {
        rows(c, "u[j]", 0, H, &rh, 1);
        cand = smelt_sprintf(c->cx, "g[%lld + j] + g[%lld + j] * u[j]", (long long)(2 * H), (long long)H);
      } else {
        cg_line(c, "for (int64_t j = 0; j < %lld; j++) v[j] = g[%lld + j] * h[j];", (long long)H, (long long)H);
        rh.vec = "v";
        rows(c, "u[j]", 0, H, &rh, 1);
        cand = smelt_sprintf(c->cx, "g[%lld + j] + u[j]", (long long)(2 * H));
      }
      cg_line(c, "for (int64_t j = 0; j < %lld; j++) {", (long long)H);
      cg_line(c, "  const T hc = %s;", act_of(c, &r, (int)d, 1, cand));
      cg_line(c, "  h[j] = ((T)1 - g[j]) * hc + g[j] * h[j];");
      cg_line(c, "}");
      break;
    }
    case SMELT_RNN_CELL_LSTM: {
      /* i = g[0,H), o = g[H,2H), f = g[2H,3H), c~ = g[3H,4H); peepholes P: i, o, f */
      long long h1 = (long long)H, h2 = 2 * h1, h3 = 3 * h1;
      cg_line(c, "for (int64_t j = 0; j < %lld; j++) {", h1);
      CG_IN(c);
      cg_line(c, "const T iv = %s;", act_of(c, &r, (int)d, 0, xp ? "g[j] + p[j] * c[j]" : "g[j]"));
      if (r.input_forget) cg_line(c, "const T fv = (T)1 - iv;");
      else cg_line(c, "const T fv = %s;", act_of(c, &r, (int)d, 0, xp ? smelt_sprintf(c->cx, "g[%lld + j] + p[%lld + j] * c[j]", h2, h2) : smelt_sprintf(c->cx, "g[%lld + j]", h2)));
      cg_line(c, "const T cv = %s;", act_of(c, &r, (int)d, 1, smelt_sprintf(c->cx, "g[%lld + j]", h3)));
      cg_line(c, "const T cn = fv * c[j] + iv * cv;");
      cg_line(c, "const T ov = %s;", act_of(c, &r, (int)d, 0, xp ? smelt_sprintf(c->cx, "g[%lld + j] + p[%lld + j] * cn", h1, h1) : smelt_sprintf(c->cx, "g[%lld + j]", h1)));
      cg_line(c, "c[j] = cn;");
      cg_line(c, "h[j] = ov * %s;", act_of(c, &r, (int)d, 2, "cn"));
      CG_OUT(c);
      cg_line(c, "}");
      break;
    }
    }
    if (has_y) cg_line(c, "for (int64_t j = 0; j < %lld; j++) y1[%s + j] = h[j];", (long long)H, yoff);
    CG_OUT(c);
    cg_line(c, "}");
    CG_OUT(c);
    cg_line(c, "}");
    CG_OUT(c);
    cg_line(c, "}");
  }
  return 0;
}
