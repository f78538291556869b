/* compiler/targets.h — the --target table: what each target means for the LLVM weights
 * object (its triple), the C compiler flags smelt adds, and which kernel backend may
 * override generic C kernels (backends/<backend>/).  `native` resolves to the best
 * target for the host. */
#ifndef SMELT_TARGETS_H
#define SMELT_TARGETS_H

struct smelt_target {
  const char *name;    /* --target value */
  const char *triple;  /* LLVM triple of NAME_weights.o; NULL: the host's */
  const char *cflags;  /* flags for the C compiler ("" for none) */
  const char *backend; /* "c" (generic only), "x86", "arm", "cortexm" */
  int freestanding;    /* no OS: the runtime builds with SMELT_FREESTANDING */
};

/* The entry for `name` (native resolved to the host), or NULL if unknown. */
const struct smelt_target *smelt_target_find(const char *name);
/* Space-separated names of every target, for --help and errors. */
const char *smelt_target_names(void);

#endif
