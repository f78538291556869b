/* tests/unit/lora.c — LoRA adapters (compiler/read_lora.c, passes/lora_merge.c) against
 * the reference interpreter:
 *
 *   - a graph of two MatMuls (one with trans_b = 1, [out, in] weights; one with trans_b =
 *     0, [in, out] weights) with two adapters: the merged graph (W + s·B·A) and the
 *     switchable graph (LoRA nodes reading the scale state) give the same outputs for
 *     each adapter and scale, and the base outputs with every scale 0; two adapters
 *     merged at once add up;
 *   - a q8_0 weight is re-quantized after merging (ggml's q8_0 rounding, checked
 *     against a scalar re-implementation);
 *   - --lora / --adapter option parsing;
 *   - malformed PEFT folders: each is an error naming the file, never a crash. */
#include "../testutil.h"
#include "compiler/driver.h"
#include "compiler/lora.h"
#include "runtime/smelt_quant.h"

#include <math.h>

static float frand(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rnd(int64_t n, uint32_t *s, float scale) {
  float *p = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) p[i] = scale * frand(s);
  return p;
}

enum { M = 3, K = 8, N1 = 6, N2 = 4 };
static float *w1, *w2; /* w1 [N1, K] used transposed, w2 [N1, N2] used as is */

/* X [M, K] -> Y = X·W1ᵀ [M, N1] -> Z = Y·W2 [M, N2] */
static smelt_graph *make_graph(smelt_ctx *cx, smelt_dtype w1dt, const void *w1data, uint64_t w1bytes) {
  smelt_graph *g = smelt_graph_new(cx, "g");
  smelt_shape sx = {2, {{M, 0}, {K, 0}}}, s1 = {2, {{N1, 0}, {K, 0}}}, s2 = {2, {{N1, 0}, {N2, 0}}};
  int x = smelt_graph_add_input(g, "x", SMELT_DT_F32, &sx);
  int a = smelt_graph_add_const(g, "w1", w1dt, &s1, w1data, w1bytes);
  int b = smelt_graph_add_const(g, "w2", SMELT_DT_F32, &s2, w2, sizeof(float) * N1 * N2);
  smelt_attr t1 = smelt_attr_int("trans_b", 1), t0 = smelt_attr_int("trans_b", 0);
  int in1[2] = {x, a};
  int y = smelt_graph_add_node(g, SMELT_OP_MATMUL, "mm1", in1, 2, &t1, 1, 1, NULL);
  int in2[2] = {y, b};
  int z = smelt_graph_add_node(g, SMELT_OP_MATMUL, "mm2", in2, 2, &t0, 1, 1, NULL);
  smelt_graph_add_output(g, z);
  return g;
}

static struct smelt_lora make_adapter(smelt_ctx *cx, const char *name, int r1, int r2, uint32_t seed, double scale) {
  struct smelt_lora L = {.name = name, .path = name, .format = "peft", .n = 2};
  L.t = smelt_alloc(cx, sizeof *L.t * 2);
  uint32_t s = seed;
  struct smelt_lora_tensor *t = L.t;
  t[0] = (struct smelt_lora_tensor){"w1", {"w1"}, 1, r1, K, N1, rnd(r1 * K, &s, 0.5f), rnd(N1 * r1, &s, 0.5f), scale};
  t[1] = (struct smelt_lora_tensor){"w2", {"w2"}, 1, r2, N1, N2, rnd(r2 * N1, &s, 0.5f), rnd(N2 * r2, &s, 0.5f), scale * 0.5};
  return L;
}

static void free_adapter(struct smelt_lora *L) {
  for (int i = 0; i < L->n; i++) { free((void *)L->t[i].a); free((void *)L->t[i].b); }
}

/* runs g (states: the adapter scales, if any) on x */
static smelt_tensor run(smelt_graph *g, const float *x, const float *scales) {
  smelt_tensor in = {SMELT_DT_F32, 2, {M, K}, (void *)x}, out = {0}, st = {SMELT_DT_F32, 1, {2}, (void *)scales};
  int rc = g->nstates ? smelt_eval_state(g, &in, &out, &st) : smelt_eval(g, &in, &out);
  CHECK(rc == 0, "eval: %s", smelt_error_msg(g->cx) ? smelt_error_msg(g->cx) : "?");
  return out;
}

