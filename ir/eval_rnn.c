/* ir/eval_rnn.c — interpreter kernel of the recurrent ops (RNN, GRU, LSTM).
 *
 * The oracle for the backends: every batch row of every direction is run on its
 * own, step by step, with the state in double and the gate pre-activations
 * accumulated in double; outputs are rounded once when stored.  Steps past a
 * sequence's length leave Y at zero and the state
 * unchanged, so Y_h / Y_c hold the state after the last valid step. */
#include "eval.h"
#include "rnn.h"

#include <math.h>

static double clipv(double x, double c) { return isinf(c) ? x : fmin(fmax(x, -c), c); }

/* Offsets into the tensors for direction d, batch row b, time t (layout 0 / 1). */
struct geo { int64_t S, N, D, H, I; int layout; };
static int64_t x_off(const struct geo *q, int64_t t, int64_t b) { return (q->layout ? b * q->S + t : t * q->N + b) * q->I; }
static int64_t y_off(const struct geo *q, int64_t t, int64_t d, int64_t b) { return (q->layout ? (b * q->S + t) * q->D + d : (t * q->D + d) * q->N + b) * q->H; }
static int64_t st_off(const struct geo *q, int64_t d, int64_t b) { return (q->layout ? b * q->D + d : d * q->N + b) * q->H; }

