/* compiler/tokenizer.c — builds the runtime tokenizer tables (runtime/smelt_tok.h) from a
 * GGUF file's tokenizer.ggml.* metadata or a Hugging Face tokenizer.json (+ its
 * tokenizer_config.json), encodes with the runtime code itself, and writes the tables as C.
 *
 * Both sources are hostile: counts and lengths are bounded (SMELT_TOK_MAX_*), every id is
 * checked against the vocabulary, and anything this runtime cannot reproduce exactly
 * (a model type, normalizer, pre-tokenizer or decoder it does not know) is an error
 * naming it.  The builder (struct tb) is filled by either reader and finished by one
 * function, so both paths give the same tables for the same tokenizer. */
#define _POSIX_C_SOURCE 200809L
#include "compiler/tokenizer.h"

#include "runtime/smelt_tok.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOK_MAX_VOCAB (1 << 22)        /* tokens */
#define TOK_MAX_LEN 65535              /* bytes of one token */
#define TOK_MAX_BYTES (1u << 30)       /* all token bytes */
#define TOK_MAX_MERGES (1 << 24)       /* ranks stay exact as floats */
#define TOK_MAX_JSON ((size_t)1 << 30) /* tokenizer.json size */

struct smelt_tokenizer {
  smelt_ctx *cx;
  struct smelt_tok rt;
  int64_t eog[8];
  int neog;
};

/* ---- the builder ------------------------------------------------------------------------ */

struct tb {
  smelt_ctx *cx;
  const char *src;
  int64_t n;
  const uint8_t **tok; /* token texts as the source spells them */
  uint32_t *len;
  uint8_t *attr;
  float *score;        /* SPM only */
  int kind, pre, flags;
  int32_t bos, eos, unk, sep, pad;
  int32_t max_word_chars;
  int64_t nmerge;
  const uint8_t **ml, **mr; /* merge parts as the source spells them */
  uint32_t *mll, *mrl;
};

static int tb_err(struct tb *b, const char *fmt, const char *a) {
  return smelt_errorf(b->cx, fmt, b->src, a);
}

/* GPT-2's bytes_to_unicode: byte -> code point, and back (-1 when not a byte char) */
static uint32_t byte_cp(int b) {
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
  int n = 0;
  for (int c = 0; c < b; c++)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
  return (uint32_t)(256 + n);
}

static int cp_byte(uint32_t cp) {
  static int inv[324], init;
  if (!init) {
    for (int i = 0; i < 324; i++) inv[i] = -1;
    for (int b = 0; b < 256; b++) inv[byte_cp(b)] = b;
    init = 1;
  }
  return cp < 324 ? inv[cp] : -1;
}

/* byte-level text -> raw bytes in out (len bytes at most): the count, or -1 when some
 * char is not a byte char */
static int64_t unbyte(const uint8_t *s, uint32_t n, uint8_t *out) {
  int64_t m = 0;
  for (uint32_t p = 0; p < n;) {
    uint32_t cp;
    p += (uint32_t)smelt_utf8(s + p, (int)(n - p), &cp);
    int b = cp_byte(cp);
    if (b < 0) return -1;
    out[m++] = (uint8_t)b;
  }
  return m;
}

static const uint8_t *T_text;
static const uint32_t *T_off;
static const uint8_t *T_attr;
static int is_special_kind(int k) { return k == SMELT_TA_CONTROL || k == SMELT_TA_USER || k == SMELT_TA_UNKNOWN; }

static int cmp_text(int32_t a, int32_t b) {
  return smelt_tok_cmp(T_text + T_off[a], (int)(T_off[a + 1] - T_off[a]), T_text + T_off[b], (int)(T_off[b + 1] - T_off[b]));
}

/* by text, then plain tokens before special ones, then id */
static int cmp_sorted(const void *x, const void *y) {
  int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
  int c = cmp_text(a, b);
  if (c) return c;
  int sa = is_special_kind(T_attr[a] & SMELT_TA_KIND), sb = is_special_kind(T_attr[b] & SMELT_TA_KIND);
  if (sa != sb) return sa - sb;
  return (a > b) - (a < b);
}

static int cmp_merge(const void *x, const void *y) {
  const int32_t *a = x, *b = y;
  if (a[0] != b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] != b[1]) return a[1] < b[1] ? -1 : 1;
  return (a[2] > b[2]) - (a[2] < b[2]);
}

static int cmp_u16_desc(const void *x, const void *y) {
  uint16_t a = *(const uint16_t *)x, b = *(const uint16_t *)y;
  return (a < b) - (a > b);
}

static const char *EOG_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<|eom_id|>", "<EOT>", NULL};

/* Finishes the tables: raw bytes for byte-level tokens, the sorted index, specials,
 * byte tokens, merges by id. */
