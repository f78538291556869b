/* ir/print.c — the IR's text form (`smelt dump`), read back by ir/parse.c.
 *
 *   smelt-ir 1
 *   graph "mnist"
 *   sym batch <= 64
 *   input %x : f32[batch,784]
 *   state %kv : f32[512,4,16]                    (persists across calls)
 *   const %w : f32[2,2] = [1, 2, 3, 4]
 *   const %big : f32[784,10] = opaque 9c1f...   (data not printed)
 *   %y : f32[batch,10] = MatMul(%x, %big) @"dense/MatMul"
 *   %a : f32[1,4], %b : i64[1,4] = TopK(%x) {axis=1, k=4}
 *   output %y
 *
 * Names are printed bare when they are made of [A-Za-z0-9_.:/-], else quoted.  A
 * name used by two values gets "~N" appended to later ones so the text stays
 * unambiguous.  Attributes equal to their schema default are omitted.  Constants
 * of at most 16 elements (all of them with SMELT_PRINT_CONSTS) are printed in full
 * with enough digits to read back exactly. */
#include "ir.h"
#include "../runtime/smelt_scalar.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int plain_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-' || c == '~';
}

static void print_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 32 || *p == 127) fprintf(f, "\\x%02x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static void print_name(FILE *f, const char *s) {
  int plain = *s != 0;
  for (const char *p = s; *p; p++)
    if (!plain_char((unsigned char)*p)) plain = 0;
  if (plain) fputs(s, f);
  else print_str(f, s);
}

/* Printed names, unique per graph: a repeated name gets "~N" appended.  The names
 * live in a scratch ctx freed by the caller. */
static const char **value_names(const smelt_graph *g, smelt_ctx *tmp) {
  const char **nm = smelt_alloc(tmp, sizeof *nm * ((size_t)g->nvalues + 1));
  smelt_map seen;
  smelt_map_init(&seen, tmp);
  if (!nm) return NULL;
  for (int i = 0; i < g->nvalues; i++) smelt_map_put(&seen, g->values[i].name, 0);
  smelt_map used;
  smelt_map_init(&used, tmp);
  for (int i = 0; i < g->nvalues; i++) {
    const char *base = g->values[i].name;
    if (smelt_map_get(&used, base) < 0) nm[i] = base;
    else
      for (int k = 1;; k++) {
        char *c = smelt_sprintf(tmp, "%s~%d", base, k);
        if (smelt_map_get(&seen, c) < 0 && smelt_map_get(&used, c) < 0) { nm[i] = c; break; }
      }
    smelt_map_put(&used, nm[i], i);
  }
  return smelt_failed(tmp) ? NULL : nm;
}

/* A symbol's name, quoted unless plain and not starting like a number (a dim). */
static void print_sym(FILE *f, const char *s) {
  if ((*s >= '0' && *s <= '9') || *s == '-') print_str(f, s);
  else print_name(f, s);
}

static void print_type(FILE *f, const smelt_graph *g, const smelt_value *v) {
  fprintf(f, "%s[", smelt_dtype_name(v->dt));
  for (int i = 0; i < v->shape.rank; i++) {
    smelt_dim d = v->shape.d[i];
    if (i) fputc(',', f);
    if (d.sym) print_sym(f, g->syms[d.sym - 1].name);
    else fprintf(f, "%lld", (long long)d.n);
  }
  fputc(']', f);
}

static void print_double(FILE *f, double x, int digits) {
  if (isnan(x)) fputs("nan", f);
  else if (isinf(x)) fputs(x < 0 ? "-inf" : "inf", f);
  else fprintf(f, "%.*g", digits, x);
}

/* Prints element i of a constant's data. */
static void print_elem(FILE *f, smelt_dtype dt, const void *data, int64_t i) {
  const unsigned char *p = (const unsigned char *)data + i * smelt_dtype_bytes(dt);
  switch (dt) {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk)                                              \
  case SMELT_DT_##id: {                                                                      \
    ctype v;                                                                                 \
    memcpy(&v, p, sizeof v);                                                                 \
    if (SMELT_DT_##id == SMELT_DT_F16) print_double(f, sm_f16_to_f32((uint16_t)v), 9);      \
    else if (SMELT_DT_##id == SMELT_DT_BF16) print_double(f, sm_bf16_to_f32((uint16_t)v), 9); \
    else if ((flags) & DTF_FLOAT) print_double(f, (double)v, bytes == 4 ? 9 : 17);           \
    else if ((flags) & DTF_SIGNED) fprintf(f, "%lld", (long long)v);                        \
    else fprintf(f, "%llu", (unsigned long long)v);                                          \
    break;                                                                                   \
  }
#include "dtypes.def"
#undef DT
  default: break;
  }
}

