/* compiler/read_onnx.c — the ONNX reader (opsets 1-17 of the default domain).
 *
 * The file is memory-mapped and decoded with protobuf-c (code generated at build
 * time from Debian's onnx.proto).  Initializers become constants (typed fields,
 * raw_data, or external data files mapped beside the model); graph inputs become
 * IR inputs whose dynamic dims are symbols (--dim fixes or bounds them; unnamed
 * ones default to 1 with a warning); nodes are lowered in order by the tables of
 * the onnx_lower_*.c files.  Every size, offset and count from the file is checked:
 * a malformed model gets one error naming the file and the place, never a crash. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/onnx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors ------------------------------------------------------------------------- */
int on_err(onnx_rd *r, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (r->node)
    return smelt_errorf(r->cx, "%s: node '%s' (%s): %s", r->path, r->node->name && *r->node->name ? r->node->name : "?",
                        r->node->op_type ? r->node->op_type : "?", msg);
  return smelt_errorf(r->cx, "%s: %s", r->path, msg);
}

static const char *str(const char *s) { return s ? s : ""; }

/* ---- dtypes and tensors --------------------------------------------------------------- */
int on_dtype_from_onnx(int32_t code, smelt_dtype *dt) {
  switch (code) {
  case 1: *dt = SMELT_DT_F32; return 0;
  case 2: *dt = SMELT_DT_U8; return 0;
  case 3: *dt = SMELT_DT_I8; return 0;
  case 4: *dt = SMELT_DT_U16; return 0;
  case 5: *dt = SMELT_DT_I16; return 0;
  case 6: *dt = SMELT_DT_I32; return 0;
  case 7: *dt = SMELT_DT_I64; return 0;
  case 9: *dt = SMELT_DT_BOOL; return 0;
  case 10: *dt = SMELT_DT_F16; return 0;
  case 11: *dt = SMELT_DT_F64; return 0;
  case 12: *dt = SMELT_DT_U32; return 0;
  case 13: *dt = SMELT_DT_U64; return 0;
  case 16: *dt = SMELT_DT_BF16; return 0;
  default: return SMELT_ERR;
  }
}

static const char *onnx_type_name(int32_t code) {
  static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool",
                                "float16", "double", "uint32", "uint64", "complex64", "complex128", "bfloat16"};
  return code >= 0 && code <= 16 ? names[code] : "unknown";
}

/* Maps `len` bytes at `off` of an external data file (relative to the model). */
static const void *map_external(smelt_ctx *cx, const char *where, const char *dir, const char *loc, uint64_t off, uint64_t len) {
  if (!*loc || loc[0] == '/' || strstr(loc, "..")) {
    smelt_errorf(cx, "%s: external data location '%s' must be a relative path inside the model's folder", where, loc);
    return NULL;
  }
  char *p = smelt_sprintf(cx, "%s/%s", dir, loc);
  /* non-blocking: a FIFO named by a hostile model must not hang the open */
  int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { smelt_errorf(cx, "%s: external data file %s: %s", where, p, strerror(errno)); return NULL; }
  smelt_ctx_note_input(cx, p);
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    smelt_errorf(cx, "%s: external data file %s is not a regular file", where, p);
    return NULL;
  }
  if (off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off) {
    close(fd);
    smelt_errorf(cx, "%s: external data [%llu, +%llu) lies outside %s", where, (unsigned long long)off, (unsigned long long)len, p);
    return NULL;
  }
  if (!len) { close(fd); return ""; }
  /* map whole pages around the range; the mapping lives as long as the process */
  long pg = sysconf(_SC_PAGESIZE);
  uint64_t base = off / (uint64_t)pg * (uint64_t)pg;
  void *m = mmap(NULL, len + (off - base), PROT_READ, MAP_PRIVATE, fd, (off_t)base);
  close(fd);
  if (m == MAP_FAILED) { smelt_errorf(cx, "%s: cannot map %s", where, p); return NULL; }
  return (const char *)m + (off - base);
}

/* A decimal uint64 and nothing else (no sign, no spaces, no overflow). */
static int parse_u64(const char *s, uint64_t *v) {
  if (*s < '0' || *s > '9') return SMELT_ERR;
  char *e;
  errno = 0;
  unsigned long long x = strtoull(s, &e, 10);
  if (*e || errno) return SMELT_ERR;
  *v = x;
  return 0;
}

