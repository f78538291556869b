/* tests/fuzz/fuzz_lora.c — libFuzzer harness for GGUF LoRA adapters
 * (compiler/read_lora.c over compiler/read_gguf.c): an accepted adapter has pairs with
 * 1 <= r <= 4096, finite values and a positive-size update; a rejected one gets one
 * diagnostic naming the file. */
#include "fuzz.h"
#include "compiler/lora.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_lora_opt o = {NULL, path, 1};
  struct smelt_lora *L = smelt_lora_read(cx, &o, NULL);
  if (L) {
    FUZZ_CHECK(L->n > 0, "an adapter without pairs");
    for (int i = 0; i < L->n; i++) {
      const struct smelt_lora_tensor *t = &L->t[i];
      FUZZ_CHECK(t->r >= 1 && t->r <= 4096 && t->in >= 1 && t->out >= 1 && t->a && t->b && t->nnames >= 1, "pair %d", i);
      FUZZ_CHECK(isfinite(t->a[t->r * t->in - 1]) && isfinite(t->b[t->out * t->r - 1]) && isfinite(t->scale), "pair %d values", i);
    }
  } else {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, path, strlen(path)), "rejected without a diagnostic naming the file: %s", m ? m : "(none)");
  }
  smelt_ctx_free(cx);
  return 0;
}
