/* ir/rnn.c — the activation table of the recurrent ops and the decoding of RNN /
 * GRU / LSTM nodes into a struct smelt_rnn (see ir/rnn.h).  The checks here are
 * the op's shape rules: shape inference reports their messages, and the
 * interpreter and the backends rely on a description that passed them. */
#include "rnn.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

static const struct {
  const char *name, *formula;
  int ua, ub;
  double da, db;
} acts[] = {
#define X(id, name, ua, ub, da, db, e) {name, #e, ua, ub, da, db},
    SMELT_RNN_ACTS(X)
#undef X
};

const char *smelt_rnn_act_name(int act) { return act >= 0 && act < SMELT_RNN_NACT ? acts[act].name : "?"; }
const char *smelt_rnn_act_formula(int act) { return act >= 0 && act < SMELT_RNN_NACT ? acts[act].formula : "x"; }

int smelt_rnn_act_lookup(const char *name, size_t len) {
  for (int i = 0; i < SMELT_RNN_NACT; i++)
    if (strlen(acts[i].name) == len && !strncasecmp(acts[i].name, name, len)) return i;
  return -1;
}

void smelt_rnn_act_params(int act, int *uses_alpha, int *uses_beta, double *def_alpha, double *def_beta) {
  *uses_alpha = acts[act].ua;
  *uses_beta = acts[act].ub;
  *def_alpha = acts[act].da;
  *def_beta = acts[act].db;
}

double smelt_rnn_act_eval(int act, double x, double A, double B) {
  typedef double T;
  (void)A;
  (void)B;
  switch (act) {
#define X(id, name, ua, ub, da, db, e) \
  case SMELT_RNN_##id: return e;
    SMELT_RNN_ACTS(X)
#undef X
  default: return x;
  }
}

static int bad(char *err, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
  return SMELT_ERR;
}

static int dims_are(const smelt_shape *s, int rank, const smelt_dim *d) {
  if (s->rank != rank) return 0;
  for (int i = 0; i < rank; i++)
    if (!smelt_dim_eq(s->d[i], d[i])) return 0;
  return 1;
}

/* The activation list: per-direction defaults when empty; else exactly D * nacts names. */
static int parse_acts(const smelt_node *n, struct smelt_rnn *r, char *err, size_t errn) {
  static const int defaults[3][3] = {{SMELT_RNN_TANH}, {SMELT_RNN_SIGMOID, SMELT_RNN_TANH}, {SMELT_RNN_SIGMOID, SMELT_RNN_TANH, SMELT_RNN_TANH}};
  const char *s = smelt_attr_s(n, "activations");
  int want = r->ndir * r->nacts, k = 0;
  if (!*s) {
    for (int d = 0; d < r->ndir; d++)
      for (int i = 0; i < r->nacts; i++) r->act[d * r->nacts + i] = defaults[r->cell][i];
  } else {
    for (const char *p = s;; k++) {
      while (*p == ' ') p++;
      size_t len = strcspn(p, ","), end = len;
      while (end > 0 && p[end - 1] == ' ') end--;
      int a = smelt_rnn_act_lookup(p, end);
      if (a < 0) return bad(err, errn, "unknown activation '%.*s'", (int)end, p);
      if (k >= want) return bad(err, errn, "activations lists more than %d functions", want);
      r->act[k] = a;
      if (!p[len]) break;
      p += len + 1;
    }
    if (k + 1 != want) return bad(err, errn, "activations must list %d functions (%d per direction), not %d", want, r->nacts, k + 1);
  }
  const smelt_attr *al = smelt_node_attr(n, "alphas"), *be = smelt_node_attr(n, "betas");
  int na = al && al->type == SMELT_A_FLOATS ? al->n : 0, nb = be && be->type == SMELT_A_FLOATS ? be->n : 0;
  if ((na && na != want) || (nb && nb != want)) return bad(err, errn, "alphas and betas must give one value per activation (%d) or none", want);
  for (int i = 0; i < want; i++) {
    int ua, ub;
    smelt_rnn_act_params(r->act[i], &ua, &ub, &r->alpha[i], &r->beta[i]);
    if (na) r->alpha[i] = al->fs[i];
    if (nb) r->beta[i] = be->fs[i];
  }
  return 0;
}