static struct smelt_tokenizer *tb_finish(struct tb *b) {
  smelt_ctx *cx = b->cx;
  int64_t n = b->n;
  if (n <= 0) { smelt_errorf(cx, "%s: the tokenizer has an empty vocabulary", b->src); return NULL; }
  struct smelt_tokenizer *tk = smelt_alloc(cx, sizeof *tk);
  uint32_t *off = smelt_alloc(cx, sizeof *off * (size_t)(n + 1));
  uint64_t total = 0;
  for (int64_t i = 0; i < n; i++) total += b->len[i];
  if (total > TOK_MAX_BYTES) { smelt_errorf(cx, "%s: the vocabulary holds %llu bytes (at most %u)", b->src, (unsigned long long)total, TOK_MAX_BYTES); return NULL; }
  uint8_t *text = smelt_alloc(cx, total + 1);
  if (!tk || !off || !text) return NULL;
  int byte_level = (b->flags & SMELT_TOKF_BYTE_LEVEL) != 0;
  uint64_t at = 0;
  int32_t maxlen = 1;
  for (int64_t i = 0; i < n; i++) {
    off[i] = (uint32_t)at;
    int k = b->attr[i] & SMELT_TA_KIND;
    int64_t m = -1;
    if (byte_level && !is_special_kind(k)) m = unbyte(b->tok[i], b->len[i], text + at);
    if (m < 0) { memcpy(text + at, b->tok[i], b->len[i]); m = b->len[i]; }
    at += (uint64_t)m;
    if (m > maxlen) maxlen = (int32_t)m;
  }
  off[n] = (uint32_t)at;
  struct smelt_tok *t = &tk->rt;
  tk->cx = cx;
  t->n_vocab = (int32_t)n;
  t->kind = (uint8_t)b->kind;
  t->pre = (uint8_t)b->pre;
  t->off = off;
  t->text = text;
  t->attr = b->attr;
  t->score = b->kind == SMELT_TOK_SPM ? b->score : NULL;
  t->max_token_len = maxlen;
  t->max_word_chars = b->max_word_chars;
  t->bos = b->bos; t->eos = b->eos; t->unk = b->unk; t->sep = b->sep; t->pad = b->pad;
  /* the sorted index, one id per text */
  int32_t *sorted = smelt_alloc(cx, sizeof *sorted * (size_t)n);
  if (!sorted) return NULL;
  int32_t ns = 0;
  for (int64_t i = 0; i < n; i++)
    if (off[i + 1] > off[i]) sorted[ns++] = (int32_t)i;
  T_text = text; T_off = off; T_attr = b->attr;
  qsort(sorted, (size_t)ns, sizeof *sorted, cmp_sorted);
  int32_t nu = 0;
  for (int32_t i = 0; i < ns; i++)
    if (!nu || cmp_text(sorted[nu - 1], sorted[i])) sorted[nu++] = sorted[i];
  t->sorted = sorted;
  t->n_sorted = nu;
  /* specials: matched in text, longest first */
  int32_t *spec = smelt_alloc(cx, sizeof *spec * (size_t)n);
  uint16_t *lens = smelt_alloc(cx, sizeof *lens * (size_t)n);
  if (!spec || !lens) return NULL;
  int32_t nsp = 0, nl = 0;
  for (int64_t i = 0; i < n; i++)
    if (is_special_kind(b->attr[i] & SMELT_TA_KIND) && off[i + 1] > off[i]) spec[nsp++] = (int32_t)i;
  T_attr = b->attr;
  qsort(spec, (size_t)nsp, sizeof *spec, cmp_sorted);
  int32_t su = 0;
  for (int32_t i = 0; i < nsp; i++)
    if (!su || cmp_text(spec[su - 1], spec[i])) spec[su++] = spec[i];
  for (int32_t i = 0; i < su; i++) lens[nl++] = (uint16_t)(off[spec[i] + 1] - off[spec[i]]);
  qsort(lens, (size_t)nl, sizeof *lens, cmp_u16_desc);
  int32_t lu = 0;
  for (int32_t i = 0; i < nl; i++)
    if (!lu || lens[lu - 1] != lens[i]) lens[lu++] = lens[i];
  t->special = su ? spec : NULL;
  t->n_special = su;
  t->special_len = lu ? lens : NULL;
  t->n_special_len = lu;
  /* byte tokens */
  int32_t *bt = smelt_alloc(cx, sizeof *bt * 256);
  if (!bt) return NULL;
  for (int c = 0; c < 256; c++) {
    uint8_t one = (uint8_t)c;
    char hex[8];
    bt[c] = -1;
    if (b->kind == SMELT_TOK_WPM) continue;
    if (!byte_level) {
      snprintf(hex, sizeof hex, "<0x%02X>", c);
      bt[c] = smelt_tok_find(t, (const uint8_t *)hex, 6);
    }
    if (bt[c] < 0) bt[c] = smelt_tok_find(t, &one, 1);
  }
  t->byte_tok = bt;
  /* merges by id, ordered by (left, right); the lowest rank of a repeated pair wins */
  if (b->nmerge) {
    int32_t *mg = smelt_alloc(cx, sizeof *mg * 4 * (size_t)b->nmerge);
    uint8_t *tmp = malloc(2 * (size_t)TOK_MAX_LEN + 2);
    if (!mg || !tmp) { free(tmp); smelt_errorf(cx, "%s: out of memory", b->src); return NULL; }
    int64_t nm = 0, dropped = 0;
    for (int64_t i = 0; i < b->nmerge; i++) {
      int64_t ll = -1, rl = -1;
      if (byte_level) {
        ll = unbyte(b->ml[i], b->mll[i], tmp);
        if (ll >= 0) rl = unbyte(b->mr[i], b->mrl[i], tmp + ll);
      }
      if (ll < 0 || rl < 0) {
        memcpy(tmp, b->ml[i], b->mll[i]);
        memcpy(tmp + b->mll[i], b->mr[i], b->mrl[i]);
        ll = b->mll[i];
        rl = b->mrl[i];
      }
      int32_t l = smelt_tok_find(t, tmp, (int)ll), r = smelt_tok_find(t, tmp + ll, (int)rl), res = smelt_tok_find(t, tmp, (int)(ll + rl));
      if (l < 0 || r < 0 || res < 0) { dropped++; continue; }
      int32_t *m = mg + 4 * nm++;
      m[0] = l; m[1] = r; m[2] = (int32_t)i; m[3] = res;
    }
    free(tmp);
    qsort(mg, (size_t)nm, 4 * sizeof *mg, cmp_merge);
    int64_t mu = 0;
    for (int64_t i = 0; i < nm; i++)
      if (!mu || mg[4 * (mu - 1)] != mg[4 * i] || mg[4 * (mu - 1) + 1] != mg[4 * i + 1]) memmove(mg + 4 * mu++, mg + 4 * i, 4 * sizeof *mg);
    if (dropped) smelt_warnf(cx, "%s: %lld of %lld merges name pieces that are not tokens; they are ignored", b->src, (long long)dropped, (long long)b->nmerge);
    t->merges = mu ? mg : NULL;
    t->n_merges = (int32_t)mu;
  }
  if (b->kind == SMELT_TOK_BPE && !t->n_merges && t->n_vocab > 256)
    smelt_warnf(cx, "%s: a BPE tokenizer without merges: text becomes single chars or bytes", b->src);
  /* SentencePiece words merge alone when no token has U+2581 after another char */
  int exact = 1;
  for (int64_t i = 0; i < n && exact; i++)
    for (uint32_t p = off[i] + 1; p + 3 <= off[i + 1]; p++)
      if (text[p] == 0xE2 && text[p + 1] == 0x96 && text[p + 2] == 0x81 && !(p >= off[i] + 3 && text[p - 3] == 0xE2 && text[p - 2] == 0x96 && text[p - 1] == 0x81)) { exact = 0; break; }
  if (exact) b->flags |= SMELT_TOKF_WORDS_EXACT;
  t->flags = (uint16_t)b->flags;
  /* end-of-generation tokens: EOS and the usual end-of-turn markers */
  if (b->eos >= 0 && b->kind != SMELT_TOK_WPM) tk->eog[tk->neog++] = b->eos;
  for (int k = 0; EOG_TEXTS[k]; k++) {
    int32_t id = smelt_tok_search(t, t->special, t->n_special, (const uint8_t *)EOG_TEXTS[k], (int)strlen(EOG_TEXTS[k]));
    int dup = 0;
    for (int j = 0; j < tk->neog; j++) dup |= tk->eog[j] == id;
    if (id >= 0 && !dup && tk->neog < 8) tk->eog[tk->neog++] = id;
  }
  return tk;
}

static int tb_alloc(struct tb *b, int64_t n) {
  if (n <= 0 || n > TOK_MAX_VOCAB) return smelt_errorf(b->cx, "%s: the vocabulary has %lld tokens (1 to %d allowed)", b->src, (long long)n, TOK_MAX_VOCAB);
  b->n = n;
  b->tok = smelt_alloc(b->cx, sizeof *b->tok * (size_t)n);
  b->len = smelt_alloc(b->cx, sizeof *b->len * (size_t)n);
  b->attr = smelt_alloc(b->cx, (size_t)n);
  b->score = smelt_alloc(b->cx, sizeof *b->score * (size_t)n);
  return b->tok && b->len && b->attr && b->score ? 0 : SMELT_ERR;
}

static int32_t tb_id_of(struct tb *b, const char *s) {
  size_t l = strlen(s);
  for (int64_t i = 0; i < b->n; i++)
    if (b->len[i] == l && b->tok[i] && !memcmp(b->tok[i], s, l)) return (int32_t)i;
  return -1;
}

/* ---- GGUF ------------------------------------------------------------------------------ */

static const struct { const char *name; int pre, ignore_merges; } GGUF_PRE[] = {
    {"gpt-2", SMELT_PRE_GPT2, 0}, {"phi-2", SMELT_PRE_GPT2, 0}, {"mpt", SMELT_PRE_GPT2, 0}, {"olmo", SMELT_PRE_GPT2, 0},
    {"jais", SMELT_PRE_GPT2, 0}, {"gigachat", SMELT_PRE_GPT2, 0}, {"roberta-bpe", SMELT_PRE_GPT2, 0}, {"exaone4", SMELT_PRE_GPT2, 0},
    {"llama3", SMELT_PRE_LLAMA3, 1}, {"llama-v3", SMELT_PRE_LLAMA3, 1}, {"llama-bpe", SMELT_PRE_LLAMA3, 1},
    {"falcon3", SMELT_PRE_LLAMA3, 1}, {"pixtral", SMELT_PRE_LLAMA3, 1}, {"dbrx", SMELT_PRE_LLAMA3, 0}, {"smaug-bpe", SMELT_PRE_LLAMA3, 0},
    {"qwen2", SMELT_PRE_QWEN2, 0}, {"deepseek-r1-qwen", SMELT_PRE_QWEN2, 0}, {"stablelm2", SMELT_PRE_QWEN2, 0}, {"megrez", SMELT_PRE_QWEN2, 0},
    {"starcoder", SMELT_PRE_STARCODER, 0}, {"refact", SMELT_PRE_STARCODER, 0}, {"command-r", SMELT_PRE_STARCODER, 0},
    {"smollm", SMELT_PRE_STARCODER, 0}, {"codeshell", SMELT_PRE_STARCODER, 0}, {"exaone", SMELT_PRE_STARCODER, 0},
    {"minerva-7b", SMELT_PRE_STARCODER, 0}, {"falcon", SMELT_PRE_FALCON, 0},
};