static double maxrel(const smelt_tensor *a, const smelt_tensor *b) {
  double d = 0, m = 0;
  int64_t n = smelt_tensor_elems(a);
  for (int64_t i = 0; i < n; i++) {
    d = fmax(d, fabs(smelt_tensor_getf(a, i) - smelt_tensor_getf(b, i)));
    m = fmax(m, fabs(smelt_tensor_getf(b, i)));
  }
  return d / (m ? m : 1);
}

/* a graph with adapters merged (merge) or switchable (sw) */
static smelt_graph *with(smelt_ctx *cx, struct smelt_lora *merge, int nm, struct smelt_lora *sw, int ns, smelt_dtype w1dt, const void *w1d, uint64_t w1b) {
  struct smelt_lora_set *set = smelt_alloc(cx, sizeof *set);
  set->merge = merge;
  set->nmerge = nm;
  set->sw = sw;
  set->nswitch = ns;
  smelt_map_init(&set->merged, cx);
  static struct smelt_build_opts o;
  memset(&o, 0, sizeof o);
  o.lora = set;
  smelt_ctx_set_options(cx, &o);
  smelt_graph *g = make_graph(cx, w1dt, w1d, w1b);
  int rc = smelt_pass_lora_merge(cx, g);
  CHECK(rc == 0 && !smelt_verify(g), "lora_merge: %s", smelt_error_msg(cx) ? smelt_error_msg(cx) : "verify");
  smelt_ctx_set_options(cx, NULL);
  return g;
}

