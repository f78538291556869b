/* ir/graph.c — compilation context (arena, diagnostics, log), the dtype and op
 * tables derived from dtypes.def / ops.def, graph construction and attributes.
 *
 * The arena hands out zeroed 16-byte-aligned blocks from 64 KiB chunks (larger
 * requests get a chunk of their own); nothing is freed until smelt_ctx_free.
 * Growable arrays (values, nodes, ...) double inside the arena. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tables -------------------------------------------------------------------- */
static const struct {
  const char *name, *ctype;
  int bytes;
  unsigned flags;
  const char *npy;
  int blk;
} dtypes[] = {
#define DT(id, name, ctype, cstr, bytes, flags, npy, blk) {name, cstr, bytes, flags, npy, blk},
#include "dtypes.def"
#undef DT
};

const char *smelt_dtype_name(smelt_dtype dt) { return (unsigned)dt < SMELT_DT_COUNT ? dtypes[dt].name : "?"; }
const char *smelt_dtype_ctype(smelt_dtype dt) { return dtypes[dt].ctype; }
int smelt_dtype_bytes(smelt_dtype dt) { return dtypes[dt].bytes; }
unsigned smelt_dtype_flags(smelt_dtype dt) { return dtypes[dt].flags; }
const char *smelt_dtype_npy(smelt_dtype dt) { return dtypes[dt].npy; }
int smelt_dtype_blk(smelt_dtype dt) { return dtypes[dt].blk; }

int smelt_dtype_parse(const char *name, smelt_dtype *out) {
  for (int i = 0; i < SMELT_DT_COUNT; i++)
    if (!strcmp(dtypes[i].name, name)) { *out = (smelt_dtype)i; return 0; }
  return SMELT_ERR;
}

static const struct smelt_opinfo ops[] = {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) \
  {name, nimin, nimax, nomin, nomax, attrs, #shape, #kind, flags, #fe, #ie},
#include "ops.def"
#undef OP
};

const struct smelt_opinfo *smelt_op_info(smelt_op op) { return &ops[op]; }

int smelt_op_lookup(const char *name, smelt_op *out) {
  for (int i = 0; i < SMELT_OP_COUNT; i++)
    if (!strcmp(ops[i].name, name)) { *out = (smelt_op)i; return 0; }
  return SMELT_ERR;
}

/* ---- context ----------------------------------------------------------------------- */
struct chunk { struct chunk *next; size_t used, cap; _Alignas(16) unsigned char mem[]; };

struct smelt_ctx {
  struct chunk *chunks;
  char *err;
  char **warns; int nwarns, cap_warns;
  smelt_log_fn log; void *log_user;
  struct cleanup { void (*fn)(void *); void *p; struct cleanup *next; } *cleanups;
  const void *options;
  char **inputs; int ninputs, cap_inputs; /* files read (smelt_ctx_note_input) */
};

void smelt_ctx_set_options(smelt_ctx *cx, const void *opts) { cx->options = opts; }
const void *smelt_ctx_options(const smelt_ctx *cx) { return cx->options; }

void smelt_ctx_on_free(smelt_ctx *cx, void (*fn)(void *), void *p) {
  if (!p) return;
  struct cleanup *c = malloc(sizeof *c);
  if (!c) return; /* out of memory: leak p rather than free what constants still point into */
  c->fn = fn;
  c->p = p;
  c->next = cx->cleanups;
  cx->cleanups = c;
}

smelt_ctx *smelt_ctx_new(void) { return calloc(1, sizeof(smelt_ctx)); }

void smelt_ctx_free(smelt_ctx *cx) {
  if (!cx) return;
  for (struct cleanup *c = cx->cleanups, *n; c; c = n) { n = c->next; c->fn(c->p); free(c); }
  for (struct chunk *c = cx->chunks, *n; c; c = n) { n = c->next; free(c); }
  free(cx->err);
  for (int i = 0; i < cx->nwarns; i++) free(cx->warns[i]);
  free(cx->warns);
  for (int i = 0; i < cx->ninputs; i++) free(cx->inputs[i]);
  free(cx->inputs);
  free(cx);
}

/* Readers call this for every file they open, so `smelt build --depfile` and the compile
 * cache know what a build depends on.  Each path is kept once; out of memory drops it
 * (the cache then stores nothing: see compiler/cache.c). */
