/* backends/c/emit.c — the generic C backend's driver: writes NAME.h (the C API
 * with sizes as macros), NAME.c (constants, one specialized kernel per node, the
 * run/init functions and the model descriptor) and NAME_main.c (the executable's
 * main), following DESIGN §6.
 *
 * Kernels come from the kernel table generated from ops.def (emit_<kind>), so a
 * new op of an existing kind needs no change here.  Storage comes from the memory
 * plan: arena values are `(T *)(A + offset)`, inputs and outputs are the caller's
 * pointers, constants are static arrays (small) or symbols of NAME_weights.o. */
#include "cgen.h"
#include "compiler/lora.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef int (*emit_fn)(struct cg *, const smelt_node *);
static const emit_fn emit_tab[] = {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) emit_##kind,
#include "ir/ops.def"
#undef OP
};

int smelt_backend_c_check(smelt_graph *g) {
  /* every op has a generic C kernel; dtype limits are enforced by shape inference */
  (void)g;
  return 0;
}

void smelt_emit_result_free(struct smelt_emit_result *r) {
  free(r->header);
  free(r->source);
  free(r->main_src);
  memset(r, 0, sizeof *r);
}

/* A C identifier fragment from arbitrary text. */
static const char *ident(smelt_ctx *cx, const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max) n = max;
  char *r = smelt_alloc(cx, n + 2);
  if (!r) return "x";
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    r[i] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ? ch : '_';
  }
  return r;
}

/* Text safe inside a C comment or string literal. */
static const char *safe_text(smelt_ctx *cx, const char *s) {
  size_t n = strlen(s);
  char *r = smelt_alloc(cx, n + 1);
  if (!r) return "";
  for (size_t i = 0; i < n; i++) r[i] = (s[i] < 32 || s[i] == 127 || s[i] == '"' || s[i] == '\\' || (s[i] == '/' && i && s[i - 1] == '*') || (s[i] == '*' && s[i + 1] == '/')) ? '_' : s[i];
  return r;
}

static const char *type_text(struct cg *c, const smelt_value *v) {
  char buf[256];
  return smelt_sprintf(c->cx, "%s%s", smelt_dtype_name(v->dt), smelt_shape_str(c->g, &v->shape, buf, sizeof buf));
}

/* Storage of each value as C text, from the plan. */
struct store { const char **ptr; const char **cname; };

static void print_elem(struct sbuf *b, smelt_dtype dt, const unsigned char *p) {
  switch (dt) {
  case SMELT_DT_F32: case SMELT_DT_F64: {
    double v;
    if (dt == SMELT_DT_F32) { float f; memcpy(&f, p, 4); v = f; }
    else memcpy(&v, p, 8);
    if (isnan(v)) { sb_puts(b, "NAN"); break; }
    if (isinf(v)) { sb_puts(b, v < 0 ? "-INFINITY" : "INFINITY"); break; }
    char t[40];
    snprintf(t, sizeof t, dt == SMELT_DT_F32 ? "%.9g" : "%.17g", v);
    /* a decimal that reads back exactly: float literals round once, to float */
    sb_printf(b, "%s%s%s", t, strpbrk(t, ".e") ? "" : ".0", dt == SMELT_DT_F32 ? "f" : "");
    break;
  }
  case SMELT_DT_I64: { int64_t v; memcpy(&v, p, 8); if (v == INT64_MIN) sb_puts(b, "(-INT64_MAX-1)"); else sb_printf(b, "INT64_C(%" PRId64 ")", v); break; }
  case SMELT_DT_U64: { uint64_t v; memcpy(&v, p, 8); sb_printf(b, "UINT64_C(%" PRIu64 ")", v); break; }
  case SMELT_DT_I32: { int32_t v; memcpy(&v, p, 4); if (v == INT32_MIN) sb_puts(b, "(-2147483647-1)"); else sb_printf(b, "%" PRId32, v); break; }
  case SMELT_DT_U32: { uint32_t v; memcpy(&v, p, 4); sb_printf(b, "%" PRIu32 "u", v); break; }
  case SMELT_DT_I16: { int16_t v; memcpy(&v, p, 2); sb_printf(b, "%d", v); break; }
  case SMELT_DT_I8: { int8_t v; memcpy(&v, p, 1); sb_printf(b, "%d", v); break; }
  default: { /* u8, u16, bool, f16/bf16 bits */
    int es = smelt_dtype_bytes(dt);
    unsigned v = es == 1 ? p[0] : (unsigned)(p[0] | p[1] << 8);
    sb_printf(b, "%u", v);
  }
  }
}

