/* ir/parse.c — reads the text form printed by ir/print.c back into a graph.
 *
 * Line oriented; '#' starts a comment.  Nodes are added through
 * smelt_graph_add_node, so the parsed graph passes shape inference, and each
 * declared output type must equal the inferred one.  Errors give FILE:LINE:COL. */
#include "ir.h"
#include "../runtime/smelt_scalar.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  smelt_ctx *cx;
  smelt_graph *g;
  const char *src, *p, *end, *file, *line_start;
  int line;
  smelt_map names;
} parser;

static int perr(parser *ps, const char *msg) {
  return smelt_errorf(ps->cx, "%s:%d:%d: %s", ps->file, ps->line, (int)(ps->p - ps->line_start) + 1, msg);
}

static void skip_ws(parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
  if (ps->p < ps->end && *ps->p == '#')
    while (ps->p < ps->end && *ps->p != '\n') ps->p++;
}

static int at(parser *ps, char c) { skip_ws(ps); return ps->p < ps->end && *ps->p == c; }

static int expect(parser *ps, char c) {
  if (!at(ps, c)) {
    char m[48];
    snprintf(m, sizeof m, "expected '%c'", c);
    return perr(ps, m);
  }
  ps->p++;
  return 0;
}

static int plain_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
         c == '/' || c == '-' || c == '~';
}

/* A bare word or a quoted string; returns an arena copy or NULL. */
static char *word(parser *ps) {
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == '"') {
    ps->p++;
    size_t cap = 64, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\n') {
      char c = *ps->p++;
      if (c == '\\' && ps->p < ps->end) {
        c = *ps->p++;
        if (c == 'x' && ps->end - ps->p >= 2) {
          char hx[3] = {ps->p[0], ps->p[1], 0};
          c = (char)strtol(hx, NULL, 16);
          ps->p += 2;
        }
      }
      if (n + 1 >= cap) {
        char *nb = realloc(buf, cap *= 2);
        if (!nb) { free(buf); return NULL; }
        buf = nb;
      }
      buf[n++] = c;
    }
    if (ps->p >= ps->end || *ps->p != '"') { free(buf); perr(ps, "unterminated string"); return NULL; }
    ps->p++;
    char *s = smelt_strndup(ps->cx, buf, n);
    free(buf);
    return s;
  }
  const char *b = ps->p;
  while (ps->p < ps->end && plain_char((unsigned char)*ps->p)) ps->p++;
  if (ps->p == b) { perr(ps, "expected a name"); return NULL; }
  return smelt_strndup(ps->cx, b, (size_t)(ps->p - b));
}

static int keyword(parser *ps, const char *kw) {
  skip_ws(ps);
  size_t n = strlen(kw);
  if ((size_t)(ps->end - ps->p) >= n && !strncmp(ps->p, kw, n) && (ps->p + n == ps->end || !plain_char((unsigned char)ps->p[n]))) {
    ps->p += n;
    return 1;
  }
  return 0;
}

/* Copies the number-like token at p into buf (NUL-terminated, never past the end of
 * the text), so strto* cannot read beyond it: the text need not end with a NUL. */
static char *num_token(parser *ps, char *buf, size_t n) {
  skip_ws(ps);
  size_t k = 0;
  while (ps->p + k < ps->end && k + 1 < n) {
    char c = ps->p[k];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.')) break;
    k++;
  }
  memcpy(buf, ps->p, k);
  buf[k] = 0;
  return buf;
}

static int parse_i64(parser *ps, int64_t *v) {
  char buf[128], *e, *t = num_token(ps, buf, sizeof buf);
  errno = 0;
  long long x = strtoll(t, &e, 10);
  if (e == t || errno) return perr(ps, "expected an integer");
  ps->p += e - t;
  *v = x;
  return 0;
}

static int parse_f64(parser *ps, double *v) {
  char buf[128], *e, *t = num_token(ps, buf, sizeof buf);
  *v = strtod(t, &e);
  if (e == t) return perr(ps, "expected a number");
  ps->p += e - t;
  return 0;
}

static int parse_dtype(parser *ps, smelt_dtype *dt) {
  skip_ws(ps);
  const char *b = ps->p;
  while (ps->p < ps->end && ((*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= '0' && *ps->p <= '9') || *ps->p == '_')) ps->p++;
  char buf[16];
  snprintf(buf, sizeof buf, "%.*s", (int)(ps->p - b), b);
  if (smelt_dtype_parse(buf, dt)) { ps->p = b; return perr(ps, "unknown dtype"); }
  return 0;
}