void smelt_ctx_note_input(smelt_ctx *cx, const char *path) {
  if (!cx || !path) return;
  for (int i = 0; i < cx->ninputs; i++)
    if (!strcmp(cx->inputs[i], path)) return;
  if (cx->ninputs == cx->cap_inputs) {
    int cap = cx->cap_inputs ? 2 * cx->cap_inputs : 16;
    char **n = realloc(cx->inputs, sizeof *n * (size_t)cap);
    if (!n) { cx->cap_inputs = -1; return; }
    cx->inputs = n;
    cx->cap_inputs = cap;
  }
  char *d = strdup(path);
  if (d) cx->inputs[cx->ninputs++] = d;
}
int smelt_ctx_ninputs(const smelt_ctx *cx) { return cx->cap_inputs < 0 ? -1 : cx->ninputs; }
const char *smelt_ctx_input(const smelt_ctx *cx, int i) { return cx->inputs[i]; }

void *smelt_alloc(smelt_ctx *cx, size_t bytes) {
  bytes = (bytes + 15) & ~(size_t)15;
  struct chunk *c = cx->chunks;
  if (!c || c->cap - c->used < bytes) {
    size_t cap = bytes > 65536 - sizeof(struct chunk) ? bytes : 65536 - sizeof(struct chunk);
    if (cap > SIZE_MAX / 2 || !(c = malloc(sizeof(struct chunk) + cap))) {
      smelt_errorf(cx, "out of memory (%zu bytes)", bytes);
      return NULL;
    }
    c->used = 0;
    c->cap = cap;
    /* a large block goes behind the current chunk so its free space stays usable */
    if (cx->chunks && cap == bytes) { c->next = cx->chunks->next; cx->chunks->next = c; }
    else { c->next = cx->chunks; cx->chunks = c; }
  }
  void *p = c->mem + c->used;
  c->used += bytes;
  memset(p, 0, bytes);
  return p;
}

char *smelt_strndup(smelt_ctx *cx, const char *s, size_t n) {
  char *d = smelt_alloc(cx, n + 1);
  if (d) { memcpy(d, s, n); d[n] = 0; }
  return d;
}
char *smelt_strdup(smelt_ctx *cx, const char *s) { return s ? smelt_strndup(cx, s, strlen(s)) : NULL; }

