/* ir/ir.h — the smelt intermediate representation.
 *
 * A graph holds values (SSA tensors) and nodes (operations) in topological order.
 * Values are identified by their index in g->values; a node names its inputs and
 * outputs by those indices.  Every value has a dtype and a shape; a dim is either a
 * constant or a symbol (g->syms) with an upper bound, read by kernels at run time and
 * sized for its bound by the memory planner.
 *
 * Everything a compilation allocates comes from the arena of its smelt_ctx and is
 * released by smelt_ctx_free().  Library code never prints or exits: failures return
 * SMELT_ERR after recording one diagnostic with its location (smelt_errorf).
 *
 * Invariants (checked by smelt_verify):
 *   - nodes are topologically ordered; each node value is produced exactly once;
 *   - node inputs/outputs match the op's arity and the attribute schema of ops.def;
 *   - values' dtypes and shapes are what shape inference says they are. */
#ifndef SMELT_IR_H
#define SMELT_IR_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SMELT_VERSION "0.1.0"
#define SMELT_MAX_RANK 8
#define SMELT_ERR (-1)

/* ---- dtypes ------------------------------------------------------------------- */
enum { DTF_FLOAT = 1, DTF_INT = 2, DTF_SIGNED = 4, DTF_BOOL = 8, DTF_HALF = 16, DTF_BLOCK = 32 };

typedef enum smelt_dtype {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) SMELT_DT_##id,
#include "dtypes.def"
#undef DT
  SMELT_DT_COUNT
} smelt_dtype;

const char *smelt_dtype_name(smelt_dtype dt);
const char *smelt_dtype_ctype(smelt_dtype dt); /* C storage type as text */
int smelt_dtype_bytes(smelt_dtype dt);       /* per element; per block for DTF_BLOCK types */
int smelt_dtype_blk(smelt_dtype dt);         /* elements per block (1 for scalar types) */
/* Bytes of n elements (n a multiple of the block size for block types). */
static inline int64_t smelt_dtype_nbytes(smelt_dtype dt, int64_t n);
unsigned smelt_dtype_flags(smelt_dtype dt);
const char *smelt_dtype_npy(smelt_dtype dt);   /* numpy descriptor, e.g. "<f4" */
int smelt_dtype_parse(const char *name, smelt_dtype *out); /* 0 or SMELT_ERR */
static inline int smelt_dtype_is_float(smelt_dtype dt) { return (smelt_dtype_flags(dt) & DTF_FLOAT) != 0; }
static inline int smelt_dtype_is_block(smelt_dtype dt) { return (smelt_dtype_flags(dt) & DTF_BLOCK) != 0; }
static inline int64_t smelt_dtype_nbytes(smelt_dtype dt, int64_t n) { return n / smelt_dtype_blk(dt) * smelt_dtype_bytes(dt); }
/* A weight dtype for f32 activations: MatMul(A f32 [..., M, K], B [N, K], trans_b=1)
 * computes on B's stored rows (runtime/smelt_quant.h: blocks, f16 or bf16), never
 * expanded to f32 first; f16 / bf16 B with f16 / bf16 A stays the same-dtype MatMul.
 * Gather of a table of these dtypes gives f32 rows (the ONNX reader casts back). */
static inline int smelt_dtype_is_weight_for(smelt_dtype act, smelt_dtype w) {
  return smelt_dtype_is_block(w) || (act == SMELT_DT_F32 && (w == SMELT_DT_F16 || w == SMELT_DT_BF16));
}

/* ---- ops ------------------------------------------------------------------------ */
enum {
  OPF_ELEMWISE = 1 << 0,    /* output[i] depends only on inputs at i (after broadcast) */
  OPF_COMMUTES = 1 << 1,    /* binary op with f(a,b) == f(b,a) */
  OPF_REDUCE = 1 << 2,      /* reduces over axes */
  OPF_VIEW = 1 << 3,        /* output is a reinterpretation of input 0's bytes */
  OPF_QUANTIZABLE = 1 << 4, /* has a weight operand a quantization pass may rewrite; it may be
                               block-quantized (MatMul's B, Gather's table) */
  OPF_INPLACE = 1 << 5,     /* output 0 is input 0 updated in place (input 0 is a state's
                               latest version, read by no one after this node) */
};

typedef enum smelt_op {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) SMELT_OP_##id,
#include "ops.def"
#undef OP
  SMELT_OP_COUNT
} smelt_op;

