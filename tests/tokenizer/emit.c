/* tests/tokenizer/emit.c — the tables smelt_tokenizer_emit_c writes, compiled the way a
 * generated model compiles them: for four real vocabularies, the C is written twice
 * (byte-identical), compiled with -std=c99 -pedantic -Werror into a small driver that
 * tokenizes llama.cpp's golden inputs with runtime/smelt_tok.h alone (the ids must match
 * the .out file), and compiled -ffreestanding with SMELT_FREESTANDING, which must leave
 * no undefined symbol (no libc).  SKIPPED without ../shared/models or a C compiler.
 *
 *   tok_emit TOKENIZERS_DIR SOURCE_DIR WORK_DIR */
#include "../testutil.h"

#include "compiler/tokenizer.h"

static const char *NAMES[] = {"llama-spm", "gpt-2", "falcon", "bert-bge", NULL};

static const char *DRIVER =
    "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
    "int main(int argc, char **argv) {\n  if (argc < 2) return 2;\n"
    "  FILE *f = fopen(argv[1], \"rb\"); static char buf[1 << 16]; size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[n] = 0;\n"
    "  const char *sep = \"\\n__ggml_vocab_test__\\n\"; char *p = buf;\n"
    "  while (p < buf + n) {\n"
    "    char *q = strstr(p, sep); size_t l = q ? (size_t)(q - p) : strlen(p); int32_t ids[4096];\n"
    "    int k = smelt_tok_encode(&m_tok, p, (int)l, SMELT_TOK_NO_SPECIAL, ids, 4096);\n"
    "    if (k < 0) return 1;\n"
    "    for (int i = 0; i < k; i++) printf(\" %d\", ids[i]);\n"
    "    printf(\"\\n\"); if (!q) break; p = q + strlen(sep);\n"
    "  }\n  return 0;\n}\n";

static const char *FREESTANDING =
    "int enc(const char *s, int n, int32_t *ids, int m) { return smelt_tok_encode(&m_tok, s, n, SMELT_TOK_BOS, ids, m); }\n"
    "int dec(struct smelt_tok_stream *st, int32_t id, char *o, int m) { return smelt_tok_decode(&m_tok, st, id, o, m); }\n";

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: tok_emit TOKENIZERS_DIR SOURCE_DIR WORK_DIR\n"); return 2; }
  const char *dir = argv[1], *src = argv[2], *work = argv[3];
  if (!t_exists(dir)) SKIP("%s is absent (the shared models folder)", dir);
  const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
  t_mkdirs(work);
  char inc[4096];
  snprintf(inc, sizeof inc, "-I%s/runtime", src);
  for (int k = 0; NAMES[k]; k++) {
    char path[4096], c1[4096], exe[4096], obj[4096], fs[4096];
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, NAMES[k]);
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_gguf *g = smelt_gguf_open(cx, path);
    struct smelt_tokenizer *tk = g ? smelt_tokenizer_from_gguf(cx, g) : NULL;
    char *a = tk ? smelt_tokenizer_emit_c(cx, tk, "m") : NULL, *b = tk ? smelt_tokenizer_emit_c(cx, tk, "m") : NULL;
    CHECK(a && b, "%s: %s", NAMES[k], smelt_error_msg(cx) ? smelt_error_msg(cx) : "?");
    if (!a || !b) { smelt_ctx_free(cx); continue; }
    CHECK(!strcmp(a, b), "%s: two emissions differ", NAMES[k]);
    size_t al = strlen(a);
    char *text = malloc(al + 4096);
    int n = sprintf(text, "#include <stdint.h>\n#include \"smelt_tok.h\"\n");
    memcpy(text + n, a, al);
    n += (int)al;
    snprintf(c1, sizeof c1, "%s/%s_drv.c", work, NAMES[k]);
    snprintf(fs, sizeof fs, "%s/%s_fs.c", work, NAMES[k]);
    text[n] = 0;
    FILE *f = fopen(c1, "wb");
    fputs(text, f); fputs(DRIVER, f); fclose(f);
    f = fopen(fs, "wb");
    fputs(text, f); fputs(FREESTANDING, f); fclose(f);
    free(text);
    snprintf(exe, sizeof exe, "%s/%s_drv", work, NAMES[k]);
    snprintf(obj, sizeof obj, "%s/%s_fs.o", work, NAMES[k]);
    struct t_run r;
    const char *cmd1[] = {cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O1", inc, c1, "-o", exe, NULL};
    if (t_run(cmd1, work, 300, &r)) SKIP("cannot run the C compiler %s", cc);
    CHECK(r.exited && r.code == 0, "%s: the driver does not compile:\n%s", NAMES[k], r.err);
    int built = r.exited && r.code == 0;
    t_run_free(&r);
    const char *cmd2[] = {cc, "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-O2", "-ffreestanding", "-DSMELT_FREESTANDING", inc, "-c", fs, "-o", obj, NULL};
    t_run(cmd2, work, 300, &r);
    CHECK(r.exited && r.code == 0, "%s: the tables do not compile freestanding:\n%s", NAMES[k], r.err);
    t_run_free(&r);
    const char *cmd3[] = {"nm", "-u", obj, NULL};
    if (!t_run(cmd3, work, 60, &r) && r.exited && r.code == 0) CHECK(!r.out[0], "%s: freestanding object needs symbols:\n%s", NAMES[k], r.out);
    t_run_free(&r);
    if (built) {
      char inp[4096], out[4096];
      snprintf(inp, sizeof inp, "%s.inp", path);
      snprintf(out, sizeof out, "%s.out", path);
      const char *cmd4[] = {exe, inp, NULL};
      t_run(cmd4, work, 60, &r);
      size_t el;
      char *exp = t_read_file(out, &el);
      CHECK(r.exited && r.code == 0 && exp && !strcmp(r.out, exp), "%s: the compiled tables tokenize differently from the .out file", NAMES[k]);
      if (r.exited && r.code == 0 && exp && !strcmp(r.out, exp)) printf("%s: compiled tables (%zu bytes of C) match the golden ids\n", NAMES[k], al);
      free(exp);
      t_run_free(&r);
    }
    smelt_ctx_free(cx);
  }
  return t_done("tokenizer_emit");
}