static char *vfmt(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
  if (s) vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *smelt_sprintf(smelt_ctx *cx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *t = vfmt(fmt, ap);
  va_end(ap);
  char *s = t ? smelt_strdup(cx, t) : NULL;
  free(t);
  return s;
}

int smelt_errorf(smelt_ctx *cx, const char *fmt, ...) {
  if (!cx->err) {
    va_list ap;
    va_start(ap, fmt);
    cx->err = vfmt(fmt, ap);
    va_end(ap);
  }
  return SMELT_ERR;
}
const char *smelt_error_msg(const smelt_ctx *cx) { return cx->err; }
int smelt_failed(const smelt_ctx *cx) { return cx->err != NULL; }
void smelt_clear_error(smelt_ctx *cx) { free(cx->err); cx->err = NULL; }

void smelt_warnf(smelt_ctx *cx, const char *fmt, ...) {
  if (cx->nwarns == cx->cap_warns) {
    int cap = cx->cap_warns ? 2 * cx->cap_warns : 8;
    char **w = realloc(cx->warns, cap * sizeof *w);
    if (!w) return;
    cx->warns = w;
    cx->cap_warns = cap;
  }
  va_list ap;
  va_start(ap, fmt);
  char *s = vfmt(fmt, ap);
  va_end(ap);
  if (s) cx->warns[cx->nwarns++] = s;
}
int smelt_warning_count(const smelt_ctx *cx) { return cx->nwarns; }
const char *smelt_warning(const smelt_ctx *cx, int i) { return cx->warns[i]; }

void smelt_set_log(smelt_ctx *cx, smelt_log_fn fn, void *user) { cx->log = fn; cx->log_user = user; }
void smelt_logf(smelt_ctx *cx, int level, const char *fmt, ...) {
  if (!cx->log) return;
  va_list ap;
  va_start(ap, fmt);
  char *s = vfmt(fmt, ap);
  va_end(ap);
  if (s) cx->log(cx->log_user, level, s);
  free(s);
}

/* ---- growable arrays in the arena ------------------------------------------------- */
static int grow(smelt_ctx *cx, void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap : 8;
  while (nc < need) nc *= 2;
  void *p = smelt_alloc(cx, (size_t)nc * elem);
  if (!p) return SMELT_ERR;
  if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
  *arr = p;
  *cap = nc;
  return 0;
}
#define GROW(cx, arr, n, cap) grow(cx, (void **)&(arr), &(cap), (n) + 1, sizeof *(arr))

/* ---- string map (open addressing, power-of-two capacity) -------------------------- */
void smelt_map_init(smelt_map *m, smelt_ctx *cx) { memset(m, 0, sizeof *m); m->cx = cx; }

static uint64_t strhash(const char *s) { return smelt_hash(s, strlen(s)); }

int smelt_map_get(const smelt_map *m, const char *key) {
  if (!m->cap) return -1;
  for (uint64_t i = strhash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (!m->e[i].key) return -1;
    if (!strcmp(m->e[i].key, key)) return m->e[i].val;
  }
}

int smelt_map_put(smelt_map *m, const char *key, int val) {
  if (2 * (m->n + 1) > m->cap) {
    int cap = m->cap ? 2 * m->cap : 64;
    struct smelt_map_ent *e = smelt_alloc(m->cx, sizeof *e * cap);
    if (!e) return SMELT_ERR;
    for (int i = 0; i < m->cap; i++) {
      if (!m->e[i].key) continue;
      uint64_t j = strhash(m->e[i].key) & (cap - 1);
      while (e[j].key) j = (j + 1) & (cap - 1);
      e[j] = m->e[i];
    }
    m->e = e;
    m->cap = cap;
  }
  uint64_t i = strhash(key) & (m->cap - 1);
  while (m->e[i].key && strcmp(m->e[i].key, key)) i = (i + 1) & (m->cap - 1);
  if (!m->e[i].key) {
    m->e[i].key = smelt_strdup(m->cx, key);
    m->n++;
  }
  m->e[i].val = val;
  return 0;
}

/* ---- graphs -------------------------------------------------------------------------- */
smelt_graph *smelt_graph_new(smelt_ctx *cx, const char *name) {
  smelt_graph *g = smelt_alloc(cx, sizeof *g);
  if (!g) return NULL;
  g->cx = cx;
  g->name = smelt_strdup(cx, name ? name : "model");
  return g;
}

int smelt_graph_add_sym(smelt_graph *g, const char *name, int64_t max) {
  int k = smelt_graph_find_sym(g, name);
  if (k) return k;
  if (GROW(g->cx, g->syms, g->nsyms, g->cap_syms)) return SMELT_ERR;
  g->syms[g->nsyms].name = smelt_strdup(g->cx, name);
  g->syms[g->nsyms].max = max;
  return ++g->nsyms;
}

int smelt_graph_find_sym(const smelt_graph *g, const char *name) {
  for (int i = 0; i < g->nsyms; i++)
    if (!strcmp(g->syms[i].name, name)) return i + 1;
  return 0;
}

static int new_value(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s, smelt_vkind kind) {
  if (GROW(g->cx, g->values, g->nvalues, g->cap_values)) return SMELT_ERR;
  smelt_value *v = &g->values[g->nvalues];
  memset(v, 0, sizeof *v);
  v->name = name ? smelt_strdup(g->cx, name) : smelt_sprintf(g->cx, "v%d", g->nvalues);
  v->dt = dt;
  if (s) v->shape = *s;
  v->kind = kind;
  v->producer = -1;
  return g->nvalues++;
}

int smelt_graph_add_input(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s) {
  int v = new_value(g, name, dt, s, SMELT_V_INPUT);
  if (v < 0 || GROW(g->cx, g->inputs, g->ninputs, g->cap_inputs)) return SMELT_ERR;
  g->inputs[g->ninputs++] = v;
  return v;
}

int smelt_graph_add_state(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s) {
  if (!smelt_shape_is_static(s)) return smelt_errorf(g->cx, "state '%s' needs a static shape", name);
  int v = new_value(g, name, dt, s, SMELT_V_STATE);
  if (v < 0 || GROW(g->cx, g->states, g->nstates, g->cap_states)) return SMELT_ERR;
  g->states[g->nstates++] = v;
  return v;
}

int smelt_graph_add_const(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s,
                          const void *data, uint64_t nbytes) {
  uint64_t h = data ? smelt_hash(data, nbytes) : 0;
  /* store identical constants once (the name of the first one wins) */
  if (data)
    for (int i = 0; i < g->nvalues; i++) {
      const smelt_value *o = &g->values[i];
      if (o->kind == SMELT_V_CONST && o->c.hash == h && o->c.nbytes == nbytes && o->dt == dt &&
          smelt_shape_eq(&o->shape, s) && o->c.data && !memcmp(o->c.data, data, nbytes))
        return i;
    }
  int v = new_value(g, name, dt, s, SMELT_V_CONST);
  if (v < 0) return v;
  g->values[v].c.data = data;
  g->values[v].c.nbytes = nbytes;
  g->values[v].c.hash = h;
  return v;
}

int smelt_graph_add_const_copy(smelt_graph *g, const char *name, smelt_dtype dt, const smelt_shape *s,
                               const void *data, uint64_t nbytes) {
  void *p = smelt_alloc(g->cx, nbytes ? nbytes : 1);
  if (!p) return SMELT_ERR;
  if (nbytes) memcpy(p, data, nbytes);
  return smelt_graph_add_const(g, name, dt, s, p, nbytes);
}

void smelt_graph_add_output(smelt_graph *g, int value) {
  if (GROW(g->cx, g->outputs, g->noutputs, g->cap_outputs)) return;
  g->outputs[g->noutputs++] = value;
}

/* Checks the given attributes against the op's schema and stores the full set on
 * the node: unknown keys and wrong types are errors, absent ones take their default,
 * absent required ones are errors. */
static int complete_attrs(smelt_ctx *cx, smelt_node *n, const struct smelt_opinfo *oi, const smelt_attr *attrs, int nattr) {
  struct smelt_attr_spec sp[16];
  int ns = smelt_attr_schema(n->op, sp, 16);
  n->attrs = smelt_alloc(cx, sizeof(smelt_attr) * (ns ? ns : 1));
  if (!n->attrs) return SMELT_ERR;
  for (int i = 0; i < nattr; i++) {
    int k = 0;
    while (k < ns && strcmp(sp[k].name, attrs[i].key)) k++;
    if (k == ns) return smelt_errorf(cx, "node '%s' (%s): unknown attribute '%s'", n->name, oi->name, attrs[i].key);
  }
  for (int k = 0; k < ns; k++) {
    smelt_attr *a = &n->attrs[k];
    const smelt_attr *given = NULL;
    for (int i = 0; i < nattr; i++)
      if (!strcmp(attrs[i].key, sp[k].name)) given = &attrs[i];
    if (given) {
      *a = *given;
      if (a->type == SMELT_A_INT && sp[k].type == SMELT_A_FLOAT) { a->f = (double)a->i; a->type = SMELT_A_FLOAT; }
      if (a->type != sp[k].type)
        return smelt_errorf(cx, "node '%s' (%s): attribute '%s' has the wrong type", n->name, oi->name, sp[k].name);
    } else {
      if (!sp[k].has_default)
        return smelt_errorf(cx, "node '%s' (%s): missing attribute '%s'", n->name, oi->name, sp[k].name);
      a->type = sp[k].type;
      switch (sp[k].type) {
      case SMELT_A_INT: a->i = strtoll(sp[k].def, NULL, 10); break;
      case SMELT_A_FLOAT: a->f = strtod(sp[k].def, NULL); break; /* reads "inf" and "-inf" */
      case SMELT_A_STR: a->s = smelt_strdup(cx, sp[k].def); break;
      case SMELT_A_DTYPE: { smelt_dtype dt = SMELT_DT_F32; smelt_dtype_parse(sp[k].def, &dt); a->i = dt; break; }
      case SMELT_A_INTS: a->is = smelt_alloc(cx, sizeof(int64_t)); break; /* empty list */
      case SMELT_A_FLOATS: a->fs = smelt_alloc(cx, sizeof(double)); break;
      }
    }
    a->key = smelt_strdup(cx, sp[k].name);
  }
  n->nattr = ns;
  return 0;
}

int smelt_graph_add_node(smelt_graph *g, smelt_op op, const char *name, const int *in, int nin,
                         const smelt_attr *attrs, int nattr, int nout, const smelt_shape *out_given) {
  smelt_ctx *cx = g->cx;
  const struct smelt_opinfo *oi = smelt_op_info(op);
  const char *nm = name ? name : oi->name;
  if (nin < oi->nin_min || (oi->nin_max >= 0 && nin > oi->nin_max))
    return smelt_errorf(cx, "node '%s' (%s): %d inputs, expected %d..%d", nm, oi->name, nin, oi->nin_min, oi->nin_max);
  if (nout < oi->nout_min || nout > oi->nout_max)
    return smelt_errorf(cx, "node '%s' (%s): %d outputs, expected %d..%d", nm, oi->name, nout, oi->nout_min, oi->nout_max);
  for (int i = 0; i < nin; i++)
    if (in[i] < 0 || in[i] >= g->nvalues)
      return smelt_errorf(cx, "node '%s' (%s): input %d is not a value", nm, oi->name, i);
  if (GROW(cx, g->nodes, g->nnodes, g->cap_nodes)) return SMELT_ERR;
  int ni = g->nnodes;
  smelt_node *n = &g->nodes[ni];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->name = smelt_strdup(cx, nm);
  n->nin = nin;
  n->nout = nout;
  n->in = smelt_alloc(cx, sizeof(int) * (nin ? nin : 1));
  n->out = smelt_alloc(cx, sizeof(int) * nout);
  if (!n->in || !n->out) return SMELT_ERR;
  memcpy(n->in, in, sizeof(int) * nin);
  if (complete_attrs(cx, n, oi, attrs, nattr)) return SMELT_ERR;
  g->nnodes++;
  for (int o = 0; o < nout; o++) {
    const char *vn = nout == 1 ? nm : smelt_sprintf(cx, "%s:%d", nm, o);
    int v = new_value(g, vn, SMELT_DT_F32, o == 0 ? out_given : NULL, SMELT_V_NODE);
    if (v < 0) return SMELT_ERR;
    g->values[v].producer = ni;
    g->nodes[ni].out[o] = v;
  }
  if (smelt_shape_infer(g, ni)) {
    g->nnodes--; /* leave the graph as it was (the values stay, unreferenced) */
    return SMELT_ERR;
  }
  return g->nodes[ni].out[0];
}

/* Removes dead nodes and values nothing refers to, renumbering values. */
void smelt_graph_compact(smelt_graph *g) {
  smelt_ctx *cx = g->cx;
  int *used = smelt_alloc(cx, sizeof(int) * (g->nvalues + 1));
  int *map = smelt_alloc(cx, sizeof(int) * (g->nvalues + 1));
  if (!used || !map) return;
  for (int i = 0; i < g->ninputs; i++) used[g->inputs[i]] = 1;
  for (int i = 0; i < g->noutputs; i++) used[g->outputs[i]] = 1;
  for (int i = 0; i < g->nstates; i++) used[g->states[i]] = 1;
  for (int i = 0; i < g->nnodes; i++) {
    smelt_node *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) used[n->in[k]] = 1;
    for (int k = 0; k < n->nout; k++)
      if (n->out[k] >= 0) used[n->out[k]] = 1;
  }
  int nv = 0;
  for (int i = 0; i < g->nvalues; i++) {
    map[i] = used[i] ? nv : -1;
    if (used[i]) g->values[nv++] = g->values[i];
  }
  g->nvalues = nv;
  int nn = 0;
  for (int i = 0; i < g->nnodes; i++) {
    smelt_node *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) n->in[k] = map[n->in[k]];
    for (int k = 0; k < n->nout; k++)
      if (n->out[k] >= 0) { n->out[k] = map[n->out[k]]; g->values[n->out[k]].producer = nn; }
    g->nodes[nn++] = *n;
  }
  g->nnodes = nn;
  for (int i = 0; i < g->ninputs; i++) g->inputs[i] = map[g->inputs[i]];
  for (int i = 0; i < g->noutputs; i++) g->outputs[i] = map[g->outputs[i]];
  for (int i = 0; i < g->nstates; i++) g->states[i] = map[g->states[i]];
}

