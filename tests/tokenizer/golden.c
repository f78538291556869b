/* tests/tokenizer/golden.c — llama.cpp's tokenizer test cases (../shared/models/tokenizers:
 * ggml-vocab-NAME.gguf with NAME.gguf.inp / .out) through smelt's tokenizers.
 *
 *   tok_golden DIR                 the GGUF vocabularies
 *   tok_golden DIR --json FIXDIR   the same cases through FIXDIR/NAME/tokenizer.json
 *                                  (tools/gguf_to_tokenizer_json.py)
 *   tok_golden DIR --roundtrip     decode(encode(text)) == text, one id at a time, with
 *                                  valid UTF-8 after every id (lossless tokenizers)
 *
 * The .inp holds the inputs separated by lines "__ggml_vocab_test__" (the separator is
 * "\n__ggml_vocab_test__\n"); the .out one line of ids per input.  As in llama.cpp's
 * test-tokenizer-0, no BOS/EOS is added and control-token text is not parsed.  Prints
 * NAME: passed/total per tokenizer; SKIPPED (77) when DIR is absent. */
#include "../testutil.h"

#include "compiler/tokenizer.h"
#include "runtime/smelt_tok.h"

static const char *NAMES[] = {"llama-spm", "phi-3", "gpt-2", "starcoder", "falcon", "bert-bge", NULL};
static const int LOSSLESS[] = {1, 1, 1, 1, 1, 0};

struct tcase { const char *text; size_t len; int32_t ids[1024]; int n; };

/* splits the .inp and .out files into cases: their count, or -1 */
static int read_cases(const char *inp, const char *out, struct tcase *c, int max, char **keep) {
  size_t li = 0, lo = 0;
  char *si = t_read_file(inp, &li), *so = t_read_file(out, &lo);
  if (!si || !so) { free(si); free(so); return -1; }
  static const char sep[] = "\n__ggml_vocab_test__\n";
  int n = 0;
  size_t pos = 0;
  while (pos < li && n < max) {
    char *next = strstr(si + pos, sep);
    size_t end = next ? (size_t)(next - si) : li;
    c[n].text = si + pos;
    c[n].len = end - pos;
    n++;
    if (!next) break;
    pos = end + strlen(sep);
  }
  int k = 0;
  char *line = so;
  for (; k < n && line && *line; k++) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    c[k].n = 0;
    for (char *p = line; *p;) {
      char *e;
      long v = strtol(p, &e, 10);
      if (e == p) break;
      if (c[k].n < 1024) c[k].ids[c[k].n++] = (int32_t)v;
      p = e;
    }
    line = nl ? nl + 1 : NULL;
  }
  free(so);
  if (k != n) { fprintf(stderr, "%s: %d inputs, %d outputs\n", inp, n, k); free(si); return -1; }
  *keep = si; /* the cases point into it */
  return n;
}

