/* ir/fused.c — the Fused op (ops.def): parsing its program, shape inference and the
 * reference interpreter.
 *
 * A Fused node's meaning is defined by the unfused chain it stands for: shape
 * inference and the interpreter both rebuild that chain as a small scratch graph
 * (the steps as ordinary nodes over the Fused node's inputs) and run the ordinary
 * shape inference / interpreter on it.  So the interpreter's result for a Fused node
 * is by construction the result of the ops it replaced, each rounded to its dtype;
 * the C kernel (backends/c/k_fused.c) keeps that rounding by computing each step in
 * the same type the unfused kernels use.
 *
 * The program text comes from IR files too, so the parser treats it as hostile:
 * bounded steps, names, numbers and argument indices. */
#include "fused.h"

#include <stdlib.h>
#include <string.h>

int smelt_fused_is_anchor(smelt_op op) {
  const char *k = smelt_op_info(op)->kind;
  return !strcmp(k, "matmul") || !strcmp(k, "conv");
}

int smelt_fused_is_prologue(smelt_op op) { return op == SMELT_OP_RMS_NORM || op == SMELT_OP_LAYER_NORM; }

/* Gives the attributes of step st the types its op's schema declares (the text has
 * only numbers): an integer attribute must be a whole number within int32. */
static int type_attrs(struct smelt_fused_step *st) {
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(st->op, sp, 16);
  for (int i = 0; i < st->nattr; i++) {
    int j = 0;
    while (j < ns && strcmp(sp[j].name, st->keys[i])) j++;
    if (j == ns) return 0;
    if (sp[j].type == SMELT_A_INT) {
      double v = st->attrs[i].f;
      if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != (double)(int64_t)v) return 0;
      st->attrs[i] = smelt_attr_int(st->keys[i], (int64_t)v);
    } else if (sp[j].type != SMELT_A_FLOAT) {
      return 0;
    }
  }
  return 1;
}

int smelt_fused_is_step(smelt_op op) {
  const struct smelt_opinfo *oi = smelt_op_info(op);
  return (oi->flags & OPF_ELEMWISE) && (!strcmp(oi->kind, "unary") || !strcmp(oi->kind, "binary")) &&
         (!strcmp(oi->shape, "same") || !strcmp(oi->shape, "broadcast")) && strcmp(oi->fexpr, "0") != 0;
}

static int perr(smelt_ctx *cx, const smelt_node *n, int k, const char *msg) {
  return smelt_errorf(cx, "node '%s' (Fused): prog step %d: %s", n->name, k, msg);
}

static int is_alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

int smelt_fused_parse(smelt_ctx *cx, const smelt_node *n, struct smelt_fused_prog *p) {
  const char *s = smelt_attr_s(n, "prog");
  memset(p, 0, sizeof *p);
  for (int k = 0;; k++) {
    while (*s == ' ') s++;
    if (!*s) {
      if (!k) return perr(cx, n, k, "empty program");
      if (p->pro && !p->anchor) return perr(cx, n, k, "a prologue must be followed by a MatMul of its result");
      return 0;
    }
    if (k >= SMELT_FUSED_MAXSTEPS) return perr(cx, n, k, "too many steps");
    struct smelt_fused_step *st = &p->step[k];
    char name[32];
    size_t len = 0;
    while (is_alpha(s[len])) len++;
    if (!len || len >= sizeof name) return perr(cx, n, k, "expected an op name");
    memcpy(name, s, len);
    name[len] = 0;
    s += len;
    if (smelt_op_lookup(name, &st->op)) return perr(cx, n, k, "unknown op");
    if (k == 0 && smelt_fused_is_anchor(st->op)) p->anchor = 1;
    else if (k == 0 && smelt_fused_is_prologue(st->op)) p->pro = 1;
    else if (k == 1 && p->pro && st->op == SMELT_OP_MATMUL) p->anchor = 1;
    else if (!smelt_fused_is_step(st->op)) return perr(cx, n, k, "op cannot be fused here");
    if (*s == '(') {
      s++;
      while (*s != ')') {
        if (st->nattr >= SMELT_FUSED_MAXATTR || (p->anchor && k == p->pro)) return perr(cx, n, k, "bad attributes");
        len = 0;
        while (is_alpha(s[len])) len++;
        if (!len || len >= sizeof st->keys[0] || s[len] != '=') return perr(cx, n, k, "expected name=value");
        memcpy(st->keys[st->nattr], s, len);
        st->keys[st->nattr][len] = 0;
        s += len + 1;
        char num[48];
        len = strcspn(s, ",)");
        if (!len || len >= sizeof num || !s[len]) return perr(cx, n, k, "bad attribute value");
        memcpy(num, s, len);
        num[len] = 0;
        char *end;
        double v = strtod(num, &end);
        if (*end) return perr(cx, n, k, "bad attribute value");
        st->attrs[st->nattr] = smelt_attr_float(st->keys[st->nattr], v);
        st->nattr++;
        s += len;
        if (*s == ',') s++;
      }
      s++;
    }
    for (;;) {
      while (*s == ' ') s++;
      if (!*s || *s == ';') break;
      if (st->nargs >= 3 || (*s != 'x' && *s != 't') || !is_digit(s[1])) return perr(cx, n, k, "expected xK or tK");
      char kind = *s++;
      long v = 0;
      for (len = 0; is_digit(*s); s++, len++) {
        if (len >= 6) return perr(cx, n, k, "index too large");
        v = v * 10 + (*s - '0');
      }
      if (kind == 'x' ? v >= n->nin : v >= k) return perr(cx, n, k, "argument out of range");
      st->arg[st->nargs++] = kind == 'x' ? (int)v : -(int)v - 1;
    }
    const struct smelt_opinfo *oi = smelt_op_info(st->op);
    if (st->nargs < oi->nin_min || st->nargs > oi->nin_max) return perr(cx, n, k, "wrong number of arguments");
    if (!type_attrs(st)) return perr(cx, n, k, "attribute unknown to the op or of the wrong type");
    if (p->pro) { /* the normed rows exist only as the anchor's first operand */
      for (int i = 0; i < st->nargs; i++)
        if (st->arg[i] == -1 && !(k == 1 && i == 0)) return perr(cx, n, k, "the prologue's result may only be the anchor's first operand");
      if (k == 1 && (!p->anchor || st->arg[0] != -1)) return perr(cx, n, k, "a prologue must be followed by a MatMul of its result");
      if (k == 0)
        for (int i = 0; i < st->nargs; i++)
          if (st->arg[i] < 0) return perr(cx, n, k, "the prologue reads inputs only");
    }
    p->nsteps = k + 1;
    if (*s == ';') s++;
  }
}