int on_tensor(smelt_ctx *cx, const char *where, const char *dir, const Onnx__TensorProto *t, smelt_dtype *dt, smelt_shape *s,
              const void **data, uint64_t *nbytes) {
  if (!t->has_data_type || on_dtype_from_onnx(t->data_type, dt))
    return smelt_errorf(cx, "%s: tensor '%s' has unsupported element type %s", where, str(t->name), onnx_type_name(t->has_data_type ? t->data_type : 0));
  if (t->n_dims > SMELT_MAX_RANK) return smelt_errorf(cx, "%s: tensor '%s' has rank %zu (at most 8)", where, str(t->name), t->n_dims);
  if (t->segment) return smelt_errorf(cx, "%s: tensor '%s' is segmented, which is not supported", where, str(t->name));
  memset(s, 0, sizeof *s);
  s->rank = (int)t->n_dims;
  uint64_t ne = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || t->dims[i] > ((int64_t)1 << 40)) return smelt_errorf(cx, "%s: tensor '%s' has dim %lld", where, str(t->name), (long long)t->dims[i]);
    s->d[i] = smelt_dim_c(t->dims[i]);
    if (t->dims[i] && ne > ((uint64_t)1 << 40) / (uint64_t)t->dims[i]) return smelt_errorf(cx, "%s: tensor '%s' is too large", where, str(t->name));
    ne *= (uint64_t)t->dims[i];
  }
  int es = smelt_dtype_bytes(*dt);
  *nbytes = ne * (uint64_t)es;
  if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    const char *loc = "";
    uint64_t off = 0, len = *nbytes;
    for (size_t i = 0; i < t->n_external_data; i++) {
      const Onnx__StringStringEntryProto *e = t->external_data[i];
      const char *k = str(e->key), *v = str(e->value);
      if (!strcmp(k, "location")) loc = v;
      else if ((!strcmp(k, "offset") && parse_u64(v, &off)) || (!strcmp(k, "length") && parse_u64(v, &len)))
        return smelt_errorf(cx, "%s: tensor '%s' has external data %s '%s', not a number", where, str(t->name), k, v);
    }
    if (len != *nbytes) return smelt_errorf(cx, "%s: tensor '%s' external length %llu, its shape needs %llu bytes", where, str(t->name), (unsigned long long)len, (unsigned long long)*nbytes);
    *data = map_external(cx, where, dir, loc, off, len);
    return *data ? 0 : SMELT_ERR;
  }
  if (t->has_raw_data) {
    if (t->raw_data.len != *nbytes)
      return smelt_errorf(cx, "%s: tensor '%s' has %zu bytes of raw_data, its shape needs %llu", where, str(t->name), t->raw_data.len, (unsigned long long)*nbytes);
    *data = t->raw_data.data ? (const void *)t->raw_data.data : "";
    return 0;
  }
  /* typed fields: counted against the shape first (the file holds them), then
   * converted into an arena copy */
  size_t have = *dt == SMELT_DT_F32 ? t->n_float_data : *dt == SMELT_DT_F64 ? t->n_double_data : *dt == SMELT_DT_I64 ? t->n_int64_data
              : *dt == SMELT_DT_U32 || *dt == SMELT_DT_U64 ? t->n_uint64_data
                                                           : t->n_int32_data; /* i32, i16, i8, u16, u8, bool, f16, bf16 */
  if (have != ne)
    return smelt_errorf(cx, "%s: tensor '%s' holds %zu values, its shape needs %llu", where, str(t->name), have, (unsigned long long)ne);
  unsigned char *d = smelt_alloc(cx, *nbytes ? *nbytes : 1);
  if (!d) return SMELT_ERR;
  switch (*dt) {
  case SMELT_DT_F32: if (ne) memcpy(d, t->float_data, *nbytes); break;
  case SMELT_DT_F64: if (ne) memcpy(d, t->double_data, *nbytes); break;
  case SMELT_DT_I64: if (ne) memcpy(d, t->int64_data, *nbytes); break;
  case SMELT_DT_U32: case SMELT_DT_U64:
    for (uint64_t i = 0; i < ne; i++) {
      if (*dt == SMELT_DT_U32) { uint32_t v = (uint32_t)t->uint64_data[i]; memcpy(d + 4 * i, &v, 4); }
      else memcpy(d + 8 * i, &t->uint64_data[i], 8);
    }
    break;
  default:
    for (uint64_t i = 0; i < ne; i++) {
      uint32_t v = (uint32_t)t->int32_data[i];
      memcpy(d + (uint64_t)es * i, &v, (size_t)es); /* little-endian truncation */
    }
    break;
  }
  *data = d;
  return 0;
}