/* ---- attributes ---------------------------------------------------------------------- */
smelt_attr smelt_attr_int(const char *key, int64_t v) { smelt_attr a = {.key = key, .type = SMELT_A_INT, .i = v}; return a; }
smelt_attr smelt_attr_float(const char *key, double v) { smelt_attr a = {.key = key, .type = SMELT_A_FLOAT, .f = v}; return a; }
smelt_attr smelt_attr_str(const char *key, const char *s) { smelt_attr a = {.key = key, .type = SMELT_A_STR, .s = s}; return a; }
smelt_attr smelt_attr_dtype(const char *key, smelt_dtype dt) { smelt_attr a = {.key = key, .type = SMELT_A_DTYPE, .i = dt}; return a; }

int smelt_node_set_ints(smelt_ctx *cx, smelt_node *node, int n, const char *const *keys, const int64_t *vals) {
  smelt_attr *at = smelt_alloc(cx, sizeof(smelt_attr) * (size_t)(node->nattr + n + 1));
  if (!at) return SMELT_ERR;
  int k = 0;
  for (int i = 0; i < node->nattr; i++) {
    int keep = 1;
    for (int j = 0; j < n && keep; j++) keep = strcmp(node->attrs[i].key, keys[j]) != 0;
    if (keep) at[k++] = node->attrs[i];
  }
  for (int j = 0; j < n; j++) at[k++] = smelt_attr_int(keys[j], vals[j]);
  node->attrs = at;
  node->nattr = k;
  return 0;
}

