/* backends/c/cgen.c — shared helpers of the C backend (see cgen.h). */
#include "cgen.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void sb_vprintf(struct sbuf *b, const char *fmt, va_list ap) {
  if (b->oom) return;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return;
  if (b->n + (size_t)n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + (size_t)n + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
  }
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  b->n += (size_t)n;
}

void sb_printf(struct sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(b, fmt, ap);
  va_end(ap);
}

void sb_puts(struct sbuf *b, const char *s) { sb_printf(b, "%s", s); }
void sb_free(struct sbuf *b) { free(b->p); memset(b, 0, sizeof *b); }

void cg_line(struct cg *c, const char *fmt, ...) {
  for (int i = 0; i < c->indent; i++) sb_puts(c->b, "  ");
  va_list ap;
  va_start(ap, fmt);
  sb_vprintf(c->b, fmt, ap);
  va_end(ap);
  sb_puts(c->b, "\n");
}

const char *cg_ctype(smelt_dtype dt) { return smelt_dtype_ctype(dt); }

const char *cg_comptype(smelt_dtype dt) {
  if (dt == SMELT_DT_F64) return "double";
  if (smelt_dtype_is_float(dt)) return "float";
  return smelt_dtype_ctype(dt);
}

const char *cg_load(struct cg *c, smelt_dtype dt, const char *expr) {
  if (dt == SMELT_DT_F16) return smelt_sprintf(c->cx, "sm_f16_to_f32(%s)", expr);
  if (dt == SMELT_DT_BF16) return smelt_sprintf(c->cx, "sm_bf16_to_f32(%s)", expr);
  return expr;
}

const char *cg_store(struct cg *c, smelt_dtype dt, const char *expr) {
  switch (dt) {
  case SMELT_DT_F16: return smelt_sprintf(c->cx, "sm_f32_to_f16((float)(%s))", expr);
  case SMELT_DT_BF16: return smelt_sprintf(c->cx, "sm_f32_to_bf16((float)(%s))", expr);
  case SMELT_DT_BOOL: return smelt_sprintf(c->cx, "(uint8_t)((%s) != 0)", expr);
  default: return smelt_sprintf(c->cx, "(%s)(%s)", smelt_dtype_ctype(dt), expr);
  }
}

const char *cg_dim(struct cg *c, smelt_dim d) {
  if (d.sym) return smelt_sprintf(c->cx, "ctx->dims[%d]", d.sym - 1);
  return smelt_sprintf(c->cx, "%lld", (long long)d.n);
}

static int is_int_text(const char *s, long long *v) {
  char *e;
  *v = strtoll(s, &e, 10);
  return *s && !*e;
}

const char *cg_mul(struct cg *c, const char *a, const char *b) {
  long long x, y;
  int ia = is_int_text(a, &x), ib = is_int_text(b, &y);
  if (ia && ib) return smelt_sprintf(c->cx, "%lld", x * y);
  if ((ia && x == 1)) return b;
  if ((ib && y == 1)) return a;
  if ((ia && x == 0) || (ib && y == 0)) return "0";
  return smelt_sprintf(c->cx, "%s*%s", a, b);
}

const char *cg_elems(struct cg *c, const smelt_shape *s, int from, int to) {
  const char *r = "1";
  for (int i = from; i < to; i++) r = cg_mul(c, r, cg_dim(c, s->d[i]));
  return r;
}

const char *cg_double(struct cg *c, double v) {
  if (isnan(v)) return "NAN";
  if (isinf(v)) return v < 0 ? "(-INFINITY)" : "INFINITY";
  char *s = smelt_sprintf(c->cx, "%.17g", v);
  /* keep it a floating literal so integer contexts do not truncate it */
  if (!strpbrk(s, ".eEn")) s = smelt_sprintf(c->cx, "%s.0", s);
  return v < 0 ? smelt_sprintf(c->cx, "(%s)", s) : s;
}

/* Finds the text of argument `part` of "SM_RED(a, b, c)" in expr. */
static const char *red_part(struct cg *c, const char *expr, int part) {
  const char *p = strstr(expr, "SM_RED(");
  if (!p) return expr;
  p += 7;
  for (int k = 0;; k++) {
    int depth = 0;
    const char *q = p;
    while (*q && (depth > 0 || (*q != ',' && *q != ')'))) {
      if (*q == '(') depth++;
      if (*q == ')') depth--;
      q++;
    }
    if (k == part) {
      while (*p == ' ') p++;
      return smelt_strndup(c->cx, p, (size_t)(q - p));
    }
    if (*q != ',') return "0";
    p = q + 1;
  }
}

