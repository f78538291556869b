/* tests/malformed/malformed.c — hostile inputs for smelt's readers (DESIGN §8).
 *
 * From valid files (tests/malformed/base.onnx, an IR text, an .npy) this program
 * writes a corpus of malformed ones into WORK and runs the real CLI on each:
 *
 *   ONNX and IR text:  smelt inspect FILE      smelt build FILE -o OUT --emit c
 *   .npy:              smelt eval base.onnx FILE
 *
 * and asserts for every run: no signal, no time-out, exit status exactly 1 and
 * exactly one stderr line starting `smelt: error: ` that names the file (other lines
 * may only be warnings).  Random mutants (truncations at many offsets, bit flips,
 * byte and line edits) may happen to stay valid, so for them exit 0 is accepted
 * too; the structural mutants below must be rejected:
 *
 *   ONNX: raw_data of the wrong size, typed fields of the wrong count, negative and
 *     absurd dims (1e15, products past 2^40), rank > 8 (initializers and inputs),
 *     cycles (a node using an output defined later, or its own), unknown op, unknown
 *     domain, unsupported dtypes (string, complex, undefined), string-typed and
 *     sequence-typed inputs, inputs without type or shape, external data outside its
 *     file, with '..' or absolute paths, missing, a folder, a non-numeric offset,
 *     segments, sparse initializers, duplicate and missing outputs, ...
 *   IR text: unknown ops, undefined or twice-defined values, bad types and dims,
 *     constants with too few / too many / absurdly many elements, bad attributes,
 *     unterminated strings, limits (inputs, outputs, attributes, list lengths) ...
 *   .npy: bad magic, version, header length, descr, shape, truncated data, arrays
 *     that do not fit the model's input.
 *   tokenizers (smelt tokenize FILE TEXT): tokenizer.json that is not JSON, has no or
 *     an unknown model, a vocabulary with bad, duplicate, missing or absurd ids, bad
 *     merges and added tokens, unknown normalizers / pre-tokenizers / decoders; GGUF
 *     vocabularies whose tokenizer.ggml.* keys have the wrong types or lengths, unknown
 *     models and pre-tokenizers, bad merges (an out-of-range special id is only warned
 *     about, as llama.cpp does: real files write -1 for "none").
 *
 * Under ASan/UBSan (make test-sanitize) the sanitizers' exit codes are set to 86/87,
 * so any report fails the run.
 *
 *   malformed SMELT BASE.onnx BASE.ir WORK */
#include "../testutil.h"
#include "malformed.h"
#include "onnx.pb-c.h"
#include "runtime/smelt_npy.h"

#include <stddef.h>

static const char *smelt;
char work[4096];

/* ---- the corpus ------------------------------------------------------------------- */
struct kase {
  char path[4200];
  int kind;
  int must_fail; /* 1: must be rejected (structural mutants); 2: by build only (inspect needs no
                  * constant data); 0: either (random mutants); -1: must be accepted (controls) */
};
static struct kase *cases;
static int ncases, cap_cases;

void add_case(const char *path, int kind, int must_fail) {
  if (ncases == cap_cases) {
    cap_cases = cap_cases ? 2 * cap_cases : 256;
    cases = realloc(cases, sizeof *cases * (size_t)cap_cases);
  }
  struct kase *k = &cases[ncases++];
  snprintf(k->path, sizeof k->path, "%s", path);
  k->kind = kind;
  k->must_fail = must_fail;
}

static void write_case(const char *sub, const char *name, const void *data, size_t n, int kind, int must_fail) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s/%s", work, sub, name);
  if (t_write_file(path, data, n)) { CHECK(0, "cannot write %s", path); return; }
  add_case(path, kind, must_fail);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
uint32_t rnd(uint32_t n) {
  rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
  return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

/* Truncations at about `count` offsets (all the first and last 16) and `count` random
 * single-bit flips of a valid file. */
static void random_mutants(const char *sub, const char *stem, const char *ext, const unsigned char *data, size_t len, int kind, int count) {
  char name[256];
  size_t step = len / (size_t)count + 1;
  for (size_t cut = 0; cut < len; cut++) {
    if (cut > 16 && cut + 16 < len && cut % step) continue;
    snprintf(name, sizeof name, "%s_cut%zu%s", stem, cut, ext);
    write_case(sub, name, data, cut, kind, cut == 0);
  }
  unsigned char *buf = malloc(len);
  for (int i = 0; i < count; i++) {
    memcpy(buf, data, len);
    size_t at = rnd((uint32_t)len);
    int bit = (int)rnd(8);
    buf[at] ^= (unsigned char)(1u << bit);
    snprintf(name, sizeof name, "%s_flip%zu.%d%s", stem, at, bit, ext);
    write_case(sub, name, buf, len, kind, 0);
  }
  free(buf);
}

/* ---- protobuf-c with an arena: mutants are made from a fresh decode and dropped at once --- */
struct blk { struct blk *next; max_align_t mem[]; };
static struct blk *blocks;
static void *a_alloc(void *u, size_t n) {
  (void)u;
  struct blk *b = calloc(1, sizeof *b + n + 16);
  if (!b) abort();
  b->next = blocks;
  blocks = b;
  return b->mem;
}
static void a_free(void *u, void *p) { (void)u; (void)p; }
static ProtobufCAllocator arena = {a_alloc, a_free, NULL};
static void arena_reset(void) {
  for (struct blk *b = blocks, *n; b; b = n) { n = b->next; free(b); }
  blocks = NULL;
}
static char *S(const char *s) { char *d = a_alloc(NULL, strlen(s) + 1); strcpy(d, s); return d; }

static unsigned char *base_bytes;
static size_t base_len;

static Onnx__ModelProto *fresh(void) {
  Onnx__ModelProto *m = onnx__model_proto__unpack(&arena, base_len, base_bytes);
  if (!m) { printf("base model does not decode\n"); exit(2); }
  return m;
}

static Onnx__TensorProto *init(Onnx__ModelProto *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_initializer; i++)
    if (!strcmp(m->graph->initializer[i]->name, name)) return m->graph->initializer[i];
  printf("base model has no initializer %s\n", name);
  exit(2);
}
static Onnx__NodeProto *node(Onnx__ModelProto *m, const char *name) {
  for (size_t i = 0; i < m->graph->n_node; i++)
    if (!strcmp(m->graph->node[i]->name, name)) return m->graph->node[i];
  printf("base model has no node %s\n", name);
  exit(2);
}
static Onnx__TensorShapeProto *xshape(Onnx__ModelProto *m) { return m->graph->input[0]->type->tensor_type->shape; }