static const struct smelt_gguf_kv *gguf_arr(struct tb *b, const struct smelt_gguf *g, const char *key, int required) {
  const struct smelt_gguf_kv *kv = smelt_gguf_get(g, key);
  if (!kv) {
    if (required) tb_err(b, "%s: no %s in the file", key);
    return NULL;
  }
  if (kv->type != GGUF_ARRAY) { tb_err(b, "%s: %s is not an array", key); return NULL; }
  return kv;
}

static int gguf_id(struct tb *b, const struct smelt_gguf *g, const char *key, int32_t *id) {
  int64_t v;
  if (!smelt_gguf_get(g, key)) {
    if (*id >= b->n) *id = -1; /* a default out of range */
    return 0;
  }
  if (smelt_gguf_int(g, key, &v)) return tb_err(b, "%s: %s is not an integer", key);
  if (v == -1 || v == 0xFFFFFFFFll) { *id = -1; return 0; } /* "none", as converters write it */
  if (v < 0 || v >= b->n) { /* as llama.cpp: ignored, with a warning */
    smelt_warnf(b->cx, "%s: %s is %lld, outside the vocabulary of %lld tokens; ignored", b->src, key, (long long)v, (long long)b->n);
    if (*id >= b->n) *id = -1;
    return 0;
  }
  *id = (int32_t)v;
  return 0;
}

static int gguf_bool(const struct smelt_gguf *g, const char *key, int dflt) {
  int64_t v;
  return smelt_gguf_int(g, key, &v) ? dflt : v != 0;
}

