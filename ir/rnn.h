/* ir/rnn.h — what the recurrent ops of ops.def (RNN, GRU, LSTM) share between shape
 * inference, the reference interpreter and the backends.
 *
 * SMELT_RNN_ACTS is the table of ONNX's recurrent activation functions: each row is
 * a scalar formula over x with parameters A (alpha) and B (beta) in the computation
 * type T, compiled in double by the interpreter (ir/rnn.c) and printed by the C
 * backend with A and B replaced by the node's values, like ops.def's formulas.
 *
 * smelt_rnn_describe() decodes a node (attributes, optional inputs, shapes) into one
 * struct smelt_rnn, checking everything shape inference needs, so the interpreter
 * and the kernels read a description that is known to be consistent. */
#ifndef SMELT_RNN_H
#define SMELT_RNN_H

#include "ir.h"

/*  X(id,             name,              uses alpha, uses beta, default alpha, default beta, formula) */
#define SMELT_RNN_ACTS(X)                                                                              \
  X(RELU,             "Relu",            0, 0, 0, 0, (x > 0 ? x : (T)0))                               \
  X(TANH,             "Tanh",            0, 0, 0, 0, tanh(x))                                          \
  X(SIGMOID,          "Sigmoid",         0, 0, 0, 0, (T)1 / ((T)1 + exp(-x)))                          \
  X(AFFINE,           "Affine",          1, 1, 1, 0, A * x + B)                                        \
  X(LEAKY_RELU,       "LeakyRelu",       1, 0, 0.01, 0, (x >= 0 ? x : A * x))                          \
  X(THRESHOLDED_RELU, "ThresholdedRelu", 1, 0, 1, 0, (x > A ? x : (T)0))                               \
  X(SCALED_TANH,      "ScaledTanh",      1, 1, 1, 1, A * tanh(B * x))                                  \
  X(HARD_SIGMOID,     "HardSigmoid",     1, 1, 0.2, 0.5, fmax((T)0, fmin((T)1, A * x + B)))            \
  X(ELU,              "Elu",             1, 0, 1, 0, (x >= 0 ? x : A * expm1(x)))                      \
  X(SOFTSIGN,         "Softsign",        0, 0, 0, 0, x / ((T)1 + fabs(x)))                             \
  X(SOFTPLUS,         "Softplus",        0, 0, 0, 0, (x > 0 ? x : (T)0) + log1p(exp(-fabs(x))))

enum smelt_rnn_act {
#define X(id, name, ua, ub, da, db, e) SMELT_RNN_##id,
  SMELT_RNN_ACTS(X)
#undef X
  SMELT_RNN_NACT
};

enum smelt_rnn_cell { SMELT_RNN_CELL_RNN, SMELT_RNN_CELL_GRU, SMELT_RNN_CELL_LSTM };
enum { SMELT_RNN_MAX_ACTS = 6 }; /* 3 per direction, 2 directions */
/* bits of the `optin` attribute: which optional inputs follow X, W, R (in this order) */
enum { SMELT_RNN_IN_B = 1, SMELT_RNN_IN_SEQ = 2, SMELT_RNN_IN_H0 = 4, SMELT_RNN_IN_C0 = 8, SMELT_RNN_IN_P = 16 };

struct smelt_rnn {
  enum smelt_rnn_cell cell;
  int ngates;         /* G: 1, 3, 4 */
  int nacts;          /* activations per direction: 1, 2, 3 */
  int ndir;           /* D: 1 or 2 */
  int reverse;        /* direction == reverse (with 2 directions the second is reversed) */
  int layout;         /* 0: sequence first; 1: batch first */
  int64_t seq, batch_max, input, hidden; /* S, N (its bound when symbolic), I, H */
  smelt_dim batch;    /* N as a dim (may be symbolic) */
  double clip;        /* INFINITY: no clipping */
  int linear_before_reset, input_forget;
  int act[SMELT_RNN_MAX_ACTS];              /* direction d, function k: act[d * nacts + k] */
  double alpha[SMELT_RNN_MAX_ACTS], beta[SMELT_RNN_MAX_ACTS];
  int in_b, in_seq, in_h0, in_c0, in_p;     /* node input index of each optional input, or -1 */
};

/* Fills r from node n of g; on failure writes a one-line reason to err and returns
 * SMELT_ERR (the caller adds the node's name). */
int smelt_rnn_describe(const smelt_graph *g, const smelt_node *n, struct smelt_rnn *r, char *err, size_t errn);
/* The activation's canonical name; the id of a name (case-insensitive), or -1. */
const char *smelt_rnn_act_name(int act);
int smelt_rnn_act_lookup(const char *name, size_t len);
/* Whether it uses alpha / beta, and their defaults (ONNX's, per function). */
void smelt_rnn_act_params(int act, int *uses_alpha, int *uses_beta, double *def_alpha, double *def_beta);
/* The formula's text (over x, A, B, T), as in the table above. */
const char *smelt_rnn_act_formula(int act);
/* The formula in double. */
double smelt_rnn_act_eval(int act, double x, double alpha, double beta);

#endif
