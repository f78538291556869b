/* compiler/onnx_lower_rnn.c — ONNX's recurrent operators RNN, GRU and LSTM, each
 * lowered to the IR op of the same name (ops.def, "recurrent ops").
 *
 * The lowering makes the node explicit: the activation list is completed (ONNX's
 * defaults, or one direction's list repeated for bidirectional), every activation
 * gets its alpha and beta (ONNX hands them out in order to the functions that take
 * them, the rest keep their defaults), absent optional inputs are recorded in the
 * `optin` bits instead of being materialized, and so are all-zero constant biases,
 * initial states and peepholes, and a constant sequence_lens that covers every
 * sequence.  IR outputs are Y_h, Y, Y_c (Y may be absent). */
#include "compiler/onnx.h"
#include "ir/rnn.h"

#include <math.h>
#include <string.h>

/* a constant whose bytes are all zero: the same as the absent optional input */
static int zero_const(onnx_rd *r, int v) {
  const smelt_value *c = on_const_val(r, v);
  if (!c) return 0;
  for (uint64_t i = 0; i < c->c.nbytes; i++)
    if (((const unsigned char *)c->c.data)[i]) return 0;
  return 1;
}

static int lower_rnn(onnx_rd *r, int op) {
  int cell = op == SMELT_OP_RNN ? SMELT_RNN_CELL_RNN : op == SMELT_OP_GRU ? SMELT_RNN_CELL_GRU : SMELT_RNN_CELL_LSTM;
  int ngates = cell == SMELT_RNN_CELL_RNN ? 1 : cell == SMELT_RNN_CELL_GRU ? 3 : 4;
  int nacts = cell == SMELT_RNN_CELL_RNN ? 1 : cell == SMELT_RNN_CELL_GRU ? 2 : 3;
  int x = on_in(r, 0), w = on_in(r, 1), rw = on_in(r, 2);
  if (x < 0 || w < 0 || rw < 0) return SMELT_ERR;
  const char *dir = on_att_s(r, "direction", "forward");
  int ndir = !strcmp(dir, "bidirectional") ? 2 : 1;
  if (strcmp(dir, "forward") && strcmp(dir, "reverse") && ndir == 1) return on_err(r, "unknown direction '%s'", dir);
  const smelt_shape *ws = on_shape(r, w), *xs = on_shape(r, x);
  if (ws->rank != 3 || ws->d[1].sym) return on_err(r, "W must be a 3-D tensor of static shape");
  int64_t hidden = on_att_i(r, "hidden_size", ws->d[1].n / ngates);
  if (hidden <= 0) return on_err(r, "hidden_size must be positive");
  int64_t layout = on_att_i(r, "layout", 0);

  /* activations with their parameters */
  const Onnx__AttributeProto *aa = on_att(r, "activations");
  int na = aa ? (int)aa->n_strings : 0, want = ndir * nacts;
  int act[SMELT_RNN_MAX_ACTS];
  double alpha[SMELT_RNN_MAX_ACTS], beta[SMELT_RNN_MAX_ACTS];
  if (na != 0 && na != nacts && na != want) return on_err(r, "activations lists %d functions; expected %d per direction", na, nacts);
  static const int defaults[3][3] = {{SMELT_RNN_TANH}, {SMELT_RNN_SIGMOID, SMELT_RNN_TANH}, {SMELT_RNN_SIGMOID, SMELT_RNN_TANH, SMELT_RNN_TANH}};
  double *al = NULL, *be = NULL;
  int nal = on_att_floats(r, "activation_alpha", &al), nbe = on_att_floats(r, "activation_beta", &be), ial = 0, ibe = 0;
  for (int i = 0; i < (na ? na : nacts); i++) {
    if (na) {
      const char *nm = aa->strings[i].data ? (const char *)aa->strings[i].data : "";
      int len = aa->strings[i].data && aa->strings[i].len < 64 ? (int)aa->strings[i].len : 0;
      act[i] = smelt_rnn_act_lookup(nm, (size_t)len);
      if (act[i] < 0) return on_err(r, "unknown activation '%.*s'", len, nm);
    } else act[i] = defaults[cell][i];
    int ua, ub;
    smelt_rnn_act_params(act[i], &ua, &ub, &alpha[i], &beta[i]);
    if (ua && ial < nal) alpha[i] = al[ial++];
    if (ub && ibe < nbe) beta[i] = be[ibe++];
  }
  for (int i = na == want ? want : nacts; i < want; i++) { /* the second direction repeats the first */
    act[i] = act[i - nacts];
    alpha[i] = alpha[i - nacts];
    beta[i] = beta[i - nacts];
  }
  char names[256] = "";
  for (int i = 0; i < want; i++) snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? "," : "", smelt_rnn_act_name(act[i]));

  /* optional inputs: B, sequence_lens, initial_h, initial_c, P */
  int in[8] = {x, w, rw}, nin = 3, optin = 0, nopt = cell == SMELT_RNN_CELL_LSTM ? 5 : 3;
  for (int k = 0; k < nopt; k++) {
    if (!on_has_in(r, 3 + k)) continue;
    int v = on_in(r, 3 + k);
    if (v < 0) return SMELT_ERR;
    if (k == 1 && xs->rank == 3) { /* sequence_lens: drop a constant that covers every sequence */
      const smelt_value *c = on_const_val(r, v);
      smelt_dim S = xs->d[layout ? 1 : 0];
      if (c && !S.sym && !smelt_dtype_is_float(c->dt)) {
        int64_t *lens;
        int nl = on_const_ints(r, 3 + k, "sequence_lens", &lens), full = nl >= 0;
        for (int i = 0; i < nl; i++) full &= lens[i] == S.n;
        if (nl < 0) return SMELT_ERR;
        if (full) continue;
      }
    }
    if (k != 1 && zero_const(r, v)) continue; /* zero biases, states or peepholes */
    in[nin++] = v;
    optin |= 1 << k;
  }
  if (on_nin(r) > 3 + nopt) return on_err(r, "too many inputs");

  smelt_attr a[10];
  int nattr = 0;
  a[nattr++] = smelt_attr_int("hidden_size", hidden);
  a[nattr++] = smelt_attr_str("direction", dir);
  a[nattr++] = smelt_attr_int("layout", layout);
  const Onnx__AttributeProto *cl = on_att(r, "clip");
  a[nattr++] = smelt_attr_float("clip", cl ? on_att_f(r, "clip", INFINITY) : INFINITY);
  a[nattr++] = smelt_attr_str("activations", smelt_strdup(r->cx, names));
  a[nattr++] = smelt_attr_floats(r->cx, "alphas", alpha, want);
  a[nattr++] = smelt_attr_floats(r->cx, "betas", beta, want);
  a[nattr++] = smelt_attr_int("optin", optin);
  if (cell == SMELT_RNN_CELL_GRU) a[nattr++] = smelt_attr_int("linear_before_reset", on_att_i(r, "linear_before_reset", 0));
  if (cell == SMELT_RNN_CELL_LSTM) a[nattr++] = smelt_attr_int("input_forget", on_att_i(r, "input_forget", 0));

  int nout = cell == SMELT_RNN_CELL_LSTM ? 3 : 2;
  if (on_emit_n(r, (smelt_op)op, in, nin, a, nattr, nout, NULL) < 0) return SMELT_ERR;
  smelt_node *n = &r->g->nodes[r->g->nnodes - 1];
  int yh = n->out[0], y = n->out[1], yc = nout > 2 ? n->out[2] : -1;
  if (!on_has_out(r, 0) && !n->dead) n->out[1] = -1; /* Y not wanted: the kernel skips it */
  if (on_has_out(r, 0) && on_bind(r, 0, y)) return SMELT_ERR;
  if (on_has_out(r, 1) && on_bind(r, 1, yh)) return SMELT_ERR;
  if (on_has_out(r, 2)) {
    if (yc < 0) return on_err(r, "output Y_c exists only for LSTM");
    if (on_bind(r, 2, yc)) return SMELT_ERR;
  }
  return 0;
}

const struct on_lowering on_lower_rnn[] = {
    {"RNN", lower_rnn, SMELT_OP_RNN},
    {"GRU", lower_rnn, SMELT_OP_GRU},
    {"LSTM", lower_rnn, SMELT_OP_LSTM},
    {NULL, NULL, 0},
};