struct smelt_opinfo {
  const char *name;
  int nin_min, nin_max, nout_min, nout_max;
  const char *attrs; /* schema, see ops.def */
  const char *shape, *kind;
  unsigned flags;
  const char *fexpr, *iexpr; /* "0" when absent */
};
const struct smelt_opinfo *smelt_op_info(smelt_op op);
static inline unsigned smelt_op_flags(smelt_op op) { return smelt_op_info(op)->flags; }
int smelt_op_lookup(const char *name, smelt_op *out); /* by text name; 0 or SMELT_ERR */

/* ---- compilation context ---------------------------------------------------------- */
typedef struct smelt_ctx smelt_ctx;
smelt_ctx *smelt_ctx_new(void);
void smelt_ctx_free(smelt_ctx *cx);
/* The compilation's options (compiler/driver.h's struct smelt_build_opts), for passes
 * that need them (quantize, lora_merge, ...); NULL when none were set. */
void smelt_ctx_set_options(smelt_ctx *cx, const void *opts);
const void *smelt_ctx_options(const smelt_ctx *cx);
/* Registers fn(p) to run when the ctx is freed (decoded files, mappings). */
void smelt_ctx_on_free(smelt_ctx *cx, void (*fn)(void *), void *p);
/* Files a compilation read (for --depfile and the compile cache); -1 if one was lost. */
void smelt_ctx_note_input(smelt_ctx *cx, const char *path);
int smelt_ctx_ninputs(const smelt_ctx *cx);
const char *smelt_ctx_input(const smelt_ctx *cx, int i);
void *smelt_alloc(smelt_ctx *cx, size_t bytes);           /* zeroed, 16-aligned, never NULL-checked by callers: aborts the compilation via error state instead */
char *smelt_strdup(smelt_ctx *cx, const char *s);
char *smelt_strndup(smelt_ctx *cx, const char *s, size_t n);
char *smelt_sprintf(smelt_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records the first error (later ones are ignored) and returns SMELT_ERR. */
int smelt_errorf(smelt_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *smelt_error_msg(const smelt_ctx *cx); /* NULL if none */
int smelt_failed(const smelt_ctx *cx);
void smelt_clear_error(smelt_ctx *cx);
void smelt_warnf(smelt_ctx *cx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int smelt_warning_count(const smelt_ctx *cx);
const char *smelt_warning(const smelt_ctx *cx, int i);
/* Optional progress/log sink (the CLI sets it; the library never prints itself). */
typedef void (*smelt_log_fn)(void *user, int level, const char *msg);
void smelt_set_log(smelt_ctx *cx, smelt_log_fn fn, void *user);
void smelt_logf(smelt_ctx *cx, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* String -> int map in the ctx arena (names of values, symbols, ...). */
typedef struct smelt_map {
  smelt_ctx *cx;
  struct smelt_map_ent { const char *key; int val; } *e;
  int n, cap;
} smelt_map;
void smelt_map_init(smelt_map *m, smelt_ctx *cx);
int smelt_map_get(const smelt_map *m, const char *key); /* -1 when absent */
int smelt_map_put(smelt_map *m, const char *key, int val); /* replaces; 0 or SMELT_ERR */

/* ---- shapes ------------------------------------------------------------------------ */
typedef struct smelt_dim {
  int64_t n;   /* the value when sym == 0 */
  int32_t sym; /* 0: constant; k > 0: symbol g->syms[k-1] */
} smelt_dim;

typedef struct smelt_shape {
  int rank;
  smelt_dim d[SMELT_MAX_RANK];
} smelt_shape;

typedef struct smelt_sym {
  const char *name;
  int64_t max; /* upper bound (inclusive) */
} smelt_sym;

static inline smelt_dim smelt_dim_c(int64_t n) { smelt_dim d = {n, 0}; return d; }
static inline int smelt_dim_eq(smelt_dim a, smelt_dim b) { return a.sym == b.sym && (a.sym || a.n == b.n); }
static inline int smelt_dim_is(smelt_dim a, int64_t n) { return a.sym == 0 && a.n == n; }

/* ---- constants, values, nodes, graphs --------------------------------------------- */
typedef struct smelt_const {
  const void *data;  /* NULL for an opaque constant parsed from text without data */
  uint64_t nbytes;
  uint64_t hash;     /* XXH3-64 of the bytes */
  const char *file;  /* source file when a view of a mapped checkpoint, else NULL */
  uint64_t offset;   /* byte offset in file */
} smelt_const;

/* STATE: a tensor that persists across calls (an LLM's KV cache): read like an input,
 * updated in place by OPF_INPLACE ops. */
typedef enum smelt_vkind { SMELT_V_NODE, SMELT_V_INPUT, SMELT_V_CONST, SMELT_V_STATE } smelt_vkind;

typedef struct smelt_value {
  const char *name;
  smelt_dtype dt;
  smelt_shape shape;
  smelt_vkind kind;
  int producer; /* node index when kind == SMELT_V_NODE, else -1 */
  smelt_const c; /* when kind == SMELT_V_CONST */
} smelt_value;

typedef enum smelt_attr_type { SMELT_A_INT, SMELT_A_FLOAT, SMELT_A_INTS, SMELT_A_FLOATS, SMELT_A_STR, SMELT_A_DTYPE } smelt_attr_type;

typedef struct smelt_attr {
  const char *key;
  smelt_attr_type type;
  int n;        /* element count for INTS / FLOATS */
  int64_t i;    /* INT, DTYPE */
  double f;     /* FLOAT */
  int64_t *is;  /* INTS */
  double *fs;   /* FLOATS */
  const char *s;/* STR */
} smelt_attr;

typedef struct smelt_node {
  smelt_op op;
  const char *name; /* the source node's name (kernels are named after it) */
  int nin, nout;
  int *in, *out;    /* value indices; an absent optional output is -1 */
  int nattr;
  smelt_attr *attrs;
  int dead;         /* set by passes; removed by smelt_graph_compact */
} smelt_node;

typedef struct smelt_graph {
  smelt_ctx *cx;
  const char *name;
  const char *source;       /* path of the checkpoint */
  uint64_t source_hash;     /* XXH3 of the checkpoint bytes (0 if unknown) */
  smelt_value *values; int nvalues, cap_values;
  smelt_node *nodes; int nnodes, cap_nodes;
  int *inputs; int ninputs, cap_inputs;
  int *outputs; int noutputs, cap_outputs;
  int *states; int nstates, cap_states;
  smelt_sym *syms; int nsyms, cap_syms;
  struct smelt_plan *plan;  /* set by the memplan pass */
  unsigned eval_flags;      /* SMELT_EVAL_*: how the reference interpreter runs it (not IR) */
} smelt_graph;

/* eval_flags: SMELT_EVAL_ACT_Q8 makes the interpreter round the activations of MatMuls
 * by q8_0 / q4_0 / q4_k weights as the native block kernels do (runtime/smelt_simd.h:
 * int8 per block of 32, d = max|x| / 127, round to nearest even), so native builds can
 * be compared with it strictly. */
enum { SMELT_EVAL_ACT_Q8 = 1 };

smelt_graph *smelt_graph_new(smelt_ctx *cx, const char *name);
int smelt_graph_add_sym(smelt_graph *g, const char *name, int64_t max); /* returns sym id (>0) */
int smelt_graph_find_sym(const smelt_graph *g, const char *name);     /* id or 0 */
int smelt_graph_add_input(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s);
int smelt_graph_add_state(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s); /* static shape */
/* A constant over `data` (not copied: the caller keeps it alive as long as the ctx).
 * Identical constants (same dtype, shape and bytes) are stored once. */
int smelt_graph_add_const(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s,
                          const void *data, uint64_t nbytes);
/* Same, but copies data into the ctx arena. */
int smelt_graph_add_const_copy(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s,
                               const void *data, uint64_t nbytes);
void smelt_graph_add_output(smelt_graph *g, int value);

/* Adds a node and infers its outputs' dtypes and shapes.  `out_given` (may be NULL)
 * gives output 0's shape for ops of shape class "given" (Reshape, Expand).  Returns
 * the index of output 0, or SMELT_ERR with a diagnostic naming the node. */
int smelt_graph_add_node(smelt_graph *g, smelt_op op, const char *name, const int *in, int nin,
                         const smelt_attr *attrs, int nattr, int nout, const smelt_shape *out_given);
static inline smelt_value *smelt_val(const smelt_graph *g, int v) { return &g->values[v]; }
void smelt_graph_compact(smelt_graph *g); /* drops dead nodes and unreferenced values */

/* ---- attributes -------------------------------------------------------------------- */
smelt_attr smelt_attr_int(const char *key, int64_t v);
smelt_attr smelt_attr_float(const char *key, double v);
smelt_attr smelt_attr_ints(smelt_ctx *cx, const char *key, const int64_t *v, int n);
smelt_attr smelt_attr_floats(smelt_ctx *cx, const char *key, const double *v, int n);
smelt_attr smelt_attr_str(const char *key, const char *s);
smelt_attr smelt_attr_dtype(const char *key, smelt_dtype dt);
/* Sets integer attributes keys[i] = vals[i] (i < n) on node n, replacing those keys, in a
 * fresh attribute array (builders may share one between nodes).  SMELT_ERR when out of
 * memory. */
int smelt_node_set_ints(smelt_ctx *cx, smelt_node *node, int n, const char *const *keys, const int64_t *vals);
/* Lookups fall back to the schema default in ops.def when the node lacks the key. */
const smelt_attr *smelt_node_attr(const smelt_node *n, const char *key);
int64_t smelt_attr_i(const smelt_node *n, const char *key);
double smelt_attr_f(const smelt_node *n, const char *key);
const char *smelt_attr_s(const smelt_node *n, const char *key);
int smelt_attr_ints_get(const smelt_node *n, const char *key, const int64_t **v); /* returns count */
/* Parses the schema of op: fills names/types/defaults.  Returns the count. */
struct smelt_attr_spec { char name[32]; smelt_attr_type type; int has_default; char def[64]; };
int smelt_attr_schema(smelt_op op, struct smelt_attr_spec *out, int max);

/* ---- shapes ------------------------------------------------------------------------ */
/* Element count with symbols at their bounds; SMELT_ERR on overflow past 2^62. */
int64_t smelt_shape_max_elems(const smelt_graph *g, const smelt_shape *s);
int smelt_shape_is_static(const smelt_shape *s);
int smelt_shape_eq(const smelt_shape *a, const smelt_shape *b);
char *smelt_shape_str(const smelt_graph *g, const smelt_shape *s, char *buf, size_t n); /* "[1,S,64]" */
int smelt_shape_infer(smelt_graph *g, int node); /* sets the outputs' dtype/shape */
/* Concrete dims of s given symbol values sym[0..nsyms-1]. */
void smelt_shape_resolve(const smelt_shape *s, const int64_t *symvals, int64_t *dims);

/* ---- hashing --------------------------------------------------------------------- */
uint64_t smelt_hash(const void *data, size_t n);
uint64_t smelt_hash_file(const char *path, int *err);

/* ---- text form, verification ----------------------------------------------------- */
enum { SMELT_PRINT_CONSTS = 1 }; /* print every constant's data (for exact round trips) */
int smelt_print(const smelt_graph *g, FILE *f, unsigned flags);
smelt_graph *smelt_parse(smelt_ctx *cx, const char *text, size_t len, const char *filename);
int smelt_verify(const smelt_graph *g);

/* ---- concrete tensors (reference interpreter, .npy I/O) --------------------------- */
typedef struct smelt_tensor {
  smelt_dtype dt;
  int rank;
  int64_t dims[SMELT_MAX_RANK];
  void *data;  /* malloc'ed by the owner */
} smelt_tensor;

int64_t smelt_tensor_elems(const smelt_tensor *t);
/* Runs the graph on concrete inputs (one per graph input, in order).  Symbols take
 * their values from the inputs' dims.  Outputs are malloc'ed; free with
 * smelt_tensor_free.  Returns 0 or SMELT_ERR. */
int smelt_eval(const smelt_graph *g, const smelt_tensor *inputs, smelt_tensor *outputs);
/* The same for graphs with state: states[i] (one per g->states entry, in order) are
 * the caller's buffers, updated in place. */
int smelt_eval_state(const smelt_graph *g, const smelt_tensor *inputs, smelt_tensor *outputs, smelt_tensor *states);
/* Evaluates one node over concrete inputs (used by constant folding). */
int smelt_eval_node(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out);
void smelt_tensor_free(smelt_tensor *t);
double smelt_tensor_getf(const smelt_tensor *t, int64_t i); /* element i as a double */
void smelt_tensor_setf(smelt_tensor *t, int64_t i, double v);  /* rounds; integers saturate */
void smelt_tensor_seti(smelt_tensor *t, int64_t i, int64_t v); /* integers truncate to the width */
/* Row of k values of a weight dtype (blocks, f16, bf16; f32 copies) as f32, with the
 * runtime's own functions (runtime/smelt_quant.h).  SMELT_ERR for other dtypes. */
int smelt_dequantize_row(smelt_dtype dt, const void *row, float *y, int64_t k);

#endif
