/* tests/fuzz/fuzz_ir.c — libFuzzer harness for the IR text parser.  An input that
 * parses must print (all constants) to text that parses again and prints the same
 * (the round trip of DESIGN §3), and goes through the pipeline and the C backend;
 * a rejected one must leave a diagnostic with its FILE:LINE:COL. */
#include "fuzz.h"
#include "backends/backend.h"
#include "compiler/driver.h"

static char *print_graph(const smelt_graph *g, size_t *len) {
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);
  FUZZ_CHECK(f != NULL, "open_memstream");
  int rc = smelt_print(g, f, SMELT_PRINT_CONSTS);
  fclose(f);
  FUZZ_CHECK(rc == 0, "print failed: %s", smelt_error_msg(g->cx));
  return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_parse(cx, (const char *)data, size, "fuzz.ir");
  if (!g) {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, "fuzz.ir:", 8), "rejected without a located diagnostic: %s", m ? m : "(none)");
    smelt_ctx_free(cx);
    return 0;
  }
  size_t l1, l2;
  char *t1 = print_graph(g, &l1);
  smelt_ctx *cx2 = smelt_ctx_new();
  smelt_graph *g2 = smelt_parse(cx2, t1, l1, "printed.ir");
  FUZZ_CHECK(g2 != NULL, "the printed graph does not parse: %s\n%s", smelt_error_msg(cx2), t1);
  char *t2 = print_graph(g2, &l2);
  FUZZ_CHECK(l1 == l2 && !memcmp(t1, t2, l1), "print -> parse -> print differs:\n%s\n----\n%s", t1, t2);
  free(t1);
  free(t2);
  smelt_ctx_free(cx2);
  if (!smelt_run_pipeline(cx, g, NULL) && !smelt_backend_c_check(g)) {
    struct smelt_emit_opts eo = {.name = "m", .target = "generic", .weights_min = 1 << 18, .weights_in_c = 1, .options = ""};
    struct smelt_emit_result r;
    if (!smelt_backend_c_emit(g, &eo, &r)) smelt_emit_result_free(&r);
  }
  smelt_ctx_free(cx);
  return 0;
}