/* ---- value access ------------------------------------------------------------------- */
static const char *in_name(onnx_rd *r, int k) { return k < (int)r->node->n_input ? str(r->node->input[k]) : ""; }

int on_nin(onnx_rd *r) {
  int n = (int)r->node->n_input;
  while (n > 0 && !*in_name(r, n - 1)) n--;
  return n;
}
int on_has_in(onnx_rd *r, int k) { return *in_name(r, k) != 0; }
int on_nout(onnx_rd *r) { return (int)r->node->n_output; }
int on_has_out(onnx_rd *r, int k) { return k < (int)r->node->n_output && *str(r->node->output[k]); }

int on_in(onnx_rd *r, int k) {
  const char *nm = in_name(r, k);
  if (!*nm) return on_err(r, "input %d is missing", k);
  int v = smelt_map_get(&r->names, nm);
  if (v == -1) return on_err(r, "input '%s' is not defined before this node (unknown name or a cycle)", nm);
  if (v < -1) return on_err(r, "input '%s' is the shape of a tensor with dynamic dims, used as data; fix those dims with --dim", nm);
  return v;
}

int on_is_symshape(onnx_rd *r, int k) { return on_has_in(r, k) && smelt_map_get(&r->names, in_name(r, k)) < -1; }

int on_symshape_in(onnx_rd *r, int k, smelt_dim *dims, int *scalar) {
  const struct on_symshape *ss = &r->sym[-2 - smelt_map_get(&r->names, in_name(r, k))];
  memcpy(dims, ss->d, sizeof(smelt_dim) * ss->n);
  *scalar = ss->scalar;
  return ss->n;
}

int on_bind(onnx_rd *r, int k, int v) {
  if (v < 0) return SMELT_ERR;
  if (!on_has_out(r, k)) return 0;
  return smelt_map_put(&r->names, r->node->output[k], v);
}

static int bind_sym(onnx_rd *r, int k, const smelt_dim *dims, int n, int scalar) {
  if (n > ON_MAX_SYMSHAPE) return on_err(r, "shape tensor longer than %d", ON_MAX_SYMSHAPE);
  int sym = 0;
  for (int i = 0; i < n; i++) sym |= dims[i].sym != 0;
  if (!sym) { /* all constant: an ordinary i64 constant */
    int64_t v[ON_MAX_SYMSHAPE];
    for (int i = 0; i < n; i++) v[i] = dims[i].n;
    smelt_shape s = {.rank = scalar ? 0 : 1, .d = {smelt_dim_c(n)}};
    return on_bind(r, k, on_const_tensor(r, SMELT_DT_I64, &s, v));
  }
  if (r->nsym == r->cap_sym) {
    int cap = r->cap_sym ? 2 * r->cap_sym : 16;
    struct on_symshape *a = smelt_alloc(r->cx, sizeof *a * cap);
    if (!a) return SMELT_ERR;
    if (r->nsym) memcpy(a, r->sym, sizeof *a * r->nsym);
    r->sym = a;
    r->cap_sym = cap;
  }
  struct on_symshape *ss = &r->sym[r->nsym];
  memcpy(ss->d, dims, sizeof(smelt_dim) * n);
  ss->n = n;
  ss->scalar = scalar;
  if (!on_has_out(r, k)) return 0;
  return smelt_map_put(&r->names, r->node->output[k], -2 - r->nsym++);
}

int on_bind_symshape(onnx_rd *r, int k, const smelt_dim *dims, int n) { return bind_sym(r, k, dims, n, 0); }
int on_bind_symscalar(onnx_rd *r, int k, smelt_dim d) { return bind_sym(r, k, &d, 1, 1); }

const smelt_value *on_const_val(onnx_rd *r, int v) {
  const smelt_value *val = &r->g->values[v];
  return val->kind == SMELT_V_CONST && val->c.data ? val : NULL;
}