static void test_interpreter(void) {
  uint32_t s = 1;
  w1 = rnd(N1 * K, &s, 1);
  w2 = rnd(N1 * N2, &s, 1);
  float *x = rnd(M * K, &s, 1);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_lora ad[2] = {make_adapter(cx, "p", 2, 3, 7, 0.75), make_adapter(cx, "q", 1, 2, 9, 1.5)};
  smelt_graph *base = make_graph(cx, SMELT_DT_F32, w1, sizeof(float) * N1 * K);
  float zero[2] = {0, 0};
  smelt_tensor zb = run(base, x, zero);
  smelt_graph *sw = with(cx, NULL, 0, ad, 2, SMELT_DT_F32, w1, sizeof(float) * N1 * K);
  int nl = 0;
  for (int i = 0; i < sw->nnodes; i++) nl += sw->nodes[i].op == SMELT_OP_LORA;
  CHECK(nl == 4 && sw->nstates == 1, "switchable graph: %d LoRA nodes, %d states", nl, sw->nstates);
  smelt_tensor z0 = run(sw, x, zero);
  CHECK(maxrel(&z0, &zb) == 0, "no adapter active: %.3g from the base", maxrel(&z0, &zb));
  for (int k = 0; k < 2; k++) {
    struct smelt_lora m = ad[k];
    /* the merge takes the user's scale inside t->scale: scale each tensor by 0.5 */
    struct smelt_lora_tensor tt[2] = {m.t[0], m.t[1]};
    tt[0].scale *= 0.5;
    tt[1].scale *= 0.5;
    m.t = tt;
    smelt_graph *mg = with(cx, &m, 1, NULL, 0, SMELT_DT_F32, w1, sizeof(float) * N1 * K);
    float sc[2] = {k == 0 ? 0.5f : 0, k == 1 ? 0.5f : 0};
    smelt_tensor zm = run(mg, x, zero), zs = run(sw, x, sc);
    CHECK(maxrel(&zs, &zm) < 1e-6, "adapter %d at 0.5: switchable and merged differ by %.3g", k, maxrel(&zs, &zm));
    CHECK(maxrel(&zs, &zb) > 1e-2, "adapter %d changes nothing", k);
    smelt_tensor_free(&zm);
    smelt_tensor_free(&zs);
  }
  /* both merged at once = the base plus both updates (through the interpreter of each) */
  smelt_graph *both = with(cx, ad, 2, NULL, 0, SMELT_DT_F32, w1, sizeof(float) * N1 * K);
  const float *wm = both->values[1].c.data;
  double worst = 0;
  for (int o = 0; o < N1; o++)
    for (int i = 0; i < K; i++) {
      double want = w1[o * K + i];
      for (int k = 0; k < 2; k++)
        for (int j = 0; j < ad[k].t[0].r; j++) want += ad[k].t[0].scale * ad[k].t[0].b[o * ad[k].t[0].r + j] * ad[k].t[0].a[j * K + i];
      worst = fmax(worst, fabs(wm[o * K + i] - want));
    }
  CHECK(!strcmp(both->values[1].name, "w1") && worst < 1e-6, "two adapters merged into w1: error %.3g", worst);
  /* w2 is used untransposed: the update lands transposed */
  const float *w2m = both->values[2].c.data;
  worst = 0;
  for (int o = 0; o < N2; o++)
    for (int i = 0; i < N1; i++) {
      double want = w2[i * N2 + o];
      for (int k = 0; k < 2; k++)
        for (int j = 0; j < ad[k].t[1].r; j++) want += ad[k].t[1].scale * ad[k].t[1].b[o * ad[k].t[1].r + j] * ad[k].t[1].a[j * N1 + i];
      worst = fmax(worst, fabs(w2m[i * N2 + o] - want));
    }
  CHECK(worst < 1e-6, "two adapters merged into w2 ([in, out]): error %.3g", worst);

  /* a q8_0 base: dequantized, merged, re-quantized with ggml's rounding (K = 32 here) */
  {
    smelt_ctx *qx = smelt_ctx_new();
    enum { QK = 32 };
    uint32_t s2 = 5;
    float *wf = rnd(N1 * QK, &s2, 1);
    unsigned char q[N1 * 34];
    for (int r = 0; r < N1; r++) { /* quantize the base */
      float amax = 0;
      for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(wf[r * QK + j]));
      float d = amax / 127, id = d ? 1 / d : 0;
      uint16_t h = sm_f32_to_f16(d);
      memcpy(q + r * 34, &h, 2);
      for (int j = 0; j < QK; j++) q[r * 34 + 2 + j] = (unsigned char)(int8_t)roundf(wf[r * QK + j] * id);
    }
    smelt_graph *g = smelt_graph_new(qx, "q");
    smelt_shape sx = {2, {{1, 0}, {QK, 0}}}, sw1 = {2, {{N1, 0}, {QK, 0}}};
    int xv = smelt_graph_add_input(g, "x", SMELT_DT_F32, &sx), wv = smelt_graph_add_const(g, "wq", SMELT_DT_Q8_0, &sw1, q, sizeof q);
    smelt_attr t1 = smelt_attr_int("trans_b", 1);
    int in[2] = {xv, wv};
    smelt_graph_add_output(g, smelt_graph_add_node(g, SMELT_OP_MATMUL, "mm", in, 2, &t1, 1, 1, NULL));
    uint32_t s3 = 11;
    struct smelt_lora_tensor t = {"wq", {"wq"}, 1, 2, QK, N1, rnd(2 * QK, &s3, 0.3f), rnd(N1 * 2, &s3, 0.3f), 1.0};
    struct smelt_lora L = {.name = "z", .path = "z", .format = "peft", .n = 1, .t = &t};
    struct smelt_lora_set set = {.merge = &L, .nmerge = 1};
    smelt_map_init(&set.merged, qx);
    struct smelt_build_opts o;
    memset(&o, 0, sizeof o);
    o.lora = &set;
    smelt_ctx_set_options(qx, &o);
    CHECK(smelt_pass_lora_merge(qx, g) == 0, "q8_0 merge: %s", smelt_error_msg(qx) ? smelt_error_msg(qx) : "?");
    const smelt_value *v = &g->values[wv];
    CHECK(v->dt == SMELT_DT_Q8_0 && v->c.nbytes == sizeof q, "q8_0 merge changed the dtype or size");
    int same = 1;
    for (int r = 0; r < N1 && v->c.data; r++) { /* expected: q8_0(dequant(q) + B·A) */
      float row[QK];
      smq_dequantize_row_q8_0(q + r * 34, row, QK);
      for (int j = 0; j < QK; j++) {
        double dd = 0;
        for (int k = 0; k < 2; k++) dd += (double)t.b[r * 2 + k] * t.a[k * QK + j];
        row[j] = (float)(row[j] + dd);
      }
      float amax = 0;
      for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(row[j]));
      float d = amax / 127, id = d ? 1 / d : 0;
      uint16_t h = sm_f32_to_f16(d);
      const unsigned char *got = (const unsigned char *)v->c.data + r * 34;
      same &= !memcmp(got, &h, 2);
      for (int j = 0; j < QK; j++) same &= got[2 + j] == (unsigned char)(int8_t)roundf(row[j] * id);
    }
    CHECK(same, "q8_0 re-quantization differs from ggml's rounding");
    /* k-quants have no re-quantizer yet: a clear error naming the weight */
    {
      enum { KK = 256 };
      smelt_graph *g1 = smelt_graph_new(qx, "q4k");
      static unsigned char q4k[N1 * 144];
      smelt_shape sxk = {2, {{1, 0}, {KK, 0}}}, swk = {2, {{N1, 0}, {KK, 0}}};
      int x1 = smelt_graph_add_input(g1, "x", SMELT_DT_F32, &sxk), wk = smelt_graph_add_const(g1, "wq", SMELT_DT_Q4_K, &swk, q4k, sizeof q4k);
      int in1[2] = {x1, wk};
      smelt_graph_add_output(g1, smelt_graph_add_node(g1, SMELT_OP_MATMUL, "mm", in1, 2, &t1, 1, 1, NULL));
      uint32_t s4 = 13;
      struct smelt_lora_tensor tk = {"wq", {"wq"}, 1, 2, KK, N1, rnd(2 * KK, &s4, 0.3f), rnd(N1 * 2, &s4, 0.3f), 1.0};
      struct smelt_lora Lk = {.name = "z", .path = "z", .format = "peft", .n = 1, .t = &tk};
      struct smelt_lora_set setk = {.merge = &Lk, .nmerge = 1};
      smelt_map_init(&setk.merged, qx);
      o.lora = &setk;
      smelt_ctx_set_options(qx, &o);
      int rc = smelt_pass_lora_merge(qx, g1);
      const char *e = smelt_error_msg(qx);
      CHECK(rc && e && strstr(e, "requantizing q4_k is not supported yet") && strstr(e, "'wq'"), "q4_k merge: %s", e ? e : "accepted");
      free((void *)tk.a);
      free((void *)tk.b);
    }
    free(wf);
    free((void *)t.a);
    free((void *)t.b);
    smelt_ctx_free(qx);
  }
  smelt_tensor_free(&zb);
  smelt_tensor_free(&z0);
  free_adapter(&ad[0]);
  free_adapter(&ad[1]);
  free(w1);
  free(w2);
  free(x);
  smelt_ctx_free(cx);
}