static const char *int_limit(smelt_dtype t, int max) {
  switch (t) {
  case SMELT_DT_I8: return max ? "INT8_MAX" : "INT8_MIN";
  case SMELT_DT_I16: return max ? "INT16_MAX" : "INT16_MIN";
  case SMELT_DT_I32: return max ? "INT32_MAX" : "INT32_MIN";
  case SMELT_DT_I64: return max ? "INT64_MAX" : "INT64_MIN";
  case SMELT_DT_U8: return max ? "UINT8_MAX" : "0";
  case SMELT_DT_U16: return max ? "UINT16_MAX" : "0";
  case SMELT_DT_U32: return max ? "UINT32_MAX" : "0";
  case SMELT_DT_U64: return max ? "UINT64_MAX" : "0";
  case SMELT_DT_BOOL: return max ? "1" : "0";
  default: return max ? "INFINITY" : "(-INFINITY)";
  }
}

const char *cg_formula(struct cg *c, const smelt_node *n, const char *expr, int part, smelt_dtype t) {
  if (part >= 0) expr = red_part(c, expr, part);
  struct sbuf b = {0};
  for (const char *p = expr; *p;) {
    int word_start = p == expr || !((p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z') || (p[-1] >= '0' && p[-1] <= '9') || p[-1] == '_');
    if (word_start && !strncmp(p, "P(", 2)) {
      const char *e = strchr(p, ')');
      char key[32];
      snprintf(key, sizeof key, "%.*s", (int)(e - p - 2), p + 2);
      sb_puts(&b, cg_double(c, smelt_attr_f(n, key)));
      p = e + 1;
    } else if (word_start && !strncmp(p, "SM_TMIN", 7)) {
      sb_puts(&b, int_limit(t, 0));
      p += 7;
    } else if (word_start && !strncmp(p, "SM_TMAX", 7)) {
      sb_puts(&b, int_limit(t, 1));
      p += 7;
    } else {
      sb_printf(&b, "%c", *p++);
    }
  }
  const char *r = b.p ? smelt_strdup(c->cx, b.p) : "";
  sb_free(&b);
  return r;
}

/* ---- loop nests ---- */
void nest_init(struct cg *c, struct nest *ns, const smelt_shape *out, const char *var) {
  memset(ns, 0, sizeof *ns);
  ns->q = out->rank;
  ns->nops = 1;
  ns->var = var;
  for (int k = 0; k < out->rank; k++) {
    ns->dim[k] = cg_dim(c, out->d[k]);
    ns->st[0][k] = cg_elems(c, out, k + 1, out->rank);
  }
}

int nest_add_bcast(struct cg *c, struct nest *ns, const smelt_shape *in) {
  int j = ns->nops++, r = ns->q;
  for (int k = 0; k < r; k++) {
    int a = k - (r - in->rank);
    if (a < 0 || (smelt_dim_is(in->d[a], 1) && strcmp(ns->dim[k], "1"))) ns->st[j][k] = "0";
    else ns->st[j][k] = cg_elems(c, in, a + 1, in->rank);
  }
  return j;
}

void nest_simplify(struct cg *c, struct nest *ns) {
  /* drop unit axes */
  int q = 0;
  for (int k = 0; k < ns->q; k++) {
    if (!strcmp(ns->dim[k], "1")) continue;
    ns->dim[q] = ns->dim[k];
    for (int j = 0; j < ns->nops; j++) ns->st[j][q] = ns->st[j][k];
    q++;
  }
  ns->q = q;
  /* merge axis k into k+1 when every operand's stride[k] == stride[k+1] * dim[k+1] */
  for (int k = ns->q - 2; k >= 0; k--) {
    int ok = 1;
    for (int j = 0; j < ns->nops && ok; j++) ok = !strcmp(ns->st[j][k], cg_mul(c, ns->st[j][k + 1], ns->dim[k + 1]));
    if (!ok) continue;
    ns->dim[k] = cg_mul(c, ns->dim[k], ns->dim[k + 1]);
    for (int j = 0; j < ns->nops; j++) ns->st[j][k] = ns->st[j][k + 1];
    for (int m = k + 1; m + 1 < ns->q; m++) {
      ns->dim[m] = ns->dim[m + 1];
      for (int j = 0; j < ns->nops; j++) ns->st[j][m] = ns->st[j][m + 1];
    }
    ns->q--;
  }
}

void nest_open(struct cg *c, struct nest *ns, const char **off) {
  for (int k = 0; k < ns->q; k++) {
    cg_line(c, "for (int64_t %s%d = 0; %s%d < %s; %s%d++) {", ns->var, k, ns->var, k, ns->dim[k], ns->var, k);
    CG_IN(c);
  }
  for (int j = 0; j < ns->nops; j++) {
    const char *e = NULL;
    for (int k = 0; k < ns->q; k++) {
      if (!strcmp(ns->st[j][k], "0")) continue;
      const char *t = cg_mul(c, smelt_sprintf(c->cx, "%s%d", ns->var, k), ns->st[j][k]);
      e = e ? smelt_sprintf(c->cx, "%s + %s", e, t) : t;
    }
    off[j] = e ? e : "0";
  }
}

void nest_close(struct cg *c, struct nest *ns) {
  for (int k = 0; k < ns->q; k++) {
    CG_OUT(c);
    cg_line(c, "}");
  }
}