/* Is attribute a equal to the schema default? */
static int is_default(const smelt_attr *a, const struct smelt_attr_spec *sp) {
  if (!sp->has_default) return 0;
  switch (a->type) {
  case SMELT_A_INT: return a->i == strtoll(sp->def, NULL, 10);
  case SMELT_A_FLOAT: { double d = strtod(sp->def, NULL); return a->f == d || (isnan(a->f) && isnan(d)); }
  case SMELT_A_STR: return !strcmp(a->s, sp->def);
  case SMELT_A_INTS: case SMELT_A_FLOATS: return a->n == 0 && sp->def[0] == 0;
  case SMELT_A_DTYPE: { smelt_dtype dt; return !smelt_dtype_parse(sp->def, &dt) && (int64_t)dt == a->i; }
  }
  return 0;
}

static void print_attrs(FILE *f, const smelt_node *n) {
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(n->op, sp, 16), first = 1;
  for (int i = 0; i < n->nattr; i++) {
    const smelt_attr *a = &n->attrs[i];
    int k = 0;
    while (k < ns && strcmp(sp[k].name, a->key)) k++;
    if (k < ns && is_default(a, &sp[k])) continue;
    fprintf(f, "%s%s=", first ? " {" : ", ", a->key);
    first = 0;
    switch (a->type) {
    case SMELT_A_INT: fprintf(f, "%lld", (long long)a->i); break;
    case SMELT_A_FLOAT: print_double(f, a->f, 17); break;
    case SMELT_A_STR: print_str(f, a->s); break;
    case SMELT_A_DTYPE: fputs(smelt_dtype_name((smelt_dtype)a->i), f); break;
    case SMELT_A_INTS:
      fputc('[', f);
      for (int j = 0; j < a->n; j++) fprintf(f, "%s%lld", j ? ", " : "", (long long)a->is[j]);
      fputc(']', f);
      break;
    case SMELT_A_FLOATS:
      fputc('[', f);
      for (int j = 0; j < a->n; j++) { if (j) fputs(", ", f); print_double(f, a->fs[j], 17); }
      fputc(']', f);
      break;
    }
  }
  if (!first) fputc('}', f);
}

int smelt_print(const smelt_graph *g, FILE *f, unsigned flags) {
  smelt_ctx *tmp = smelt_ctx_new();
  const char **nm = tmp ? value_names(g, tmp) : NULL;
  if (!nm) { smelt_ctx_free(tmp); return smelt_errorf(g->cx, "out of memory"); }
  fprintf(f, "smelt-ir 1\ngraph ");
  print_str(f, g->name);
  fputc('\n', f);
  for (int i = 0; i < g->nsyms; i++) {
    fputs("sym ", f);
    print_sym(f, g->syms[i].name);
    fprintf(f, " <= %lld\n", (long long)g->syms[i].max);
  }
  for (int i = 0; i < g->ninputs; i++) {
    const smelt_value *v = &g->values[g->inputs[i]];
    fputs("input %", f);
    print_name(f, nm[g->inputs[i]]);
    fputs(" : ", f);
    print_type(f, g, v);
    fputc('\n', f);
  }
  for (int i = 0; i < g->nstates; i++) {
    fputs("state %", f);
    print_name(f, nm[g->states[i]]);
    fputs(" : ", f);
    print_type(f, g, &g->values[g->states[i]]);
    fputc('\n', f);
  }
  for (int i = 0; i < g->nvalues; i++) {
    const smelt_value *v = &g->values[i];
    if (v->kind != SMELT_V_CONST) continue;
    fputs("const %", f);
    print_name(f, nm[i]);
    fputs(" : ", f);
    print_type(f, g, v);
    int64_t ne = smelt_shape_max_elems(g, &v->shape);
    if (v->c.data && !smelt_dtype_is_block(v->dt) && ((flags & SMELT_PRINT_CONSTS) || ne <= 16)) {
      fputs(" = [", f);
      for (int64_t e = 0; e < ne; e++) {
        if (e) fputs(", ", f);
        print_elem(f, v->dt, v->c.data, e);
      }
      fputs("]\n", f);
    } else {
      fprintf(f, " = opaque %016llx\n", (unsigned long long)v->c.hash);
    }
  }
  for (int ni = 0; ni < g->nnodes; ni++) {
    const smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    int first = 1;
    for (int o = 0; o < n->nout; o++) {
      if (!first) fputs(", ", f);
      first = 0;
      if (n->out[o] < 0) { fputs("_", f); continue; }
      fputc('%', f);
      print_name(f, nm[n->out[o]]);
      fputs(" : ", f);
      print_type(f, g, &g->values[n->out[o]]);
    }
    fprintf(f, " = %s(", smelt_op_info(n->op)->name);
    for (int i = 0; i < n->nin; i++) {
      fputs(i ? ", %" : "%", f);
      print_name(f, nm[n->in[i]]);
    }
    fputc(')', f);
    print_attrs(f, n);
    if (n->out[0] < 0 || strcmp(n->name, g->values[n->out[0]].name)) {
      fputs(" @", f);
      print_name(f, n->name);
    }
    fputc('\n', f);
  }
  for (int i = 0; i < g->noutputs; i++) {
    fputs("output %", f);
    print_name(f, nm[g->outputs[i]]);
    fputc('\n', f);
  }
  smelt_ctx_free(tmp);
  return ferror(f) ? smelt_errorf(g->cx, "write error") : 0;
}
