/* tests/fuzz/fuzz_onnx.c — libFuzzer harness for the ONNX reader: every input is
 * read as a model; one that loads goes through the pass pipeline and the C backend
 * (in memory).  A rejected input must leave exactly one diagnostic naming the file. */
#include "fuzz.h"
#include "backends/backend.h"
#include "compiler/driver.h"
#include "compiler/read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file(data, size);
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_read_onnx(cx, path, NULL);
  if (!g) {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, path, strlen(path)), "rejected without a diagnostic naming the file: %s", m ? m : "(none)");
  } else if (!smelt_run_pipeline(cx, g, NULL) && !smelt_backend_c_check(g)) {
    struct smelt_emit_opts eo = {.name = "m", .target = "generic", .weights_min = 1 << 18, .weights_in_c = 1, .options = ""};
    struct smelt_emit_result r;
    if (!smelt_backend_c_emit(g, &eo, &r)) smelt_emit_result_free(&r);
  }
  smelt_ctx_free(cx);
  return 0;
}
