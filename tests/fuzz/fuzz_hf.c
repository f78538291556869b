/* tests/fuzz/fuzz_hf.c — libFuzzer harness for the Hugging Face reader
 * (compiler/read_hf.c): the input is config.json of a folder that otherwise holds the
 * llama fixture of tests/e2e/llm (its safetensors, generation and tokenizer configs).
 * An accepted checkpoint must have consistent hyperparameters and serve its weights
 * with the shapes they imply; a rejected one gets one diagnostic naming the folder. */
#include "fuzz.h"
#include "compiler/ckpt.h"

#include <sys/stat.h>

static char dir[256];

static void cleanup(void) {
  static const char *files[] = {"model.safetensors", "generation_config.json", "tokenizer_config.json", "config.json"};
  char p[512];
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    snprintf(p, sizeof p, "%s/%s", dir, files[i]);
    unlink(p);
  }
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/smelt-fuzz-hf-%ld", (long)getpid());
  mkdir(dir, 0777);
  static const char *files[] = {"model.safetensors", "generation_config.json", "tokenizer_config.json"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char src[4096], dst[512];
    snprintf(src, sizeof src, "%s/tests/e2e/llm/llama/%s", SMELT_SOURCE_DIR, files[i]);
    snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
    unlink(dst);
    if (symlink(src, dst)) { perror(dst); abort(); }
  }
  atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!*dir) setup();
  char cfg[512];
  snprintf(cfg, sizeof cfg, "%s/config.json", dir);
  FILE *f = fopen(cfg, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) { perror(cfg); abort(); }
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_ckpt *c = smelt_ckpt_from_hf(cx, dir);
  if (c) {
    FUZZ_CHECK(c->n_vocab > 0 && c->n_embd > 0 && c->n_layer > 0 && c->n_head > 0 && c->n_head_kv > 0 && c->n_head % c->n_head_kv == 0 &&
                   c->head_dim > 0 && c->n_ff > 0 && c->norm_eps > 0 && (!c->rope_theta || (c->rope_dim >= 2 && c->rope_dim <= c->head_dim)),
               "hyperparameters");
    smelt_graph *g = smelt_graph_new(cx, "fuzz");
    int v = c->weight(c, g, "blk.0.attn_q.weight", 1);
    FUZZ_CHECK(v >= 0 && g->values[v].shape.d[0].n == c->n_head * c->head_dim && g->values[v].shape.d[1].n == c->n_embd, "attn_q shape");
  } else {
    const char *m = smelt_error_msg(cx);
    FUZZ_CHECK(m && !strncmp(m, dir, strlen(dir)), "rejected without a diagnostic naming the folder: %s", m ? m : "(none)");
  }
  smelt_ctx_free(cx);
  return 0;
}