struct smelt_tokenizer *smelt_tokenizer_from_gguf(smelt_ctx *cx, const struct smelt_gguf *g) {
  struct tb b = {.cx = cx, .src = g->path, .bos = -1, .eos = -1, .unk = -1, .sep = -1, .pad = -1};
  const char *model = smelt_gguf_str(cx, g, "tokenizer.ggml.model");
  const char *pre = smelt_gguf_str(cx, g, "tokenizer.ggml.pre");
  if (!model) { smelt_errorf(cx, "%s: no tokenizer (tokenizer.ggml.model is missing)", g->path); return NULL; }
  int add_bos = 0, add_eos = 0;
  if (!strcmp(model, "llama")) {
    b.kind = SMELT_TOK_SPM;
    b.bos = 1; b.eos = 2; b.unk = 0;
    add_bos = 1;
    if (gguf_bool(g, "tokenizer.ggml.add_space_prefix", 1)) b.flags |= SMELT_TOKF_SPACE_PREFIX | SMELT_TOKF_DECODE_STRIP;
    b.flags |= SMELT_TOKF_ESCAPE_SPACE;
  } else if (!strcmp(model, "gpt2")) {
    b.kind = SMELT_TOK_BPE;
    b.flags |= SMELT_TOKF_BYTE_LEVEL;
    if (!pre) { smelt_errorf(cx, "%s: a gpt2 tokenizer without tokenizer.ggml.pre (the pre-tokenizer); smelt needs it named", g->path); return NULL; }
    size_t k;
    for (k = 0; k < sizeof GGUF_PRE / sizeof *GGUF_PRE; k++)
      if (!strcmp(pre, GGUF_PRE[k].name)) break;
    if (k == sizeof GGUF_PRE / sizeof *GGUF_PRE) {
      smelt_errorf(cx, "%s: pre-tokenizer '%s' is not supported (smelt knows gpt-2, llama-bpe, qwen2, starcoder, falcon and their aliases)", g->path, pre);
      return NULL;
    }
    b.pre = GGUF_PRE[k].pre;
    if (GGUF_PRE[k].ignore_merges) b.flags |= SMELT_TOKF_IGNORE_MERGES;
    if (b.pre == SMELT_PRE_LLAMA3 && GGUF_PRE[k].ignore_merges) add_bos = 1;
    b.bos = 11; b.eos = 11;
  } else if (!strcmp(model, "bert")) {
    b.kind = SMELT_TOK_WPM;
    b.bos = 101; b.unk = 100; b.sep = 102; b.pad = 0;
    add_bos = add_eos = 1;
    b.flags |= SMELT_TOKF_ESCAPE_SPACE | SMELT_TOKF_DECODE_STRIP;
    int lower = gguf_bool(g, "tokenizer.ggml.normalizer.lowercase", 1);
    if (lower) b.flags |= SMELT_TOKF_LOWERCASE;
    if (gguf_bool(g, "tokenizer.ggml.normalizer.strip_accents", lower)) b.flags |= SMELT_TOKF_STRIP_ACCENTS;
  } else if (!strcmp(model, "no_vocab") || !strcmp(model, "none")) {
    smelt_errorf(cx, "%s: the file has no vocabulary (tokenizer.ggml.model is '%s')", g->path, model);
    return NULL;
  } else {
    smelt_errorf(cx, "%s: tokenizer model '%s' is not supported (llama, gpt2 and bert are)", g->path, model);
    return NULL;
  }
  const struct smelt_gguf_kv *toks = gguf_arr(&b, g, "tokenizer.ggml.tokens", 1);
  if (!toks) return NULL;
  if (toks->elem != GGUF_STRING) { smelt_errorf(cx, "%s: tokenizer.ggml.tokens is not an array of strings", g->path); return NULL; }
  if (tb_alloc(&b, (int64_t)(toks->n > (uint64_t)TOK_MAX_VOCAB + 1 ? (uint64_t)TOK_MAX_VOCAB + 1 : toks->n))) return NULL;
  for (int64_t i = 0; i < b.n; i++) {
    uint64_t l;
    b.tok[i] = (const uint8_t *)smelt_gguf_arr_str(toks, (uint64_t)i, &l);
    if (l > TOK_MAX_LEN) { smelt_errorf(cx, "%s: token %lld is %llu bytes long (at most %d)", g->path, (long long)i, (unsigned long long)l, TOK_MAX_LEN); return NULL; }
    b.len[i] = (uint32_t)l;
  }
  const struct smelt_gguf_kv *sc = gguf_arr(&b, g, "tokenizer.ggml.scores", 0);
  if (smelt_failed(cx)) return NULL;
  if (sc) {
    if (sc->elem != GGUF_F32 && sc->elem != GGUF_I32) { smelt_errorf(cx, "%s: tokenizer.ggml.scores is not an array of f32", g->path); return NULL; }
    if (sc->n < (uint64_t)b.n) { smelt_errorf(cx, "%s: tokenizer.ggml.scores has %llu entries for %lld tokens", g->path, (unsigned long long)sc->n, (long long)b.n); return NULL; }
    for (int64_t i = 0; i < b.n; i++) {
      double v = smelt_gguf_arr_float(sc, (uint64_t)i);
      b.score[i] = isfinite(v) ? (float)(v < -1e30 ? -1e30 : v > 1e30 ? 1e30 : v) : -1e30f;
    }
  }
  const struct smelt_gguf_kv *ty = gguf_arr(&b, g, "tokenizer.ggml.token_type", 0);
  if (smelt_failed(cx)) return NULL;
  if (ty) {
    if (ty->elem != GGUF_I32 && ty->elem != GGUF_U32) { smelt_errorf(cx, "%s: tokenizer.ggml.token_type is not an array of i32", g->path); return NULL; }
    if (ty->n < (uint64_t)b.n) { smelt_errorf(cx, "%s: tokenizer.ggml.token_type has %llu entries for %lld tokens", g->path, (unsigned long long)ty->n, (long long)b.n); return NULL; }
  }
  for (int64_t i = 0; i < b.n; i++) {
    int64_t v = ty ? smelt_gguf_arr_int(ty, (uint64_t)i) : 1;
    b.attr[i] = v == 2 ? SMELT_TA_UNKNOWN : v == 3 ? SMELT_TA_CONTROL : v == 4 ? SMELT_TA_USER : v == 5 ? SMELT_TA_UNUSED : v == 6 ? SMELT_TA_BYTE : SMELT_TA_NORMAL;
    if (b.len[i] == 0 && b.attr[i] != SMELT_TA_NORMAL) b.attr[i] = SMELT_TA_UNUSED;
  }
  if (b.kind == SMELT_TOK_BPE) {
    const struct smelt_gguf_kv *mg = gguf_arr(&b, g, "tokenizer.ggml.merges", 1);
    if (!mg) return NULL;
    if (mg->elem != GGUF_STRING) { smelt_errorf(cx, "%s: tokenizer.ggml.merges is not an array of strings", g->path); return NULL; }
    if (mg->n > TOK_MAX_MERGES) { smelt_errorf(cx, "%s: %llu merges (at most %d)", g->path, (unsigned long long)mg->n, TOK_MAX_MERGES); return NULL; }
    b.nmerge = (int64_t)mg->n;
    b.ml = smelt_alloc(cx, sizeof *b.ml * (size_t)(b.nmerge + 1));
    b.mr = smelt_alloc(cx, sizeof *b.mr * (size_t)(b.nmerge + 1));
    b.mll = smelt_alloc(cx, sizeof *b.mll * (size_t)(b.nmerge + 1));
    b.mrl = smelt_alloc(cx, sizeof *b.mrl * (size_t)(b.nmerge + 1));
    if (!b.ml || !b.mr || !b.mll || !b.mrl) return NULL;
    for (int64_t i = 0; i < b.nmerge; i++) {
      uint64_t l;
      const char *s = smelt_gguf_arr_str(mg, (uint64_t)i, &l);
      if (l > TOK_MAX_LEN) { smelt_errorf(cx, "%s: merge %lld is too long", g->path, (long long)i); return NULL; }
      const char *sp = l > 1 ? memchr(s + 1, ' ', l - 1) : NULL; /* as llama.cpp: the first space after the first byte */
      if (!sp) { smelt_errorf(cx, "%s: merge %lld ('%.*s') is not two pieces separated by a space", g->path, (long long)i, (int)(l > 40 ? 40 : l), s); return NULL; }
      b.ml[i] = (const uint8_t *)s;
      b.mll[i] = (uint32_t)(sp - s);
      b.mr[i] = (const uint8_t *)sp + 1;
      b.mrl[i] = (uint32_t)(l - (uint64_t)(sp - s) - 1);
    }
  }
  if (gguf_id(&b, g, "tokenizer.ggml.bos_token_id", &b.bos) || gguf_id(&b, g, "tokenizer.ggml.eos_token_id", &b.eos) ||
      gguf_id(&b, g, "tokenizer.ggml.unknown_token_id", &b.unk) || gguf_id(&b, g, "tokenizer.ggml.seperator_token_id", &b.sep) ||
      gguf_id(&b, g, "tokenizer.ggml.padding_token_id", &b.pad))
    return NULL;
  if (b.kind == SMELT_TOK_WPM) {
    if (gguf_id(&b, g, "tokenizer.ggml.cls_token_id", &b.bos)) return NULL;
    b.eos = b.sep;
  }
  add_bos = gguf_bool(g, "tokenizer.ggml.add_bos_token", add_bos);
  add_eos = gguf_bool(g, "tokenizer.ggml.add_eos_token", add_eos);
  if (b.kind == SMELT_TOK_WPM) add_eos = gguf_bool(g, "tokenizer.ggml.add_sep_token", add_eos);
  if (add_bos && b.bos >= 0) b.flags |= SMELT_TOKF_ADD_BOS;
  if (add_eos && b.eos >= 0) b.flags |= SMELT_TOKF_ADD_EOS;
  /* llama.cpp's Phi-3 rule: special tokens eat the whitespace after them */
  const char *name = smelt_gguf_str(cx, g, "general.name");
  if (name) {
    char low[256];
    size_t k;
    for (k = 0; name[k] && k < sizeof low - 1; k++) low[k] = (char)(name[k] >= 'A' && name[k] <= 'Z' ? name[k] + 32 : name[k]);
    low[k] = 0;
    if (strstr(low, "phi-3") || strstr(low, "phi3")) {
      for (int64_t i = 0; i < b.n; i++) {
        int kd = b.attr[i] & SMELT_TA_KIND;
        int rs = is_special_kind(kd);
        if (b.len[i] == 4 && !memcmp(b.tok[i], "</s>", 4)) rs = 1;
        if ((b.len[i] == 5 && !memcmp(b.tok[i], "<unk>", 5)) || (b.len[i] == 3 && !memcmp(b.tok[i], "<s>", 3)) ||
            (b.len[i] == 13 && !memcmp(b.tok[i], "<|endoftext|>", 13)))
          rs = 0;
        if (rs) b.attr[i] |= SMELT_TA_RSTRIP;
      }
    }
  }
  return tb_finish(&b);
}

/* ---- tokenizer.json ---------------------------------------------------------------------- */

static char *read_text(smelt_ctx *cx, const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  if (fd < 0) { smelt_errorf(cx, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
  smelt_ctx_note_input(cx, path);
  struct stat st;
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); smelt_errorf(cx, "%s: not a regular file", path); return NULL; }
  if ((uint64_t)st.st_size > TOK_MAX_JSON) { close(fd); smelt_errorf(cx, "%s: %lld bytes is too large for a tokenizer file", path, (long long)st.st_size); return NULL; }
  char *buf = smelt_alloc(cx, (size_t)st.st_size + 1);
  if (!buf) { close(fd); return NULL; }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
    if (r <= 0) { close(fd); smelt_errorf(cx, "%s: read error", path); return NULL; }
    got += (size_t)r;
  }
  close(fd);
  buf[got] = 0;
  *len = got;
  return buf;
}

static void free_json(void *p) { cJSON_Delete(p); }

static cJSON *parse_json(smelt_ctx *cx, const char *path) {
  size_t len;
  char *s = read_text(cx, path, &len);
  if (!s) return NULL;
  cJSON *j = cJSON_ParseWithLength(s, len);
  if (!j) {
    const char *e = cJSON_GetErrorPtr();
    smelt_errorf(cx, "%s: malformed JSON at byte %lld", path, (long long)(e && e >= s && e <= s + len ? e - s : 0));
    return NULL;
  }
  smelt_ctx_on_free(cx, free_json, j);
  return j;
}

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *jtype(const cJSON *o) { return o && cJSON_IsObject(o) ? jstr(o, "type") : NULL; }

static int jbool(const cJSON *o, const char *key, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* a token named by a string or {"content": ...} in tokenizer_config.json */
static const char *jtoken(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (cJSON_IsString(v)) return v->valuestring;
  if (cJSON_IsObject(v)) return jstr(v, "content");
  return NULL;
}

/* flattens a Sequence (of pre-tokenizers, normalizers, decoders) into list[0..n) */
static int flatten(const cJSON *o, const char *seqkey, const cJSON **list, int *n, int max) {
  if (!o || cJSON_IsNull(o)) return 0;
  const char *t = jtype(o);
  if (t && !strcmp(t, "Sequence")) {
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(o, seqkey)) if (flatten(it, seqkey, list, n, max)) return -1;
    return 0;
  }
  if (*n >= max) return -1;
  list[(*n)++] = o;
  return 0;
}