static void test_parse(void) {
  struct smelt_lora_opt o;
  char buf[256];
  CHECK(!smelt_lora_parse_opt("dir/a", 0, &o, buf, sizeof buf) && !strcmp(o.path, "dir/a") && o.scale == 1 && !o.name, "PATH");
  CHECK(!smelt_lora_parse_opt("dir/a:0.25", 0, &o, buf, sizeof buf) && !strcmp(o.path, "dir/a") && o.scale == 0.25, "PATH:SCALE");
  CHECK(!smelt_lora_parse_opt("c:/x:y", 0, &o, buf, sizeof buf) && !strcmp(o.path, "c:/x:y") && o.scale == 1, "a colon in the path");
  CHECK(!smelt_lora_parse_opt("chat=dir/a:2", 1, &o, buf, sizeof buf) && !strcmp(o.name, "chat") && !strcmp(o.path, "dir/a") && o.scale == 2, "NAME=PATH:SCALE");
  CHECK(smelt_lora_parse_opt("dir/a", 1, &o, buf, sizeof buf) != NULL, "--adapter without NAME=");
  CHECK(smelt_lora_parse_opt("a b=dir", 1, &o, buf, sizeof buf) != NULL, "a name with a space");
  CHECK(smelt_lora_parse_opt("x=", 1, &o, buf, sizeof buf) != NULL, "no path");
}

/* ---- malformed PEFT folders ---- */
static const char *dir;

static void st_write(const char *path, const char *header_json, size_t data_bytes, float fill) {
  size_t hl = strlen(header_json);
  unsigned char *b = calloc(1, 8 + hl + data_bytes + 1);
  uint64_t n = hl;
  memcpy(b, &n, 8);
  memcpy(b + 8, header_json, hl);
  for (size_t i = 0; i + 4 <= data_bytes; i += 4) memcpy(b + 8 + hl + i, &fill, 4);
  t_write_file(path, b, 8 + hl + data_bytes);
  free(b);
}