static void emit_const_array(struct sbuf *b, const char *cname, const smelt_value *v, int64_t ne) {
  /* block-quantized weights are bytes; everything else prints element by element */
  smelt_dtype dt = smelt_dtype_is_block(v->dt) ? SMELT_DT_U8 : v->dt;
  if (dt != v->dt) ne = (int64_t)v->c.nbytes;
  sb_printf(b, "static const %s %s[%lld] SM_ALIGN(64) = {", smelt_dtype_ctype(dt), cname, (long long)(ne ? ne : 1));
  int es = smelt_dtype_bytes(dt);
  for (int64_t i = 0; i < ne; i++) {
    sb_puts(b, i % 8 ? ", " : i ? ",\n  " : "\n  ");
    print_elem(b, dt, (const unsigned char *)v->c.data + i * es);
  }
  sb_puts(b, ne ? "\n};\n" : "0};\n");
}

/* The state of the switchable adapters' run-time scales (passes/lora_merge.c), or -1. */
int smelt_backend_c_adapter_state(const smelt_graph *g) {
  for (int i = 0; i < g->nstates; i++)
    if (!strcmp(g->values[g->states[i]].name, SMELT_ADAPTER_STATE)) return g->states[i];
  return -1;
}

int smelt_backend_c_uses_quant(const smelt_graph *g) {
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (!n->dead && n->op == SMELT_OP_FUSED) /* a fused MatMul anchor's weight */
      for (int i = 0; i < n->nin; i++)
        if (g->values[n->in[i]].kind == SMELT_V_CONST && smelt_dtype_is_weight_for(SMELT_DT_F32, g->values[n->in[i]].dt)) return 1;
    if (!n->dead && n->op == SMELT_OP_QCONV) return 1; /* f16 / block rows: smq_dequantize_row_* */
    if (n->dead || (n->op != SMELT_OP_MATMUL && n->op != SMELT_OP_GATHER)) continue;
    smelt_dtype a = g->values[n->in[0]].dt, b = g->values[n->in[1]].dt;
    if (n->op == SMELT_OP_GATHER ? smelt_dtype_is_weight_for(SMELT_DT_F32, a) : smelt_dtype_is_weight_for(a, b)) return 1;
  }
  return 0;
}

static const char *attr_text(struct cg *c, const smelt_node *n) {
  struct sbuf b = {0};
  for (int i = 0; i < n->nattr; i++) {
    const smelt_attr *a = &n->attrs[i];
    sb_printf(&b, "%s%s=", i ? " " : "", a->key);
    switch (a->type) {
    case SMELT_A_INT: sb_printf(&b, "%lld", (long long)a->i); break;
    case SMELT_A_FLOAT: sb_printf(&b, "%g", a->f); break;
    case SMELT_A_STR: sb_puts(&b, safe_text(c->cx, a->s)); break;
    case SMELT_A_DTYPE: sb_puts(&b, smelt_dtype_name((smelt_dtype)a->i)); break;
    case SMELT_A_INTS: case SMELT_A_FLOATS:
      sb_puts(&b, "[");
      for (int k = 0; k < a->n; k++) {
        if (a->type == SMELT_A_INTS) sb_printf(&b, "%s%lld", k ? "," : "", (long long)a->is[k]);
        else sb_printf(&b, "%s%g", k ? "," : "", a->fs[k]);
      }
      sb_puts(&b, "]");
      break;
    }
  }
  const char *r = b.p ? smelt_strdup(c->cx, b.p) : "";
  sb_free(&b);
  return r;
}

/* The symbol of constant val, declared (or defined) into s when this is its first
 * emission; id names it when no shared table numbers it.  NULL on error. */