static int is_type(const cJSON *o, const char *t) { const char *s = jtype(o); return s && !strcmp(s, t); }

static const char *split_regex(const cJSON *o) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pattern");
  return p ? jstr(p, "Regex") : NULL;
}

#define RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

static int isolated(const cJSON *o) {
  const char *bh = jstr(o, "behavior");
  return bh && !strcmp(bh, "Isolated") && !jbool(o, "invert", 0);
}

/* maps the pre-tokenizer list onto the runtime's kinds */
static int json_pre(struct tb *b, const cJSON *pre) {
  const cJSON *l[8];
  int n = 0;
  if (flatten(pre, "pretokenizers", l, &n, 8)) return tb_err(b, "%s: pre_tokenizer: %s", "a sequence of more than 8 steps is not supported");
  if (n == 0) return 0;
  for (int i = 0; i < n; i++)
    if (is_type(l[i], "ByteLevel") && jbool(l[i], "add_prefix_space", 0))
      return tb_err(b, "%s: pre_tokenizer: %s", "ByteLevel with add_prefix_space is not supported");
  if (n == 1 && is_type(l[0], "Metaspace")) {
    const char *rep = jstr(l[0], "replacement");
    const char *ps = jstr(l[0], "prepend_scheme");
    if (rep && strcmp(rep, "\xe2\x96\x81")) return tb_err(b, "%s: pre_tokenizer: Metaspace replacement '%s' is not supported", rep);
    b->flags |= SMELT_TOKF_ESCAPE_SPACE;
    if (ps ? strcmp(ps, "never") != 0 : jbool(l[0], "add_prefix_space", 1)) b->flags |= SMELT_TOKF_SPACE_PREFIX | SMELT_TOKF_DECODE_STRIP;
    if (ps && !strcmp(ps, "first")) b->flags |= SMELT_TOKF_PREFIX_FIRST;
    return 0;
  }
  if (n == 1 && is_type(l[0], "Split") && (b->flags & SMELT_TOKF_ESCAPE_SPACE)) { /* Gemma: splits on ' ', which the normalizer replaced */
    const cJSON *pat = cJSON_GetObjectItemCaseSensitive(l[0], "pattern");
    const char *str = pat ? jstr(pat, "String") : NULL;
    if (str && !strcmp(str, " ")) return 0;
  }
  if (n == 1 && is_type(l[0], "BertPreTokenizer")) return b->kind == SMELT_TOK_WPM ? 0 : tb_err(b, "%s: pre_tokenizer: %s", "BertPreTokenizer without a WordPiece model");
  b->flags |= SMELT_TOKF_BYTE_LEVEL;
  if (n == 1 && is_type(l[0], "ByteLevel") && jbool(l[0], "use_regex", 1)) { b->pre = SMELT_PRE_GPT2; return 0; }
  if (n == 2 && is_type(l[0], "Split") && is_type(l[1], "ByteLevel") && !jbool(l[1], "use_regex", 1) && isolated(l[0])) {
    const char *re = split_regex(l[0]);
    if (re && !strcmp(re, RE_LLAMA3)) { b->pre = SMELT_PRE_LLAMA3; return 0; }
    if (re && !strcmp(re, RE_QWEN2)) { b->pre = SMELT_PRE_QWEN2; return 0; }
    if (re && !strcmp(re, RE_GPT2)) { b->pre = SMELT_PRE_GPT2; return 0; }
    return tb_err(b, "%s: pre_tokenizer: the Split regex '%s' is not one smelt knows (GPT-2, Llama-3, Qwen2)", re ? re : "?");
  }
  if (n == 2 && is_type(l[0], "Digits") && jbool(l[0], "individual_digits", 0) && is_type(l[1], "ByteLevel") && jbool(l[1], "use_regex", 1)) {
    b->pre = SMELT_PRE_STARCODER;
    return 0;
  }
  if ((n == 3 || n == 4) && is_type(l[0], "Punctuation") && is_type(l[1], "ByteLevel") && jbool(l[1], "use_regex", 1)) {
    int k = 2;
    if (n == 4 && is_type(l[2], "Digits") && !jbool(l[2], "individual_digits", 0)) k = 3;
    const char *re = split_regex(l[k]);
    const char *bh = jstr(l[0], "behavior");
    if (k == n - 1 && is_type(l[k], "Split") && isolated(l[k]) && re && !strcmp(re, "[0-9][0-9][0-9]") && (!bh || !strcmp(bh, "Contiguous"))) {
      b->pre = SMELT_PRE_FALCON;
      return 0;
    }
  }
  char what[256] = "";
  for (int i = 0; i < n; i++) {
    const char *t = jtype(l[i]);
    snprintf(what + strlen(what), sizeof what - strlen(what), "%s%s", i ? ", " : "", t ? t : "?");
  }
  return tb_err(b, "%s: pre_tokenizer [%s] is not supported (smelt knows the GPT-2, Llama-3, Qwen2, StarCoder, Falcon, Metaspace and BERT ones)", what);
}

static int json_normalizer(struct tb *b, const cJSON *nz) {
  const cJSON *l[8];
  int n = 0;
  if (flatten(nz, "normalizers", l, &n, 8)) return tb_err(b, "%s: normalizer: %s", "a sequence of more than 8 steps is not supported");
  for (int i = 0; i < n; i++) {
    const char *t = jtype(l[i]);
    if (!t) return tb_err(b, "%s: normalizer: %s", "an entry without a type");
    if (!strcmp(t, "Prepend")) {
      const char *p = jstr(l[i], "prepend");
      if (!p || strcmp(p, "\xe2\x96\x81")) return tb_err(b, "%s: normalizer: Prepend '%s' is not supported (only U+2581)", p ? p : "?");
      b->flags |= SMELT_TOKF_SPACE_PREFIX | SMELT_TOKF_DECODE_STRIP;
    } else if (!strcmp(t, "Replace")) {
      const char *c = jstr(l[i], "content");
      const cJSON *pat = cJSON_GetObjectItemCaseSensitive(l[i], "pattern");
      const char *s = pat ? jstr(pat, "String") : NULL;
      if (!s || strcmp(s, " ") || !c || strcmp(c, "\xe2\x96\x81")) return tb_err(b, "%s: normalizer: %s", "Replace other than ' ' -> U+2581 is not supported");
      b->flags |= SMELT_TOKF_ESCAPE_SPACE;
    } else if (!strcmp(t, "BertNormalizer")) {
      if (b->kind != SMELT_TOK_WPM) return tb_err(b, "%s: normalizer: %s", "BertNormalizer without a WordPiece model");
      if (!jbool(l[i], "clean_text", 1) || !jbool(l[i], "handle_chinese_chars", 1))
        return tb_err(b, "%s: normalizer: %s", "BertNormalizer without clean_text or handle_chinese_chars is not supported");
      int lower = jbool(l[i], "lowercase", 1);
      if (lower) b->flags |= SMELT_TOKF_LOWERCASE;
      if (jbool(l[i], "strip_accents", lower)) b->flags |= SMELT_TOKF_STRIP_ACCENTS;
    } else if (!strcmp(t, "NFC")) {
      /* input text is taken to be NFC already (as nearly all text is) */
    } else {
      return tb_err(b, "%s: normalizer '%s' is not supported (Prepend, Replace, BertNormalizer, NFC are)", t);
    }
  }
  return 0;
}

