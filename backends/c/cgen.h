/* backends/c/cgen.h — helpers the C backend's kernel emitters share: a growable
 * text buffer, C spellings of dtypes, loads/stores through half-precision
 * conversions, dims (constants or ctx->dims[k]) as C expressions, and the
 * substitution of ops.def formulas.
 *
 * Every kernel is a function
 *     static int NAME_kI(NAME_ctx *ctx, const T *restrict x0, ..., T *restrict y0, ...)
 * opened by a comment with the op, source node and shapes; emit_<kind>() writes
 * its body and returns 0 or SMELT_ERR. */
#ifndef SMELT_CGEN_H
#define SMELT_CGEN_H

#include "backends/backend.h"

struct sbuf { char *p; size_t n, cap; int oom; };
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_puts(struct sbuf *b, const char *s);
void sb_free(struct sbuf *b);

struct cg {
  smelt_graph *g;
  smelt_ctx *cx;
  const struct smelt_emit_opts *o;
  struct sbuf *b;     /* where kernel bodies go */
  int indent;
  const char *kname;  /* the C name of the kernel being emitted (emit.c sets it) */
};

/* indented line */
void cg_line(struct cg *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define CG_IN(c) ((c)->indent++)
#define CG_OUT(c) ((c)->indent--)

const char *cg_ctype(smelt_dtype dt);     /* storage type: "float", "uint16_t", ... */
const char *cg_comptype(smelt_dtype dt);  /* computation type of elementwise code */
const char *cg_load(struct cg *c, smelt_dtype dt, const char *expr);   /* to comptype */
const char *cg_store(struct cg *c, smelt_dtype dt, const char *expr);  /* from any arithmetic type */
const char *cg_dim(struct cg *c, smelt_dim d);                          /* "28" or "ctx->dims[0]" */
const char *cg_mul(struct cg *c, const char *a, const char *b);         /* folded product text */
const char *cg_elems(struct cg *c, const smelt_shape *s, int from, int to); /* product of dims [from,to) */
/* An ops.def formula with P(k) and SM_TMIN/SM_TMAX replaced for node n and type t;
 * part: -1 the whole formula, 0/1/2 the init/accumulate/finalize of SM_RED(...). */
const char *cg_formula(struct cg *c, const smelt_node *n, const char *expr, int part, smelt_dtype t);
const char *cg_double(struct cg *c, double v); /* C literal, INFINITY/NAN aware */

static inline const smelt_value *cg_in(struct cg *c, const smelt_node *n, int i) { return &c->g->values[n->in[i]]; }
static inline const smelt_value *cg_out(struct cg *c, const smelt_node *n, int i) { return &c->g->values[n->out[i]]; }

#define KIND(k) int emit_##k(struct cg *c, const smelt_node *n);
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) KIND(kind)
#include "ir/ops.def"
#undef OP
#undef KIND
/* For a Fused node with an anchor: the anchor's kernel as a helper function, written
 * before the node's own kernel (backends/c/k_fused.c); 0 for every other node. */
int emit_fused_pre(struct cg *c, const smelt_node *n);

/* a Conv whose weights are in Winograd form (wino = m, ir/wino.h): backends/c/k_wino.c */
int emit_conv_wino(struct cg *c, const smelt_node *n);

#endif

/* ---- loop nests over an output index space -----------------------------------------
 * Operand 0 is the (contiguous) output; operands 1.. have one stride per output axis
 * ("0" where they broadcast).  nest_simplify drops unit axes and merges adjacent axes
 * whose strides allow it, so a same-shape elementwise op becomes one flat loop. */
#define NEST_MAXOPS 6
struct nest {
  int q, nops;
  const char *dim[SMELT_MAX_RANK];
  const char *st[NEST_MAXOPS][SMELT_MAX_RANK];
  const char *var; /* loop variable prefix */
};
void nest_init(struct cg *c, struct nest *ns, const smelt_shape *out, const char *var);
/* adds an operand broadcast to the output shape; returns its operand index */
int nest_add_bcast(struct cg *c, struct nest *ns, const smelt_shape *in);
void nest_simplify(struct cg *c, struct nest *ns);
void nest_open(struct cg *c, struct nest *ns, const char **off);
void nest_close(struct cg *c, struct nest *ns);