static const char *emit_one_const(struct cg *c, struct sbuf *s, struct smelt_emit_result *r, const char *WP, const smelt_value *val, int id) {
  smelt_ctx *cx = c->cx;
  const struct smelt_emit_opts *o = c->o;
  int64_t ne = smelt_shape_max_elems(c->g, &val->shape);
  const char *ct = smelt_dtype_ctype(val->dt), *sym;
  if (smelt_dtype_is_block(val->dt)) ne = (int64_t)val->c.nbytes; /* uint8_t blocks */
  const char *key = o->shared ? smelt_sprintf(cx, "%p:%llu:%d", val->c.data, (unsigned long long)val->c.nbytes, (int)val->dt) : NULL;
  int si = key ? smelt_map_get(&o->shared->map, key) : -1;
  if (si >= 0) return o->shared->syms[si]; /* emitted by an earlier graph */
  if (o->shared) {
    id = o->shared->n;
    if (o->shared->n == o->shared->cap) {
      int cap = o->shared->cap ? 2 * o->shared->cap : 64;
      const char **ns = smelt_alloc(cx, sizeof *ns * cap);
      if (!ns) return NULL;
      if (o->shared->n) memcpy(ns, o->shared->syms, sizeof *ns * o->shared->n);
      o->shared->syms = ns;
      o->shared->cap = cap;
    }
  }
  if (!o->weights_in_c && (int64_t)val->c.nbytes >= o->weights_min) {
    sym = smelt_sprintf(cx, "%s_w%d", WP, id);
    r->weights[r->nweights++] = (struct smelt_weight){sym, val->c.data, val->c.nbytes};
    sb_printf(s, "extern const %s %s[%lld]; /* %s '%s' in %s_weights.o */\n", ct, sym, (long long)ne, type_text(c, val), safe_text(cx, val->name), o->name);
  } else {
    sym = smelt_sprintf(cx, "%s_c%d", WP, id);
    sb_printf(s, "/* %s '%s' */\n", type_text(c, val), safe_text(cx, val->name));
    emit_const_array(s, sym, val, ne);
  }
  if (o->shared) {
    o->shared->syms[o->shared->n++] = sym;
    if (smelt_map_put(&o->shared->map, key, id)) return NULL;
  }
  return sym;
}

/* The constant of another graph (o->shared->parents) whose bytes strictly contain
 * val's, of the same dtype and emitted with it, or NULL. */
static const smelt_value *parent_of(const struct smelt_emit_opts *o, const smelt_value *val) {
  if (!o->shared) return NULL;
  const unsigned char *d = val->c.data;
  for (int i = 0; i < o->shared->nparents; i++) {
    const smelt_value *p = o->shared->parents[i];
    const unsigned char *pd = p->c.data;
    if (p->kind != SMELT_V_CONST || !pd || p->dt != val->dt || p->c.nbytes <= val->c.nbytes) continue;
    if (d >= pd && d + val->c.nbytes <= pd + p->c.nbytes) return p;
  }
  return NULL;
}