static int json_decoder(struct tb *b, const cJSON *dc) {
  const cJSON *l[8];
  int n = 0;
  if (flatten(dc, "decoders", l, &n, 8)) return tb_err(b, "%s: decoder: %s", "a sequence of more than 8 steps is not supported");
  static const char *known[] = {"ByteLevel", "Metaspace", "WordPiece", "Replace", "ByteFallback", "Fuse", "Strip", NULL};
  for (int i = 0; i < n; i++) {
    const char *t = jtype(l[i]);
    int ok = 0;
    for (int k = 0; t && known[k]; k++) ok |= !strcmp(t, known[k]);
    if (!ok) return tb_err(b, "%s: decoder '%s' is not supported", t ? t : "?");
    if (!strcmp(t, "Strip")) {
      const cJSON *st = cJSON_GetObjectItemCaseSensitive(l[i], "start");
      if (cJSON_IsNumber(st) && st->valuedouble > 0) b->flags |= SMELT_TOKF_DECODE_STRIP;
    }
    if (!strcmp(t, "WordPiece")) b->flags |= SMELT_TOKF_DECODE_STRIP;
  }
  return 0;
}

/* vocab {text: id} into the builder (texts of ids beyond it come from added_tokens) */
static int json_vocab(struct tb *b, const cJSON *vocab, const cJSON *added, const char *cont_prefix) {
  int64_t n = 0;
  const cJSON *it;
  if (!cJSON_IsObject(vocab)) return tb_err(b, "%s: model.vocab %s", "is not an object");
  cJSON_ArrayForEach(it, vocab) {
    if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= TOK_MAX_VOCAB || it->valuedouble != (double)(int64_t)it->valuedouble)
      return tb_err(b, "%s: model.vocab: the id of '%s' is not an integer in range", it->string ? it->string : "?");
    if ((int64_t)it->valuedouble + 1 > n) n = (int64_t)it->valuedouble + 1;
  }
  cJSON_ArrayForEach(it, added) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= TOK_MAX_VOCAB || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(it, "content")))
      return tb_err(b, "%s: added_tokens: %s", "an entry without a valid id and content");
    if ((int64_t)id->valuedouble + 1 > n) n = (int64_t)id->valuedouble + 1;
  }
  if (tb_alloc(b, n)) return SMELT_ERR;
  size_t cpl = cont_prefix ? strlen(cont_prefix) : 0;
  cJSON_ArrayForEach(it, vocab) {
    int64_t id = (int64_t)it->valuedouble;
    const char *s = it->string;
    size_t l = strlen(s);
    if (b->tok[id]) return smelt_errorf(b->cx, "%s: model.vocab: id %lld is given twice", b->src, (long long)id);
    if (l > TOK_MAX_LEN) return smelt_errorf(b->cx, "%s: model.vocab: token %lld is too long", b->src, (long long)id);
    if (b->kind == SMELT_TOK_WPM) { /* "##x" -> "x", "x" -> "\u2581x" (the runtime's convention) */
      if (cpl && l > cpl && !strncmp(s, cont_prefix, cpl)) { s += cpl; l -= cpl; }
      else {
        char *w = smelt_alloc(b->cx, l + 4);
        if (!w) return SMELT_ERR;
        memcpy(w, "\xe2\x96\x81", 3);
        memcpy(w + 3, s, l + 1);
        s = w;
        l += 3;
      }
    }
    b->tok[id] = (const uint8_t *)s;
    b->len[id] = (uint32_t)l;
    b->attr[id] = SMELT_TA_NORMAL;
  }
  cJSON_ArrayForEach(it, added) {
    int64_t id = (int64_t)cJSON_GetObjectItemCaseSensitive(it, "id")->valuedouble;
    const char *s = jstr(it, "content");
    size_t l = strlen(s);
    if (l == 0 || l > TOK_MAX_LEN) return smelt_errorf(b->cx, "%s: added_tokens: token %lld has an empty or too long content", b->src, (long long)id);
    b->tok[id] = (const uint8_t *)s;
    b->len[id] = (uint32_t)l;
    b->attr[id] = (uint8_t)((jbool(it, "special", 0) ? SMELT_TA_CONTROL : SMELT_TA_USER) | (jbool(it, "lstrip", 0) ? SMELT_TA_LSTRIP : 0) |
                            (jbool(it, "rstrip", 0) ? SMELT_TA_RSTRIP : 0));
  }
  for (int64_t i = 0; i < n; i++)
    if (!b->tok[i]) return smelt_errorf(b->cx, "%s: model.vocab: id %lld has no token (ids must be dense)", b->src, (long long)i);
  /* byte-fallback tokens */
  for (int64_t i = 0; i < n; i++)
    if (b->attr[i] == SMELT_TA_NORMAL && b->len[i] == 6 && !memcmp(b->tok[i], "<0x", 3) && b->tok[i][5] == '>' && smelt_tok_hex(b->tok[i][3]) >= 0 &&
        smelt_tok_hex(b->tok[i][4]) >= 0 && b->kind != SMELT_TOK_WPM && !(b->flags & SMELT_TOKF_BYTE_LEVEL))
      b->attr[i] = SMELT_TA_BYTE;
  return 0;
}

static int json_merges(struct tb *b, const cJSON *merges) {
  if (!merges || cJSON_IsNull(merges)) return 0;
  if (!cJSON_IsArray(merges)) return tb_err(b, "%s: model.merges %s", "is not an array");
  int64_t n = cJSON_GetArraySize(merges);
  if (n > TOK_MAX_MERGES) return smelt_errorf(b->cx, "%s: %lld merges (at most %d)", b->src, (long long)n, TOK_MAX_MERGES);
  b->nmerge = n;
  b->ml = smelt_alloc(b->cx, sizeof *b->ml * (size_t)(n + 1));
  b->mr = smelt_alloc(b->cx, sizeof *b->mr * (size_t)(n + 1));
  b->mll = smelt_alloc(b->cx, sizeof *b->mll * (size_t)(n + 1));
  b->mrl = smelt_alloc(b->cx, sizeof *b->mrl * (size_t)(n + 1));
  if (!b->ml || !b->mr || !b->mll || !b->mrl) return SMELT_ERR;
  int64_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, merges) {
    const char *l = NULL, *r = NULL;
    size_t ll = 0, rl = 0;
    if (cJSON_IsString(it)) { /* "a b" */
      const char *s = it->valuestring;
      size_t sl = strlen(s);
      const char *sp = sl > 1 ? memchr(s + 1, ' ', sl - 1) : NULL;
      if (sp) { l = s; ll = (size_t)(sp - s); r = sp + 1; rl = sl - ll - 1; }
    } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) && cJSON_IsString(cJSON_GetArrayItem(it, 1))) {
      l = cJSON_GetArrayItem(it, 0)->valuestring;
      r = cJSON_GetArrayItem(it, 1)->valuestring;
      ll = strlen(l);
      rl = strlen(r);
    }
    if (!l || ll > TOK_MAX_LEN || rl > TOK_MAX_LEN) return smelt_errorf(b->cx, "%s: model.merges[%lld] is not a pair of tokens", b->src, (long long)i);
    b->ml[i] = (const uint8_t *)l; b->mll[i] = (uint32_t)ll;
    b->mr[i] = (const uint8_t *)r; b->mrl[i] = (uint32_t)rl;
    i++;
  }
  return 0;
}