void smelt_fused_step_node(const smelt_node *n, const struct smelt_fused_prog *p, int k, const int *in_ids, const int *step_ids,
                           smelt_node *out, int *argbuf) {
  const struct smelt_fused_step *st = &p->step[k];
  memset(out, 0, sizeof *out);
  out->op = st->op;
  out->name = n->name;
  out->nin = st->nargs;
  out->in = argbuf;
  for (int i = 0; i < st->nargs; i++) argbuf[i] = st->arg[i] >= 0 ? in_ids[st->arg[i]] : step_ids ? step_ids[-st->arg[i] - 1] : -1;
  out->nout = 1;
  if (k == p->pro && p->anchor) { /* the anchor's attributes are the Fused node's own */
    out->nattr = n->nattr;
    out->attrs = n->attrs;
  } else {
    out->nattr = st->nattr;
    out->attrs = (smelt_attr *)st->attrs;
  }
}

/* The attributes of step k to give smelt_graph_add_node (the anchor's: those of
 * the Fused node its op's schema knows). */
static int step_attrs(const smelt_node *n, const struct smelt_fused_prog *p, int k, smelt_attr *buf) {
  if (!(k == p->pro && p->anchor)) {
    memcpy(buf, p->step[k].attrs, sizeof(smelt_attr) * p->step[k].nattr);
    return p->step[k].nattr;
  }
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(p->step[k].op, sp, 16), na = 0;
  for (int i = 0; i < n->nattr; i++)
    for (int j = 0; j < ns; j++)
      if (!strcmp(sp[j].name, n->attrs[i].key)) buf[na++] = n->attrs[i];
  return na;
}

/* The chain as a scratch graph: the Fused node's inputs (constants stay constants,
 * for quantized weights; dims from `dims` when given, else from g), then the steps.
 * Returns the value id of the last step, or SMELT_ERR. */