smelt_attr smelt_attr_ints(smelt_ctx *cx, const char *key, const int64_t *v, int n) {
  smelt_attr a = {.key = key, .type = SMELT_A_INTS, .n = n};
  a.is = smelt_alloc(cx, sizeof(int64_t) * (n ? n : 1));
  if (a.is && n) memcpy(a.is, v, sizeof(int64_t) * n);
  return a;
}

smelt_attr smelt_attr_floats(smelt_ctx *cx, const char *key, const double *v, int n) {
  smelt_attr a = {.key = key, .type = SMELT_A_FLOATS, .n = n};
  a.fs = smelt_alloc(cx, sizeof(double) * (n ? n : 1));
  if (a.fs && n) memcpy(a.fs, v, sizeof(double) * n);
  return a;
}

int smelt_attr_schema(smelt_op op, struct smelt_attr_spec *out, int max) {
  const char *p = smelt_op_info(op)->attrs;
  int n = 0;
  while (*p && n < max) {
    while (*p == ' ') p++;
    if (!*p) break;
    struct smelt_attr_spec *s = &out[n++];
    memset(s, 0, sizeof *s);
    size_t k = strcspn(p, ":");
    snprintf(s->name, sizeof s->name, "%.*s", (int)k, p);
    p += k + (p[k] == ':');
    size_t t = strcspn(p, "= ");
    s->type = !strncmp(p, "is", t) && t == 2   ? SMELT_A_INTS
              : !strncmp(p, "fs", t) && t == 2 ? SMELT_A_FLOATS
              : *p == 'i'                      ? SMELT_A_INT
              : *p == 'f'                      ? SMELT_A_FLOAT
              : *p == 's'                      ? SMELT_A_STR
                                               : SMELT_A_DTYPE;
    p += t;
    if (*p == '=') {
      p++;
      size_t d = strcspn(p, " ");
      s->has_default = 1;
      snprintf(s->def, sizeof s->def, "%.*s", (int)d, p);
      p += d;
    }
  }
  return n;
}