int eval_rnn(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  struct smelt_rnn r;
  char err[200];
  if (smelt_rnn_describe(g, n, &r, err, sizeof err)) return ev_fail(g, n, err);
  const smelt_tensor *X = &in[0], *W = &in[1], *R = &in[2];
  const smelt_tensor *Bs = r.in_b >= 0 ? &in[r.in_b] : NULL, *L = r.in_seq >= 0 ? &in[r.in_seq] : NULL;
  const smelt_tensor *H0 = r.in_h0 >= 0 ? &in[r.in_h0] : NULL, *C0 = r.in_c0 >= 0 ? &in[r.in_c0] : NULL, *P = r.in_p >= 0 ? &in[r.in_p] : NULL;
  smelt_tensor *Yh = &out[0], *Y = n->out[1] >= 0 ? &out[1] : NULL, *Yc = r.cell == SMELT_RNN_CELL_LSTM ? &out[2] : NULL;
  if (Yc && n->out[2] < 0) Yc = NULL;
  struct geo q = {r.seq, X->dims[r.layout ? 0 : 1], r.ndir, r.hidden, r.input, r.layout};
  int64_t H = q.H, I = q.I, G = r.ngates, GH = G * H;
  double *h = malloc(sizeof(double) * (size_t)H), *c = malloc(sizeof(double) * (size_t)H);
  double *gx = malloc(sizeof(double) * (size_t)GH), *gh = malloc(sizeof(double) * (size_t)GH), *tmp = malloc(sizeof(double) * (size_t)H);
  int rc = 0;
  if (!h || !c || !gx || !gh || !tmp) { rc = ev_fail(g, n, "out of memory"); goto done; }
  for (int64_t d = 0; d < q.D && !rc; d++) {
    int rev = r.reverse || d == 1;
    const int *act = &r.act[d * r.nacts];
    const double *al = &r.alpha[d * r.nacts], *be = &r.beta[d * r.nacts];
#define ACT(k, v) smelt_rnn_act_eval(act[k], clipv((v), r.clip), al[k], be[k])
    int64_t wo = d * GH * I, ro = d * GH * H, bo = d * 2 * GH, po = d * 3 * H;
    for (int64_t b = 0; b < q.N; b++) {
      int64_t len = q.S;
      if (L) {
        len = ev_geti(L, b);
        if (len < 0 || len > q.S) { rc = ev_fail(g, n, "a sequence_lens entry is outside [0, seq_length]"); break; }
      }
      for (int64_t j = 0; j < H; j++) {
        h[j] = H0 ? ev_getf(H0, st_off(&q, d, b) + j) : 0;
        c[j] = C0 ? ev_getf(C0, st_off(&q, d, b) + j) : 0;
      }
      for (int64_t t = len; Y && t < q.S; t++)
        for (int64_t j = 0; j < H; j++) ev_setf(Y, y_off(&q, t, d, b) + j, 0);
      for (int64_t s = 0; s < len; s++) {
        int64_t t = rev ? len - 1 - s : s, xo = x_off(&q, t, b);
        /* gx = W x + Wb, gh = R h + Rb, every gate */
        for (int64_t j = 0; j < GH; j++) {
          double a = Bs ? ev_getf(Bs, bo + j) : 0, e = Bs ? ev_getf(Bs, bo + GH + j) : 0;
          for (int64_t k = 0; k < I; k++) a += ev_getf(W, wo + j * I + k) * ev_getf(X, xo + k);
          for (int64_t k = 0; k < H; k++) e += ev_getf(R, ro + j * H + k) * h[k];
          gx[j] = a;
          gh[j] = e;
        }
        switch (r.cell) {
        case SMELT_RNN_CELL_RNN:
          for (int64_t j = 0; j < H; j++) h[j] = ACT(0, gx[j] + gh[j]);
          break;
        case SMELT_RNN_CELL_GRU: /* z = gates[0,H), r = [H,2H), h~ = [2H,3H) */
          for (int64_t j = 0; j < 2 * H; j++) gx[j] = ACT(0, gx[j] + gh[j]);
          if (!r.linear_before_reset) {
            /* h~ = g(W_h x + Wb_h + R_h (r * h) + Rb_h) */
            for (int64_t j = 0; j < H; j++) tmp[j] = gx[H + j] * h[j];
            for (int64_t j = 0; j < H; j++) {
              double e = Bs ? ev_getf(Bs, bo + GH + 2 * H + j) : 0;
              for (int64_t k = 0; k < H; k++) e += ev_getf(R, ro + (2 * H + j) * H + k) * tmp[k];
              gh[2 * H + j] = e;
            }
            for (int64_t j = 0; j < H; j++) tmp[j] = ACT(1, gx[2 * H + j] + gh[2 * H + j]);
          } else {
            /* h~ = g(W_h x + Wb_h + r * (R_h h + Rb_h)) */
            for (int64_t j = 0; j < H; j++) tmp[j] = ACT(1, gx[2 * H + j] + gx[H + j] * gh[2 * H + j]);
          }
          for (int64_t j = 0; j < H; j++) h[j] = (1 - gx[j]) * tmp[j] + gx[j] * h[j];
          break;
        case SMELT_RNN_CELL_LSTM: /* i = [0,H), o = [H,2H), f = [2H,3H), c~ = [3H,4H); P: i, o, f */
          for (int64_t j = 0; j < H; j++) {
            double pi = P ? ev_getf(P, po + j) : 0, pov = P ? ev_getf(P, po + H + j) : 0, pf = P ? ev_getf(P, po + 2 * H + j) : 0;
            double iv = ACT(0, gx[j] + gh[j] + pi * c[j]);
            double fv = r.input_forget ? 1 - iv : ACT(0, gx[2 * H + j] + gh[2 * H + j] + pf * c[j]);
            double cv = ACT(1, gx[3 * H + j] + gh[3 * H + j]);
            double cn = fv * c[j] + iv * cv;
            double ov = ACT(0, gx[H + j] + gh[H + j] + pov * cn);
            c[j] = cn;
            h[j] = ov * smelt_rnn_act_eval(act[2], cn, al[2], be[2]);
          }
          break;
        }
        if (Y)
          for (int64_t j = 0; j < H; j++) ev_setf(Y, y_off(&q, t, d, b) + j, h[j]);
      }
      for (int64_t j = 0; j < H; j++) {
        ev_setf(Yh, st_off(&q, d, b) + j, h[j]);
        if (Yc) ev_setf(Yc, st_off(&q, d, b) + j, c[j]);
      }
    }
#undef ACT
  }
done:
  free(h);
  free(c);
  free(gx);
  free(gh);
  free(tmp);
  return rc;
}