static int parse_type(parser *ps, smelt_dtype *dt, smelt_shape *s) {
  if (parse_dtype(ps, dt) || expect(ps, '[')) return SMELT_ERR;
  memset(s, 0, sizeof *s);
  if (at(ps, ']')) { ps->p++; return 0; }
  for (;;) {
    if (s->rank == SMELT_MAX_RANK) return perr(ps, "rank above 8");
    skip_ws(ps);
    if (ps->p < ps->end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '-')) {
      int64_t v;
      if (parse_i64(ps, &v)) return SMELT_ERR;
      if (v < 0) return perr(ps, "negative dim");
      s->d[s->rank++] = smelt_dim_c(v);
    } else {
      char *nm = word(ps);
      if (!nm) return SMELT_ERR;
      int k = smelt_graph_find_sym(ps->g, nm);
      if (!k) return perr(ps, "unknown symbol (declare it with 'sym NAME <= MAX')");
      s->d[s->rank].sym = k;
      s->d[s->rank++].n = 0;
    }
    if (at(ps, ']')) { ps->p++; return 0; }
    if (expect(ps, ',')) return SMELT_ERR;
  }
}

static int value_ref(parser *ps, int *v) {
  if (expect(ps, '%')) return SMELT_ERR;
  char *nm = word(ps);
  if (!nm) return SMELT_ERR;
  *v = smelt_map_get(&ps->names, nm);
  if (*v < 0) return perr(ps, "undefined value");
  return 0;
}

static int define(parser *ps, const char *nm, int v) {
  if (smelt_map_get(&ps->names, nm) >= 0) return perr(ps, "value defined twice");
  ps->g->values[v].name = nm;
  return smelt_map_put(&ps->names, nm, v);
}

static int parse_const(parser *ps) {
  if (expect(ps, '%')) return SMELT_ERR;
  char *nm = word(ps);
  smelt_dtype dt;
  smelt_shape s;
  if (!nm || expect(ps, ':') || parse_type(ps, &dt, &s) || expect(ps, '=')) return SMELT_ERR;
  int64_t ne = smelt_shape_max_elems(ps->g, &s);
  if (ne < 0 || !smelt_shape_is_static(&s)) return perr(ps, "constant shape must be static and not too large");
  int v;
  if (keyword(ps, "opaque")) {
    char *h = word(ps);
    if (!h) return SMELT_ERR;
    if (smelt_dtype_is_block(dt) && (!s.rank || s.d[s.rank - 1].n % smelt_dtype_blk(dt))) return perr(ps, "rows of a block-quantized constant must be whole blocks");
    v = smelt_graph_add_const(ps->g, nm, dt, &s, NULL, (uint64_t)smelt_dtype_nbytes(dt, ne));
    if (v < 0) return SMELT_ERR;
    ps->g->values[v].c.hash = strtoull(h, NULL, 16);
  } else {
    if (expect(ps, '[')) return SMELT_ERR;
    if (smelt_dtype_is_block(dt)) return perr(ps, "block-quantized constants have no element list (the printer writes them opaque)");
    /* each element takes at least one character: bounds the allocation by the text */
    if (ne > (int64_t)(ps->end - ps->p)) return perr(ps, "the constant has more elements than the text holds");
    size_t es = (size_t)smelt_dtype_bytes(dt);
    unsigned char *data = smelt_alloc(ps->cx, (size_t)ne * es + 1);
    if (!data) return SMELT_ERR;
    for (int64_t i = 0; i < ne; i++) {
      if (i && expect(ps, ',')) return SMELT_ERR;
      unsigned char *d = data + i * es;
      if (smelt_dtype_is_float(dt)) {
        double x;
        if (parse_f64(ps, &x)) return SMELT_ERR;
        if (dt == SMELT_DT_F32) { float f = (float)x; memcpy(d, &f, 4); }
        else if (dt == SMELT_DT_F64) memcpy(d, &x, 8);
        else { uint16_t h = dt == SMELT_DT_F16 ? sm_f32_to_f16((float)x) : sm_f32_to_bf16((float)x); memcpy(d, &h, 2); }
      } else {
        char buf[128], *e, *t = num_token(ps, buf, sizeof buf);
        errno = 0;
        uint64_t u = (smelt_dtype_flags(dt) & DTF_SIGNED) ? (uint64_t)strtoll(t, &e, 10) : strtoull(t, &e, 10);
        if (e == t || errno) return perr(ps, "expected an integer");
        ps->p += e - t;
        /* little-endian truncation to the element width */
        for (size_t b = 0; b < es; b++) d[b] = (unsigned char)(u >> (8 * b));
      }
    }
    if (expect(ps, ']')) return SMELT_ERR;
    v = smelt_graph_add_const(ps->g, nm, dt, &s, data, (uint64_t)ne * es);
    if (v < 0) return SMELT_ERR;
    if (strcmp(ps->g->values[v].name, nm)) return perr(ps, "constant repeats an earlier one (the printer never writes this)");
  }
  return define(ps, nm, v);
}