int smelt_rnn_describe(const smelt_graph *g, const smelt_node *n, struct smelt_rnn *r, char *err, size_t errn) {
  memset(r, 0, sizeof *r);
  r->cell = n->op == SMELT_OP_RNN ? SMELT_RNN_CELL_RNN : n->op == SMELT_OP_GRU ? SMELT_RNN_CELL_GRU : SMELT_RNN_CELL_LSTM;
  r->ngates = r->cell == SMELT_RNN_CELL_RNN ? 1 : r->cell == SMELT_RNN_CELL_GRU ? 3 : 4;
  r->nacts = r->cell == SMELT_RNN_CELL_RNN ? 1 : r->cell == SMELT_RNN_CELL_GRU ? 2 : 3;
  const char *dir = smelt_attr_s(n, "direction");
  if (!strcmp(dir, "forward")) r->ndir = 1;
  else if (!strcmp(dir, "reverse")) r->ndir = 1, r->reverse = 1;
  else if (!strcmp(dir, "bidirectional")) r->ndir = 2;
  else return bad(err, errn, "direction must be forward, reverse or bidirectional, not '%s'", dir);
  r->layout = (int)smelt_attr_i(n, "layout");
  if (r->layout != 0 && r->layout != 1) return bad(err, errn, "layout must be 0 or 1");
  r->hidden = smelt_attr_i(n, "hidden_size");
  if (r->hidden <= 0 || r->hidden > (1 << 24)) return bad(err, errn, "hidden_size must be positive");
  r->clip = smelt_attr_f(n, "clip");
  if (!(r->clip > 0)) return bad(err, errn, "clip must be positive");
  if (r->cell == SMELT_RNN_CELL_GRU) r->linear_before_reset = smelt_attr_i(n, "linear_before_reset") != 0;
  if (r->cell == SMELT_RNN_CELL_LSTM) r->input_forget = smelt_attr_i(n, "input_forget") != 0;
  if (parse_acts(n, r, err, errn)) return SMELT_ERR;

  /* optional inputs */
  int64_t opt = smelt_attr_i(n, "optin");
  int allowed = SMELT_RNN_IN_B | SMELT_RNN_IN_SEQ | SMELT_RNN_IN_H0 | (r->cell == SMELT_RNN_CELL_LSTM ? SMELT_RNN_IN_C0 | SMELT_RNN_IN_P : 0);
  if (opt & ~(int64_t)allowed) return bad(err, errn, "optin names inputs this op does not have");
  int *slot[5] = {&r->in_b, &r->in_seq, &r->in_h0, &r->in_c0, &r->in_p}, k = 3;
  for (int i = 0; i < 5; i++) *slot[i] = (opt >> i) & 1 ? k++ : -1;
  if (k != n->nin) return bad(err, errn, "%d inputs, but optin names %d", n->nin, k);

  /* shapes */
  const smelt_value *X = &g->values[n->in[0]], *W = &g->values[n->in[1]], *R = &g->values[n->in[2]];
  smelt_dtype dt = X->dt;
  if (dt != SMELT_DT_F32 && dt != SMELT_DT_F64) return bad(err, errn, "needs f32 or f64 operands, not %s", smelt_dtype_name(dt));
  if (X->shape.rank != 3) return bad(err, errn, "X must have rank 3");
  const smelt_dim *xs = X->shape.d;
  smelt_dim S = xs[r->layout ? 1 : 0], N = xs[r->layout ? 0 : 1], I = xs[2];
  if (S.sym || I.sym) return bad(err, errn, "only the batch dim of X may be symbolic; fix the others with --dim");
  r->seq = S.n;
  r->input = I.n;
  r->batch = N;
  r->batch_max = N.sym ? g->syms[N.sym - 1].max : N.n;
  int64_t D = r->ndir, H = r->hidden, GH = r->ngates * H;
  smelt_dim wd[3] = {smelt_dim_c(D), smelt_dim_c(GH), I}, rd[3] = {smelt_dim_c(D), smelt_dim_c(GH), smelt_dim_c(H)};
  if (!dims_are(&W->shape, 3, wd)) return bad(err, errn, "W must be [%lld,%lld,%lld]", (long long)D, (long long)GH, (long long)I.n);
  if (!dims_are(&R->shape, 3, rd)) return bad(err, errn, "R must be [%lld,%lld,%lld]", (long long)D, (long long)GH, (long long)H);
  smelt_dim st[3] = {smelt_dim_c(D), N, smelt_dim_c(H)};
  if (r->layout) st[0] = N, st[1] = smelt_dim_c(D);
  struct { int idx; int rank; smelt_dim d[3]; const char *what; } want[5] = {
      {r->in_b, 2, {smelt_dim_c(D), smelt_dim_c(2 * GH)}, "B must be [D, 2*gates*hidden_size]"},
      {r->in_seq, 1, {N}, "sequence_lens must be [batch]"},
      {r->in_h0, 3, {st[0], st[1], st[2]}, "initial_h must have the shape of Y_h"},
      {r->in_c0, 3, {st[0], st[1], st[2]}, "initial_c must have the shape of Y_c"},
      {r->in_p, 2, {smelt_dim_c(D), smelt_dim_c(3 * H)}, "P must be [D, 3*hidden_size]"},
  };
  for (int i = 0; i < 3; i++)
    if (g->values[n->in[i]].dt != dt) return bad(err, errn, "X, W and R must have the same dtype");
  for (int i = 0; i < 5; i++) {
    if (want[i].idx < 0) continue;
    const smelt_value *v = &g->values[n->in[want[i].idx]];
    if (!dims_are(&v->shape, want[i].rank, want[i].d)) return bad(err, errn, "%s", want[i].what);
    if (i == 1 ? v->dt != SMELT_DT_I32 && v->dt != SMELT_DT_I64 : v->dt != dt)
      return bad(err, errn, i == 1 ? "sequence_lens must be i32 or i64" : "optional inputs must have the dtype of X");
  }
  return 0;
}