static void expect_error(const char *cfg, const char *header, size_t nbytes, float fill, const char *want) {
  char p[4200];
  t_rmtree(dir);
  t_mkdirs(dir);
  if (cfg) { snprintf(p, sizeof p, "%s/adapter_config.json", dir); t_write_file(p, cfg, strlen(cfg)); }
  if (header) { snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir); st_write(p, header, nbytes, fill); }
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_lora_opt o = {NULL, dir, 1};
  struct smelt_lora *L = smelt_lora_read(cx, &o, NULL);
  const char *e = smelt_error_msg(cx);
  CHECK(!L && e && strstr(e, want) && strstr(e, dir), "malformed adapter (%s): got %s", want, L ? "success" : e ? e : "no message");
  smelt_ctx_free(cx);
}

static void test_malformed(void) {
  dir = "lora-malformed";
  const char *ok = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4}";
  const char *pair = "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
                     "\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[32,56]}}";
  /* the well-formed one reads */
  {
    char p[4200];
    t_rmtree(dir);
    t_mkdirs(dir);
    snprintf(p, sizeof p, "%s/adapter_config.json", dir);
    t_write_file(p, ok, strlen(ok));
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", dir);
    st_write(p, pair, 56, 0.5f);
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_lora_opt o = {NULL, dir, 3};
    struct smelt_lora *L = smelt_lora_read(cx, &o, NULL);
    CHECK(L && L->n == 1 && L->t[0].r == 2 && L->t[0].in == 4 && L->t[0].out == 3 && fabs(L->t[0].scale - 3 * 4 / 2.0) < 1e-12 &&
              !strcmp(L->t[0].names[0], "w.weight"), "a well-formed adapter: %s", smelt_error_msg(cx) ? smelt_error_msg(cx) : "wrong contents");
    smelt_ctx_free(cx);
  }
  expect_error(NULL, NULL, 0, 0, "no adapter_config.json");
  expect_error("{\"r\":", pair, 56, 0, "invalid JSON");
  expect_error("{\"r\":0,\"lora_alpha\":4}", pair, 56, 0, "\"r\"");
  expect_error("{\"r\":2.5}", pair, 56, 0, "\"r\"");
  expect_error("{\"r\":2,\"lora_alpha\":\"x\"}", pair, 56, 0, "lora_alpha");
  expect_error("{\"r\":2,\"peft_type\":\"IA3\"}", pair, 56, 0, "IA3");
  expect_error("{\"r\":2,\"rank_pattern\":{\"w\":4}}", pair, 56, 0, "not supported yet");
  expect_error("{\"r\":2,\"use_dora\":true}", pair, 56, 0, "DoRA");
  expect_error(ok, NULL, 0, 0, "no adapter_model.safetensors");
  expect_error(ok, "{\"w.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0, "not a LoRA A/B weight");
  expect_error(ok, "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]}}", 32, 0, "has no");
  expect_error(ok, "{\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}", 24, 0, "has no lora_A");
  expect_error(ok, "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]},"
                   "\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[3,3],\"data_offsets\":[48,84]}}", 84, 0, "r = 2");
  expect_error(ok, "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
                   "\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[32,56]}}", 56, 0, "[r, in] and [out, r]");
  expect_error(ok, "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"F32\",\"shape\":[2,2,2],\"data_offsets\":[0,32]},"
                   "\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[32,56]}}", 56, 0, "matrices");
  expect_error(ok, "{\"base_model.model.w.lora_A.weight\":{\"dtype\":\"I32\",\"shape\":[2,4],\"data_offsets\":[0,32]},"
                   "\"base_model.model.w.lora_B.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[32,56]}}", 56, 0, "dtype");
  expect_error(ok, pair, 56, NAN, "NaN");
  expect_error(ok, "{\"x\":1}", 0, 0, "");           /* a broken safetensors header */
  t_rmtree(dir);
}

int main(void) {
  test_parse();
  test_interpreter();
  test_malformed();
  return t_done("unit_lora");
}