static int need_const(onnx_rd *r, int k, const char *what, const smelt_value **out) {
  int v = on_in(r, k);
  if (v < 0) return SMELT_ERR;
  const smelt_value *c = on_const_val(r, v);
  if (!c) {
    const smelt_value *val = &r->g->values[v];
    if (val->kind == SMELT_V_INPUT)
      return on_err(r, "%s '%s' is a graph input; smelt needs it at compile time: freeze it with --const %s=FILE.npy", what, val->name, val->name);
    return on_err(r, "%s must be known at compile time, but is computed at run time", what);
  }
  *out = c;
  return 0;
}

int on_const_ints(onnx_rd *r, int k, const char *what, int64_t **vals) {
  const smelt_value *c;
  if (need_const(r, k, what, &c)) return SMELT_ERR;
  if (smelt_dtype_is_float(c->dt)) return on_err(r, "%s must be integers", what);
  int64_t n = smelt_shape_max_elems(r->g, &c->shape);
  if (n > (1 << 20)) return on_err(r, "%s has %lld elements", what, (long long)n);
  *vals = smelt_alloc(r->cx, sizeof(int64_t) * (n ? n : 1));
  if (!*vals) return SMELT_ERR;
  /* exact integer read, sign- or zero-extended */
  int es = smelt_dtype_bytes(c->dt), sg = (smelt_dtype_flags(c->dt) & DTF_SIGNED) != 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t u = 0;
    memcpy(&u, (const char *)c->c.data + i * es, (size_t)es);
    if (sg && es < 8 && ((u >> (8 * es - 1)) & 1)) u |= ~(uint64_t)0 << (8 * es);
    (*vals)[i] = (int64_t)u;
  }
  return (int)n;
}

int on_const_floats(onnx_rd *r, int k, const char *what, double **vals) {
  const smelt_value *c;
  if (need_const(r, k, what, &c)) return SMELT_ERR;
  int64_t n = smelt_shape_max_elems(r->g, &c->shape);
  if (n > (1 << 20)) return on_err(r, "%s has %lld elements", what, (long long)n);
  *vals = smelt_alloc(r->cx, sizeof(double) * (n ? n : 1));
  if (!*vals) return SMELT_ERR;
  smelt_tensor t = {.dt = c->dt, .rank = 1, .dims = {n}, .data = (void *)c->c.data};
  for (int64_t i = 0; i < n; i++) (*vals)[i] = smelt_tensor_getf(&t, i);
  return (int)n;
}

/* ---- attributes ------------------------------------------------------------------------- */
const Onnx__AttributeProto *on_att(onnx_rd *r, const char *name) {
  for (size_t i = 0; i < r->node->n_attribute; i++)
    if (!strcmp(str(r->node->attribute[i]->name), name)) return r->node->attribute[i];
  return NULL;
}

int64_t on_att_i(onnx_rd *r, const char *name, int64_t def) {
  const Onnx__AttributeProto *a = on_att(r, name);
  return a ? a->i : def;
}

double on_att_f(onnx_rd *r, const char *name, double def) {
  const Onnx__AttributeProto *a = on_att(r, name);
  return a ? (a->has_f ? (double)a->f : a->has_i ? (double)a->i : def) : def;
}

const char *on_att_s(onnx_rd *r, const char *name, const char *def) {
  const Onnx__AttributeProto *a = on_att(r, name);
  if (!a || !a->has_s) return def;
  return smelt_strndup(r->cx, (const char *)a->s.data, a->s.len);
}

int on_att_ints(onnx_rd *r, const char *name, int64_t **vals) {
  const Onnx__AttributeProto *a = on_att(r, name);
  if (!a) return -1;
  *vals = smelt_alloc(r->cx, sizeof(int64_t) * (a->n_ints + 1));
  if (!*vals) return -1;
  if (a->n_ints) memcpy(*vals, a->ints, sizeof(int64_t) * a->n_ints);
  return a->n_ints > 64 ? -1 : (int)a->n_ints;
}

int on_att_floats(onnx_rd *r, const char *name, double **vals) {
  const Onnx__AttributeProto *a = on_att(r, name);
  if (!a) return -1;
  *vals = smelt_alloc(r->cx, sizeof(double) * (a->n_floats + 1));
  if (!*vals) return -1;
  for (size_t i = 0; i < a->n_floats; i++) (*vals)[i] = a->floats[i];
  return a->n_floats > 4096 ? -1 : (int)a->n_floats;
}

