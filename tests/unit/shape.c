/* tests/unit/shape.c — shape inference (ir/shape.c): the shapes it derives, and the
 * errors it gives for bad broadcasts, bad axes and other impossible nodes.  Each case
 * is a small IR text; a bad one must fail to parse with a diagnostic containing the
 * expected words (shape inference runs as the parser adds each node). */
#include "../testutil.h"
#include "ir/ir.h"

/* Parses `body` after a header; returns the message or NULL when it parsed. */
static char msg[1024];
static const char *parse(const char *body) {
  char text[4096];
  snprintf(text, sizeof text, "smelt-ir 1\ngraph \"t\"\nsym N <= 8\nsym M <= 4\n%s\n", body);
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_parse(cx, text, strlen(text), "t.ir");
  const char *r = NULL;
  if (!g) {
    snprintf(msg, sizeof msg, "%s", smelt_error_msg(cx) ? smelt_error_msg(cx) : "(no message)");
    r = msg;
  }
  smelt_ctx_free(cx);
  return r;
}

#define OK(body)                                                              \
  do {                                                                        \
    const char *m_ = parse(body);                                             \
    CHECK(!m_, "should parse: %s\n    error: %s", body, m_ ? m_ : "");      \
  } while (0)
#define BAD(body, words)                                                                             \
  do {                                                                                               \
    const char *m_ = parse(body);                                                                    \
    CHECK(m_ && strstr(m_, words), "should fail with '%s': %s\n    got: %s", words, body, m_ ? m_ : "(parsed)"); \
  } while (0)