static Onnx__TensorShapeProto__Dimension *dimv(int64_t v) {
  Onnx__TensorShapeProto__Dimension *d = a_alloc(NULL, sizeof *d);
  onnx__tensor_shape_proto__dimension__init(d);
  d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
  d->dim_value = v;
  return d;
}

static void set_dims(Onnx__TensorProto *t, int n, const int64_t *dims) {
  t->n_dims = (size_t)n;
  t->dims = a_alloc(NULL, sizeof(int64_t) * (size_t)(n ? n : 1));
  memcpy(t->dims, dims, sizeof(int64_t) * (size_t)n);
}

/* w's 128 bytes as external data described by (location, offset, length) entries;
 * NULL values leave the entry out. */
static void external(Onnx__ModelProto *m, const char *loc, const char *off, const char *len) {
  Onnx__TensorProto *w = init(m, "w");
  w->has_raw_data = 0;
  w->raw_data.len = 0;
  w->has_data_location = 1;
  w->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  const char *kv[3][2] = {{"location", loc}, {"offset", off}, {"length", len}};
  w->external_data = a_alloc(NULL, sizeof *w->external_data * 3);
  w->n_external_data = 0;
  for (int i = 0; i < 3; i++) {
    if (!kv[i][1]) continue;
    Onnx__StringStringEntryProto *e = a_alloc(NULL, sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = S(kv[i][0]);
    e->value = S(kv[i][1]);
    w->external_data[w->n_external_data++] = e;
  }
}

static void emit_model(Onnx__ModelProto *m, const char *name, int must_fail) {
  size_t n = onnx__model_proto__get_packed_size(m);
  unsigned char *buf = malloc(n + 1);
  onnx__model_proto__pack(m, buf);
  char file[256];
  snprintf(file, sizeof file, "%s.onnx", name);
  write_case("onnx", file, buf, n, K_ONNX, must_fail);
  free(buf);
  arena_reset();
}

#define MUTANT(name, must_fail, ...)         \
  do {                                       \
    Onnx__ModelProto *m = fresh();           \
    __VA_ARGS__;                             \
    emit_model(m, name, must_fail);          \
  } while (0)

static void onnx_mutants(void) {
  /* a control: the base model re-encoded, and external data done right */
  MUTANT("ok_base", -1, (void)m);
  MUTANT("ok_external", -1, external(m, "w.bin", "0", "128"));
  MUTANT("ok_external_offset", -1, external(m, "w.bin", "16", NULL));
  /* tensor data */
  MUTANT("raw_short", 1, init(m, "w")->raw_data.len -= 4);
  MUTANT("raw_empty", 1, init(m, "w")->raw_data.len = 0);
  MUTANT("raw_long", 1, {
    Onnx__TensorProto *w = init(m, "w");
    unsigned char *d = a_alloc(NULL, w->raw_data.len + 4);
    memcpy(d, w->raw_data.data, w->raw_data.len);
    w->raw_data.data = d;
    w->raw_data.len += 4;
  });
  MUTANT("typed_count_short", 1, init(m, "b")->n_float_data = 3);
  MUTANT("typed_count_zero", 1, init(m, "b")->n_float_data = 0);
  MUTANT("typed_wrong_field", 1, { Onnx__TensorProto *b = init(m, "b"); b->n_int64_data = b->n_float_data; b->int64_data = a_alloc(NULL, 64); b->n_float_data = 0; });
  MUTANT("dim_negative", 1, init(m, "w")->dims[0] = -1);
  MUTANT("dim_1e15", 1, init(m, "w")->dims[0] = 1000000000000000ll);
  MUTANT("dim_int64_max", 1, init(m, "w")->dims[0] = INT64_MAX);
  MUTANT("dims_product_overflow", 1, set_dims(init(m, "w"), 4, (int64_t[]){1ll << 40, 1ll << 40, 1ll << 40, 1ll << 40}));
  MUTANT("dim_zero", 1, { set_dims(init(m, "w"), 2, (int64_t[]){0, 4}); init(m, "w")->raw_data.len = 0; });
  MUTANT("rank9_initializer", 1, set_dims(init(m, "w"), 9, (int64_t[]){8, 4, 1, 1, 1, 1, 1, 1, 1}));
  MUTANT("rank100_initializer", 1, {
    int64_t d[100];
    for (int i = 0; i < 100; i++) d[i] = 1;
    d[0] = 32;
    set_dims(init(m, "w"), 100, d);
  });
  MUTANT("dtype_string", 1, {
    Onnx__TensorProto *b = init(m, "b");
    b->data_type = 8;
    b->n_float_data = 0;
    b->n_string_data = 4;
    b->string_data = a_alloc(NULL, sizeof(ProtobufCBinaryData) * 4);
    for (int i = 0; i < 4; i++) b->string_data[i] = (ProtobufCBinaryData){3, (uint8_t *)S("abc")};
  });
  MUTANT("dtype_complex64", 1, init(m, "w")->data_type = 14);
  MUTANT("dtype_undefined", 1, init(m, "w")->data_type = 0);
  MUTANT("dtype_absent", 1, init(m, "w")->has_data_type = 0);
  MUTANT("dtype_999", 1, init(m, "w")->data_type = 999);
  MUTANT("dtype_negative", 1, init(m, "w")->data_type = -3);
  MUTANT("segment", 1, {
    Onnx__TensorProto__Segment *sg = a_alloc(NULL, sizeof *sg);
    onnx__tensor_proto__segment__init(sg);
    init(m, "w")->segment = sg;
  });
  MUTANT("sparse_initializer", 1, {
    Onnx__SparseTensorProto *sp = a_alloc(NULL, sizeof *sp);
    onnx__sparse_tensor_proto__init(sp);
    m->graph->sparse_initializer = a_alloc(NULL, sizeof(void *));
    m->graph->sparse_initializer[0] = sp;
    m->graph->n_sparse_initializer = 1;
  });
  MUTANT("shape_values_1e15", 1, init(m, "shape")->int64_data[0] = 1000000000000000ll);
  MUTANT("shape_values_negative", 1, init(m, "shape")->int64_data[0] = -5);
  MUTANT("shape_values_int64_min", 1, { init(m, "shape")->int64_data[0] = INT64_MIN; init(m, "shape")->int64_data[1] = -1; });
  /* external data */
  MUTANT("ext_outside", 1, external(m, "w.bin", "100", "128"));
  MUTANT("ext_offset_huge", 1, external(m, "w.bin", "18446744073709551615", "128"));
  MUTANT("ext_offset_negative", 1, external(m, "w.bin", "-1", "128"));
  MUTANT("ext_offset_text", 1, external(m, "w.bin", "zero", "128"));
  MUTANT("ext_length_text", 1, external(m, "w.bin", "0", "128 bytes"));
  MUTANT("ext_length_huge", 1, external(m, "w.bin", "0", "18446744073709551615"));
  MUTANT("ext_length_wrong", 1, external(m, "w.bin", "0", "64"));
  MUTANT("ext_dotdot", 1, external(m, "../onnx/w.bin", "0", "128"));
  MUTANT("ext_dotdot_inner", 1, external(m, "sub/../w.bin", "0", "128"));
  MUTANT("ext_absolute", 1, external(m, "/etc/passwd", "0", "128"));
  MUTANT("ext_missing", 1, external(m, "nope.bin", "0", "128"));
  MUTANT("ext_no_location", 1, external(m, NULL, "0", "128"));
  MUTANT("ext_empty_location", 1, external(m, "", "0", "128"));
  MUTANT("ext_folder", 1, external(m, "sub", "0", "128"));
  MUTANT("ext_short_file", 1, external(m, "short.bin", "0", "128"));
  MUTANT("ext_fifo", 1, external(m, "fifo.bin", "0", "128"));
  MUTANT("ext_device", 1, external(m, "null.bin", "0", "128"));
  /* graph structure */
  MUTANT("cycle", 1, node(m, "mm")->input[0] = S("hb"));
  MUTANT("self_cycle", 1, node(m, "relu")->input[0] = S("hr"));
  MUTANT("unknown_op", 1, node(m, "relu")->op_type = S("FooBar"));
  MUTANT("empty_op", 1, node(m, "relu")->op_type = S(""));
  MUTANT("unknown_domain", 1, node(m, "relu")->domain = S("com.example"));
  MUTANT("duplicate_output", 1, node(m, "add")->output[0] = S("h"));
  MUTANT("output_is_initializer", 1, node(m, "relu")->output[0] = S("w"));
  MUTANT("missing_graph_output", 1, m->graph->output[0]->name = S("nope"));
  MUTANT("missing_input", 1, node(m, "mm")->n_input = 1);
  MUTANT("empty_input_name", 1, node(m, "mm")->input[1] = S(""));
  MUTANT("undefined_input", 1, node(m, "add")->input[1] = S("nothing"));
  MUTANT("too_many_outputs", 1, {
    Onnx__NodeProto *n = node(m, "relu");
    n->output = a_alloc(NULL, sizeof(char *) * 3);
    n->output[0] = S("hr"); n->output[1] = S("extra1"); n->output[2] = S("extra2");
    n->n_output = 3;
  });
  MUTANT("no_graph", 1, m->graph = NULL);
  MUTANT("no_nodes", 1, m->graph->n_node = 0);
  MUTANT("constant_no_value", 1, node(m, "const2")->n_attribute = 0);
  MUTANT("constant_value_not_tensor", 1, node(m, "const2")->attribute[0]->t = NULL);
  MUTANT("initializer_unnamed", 1, init(m, "w")->name = S(""));
  MUTANT("shape_as_graph_input", 1, {
    /* the Reshape target becomes a graph input: smelt must ask for --const */
    Onnx__GraphProto *g = m->graph;
    g->n_initializer = 2; /* drops "shape" (the last) */
    Onnx__ValueInfoProto **in = a_alloc(NULL, sizeof(void *) * 2);
    in[0] = g->input[0];
    Onnx__ValueInfoProto *vi = a_alloc(NULL, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = S("shape");
    vi->type = a_alloc(NULL, sizeof *vi->type);
    onnx__type_proto__init(vi->type);
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    vi->type->tensor_type = a_alloc(NULL, sizeof *vi->type->tensor_type);
    onnx__type_proto__tensor__init(vi->type->tensor_type);
    vi->type->tensor_type->has_elem_type = 1;
    vi->type->tensor_type->elem_type = 7;
    vi->type->tensor_type->shape = a_alloc(NULL, sizeof(Onnx__TensorShapeProto));
    onnx__tensor_shape_proto__init(vi->type->tensor_type->shape);
    vi->type->tensor_type->shape->n_dim = 1;
    vi->type->tensor_type->shape->dim = a_alloc(NULL, sizeof(void *));
    vi->type->tensor_type->shape->dim[0] = dimv(2);
    in[1] = vi;
    g->input = in;
    g->n_input = 2;
  });
  /* graph inputs */
  MUTANT("input_string", 1, m->graph->input[0]->type->tensor_type->elem_type = 8);
  MUTANT("input_complex", 1, m->graph->input[0]->type->tensor_type->elem_type = 15);
  MUTANT("input_no_elem_type", 1, m->graph->input[0]->type->tensor_type->has_elem_type = 0);
  MUTANT("input_no_type", 1, m->graph->input[0]->type = NULL);
  MUTANT("input_no_tensor_type", 1, m->graph->input[0]->type->tensor_type = NULL);
  MUTANT("input_no_shape", 1, m->graph->input[0]->type->tensor_type->shape = NULL);
  MUTANT("input_sequence", 1, {
    Onnx__TypeProto__Sequence *sq = a_alloc(NULL, sizeof *sq);
    onnx__type_proto__sequence__init(sq);
    m->graph->input[0]->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    m->graph->input[0]->type->sequence_type = sq;
  });
  MUTANT("input_dim_1e15", 1, xshape(m)->dim[1]->dim_value = 1000000000000000ll);
  MUTANT("input_dim_wrong", 1, xshape(m)->dim[1]->dim_value = 7);
  MUTANT("input_rank9", 1, {
    Onnx__TensorShapeProto *s = xshape(m);
    s->dim = a_alloc(NULL, sizeof(void *) * 9);
    for (int i = 0; i < 9; i++) s->dim[i] = dimv(1);
    s->n_dim = 9;
  });
  /* opsets: read with a warning or as opset 1; never a crash */
  MUTANT("opset_1000", 0, m->opset_import[0]->version = 1000);
  MUTANT("opset_negative", 0, m->opset_import[0]->version = -5);
  MUTANT("opset_none", 0, m->n_opset_import = 0);
}

/* ---- IR text ----------------------------------------------------------------------- */
static const char *ir_bad[][2] = {
  {"empty", ""},
  {"version2", "smelt-ir 2\ngraph g\n"},
  {"no_graph", "smelt-ir 1\n"},
  {"not_ir", "smelt-ir\n"},
  {"unknown_op", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Nope(%x)\noutput %y\n"},
  {"undefined_value", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Relu(%z)\noutput %y\n"},
  {"defined_twice", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%x : f32[2] = Relu(%x)\noutput %x\n"},
  {"output_undefined", "smelt-ir 1\ngraph g\ninput %x : f32[2]\noutput %y\n"},
  {"cycle", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Add(%x, %z)\n%z : f32[2] = Relu(%y)\noutput %z\n"},
  {"rank9", "smelt-ir 1\ngraph g\ninput %x : f32[1,1,1,1,1,1,1,1,1]\noutput %x\n"},
  {"dim_1e15", "smelt-ir 1\ngraph g\ninput %x : f32[1000000000000000,1000000000000000]\n%y : f32[1000000000000000,1000000000000000] = Relu(%x)\noutput %y\n"},
  {"dim_overflow", "smelt-ir 1\ngraph g\ninput %x : f32[99999999999999999999]\noutput %x\n"},
  {"dim_negative", "smelt-ir 1\ngraph g\ninput %x : f32[-4]\noutput %x\n"},
  {"dim_text", "smelt-ir 1\ngraph g\ninput %x : f32[2x]\noutput %x\n"},
  {"unknown_symbol", "smelt-ir 1\ngraph g\ninput %x : f32[N]\noutput %x\n"},
  {"symbol_bound0", "smelt-ir 1\ngraph g\nsym N <= 0\ninput %x : f32[N]\noutput %x\n"},
  {"symbol_twice", "smelt-ir 1\ngraph g\nsym N <= 2\nsym N <= 3\ninput %x : f32[N]\noutput %x\n"},
  {"unknown_dtype", "smelt-ir 1\ngraph g\ninput %x : f33[2]\noutput %x\n"},
  {"const_short", "smelt-ir 1\ngraph g\nconst %c : f32[3] = [1, 2]\ninput %x : f32[3]\n%y : f32[3] = Add(%x, %c)\noutput %y\n"},
  {"const_long", "smelt-ir 1\ngraph g\nconst %c : f32[2] = [1, 2, 3]\ninput %x : f32[2]\n%y : f32[2] = Add(%x, %c)\noutput %y\n"},
  {"const_huge", "smelt-ir 1\ngraph g\nconst %c : f32[2305843009213693952] = [1]\noutput %c\n"},
  {"const_huge2", "smelt-ir 1\ngraph g\nconst %c : f64[1073741824,4] = [1, 2]\noutput %c\n"},
  {"const_int_range", "smelt-ir 1\ngraph g\nconst %c : i64[1] = [99999999999999999999]\noutput %c\n"},
  {"const_symbolic", "smelt-ir 1\ngraph g\nsym N <= 2\nconst %c : f32[N] = [1, 2]\noutput %c\n"},
  {"const_opaque", "smelt-ir 1\ngraph g\ninput %x : f32[2]\nconst %c : f32[2] = opaque 00000000deadbeef\n%y : f32[2] = Add(%x, %c)\noutput %y\n"},
  {"const_repeated", "smelt-ir 1\ngraph g\nconst %a : f32[1] = [1]\nconst %b : f32[1] = [1]\n%y : f32[1] = Add(%a, %b)\noutput %y\n"},
  {"attr_unknown", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Relu(%x) {alpha=1}\noutput %y\n"},
  {"attr_type", "smelt-ir 1\ngraph g\ninput %x : f32[2,2]\n%y : f32[2,2] = Transpose(%x) {perm=1}\noutput %y\n"},
  {"attr_missing", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Cast(%x)\noutput %y\n"},
  {"attr_list_long", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[1] = ReduceSum(%x) {axes=[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}\noutput %y\n"},
  {"attr_too_many", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Relu(%x) {a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1,a=1}\noutput %y\n"},
  {"unterminated_string", "smelt-ir 1\ngraph \"g\ninput %x : f32[2]\noutput %x\n"},
  {"escape_at_end", "smelt-ir 1\ngraph \"g\\x"},
  {"escape_short", "smelt-ir 1\ngraph \"g\\x4"},
  {"softmax_axis", "smelt-ir 1\ngraph g\ninput %x : f32[2,3]\n%y : f32[2,3] = Softmax(%x) {axis=2}\noutput %y\n"},
  {"softmax_scalar", "smelt-ir 1\ngraph g\ninput %x : f32[]\n%y : f32[] = Softmax(%x)\noutput %y\n"},
  {"gather_const_oob", "smelt-ir 1\ngraph g\nconst %t : f32[2] = [1, 2]\nconst %i : i64[1] = [5]\n%y : f32[1] = Gather(%t, %i)\noutput %y\n"},
  {"expand_huge", "smelt-ir 1\ngraph g\ninput %x : f32[1]\n%y : f32[1000000000,1000000000,1000] = Expand(%x)\noutput %y\n"},
  {"pad_huge", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2000000000000000002] = Pad(%x) {pads=[1000000000000000000, 1000000000000000000]}\noutput %y\n"},
  {"pad_overflow", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : f32[2] = Pad(%x) {pads=[9223372036854775807, 9223372036854775807]}\noutput %y\n"},
  {"slice_huge", "smelt-ir 1\ngraph g\ninput %x : f32[4]\n%y : f32[1] = Slice(%x) {starts=[-9223372036854775808], ends=[9223372036854775807], steps=[-9223372036854775808]}\noutput %y\n"},
  {"slice_step_min", "smelt-ir 1\ngraph g\ninput %x : f32[4]\n%y : f32[1] = Slice(%x) {starts=[3], ends=[-1], steps=[-9223372036854775808]}\noutput %y\n"},
  {"transpose_perm", "smelt-ir 1\ngraph g\ninput %x : f32[2,3]\n%y : f32[3,2] = Transpose(%x) {perm=[1, 9999999999]}\noutput %y\n"},
  {"conv_group0", "smelt-ir 1\ngraph g\ninput %x : f32[1,2,5,5]\ninput %w : f32[2,2,3,3]\n%y : f32[1,2,3,3] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[1,1], group=0}\noutput %y\n"},
  {"conv_huge_dilation", "smelt-ir 1\ngraph g\ninput %x : f32[1,2,5,5]\ninput %w : f32[2,2,3,3]\n%y : f32[1,2,3,3] = Conv(%x, %w) {strides=[1,1], pads=[0,0,0,0], dilations=[4611686018427387904,1]}\noutput %y\n"},
  {"conv_huge_pads", "smelt-ir 1\ngraph g\ninput %x : f32[1,2,5,5]\ninput %w : f32[2,2,3,3]\n%y : f32[1,2,3,3] = Conv(%x, %w) {strides=[1,1], pads=[9223372036854775807,0,9223372036854775807,0], dilations=[1,1]}\noutput %y\n"},
  {"pool_kernel0", "smelt-ir 1\ngraph g\ninput %x : f32[1,1,4,4]\n%y : f32[1,1,4,4] = MaxPool(%x) {kernel=[0,1], strides=[1,1], pads=[0,0,0,0], dilations=[1,1]}\noutput %y\n"},
  {"pool_huge_stride", "smelt-ir 1\ngraph g\ninput %x : f32[1,1,4,4]\n%y : f32[1,1,1,1] = MaxPool(%x) {kernel=[2,2], strides=[9223372036854775807,1], pads=[0,0,0,0], dilations=[1,1], ceil_mode=1}\noutput %y\n"},
  {"reshape_count", "smelt-ir 1\ngraph g\ninput %x : f32[2,3]\n%y : f32[7] = Reshape(%x)\noutput %y\n"},
  {"reshape_huge", "smelt-ir 1\ngraph g\ninput %x : f32[2,3]\n%y : f32[6,4294967296,4294967296] = Reshape(%x)\noutput %y\n"},
  {"concat_none", "smelt-ir 1\ngraph g\n%y : f32[2] = Concat() {axis=0}\noutput %y\n"},
  {"cast_bad", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%y : q4[2] = Cast(%x) {to=q4}\noutput %y\n"},
  {"first_output_blank", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n_ = Relu(%x)\n"},
  {"nine_outputs", "smelt-ir 1\ngraph g\ninput %x : f32[2]\n%a : f32[2], %b : f32[2], %c : f32[2], %d : f32[2], %e : f32[2], %f : f32[2], %g : f32[2], %h : f32[2], %i : f32[2] = Relu(%x)\n"},
  {"trailing_text", "smelt-ir 1\ngraph g\ninput %x : f32[2] junk\noutput %x\n"},
  {"binary", "smelt-ir 1\n\x01\x02\x03\xff\xfe\n"},
  {"nul_inside", "smelt-ir 1\ngraph g\ninput %x : f32[2\0]\noutput %x\n"},
};

static void ir_mutants(const char *base_path) {
  size_t len;
  char *text = t_read_file(base_path, &len);
  if (!text) { CHECK(0, "cannot read %s", base_path); return; }
  write_case("ir", "ok_base.ir", text, len, K_IR, -1);
  for (size_t i = 0; i < sizeof ir_bad / sizeof *ir_bad; i++) {
    char name[128];
    snprintf(name, sizeof name, "%s.ir", ir_bad[i][0]);
    size_t n = strlen(ir_bad[i][1]);
    if (!strcmp(ir_bad[i][0], "nul_inside")) n = 46; /* past the NUL */
    write_case("ir", name, ir_bad[i][1], n, K_IR, strcmp(ir_bad[i][0], "const_opaque") ? 1 : 2);
  }
  /* long names and many inputs */
  {
    size_t big = 200000;
    char *t = malloc(big + 200);
    int k = snprintf(t, 200, "smelt-ir 1\ngraph g\ninput %%");
    memset(t + k, 'n', big);
    k += (int)big;
    k += snprintf(t + k, 100, " : f32[2]\noutput %%y\n");
    write_case("ir", "long_name.ir", t, (size_t)k, K_IR, 1);
    k = snprintf(t, 200, "smelt-ir 1\ngraph g\ninput %%x : f32[1]\n%%y : f32[300] = Concat(");
    for (int i = 0; i < 300; i++) k += snprintf(t + k, 8, "%s%%x", i ? "," : "");
    k += snprintf(t + k, 100, ") {axis=0}\noutput %%y\n");
    write_case("ir", "concat_300.ir", t, (size_t)k, K_IR, 1);
    free(t);
  }
  random_mutants("ir", "trunc", ".ir", (const unsigned char *)text, len, K_IR, 60);
  /* byte edits with characters the grammar cares about, and line drops/duplicates */
  static const char chars[] = "[]%,=\"\\:{}()-0123456789 \n#_~@xN";
  char *buf = malloc(2 * len + 2);
  for (int i = 0; i < 120; i++) {
    memcpy(buf, text, len);
    size_t at = rnd((uint32_t)len);
    buf[at] = chars[rnd(sizeof chars - 1)];
    char name[64];
    snprintf(name, sizeof name, "edit%d.ir", i);
    write_case("ir", name, buf, len, K_IR, 0);
  }
  int nlines = 0;
  for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
  for (int l = 1; l < nlines; l++)
    for (int dup = 0; dup < 2; dup++) {
      size_t n = 0;
      int line = 0;
      for (size_t i = 0; i < len; i++) {
        int at = line == l;
        if (!at || dup) buf[n++] = text[i];
        if (text[i] == '\n') {
          if (at && dup) { /* write line l again */
            size_t s = i;
            while (s > 0 && text[s - 1] != '\n') s--;
            memcpy(buf + n, text + s, i - s + 1);
            n += i - s + 1;
          }
          line++;
        }
      }
      char name[64];
      snprintf(name, sizeof name, "line%d_%s.ir", l, dup ? "twice" : "dropped");
      write_case("ir", name, buf, n, K_IR, 0);
    }
  free(buf);
  free(text);
}

/* ---- .npy for `smelt eval base.onnx FILE` (its input is f32[1,8]) ----------------------- */
static void npy_raw(const char *name, const char *header, size_t ndata) {
  char path[4200];
  snprintf(path, sizeof path, "%s/npy/%s", work, name);
  size_t hl = strlen(header), total = 10 + hl + 1, pad = (64 - total % 64) % 64, hlen = hl + pad + 1;
  unsigned char *buf = calloc(1, 10 + hlen + ndata + 1);
  memcpy(buf, "\x93NUMPY\x01\x00", 8);
  buf[8] = (unsigned char)(hlen & 0xff);
  buf[9] = (unsigned char)(hlen >> 8);
  memcpy(buf + 10, header, hl);
  memset(buf + 10 + hl, ' ', pad);
  buf[10 + hl + pad] = '\n';
  t_write_file(path, buf, 10 + hlen + ndata);
  free(buf);
  add_case(path, K_NPY, 1);
}

static void npy_mutants(void) {
  char path[4200];
  float x[8] = {1, -2, 3, -4, 0.5f, 0, 7, -8};
  snprintf(path, sizeof path, "%s/npy/ok.npy", work);
  smelt_npy_write(path, "<f4", 2, (int64_t[]){1, 8}, x, sizeof x);
  add_case(path, K_NPY, -1);
  size_t len;
  unsigned char *data = (unsigned char *)t_read_file(path, &len);
  random_mutants("npy", "npy", ".npy", data, len, K_NPY, 40);
  /* every truncation of a valid file fails (the data is needed) */
  for (int i = 0; i < ncases; i++)
    if (cases[i].kind == K_NPY && strstr(cases[i].path, "_cut")) cases[i].must_fail = 1;
  free(data);
  snprintf(path, sizeof path, "%s/npy/shape_1x7.npy", work);
  smelt_npy_write(path, "<f4", 2, (int64_t[]){1, 7}, x, 28);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/rank1.npy", work);
  smelt_npy_write(path, "<f4", 1, (int64_t[]){8}, x, 32);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/dtype_f64.npy", work);
  double xd[8] = {0};
  smelt_npy_write(path, "<f8", 2, (int64_t[]){1, 8}, xd, sizeof xd);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/dtype_i32.npy", work);
  smelt_npy_write(path, "<i4", 2, (int64_t[]){1, 8}, x, sizeof x);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/empty.npy", work);
  t_write_file(path, "", 0);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/magic.npy", work);
  t_write_file(path, "\x93NUMPX\x01\x00\x10\x00{'descr': '<f4'}", 26);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/version9.npy", work);
  t_write_file(path, "\x93NUMPY\x09\x00\x10\x00{'descr': '<f4'}", 26);
  add_case(path, K_NPY, 1);
  snprintf(path, sizeof path, "%s/npy/header_len.npy", work);
  t_write_file(path, "\x93NUMPY\x02\x00\xff\xff\xff\x7f{'descr': '<f4'}", 28);
  add_case(path, K_NPY, 1);
  npy_raw("no_descr.npy", "{'fortran_order': False, 'shape': (1, 8), }", 32);
  npy_raw("descr_unicode.npy", "{'descr': '<U8', 'fortran_order': False, 'shape': (1, 8), }", 256);
  npy_raw("descr_bigendian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 8), }", 32);
  npy_raw("descr_object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (1, 8), }", 64);
  npy_raw("descr_struct.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 8), }", 32);
  npy_raw("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 8), }", 32);
  npy_raw("shape_negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, -8), }", 32);
  npy_raw("shape_1e15.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000000, 8), }", 32);
  npy_raw("shape_2e40.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1), }", 32);
  npy_raw("shape_rank9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,8), }", 32);
  npy_raw("shape_text.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (one, 8), }", 32);
  npy_raw("shape_open.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 8", 32);
  npy_raw("data_short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 8), }", 31);
  npy_raw("data_none.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 8), }", 0);
}

/* ---- tokenizers ---------------------------------------------------------------------- */
#define TOKJ_HEAD "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,\"<s>\":3},\"merges\":[\"a b\"]}"
static const char *tok_json_bad[][2] = {
    {"notjson", "{\"model\": "},
    {"array", "[1,2,3]"},
    {"nomodel", "{\"version\":\"1.0\"}"},
    {"unigram", "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}}"},
    {"vocab_array", "{\"model\":{\"type\":\"BPE\",\"vocab\":[1,2],\"merges\":[]}}"},
    {"vocab_neg", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":-1},\"merges\":[]}}"},
    {"vocab_frac", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0.5},\"merges\":[]}}"},
    {"vocab_huge", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":1e15},\"merges\":[]}}"},
    {"vocab_string", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"0\"},\"merges\":[]}}"},
    {"vocab_hole", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":5},\"merges\":[]}}"},
    {"vocab_dup", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}"},
    {"vocab_empty", "{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}"},
    {"merges_obj", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":{}}}"},
    {"merge_nospace", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"ab\"]}}"},
    {"merge_triple", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\",\"b\",\"c\"]]}}"},
    {"merge_int", "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[7]}}"},
    {"dropout", "{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{\"a\":0},\"merges\":[]}}"},
    {"suffix", "{\"model\":{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\",\"vocab\":{\"a\":0},\"merges\":[]}}"},
    {"added_obj", TOKJ_HEAD ",\"added_tokens\":{}}"},
    {"added_noid", TOKJ_HEAD ",\"added_tokens\":[{\"content\":\"x\"}]}"},
    {"added_nocontent", TOKJ_HEAD ",\"added_tokens\":[{\"id\":4}]}"},
    {"added_empty", TOKJ_HEAD ",\"added_tokens\":[{\"id\":4,\"content\":\"\"}]}"},
    {"added_huge", TOKJ_HEAD ",\"added_tokens\":[{\"id\":1e12,\"content\":\"x\"}]}"},
    {"added_gap", TOKJ_HEAD ",\"added_tokens\":[{\"id\":9,\"content\":\"x\"}]}"},
    {"pre_whitespace", TOKJ_HEAD ",\"pre_tokenizer\":{\"type\":\"Whitespace\"}}"},
    {"pre_split", TOKJ_HEAD ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},\"behavior\":\"Isolated\"},{\"type\":\"ByteLevel\",\"use_regex\":false}]}}"},
    {"pre_prefix", TOKJ_HEAD ",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true}}"},
    {"pre_deep", TOKJ_HEAD ",\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"},{\"type\":\"Digits\"}]}}"},
    {"norm_lower", TOKJ_HEAD ",\"normalizer\":{\"type\":\"Lowercase\"}}"},
    {"norm_replace", TOKJ_HEAD ",\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"x\"},\"content\":\"y\"}}"},
    {"norm_bert", TOKJ_HEAD ",\"normalizer\":{\"type\":\"BertNormalizer\"}}"},
    {"dec_ctc", TOKJ_HEAD ",\"decoder\":{\"type\":\"CTC\"}}"},
    {"wp_unk", "{\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"a\":0}}}"},
};

/* a GGUF vocabulary: "GGUF", v3, 0 tensors, then key/values appended by the helpers */
struct gb { unsigned char b[65536]; size_t n; uint64_t nkv; };
static void gb_raw(struct gb *g, const void *p, size_t n) { if (g->n + n <= sizeof g->b) { memcpy(g->b + g->n, p, n); g->n += n; } }
static void gb_u32(struct gb *g, uint32_t v) { gb_raw(g, &v, 4); }
static void gb_u64(struct gb *g, uint64_t v) { gb_raw(g, &v, 8); }
static void gb_str(struct gb *g, const char *s) { gb_u64(g, strlen(s)); gb_raw(g, s, strlen(s)); }
static void gb_key(struct gb *g, const char *k, uint32_t type) { gb_str(g, k); gb_u32(g, type); g->nkv++; }
static void gb_kstr(struct gb *g, const char *k, const char *v) { gb_key(g, k, 8); gb_str(g, v); }
static void gb_ku32(struct gb *g, const char *k, uint32_t v) { gb_key(g, k, 4); gb_u32(g, v); }
static void gb_kstrs(struct gb *g, const char *k, const char *const *v, int n) { gb_key(g, k, 9); gb_u32(g, 8); gb_u64(g, (uint64_t)n); for (int i = 0; i < n; i++) gb_str(g, v[i]); }
static void gb_ki32s(struct gb *g, const char *k, const int32_t *v, int n) { gb_key(g, k, 9); gb_u32(g, 5); gb_u64(g, (uint64_t)n); gb_raw(g, v, 4 * (size_t)n); }
static void gb_kf32s(struct gb *g, const char *k, const float *v, int n) { gb_key(g, k, 9); gb_u32(g, 6); gb_u64(g, (uint64_t)n); gb_raw(g, v, 4 * (size_t)n); }
static void gb_write(struct gb *g, const char *name, int must_fail) {
  unsigned char out[65536 + 24];
  memcpy(out, "GGUF", 4);
  uint32_t v = 3;
  uint64_t nt = 0;
  memcpy(out + 4, &v, 4);
  memcpy(out + 8, &nt, 8);
  memcpy(out + 16, &g->nkv, 8);
  memcpy(out + 24, g->b, g->n);
  write_case("tok", name, out, g->n + 24, K_TOK, must_fail);
}

static const char *const VOC[] = {"<unk>", "<s>", "</s>", "a", "b", "ab", "\xe2\x96\x81" "a"};
static const char *const BVOC[] = {"a", "b", "ab", "<|endoftext|>"};

/* a valid SentencePiece or byte-level vocabulary, with one thing spoilt by `bad` */
static void gguf_vocab(const char *name, int bpe, int bad) {
  struct gb g = {0};
  float sc[7] = {0, 0, 0, -1, -2, -0.5f, -0.1f};
  int32_t ty[7] = {2, 3, 3, 1, 1, 1, 1};
  if (bad != 1) gb_kstr(&g, "tokenizer.ggml.model", bad == 2 ? "t5" : bpe ? "gpt2" : "llama");
  if (bpe && bad != 3) gb_kstr(&g, "tokenizer.ggml.pre", bad == 4 ? "mystery" : "gpt-2");
  if (bad == 5) gb_ku32(&g, "tokenizer.ggml.tokens", 7);
  else if (bad == 6) gb_ki32s(&g, "tokenizer.ggml.tokens", ty, 7);
  else if (bad != 7) gb_kstrs(&g, "tokenizer.ggml.tokens", bpe ? BVOC : VOC, bad == 8 ? 0 : bpe ? 4 : 7);
  if (!bpe) gb_kf32s(&g, "tokenizer.ggml.scores", sc, bad == 9 ? 3 : 7);
  if (bad == 10) gb_kstrs(&g, "tokenizer.ggml.token_type", VOC, 7);
  else gb_ki32s(&g, "tokenizer.ggml.token_type", ty, bad == 11 ? 2 : bpe ? 4 : 7);
  if (bpe && bad != 12) {
    const char *m[] = {bad == 13 ? "ab" : "a b"};
    gb_kstrs(&g, "tokenizer.ggml.merges", m, 1);
  }
  gb_ku32(&g, "tokenizer.ggml.bos_token_id", bad == 14 ? 1000000 : 1);
  if (bad == 15) gb_kstr(&g, "tokenizer.ggml.eos_token_id", "2");
  gb_write(&g, name, bad && bad != 14 ? 1 : -1); /* an out-of-range special id is ignored with a warning */
}

static void tok_mutants(void) {
  char p[4300];
  for (size_t i = 0; i < sizeof tok_json_bad / sizeof *tok_json_bad; i++) {
    snprintf(p, sizeof p, "%s.json", tok_json_bad[i][0]);
    write_case("tok", p, tok_json_bad[i][1], strlen(tok_json_bad[i][1]), K_TOK, 1);
  }
  static const char good[] = TOKJ_HEAD ",\"added_tokens\":[{\"id\":3,\"content\":\"<s>\",\"special\":true}],\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false},\"decoder\":{\"type\":\"ByteLevel\"}}";
  write_case("tok", "good.json", good, strlen(good), K_TOK, -1);
  random_mutants("tok", "good", ".json", (const unsigned char *)good, strlen(good), K_TOK, 60);
  static const char *gname[] = {"spm_ok", "nomodel", "model_t5", "", "", "tokens_scalar", "tokens_ints", "notokens", "tokens_empty", "scores_short",
                                "types_strings", "types_short", "", "", "bos_range", "eos_string"};
  for (int bad = 0; bad < 16; bad++)
    if (*gname[bad]) { snprintf(p, sizeof p, "%s.gguf", gname[bad]); gguf_vocab(p, 0, bad); }
  static const char *bname[] = {"bpe_ok", "", "", "bpe_nopre", "bpe_pre_unknown", "", "", "", "", "", "", "", "bpe_nomerges", "bpe_merge_nospace", "", ""};
  for (int bad = 0; bad < 16; bad++)
    if (*bname[bad]) { snprintf(p, sizeof p, "%s.gguf", bname[bad]); gguf_vocab(p, 1, bad); }
  /* random mutants of the valid ones */
  snprintf(p, sizeof p, "%s/tok/spm_ok.gguf", work);
  size_t n;
  char *d = t_read_file(p, &n);
  if (d) { random_mutants("tok", "spm_ok", ".gguf", (const unsigned char *)d, n, K_TOK, 80); free(d); }
}

/* ---- running the CLI on the corpus -------------------------------------------------------- */
static int nruns, naccepted;

static void check_run(const struct kase *k, const char *const *av, const char *cmd, int is_build) {
  struct t_run r;
  char st[64];
  nruns++;
  if (t_run(av, work, 30, &r)) { CHECK(0, "%s: cannot run %s", k->path, cmd); return; }
  int must = k->must_fail == 2 ? is_build : k->must_fail;
  int ok = r.exited && ((r.code == 1 && must >= 0) || (r.code == 0 && must <= 0));
  if (ok && r.code == 1) {
    /* exactly one error line, naming the file; anything else a warning */
    int errors = 0, others = 0, named = 0;
    for (char *line = r.err; *line;) {
      size_t n = strcspn(line, "\n");
      if (!strncmp(line, "smelt: error: ", 14)) {
        errors++;
        char save = line[n];
        line[n] = 0;
        named = strstr(line, k->path) != NULL;
        line[n] = save;
      } else if (strncmp(line, "smelt: warning: ", 16)) others++;
      line += n + (line[n] == '\n');
    }
    ok = errors == 1 && others == 0 && named;
  }
  if (r.exited && r.code == 0) naccepted++;
  CHECK(ok, "%s %s: %s%s\n%.2000s", cmd, k->path, t_status(&r, st, sizeof st),
        r.code == 0 ? " (accepted a file that must be rejected)" : must < 0 ? " (rejected a valid file)" : "", r.err);
  t_run_free(&r);
}

static void append_env(const char *var, const char *opts) {
  const char *old = getenv(var);
  char buf[4096];
  snprintf(buf, sizeof buf, "%s%s%s", opts, old && *old ? ":" : "", old ? old : "");
  setenv(var, buf, 1);
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) { fprintf(stderr, "usage: malformed SMELT BASE.onnx BASE.ir WORK [LLM_FIXTURES]\n"); return 2; }
  static char sm[4096], base_onnx[4096];
  if (!realpath(argv[1], sm)) SKIP("%s is not built", argv[1]);
  smelt = sm;
  if (!realpath(argv[2], base_onnx)) SKIP("%s is missing (tools/make_test_fixtures.py makes it)", argv[2]);
  t_rmtree(argv[4]);
  t_mkdirs(argv[4]);
  if (!realpath(argv[4], work)) return 2;
  /* sanitizer reports must not pass for smelt's own exit status 1 */
  append_env("ASAN_OPTIONS", "exitcode=86");
  append_env("UBSAN_OPTIONS", "exitcode=87:halt_on_error=1:print_stacktrace=1");
  char p[4300];
  const char *subs[] = {"onnx", "onnx/sub", "ir", "npy", "out", "tok"};
  for (int i = 0; i < 6; i++) { snprintf(p, sizeof p, "%s/%s", work, subs[i]); t_mkdirs(p); }
  base_bytes = (unsigned char *)t_read_file(base_onnx, &base_len);
  if (!base_bytes) SKIP("cannot read %s", base_onnx);
  /* the external data files: w's 128 bytes, and one too short */
  {
    Onnx__ModelProto *m = fresh();
    Onnx__TensorProto *w = init(m, "w");
    snprintf(p, sizeof p, "%s/onnx/w.bin", work);
    unsigned char pad[160] = {0};
    memcpy(pad + 16, w->raw_data.data, w->raw_data.len); /* offset 16 holds the data too */
    memcpy(pad, w->raw_data.data, w->raw_data.len);
    t_write_file(p, pad, 144);
    snprintf(p, sizeof p, "%s/onnx/short.bin", work);
    t_write_file(p, pad, 100);
    snprintf(p, sizeof p, "%s/onnx/fifo.bin", work); /* open() of a FIFO would block */
    mkfifo(p, 0666);
    snprintf(p, sizeof p, "%s/onnx/null.bin", work);
    symlink("/dev/zero", p);
    arena_reset();
  }
  onnx_mutants();
  random_mutants("onnx", "base", ".onnx", base_bytes, base_len, K_ONNX, 120);
  snprintf(p, sizeof p, "%s/onnx/garbage.onnx", work);
  {
    unsigned char g[4096];
    for (size_t i = 0; i < sizeof g; i++) g[i] = (unsigned char)rnd(256);
    t_write_file(p, g, sizeof g);
    add_case(p, K_ONNX, 1);
  }
  snprintf(p, sizeof p, "%s/onnx/sub", work);
  add_case(p, K_ONNX, 1); /* a folder */
  snprintf(p, sizeof p, "%s/onnx/missing.onnx", work);
  add_case(p, K_ONNX, 1);
  ir_mutants(argv[3]);
  npy_mutants();
  if (argc == 6) hf_mutants(argv[5]);
  if (argc == 6) gguf_mutants(argv[5]);
  tok_mutants();

  /* the runs, split over `jobs` worker processes (each reports its own failures) */
  int jobs = 2;
  if (getenv("SMELT_TEST_JOBS")) jobs = atoi(getenv("SMELT_TEST_JOBS"));
  if (jobs < 1 || jobs > 16) jobs = 1;
  double t0 = t_now();
  int must = 0;
  for (int i = 0; i < ncases; i++) must += cases[i].must_fail > 0;
  pid_t pids[16];
  for (int w = 0; w < jobs; w++) {
    pids[w] = jobs == 1 ? 0 : fork();
    if (pids[w] < 0) { perror("fork"); return 2; }
    if (pids[w] > 0) continue;
    char out[4300];
    snprintf(out, sizeof out, "%s/out%d", work, w);
    t_mkdirs(out);
    int nfail = 0;
    for (int i = w; i < ncases; i += jobs) {
      const struct kase *k = &cases[i];
      int before = t_failures;
      if (k->kind == K_TOK) {
        const char *av[] = {smelt, "tokenize", k->path, "Hello <s> world\n\t  333 \xc3\xa9\xf0\x9f\xa6\x99 ab", NULL};
        check_run(k, av, "tokenize", 0);
      } else if (k->kind == K_HF) { /* a folder; build (slow once it compiles) only when it must fail */
        const char *av1[] = {smelt, "inspect", k->path, NULL};
        check_run(k, av1, "inspect", 0);
        const char *av2[] = {smelt, "build", k->path, "-o", out, "--emit", "c", "-q", NULL};
        if (k->must_fail == 1) check_run(k, av2, "build --emit c", 1);
      } else if (k->kind == K_NPY) {
        const char *av[] = {smelt, "eval", base_onnx, k->path, NULL};
        check_run(k, av, "eval", 0);
      } else {
        const char *av1[] = {smelt, "inspect", k->path, NULL};
        check_run(k, av1, "inspect", 0);
        const char *av2[] = {smelt, "build", k->path, "-o", out, "--emit", "c", "-q", NULL};
        check_run(k, av2, "build --emit c", 1);
      }
      nfail += t_failures != before;
    }
    printf("malformed worker %d: %d runs, %d runs accepted a random mutant, %d files failed\n", w, nruns, naccepted, nfail);
    if (jobs == 1) break;
    fflush(stdout);
    _exit(t_done("malformed worker"));
  }
  int bad = 0;
  for (int w = 0; jobs > 1 && w < jobs; w++) {
    int st;
    if (waitpid(pids[w], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) bad++;
  }
  CHECK(bad == 0, "%d worker(s) failed", bad);
  printf("malformed: %d files (%d that must be rejected), %.1f s with %d worker(s)\n", ncases, must, t_now() - t0, jobs);
  free(base_bytes);
  free(cases);
  return t_done("malformed");
}