/* ---- building ------------------------------------------------------------------------------ */
int on_emit_n(onnx_rd *r, smelt_op op, const int *in, int nin, const smelt_attr *a, int na, int nout, const smelt_shape *given) {
  for (int i = 0; i < nin; i++)
    if (in[i] < 0) return SMELT_ERR;
  const char *base = r->node && r->node->name && *r->node->name ? r->node->name : (r->node && r->node->n_output ? str(r->node->output[0]) : "node");
  const char *nm = r->emitted++ ? smelt_sprintf(r->cx, "%s/%d", base, r->emitted - 1) : base;
  int v = smelt_graph_add_node(r->g, op, nm, in, nin, a, na, nout, given);
  if (v < 0) {
    /* add the file to the graph's message */
    char *m = smelt_strdup(r->cx, smelt_error_msg(r->cx));
    smelt_clear_error(r->cx);
    return smelt_errorf(r->cx, "%s: %s", r->path, m ? m : "bad node");
  }
  if (smelt_fold_node(r->g, r->g->nnodes - 1) < 0) {
    char *m = smelt_strdup(r->cx, smelt_error_msg(r->cx));
    smelt_clear_error(r->cx);
    return smelt_errorf(r->cx, "%s: constant folding: %s", r->path, m ? m : "failed");
  }
  return v;
}

int on_emit(onnx_rd *r, smelt_op op, const int *in, int nin, const smelt_attr *a, int na, const smelt_shape *given) {
  return on_emit_n(r, op, in, nin, a, na, 1, given);
}

int on_unary(onnx_rd *r, smelt_op op, int x) { return on_emit(r, op, &x, 1, NULL, 0, NULL); }
int on_binary(onnx_rd *r, smelt_op op, int x, int y) { int in[2] = {x, y}; return on_emit(r, op, in, 2, NULL, 0, NULL); }

int on_cast(onnx_rd *r, int x, smelt_dtype to) {
  if (x < 0) return x;
  if (r->g->values[x].dt == to) return x;
  smelt_attr a = smelt_attr_dtype("to", to);
  return on_emit(r, SMELT_OP_CAST, &x, 1, &a, 1, NULL);
}

int on_reshape(onnx_rd *r, int x, const smelt_shape *s) {
  if (x < 0) return x;
  if (smelt_shape_eq(&r->g->values[x].shape, s)) return x;
  return on_emit(r, SMELT_OP_RESHAPE, &x, 1, NULL, 0, s);
}

int on_transpose(onnx_rd *r, int x, const int64_t *perm, int n) {
  smelt_attr a = smelt_attr_ints(r->cx, "perm", perm, n);
  return on_emit(r, SMELT_OP_TRANSPOSE, &x, 1, &a, 1, NULL);
}

int on_reduce(onnx_rd *r, smelt_op op, int x, const int64_t *axes, int naxes, int keepdims) {
  smelt_attr a[2] = {smelt_attr_ints(r->cx, "axes", axes, naxes), smelt_attr_int("keepdims", keepdims)};
  return on_emit(r, op, &x, 1, a, 2, NULL);
}

int on_const_tensor(onnx_rd *r, smelt_dtype dt, const smelt_shape *s, const void *data) {
  int64_t ne = smelt_shape_max_elems(r->g, s);
  if (ne < 0) return on_err(r, "constant too large");
  return smelt_graph_add_const_copy(r->g, smelt_sprintf(r->cx, "const%d", r->g->nvalues), dt, s, data, (uint64_t)ne * smelt_dtype_bytes(dt));
}

int on_scalar(onnx_rd *r, smelt_dtype dt, double v) {
  unsigned char buf[8];
  smelt_tensor t = {.dt = dt, .rank = 0, .data = buf};
  smelt_tensor_setf(&t, 0, v);
  smelt_shape s = {0};
  return on_const_tensor(r, dt, &s, buf);
}

smelt_dtype on_dtype(onnx_rd *r, int v) { return r->g->values[v].dt; }
const smelt_shape *on_shape(onnx_rd *r, int v) { return &r->g->values[v].shape; }

int on_norm_axis(onnx_rd *r, int64_t axis, int rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) return on_err(r, "axis %lld out of range for rank %d", (long long)axis, rank);
  return (int)a;
}

/* ---- graph inputs ------------------------------------------------------------------------- */
static const struct smelt_dimopt *find_dimopt(onnx_rd *r, const char *name, int *used) {
  for (int i = 0; r->o && i < r->o->ndims; i++)
    if (!strcmp(r->o->dims[i].name, name)) { used[i] = 1; return &r->o->dims[i]; }
  return NULL;
}