int main(void) {
  /* ---- broadcasting ---- */
  OK("input %a : f32[2,3]\ninput %b : f32[3]\n%y : f32[2,3] = Add(%a, %b)\noutput %y");
  OK("input %a : f32[2,1,3]\ninput %b : f32[4,1]\n%y : f32[2,4,3] = Mul(%a, %b)\noutput %y");
  OK("input %a : f32[N,3]\ninput %b : f32[1,3]\n%y : f32[N,3] = Add(%a, %b)\noutput %y");
  OK("input %a : f32[N,3]\ninput %b : f32[N,3]\n%y : f32[N,3] = Sub(%a, %b)\noutput %y");
  OK("input %a : f32[]\ninput %b : f32[5]\n%y : f32[5] = Add(%a, %b)\noutput %y");
  BAD("input %a : f32[2,3]\ninput %b : f32[4,3]\n%y : f32[4,3] = Add(%a, %b)\noutput %y", "cannot broadcast shapes [2,3] and [4,3]");
  BAD("input %a : f32[2,3]\ninput %b : f32[2]\n%y : f32[2,3] = Add(%a, %b)\noutput %y", "cannot broadcast");
  BAD("input %a : f32[N,3]\ninput %b : f32[M,3]\n%y : f32[N,3] = Add(%a, %b)\noutput %y", "cannot broadcast shapes [N,3] and [M,3]");
  BAD("input %a : f32[N]\ninput %b : f32[4]\n%y : f32[4] = Add(%a, %b)\noutput %y", "cannot broadcast");
  BAD("input %a : f32[2]\ninput %b : i32[2]\n%y : f32[2] = Add(%a, %b)\noutput %y", "different dtypes");
  BAD("input %a : bool[2]\ninput %b : f32[2]\ninput %c : f32[3]\n%y : f32[3] = Where(%a, %b, %c)\noutput %y", "cannot broadcast");
  BAD("input %a : f32[2]\ninput %b : f32[2]\n%y : f32[2] = Where(%a, %b, %b)\noutput %y", "condition must be bool");
  BAD("input %a : f32[2]\n%y : f32[2] = Not(%a)\noutput %y", "not defined for f32");
  BAD("input %a : i32[2]\n%y : i32[2] = Exp(%a)\noutput %y", "not defined for i32");
  BAD("input %a : f32[2,3]\n%y : f32[3,2] = Relu(%a)\noutput %y", "differs from the inferred f32[2,3]");
  /* ---- axes ---- */
  OK("input %a : f32[2,3]\n%y : f32[2,1] = ReduceSum(%a) {axes=[-1]}\noutput %y");
  OK("input %a : f32[2,3]\n%y : f32[] = ReduceMax(%a) {axes=[], keepdims=0}\noutput %y");
  BAD("input %a : f32[2,3]\n%y : f32[2,1] = ReduceSum(%a) {axes=[2]}\noutput %y", "axis out of range");
  BAD("input %a : f32[2,3]\n%y : f32[2,1] = ReduceSum(%a) {axes=[-3]}\noutput %y", "axis out of range");
  BAD("input %a : f32[N,3]\n%y : f32[1,3] = ReduceSum(%a) {axes=[0]}\noutput %y", "reducing over symbolic dim 'N'");
  BAD("input %a : f32[2,3]\n%y : i64[2,1] = ArgMax(%a) {axis=5}\noutput %y", "axis out of range");
  BAD("input %a : f32[2,3]\n%y : f32[2,3] = Softmax(%a) {axis=2}\noutput %y", "axis");
  BAD("input %a : f32[2,3]\n%y : f32[2,3] = LogSoftmax(%a) {axis=-3}\noutput %y", "axis");
  BAD("input %a : f32[]\n%y : f32[] = Softmax(%a)\noutput %y", "axis");
  OK("input %a : f32[2,3]\n%y : f32[2,3] = Softmax(%a) {axis=0}\noutput %y");
  BAD("input %a : f32[2,3]\n%y : f32[4,3] = Concat(%a, %a) {axis=2}\noutput %y", "axis out of range");
  BAD("input %a : f32[2,3]\ninput %b : f32[2,4]\n%y : f32[4,3] = Concat(%a, %b) {axis=0}\noutput %y", "differ off the concat axis");
  BAD("input %a : f32[N,3]\n%y : f32[N,3] = Concat(%a, %a) {axis=0}\noutput %y", "symbolic dim");
  BAD("input %a : f32[2,3]\ninput %i : i64[2]\n%y : f32[2,2] = Gather(%a, %i) {axis=-3}\noutput %y", "axis out of range");
  BAD("input %a : f32[2,3]\ninput %i : f32[2]\n%y : f32[2,3] = Gather(%a, %i)\noutput %y", "indices must be");
  BAD("input %a : f32[2,3]\n%y : f32[3,2] = Transpose(%a) {perm=[1,1]}\noutput %y", "not a permutation");
  BAD("input %a : f32[2,3]\n%y : f32[3,2] = Transpose(%a) {perm=[2,0]}\noutput %y", "not a permutation");
  BAD("input %a : f32[2,3]\n%y : f32[3,2] = Transpose(%a) {perm=[0]}\noutput %y", "does not match the rank");
  /* ---- reshape, expand, slice, pad ---- */
  OK("input %a : f32[N,6]\n%y : f32[N,2,3] = Reshape(%a)\noutput %y");
  BAD("input %a : f32[2,3]\n%y : f32[7] = Reshape(%a)\noutput %y", "changes the element count");
  BAD("input %a : f32[N,6]\n%y : f32[M,6] = Reshape(%a)\noutput %y", "changes the element count");
  BAD("input %a : f32[2,3]\n%y : f32[2,4] = Expand(%a)\noutput %y", "does not broadcast");
  BAD("input %a : f32[2,3]\n%y : f32[3] = Expand(%a)\noutput %y", "lower rank");
  BAD("input %a : f32[4]\n%y : f32[2] = Slice(%a) {starts=[0], ends=[9], steps=[1]}\noutput %y", "not clamped");
  BAD("input %a : f32[4]\n%y : f32[2] = Slice(%a) {starts=[0], ends=[2], steps=[0]}\noutput %y", "zero step");
  BAD("input %a : f32[4]\n%y : f32[2] = Slice(%a) {starts=[0], ends=[2], steps=[1, 1]}\noutput %y", "every axis");
  BAD("input %a : f32[4]\n%y : f32[2] = Pad(%a) {pads=[1,1], mode=\"wrap\"}\noutput %y", "unknown pad mode");
  BAD("input %a : f32[4]\n%y : f32[2] = Pad(%a) {pads=[-3,-3]}\noutput %y", "negative padded size");
  BAD("input %a : f32[2]\n%y : f32[8] = Pad(%a) {pads=[3,3], mode=\"reflect\"}\noutput %y", "reflect pad wider");
  BAD("input %a : f32[N]\n%y : f32[N] = Pad(%a) {pads=[1,0]}\noutput %y", "symbolic");
  /* ---- matmul, conv, pool ---- */
  OK("input %a : f32[5,2,3]\ninput %b : f32[3,4]\n%y : f32[5,2,4] = MatMul(%a, %b)\noutput %y");
  BAD("input %a : f32[2,3]\ninput %b : f32[4,5]\n%y : f32[2,5] = MatMul(%a, %b)\noutput %y", "inner dimensions differ");
  BAD("input %a : f32[3]\ninput %b : f32[3,5]\n%y : f32[5] = MatMul(%a, %b)\noutput %y", "rank >= 2");
  BAD("input %a : f32[2,2,3]\ninput %b : f32[3,3,4]\n%y : f32[3,2,4] = MatMul(%a, %b)\noutput %y", "batch dimensions do not broadcast");
  BAD("input %a : bool[2,3]\ninput %b : bool[3,4]\n%y : bool[2,4] = MatMul(%a, %b)\noutput %y", "bool operands");
  OK("input %x : f32[N,2,5,5]\ninput %w : f32[4,2,3,3]\n%y : f32[N,4,3,3] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y");
  BAD("input %x : f32[1,3,5,5]\ninput %w : f32[4,2,3,3]\n%y : f32[1,4,3,3] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "channels");
  BAD("input %x : f32[1,2,5,5]\ninput %w : f32[4,2,3,3]\n%y : f32[1,4,3,3] = Conv(%x, %w) {strides=[1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "spatial rank");
  BAD("input %x : f32[1,2,2,2]\ninput %w : f32[4,2,3,3]\n%y : f32[1,4,1,1] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "larger than the padded input");
  BAD("input %x : f32[1,2,5,5]\ninput %w : f32[4,2,3,3]\n%y : f32[1,4,3,3] = Conv(%x, %w) {strides=[0,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "non-positive stride");
  BAD("input %x : f32[1,2,5,5]\ninput %w : f32[4,2,3,3]\ninput %b : f32[3]\n%y : f32[1,4,3,3] = Conv(%x, %w, %b) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "bias");
  BAD("input %x : f32[1,2,M,5]\ninput %w : f32[4,2,3,3]\n%y : f32[1,4,3,3] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "only the batch dim");
  BAD("input %x : f32[1,2,2,2]\n%y : f32[1,2,1,1] = MaxPool(%x) {kernel=[3,3], strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y", "window larger");
  BAD("input %x : f32[2,2]\n%y : f32[2,2] = MaxPool(%x) {kernel=[1], strides=[1], pads=[0,0], dilations=[1]}\noutput %y", "rank >= 3");
  /* ---- sizes and dims ---- */
  BAD("input %a : f32[1000000000000000,1000000000000000]\n%y : f32[1000000000000000,1000000000000000] = Relu(%a)\noutput %y", "too large");
  BAD("input %a : f32[-1]\noutput %a", "negative dim");
  BAD("input %a : f32[1,1,1,1,1,1,1,1,1]\noutput %a", "rank above 8");
  BAD("input %a : f32[K]\noutput %a", "unknown symbol");
  BAD("input %a : f32[2]\n%y : f32[2] = Cast(%a) {to=q4}\noutput %y", "unknown dtype");

  /* ---- weights that stay quantized: MatMul's B and Gather's table ---- */
#define QW "const %w : q4_0[8,64] = opaque 0\n"
  OK(QW "input %a : f32[N,64]\n%y : f32[N,8] = MatMul(%a, %w) {trans_b=1}\noutput %y");
  OK(QW "input %a : f32[2,N,64]\n%y : f32[2,N,8] = MatMul(%a, %w) {trans_b=1}\noutput %y");
  OK("const %w : q6_k[4,512] = opaque 0\ninput %a : f32[1,512]\n%y : f32[1,4] = MatMul(%a, %w) {trans_b=1}\noutput %y");
  OK("const %w : f16[8,64] = opaque 0\ninput %a : f32[3,64]\n%y : f32[3,8] = MatMul(%a, %w) {trans_b=1}\noutput %y");
  OK("const %w : bf16[8,64] = opaque 0\ninput %a : bf16[3,64]\n%y : bf16[3,8] = MatMul(%a, %w) {trans_b=1}\noutput %y");
  OK(QW "input %i : i32[N]\n%y : f32[N,64] = Gather(%w, %i)\noutput %y");
  OK("const %w : f16[8,64] = opaque 0\ninput %i : i64[2]\n%y : f32[2,64] = Gather(%w, %i)\noutput %y");
  OK("input %w : bf16[8,4,6]\ninput %i : i64[2]\n%y : f32[8,2,6] = Gather(%w, %i) {axis=1}\noutput %y");
  BAD(QW "input %a : f32[N,64]\n%y : f32[N,8] = MatMul(%a, %w)\noutput %y", "q4_0 weight must be [N, K] with trans_b=1");
  BAD(QW "input %a : f16[N,64]\n%y : f32[N,8] = MatMul(%a, %w) {trans_b=1}\noutput %y", "needs f32 activations, not f16");
  BAD(QW "input %a : f32[N,32]\n%y : f32[N,8] = MatMul(%a, %w) {trans_b=1}\noutput %y", "inner dimensions differ");
  BAD("const %w : q4_0[2,4,64] = opaque 0\ninput %a : f32[4,64]\n%y : f32[2,4,4] = MatMul(%a, %w) {trans_b=1}\noutput %y", "must be [N, K]");
  BAD("const %w : f16[8,64] = opaque 0\ninput %a : f32[3,64]\n%y : f32[3,8] = MatMul(%a, %w)\noutput %y", "f16 weight must be [N, K] with trans_b=1");
  BAD(QW "input %a : f32[64,8]\n%y : f32[8,8] = MatMul(%w, %a)\noutput %y", "can only be B");
  BAD(QW "input %i : i32[2]\n%y : f32[8,2] = Gather(%w, %i) {axis=1}\noutput %y", "gathered on axis 0");
  BAD(QW "%y : q4_0[8,64] = Relu(%w)\noutput %y", "constant weights of MatMul or Gather");
  BAD("const %w : q4_k[8,64] = opaque 0\noutput %w", "whole blocks");
#undef QW

  /* ---- through the API: shapes derived, symbols carried ---- */
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "api");
  int N = smelt_graph_add_sym(g, "N", 16);
  CHECK(N == 1 && smelt_graph_add_sym(g, "N", 99) == 1 && g->syms[0].max == 16, "symbol added twice");
  smelt_shape sa = {.rank = 2, .d = {{0, N}, smelt_dim_c(3)}}, sb = {.rank = 1, .d = {smelt_dim_c(3)}};
  int a = smelt_graph_add_input(g, "a", SMELT_DT_F32, &sa), b = smelt_graph_add_input(g, "b", SMELT_DT_F32, &sb);
  int y = smelt_graph_add_node(g, SMELT_OP_ADD, "add", (int[]){a, b}, 2, NULL, 0, 1, NULL);
  CHECK(y >= 0 && smelt_shape_eq(&g->values[y].shape, &sa), "Add keeps [N,3]");
  char buf[64];
  CHECK(!strcmp(smelt_shape_str(g, &g->values[y].shape, buf, sizeof buf), "[N,3]"), "shape text %s", buf);
  CHECK(smelt_shape_max_elems(g, &g->values[y].shape) == 48, "max elems with N at its bound");
  CHECK(!smelt_shape_is_static(&sa) && smelt_shape_is_static(&sb), "is_static");
  int64_t dims[8], symv[1] = {5};
  smelt_shape_resolve(&sa, symv, dims);
  CHECK(dims[0] == 5 && dims[1] == 3, "resolve");
  smelt_shape huge = {.rank = 3, .d = {smelt_dim_c((int64_t)1 << 30), smelt_dim_c((int64_t)1 << 30), smelt_dim_c(8)}};
  CHECK(smelt_shape_max_elems(g, &huge) == SMELT_ERR, "2^63 elements do not overflow silently");
  smelt_shape zero = {.rank = 2, .d = {smelt_dim_c(0), smelt_dim_c((int64_t)1 << 62)}};
  CHECK(smelt_shape_max_elems(g, &zero) == 0, "a zero dim");
  smelt_ctx_free(cx);
  return t_done("unit_shape");
}
