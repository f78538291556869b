/* ir/fused.h — the program of a Fused node (ops.def): a chain of steps, parsed from
 * its `prog` attribute.  Shared by shape inference and the interpreter (ir/fused.c),
 * the fuse pass (passes/fuse.c) and the C backend (backends/c/k_fused.c). */
#ifndef SMELT_FUSED_H
#define SMELT_FUSED_H

#include "ir.h"

#define SMELT_FUSED_MAXSTEPS 64
#define SMELT_FUSED_MAXATTR 4
/* bytes of normed rows a prologue's C kernel keeps on the stack at a time */
#define SMELT_FUSED_PRO_BYTES 65536

struct smelt_fused_step {
  smelt_op op;
  int nargs;
  int arg[3];   /* >= 0: input K of the Fused node; < 0: the result of step -arg - 1 */
  int nattr;
  smelt_attr attrs[SMELT_FUSED_MAXATTR]; /* float attributes of elementwise steps */
  char keys[SMELT_FUSED_MAXATTR][32];    /* their names (attrs[i].key points here) */
};

struct smelt_fused_prog {
  int nsteps;
  int anchor;   /* 1 when step `pro` is a MatMul or Conv */
  int pro;      /* 1 when step 0 is a norm (RMSNorm, LayerNorm) read only by step 1, a
                   MatMul anchor (a prologue: the normed rows never reach memory) */
  struct smelt_fused_step step[SMELT_FUSED_MAXSTEPS];
};

/* Is op a kernel that a Fused node may start with (MatMul, Conv)? */
int smelt_fused_is_anchor(smelt_op op);
/* Is op a norm a Fused node may start with, before a MatMul anchor (a prologue)? */
int smelt_fused_is_prologue(smelt_op op);
/* Is op an elementwise op with a float formula that a Fused node may chain? */
int smelt_fused_is_step(smelt_op op);
/* Parses n's prog; SMELT_ERR with a diagnostic naming the node when malformed. */
int smelt_fused_parse(smelt_ctx *cx, const smelt_node *n, struct smelt_fused_prog *p);
/* A temporary node for step k (op, arguments as value ids, attributes; the anchor
 * takes the Fused node's attributes).  step_ids[j] is the value of step j (ids from
 * whatever graph the caller builds; NULL: arguments naming steps become -1). */
void smelt_fused_step_node(const smelt_node *n, const struct smelt_fused_prog *p, int k, const int *in_ids, const int *step_ids,
                           smelt_node *out, int *argbuf);

#endif
