/* passes/passes.h — the pass interface and the passes' entry points.
 *
 * A pass rewrites a graph in place and keeps the reference interpreter's results
 * (within the tolerance its file states).  compiler/driver.c lists the pipeline. */
#ifndef SMELT_PASSES_H
#define SMELT_PASSES_H

#include "ir/ir.h"

struct smelt_pass {
  const char *name;
  int (*run)(smelt_ctx *cx, smelt_graph *g);
};

/* Memory plan: where each value lives at run time. */
struct smelt_plan {
  int64_t *offset;      /* per value: byte offset in the arena (the state region for states),
                           or -1 (input, output, constant, view) */
  int *alias;           /* per value: the value whose bytes it is (OPF_VIEW and OPF_INPLACE
                           outputs, and elementwise outputs memplan put in place: the
                           root of the chain), or -1 */
  int64_t *size;        /* per value: bytes reserved (symbols at their bounds) */
  int64_t *view_off;    /* per value with an alias: byte offset of its bytes in the root's
                           (a contiguous Slice: passes/views.c), else 0 */
  int64_t arena_bytes;  /* total arena size (scratch; states are not in it) */
  int64_t state_bytes;  /* the state region: offset[v] of a state value is inside it */
  int64_t lower_bound;  /* largest sum of simultaneously live arena values */
  /* after smelt_memplan_joint (states inside the arena: state_bytes is 0 and every
   * offset, a state's too, is from the arena's start): */
  int joint;               /* entry points planned together, 0 for memplan's own plan */
  int64_t states_in_arena; /* bytes of states inside the arena */
  int64_t scratch_bytes, scratch_lower_bound, *scratch_offset; /* memplan's own scratch plan */
};

int smelt_pass_memplan(smelt_ctx *cx, smelt_graph *g);
/* A block of arena bytes live over node positions [start, end], placed at off. */
struct smelt_span { int64_t start, end, size, off; };
/* memplan's placement: each span in turn (callers sort them, largest first) at the
 * lowest offset clear of every span placed before it that is live at the same time.
 * The spans are the first member of n items `stride` bytes apart.  Returns the arena
 * size, or -1 when out of memory. */
int64_t smelt_place_spans(void *items, int n, size_t stride);
/* States and scratch in one plan (passes/memplan_joint.c): the graphs gs[0..n) run one
 * at a time over one arena and share their states (an LLM's prefill and decode). */
int smelt_memplan_joint(smelt_ctx *cx, smelt_graph **gs, int n);
/* memplan, then (a graph with states) its states planned into the same arena: the
 * pipeline's "memplan" step. */
int smelt_pass_memplan_states(smelt_ctx *cx, smelt_graph *g);
/* Reorders the nodes to lower the peak of live bytes (passes/schedule.c). */
int smelt_pass_schedule(smelt_ctx *cx, smelt_graph *g);
/* memplan's lower bound and arena for g's current order (g->plan is kept). */
int smelt_schedule_peak(smelt_ctx *cx, smelt_graph *g, int64_t *lower_bound, int64_t *arena);
int smelt_pass_dce(smelt_ctx *cx, smelt_graph *g);
/* Weight-only quantization of MatMul weights per the build options (--quant). */
int smelt_pass_quantize(smelt_ctx *cx, smelt_graph *g);
struct smelt_quant_memo;
struct smelt_quant_memo *smelt_quant_memo_new(smelt_ctx *cx);
/* --quant's schemes: is s one, and all of them as "f16, int8, ..." */
int smelt_quant_scheme_known(const char *s);
const char *smelt_quant_scheme_list(void);
int smelt_pass_cse(smelt_ctx *cx, smelt_graph *g);
int smelt_pass_fuse(smelt_ctx *cx, smelt_graph *g);
/* Written-out LayerNorm and GELU (ONNX exporters) as one op each (passes/idioms.c). */
int smelt_pass_idioms(smelt_ctx *cx, smelt_graph *g);
/* Packs MatMul weights into the target GEMM's panels (pack attribute, ir/pack.h). */
int smelt_pass_layout(smelt_ctx *cx, smelt_graph *g);
/* its Winograd step for 3x3 stride-1 Convs (passes/wino.c) */
int smelt_layout_wino(smelt_ctx *cx, smelt_graph *g);
struct smelt_layout_memo;
struct smelt_layout_memo *smelt_layout_memo_new(smelt_ctx *cx);
struct smelt_build_opts;
int smelt_layout_would_pack(const struct smelt_build_opts *o, smelt_dtype dt, int64_t elems);
/* The panel width this build's layout pass packs with (0: it packs nothing). */
int smelt_layout_panel(const struct smelt_build_opts *o);
/* Q/K/V and gate/up concatenation (passes/concat.c); the memo shares concatenated
 * weights between the graphs of one build (smelt_build_opts.concat_memo). */
int smelt_pass_concat(smelt_ctx *cx, smelt_graph *g);
struct smelt_concat_memo;
struct smelt_concat_memo *smelt_concat_memo_new(smelt_ctx *cx);
/* The concatenated buffer of the memo holding [data, data + nbytes) of dtype dt: its
 * bytes in *pdata / *pnbytes, and data's offset in it (-1: none). */
int64_t smelt_concat_parent(const struct smelt_concat_memo *m, const void *data, uint64_t nbytes, smelt_dtype dt, void **pdata,
                            uint64_t *pnbytes);
/* Kernels the C backend will emit: live nodes but views (a view of a graph output
 * is a copy). */
int smelt_count_kernels(const smelt_graph *g);
/* Folds node ni when all its inputs are constants (through the reference
 * interpreter); returns 1 if folded, 0 if not foldable, SMELT_ERR on error. */
int smelt_fold_node(smelt_graph *g, int ni);
int smelt_pass_fold(smelt_ctx *cx, smelt_graph *g);
/* Points node inputs that name a constant identical (dtype, shape, bytes) to an
 * earlier one at the earlier one; graph outputs keep their values.  The copies are
 * unreferenced afterwards (smelt_graph_compact drops them).  Returns the number of
 * constants merged, or SMELT_ERR. */
int smelt_dedup_consts(smelt_graph *g);

/* passes/views.c: the byte offset at which node n's output can view its first input
 * (OPF_VIEW ops: 0; a contiguous Slice: its start), or -1 when it needs a kernel. */
int64_t smelt_view_offset(const smelt_graph *g, const smelt_node *n);
/* Did memplan make n's output a view (no kernel)? */
int smelt_plan_is_view(const smelt_graph *g, const smelt_node *n);

/* Is v a graph output? */
int smelt_is_output(const smelt_graph *g, int v);

#endif
