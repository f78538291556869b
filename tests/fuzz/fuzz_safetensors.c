/* tests/fuzz/fuzz_safetensors.c — libFuzzer harness for the safetensors reader
 * (compiler/read_safetensors.c).  What it accepts must be consistent: every tensor's
 * bytes lie inside the file's data section, are shape x dtype size, do not overlap,
 * and become constants (views or aligned copies) of that size; what it rejects gets
 * one diagnostic naming the file. */
#include "fuzz.h"
#include "compiler/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_st_file *f = smelt_safetensors_open_file(cx, path);
  if (f) {
    smelt_graph *g = smelt_graph_new(cx, "fuzz");
    for (int i = 0; i < f->ntensors; i++) {
      const struct smelt_st_tensor *t = &f->t[i];
      uint64_t ne = 1;
      for (int k = 0; k < t->rank; k++) ne *= (uint64_t)t->shape[k];
      FUZZ_CHECK(t->rank >= 0 && t->rank <= 8 && ne == t->nelems && t->nbytes == ne * (uint64_t)t->esize, "tensor %d sizes", i);
      FUZZ_CHECK(t->offset >= f->data_off && t->offset <= f->size && t->nbytes <= f->size - t->offset &&
                     (const unsigned char *)t->data == f->map + t->offset,
                 "tensor %d lies outside the data section", i);
      for (int j = 0; j < i; j++) {
        const struct smelt_st_tensor *u = &f->t[j];
        FUZZ_CHECK(!t->nbytes || !u->nbytes || t->offset >= u->offset + u->nbytes || u->offset >= t->offset + t->nbytes,
                   "tensors %d and %d overlap", j, i);
      }
      if (!t->known) continue;
      int v = smelt_safetensors_const(g, t, "w");
      FUZZ_CHECK(v >= 0 && g->values[v].c.nbytes == t->nbytes && (!t->nbytes || !memcmp(g->values[v].c.data, t->data, t->nbytes)),
                 "tensor %d as a constant", i);
    }
  } else {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, path, strlen(path)), "rejected without a diagnostic naming the file: %s", m ? m : "(none)");
  }
  smelt_ctx_free(cx);
  return 0;
}
