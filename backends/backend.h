/* backends/backend.h — what a backend gets and gives.
 *
 * A backend turns a planned graph into the text of NAME.h and NAME.c plus the list
 * of constants too large for C literals, which the driver hands to the LLVM
 * weights emitter (backends/llvm/).  Target backends (x86, arm, ...) will override
 * kernels through the same kernel table and inherit the rest from backends/c. */
#ifndef SMELT_BACKEND_H
#define SMELT_BACKEND_H

#include "ir/ir.h"
#include "passes/passes.h"

/* Constants shared by several graphs emitted into one source (an LLM's prefill and
 * decode): each distinct constant gets one symbol. */
struct smelt_emit_shared {
  smelt_map map;           /* "data:nbytes:dtype" -> index in syms */
  const char **syms;
  int n, cap;
  /* constants of the other graphs (an LLM's decode graph) a constant of this one may
   * lie inside: the prefill graph's Q/K/V weights are row ranges of the decode graph's
   * concatenation (passes/concat.c); such a constant is emitted as a pointer into its
   * parent instead of a second copy of its bytes */
  const smelt_value *const *parents;
  int nparents;
};

struct cg;
/* A target backend's kernel emitter: writes the body of node n's kernel into c and
 * returns 0, or returns 1 to let the generic C backend emit it (SMELT_ERR on error).
 * Its kernels may use the target's intrinsics: the C is compiled with the target's
 * flags (compiler/targets.c). */
typedef int (*smelt_kernel_fn)(struct cg *c, const smelt_node *n);
/* The override of a kernel backend named in the target table ("x86", "arm", ...), or
 * NULL when it has none (backends/registry.c). */
smelt_kernel_fn smelt_backend_kernels(const char *backend);
/* What the source of g (and g2, an LLM's second graph, or NULL) needs before its
 * kernels for the target backend of o: "#include \"smelt_simd.h\"" and SMELT_THREADS
 * when a kernel uses the runtime's target kernels, else "" (backends/registry.c). */
struct smelt_emit_opts;
const char *smelt_backend_prelude(const smelt_graph *g, const smelt_graph *g2, const struct smelt_emit_opts *o);

struct smelt_emit_opts {
  const char *name;        /* C identifier every generated symbol starts with */
  smelt_kernel_fn kernels; /* the target backend's overrides, or NULL */
  const char *weights_prefix; /* prefix of constant symbols (default: name) */
  int embedded;            /* part of a larger source: no #includes, static API, no descriptor
                              (1: with its ctx typedef; 2: the header has it) */
  struct smelt_emit_shared *shared; /* NULL, or constants shared across emissions */
  const char *target;      /* --target */
  int64_t weights_min;     /* constants of at least this many bytes go to NAME_weights.o */
  int weights_in_c;        /* all constants as C arrays (--emit c) */
  const char *options;     /* the command-line options, recorded in NAME.h */
  const char *const *adapters; /* names of the switchable LoRA adapters (--adapter), whose */
  int nadapters;               /* run-time scales are the state SMELT_ADAPTER_STATE */
  int threads;             /* --threads: the target kernels' thread pool (1: none) */
};

struct smelt_weight {      /* one constant destined for NAME_weights.o */
  const char *sym;
  const void *data;
  uint64_t nbytes;
};

struct smelt_emit_result {
  char *header, *source, *main_src; /* NAME.h, NAME.c, NAME_main.c (malloc'ed) */
  struct smelt_weight *weights;     /* in the ctx arena */
  int nweights;
  int nkernels;
};

int smelt_backend_c_emit(smelt_graph *g, const struct smelt_emit_opts *o, struct smelt_emit_result *r);
void smelt_emit_result_free(struct smelt_emit_result *r);

/* A language model: the prefill and decode graphs of one checkpoint (compiler/arch/)
 * as one source with the LLM API of DESIGN §6. */
struct smelt_ckpt;
int smelt_backend_c_emit_llm(smelt_graph *prefill, smelt_graph *decode, struct smelt_ckpt *ck, int64_t ctx_len,
                             const struct smelt_emit_opts *o, struct smelt_emit_result *r);

/* Is every node of g supported by the C backend?  Records an error naming the first
 * that is not. */
int smelt_backend_c_check(smelt_graph *g);
/* Does a kernel of g call runtime/smelt_quant.h (a weight stored as blocks, f16 or
 * bf16)?  The source that holds g's kernels must include it then. */
int smelt_backend_c_uses_quant(const smelt_graph *g);
/* The state holding the switchable LoRA adapters' run-time scales, or -1 (none). */
int smelt_backend_c_adapter_state(const smelt_graph *g);

/* Writes the weights as an object file for `triple` (NULL: the host) through the
 * LLVM C API, atomically.  Each weight becomes a 64-byte-aligned constant global. */
int smelt_llvm_emit_weights(smelt_ctx *cx, const char *path, const char *triple, const struct smelt_weight *w, int n);

#endif
