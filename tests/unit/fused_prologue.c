/* tests/unit/fused_prologue.c — the Fused op's prologue grammar (ir/fused.c) on text:
 * a norm (RMSNorm, LayerNorm) may only be step 0, read inputs only, and be read only as
 * step 1's first operand, a MatMul; integer attributes (add_one) must be whole numbers.
 * Malformed programs fail to parse with a diagnostic naming the node (Fused progs come
 * from IR files too), never crash; a well-formed one evaluates exactly as the unfused
 * RMSNorm + MatMul + Add it stands for. */
#include "../testutil.h"
#include "ir/ir.h"

#include <string.h>

static const char *head =
    "smelt-ir 1\ngraph \"p\"\ninput %x : f32[2,4]\nconst %g : f32[4] = [1, 0.5, -1, 2]\n"
    "const %w : f32[3,4] = [1, 2, 3, 4, -1, -2, -3, -4, 0.5, 0.5, -0.5, -0.5]\nconst %b : f32[3] = [0.1, -0.2, 0.3]\n";

static smelt_graph *parse(smelt_ctx *cx, const char *prog, const char *shape) {
  char text[2048];
  snprintf(text, sizeof text, "%s%%y : f32[%s] = Fused(%%x, %%g, %%w, %%b) {prog=\"%s\", trans_b=1}\noutput %%y\n", head, shape, prog);
  return smelt_parse(cx, text, strlen(text), "p.ir");
}

int main(void) {
  static const char *bad[] = {
      "RMSNorm x0 x1",                                 /* no anchor */
      "RMSNorm x0 x1; Relu t0",                        /* not a MatMul after it */
      "RMSNorm x0 x1; MatMul x0 t0",                   /* the normed rows as B */
      "RMSNorm x0 x1; MatMul t0 x2; Add t0 x3",        /* the normed rows read again */
      "RMSNorm x0 x1; MatMul t0 x2; Add t1 t0",        /* ... by a later step */
      "RMSNorm(add_one=0.5) x0 x1; MatMul t0 x2",      /* an integer attribute, not whole */
      "RMSNorm(add_one=1e300) x0 x1; MatMul t0 x2",    /* out of range */
      "RMSNorm(bogus=1) x0 x1; MatMul t0 x2",          /* unknown to the op */
      "Relu x0; RMSNorm t0 x1",                        /* a norm as a later step */
      "RMSNorm x0 x1; RMSNorm t0 x1; MatMul t1 x2",    /* two norms */
      "MatMul x0 x2; RMSNorm t0 x1",                   /* a norm after the anchor */
      "RMSNorm(eps=1e-5) x0 x1 x2 x3; MatMul t0 x2",   /* too many arguments */
      "RMSNorm x0 x1; MatMul(trans_b=1) t0 x2",        /* the anchor's attributes are the node's */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    smelt_ctx *cx = smelt_ctx_new();
    smelt_graph *g = parse(cx, bad[i], "2,3");
    CHECK(g == NULL, "'%s' parsed", bad[i]);
    CHECK(g != NULL || strstr(smelt_error_msg(cx), "Fused") || strstr(smelt_error_msg(cx), "'y'"), "'%s': error names no node: %s", bad[i],
          smelt_error_msg(cx));
    smelt_ctx_free(cx);
  }
  /* a good one against the unfused chain, in the interpreter */
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = parse(cx, "RMSNorm(eps=1e-05,add_one=1) x0 x1; MatMul t0 x2; Add t1 x3", "2,3");
  CHECK(g != NULL, "good prologue: %s", smelt_error_msg(cx));
  char text[2048];
  snprintf(text, sizeof text, "%s%%h : f32[2,4] = RMSNorm(%%x, %%g) {eps=1e-05, add_one=1}\n%%m : f32[2,3] = MatMul(%%h, %%w) {trans_b=1}\n"
                              "%%y : f32[2,3] = Add(%%m, %%b)\noutput %%y\n", head);
  smelt_graph *u = smelt_parse(cx, text, strlen(text), "u.ir");
  CHECK(u != NULL, "unfused: %s", smelt_error_msg(cx));
  if (g && u) {
    float xs[8] = {1, -2, 0.5, 3, -1, 0.25, 2, -0.75}, a[6], b[6];
    smelt_tensor in = {.dt = SMELT_DT_F32, .rank = 2, .dims = {2, 4}, .data = xs}, ya = {0}, yb = {0};
    CHECK(smelt_eval(g, &in, &ya) == 0 && smelt_eval(u, &in, &yb) == 0, "eval: %s", smelt_error_msg(cx));
    if (ya.data && yb.data) {
      memcpy(a, ya.data, sizeof a);
      memcpy(b, yb.data, sizeof b);
      CHECK(!memcmp(a, b, sizeof a), "the prologue's result differs from the unfused chain's");
    }
    smelt_tensor_free(&ya);
    smelt_tensor_free(&yb);
  }
  smelt_ctx_free(cx);
  return t_done("unit_fused_prologue");
}