const smelt_attr *smelt_node_attr(const smelt_node *n, const char *key) {
  for (int i = 0; i < n->nattr; i++)
    if (!strcmp(n->attrs[i].key, key)) return &n->attrs[i];
  return NULL;
}

/* Nodes carry every attribute of their schema (smelt_graph_add_node fills in the
 * defaults), so these lookups never consult ops.def. */
int64_t smelt_attr_i(const smelt_node *n, const char *key) {
  const smelt_attr *a = smelt_node_attr(n, key);
  return !a ? 0 : a->type == SMELT_A_FLOAT ? (int64_t)a->f : a->i;
}

double smelt_attr_f(const smelt_node *n, const char *key) {
  const smelt_attr *a = smelt_node_attr(n, key);
  return !a ? 0.0 : a->type == SMELT_A_INT ? (double)a->i : a->f;
}

const char *smelt_attr_s(const smelt_node *n, const char *key) {
  const smelt_attr *a = smelt_node_attr(n, key);
  return a && a->type == SMELT_A_STR ? a->s : "";
}

int smelt_attr_ints_get(const smelt_node *n, const char *key, const int64_t **v) {
  const smelt_attr *a = smelt_node_attr(n, key);
  if (!a || a->type != SMELT_A_INTS) { *v = NULL; return 0; }
  *v = a->is;
  return a->n;
}