int smelt_backend_c_emit(smelt_graph *g, const struct smelt_emit_opts *o, struct smelt_emit_result *r) {
  smelt_ctx *cx = g->cx;
  const struct smelt_plan *plan = g->plan;
  const char *N = o->name;
  memset(r, 0, sizeof *r);
  if (!plan) return smelt_errorf(cx, "backend: graph has no memory plan");
  struct sbuf h = {0}, s = {0}, k = {0}, m = {0};
  struct cg c = {.g = g, .cx = cx, .o = o, .b = &k};
  int nv = g->nvalues, rc = SMELT_ERR;
  const char **ptr = smelt_alloc(cx, sizeof(char *) * (nv + 1));
  int *inidx = smelt_alloc(cx, sizeof(int) * (nv + 1)), *outidx = smelt_alloc(cx, sizeof(int) * (nv + 1));
  if (!ptr || !inidx || !outidx) return SMELT_ERR;
  for (int v = 0; v < nv; v++) inidx[v] = outidx[v] = -1;
  for (int i = 0; i < g->ninputs; i++) inidx[g->inputs[i]] = i;
  for (int i = g->noutputs - 1; i >= 0; i--) outidx[g->outputs[i]] = i; /* first occurrence */

  /* ---- source prologue and constants ---- */
  const char *api = o->embedded ? "static " : "", *WP = o->weights_prefix ? o->weights_prefix : N;
  if (o->embedded) {
    sb_printf(&s, "/* ---- %s: graph '%s' ---- */\n", N, safe_text(cx, g->name));
    sb_printf(&s, "#define %s_ARENA_BYTES %lld\n", N, (long long)(plan->state_bytes + plan->arena_bytes));
    if (o->embedded == 1) /* 2: the embedding header defines it */
      sb_printf(&s, "typedef struct %s_ctx {\n  unsigned char *arena;\n  int64_t dims[%d];\n  int ready;\n} %s_ctx;\n\n", N, g->nsyms ? g->nsyms : 1, N);
  } else {
    sb_printf(&s, "/* %s.c — generated by smelt %s from %s; do not edit. */\n", N, SMELT_VERSION, safe_text(cx, g->source ? g->source : "?"));
    sb_printf(&s, "#include \"%s.h\"\n#include \"smelt_rt.h\"\n%s#include <tgmath.h>\n\n", N, smelt_backend_c_uses_quant(g) ? "#include \"smelt_quant.h\"\n" : "");
    sb_puts(&s, smelt_backend_prelude(g, NULL, o)); /* the target backend's runtime */
    sb_puts(&s, "#if defined(__GNUC__)\n#pragma GCC diagnostic ignored \"-Wunused-parameter\"\n#pragma GCC diagnostic ignored \"-Wunused-variable\"\n#pragma GCC diagnostic ignored \"-Wtype-limits\"\n#pragma GCC diagnostic ignored \"-Wunused-local-typedefs\"\n#endif\n\n");
  }
  r->weights = smelt_alloc(cx, sizeof *r->weights * (nv + 1));
  if (!r->weights) return SMELT_ERR;
  for (int v = 0; v < nv; v++) {
    const smelt_value *val = &g->values[v];
    if (val->kind != SMELT_V_CONST) continue;
    if (!val->c.data) { smelt_errorf(cx, "backend: constant '%s' has no data", val->name); goto done; }
    const smelt_value *par = parent_of(o, val);
    if (par) { /* a row range of another graph's constant: a pointer into it */
      const char *ps = emit_one_const(&c, &s, r, WP, par, v);
      if (!ps) goto done;
      ptr[v] = smelt_sprintf(cx, "((const %s *)((const unsigned char *)%s + %lld))", smelt_dtype_ctype(val->dt), ps,
                             (long long)((const unsigned char *)val->c.data - (const unsigned char *)par->c.data));
      continue;
    }
    if (!(ptr[v] = emit_one_const(&c, &s, r, WP, val, v))) goto done;
  }
  sb_puts(&s, "\n");

  /* ---- where each value lives ---- */
  for (int v = 0; v < nv; v++) {
    const smelt_value *val = &g->values[v];
    const char *ct = smelt_dtype_ctype(val->dt);
    if (val->kind == SMELT_V_CONST) continue;
    if (val->kind == SMELT_V_INPUT) ptr[v] = smelt_sprintf(cx, "in%d", inidx[v]);
    else if (outidx[v] >= 0) ptr[v] = smelt_sprintf(cx, "out%d", outidx[v]);
    else if (val->kind == SMELT_V_STATE) ptr[v] = smelt_sprintf(cx, "((%s *)(A + %lld))", ct, (long long)plan->offset[v]);
    else if (plan->offset[v] >= 0) ptr[v] = smelt_sprintf(cx, "((%s *)(A + %lld))", ct, (long long)(plan->state_bytes + plan->offset[v]));
  }
  for (int v = 0; v < nv; v++) /* views: the root's storage, retyped */
    if (plan->alias[v] >= 0) {
      int rt = plan->alias[v];
      if (plan->view_off[v]) /* a contiguous Slice: bytes further in */
        ptr[v] = smelt_sprintf(cx, "((%s *)((unsigned char *)%s + %lld))", smelt_dtype_ctype(g->values[v].dt), ptr[rt], (long long)plan->view_off[v]);
      else
        ptr[v] = smelt_sprintf(cx, "((%s *)%s)", smelt_dtype_ctype(g->values[v].dt), ptr[rt]);
    }

  /* ---- kernels ---- */
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead || smelt_plan_is_view(g, n)) continue; /* views need no kernel */
    const struct smelt_opinfo *oi = smelt_op_info(n->op);
    c.kname = smelt_sprintf(cx, "%s_k%d_%s", N, ni, ident(cx, n->name, 40));
    if (emit_fused_pre(&c, n)) goto done;
    sb_printf(&k, "/* %s '%s': ", oi->name, safe_text(cx, n->name));
    for (int i = 0; i < n->nin; i++) sb_printf(&k, "%s%s", i ? ", " : "", type_text(&c, cg_in(&c, n, i)));
    sb_puts(&k, " -> ");
    for (int i = 0; i < n->nout; i++) sb_printf(&k, "%s%s", i ? ", " : "", n->out[i] >= 0 ? type_text(&c, cg_out(&c, n, i)) : "_");
    const char *at = attr_text(&c, n);
    if (*at) sb_printf(&k, "\n   %s", at);
    sb_puts(&k, " */\n");
    sb_printf(&k, "static int %s_k%d_%s(const %s_ctx *ctx", N, ni, ident(cx, n->name, 40), N);
    /* an in-place kernel's y0 is its x0: no restrict there */
    const char *rs = (smelt_op_flags(n->op) & OPF_INPLACE) || plan->alias[n->out[0]] >= 0 ? "" : "restrict "; /* memplan's in-place too */
    for (int i = 0; i < n->nin; i++) sb_printf(&k, ", const %s *%sx%d", smelt_dtype_ctype(cg_in(&c, n, i)->dt), rs, i);
    for (int i = 0; i < n->nout; i++)
      if (n->out[i] >= 0) sb_printf(&k, ", %s *%sy%d", smelt_dtype_ctype(cg_out(&c, n, i)->dt), rs, i);
    sb_puts(&k, ") {\n");
    c.indent = 1;
    int handled = o->kernels ? o->kernels(&c, n) : 1; /* the target backend first */
    if (handled < 0 || (handled > 0 && emit_tab[n->op](&c, n))) goto done;
    sb_puts(&k, "  return 0;\n}\n\n");
    r->nkernels++;
  }

  /* ---- header ---- */
  const char *ctype0 = NULL;
  (void)ctype0;
  sb_printf(&h, "/* %s.h — generated by smelt %s; do not edit.\n", N, SMELT_VERSION);
  sb_printf(&h, " * source: %s (xxh3 %016llx)\n * options: %s\n *\n", safe_text(cx, g->source ? g->source : "?"), (unsigned long long)g->source_hash, safe_text(cx, o->options ? o->options : ""));
  sb_printf(&h, " * Usage: allocate %s_ARENA_BYTES (16-byte aligned) and a %s_ctx, call %s_init once,\n", N, N, N);
  sb_printf(&h, " * then %s_run as often as needed.  Every function returns 0 or a negative error\n * code (%s_strerror).  No allocation, no global state. */\n", N, N);
  sb_printf(&h, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n", N, N);
  sb_printf(&h, "#define %s_SMELT_VERSION \"%s\"\n#define %s_SOURCE_XXH3 \"%016llx\"\n", N, SMELT_VERSION, N, (unsigned long long)g->source_hash);
  sb_printf(&h, "#define %s_ARENA_BYTES %lld\n#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n#define %s_NUM_DIMS %d\n\n",
            N, (long long)(plan->state_bytes + plan->arena_bytes), N, g->ninputs, N, g->noutputs, N, g->nsyms);
  for (int i = 0; i < g->nsyms; i++)
    sb_printf(&h, "#define %s_DIM_%s %d /* %s_set_dim index; 1 <= value <= %lld */\n", N, ident(cx, g->syms[i].name, 64), i, N, (long long)g->syms[i].max);
  for (int io = 0; io < 2; io++) {
    int cnt = io ? g->noutputs : g->ninputs;
    for (int i = 0; i < cnt; i++) {
      const smelt_value *v = &g->values[io ? g->outputs[i] : g->inputs[i]];
      const char *P = io ? "OUTPUT" : "INPUT";
      sb_printf(&h, "/* %s %d: '%s' %s */\n", io ? "output" : "input", i, safe_text(cx, v->name), type_text(&c, v));
      sb_printf(&h, "#define %s_%s%d_NAME \"%s\"\n#define %s_%s%d_RANK %d\n#define %s_%s%d_SHAPE {", N, P, i, safe_text(cx, v->name), N, P, i, v->shape.rank, N, P, i);
      for (int d = 0; d < v->shape.rank; d++) {
        smelt_dim dm = v->shape.d[d];
        sb_printf(&h, "%s%lld", d ? ", " : "", (long long)(dm.sym ? g->syms[dm.sym - 1].max : dm.n));
      }
      sb_printf(&h, "%s} /* symbolic dims at their bound */\n#define %s_%s%d_ELEMS %lld\n", v->shape.rank ? "" : "1", N, P, i, (long long)smelt_shape_max_elems(g, &v->shape));
    }
  }
  sb_printf(&h, "\ntypedef struct %s_ctx {\n  unsigned char *arena;\n  int64_t dims[%d];\n  int ready;\n} %s_ctx;\n\n", N, g->nsyms ? g->nsyms : 1, N);
  sb_printf(&h, "int %s_init(%s_ctx *ctx, void *arena, size_t arena_bytes);\n", N, N);
  sb_printf(&h, "int %s_set_dim(%s_ctx *ctx, int dim, int64_t value);\n", N, N);
  sb_printf(&h, "int %s_run(%s_ctx *ctx", N, N);
  for (int i = 0; i < g->ninputs; i++) sb_printf(&h, ", const %s *in%d", smelt_dtype_ctype(g->values[g->inputs[i]].dt), i);
  for (int i = 0; i < g->noutputs; i++) sb_printf(&h, ", %s *out%d", smelt_dtype_ctype(g->values[g->outputs[i]].dt), i);
  sb_puts(&h, ");\n");
  int ads = smelt_backend_c_adapter_state(g);
  if (ads >= 0) {
    sb_printf(&h, "\n/* LoRA adapters kept switchable (--adapter): %s_set_adapter(ctx, index, scale) makes adapter\n"
                  " * `index` (-1: none, the base model) active with that scale, in constant time. */\n#define %s_NUM_ADAPTERS %d\n", N, N, o->nadapters);
    for (int i = 0; i < o->nadapters; i++) sb_printf(&h, "#define %s_ADAPTER%d_NAME \"%s\"\n", N, i, safe_text(cx, o->adapters[i]));
    sb_printf(&h, "int %s_set_adapter(%s_ctx *ctx, int adapter, float scale);\n", N, N);
  }
  sb_printf(&h, "const char *%s_strerror(int err);\n\nstruct smelt_model_desc;\nextern const struct smelt_model_desc %s_desc; /* for generic drivers */\n\n", N, N);
  if (ads >= 0) sb_printf(&h, "struct smelt_adapter_desc;\nextern const struct smelt_adapter_desc %s_adapters;\n\n", N);
  sb_printf(&h, "#ifdef __cplusplus\n}\n#endif\n#endif\n");

  /* ---- run, init, set_dim, strerror, descriptor ---- */
  sb_puts(&s, k.p ? k.p : "");
  sb_printf(&s, "%sint %s_run(%s_ctx *ctx", api, N, N);
  for (int i = 0; i < g->ninputs; i++) sb_printf(&s, ", const %s *in%d", smelt_dtype_ctype(g->values[g->inputs[i]].dt), i);
  for (int i = 0; i < g->noutputs; i++) sb_printf(&s, ", %s *out%d", smelt_dtype_ctype(g->values[g->outputs[i]].dt), i);
  sb_puts(&s, ") {\n  int rc;\n  if (!ctx) return SMELT_E_NULL;\n  if (!ctx->ready) return SMELT_E_NOT_INIT;\n");
  sb_puts(&s, "  unsigned char *A = ctx->arena;\n  (void)A;\n  (void)rc;\n");
  for (int i = 0; i < g->ninputs; i++) sb_printf(&s, "  if (!in%d) return SMELT_E_NULL;\n", i);
  for (int i = 0; i < g->noutputs; i++) sb_printf(&s, "  if (!out%d) return SMELT_E_NULL;\n", i);
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead || smelt_plan_is_view(g, n)) continue;
    sb_printf(&s, "  if ((rc = %s_k%d_%s(ctx", N, ni, ident(cx, n->name, 40));
    for (int i = 0; i < n->nin; i++) sb_printf(&s, ", %s", ptr[n->in[i]]);
    for (int i = 0; i < n->nout; i++)
      if (n->out[i] >= 0) {
        if (!ptr[n->out[i]]) { smelt_errorf(cx, "backend: value '%s' has no storage", g->values[n->out[i]].name); goto done; }
        sb_printf(&s, ", %s", ptr[n->out[i]]);
      }
    sb_puts(&s, ")) != 0) return rc;\n");
  }
  /* outputs not written by a kernel: inputs, constants, repeated outputs */
  for (int i = 0; i < g->noutputs; i++) {
    int v = g->outputs[i];
    const smelt_value *val = &g->values[v];
    if (val->kind == SMELT_V_NODE && outidx[v] == i) continue;
    const char *src = val->kind == SMELT_V_NODE ? smelt_sprintf(cx, "out%d", outidx[v]) : ptr[v];
    sb_printf(&s, "  memcpy(out%d, %s, (size_t)(%s) * sizeof(%s));\n", i, src, cg_elems(&c, &val->shape, 0, val->shape.rank), smelt_dtype_ctype(val->dt));
  }
  sb_puts(&s, "  return 0;\n}\n\n");
  sb_printf(&s, "%sint %s_init(%s_ctx *ctx, void *arena, size_t arena_bytes) {\n  if (!ctx) return SMELT_E_NULL;\n  ctx->ready = 0;\n", api, N, N);
  sb_printf(&s, "  if (%s_ARENA_BYTES > 0 && (!arena || arena_bytes < (size_t)%s_ARENA_BYTES || ((uintptr_t)arena & 15))) return SMELT_E_ARENA;\n", N, N);
  sb_puts(&s, "  ctx->arena = (unsigned char *)arena;\n");
  if (smelt_backend_c_adapter_state(g) >= 0) /* no adapter active */
    sb_printf(&s, "  memset(ctx->arena + %lld, 0, %lld);\n", (long long)plan->offset[smelt_backend_c_adapter_state(g)],
              (long long)plan->size[smelt_backend_c_adapter_state(g)]);
  for (int i = 0; i < g->nsyms; i++) sb_printf(&s, "  ctx->dims[%d] = %lld;\n", i, (long long)g->syms[i].max);
  sb_puts(&s, "  ctx->ready = 1;\n  return 0;\n}\n\n");
  sb_printf(&s, "%sint %s_set_dim(%s_ctx *ctx, int dim, int64_t value) {\n  if (!ctx) return SMELT_E_NULL;\n", api, N, N);
  sb_printf(&s, "  static const int64_t maxv[%d] = {", g->nsyms ? g->nsyms : 1);
  for (int i = 0; i < g->nsyms; i++) sb_printf(&s, "%s%lld", i ? ", " : "", (long long)g->syms[i].max);
  sb_printf(&s, "%s};\n  if (dim < 0 || dim >= %d || value < 1 || value > maxv[dim]) return SMELT_E_DIM;\n  ctx->dims[dim] = value;\n  return 0;\n}\n\n", g->nsyms ? "" : "0", g->nsyms);
  if (o->embedded) goto finish; /* the embedding source provides the rest */
  sb_printf(&s, "const char *%s_strerror(int err) { return smelt_rt_strerror(err); }\n\n", N);
  if (ads >= 0) {
    sb_printf(&s, "int %s_set_adapter(%s_ctx *ctx, int adapter, float scale) {\n  if (!ctx) return SMELT_E_NULL;\n  if (!ctx->ready) return SMELT_E_NOT_INIT;\n"
                  "  if (adapter < -1 || adapter >= %d || !(scale == scale)) return SMELT_E_ARG;\n  float *s = (float *)(ctx->arena + %lld);\n"
                  "  for (int i = 0; i < %d; i++) s[i] = i == adapter ? scale : 0.0f;\n  return 0;\n}\n\n",
              N, N, o->nadapters, (long long)plan->offset[ads], o->nadapters);
    sb_printf(&s, "static int %s_set_adapter_v(void *ctx, int a, float s) { return %s_set_adapter((%s_ctx *)ctx, a, s); }\n", N, N, N);
    sb_printf(&s, "static const char *const %s_adapter_names[%d] = {", N, o->nadapters);
    for (int i = 0; i < o->nadapters; i++) sb_printf(&s, "%s\"%s\"", i ? ", " : "", safe_text(cx, o->adapters[i]));
    sb_printf(&s, "};\nconst struct smelt_adapter_desc %s_adapters = {%d, %s_adapter_names, %s_set_adapter_v};\n\n", N, o->nadapters, N, N);
  }
  /* descriptor */
  sb_printf(&s, "static int %s_init_v(void *ctx, void *arena, size_t n) { return %s_init((%s_ctx *)ctx, arena, n); }\n", N, N, N);
  sb_printf(&s, "static int %s_set_dim_v(void *ctx, int d, int64_t v) { return %s_set_dim((%s_ctx *)ctx, d, v); }\n", N, N, N);
  sb_printf(&s, "static int %s_run_v(void *ctx, void *const *in, void *const *out) {\n  return %s_run((%s_ctx *)ctx", N, N, N);
  for (int i = 0; i < g->ninputs; i++) sb_printf(&s, ", (const %s *)in[%d]", smelt_dtype_ctype(g->values[g->inputs[i]].dt), i);
  for (int i = 0; i < g->noutputs; i++) sb_printf(&s, ", (%s *)out[%d]", smelt_dtype_ctype(g->values[g->outputs[i]].dt), i);
  sb_puts(&s, ");\n}\n");
  for (int io = 0; io < 2; io++) {
    int cnt = io ? g->noutputs : g->ninputs;
    sb_printf(&s, "static const struct smelt_io_desc %s_%s[%d] = {\n", N, io ? "outs" : "ins", cnt ? cnt : 1);
    for (int i = 0; i < cnt; i++) {
      const smelt_value *v = &g->values[io ? g->outputs[i] : g->inputs[i]];
      sb_printf(&s, "  {\"%s\", \"%s\", %d, %d, {", safe_text(cx, v->name), smelt_dtype_npy(v->dt), smelt_dtype_bytes(v->dt), v->shape.rank);
      for (int d = 0; d < v->shape.rank; d++) {
        smelt_dim dm = v->shape.d[d];
        sb_printf(&s, "%s%lld", d ? ", " : "", (long long)(dm.sym ? g->syms[dm.sym - 1].max : dm.n));
      }
      sb_puts(&s, v->shape.rank ? "}, {" : "0}, {");
      for (int d = 0; d < v->shape.rank; d++) sb_printf(&s, "%s%d", d ? ", " : "", v->shape.d[d].sym - 1);
      sb_puts(&s, v->shape.rank ? "}},\n" : "0}},\n");
    }
    if (!cnt) sb_puts(&s, "  {0}\n");
    sb_puts(&s, "};\n");
  }
  sb_printf(&s, "static const char *const %s_dim_names[%d] = {", N, g->nsyms ? g->nsyms : 1);
  for (int i = 0; i < g->nsyms; i++) sb_printf(&s, "%s\"%s\"", i ? ", " : "", safe_text(cx, g->syms[i].name));
  sb_printf(&s, "%s};\nstatic const int64_t %s_dim_max[%d] = {", g->nsyms ? "" : "0", N, g->nsyms ? g->nsyms : 1);
  for (int i = 0; i < g->nsyms; i++) sb_printf(&s, "%s%lld", i ? ", " : "", (long long)g->syms[i].max);
  sb_printf(&s, "%s};\n", g->nsyms ? "" : "0");
  sb_printf(&s, "const struct smelt_model_desc %s_desc = {\"%s\", %d, %d, %d, %s_ins, %s_outs, %s_dim_names, %s_dim_max,\n"
                "  %s_ARENA_BYTES, sizeof(%s_ctx), %s_init_v, %s_set_dim_v, %s_run_v, %s_strerror};\n",
            N, N, g->ninputs, g->noutputs, g->nsyms, N, N, N, N, N, N, N, N, N, N);

  sb_printf(&m, "/* %s_main.c — generated by smelt %s: the command-line driver of %s. */\n", N, SMELT_VERSION, N);
  if (ads >= 0)
    sb_printf(&m, "#include \"%s.h\"\n#include \"smelt_main.h\"\n\nint main(int argc, char **argv) { return smelt_main_adapters(argc, argv, &%s_desc, &%s_adapters); }\n", N, N, N);
  else
    sb_printf(&m, "#include \"%s.h\"\n#include \"smelt_main.h\"\n\nint main(int argc, char **argv) { return smelt_main(argc, argv, &%s_desc); }\n", N, N);

finish:
  if (h.oom || s.oom || k.oom || m.oom) { smelt_errorf(cx, "backend: out of memory"); goto done; }
  r->header = h.p; h.p = NULL;
  r->source = s.p; s.p = NULL;
  r->main_src = m.p; m.p = NULL;
  rc = 0;
done:
  sb_free(&h);
  sb_free(&s);
  sb_free(&k);
  sb_free(&m);
  return rc;
}