static const char *sym_ident(smelt_ctx *cx, const char *s) {
  size_t n = strlen(s);
  char *o = smelt_alloc(cx, n + 3);
  if (!o) return "dim";
  size_t k = 0;
  if (!n || (s[0] >= '0' && s[0] <= '9')) o[k++] = 'd';
  for (size_t i = 0; i < n && k < 60; i++) {
    char ch = s[i];
    o[k++] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ? ch : '_';
  }
  o[k] = 0;
  return o;
}

static int add_graph_input(onnx_rd *r, const Onnx__ValueInfoProto *vi, int *dim_used, int *const_used) {
  const char *name = str(vi->name);
  for (int i = 0; r->o && i < r->o->nconsts; i++)
    if (!strcmp(r->o->consts[i].name, name)) {
      const_used[i] = 1;
      smelt_tensor t;
      if (smelt_read_tensor_file(r->cx, r->o->consts[i].file, &t)) return SMELT_ERR;
      smelt_shape s = {.rank = t.rank};
      for (int k = 0; k < t.rank; k++) s.d[k] = smelt_dim_c(t.dims[k]);
      int v = smelt_graph_add_const_copy(r->g, name, t.dt, &s, t.data, (uint64_t)smelt_tensor_elems(&t) * smelt_dtype_bytes(t.dt));
      smelt_tensor_free(&t);
      return v < 0 ? v : smelt_map_put(&r->names, name, v);
    }
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
    return smelt_errorf(r->cx, "%s: graph input '%s' is not a tensor (sequences, maps and optionals are not supported)", r->path, name);
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  smelt_dtype dt;
  if (!tt->has_elem_type || on_dtype_from_onnx(tt->elem_type, &dt))
    return smelt_errorf(r->cx, "%s: graph input '%s' has unsupported element type %s", r->path, name, onnx_type_name(tt->elem_type));
  smelt_shape s = {0};
  if (!tt->shape) return smelt_errorf(r->cx, "%s: graph input '%s' has no shape; smelt needs its rank", r->path, name);
  if (tt->shape->n_dim > SMELT_MAX_RANK) return smelt_errorf(r->cx, "%s: graph input '%s' has rank %zu (at most 8)", r->path, name, tt->shape->n_dim);
  s.rank = (int)tt->shape->n_dim;
  for (int k = 0; k < s.rank; k++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[k];
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0) {
      if (d->dim_value > ((int64_t)1 << 40)) return smelt_errorf(r->cx, "%s: graph input '%s' dim %d is %lld", r->path, name, k, (long long)d->dim_value);
      s.d[k] = smelt_dim_c(d->dim_value);
      continue;
    }
    const char *sn = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param && *d->dim_param
                         ? sym_ident(r->cx, d->dim_param)
                         : smelt_sprintf(r->cx, "%s_d%d", sym_ident(r->cx, name), k);
    const struct smelt_dimopt *opt = find_dimopt(r, sn, dim_used);
    if (opt && opt->fixed) { s.d[k] = smelt_dim_c(opt->value); continue; }
    if (!opt) {
      if (smelt_map_get(&r->names, smelt_sprintf(r->cx, "\x01%s", sn)) < 0) {
        smelt_warnf(r->cx, "%s: dynamic dim '%s' of input '%s' fixed to 1 (use --dim %s=N, or --dim %s<=MAX to keep it dynamic)", r->path, sn, name, sn, sn);
        smelt_map_put(&r->names, smelt_sprintf(r->cx, "\x01%s", sn), 0);
      }
      s.d[k] = smelt_dim_c(1);
      continue;
    }
    int id = smelt_graph_add_sym(r->g, sn, opt->value);
    if (id < 0) return SMELT_ERR;
    s.d[k].sym = id;
    s.d[k].n = 0;
  }
  int v = smelt_graph_add_input(r->g, name, dt, &s);
  return v < 0 ? v : smelt_map_put(&r->names, name, v);
}

/* ---- dispatch -------------------------------------------------------------------------------- */
/* Every lowering table (one per onnx_lower_*.c), in lookup order: find_lowering() and
 * smelt_onnx_ops() (`smelt ops`) both walk this one list. */