static int parse_attr(parser *ps, smelt_op op, smelt_attr *a) {
  char *key = word(ps);
  if (!key || expect(ps, '=')) return SMELT_ERR;
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(op, sp, 16), k = 0;
  while (k < ns && strcmp(sp[k].name, key)) k++;
  if (k == ns) return perr(ps, "attribute not defined for this op");
  a->key = key;
  a->type = sp[k].type;
  switch (sp[k].type) {
  case SMELT_A_INT: return parse_i64(ps, &a->i);
  case SMELT_A_FLOAT: return parse_f64(ps, &a->f);
  case SMELT_A_STR: return (a->s = word(ps)) ? 0 : SMELT_ERR;
  case SMELT_A_DTYPE: { smelt_dtype dt; if (parse_dtype(ps, &dt)) return SMELT_ERR; a->i = dt; return 0; }
  case SMELT_A_INTS: case SMELT_A_FLOATS: {
    if (expect(ps, '[')) return SMELT_ERR;
    int64_t iv[64];
    double fv[64];
    int n = 0;
    while (!at(ps, ']')) {
      if (n && expect(ps, ',')) return SMELT_ERR;
      if (n == 64) return perr(ps, "list longer than 64");
      if (sp[k].type == SMELT_A_INTS ? parse_i64(ps, &iv[n]) : parse_f64(ps, &fv[n])) return SMELT_ERR;
      n++;
    }
    ps->p++;
    *a = sp[k].type == SMELT_A_INTS ? smelt_attr_ints(ps->cx, key, iv, n) : smelt_attr_floats(ps->cx, key, fv, n);
    return 0;
  }
  }
  return 0;
}

static int parse_node(parser *ps) {
  char *onames[8];
  smelt_dtype odt[8];
  smelt_shape osh[8];
  int nout = 0;
  for (;;) {
    if (nout == 8) return perr(ps, "more than 8 outputs");
    skip_ws(ps);
    if (at(ps, '_')) { ps->p++; onames[nout++] = NULL; }
    else {
      if (expect(ps, '%')) return SMELT_ERR;
      if (!(onames[nout] = word(ps)) || expect(ps, ':') || parse_type(ps, &odt[nout], &osh[nout])) return SMELT_ERR;
      nout++;
    }
    if (!at(ps, ',')) break;
    ps->p++;
  }
  if (expect(ps, '=')) return SMELT_ERR;
  char *opname = word(ps);
  smelt_op op;
  if (!opname) return SMELT_ERR;
  if (smelt_op_lookup(opname, &op)) return perr(ps, "unknown op");
  if (expect(ps, '(')) return SMELT_ERR;
  int in[256], nin = 0;
  while (!at(ps, ')')) {
    if (nin && expect(ps, ',')) return SMELT_ERR;
    if (nin == 256) return perr(ps, "more than 256 inputs");
    if (value_ref(ps, &in[nin++])) return SMELT_ERR;
  }
  ps->p++;
  smelt_attr attrs[16];
  int na = 0;
  if (at(ps, '{')) {
    ps->p++;
    while (!at(ps, '}')) {
      if (na && expect(ps, ',')) return SMELT_ERR;
      if (na == 16) return perr(ps, "too many attributes");
      if (parse_attr(ps, op, &attrs[na++])) return SMELT_ERR;
    }
    ps->p++;
  }
  const char *nname = onames[0];
  if (at(ps, '@')) {
    ps->p++;
    if (!(nname = word(ps))) return SMELT_ERR;
  }
  if (!onames[0]) return perr(ps, "the first output cannot be '_'");
  int o0 = smelt_graph_add_node(ps->g, op, nname, in, nin, attrs, na, nout, &osh[0]);
  if (o0 < 0) { /* re-record the node's error with this line's location */
    char *m = smelt_strdup(ps->cx, smelt_error_msg(ps->cx));
    smelt_clear_error(ps->cx);
    return perr(ps, m ? m : "invalid node");
  }
  smelt_node *n = &ps->g->nodes[ps->g->nnodes - 1];
  for (int k = 0; k < nout; k++) {
    if (!onames[k]) { n->out[k] = -1; continue; }
    smelt_value *v = &ps->g->values[n->out[k]];
    if (v->dt != odt[k] || !smelt_shape_eq(&v->shape, &osh[k])) {
      char a[128], b[128], m[320];
      snprintf(m, sizeof m, "declared type %s%s of '%s' differs from the inferred %s%s", smelt_dtype_name(odt[k]),
               smelt_shape_str(ps->g, &osh[k], a, sizeof a), onames[k], smelt_dtype_name(v->dt), smelt_shape_str(ps->g, &v->shape, b, sizeof b));
      return perr(ps, m);
    }
    if (define(ps, onames[k], n->out[k])) return SMELT_ERR;
  }
  return 0;
}

