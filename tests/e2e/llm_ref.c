/* tests/e2e/llm_ref.c — a language model run by the reference interpreter: the
 * decode graph of a checkpoint (GGUF or Hugging Face folder), fed one token at a
 * time with the KV cache as interpreter state, greedy.  It is the oracle the compiled
 * generator is compared with.
 *
 *   llm_ref MODEL --prompt-ids "1 2 3" [-n N] [--ctx C] [--kv f16] [--logits FILE.npy] [--quant S] [--act-q8]
 *
 * Prints the generated ids on one line; --logits writes the logits after every prompt
 * token and every generated one, [prompt + n - 1, vocab]. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/arch/arch.h"
#include "compiler/driver.h"
#include "passes/passes.h"
#include "runtime/smelt_npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *model = NULL, *ids_s = NULL, *logits_path = NULL;
  int n_new = 16;
  int64_t ctx_len = 0;
  int kv16 = 0;
  const char *quant = NULL; /* --quant: the decode graph through the quantize pass */
  int act_q8 = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--prompt-ids") && i + 1 < argc) ids_s = argv[++i];
    else if (!strcmp(argv[i], "-n") && i + 1 < argc) n_new = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ctx") && i + 1 < argc) ctx_len = atoll(argv[++i]);
    else if (!strcmp(argv[i], "--logits") && i + 1 < argc) logits_path = argv[++i];
    else if (!strcmp(argv[i], "--kv") && i + 1 < argc) kv16 = !strcmp(argv[++i], "f16");
    else if (!strcmp(argv[i], "--quant") && i + 1 < argc) quant = argv[++i];
    else if (!strcmp(argv[i], "--act-q8")) act_q8 = 1; /* round activations as the native block kernels */
    else if (!model) model = argv[i];
    else { fprintf(stderr, "usage: llm_ref MODEL --prompt-ids \"1 2\" [-n N] [--ctx C] [--logits F.npy]\n"); return 2; }
  }
  if (!model || !ids_s) { fprintf(stderr, "usage: llm_ref MODEL --prompt-ids \"1 2\" [-n N] [--ctx C] [--logits F.npy]\n"); return 2; }
  FILE *probe = fopen(model, "rb");
  if (!probe) { printf("SKIPPED: %s is missing\n", model); return 77; }
  fclose(probe);
  smelt_ctx *cx = smelt_ctx_new();
  struct smelt_ckpt *ck = smelt_ckpt_open(cx, model);
  if (!ck) { fprintf(stderr, "llm_ref: %s\n", smelt_error_msg(cx)); return 1; }
  struct smelt_llm_opts lo = smelt_llm_default_opts(ck);
  if (ctx_len > 0) lo.ctx = lo.max_tokens = ctx_len;
  if (kv16) lo.kv_dtype = SMELT_DT_F16;
  smelt_graph *g = smelt_arch_build(cx, ck, &lo, 1);
  if (!g) { fprintf(stderr, "llm_ref: %s\n", smelt_error_msg(cx)); return 1; }
  if (act_q8) g->eval_flags |= SMELT_EVAL_ACT_Q8;
  struct smelt_build_opts bo = {.quant = quant};
  smelt_ctx_set_options(cx, &bo);
  if (quant && smelt_pass_quantize(cx, g)) { fprintf(stderr, "llm_ref: %s\n", smelt_error_msg(cx)); return 1; }
  int32_t prompt[4096];
  int np = 0;
  for (char *p = (char *)ids_s, *e; *p && np < 4096; p = e) {
    long v = strtol(p, &e, 10);
    if (e == p) { e = p + 1; continue; }
    prompt[np++] = (int32_t)v;
  }
  smelt_tensor *st = calloc((size_t)g->nstates, sizeof *st);
  for (int i = 0; i < g->nstates; i++) {
    const smelt_value *v = &g->values[g->states[i]];
    st[i].dt = v->dt;
    st[i].rank = v->shape.rank;
    smelt_shape_resolve(&v->shape, NULL, st[i].dims);
    st[i].data = calloc(1, (size_t)smelt_dtype_nbytes(v->dt, smelt_tensor_elems(&st[i])));
  }
  int64_t vocab = ck->n_vocab, steps = np + n_new - 1;
  float *all = logits_path ? calloc((size_t)(steps > 0 ? steps : 1), sizeof(float) * (size_t)vocab) : NULL;
  int32_t tok = prompt[0];
  int rc = 0;
  for (int t = 0; t < np + n_new - 1; t++) {
    int32_t pos = t;
    smelt_tensor in[2] = {{.dt = SMELT_DT_I32, .rank = 1, .dims = {1}, .data = &tok}, {.dt = SMELT_DT_I32, .rank = 1, .dims = {1}, .data = &pos}};
    smelt_tensor out;
    if (smelt_eval_state(g, in, &out, st)) { fprintf(stderr, "llm_ref: %s\n", smelt_error_msg(cx)); rc = 1; break; }
    const float *l = out.data;
    if (all) memcpy(all + (size_t)t * (size_t)vocab, l, sizeof(float) * (size_t)vocab);
    if (t + 1 < np) tok = prompt[t + 1];
    else {
      int32_t best = 0;
      for (int64_t i = 1; i < vocab; i++)
        if (l[i] > l[best]) best = (int32_t)i;
      tok = best;
      printf("%s%d", t + 1 == np ? "" : " ", tok);
    }
    smelt_tensor_free(&out);
  }
  printf("\n");
  if (all && !rc) {
    int64_t dims[2] = {steps, vocab};
    if (smelt_npy_write(logits_path, "<f4", 2, dims, all, sizeof(float) * (size_t)(steps * vocab))) rc = 1;
  }
  for (int i = 0; i < g->nstates; i++) free(st[i].data);
  free(st);
  free(all);
  smelt_ctx_free(cx);
  return rc;
}