static const struct on_lowering *const lowering_tables[] = {on_lower_elemwise, on_lower_tensor, on_lower_nn, on_lower_quant, on_lower_rnn,
                                                            on_lower_nn2, on_lower_gather};
#define NTABLES (sizeof lowering_tables / sizeof *lowering_tables)

static const struct on_lowering *find_lowering(const char *op) {
  for (size_t t = 0; t < NTABLES; t++)
    for (const struct on_lowering *l = lowering_tables[t]; l->op; l++)
      if (!strcmp(l->op, op)) return l;
  return NULL;
}

int smelt_onnx_ops(const char **names, int max) {
  int n = 0;
  for (size_t t = 0; t < NTABLES; t++)
    for (const struct on_lowering *l = lowering_tables[t]; l->op; l++)
      if (find_lowering(l->op) == l) { /* the entry the reader dispatches to */
        if (n < max) names[n] = l->op;
        n++;
      }
  return n;
}

static int lower_node(onnx_rd *r, const Onnx__NodeProto *n) {
  r->node = n;
  r->emitted = 0;
  const char *dom = str(n->domain);
  if (*dom && strcmp(dom, "ai.onnx")) return on_err(r, "operator domain '%s' is not supported", dom);
  const struct on_lowering *l = find_lowering(str(n->op_type));
  if (!l) return on_err(r, "unsupported ONNX operator '%s'", str(n->op_type));
  if (!n->n_output) return on_err(r, "the node has no outputs"); /* every operator has one */
  for (int k = 0; k < (int)n->n_output; k++)
    if (on_has_out(r, k) && smelt_map_get(&r->names, n->output[k]) != -1)
      return on_err(r, "output '%s' is defined twice", n->output[k]);
  if (l->fn(r, l->arg)) return SMELT_ERR;
  for (int k = 0; k < (int)n->n_output; k++)
    if (on_has_out(r, k) && smelt_map_get(&r->names, n->output[k]) == -1)
      return on_err(r, "output %d ('%s') is not supported by smelt", k, n->output[k]);
  return 0;
}

/* Gives every graph output the ONNX output's name (the executables write NAME.npy). */
static int bind_outputs(onnx_rd *r, const Onnx__GraphProto *gp) {
  r->node = NULL;
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = str(gp->output[i]->name);
    int v = smelt_map_get(&r->names, name);
    if (v == -1) return smelt_errorf(r->cx, "%s: graph output '%s' is not produced by any node", r->path, name);
    if (v < -1) return smelt_errorf(r->cx, "%s: graph output '%s' is the shape of a tensor with dynamic dims; fix them with --dim", r->path, name);
    smelt_value *val = &r->g->values[v];
    if (val->kind != SMELT_V_NODE || smelt_is_output(r->g, v)) {
      /* a distinct value, so the output has its own name and buffer */
      int nv = smelt_graph_add_node(r->g, SMELT_OP_IDENTITY, name, &v, 1, NULL, 0, 1, NULL);
      if (nv < 0) return SMELT_ERR;
      v = nv;
      val = &r->g->values[v];
    }
    val->name = smelt_strdup(r->cx, name);
    smelt_graph_add_output(r->g, v);
  }
  return 0;
}

static void free_model(void *m) { onnx__model_proto__free_unpacked((Onnx__ModelProto *)m, NULL); }