static int build_chain(const smelt_graph *g, const smelt_node *n, const struct smelt_fused_prog *p, const smelt_tensor *concrete,
                       smelt_graph **out) {
  smelt_ctx *cx = g->cx;
  smelt_graph *sg = smelt_graph_new(cx, "fused");
  if (!sg) return SMELT_ERR;
  sg->eval_flags = g->eval_flags; /* the anchor rounds as the node would */
  if (!concrete) { /* the same symbols, read-only */
    sg->syms = g->syms;
    sg->nsyms = sg->cap_syms = g->nsyms;
  }
  int *ids = smelt_alloc(cx, sizeof(int) * (size_t)(n->nin + 1)), sids[SMELT_FUSED_MAXSTEPS];
  if (!ids) return SMELT_ERR;
  for (int i = 0; i < n->nin; i++) {
    const smelt_value *v = &g->values[n->in[i]];
    smelt_shape s = v->shape;
    if (concrete) {
      s.rank = concrete[i].rank;
      for (int d = 0; d < s.rank; d++) s.d[d] = smelt_dim_c(concrete[i].dims[d]);
    }
    if (v->kind == SMELT_V_CONST && v->c.data) {
      /* data set after the call: no hashing of large weights on every use */
      ids[i] = smelt_graph_add_const(sg, v->name, v->dt, &s, NULL, v->c.nbytes);
      if (ids[i] >= 0) sg->values[ids[i]].c.data = v->c.data;
    } else {
      ids[i] = smelt_graph_add_input(sg, v->name, v->dt, &s);
    }
    if (ids[i] < 0) return SMELT_ERR;
  }
  for (int k = 0; k < p->nsteps; k++) {
    smelt_attr at[16];
    int na = step_attrs(n, p, k, at), args[3];
    for (int i = 0; i < p->step[k].nargs; i++) args[i] = p->step[k].arg[i] >= 0 ? ids[p->step[k].arg[i]] : sids[-p->step[k].arg[i] - 1];
    sids[k] = smelt_graph_add_node(sg, p->step[k].op, n->name, args, p->step[k].nargs, at, na, 1, NULL);
    if (sids[k] < 0) return SMELT_ERR;
  }
  *out = sg;
  return sids[p->nsteps - 1];
}

int shape_fused(smelt_graph *g, int ni);
int eval_fused(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out);

int shape_fused(smelt_graph *g, int ni) {
  smelt_node *n = &g->nodes[ni];
  struct smelt_fused_prog *p = malloc(sizeof *p);
  if (!p) return smelt_errorf(g->cx, "out of memory");
  smelt_graph *sg;
  int rc = SMELT_ERR, y;
  if (smelt_fused_parse(g->cx, n, p) || (y = build_chain(g, n, p, NULL, &sg)) < 0) goto done;
  const smelt_value *yv = &sg->values[y];
  if (yv->dt != SMELT_DT_F32 && yv->dt != SMELT_DT_F64) { smelt_errorf(g->cx, "node '%s' (Fused): only f32 and f64 chains fuse", n->name); goto done; }
  /* every step has Y's dtype; with an anchor, Y's shape too (but a prologue: X's) */
  for (int v = 0; v < sg->nvalues; v++) {
    const smelt_value *sv = &sg->values[v];
    if (sv->kind != SMELT_V_NODE) continue;
    if (p->pro && sv->producer == 0) {
      if (sv->dt != yv->dt) { smelt_errorf(g->cx, "node '%s' (Fused): the prologue differs from the result's dtype", n->name); goto done; }
      continue;
    }
    if (sv->dt != yv->dt || (p->anchor && !smelt_shape_eq(&sv->shape, &yv->shape))) {
      smelt_errorf(g->cx, "node '%s' (Fused): step '%s' differs from the result's %s", n->name, smelt_op_info(sg->nodes[sv->producer].op)->name,
                   sv->dt != yv->dt ? "dtype" : "shape");
      goto done;
    }
  }
  g->values[n->out[0]].dt = yv->dt;
  g->values[n->out[0]].shape = yv->shape;
  rc = 0;
done:
  free(p);
  return rc;
}

int eval_fused(const smelt_graph *g, const smelt_node *n, const smelt_tensor *in, smelt_tensor *out) {
  struct smelt_fused_prog *p = malloc(sizeof *p);
  if (!p) return smelt_errorf(g->cx, "out of memory");
  smelt_graph *sg;
  int rc = SMELT_ERR, y;
  smelt_tensor *tin = calloc((size_t)n->nin + 1, sizeof *tin), res = {0};
  if (!tin) { free(p); return smelt_errorf(g->cx, "out of memory"); }
  if (smelt_fused_parse(g->cx, n, p) || (y = build_chain(g, n, p, in, &sg)) < 0) goto done;
  int k = 0;
  for (int i = 0; i < n->nin; i++)
    if (sg->values[i].kind == SMELT_V_INPUT) tin[k++] = in[i]; /* inputs were added first, in order */
  smelt_graph_add_output(sg, y);
  if (smelt_eval(sg, tin, &res)) goto done;
  if (smelt_tensor_elems(&res) != smelt_tensor_elems(&out[0]) || res.dt != out[0].dt) {
    smelt_errorf(g->cx, "eval: node '%s' (Fused): result shape mismatch", n->name);
    goto done;
  }
  memcpy(out[0].data, res.data, (size_t)smelt_tensor_elems(&res) * (size_t)smelt_dtype_bytes(res.dt));
  rc = 0;
done:
  smelt_tensor_free(&res);
  free(tin);
  free(p);
  return rc;
}