/* BOS / EOS from TemplateProcessing / BertProcessing / RobertaProcessing */
static int json_post(struct tb *b, const cJSON *pp, int *add_bos, int *add_eos) {
  const cJSON *l[8];
  int n = 0;
  if (flatten(pp, "processors", l, &n, 8)) return tb_err(b, "%s: post_processor: %s", "too many steps");
  for (int i = 0; i < n; i++) {
    const char *t = jtype(l[i]);
    if (!t) continue;
    if (!strcmp(t, "TemplateProcessing")) {
      const cJSON *single = cJSON_GetObjectItemCaseSensitive(l[i], "single");
      int cnt = cJSON_GetArraySize(single);
      for (int k = 0; k < cnt; k += cnt - 1 > 0 ? cnt - 1 : 1) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, k), "SpecialToken");
        const char *name = st ? jstr(st, "id") : NULL;
        int32_t id = name ? tb_id_of(b, name) : -1;
        if (id >= 0 && k == 0) { b->bos = id; *add_bos = 1; }
        else if (id >= 0) { b->eos = id; *add_eos = 1; }
        if (cnt <= 1) break;
      }
    } else if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) {
      const cJSON *cls = cJSON_GetObjectItemCaseSensitive(l[i], "cls"), *sep = cJSON_GetObjectItemCaseSensitive(l[i], "sep");
      const cJSON *ci = cJSON_GetArrayItem(cls, 1), *si = cJSON_GetArrayItem(sep, 1);
      if (cJSON_IsNumber(ci) && ci->valuedouble >= 0 && ci->valuedouble < b->n) { b->bos = (int32_t)ci->valuedouble; *add_bos = 1; }
      if (cJSON_IsNumber(si) && si->valuedouble >= 0 && si->valuedouble < b->n) { b->eos = (int32_t)si->valuedouble; *add_eos = 1; }
    }
  }
  return 0;
}

struct smelt_tokenizer *smelt_tokenizer_from_json(smelt_ctx *cx, const char *tokenizer_json, const char *tokenizer_config_json) {
  struct tb b = {.cx = cx, .src = tokenizer_json, .bos = -1, .eos = -1, .unk = -1, .sep = -1, .pad = -1};
  cJSON *j = parse_json(cx, tokenizer_json);
  if (!j) return NULL;
  cJSON *cfg = NULL;
  if (tokenizer_config_json && access(tokenizer_config_json, F_OK) == 0 && !(cfg = parse_json(cx, tokenizer_config_json))) return NULL;
  if (!cJSON_IsObject(j)) { smelt_errorf(cx, "%s: not a tokenizer.json (not an object)", tokenizer_json); return NULL; }
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(j, "model");
  const char *mt = jtype(model);
  if (!model || !cJSON_IsObject(model)) { smelt_errorf(cx, "%s: no model section", tokenizer_json); return NULL; }
  if (!mt && cJSON_GetObjectItemCaseSensitive(model, "merges")) mt = "BPE";
  if (!mt) { smelt_errorf(cx, "%s: model has no type", tokenizer_json); return NULL; }
  const cJSON *added = cJSON_GetObjectItemCaseSensitive(j, "added_tokens");
  if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) { smelt_errorf(cx, "%s: added_tokens is not an array", tokenizer_json); return NULL; }
  const char *cont = NULL;
  if (!strcmp(mt, "BPE")) {
    b.kind = SMELT_TOK_BPE;
    const cJSON *dr = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dr) && dr->valuedouble > 0) { smelt_errorf(cx, "%s: BPE dropout is not supported", tokenizer_json); return NULL; }
    const char *csp = jstr(model, "continuing_subword_prefix"), *ews = jstr(model, "end_of_word_suffix");
    if ((csp && *csp) || (ews && *ews)) { smelt_errorf(cx, "%s: BPE with continuing_subword_prefix or end_of_word_suffix is not supported", tokenizer_json); return NULL; }
    if (jbool(model, "ignore_merges", 0)) b.flags |= SMELT_TOKF_IGNORE_MERGES;
  } else if (!strcmp(mt, "WordPiece")) {
    b.kind = SMELT_TOK_WPM;
    cont = jstr(model, "continuing_subword_prefix");
    if (!cont) cont = "##";
    const cJSON *mw = cJSON_GetObjectItemCaseSensitive(model, "max_input_chars_per_word");
    b.max_word_chars = cJSON_IsNumber(mw) && mw->valuedouble > 0 && mw->valuedouble < 1e9 ? (int32_t)mw->valuedouble : 100;
    b.flags |= SMELT_TOKF_ESCAPE_SPACE | SMELT_TOKF_DECODE_STRIP;
  } else {
    smelt_errorf(cx, "%s: tokenizer model type '%s' is not supported (BPE and WordPiece are)", tokenizer_json, mt);
    return NULL;
  }
  /* the pre-tokenizer decides byte-level before the vocabulary is read */
  if (json_normalizer(&b, cJSON_GetObjectItemCaseSensitive(j, "normalizer")) || json_pre(&b, cJSON_GetObjectItemCaseSensitive(j, "pre_tokenizer")) ||
      json_decoder(&b, cJSON_GetObjectItemCaseSensitive(j, "decoder")))
    return NULL;
  const cJSON *dec = cJSON_GetObjectItemCaseSensitive(j, "decoder");
  if (!(b.flags & SMELT_TOKF_BYTE_LEVEL) && b.kind == SMELT_TOK_BPE) {
    const cJSON *l[8];
    int n = 0;
    flatten(dec, "decoders", l, &n, 8);
    for (int i = 0; i < n; i++)
      if (is_type(l[i], "ByteLevel")) b.flags |= SMELT_TOKF_BYTE_LEVEL;
    if ((b.flags & SMELT_TOKF_BYTE_LEVEL) && (b.flags & SMELT_TOKF_ESCAPE_SPACE)) { smelt_errorf(cx, "%s: a ByteLevel decoder with Metaspace escaping is not supported", tokenizer_json); return NULL; }
  }
  if (json_vocab(&b, cJSON_GetObjectItemCaseSensitive(model, "vocab"), added, cont)) return NULL;
  if (b.kind == SMELT_TOK_BPE && json_merges(&b, cJSON_GetObjectItemCaseSensitive(model, "merges"))) return NULL;
  const char *unk = jstr(model, "unk_token");
  if (unk && (b.unk = tb_id_of(&b, unk)) < 0 && b.kind == SMELT_TOK_WPM) { smelt_errorf(cx, "%s: unk_token '%s' is not in the vocabulary", tokenizer_json, unk); return NULL; }
  if (b.kind == SMELT_TOK_WPM && b.unk >= 0) b.attr[b.unk] = (uint8_t)((b.attr[b.unk] & ~SMELT_TA_KIND) | SMELT_TA_CONTROL);
  int add_bos = 0, add_eos = 0;
  if (json_post(&b, cJSON_GetObjectItemCaseSensitive(j, "post_processor"), &add_bos, &add_eos)) return NULL;
  if (cfg) {
    const char *bs = jtoken(cfg, "bos_token"), *es = jtoken(cfg, "eos_token"), *us = jtoken(cfg, "unk_token"), *ps = jtoken(cfg, "pad_token");
    int32_t id;
    if (bs && (id = tb_id_of(&b, bs)) >= 0) b.bos = id;
    if (es && (id = tb_id_of(&b, es)) >= 0 && b.kind != SMELT_TOK_WPM) b.eos = id;
    if (us && (id = tb_id_of(&b, us)) >= 0) b.unk = id;
    if (ps && (id = tb_id_of(&b, ps)) >= 0) b.pad = id;
    add_bos = jbool(cfg, "add_bos_token", add_bos);
    add_eos = jbool(cfg, "add_eos_token", add_eos);
  }
  if (b.kind == SMELT_TOK_WPM) b.sep = b.eos;
  if (add_bos && b.bos >= 0) b.flags |= SMELT_TOKF_ADD_BOS;
  if (add_eos && b.eos >= 0) b.flags |= SMELT_TOKF_ADD_EOS;
  return tb_finish(&b);
}

/* ---- queries ------------------------------------------------------------------------------ */

