/* tests/unit/gguf_tensors.c — GGUF tensors as IR constants (smelt_gguf_add_tensor):
 * ggml types map to smelt dtypes (F32, F16, BF16 and the eight block types), the
 * shape is ne reversed, the constant is a view of the mapping (same pointer, file and
 * offset recorded), and a type smelt cannot compute on is an error naming the tensor
 * and the type.  The GGUF file is written here. */
#include "../testutil.h"
#include "compiler/gguf.h"

static unsigned char buf[1 << 16];
static size_t len;
static void put(const void *p, size_t n) { memcpy(buf + len, p, n); len += n; }
static void u32(uint32_t v) { put(&v, 4); }
static void u64(uint64_t v) { put(&v, 8); }
static void str(const char *s) { u64(strlen(s)); put(s, strlen(s)); }

static const struct { const char *name; uint32_t type; int nd; uint64_t ne[4]; uint64_t bytes; smelt_dtype dt; } ts[] = {
    {"token_embd.weight", 12, 2, {512, 3}, 3 * 2 * 144, SMELT_DT_Q4_K},
    {"blk.0.attn_norm.weight", 0, 1, {512}, 512 * 4, SMELT_DT_F32},
    {"output.weight", 14, 2, {256, 2}, 2 * 210, SMELT_DT_Q6_K},
    {"x.f16", 1, 3, {4, 2, 3}, 24 * 2, SMELT_DT_F16},
    {"x.bf16", 30, 2, {8, 2}, 16 * 2, SMELT_DT_BF16},
    {"x.q8_0", 8, 2, {64, 2}, 4 * 34, SMELT_DT_Q8_0},
    {"x.q4_0", 2, 2, {32, 3}, 3 * 18, SMELT_DT_Q4_0},
    {"x.q4_1", 3, 1, {64}, 2 * 20, SMELT_DT_Q4_1},
    {"x.q5_0", 6, 1, {32}, 22, SMELT_DT_Q5_0},
    {"x.q5_1", 7, 1, {32}, 24, SMELT_DT_Q5_1},
    {"x.q5_k", 13, 2, {256, 1}, 176, SMELT_DT_Q5_K},
    {"bad.q2_k", 10, 2, {256, 1}, 84, SMELT_DT_COUNT},
    {"bad.i32", 26, 1, {4}, 16, SMELT_DT_COUNT},
};
#define NT (int)(sizeof ts / sizeof *ts)

int main(void) {
  const char *path = "gguf_tensors.gguf";
  put("GGUF", 4);
  u32(3);
  u64(NT);
  u64(0);
  uint64_t off = 0, offs[NT];
  for (int i = 0; i < NT; i++) {
    str(ts[i].name);
    u32((uint32_t)ts[i].nd);
    for (int k = 0; k < ts[i].nd; k++) u64(ts[i].ne[k]);
    u32(ts[i].type);
    u64(off);
    offs[i] = off;
    off += (ts[i].bytes + 31) / 32 * 32;
  }
  while (len % 32) buf[len++] = 0;
  uint64_t data_off = len;
  for (int i = 0; i < NT; i++) {
    len = data_off + offs[i];
    for (uint64_t b = 0; b < ts[i].bytes; b++) buf[len + b] = (unsigned char)(i * 31 + b * 7);
    len += (ts[i].bytes + 31) / 32 * 32;
  }
  CHECK(!t_write_file(path, buf, len), "cannot write %s", path);

  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_gguf *f = smelt_gguf_open(cx, path);
  CHECK(f != NULL, "open: %s", smelt_error_msg(cx));
  if (!f) { smelt_ctx_free(cx); return t_done("gguf_tensors"); }
  smelt_graph *g = smelt_graph_new(cx, "g");
  for (int i = 0; i < NT; i++) {
    const struct smelt_gguf_tensor *t = smelt_gguf_tensor(f, ts[i].name);
    CHECK(t != NULL, "%s: not found", ts[i].name);
    if (!t) continue;
    smelt_clear_error(cx);
    int v = smelt_gguf_add_tensor(g, f, t);
    if (ts[i].dt == SMELT_DT_COUNT) {
      const char *m = smelt_error_msg(cx);
      CHECK(v == SMELT_ERR && m && strstr(m, ts[i].name) && strstr(m, ts[i].type == 10 ? "Q2_K" : "I32"),
            "%s: should be an error naming the tensor and its type, got %d: %s", ts[i].name, v, m ? m : "(none)");
      continue;
    }
    CHECK(v >= 0, "%s: %s", ts[i].name, smelt_error_msg(cx));
    if (v < 0) continue;
    const smelt_value *val = &g->values[v];
    CHECK(val->kind == SMELT_V_CONST && val->dt == ts[i].dt, "%s: dtype %s", ts[i].name, smelt_dtype_name(val->dt));
    CHECK(!strcmp(val->name, ts[i].name), "%s: named %s", ts[i].name, val->name);
    CHECK(val->shape.rank == ts[i].nd, "%s: rank %d", ts[i].name, val->shape.rank);
    for (int k = 0; k < ts[i].nd && k < val->shape.rank; k++)
      CHECK(smelt_dim_is(val->shape.d[k], (int64_t)ts[i].ne[ts[i].nd - 1 - k]), "%s: dim %d is %lld", ts[i].name, k, (long long)val->shape.d[k].n);
    CHECK(val->c.data == t->data && val->c.data == f->map + data_off + offs[i], "%s: not a view of the mapping", ts[i].name);
    CHECK(val->c.nbytes == ts[i].bytes && !memcmp(val->c.data, buf + data_off + offs[i], ts[i].bytes), "%s: bytes", ts[i].name);
    CHECK(val->c.file && !strcmp(val->c.file, path) && val->c.offset == data_off + offs[i], "%s: file/offset", ts[i].name);
  }
  /* the quantized table and the norm weight feed ops directly */
  int emb = smelt_map_get(&f->t_index, "token_embd.weight") >= 0 ? smelt_gguf_add_tensor(g, f, smelt_gguf_tensor(f, "token_embd.weight")) : -1;
  smelt_shape si = {1, {smelt_dim_c(2)}};
  int ix = smelt_graph_add_input(g, "ids", SMELT_DT_I32, &si);
  int y = emb >= 0 ? smelt_graph_add_node(g, SMELT_OP_GATHER, "embed", (int[]){emb, ix}, 2, NULL, 0, 1, NULL) : -1;
  CHECK(y >= 0 && g->values[y].dt == SMELT_DT_F32 && g->values[y].shape.rank == 2 && smelt_dim_is(g->values[y].shape.d[1], 512),
        "Gather of token_embd: %s", smelt_error_msg(cx) ? smelt_error_msg(cx) : "wrong type");
  smelt_ctx_free(cx);
  remove(path);
  return t_done("gguf_tensors");
}
