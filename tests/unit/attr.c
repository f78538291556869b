/* tests/unit/attr.c — attribute schemas of ops.def and how nodes get their attributes:
 *
 *   - every op's schema parses (names, types, defaults that read back completely) and
 *     fits the 16 specs the parser/verifier/printer reserve;
 *   - a few schemas field by field (Clip's inf defaults, Conv's required lists, Pad's
 *     string default, Cast's dtype);
 *   - smelt_graph_add_node fills defaults, converts an int given for a float, and
 *     rejects unknown keys, wrong types and missing required attributes. */
#include "../testutil.h"
#include "ir/ir.h"

#include <math.h>

static int count_words(const char *s) {
  int n = 0;
  for (const char *p = s; *p;) {
    while (*p == ' ') p++;
    if (!*p) break;
    n++;
    while (*p && *p != ' ') p++;
  }
  return n;
}

static const struct smelt_attr_spec *spec(const struct smelt_attr_spec *sp, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(sp[i].name, name)) return &sp[i];
  return NULL;
}

int main(void) {
  struct smelt_attr_spec sp[32];
  /* ---- every op's schema ---- */
  for (int op = 0; op < SMELT_OP_COUNT; op++) {
    const struct smelt_opinfo *oi = smelt_op_info((smelt_op)op);
    smelt_op back;
    CHECK(!smelt_op_lookup(oi->name, &back) && (int)back == op, "op %s does not look up to itself", oi->name);
    int words = count_words(oi->attrs);
    CHECK(words <= 16, "%s: %d attributes; the parser, printer and verifier handle 16", oi->name, words);
    int n = smelt_attr_schema((smelt_op)op, sp, 32);
    CHECK(n == words, "%s: schema '%s' gives %d specs for %d words", oi->name, oi->attrs, n, words);
    for (int i = 0; i < n; i++) {
      CHECK(sp[i].name[0] && strlen(sp[i].name) < 31, "%s: attribute %d has a bad name", oi->name, i);
      for (int j = 0; j < i; j++) CHECK(strcmp(sp[i].name, sp[j].name), "%s: attribute '%s' twice", oi->name, sp[i].name);
      if (!sp[i].has_default) continue;
      const char *d = sp[i].def;
      char *e = NULL;
      smelt_dtype dt;
      switch (sp[i].type) {
      case SMELT_A_INT: strtoll(d, &e, 10); CHECK(*d && !*e, "%s.%s: int default '%s'", oi->name, sp[i].name, d); break;
      case SMELT_A_FLOAT: strtod(d, &e); CHECK(*d && !*e, "%s.%s: float default '%s'", oi->name, sp[i].name, d); break;
      case SMELT_A_DTYPE: CHECK(!smelt_dtype_parse(d, &dt), "%s.%s: dtype default '%s'", oi->name, sp[i].name, d); break;
      case SMELT_A_STR: break;
      case SMELT_A_INTS: case SMELT_A_FLOATS: CHECK(!*d, "%s.%s: list default '%s' (lists default to empty)", oi->name, sp[i].name, d); break;
      }
    }
    CHECK(oi->nin_min >= 0 && (oi->nin_max < 0 || oi->nin_max >= oi->nin_min), "%s: input arity", oi->name);
    CHECK(oi->nout_min >= 1 && oi->nout_max >= oi->nout_min && oi->nout_max <= 8, "%s: output arity", oi->name);
  }
  /* the limit argument is honoured */
  CHECK(smelt_attr_schema(SMELT_OP_CLIP, sp, 1) == 1, "schema with max 1");
  CHECK(smelt_attr_schema(SMELT_OP_ADD, sp, 32) == 0, "Add has attributes");

  /* ---- particular schemas ---- */
  int n = smelt_attr_schema(SMELT_OP_CLIP, sp, 32);
  const struct smelt_attr_spec *s = spec(sp, n, "min");
  CHECK(n == 2 && s && s->type == SMELT_A_FLOAT && s->has_default && isinf(strtod(s->def, NULL)) && strtod(s->def, NULL) < 0, "Clip.min");
  s = spec(sp, n, "max");
  CHECK(s && s->type == SMELT_A_FLOAT && isinf(strtod(s->def, NULL)) && strtod(s->def, NULL) > 0, "Clip.max");
  n = smelt_attr_schema(SMELT_OP_CONV, sp, 32);
  CHECK(n == 5, "Conv has %d attributes", n);
  s = spec(sp, n, "wino");
  CHECK(s && s->type == SMELT_A_INT && s->has_default && !strcmp(s->def, "0"), "Conv.wino (passes/wino.c)");
  s = spec(sp, n, "strides");
  CHECK(s && s->type == SMELT_A_INTS && !s->has_default, "Conv.strides");
  s = spec(sp, n, "group");
  CHECK(s && s->type == SMELT_A_INT && s->has_default && !strcmp(s->def, "1"), "Conv.group");
  n = smelt_attr_schema(SMELT_OP_PAD, sp, 32);
  s = spec(sp, n, "mode");
  CHECK(s && s->type == SMELT_A_STR && !strcmp(s->def, "constant"), "Pad.mode");
  s = spec(sp, n, "value");
  CHECK(s && s->type == SMELT_A_FLOAT && strtod(s->def, NULL) == 0, "Pad.value");
  n = smelt_attr_schema(SMELT_OP_CAST, sp, 32);
  CHECK(n == 1 && sp[0].type == SMELT_A_DTYPE && !sp[0].has_default && !strcmp(sp[0].name, "to"), "Cast.to");
  n = smelt_attr_schema(SMELT_OP_SELU, sp, 32);
  s = spec(sp, n, "gamma");
  CHECK(s && fabs(strtod(s->def, NULL) - 1.0507009873554805) < 1e-7, "Selu.gamma");

  /* ---- nodes: defaults, conversion, errors ---- */
  smelt_ctx *cx = smelt_ctx_new();
  smelt_graph *g = smelt_graph_new(cx, "t");
  smelt_shape s4 = {.rank = 2, .d = {smelt_dim_c(2), smelt_dim_c(3)}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &s4);
  int y = smelt_graph_add_node(g, SMELT_OP_LEAKY_RELU, "lr", &x, 1, NULL, 0, 1, NULL);
  CHECK(y >= 0, "LeakyRelu without attributes: %s", smelt_error_msg(cx));
  smelt_node *nd = &g->nodes[g->nnodes - 1];
  CHECK(nd->nattr == 1 && fabs(smelt_attr_f(nd, "alpha") - 0.01) < 1e-12, "LeakyRelu.alpha default");
  CHECK(smelt_attr_f(nd, "nope") == 0 && smelt_attr_i(nd, "nope") == 0 && !strcmp(smelt_attr_s(nd, "nope"), ""), "absent keys read as 0 / \"\"");
  const int64_t *iv;
  CHECK(smelt_attr_ints_get(nd, "nope", &iv) == 0 && iv == NULL, "absent list");
  smelt_attr a = smelt_attr_int("alpha", 2); /* an int for a float: converted */
  y = smelt_graph_add_node(g, SMELT_OP_LEAKY_RELU, "lr2", &x, 1, &a, 1, 1, NULL);
  nd = &g->nodes[g->nnodes - 1];
  CHECK(y >= 0 && smelt_node_attr(nd, "alpha")->type == SMELT_A_FLOAT && smelt_attr_f(nd, "alpha") == 2.0, "int given for a float");
  y = smelt_graph_add_node(g, SMELT_OP_CLIP, "clip", &x, 1, NULL, 0, 1, NULL);
  nd = &g->nodes[g->nnodes - 1];
  CHECK(y >= 0 && isinf(smelt_attr_f(nd, "min")) && smelt_attr_f(nd, "min") < 0 && isinf(smelt_attr_f(nd, "max")), "Clip defaults");
  y = smelt_graph_add_node(g, SMELT_OP_ARGMAX, "am", &x, 1, NULL, 0, 1, NULL);
  nd = &g->nodes[g->nnodes - 1];
  CHECK(y >= 0 && smelt_attr_i(nd, "axis") == 0 && smelt_attr_i(nd, "keepdims") == 1 && smelt_attr_i(nd, "select_last_index") == 0, "ArgMax defaults");
  CHECK(g->values[y].dt == SMELT_DT_I64 && g->values[y].shape.rank == 2 && smelt_dim_is(g->values[y].shape.d[0], 1), "ArgMax output type");
  int64_t axes[1] = {1};
  smelt_attr ra = smelt_attr_ints(cx, "axes", axes, 1);
  y = smelt_graph_add_node(g, SMELT_OP_REDUCE_SUM, "rs", &x, 1, &ra, 1, 1, NULL);
  nd = &g->nodes[g->nnodes - 1];
  CHECK(y >= 0 && smelt_attr_ints_get(nd, "axes", &iv) == 1 && iv[0] == 1 && smelt_attr_i(nd, "keepdims") == 1, "ReduceSum attributes");
  y = smelt_graph_add_node(g, SMELT_OP_PAD, "pad", &x, 1, (smelt_attr[]){smelt_attr_ints(cx, "pads", (int64_t[]){0, 1, 0, 1}, 4)}, 1, 1, NULL);
  nd = &g->nodes[g->nnodes - 1];
  CHECK(y >= 0 && !strcmp(smelt_attr_s(nd, "mode"), "constant") && smelt_attr_f(nd, "value") == 0, "Pad defaults");
  CHECK(y >= 0 && smelt_dim_is(g->values[y].shape.d[1], 5), "Pad shape");
  CHECK(!smelt_verify(g), "verify: %s", smelt_error_msg(cx));

  int before = g->nnodes;
  a = smelt_attr_float("beta", 1);
  CHECK(smelt_graph_add_node(g, SMELT_OP_LEAKY_RELU, "bad1", &x, 1, &a, 1, 1, NULL) == SMELT_ERR, "unknown attribute accepted");
  CHECK(smelt_error_msg(cx) && strstr(smelt_error_msg(cx), "unknown attribute 'beta'"), "message: %s", smelt_error_msg(cx));
  smelt_clear_error(cx);
  a = smelt_attr_str("alpha", "x");
  CHECK(smelt_graph_add_node(g, SMELT_OP_LEAKY_RELU, "bad2", &x, 1, &a, 1, 1, NULL) == SMELT_ERR, "string for a float accepted");
  CHECK(smelt_error_msg(cx) && strstr(smelt_error_msg(cx), "wrong type"), "message: %s", smelt_error_msg(cx));
  smelt_clear_error(cx);
  a = smelt_attr_float("axis", 1); /* a float for an int is not converted */
  CHECK(smelt_graph_add_node(g, SMELT_OP_ARGMAX, "bad3", &x, 1, &a, 1, 1, NULL) == SMELT_ERR, "float for an int accepted");
  smelt_clear_error(cx);
  CHECK(smelt_graph_add_node(g, SMELT_OP_CAST, "bad4", &x, 1, NULL, 0, 1, NULL) == SMELT_ERR, "Cast without 'to' accepted");
  CHECK(smelt_error_msg(cx) && strstr(smelt_error_msg(cx), "missing attribute 'to'"), "message: %s", smelt_error_msg(cx));
  smelt_clear_error(cx);
  CHECK(smelt_graph_add_node(g, SMELT_OP_TRANSPOSE, "bad5", &x, 1, NULL, 0, 1, NULL) == SMELT_ERR, "Transpose without perm accepted");
  smelt_clear_error(cx);
  int two[2] = {x, x};
  CHECK(smelt_graph_add_node(g, SMELT_OP_RELU, "bad6", two, 2, NULL, 0, 1, NULL) == SMELT_ERR, "Relu with 2 inputs accepted");
  smelt_clear_error(cx);
  CHECK(smelt_graph_add_node(g, SMELT_OP_RELU, "bad7", &x, 1, NULL, 0, 2, NULL) == SMELT_ERR, "Relu with 2 outputs accepted");
  smelt_clear_error(cx);
  int bogus = 999;
  CHECK(smelt_graph_add_node(g, SMELT_OP_RELU, "bad8", &bogus, 1, NULL, 0, 1, NULL) == SMELT_ERR, "input 999 accepted");
  smelt_clear_error(cx);
  CHECK(g->nnodes == before, "failed nodes left in the graph (%d, was %d)", g->nnodes, before);
  CHECK(!smelt_verify(g), "verify after failures: %s", smelt_error_msg(cx));
  smelt_ctx_free(cx);
  return t_done("unit_attr");
}