int64_t smelt_tokenizer_vocab_size(const struct smelt_tokenizer *t) { return t->rt.n_vocab; }
int64_t smelt_tokenizer_bos(const struct smelt_tokenizer *t) { return t->rt.bos; }
int smelt_tokenizer_add_bos(const struct smelt_tokenizer *t) { return (t->rt.flags & SMELT_TOKF_ADD_BOS) != 0; }

int smelt_tokenizer_eos(const struct smelt_tokenizer *t, int64_t *ids, int max) {
  for (int i = 0; i < t->neog && i < max; i++) ids[i] = t->eog[i];
  return t->neog;
}

int smelt_tokenizer_encode(const struct smelt_tokenizer *t, const char *text, size_t len, int add_bos, int32_t **ids) {
  if (len > (size_t)INT32_MAX / 4) return smelt_errorf(t->cx, "text of %zu bytes is too long to tokenize", len);
  for (int64_t cap = (int64_t)len + 16;; cap *= 2) {
    int32_t *buf = smelt_alloc(t->cx, sizeof *buf * (size_t)cap);
    if (!buf) return SMELT_ERR;
    int n = smelt_tok_encode(&t->rt, text, (int)len, (add_bos & 1 ? SMELT_TOK_BOS : 0) | (add_bos & 2 ? SMELT_TOK_NO_SPECIAL : 0), buf, (int)(cap > INT32_MAX ? INT32_MAX : cap));
    if (n >= 0) { *ids = buf; return n; }
    if (n != SMELT_E_NOSPACE || cap > (int64_t)INT32_MAX / 2) return smelt_errorf(t->cx, "tokenizing failed: %s", smelt_rt_strerror(n));
  }
}

const char *smelt_tokenizer_piece(const struct smelt_tokenizer *t, int32_t id, size_t *len) {
  if (id < 0 || id >= t->rt.n_vocab) { *len = 0; return ""; }
  int l;
  const uint8_t *p = smelt_tok_text(&t->rt, id, &l);
  *len = (size_t)l;
  return (const char *)p;
}

const struct smelt_tok *smelt_tokenizer_tables(const struct smelt_tokenizer *t) { return &t->rt; }

/* ---- C emission ---------------------------------------------------------------------------- */

struct ob { char *p; size_t n, cap; int oom; };

static void ob_put(struct ob *o, const char *s, size_t n) {
  if (o->oom) return;
  if (o->n + n + 1 > o->cap) {
    size_t c = o->cap ? o->cap * 2 : 65536;
    while (c < o->n + n + 1) c *= 2;
    char *q = realloc(o->p, c);
    if (!q) { o->oom = 1; return; }
    o->p = q;
    o->cap = c;
  }
  memcpy(o->p + o->n, s, n);
  o->n += n;
  o->p[o->n] = 0;
}

static void ob_printf(struct ob *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ob_printf(struct ob *o, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (k > 0) ob_put(o, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
}

/* an integer array, 20 values a line */
static void ob_ints(struct ob *o, const char *type, const char *prefix, const char *name, const int64_t *v64, const int32_t *v32, const uint32_t *vu,
                    const uint8_t *v8, const uint16_t *v16, size_t n) {
  ob_printf(o, "static const %s %s_tok_%s[%zu] = {", type, prefix, name, n);
  for (size_t i = 0; i < n; i++) {
    long long x = v64 ? v64[i] : v32 ? v32[i] : vu ? (long long)vu[i] : v8 ? v8[i] : v16[i];
    char buf[32];
    int k = snprintf(buf, sizeof buf, "%s%lld,", i % 20 ? "" : "\n  ", x);
    ob_put(o, buf, (size_t)k);
  }
  ob_put(o, "\n};\n", 4);
}

char *smelt_tokenizer_emit_c(smelt_ctx *cx, const struct smelt_tokenizer *tk, const char *prefix) {
  const struct smelt_tok *t = &tk->rt;
  struct ob o = {0};
  static const char *kinds[] = {"?", "SentencePiece BPE (scores)", "BPE (merge ranks)", "WordPiece"};
  static const char *pres[] = {"none", "gpt2", "llama3", "qwen2", "starcoder", "falcon"};
  ob_printf(&o, "/* tokenizer: %s, pre-tokenizer %s, %d tokens, %d merges, %d special; flags 0x%x */\n", kinds[t->kind < 4 ? t->kind : 0],
            pres[t->pre < 6 ? t->pre : 0], t->n_vocab, t->n_merges, t->n_special, t->flags);
  ob_ints(&o, "uint32_t", prefix, "off", NULL, NULL, t->off, NULL, NULL, (size_t)t->n_vocab + 1);
  size_t nb = t->off[t->n_vocab];
  if (nb) ob_ints(&o, "uint8_t", prefix, "text", NULL, NULL, NULL, t->text, NULL, nb);
  ob_ints(&o, "uint8_t", prefix, "attr", NULL, NULL, NULL, t->attr, NULL, (size_t)t->n_vocab);
  if (t->score) {
    ob_printf(&o, "static const float %s_tok_score[%d] = {", prefix, t->n_vocab);
    for (int32_t i = 0; i < t->n_vocab; i++) {
      char buf[48];
      int k = snprintf(buf, sizeof buf, "%s%.9gf,", i % 10 ? "" : "\n  ", (double)t->score[i]);
      if (!strchr(buf, '.') && !strchr(buf, 'e')) { /* "3f" is not a C constant */
        k = snprintf(buf, sizeof buf, "%s%.9g.0f,", i % 10 ? "" : "\n  ", (double)t->score[i]);
      }
      ob_put(&o, buf, (size_t)k);
    }
    ob_put(&o, "\n};\n", 4);
  }
  ob_ints(&o, "int32_t", prefix, "sorted", NULL, t->sorted, NULL, NULL, NULL, (size_t)t->n_sorted);
  ob_ints(&o, "int32_t", prefix, "byte", NULL, t->byte_tok, NULL, NULL, NULL, 256);
  if (t->n_merges) ob_ints(&o, "int32_t", prefix, "merges", NULL, t->merges, NULL, NULL, NULL, 4 * (size_t)t->n_merges);
  if (t->n_special) {
    ob_ints(&o, "int32_t", prefix, "special", NULL, t->special, NULL, NULL, NULL, (size_t)t->n_special);
    ob_ints(&o, "uint16_t", prefix, "special_len", NULL, NULL, NULL, NULL, t->special_len, (size_t)t->n_special_len);
  }
  ob_printf(&o, "static const struct smelt_tok %s_tok = {\n  %d, %d, %d, 0x%x,\n  %d, %d, %d, %d, %d,\n  %d, %d,\n", prefix, t->n_vocab, t->kind, t->pre, t->flags,
            t->bos, t->eos, t->unk, t->sep, t->pad, t->max_token_len, t->max_word_chars);
  ob_printf(&o, "  %s_tok_off, %s%s, %s_tok_attr, ", prefix, nb ? prefix : "NULL", nb ? "_tok_text" : "", prefix);
  if (t->score) ob_printf(&o, "%s_tok_score,\n", prefix);
  else ob_printf(&o, "NULL,\n");
  ob_printf(&o, "  %d, %s_tok_sorted, %s_tok_byte,\n", t->n_sorted, prefix, prefix);
  if (t->n_merges) ob_printf(&o, "  %d, %s_tok_merges,\n", t->n_merges, prefix);
  else ob_printf(&o, "  0, NULL,\n");
  if (t->n_special) ob_printf(&o, "  %d, %s_tok_special, %d, %s_tok_special_len,\n};\n", t->n_special, prefix, t->n_special_len, prefix);
  else ob_printf(&o, "  0, NULL, 0, NULL,\n};\n");
  if (o.oom) { free(o.p); smelt_errorf(cx, "out of memory writing the tokenizer tables"); return NULL; }
  char *r = smelt_alloc(cx, o.n + 1);
  if (r) memcpy(r, o.p, o.n + 1);
  free(o.p);
  return r;
}