smelt_graph *smelt_read_onnx(smelt_ctx *cx, const char *path, const struct smelt_load_opts *o) {
  onnx_rd r = {.cx = cx, .path = path, .o = o};
  smelt_map_init(&r.names, cx);
  const char *slash = strrchr(path, '/');
  r.dir = slash ? smelt_strndup(cx, path, (size_t)(slash - path)) : ".";
  int fd = open(path, O_RDONLY);
  if (fd < 0) { smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  smelt_ctx_note_input(cx, path);
  struct stat st;
  if (fstat(fd, &st) || st.st_size == 0) { close(fd); smelt_errorf(cx, "%s: empty or unreadable file", path); return NULL; }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) { smelt_errorf(cx, "%s: cannot map the file", path); return NULL; }
  r.model = onnx__model_proto__unpack(NULL, (size_t)st.st_size, map);
  munmap(map, (size_t)st.st_size);
  if (!r.model) { smelt_errorf(cx, "%s: not a valid ONNX model (the protobuf does not decode)", path); return NULL; }
  smelt_graph *result = NULL;
  const Onnx__GraphProto *gp = r.model->graph;
  if (!gp) { smelt_errorf(cx, "%s: the model has no graph", path); goto done; }
  r.opset = r.model->n_opset_import ? 0 : 1;
  for (size_t i = 0; i < r.model->n_opset_import; i++) {
    const char *d = str(r.model->opset_import[i]->domain);
    if (!*d || !strcmp(d, "ai.onnx")) r.opset = r.model->opset_import[i]->version;
  }
  if (r.opset < 1 || r.opset > 17) {
    if (r.opset > 17) smelt_warnf(cx, "%s: opset %lld is newer than 17; operators are read with their opset-17 meaning", path, (long long)r.opset);
    else r.opset = 1;
  }
  r.g = smelt_graph_new(cx, gp->name && *gp->name ? gp->name : "model");
  if (!r.g) goto done;
  r.g->source = smelt_strdup(cx, path);
  /* initializers */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *t = gp->initializer[i];
    smelt_dtype dt;
    smelt_shape s;
    const void *data;
    uint64_t nb;
    if (on_tensor(cx, path, r.dir, t, &dt, &s, &data, &nb)) goto done;
    int v = smelt_graph_add_const(r.g, str(t->name), dt, &s, data, nb);
    if (v < 0 || smelt_map_put(&r.names, str(t->name), v)) goto done;
  }
  if (gp->n_sparse_initializer) { smelt_errorf(cx, "%s: sparse initializers are not supported", path); goto done; }
  /* inputs (older models list initializers as inputs too: those keep their data) */
  int dim_used[64] = {0}, const_used[64] = {0};
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = str(gp->input[i]->name);
    if (smelt_map_get(&r.names, name) >= 0) {
      for (int k = 0; o && k < o->nconsts; k++)
        if (!strcmp(o->consts[k].name, name)) { smelt_errorf(cx, "%s: --const %s: that input is an initializer already", path, name); goto done; }
      continue;
    }
    if (add_graph_input(&r, gp->input[i], dim_used, const_used)) goto done;
  }
  for (int k = 0; o && k < o->ndims; k++)
    if (!dim_used[k]) smelt_warnf(cx, "%s: --dim %s matches no dynamic dim of the inputs", path, o->dims[k].name);
  for (int k = 0; o && k < o->nconsts; k++)
    if (!const_used[k]) { smelt_errorf(cx, "%s: --const %s matches no graph input", path, o->consts[k].name); goto done; }
  for (size_t i = 0; i < gp->n_node; i++)
    if (lower_node(&r, gp->node[i])) goto done;
  if (bind_outputs(&r, gp)) goto done;
  if (smelt_dedup_consts(r.g) < 0) goto done; /* folding may have made copies */
  smelt_graph_compact(r.g); /* drop what folding made dead */
  if (smelt_verify(r.g)) goto done;
  result = r.g;
done:
  /* constants point into the decoded message: it lives until the ctx is freed */
  smelt_ctx_on_free(cx, free_model, r.model);
  return result;
}

int smelt_onnx_read_tensor_file(smelt_ctx *cx, const char *path, smelt_tensor *t) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno));
  smelt_ctx_note_input(cx, path);
  struct stat st;
  if (fstat(fd, &st) || st.st_size == 0) { close(fd); return smelt_errorf(cx, "%s: empty or unreadable file", path); }
  void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return smelt_errorf(cx, "%s: cannot map the file", path);
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, (size_t)st.st_size, map);
  munmap(map, (size_t)st.st_size);
  if (!tp) return smelt_errorf(cx, "%s: not an ONNX TensorProto", path);
  smelt_dtype dt;
  smelt_shape s;
  const void *data;
  uint64_t nb;
  const char *slash = strrchr(path, '/');
  const char *dir = slash ? smelt_strndup(cx, path, (size_t)(slash - path)) : ".";
  int rc = on_tensor(cx, path, dir, tp, &dt, &s, &data, &nb);
  if (!rc) {
    memset(t, 0, sizeof *t);
    t->dt = dt;
    t->rank = s.rank;
    for (int i = 0; i < s.rank; i++) t->dims[i] = s.d[i].n;
    t->data = malloc(nb ? nb : 1);
    if (!t->data) rc = smelt_errorf(cx, "%s: out of memory", path);
    else memcpy(t->data, data, nb);
  }
  onnx__tensor_proto__free_unpacked(tp, NULL);
  return rc;
}