static int parse_line(parser *ps) {
  if (keyword(ps, "sym")) {
    char *nm = word(ps);
    int64_t max;
    if (!nm || expect(ps, '<') || expect(ps, '=') || parse_i64(ps, &max)) return SMELT_ERR;
    if (max < 1) return perr(ps, "symbol bound must be >= 1");
    if (smelt_graph_find_sym(ps->g, nm)) return perr(ps, "symbol declared twice");
    return smelt_graph_add_sym(ps->g, nm, max) < 0 ? SMELT_ERR : 0;
  }
  if (keyword(ps, "input")) {
    if (expect(ps, '%')) return SMELT_ERR;
    char *nm = word(ps);
    smelt_dtype dt;
    smelt_shape s;
    if (!nm || expect(ps, ':') || parse_type(ps, &dt, &s)) return SMELT_ERR;
    int v = smelt_graph_add_input(ps->g, nm, dt, &s);
    return v < 0 ? SMELT_ERR : define(ps, nm, v);
  }
  if (keyword(ps, "state")) {
    if (expect(ps, '%')) return SMELT_ERR;
    char *nm = word(ps);
    smelt_dtype dt;
    smelt_shape s;
    if (!nm || expect(ps, ':') || parse_type(ps, &dt, &s)) return SMELT_ERR;
    if (!smelt_shape_is_static(&s) || smelt_dtype_is_block(dt)) return perr(ps, "a state needs a static shape and a scalar dtype");
    int v = smelt_graph_add_state(ps->g, nm, dt, &s);
    return v < 0 ? SMELT_ERR : define(ps, nm, v);
  }
  if (keyword(ps, "const")) return parse_const(ps);
  if (keyword(ps, "output")) {
    int v;
    if (value_ref(ps, &v)) return SMELT_ERR;
    smelt_graph_add_output(ps->g, v);
    return 0;
  }
  return parse_node(ps);
}

smelt_graph *smelt_parse(smelt_ctx *cx, const char *text, size_t len, const char *filename) {
  parser ps = {.cx = cx, .src = text, .p = text, .end = text + len, .file = filename ? filename : "<ir>", .line_start = text, .line = 1};
  smelt_map_init(&ps.names, cx);
  skip_ws(&ps);
  int64_t ver;
  if (!keyword(&ps, "smelt-ir") || parse_i64(&ps, &ver) || ver != 1) { perr(&ps, "expected 'smelt-ir 1'"); return NULL; }
  char *gname = NULL;
  for (int first = 1;; first = 0) {
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p != '\n') { perr(&ps, "unexpected text at end of line"); return NULL; }
    if (ps.p >= ps.end) break;
    ps.p++;
    ps.line++;
    ps.line_start = ps.p;
    skip_ws(&ps);
    if (ps.p >= ps.end) break;
    if (*ps.p == '\n') continue;
    if (!ps.g) {
      if (!keyword(&ps, "graph") || !(gname = word(&ps))) { perr(&ps, "expected 'graph NAME'"); return NULL; }
      ps.g = smelt_graph_new(cx, gname);
      if (!ps.g) return NULL;
      continue;
    }
    (void)first;
    if (parse_line(&ps)) return NULL;
  }
  if (!ps.g) { perr(&ps, "expected 'graph NAME'"); return NULL; }
  if (smelt_verify(ps.g)) return NULL;
  return ps.g;
}