static int valid_utf8(const char *s, int n) {
  for (int i = 0; i < n;) {
    uint32_t cp;
    int l = smelt_utf8((const uint8_t *)s + i, n - i, &cp);
    if (cp == 0xFFFFFFFFu) return 0;
    i += l;
  }
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: tok_golden DIR [--json FIXDIR | --roundtrip]\n"); return 2; }
  const char *dir = argv[1], *json = NULL;
  int roundtrip = 0;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!strcmp(argv[i], "--roundtrip")) roundtrip = 1;
  }
  if (!t_exists(dir)) SKIP("%s is absent (the shared models folder)", dir);
  static struct tcase cases[256];
  int total_pass = 0, total = 0;
  for (int k = 0; NAMES[k]; k++) {
    char path[4096], inp[4096], out[4096];
    snprintf(path, sizeof path, "%s/ggml-vocab-%s.gguf", dir, NAMES[k]);
    snprintf(inp, sizeof inp, "%s.inp", path);
    snprintf(out, sizeof out, "%s.out", path);
    char *keep = NULL;
    int n = read_cases(inp, out, cases, 256, &keep);
    CHECK(n > 0, "%s: cannot read the cases", NAMES[k]);
    if (n <= 0) continue;
    smelt_ctx *cx = smelt_ctx_new();
    struct smelt_tokenizer *tk = NULL;
    if (json) {
      char tj[4096], tc[4096];
      snprintf(tj, sizeof tj, "%s/%s/tokenizer.json", json, NAMES[k]);
      snprintf(tc, sizeof tc, "%s/%s/tokenizer_config.json", json, NAMES[k]);
      tk = smelt_tokenizer_from_json(cx, tj, tc);
    } else {
      struct smelt_gguf *g = smelt_gguf_open(cx, path);
      if (g) tk = smelt_tokenizer_from_gguf(cx, g);
    }
    CHECK(tk != NULL, "%s: %s", NAMES[k], smelt_error_msg(cx) ? smelt_error_msg(cx) : "?");
    if (!tk) { smelt_ctx_free(cx); free(keep); continue; }
    const struct smelt_tok *rt = smelt_tokenizer_tables(tk);
    int pass = 0, tried = 0;
    for (int i = 0; i < n; i++) {
      int32_t ids[4096];
      int m = smelt_tok_encode(rt, cases[i].text, (int)cases[i].len, SMELT_TOK_NO_SPECIAL, ids, 4096);
      if (!roundtrip) {
        int ok = m == cases[i].n;
        for (int j = 0; ok && j < m; j++) ok = ids[j] == cases[i].ids[j];
        tried++;
        pass += ok;
        CHECK(ok, "%s: case %d '%.*s': got %d ids (%d %d %d ...), expected %d (%d %d %d ...)", NAMES[k], i, (int)(cases[i].len > 40 ? 40 : cases[i].len),
              cases[i].text, m, m > 0 ? ids[0] : -1, m > 1 ? ids[1] : -1, m > 2 ? ids[2] : -1, cases[i].n, cases[i].ids[0], cases[i].n > 1 ? cases[i].ids[1] : -1,
              cases[i].n > 2 ? cases[i].ids[2] : -1);
        continue;
      }
      if (!LOSSLESS[k]) continue;
      tried++;
      char text[16384];
      int tl = 0, ok = m >= 0;
      struct smelt_tok_stream st;
      smelt_tok_stream_init(&st, 1);
      for (int j = 0; ok && j < m; j++) {
        int r = smelt_tok_decode(rt, &st, ids[j], text + tl, (int)sizeof text - tl);
        ok = r >= 0 && valid_utf8(text + tl, r);
        CHECK(ok, "%s: case %d: id %d (#%d) decodes to invalid UTF-8 or fails (%d)", NAMES[k], i, ids[j], j, r);
        if (r > 0) tl += r;
      }
      if (ok) tl += smelt_tok_decode_flush(&st, text + tl, (int)sizeof text - tl);
      ok = ok && tl == (int)cases[i].len && !memcmp(text, cases[i].text, (size_t)tl);
      CHECK(ok, "%s: case %d: decode(encode('%.*s')) = '%.*s'", NAMES[k], i, (int)(cases[i].len > 40 ? 40 : cases[i].len), cases[i].text, tl > 40 ? 40 : tl, text);
      pass += ok;
    }
    if (roundtrip) { /* limits: a long text, full buffers, bad ids */
      static char big[200000];
      size_t bl = 0;
      for (int r = 0; bl + 5000 < sizeof big; r++)
        for (int i = 0; i < n && bl + cases[i].len + 1 < sizeof big; i++) {
          memcpy(big + bl, cases[i].text, cases[i].len);
          bl += cases[i].len;
          big[bl++] = r % 3 ? ' ' : '\n';
        }
      static int32_t many[400000];
      int m = smelt_tok_encode(rt, big, (int)bl, SMELT_TOK_BOS, many, 400000);
      CHECK(m > 1000, "%s: a %zu-byte text gives %d", NAMES[k], bl, m);
      CHECK(smelt_tok_encode(rt, big, (int)bl, 0, many, 10) == SMELT_E_NOSPACE, "%s: 10 ids are too few for a long text", NAMES[k]);
      CHECK(smelt_tok_encode(rt, NULL, 5, 0, many, 10) == SMELT_E_NULL && smelt_tok_encode(rt, big, -1, 0, many, 10) == SMELT_E_ARG, "%s: bad arguments", NAMES[k]);
      struct smelt_tok_stream st;
      smelt_tok_stream_init(&st, 0);
      char o[8];
      CHECK(smelt_tok_decode(rt, &st, -1, o, 8) == SMELT_E_INDEX && smelt_tok_decode(rt, &st, rt->n_vocab, o, 8) == SMELT_E_INDEX, "%s: bad ids", NAMES[k]);
      int32_t id = smelt_tok_find(rt, (const uint8_t *)"ab", 2) >= 0 ? smelt_tok_find(rt, (const uint8_t *)"ab", 2) : rt->byte_tok['a'];
      if (id >= 0) CHECK(smelt_tok_decode(rt, &st, id, o, 0) == SMELT_E_NOSPACE && smelt_tok_decode(rt, &st, id, o, 8) > 0, "%s: a full text buffer", NAMES[k]);
      /* every token decodes, one at a time, to valid UTF-8 */
      smelt_tok_stream_init(&st, 1);
      int bad = 0;
      for (int32_t v = 0; v < rt->n_vocab; v++) {
        char piece[70000];
        int r = smelt_tok_decode(rt, &st, v, piece, (int)sizeof piece);
        bad += r < 0 || !valid_utf8(piece, r);
      }
      CHECK(bad == 0, "%s: %d tokens decode badly", NAMES[k], bad);
    }
    if (tried) printf("%s%s: %d/%d %s\n", NAMES[k], json ? " (tokenizer.json)" : "", pass, tried, roundtrip ? "round trips" : "golden cases");
    total += tried;
    total_pass += pass;
    smelt_ctx_free(cx);
    free(keep);
  }
  printf("%d passed, %d failed\n", total_pass, total - total_pass);
  return t_done(roundtrip ? "tokenizer_roundtrip" : json ? "tokenizer_golden_json" : "tokenizer_golden_gguf");
}
