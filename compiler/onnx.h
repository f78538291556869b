/* compiler/onnx.h — internals of the ONNX reader shared by read_onnx.c (file,
 * protobuf, tensors, graph I/O, dispatch) and the onnx_lower_*.c files (one family
 * of ONNX operators each, lowered to IR ops).
 *
 * A lowering reads its node's inputs with on_in(), attributes with on_att_*(),
 * builds IR nodes with on_emit() (which folds them at once when their inputs are
 * constants, so shape arithmetic becomes constant) and binds each ONNX output name
 * with on_bind().  Operands that must be known at compile time (Reshape's shape,
 * Slice's starts...) are fetched with on_const_ints(); when such an operand is a
 * graph input the error tells the user about --const.
 *
 * Shape tensors of symbolic dims (Shape of a [batch, 128] input) are tracked as
 * "symbolic shape values": 1-D int64 lists of dims, understood by Shape, Gather,
 * Slice, Concat, Unsqueeze, Squeeze, Cast, Identity and consumed by Reshape, Expand
 * and ConstantOfShape. */
#ifndef SMELT_ONNX_H
#define SMELT_ONNX_H

#include "compiler/read.h"
#include "onnx.pb-c.h"
#include "passes/passes.h"

#define ON_MAX_SYMSHAPE 8

typedef struct onnx_rd {
  smelt_ctx *cx;
  smelt_graph *g;
  const char *path, *dir;
  const struct smelt_load_opts *o;
  Onnx__ModelProto *model;
  int64_t opset;
  smelt_map names;         /* ONNX value name -> IR value, or -2 - k for symbolic shape k */
  struct on_symshape { smelt_dim d[ON_MAX_SYMSHAPE]; int n, scalar; } *sym;
  int nsym, cap_sym;
  const Onnx__NodeProto *node; /* being lowered */
  int emitted;             /* IR nodes emitted for the current ONNX node */
} onnx_rd;

/* ---- errors -------------------------------------------------------------------- */
/* "FILE: node 'NAME' (OpType): message" */
int on_err(onnx_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- inputs and outputs of the current node --------------------------------------- */
int on_nin(onnx_rd *r);                  /* number of inputs (trailing empty ones dropped) */
int on_has_in(onnx_rd *r, int k);        /* input k given (non-empty name) */
int on_in(onnx_rd *r, int k);            /* IR value of input k, or SMELT_ERR with a diagnostic */
int on_nout(onnx_rd *r);
int on_has_out(onnx_rd *r, int k);       /* output k requested */
int on_bind(onnx_rd *r, int k, int v);   /* ONNX output k is IR value v */
int on_is_symshape(onnx_rd *r, int k);   /* input k is a symbolic shape value */
/* Its dims; returns the length; *scalar is set for a rank-0 value (one dim). */
int on_symshape_in(onnx_rd *r, int k, smelt_dim *dims, int *scalar);
/* Binds output k to a 1-D shape value (an ordinary constant when no dim is symbolic). */
int on_bind_symshape(onnx_rd *r, int k, const smelt_dim *dims, int n);
int on_bind_symscalar(onnx_rd *r, int k, smelt_dim d); /* rank 0 */

/* ---- compile-time operands ------------------------------------------------------- */
/* Input k as a constant tensor of any integer type, converted to int64 (arena copy).
 * Returns the element count, or SMELT_ERR (naming `what` and suggesting --const). */
int on_const_ints(onnx_rd *r, int k, const char *what, int64_t **vals);
int on_const_floats(onnx_rd *r, int k, const char *what, double **vals);
const smelt_value *on_const_val(onnx_rd *r, int v); /* the value if a constant with data, else NULL */

/* ---- attributes ---------------------------------------------------------------- */
const Onnx__AttributeProto *on_att(onnx_rd *r, const char *name);
int64_t on_att_i(onnx_rd *r, const char *name, int64_t def);
double on_att_f(onnx_rd *r, const char *name, double def);
const char *on_att_s(onnx_rd *r, const char *name, const char *def); /* arena copy */
int on_att_ints(onnx_rd *r, const char *name, int64_t **vals);        /* -1 when absent */
int on_att_floats(onnx_rd *r, const char *name, double **vals);       /* -1 when absent */

/* ---- building ------------------------------------------------------------------------ */
/* Adds an IR node (named after the ONNX node) and folds it when its inputs are all
 * constants.  Returns output 0's value. */
int on_emit(onnx_rd *r, smelt_op op, const int *in, int nin, const smelt_attr *a, int na, const smelt_shape *given);
int on_emit_n(onnx_rd *r, smelt_op op, const int *in, int nin, const smelt_attr *a, int na, int nout, const smelt_shape *given);
int on_unary(onnx_rd *r, smelt_op op, int x);
int on_binary(onnx_rd *r, smelt_op op, int x, int y);
int on_cast(onnx_rd *r, int x, smelt_dtype to);
int on_reshape(onnx_rd *r, int x, const smelt_shape *s);
int on_transpose(onnx_rd *r, int x, const int64_t *perm, int n);
int on_reduce(onnx_rd *r, smelt_op op, int x, const int64_t *axes, int naxes, int keepdims);
int on_scalar(onnx_rd *r, smelt_dtype dt, double v);          /* rank-0 constant */
int on_const_tensor(onnx_rd *r, smelt_dtype dt, const smelt_shape *s, const void *data);
smelt_dtype on_dtype(onnx_rd *r, int v);
const smelt_shape *on_shape(onnx_rd *r, int v);
int on_norm_axis(onnx_rd *r, int64_t axis, int rank); /* SMELT_ERR with a diagnostic when out of range */

/* ---- windows (Conv, ConvTranspose, pooling) ------------------------------------------ */
/* kernel, strides, dilations and pads of a window op on input x (rank >= 3), from the
 * node's strides / dilations / pads / auto_pad attributes; kernel[] gives the window
 * sizes (from kernel_shape or the weight).  Errors name the bad attribute. */
struct on_window { int nsp; int64_t k[SMELT_MAX_RANK], s[SMELT_MAX_RANK], d[SMELT_MAX_RANK], p[2 * SMELT_MAX_RANK]; };
int on_window(onnx_rd *r, const smelt_shape *x, const int64_t *kernel, struct on_window *w);
/* writes [kernel,] strides, pads, dilations as IR attributes; returns how many */
int on_window_attrs(onnx_rd *r, const struct on_window *w, smelt_attr *a, int with_kernel);

/* ---- tensors ----------------------------------------------------------------------- */
/* Converts an ONNX TensorProto into dtype/shape/data (data may point into the proto
 * or the mapped external file; converted copies live in the ctx arena). */
int on_tensor(smelt_ctx *cx, const char *where, const char *dir, const Onnx__TensorProto *t, smelt_dtype *dt,
              smelt_shape *s, const void **data, uint64_t *nbytes);
int on_dtype_from_onnx(int32_t code, smelt_dtype *dt);

/* ---- dispatch ---------------------------------------------------------------------- */
typedef int (*on_lower_fn)(onnx_rd *r, int arg);
struct on_lowering { const char *op; on_lower_fn fn; int arg; };
/* Each onnx_lower_*.c exports its table, ending with {NULL}. */
extern const struct on_lowering on_lower_elemwise[], on_lower_tensor[], on_lower_nn[], on_lower_quant[];
extern const struct on_lowering on_lower_rnn[];
extern const struct on_lowering on_lower_nn2[];
extern const struct on_lowering on_lower_gather[];

#endif
