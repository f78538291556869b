/* runtime/smelt_tok.h — the tokenizers compiled into every generated LLM, over constant
 * tables the compiler generated (compiler/tokenizer.c writes `static const struct
 * smelt_tok NAME_tok`), so nothing is parsed at run time.
 *
 * Header-only and static; C99; no allocation, no stdio (builds with SMELT_FREESTANDING).
 * Encoding works in the caller's id buffer and bounded stack buffers (SMELT_TOK_MAXSYM
 * bytes per merge unit, about 20 * SMELT_TOK_MAXSYM bytes of stack), so long inputs are
 * processed in pieces: a pre-token (BPE) or a run of SentencePiece words longer than
 * SMELT_TOK_MAXSYM bytes is merged in pieces of that size, the only place where the
 * result can differ from the reference tokenizers.
 *
 * Algorithms (the behaviour of Hugging Face tokenizers and llama.cpp):
 *   SMELT_TOK_SPM  SentencePiece BPE by scores (GGUF "llama"): the text, with a U+2581
 *                  prefixed and spaces escaped to U+2581, is split into UTF-8 chars; the
 *                  adjacent pair whose concatenation is the best-scoring token merges
 *                  first (leftmost on ties); chars without a token become <0xNN> tokens.
 *   SMELT_TOK_BPE  BPE by merge ranks: byte-level (GPT-2's byte-to-char mapping; the
 *                  vocabulary is stored as raw bytes) after a regex pre-tokenizer
 *                  (GPT-2, Llama-3, Qwen2, StarCoder, Falcon rules, hand-written here),
 *                  or SentencePiece-like (Metaspace escaping, chars, byte fallback).
 *   SMELT_TOK_WPM  WordPiece: BERT's basic tokenizer (clean-up, optional lowercasing
 *                  and accent stripping, whitespace and punctuation splitting, CJK chars
 *                  alone), then greedy longest match per word; word-initial pieces are
 *                  stored with a U+2581 prefix, continuations ("##x") without.
 * Special and added tokens (control, user-defined, unknown) are matched in the text
 * first, leftmost-longest, and never merged with their neighbours. */
#ifndef SMELT_TOK_H
#define SMELT_TOK_H

#include <stddef.h>
#include <stdint.h>
#include "smelt_rt.h"
#include "smelt_unicode.h"

#ifndef SMELT_TOK_MAXSYM
#define SMELT_TOK_MAXSYM 512 /* bytes (and symbols) of one merge unit */
#endif

enum { SMELT_TOK_SPM = 1, SMELT_TOK_BPE = 2, SMELT_TOK_WPM = 3 };
/* BPE pre-tokenizers */
enum { SMELT_PRE_NONE = 0, SMELT_PRE_GPT2 = 1, SMELT_PRE_LLAMA3 = 2, SMELT_PRE_QWEN2 = 3, SMELT_PRE_STARCODER = 4, SMELT_PRE_FALCON = 5 };

/* token attributes: a kind in the low 3 bits, then flags */
#define SMELT_TA_NORMAL 0
#define SMELT_TA_CONTROL 1  /* BOS, EOS, <|im_start|>...: matched in text, decode to nothing */
#define SMELT_TA_USER 2     /* user-defined / added: matched in text, decode to their text */
#define SMELT_TA_UNKNOWN 3
#define SMELT_TA_BYTE 4     /* <0xNN> */
#define SMELT_TA_UNUSED 5
#define SMELT_TA_KIND 7
#define SMELT_TA_LSTRIP 8   /* matching it eats the whitespace before it */
#define SMELT_TA_RSTRIP 16  /* ... after it */

/* tokenizer flags */
#define SMELT_TOKF_BYTE_LEVEL 0x1      /* BPE over GPT-2-mapped bytes */
#define SMELT_TOKF_ESCAPE_SPACE 0x2    /* ' ' <-> U+2581 */
#define SMELT_TOKF_SPACE_PREFIX 0x4    /* prefix U+2581 to each text fragment */
#define SMELT_TOKF_PREFIX_FIRST 0x8    /* ... only to the one at the start of the text */
#define SMELT_TOKF_IGNORE_MERGES 0x10  /* a pre-token that is a token is emitted whole */
#define SMELT_TOKF_WORDS_EXACT 0x20    /* no token has U+2581 after another char */
#define SMELT_TOKF_LOWERCASE 0x40      /* WordPiece normalizer */
#define SMELT_TOKF_STRIP_ACCENTS 0x80
#define SMELT_TOKF_ADD_BOS 0x100       /* the model expects BOS first */
#define SMELT_TOKF_ADD_EOS 0x200       /* ... and EOS ([SEP]) last */
#define SMELT_TOKF_DECODE_STRIP 0x400  /* decoding from the start drops one leading space */

/* smelt_tok_encode flags (its add_bos argument) */
#define SMELT_TOK_BOS 1        /* add BOS (and EOS when the model wants it, as BERT's [SEP]) */
#define SMELT_TOK_NO_SPECIAL 2 /* control-token text is plain text (llama.cpp parse_special=false) */

struct smelt_tok {
  int32_t n_vocab;
  uint8_t kind, pre;
  uint16_t flags;
  int32_t bos, eos, unk, sep, pad;   /* -1 when none */
  int32_t max_token_len;             /* bytes */
  int32_t max_word_chars;            /* WordPiece: longer words are unk; 0 = no limit */
  const uint32_t *off;               /* n_vocab + 1 offsets into text */
  const uint8_t *text;               /* each token's bytes (see the kinds above) */
  const uint8_t *attr;               /* SMELT_TA_* per token */
  const float *score;                /* SPM: per token; else NULL */
  int32_t n_sorted;
  const int32_t *sorted;             /* token ids ordered by text, one per distinct text */
  const int32_t *byte_tok;           /* [256]: the token of one byte, or -1 */
  int32_t n_merges;
  const int32_t *merges;             /* BPE: {left, right, rank, result} ordered by (left, right) */
  int32_t n_special;
  const int32_t *special;            /* matchable special/added tokens ordered by text */
  int32_t n_special_len;
  const uint16_t *special_len;       /* their distinct lengths, longest first */
};

/* ---- Unicode ------------------------------------------------------------------------ */

/* Decodes one UTF-8 char at s[0..n) (n >= 1): its length; an invalid byte is a char of
 * its own with cp 0xFFFFFFFF (class "other"). */
static inline int smelt_utf8(const uint8_t *s, int n, uint32_t *cp) {
  uint8_t c = s[0];
  int len = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0;
  if (len == 1) { *cp = c; return 1; }
  if (!len || len > n) { *cp = 0xFFFFFFFFu; return 1; }
  uint32_t v = c & (0x7F >> len);
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFFFFFFu; return 1; }
    v = v << 6 | (s[i] & 0x3F);
  }
  *cp = v;
  return len;
}

static inline int smelt_utf8_put(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
  if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | cp >> 6); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
  if (cp < 0x10000) { o[0] = (uint8_t)(0xE0 | cp >> 12); o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); o[2] = (uint8_t)(0x80 | (cp & 0x3F)); return 3; }
  o[0] = (uint8_t)(0xF0 | cp >> 18); o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F)); o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

/* general-category class (smelt_unicode.h): 0 other 1 L 2 N 3 P 4 S 5 Mn 6 Mc/Me 7 Z */
static inline int smelt_u_class(uint32_t cp) {
  if (cp > 0x10FFFF) return 0;
  int lo = 0, hi = SMELT_U_NCLS - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if ((smelt_u_cls[mid] >> 3) <= cp) lo = mid;
    else hi = mid - 1;
  }
  return (int)(smelt_u_cls[lo] & 7);
}

/* the White_Space property (regex \s) */
static inline int smelt_u_space(uint32_t c) {
  return c == 0x20 || (c >= 9 && c <= 13) || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static inline uint32_t smelt_u_lower(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  int lo = 0, hi = SMELT_U_NLOWER - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if ((uint32_t)smelt_u_lowrun[mid][0] <= cp) lo = mid;
    else hi = mid - 1;
  }
  const int32_t *r = smelt_u_lowrun[lo];
  uint32_t d = cp - (uint32_t)r[0];
  if (cp >= (uint32_t)r[0] && d % (uint32_t)r[3] == 0 && d / (uint32_t)r[3] < (uint32_t)r[1]) return (uint32_t)((int32_t)cp + r[2]);
  return cp;
}

/* NFD of cp without nonspacing marks (BERT strip_accents) into o[0..3): the count. */
static inline int smelt_u_strip(uint32_t cp, uint32_t *o) {
  if (cp >= 0xAC00 && cp <= 0xD7A3) { /* Hangul syllable: L V (T) */
    uint32_t s = cp - 0xAC00;
    o[0] = 0x1100 + s / 588;
    o[1] = 0x1161 + s % 588 / 28;
    if (s % 28) { o[2] = 0x11A7 + s % 28; return 3; }
    return 2;
  }
  int lo = 0, hi = SMELT_U_NNFD - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (smelt_u_nfd_cp[mid] == cp) {
      int n = 0;
      for (int k = smelt_u_nfd_off[mid]; k < smelt_u_nfd_off[mid + 1] && n < 3; k++) o[n++] = smelt_u_nfd_pool[k];
      return n;
    }
    if (smelt_u_nfd_cp[mid] < cp) lo = mid + 1;
    else hi = mid - 1;
  }
  o[0] = cp;
  return 1;
}

/* ---- table lookups ------------------------------------------------------------------- */

static inline int smelt_tok_cmp(const uint8_t *a, int na, const uint8_t *b, int nb) {
  int n = na < nb ? na : nb;
  for (int i = 0; i < n; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return na < nb ? -1 : na > nb;
}

/* binary search of text s[0..n) in an id list ordered by text: the id or -1 */
static inline int32_t smelt_tok_search(const struct smelt_tok *t, const int32_t *list, int32_t count, const uint8_t *s, int n) {
  int32_t lo = 0, hi = count - 1;
  while (lo <= hi) {
    int32_t mid = lo + (hi - lo) / 2, id = list[mid];
    int c = smelt_tok_cmp(t->text + t->off[id], (int)(t->off[id + 1] - t->off[id]), s, n);
    if (!c) return id;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

static inline int32_t smelt_tok_find(const struct smelt_tok *t, const uint8_t *s, int n) {
  if (n <= 0 || n > t->max_token_len) return -1;
  return smelt_tok_search(t, t->sorted, t->n_sorted, s, n);
}

/* the merge of (l, r): its index or -1 */
static inline int32_t smelt_tok_merge(const struct smelt_tok *t, int32_t l, int32_t r) {
  int32_t lo = 0, hi = t->n_merges - 1;
  while (lo <= hi) {
    int32_t mid = lo + (hi - lo) / 2;
    const int32_t *m = t->merges + 4 * (size_t)mid;
    if (m[0] == l && m[1] == r) return mid;
    if (m[0] < l || (m[0] == l && m[1] < r)) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/* The bytes token id stands for in the tables (see the kinds above). */
static inline const uint8_t *smelt_tok_text(const struct smelt_tok *t, int32_t id, int *len) {
  *len = (int)(t->off[id + 1] - t->off[id]);
  return t->text + t->off[id];
}

/* ---- encoding ------------------------------------------------------------------------ */

struct smelt_tok_out { int32_t *ids; int n, max, err; };

static inline void smelt_tok_push(struct smelt_tok_out *o, int32_t id) {
  if (o->n >= o->max) { o->err = SMELT_E_NOSPACE; return; }
  o->ids[o->n++] = id;
}

struct smelt_tok_sym { uint16_t off, len; int32_t id, pid; float pri; };

/* the pair (a, b): the token it merges into (a->pid, -1 if none) and its priority */
static inline void smelt_tok_pair(const struct smelt_tok *t, const uint8_t *w, struct smelt_tok_sym *a, const struct smelt_tok_sym *b) {
  a->pid = -1;
  if (t->kind == SMELT_TOK_SPM) {
    int32_t id = smelt_tok_find(t, w + a->off, a->len + b->len);
    if (id >= 0) { a->pid = id; a->pri = t->score ? t->score[id] : 0.0f; }
  } else if (a->id >= 0 && b->id >= 0) {
    int32_t m = smelt_tok_merge(t, a->id, b->id);
    if (m >= 0) { a->pid = t->merges[4 * (size_t)m + 3]; a->pri = -(float)t->merges[4 * (size_t)m + 2]; }
  }
}

/* Merges the unit w[0..n) (n <= SMELT_TOK_MAXSYM) and emits its tokens. */
static inline void smelt_tok_merge_unit(const struct smelt_tok *t, const uint8_t *w, int n, struct smelt_tok_out *o) {
  struct smelt_tok_sym sy[SMELT_TOK_MAXSYM];
  int ns = 0;
  if (n <= 0) return;
  for (int p = 0; p < n && ns < SMELT_TOK_MAXSYM;) {
    uint32_t cp;
    int l = (t->flags & SMELT_TOKF_BYTE_LEVEL) ? 1 : smelt_utf8(w + p, n - p, &cp);
    sy[ns].off = (uint16_t)p;
    sy[ns].len = (uint16_t)l;
    sy[ns].id = (t->flags & SMELT_TOKF_BYTE_LEVEL) ? t->byte_tok[w[p]] : smelt_tok_find(t, w + p, l);
    ns++;
    p += l;
  }
  for (int i = 0; i + 1 < ns; i++) smelt_tok_pair(t, w, &sy[i], &sy[i + 1]);
  sy[ns - 1].pid = -1;
  for (;;) {
    int b = -1;
    for (int i = 0; i + 1 < ns; i++)
      if (sy[i].pid >= 0 && (b < 0 || sy[i].pri > sy[b].pri)) b = i;
    if (b < 0) break;
    sy[b].len = (uint16_t)(sy[b].len + sy[b + 1].len);
    sy[b].id = sy[b].pid;
    for (int i = b + 1; i + 1 < ns; i++) sy[i] = sy[i + 1];
    ns--;
    if (b > 0) smelt_tok_pair(t, w, &sy[b - 1], &sy[b]);
    if (b + 1 < ns) smelt_tok_pair(t, w, &sy[b], &sy[b + 1]);
    else sy[b].pid = -1;
  }
  for (int i = 0; i < ns; i++) {
    if (sy[i].id >= 0) { smelt_tok_push(o, sy[i].id); continue; }
    int all = 1; /* byte fallback, else unk */
    for (int k = 0; k < sy[i].len; k++) all &= t->byte_tok[w[sy[i].off + k]] >= 0;
    if (all)
      for (int k = 0; k < sy[i].len; k++) smelt_tok_push(o, t->byte_tok[w[sy[i].off + k]]);
    else if (t->unk >= 0) smelt_tok_push(o, t->unk);
  }
}

/* longest prefix of w[0..n) that is whole chars and at most max bytes */
static inline int smelt_tok_cut(const uint8_t *w, int n, int max) {
  if (n <= max) return n;
  int k = max;
  while (k > 1 && (w[k] & 0xC0) == 0x80) k--;
  return k;
}

/* A BPE pre-token: emitted whole when it is a token and the model says so, else merged
 * (in pieces when it is longer than a merge unit). */
static inline void smelt_tok_bpe_word(const struct smelt_tok *t, const uint8_t *w, int n, struct smelt_tok_out *o) {
  if (t->flags & SMELT_TOKF_IGNORE_MERGES) {
    int32_t id = smelt_tok_find(t, w, n);
    if (id >= 0) { smelt_tok_push(o, id); return; }
  }
  while (n > 0) {
    int k = smelt_tok_cut(w, n, SMELT_TOK_MAXSYM);
    smelt_tok_merge_unit(t, w, k, o);
    w += k;
    n -= k;
  }
}

/* SentencePiece-style text (SPM, or BPE with Metaspace): escaped into a buffer with the
 * prefix; words (a U+2581 after another char starts one) merge alone when no token spans
 * such a boundary, else runs of words up to the buffer size. */
static inline void smelt_tok_spm_fragment(const struct smelt_tok *t, const uint8_t *s, int n, int prefix, struct smelt_tok_out *o) {
  uint8_t buf[SMELT_TOK_MAXSYM];
  int m = 0, last = 0, prev_sp = 0, p = 0;
  int esc = (t->flags & SMELT_TOKF_ESCAPE_SPACE) != 0;
  while (p < n || prefix) {
    uint8_t ch[4];
    int cl, sp;
    if (prefix) { ch[0] = 0xE2; ch[1] = 0x96; ch[2] = 0x81; cl = 3; sp = 1; prefix = 0; }
    else if (esc && s[p] == ' ') { ch[0] = 0xE2; ch[1] = 0x96; ch[2] = 0x81; cl = 3; sp = 1; p++; }
    else {
      uint32_t cp;
      cl = smelt_utf8(s + p, n - p, &cp);
      for (int k = 0; k < cl; k++) ch[k] = s[p + k];
      sp = cp == 0x2581;
      p += cl;
    }
    if (sp && !prev_sp && m > 0) { /* a word starts */
      if (t->flags & SMELT_TOKF_WORDS_EXACT) { smelt_tok_merge_unit(t, buf, m, o); m = 0; }
      last = m;
    }
    if (m + cl > SMELT_TOK_MAXSYM) { /* full: merge up to the last word start, or all */
      int k = last > 0 ? last : m;
      smelt_tok_merge_unit(t, buf, k, o);
      for (int i = k; i < m; i++) buf[i - k] = buf[i];
      m -= k;
      last = 0;
    }
    for (int k = 0; k < cl; k++) buf[m++] = ch[k];
    prev_sp = sp;
  }
  smelt_tok_merge_unit(t, buf, m, o);
}

/* ---- regex pre-tokenizers, hand-written ---------------------------------------------- */

/* regex class of the char at s[p] (p < e): 0 \s, 1 \p{L}, 2 \p{N}, 3 anything else */
static inline int smelt_tok_rc(const uint8_t *s, int p, int e, int *len, uint32_t *cpo) {
  uint32_t cp;
  *len = smelt_utf8(s + p, e - p, &cp);
  if (cpo) *cpo = cp;
  if (smelt_u_space(cp)) return 0;
  int c = smelt_u_class(cp);
  return c == 1 ? 1 : c == 2 ? 2 : 3;
}

/* end of the run of chars of regex class k from p */
static inline int smelt_tok_run(const uint8_t *s, int p, int e, int k) {
  int l;
  while (p < e && smelt_tok_rc(s, p, e, &l, NULL) == k) p += l;
  return p;
}

/* \s+(?!\S)|\s+ from p (a whitespace char): the end of the match */
static inline int smelt_tok_ws(const uint8_t *s, int p, int e) {
  int q = p, lastc = p, l;
  while (q < e && smelt_tok_rc(s, q, e, &l, NULL) == 0) { lastc = q; q += l; }
  if (q == e || lastc == p) return q;
  return lastc;
}

/* 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when ci): length or 0 */
static inline int smelt_tok_contraction(const uint8_t *s, int p, int e, int ci) {
  if (s[p] != '\'' || p + 1 >= e) return 0;
  uint8_t a = s[p + 1], b = p + 2 < e ? s[p + 2] : 0;
  if (ci) { a = (uint8_t)(a >= 'A' && a <= 'Z' ? a + 32 : a); b = (uint8_t)(b >= 'A' && b <= 'Z' ? b + 32 : b); }
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static inline int smelt_tok_gpt2(const uint8_t *s, int p, int e) {
  int l0, l1, c = smelt_tok_contraction(s, p, e, 0);
  if (c) return p + c;
  int k0 = smelt_tok_rc(s, p, e, &l0, NULL);
  if (s[p] == ' ' && p + 1 < e) {
    int k1 = smelt_tok_rc(s, p + 1, e, &l1, NULL);
    if (k1) return smelt_tok_run(s, p + 1, e, k1);
  }
  if (k0) return smelt_tok_run(s, p, e, k0);
  return smelt_tok_ws(s, p, e);
}

/* Llama-3 (ndig 3) and Qwen2 (ndig 1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,ndig}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
static inline int smelt_tok_llama3(const uint8_t *s, int p, int e, int ndig) {
  int l0, l1;
  uint32_t c0;
  int c = smelt_tok_contraction(s, p, e, 1);
  if (c) return p + c;
  int k0 = smelt_tok_rc(s, p, e, &l0, &c0);
  int k1 = p + l0 < e ? smelt_tok_rc(s, p + l0, e, &l1, NULL) : -1;
  if (k0 == 1) return smelt_tok_run(s, p, e, 1);
  if (k0 != 2 && c0 != '\r' && c0 != '\n' && k1 == 1) return smelt_tok_run(s, p + l0, e, 1);
  if (k0 == 2) {
    int q = p;
    for (int i = 0; i < ndig && q < e && smelt_tok_rc(s, q, e, &l1, NULL) == 2; i++) q += l1;
    return q;
  }
  int q = -1;
  if (c0 == ' ' && k1 == 3) q = p + 1;
  else if (k0 == 3) q = p;
  if (q >= 0) {
    q = smelt_tok_run(s, q, e, 3);
    while (q < e && (s[q] == '\r' || s[q] == '\n')) q++;
    return q;
  }
  /* whitespace: \s*[\r\n]+ ends after the run's last \r or \n */
  int r = p, nl = -1;
  while (r < e && smelt_tok_rc(s, r, e, &l1, &c0) == 0) {
    if (c0 == '\r' || c0 == '\n') nl = r;
    r += l1;
  }
  if (nl >= 0) return nl + 1;
  return smelt_tok_ws(s, p, e);
}

static inline int smelt_tok_is_punct(const uint8_t *s, int p, int e, int *l) {
  uint32_t cp;
  *l = smelt_utf8(s + p, e - p, &cp);
  if (cp < 0x80) return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
  return smelt_u_class(cp) == 3;
}

static inline int smelt_tok_dig3(const uint8_t *s, int p, int e) {
  return p + 3 <= e && s[p] >= '0' && s[p] <= '9' && s[p + 1] >= '0' && s[p + 1] <= '9' && s[p + 2] >= '0' && s[p + 2] <= '9';
}

enum { SMELT_ST_GPT2, SMELT_ST_LLAMA3, SMELT_ST_QWEN2, SMELT_ST_DIGIT, SMELT_ST_PUNCT, SMELT_ST_DIG3 };

/* end of the next piece from p of one stage (matches and the gaps between them) */
static inline int smelt_tok_stage(int st, const uint8_t *s, int p, int e) {
  int l;
  switch (st) {
  case SMELT_ST_GPT2: return smelt_tok_gpt2(s, p, e);
  case SMELT_ST_LLAMA3: return smelt_tok_llama3(s, p, e, 3);
  case SMELT_ST_QWEN2: return smelt_tok_llama3(s, p, e, 1);
  case SMELT_ST_DIGIT: /* \p{N}, isolated */
    if (smelt_tok_rc(s, p, e, &l, NULL) == 2) return p + l;
    while (p < e && smelt_tok_rc(s, p, e, &l, NULL) != 2) p += l;
    return p;
  case SMELT_ST_PUNCT: /* [\p{P}\$\+<=>\^~\|`]+, isolated */
    if (smelt_tok_is_punct(s, p, e, &l)) {
      while (p < e && smelt_tok_is_punct(s, p, e, &l)) p += l;
      return p;
    }
    while (p < e && !smelt_tok_is_punct(s, p, e, &l)) p += l;
    return p;
  default: /* [0-9][0-9][0-9], isolated */
    if (smelt_tok_dig3(s, p, e)) return p + 3;
    while (p < e && !smelt_tok_dig3(s, p, e)) p++;
    return p;
  }
}

/* Splits s[a..b) with stages[0], each piece with the next stages, and merges the words. */
static inline void smelt_tok_pretok(const struct smelt_tok *t, const uint8_t *s, int a, int b, const uint8_t *stages, int ns, struct smelt_tok_out *o) {
  while (a < b && !o->err) {
    int e = smelt_tok_stage(stages[0], s, a, b);
    if (e <= a) e = a + 1; /* never stalls */
    if (ns > 1) smelt_tok_pretok(t, s, a, e, stages + 1, ns - 1, o);
    else smelt_tok_bpe_word(t, s + a, e - a, o);
    a = e;
  }
}

/* ---- WordPiece ------------------------------------------------------------------------- */

static inline int smelt_tok_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* greedy longest match of the word w[0..n) ("\u2581" + word): the pieces, or unk when
 * some part matches no piece (or the word is too long) */
static inline int smelt_tok_wpm_greedy(const struct smelt_tok *t, const uint8_t *w, int n, struct smelt_tok_out *o) {
  for (int i = 0; i < n;) {
    int j = i + t->max_token_len < n ? i + t->max_token_len : n;
    int32_t id = -1;
    for (; j > i; j--)
      if ((id = smelt_tok_find(t, w + i, j - i)) >= 0) break;
    if (id < 0) return -1;
    if (o) smelt_tok_push(o, id);
    i = j;
  }
  return 0;
}

static inline void smelt_tok_wpm_word(const struct smelt_tok *t, const uint8_t *w, int n, int nchars, int over, struct smelt_tok_out *o) {
  if (n <= 3) return;
  if (!over && (!t->max_word_chars || nchars <= t->max_word_chars) && !smelt_tok_wpm_greedy(t, w, n, NULL)) {
    smelt_tok_wpm_greedy(t, w, n, o);
    return;
  }
  if (t->unk >= 0) smelt_tok_push(o, t->unk);
}

static inline void smelt_tok_wpm_fragment(const struct smelt_tok *t, const uint8_t *s, int n, struct smelt_tok_out *o) {
  uint8_t w[SMELT_TOK_MAXSYM];
  int m = 3, nchars = 0, over = 0;
  w[0] = 0xE2; w[1] = 0x96; w[2] = 0x81;
  for (int p = 0; p < n;) {
    uint32_t cp, d[3];
    p += smelt_utf8(s + p, n - p, &cp);
    if (cp == '\t' || cp == '\n' || cp == '\r' || smelt_u_space(cp)) {
      smelt_tok_wpm_word(t, w, m, nchars, over, o);
      m = 3; nchars = 0; over = 0;
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || cp == 0xFFFFFFFFu || smelt_u_class(cp) == 0) continue;
    int nd = (t->flags & SMELT_TOKF_STRIP_ACCENTS) ? smelt_u_strip(cp, d) : (d[0] = cp, 1);
    for (int k = 0; k < nd; k++) {
      uint32_t c = d[k];
      int cls = smelt_u_class(c);
      if ((t->flags & SMELT_TOKF_STRIP_ACCENTS) && cls == 5) continue;
      if (t->flags & SMELT_TOKF_LOWERCASE) c = smelt_u_lower(c);
      uint8_t u[4];
      int ul = smelt_utf8_put(c, u);
      int alone = cls == 3 || (c < 0x7F && cls == 4) || smelt_tok_cjk(c);
      if (alone) {
        smelt_tok_wpm_word(t, w, m, nchars, over, o);
        for (int i = 0; i < ul; i++) w[3 + i] = u[i];
        smelt_tok_wpm_word(t, w, 3 + ul, 1, 0, o);
        m = 3; nchars = 0; over = 0;
        continue;
      }
      if (m + ul > SMELT_TOK_MAXSYM) over = 1;
      else { for (int i = 0; i < ul; i++) w[m++] = u[i]; }
      nchars++;
    }
  }
  smelt_tok_wpm_word(t, w, m, nchars, over, o);
}

/* ---- fragments and special tokens ---------------------------------------------------- */

static inline void smelt_tok_fragment(const struct smelt_tok *t, const uint8_t *s, int n, int at_start, struct smelt_tok_out *o) {
  static const uint8_t st_gpt2[] = {SMELT_ST_GPT2}, st_llama3[] = {SMELT_ST_LLAMA3}, st_qwen2[] = {SMELT_ST_QWEN2},
                       st_star[] = {SMELT_ST_DIGIT, SMELT_ST_GPT2}, st_falcon[] = {SMELT_ST_PUNCT, SMELT_ST_GPT2, SMELT_ST_DIG3};
  if (n <= 0) return;
  if (t->kind == SMELT_TOK_WPM) { smelt_tok_wpm_fragment(t, s, n, o); return; }
  if (!(t->flags & SMELT_TOKF_BYTE_LEVEL)) {
    int prefix = (t->flags & SMELT_TOKF_SPACE_PREFIX) && (at_start || !(t->flags & SMELT_TOKF_PREFIX_FIRST));
    smelt_tok_spm_fragment(t, s, n, prefix, o);
    return;
  }
  switch (t->pre) {
  case SMELT_PRE_LLAMA3: smelt_tok_pretok(t, s, 0, n, st_llama3, 1, o); break;
  case SMELT_PRE_QWEN2: smelt_tok_pretok(t, s, 0, n, st_qwen2, 1, o); break;
  case SMELT_PRE_STARCODER: smelt_tok_pretok(t, s, 0, n, st_star, 2, o); break;
  case SMELT_PRE_FALCON: smelt_tok_pretok(t, s, 0, n, st_falcon, 3, o); break;
  case SMELT_PRE_GPT2: smelt_tok_pretok(t, s, 0, n, st_gpt2, 1, o); break;
  default: smelt_tok_bpe_word(t, s, n, o); break;
  }
}

/* the longest special token at s[p..n) allowed by flags: its id (and *len) or -1 */
static inline int32_t smelt_tok_special_at(const struct smelt_tok *t, const uint8_t *s, int p, int n, int flags, int *len) {
  for (int k = 0; k < t->n_special_len; k++) {
    int l = t->special_len[k];
    if (l > n - p) continue;
    int32_t id = smelt_tok_search(t, t->special, t->n_special, s + p, l);
    if (id < 0) continue;
    int kind = t->attr[id] & SMELT_TA_KIND;
    if ((flags & SMELT_TOK_NO_SPECIAL) && kind != SMELT_TA_USER) continue;
    *len = l;
    return id;
  }
  return -1;
}

static inline int smelt_tok_isspace(uint8_t c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Encodes text[0..len) into ids[0..max_ids): the count, or SMELT_E_NOSPACE when the ids
 * do not fit, SMELT_E_NULL / SMELT_E_ARG on bad arguments.  flags: SMELT_TOK_BOS adds
 * the BOS (the model's add_bos tells whether it wants one), SMELT_TOK_NO_SPECIAL. */
static inline int smelt_tok_encode(const struct smelt_tok *t, const char *text, int len, int add_bos, int32_t *ids, int max_ids) {
  if (!t || (!text && len) || (!ids && max_ids)) return SMELT_E_NULL;
  if (len < 0 || max_ids < 0) return SMELT_E_ARG;
  const uint8_t *s = (const uint8_t *)text;
  struct smelt_tok_out o = {ids, 0, max_ids, 0};
  if ((add_bos & SMELT_TOK_BOS) && t->bos >= 0) smelt_tok_push(&o, t->bos);
  int a = 0, p = 0;
  while (p < len && !o.err) {
    int l = 0;
    int32_t id = t->n_special ? smelt_tok_special_at(t, s, p, len, add_bos, &l) : -1;
    if (id < 0) { p++; continue; }
    int e = p;
    if (t->attr[id] & SMELT_TA_LSTRIP)
      while (e > a && smelt_tok_isspace(s[e - 1])) e--;
    smelt_tok_fragment(t, s + a, e - a, a == 0, &o);
    smelt_tok_push(&o, id);
    p += l;
    if (t->attr[id] & SMELT_TA_RSTRIP)
      while (p < len && smelt_tok_isspace(s[p])) p++;
    a = p;
  }
  if (!o.err) smelt_tok_fragment(t, s + a, len - a, a == 0, &o);
  if ((add_bos & SMELT_TOK_BOS) && (t->flags & SMELT_TOKF_ADD_EOS) && t->eos >= 0) smelt_tok_push(&o, t->eos);
  return o.err ? o.err : o.n;
}

/* ---- streaming decode ------------------------------------------------------------------ */

/* Text is emitted in whole UTF-8 chars: the bytes of a char split across tokens (byte
 * tokens, byte-level pieces) wait in the stream until it completes; invalid bytes come
 * out as U+FFFD.  at_start: the ids begin the text (after BOS), so a SentencePiece
 * tokenizer's prefix space is dropped from the first piece, as SentencePiece does. */
struct smelt_tok_stream { uint8_t pend[4]; uint8_t npend, strip, pad[2]; };

static inline void smelt_tok_stream_init(struct smelt_tok_stream *st, int at_start) {
  st->npend = 0;
  st->strip = (uint8_t)(at_start != 0);
  st->pad[0] = st->pad[1] = 0;
}

static inline int smelt_tok_hex(uint8_t c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static inline int smelt_tok_seqlen(uint8_t c) { return c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xF0 && c < 0xF5 ? 4 : 0; }

/* feeds one byte through the UTF-8 assembler; writes to out when out is not NULL */
static inline int smelt_tok_feed(struct smelt_tok_stream *st, uint8_t x, char *out, int n) {
  for (;;) {
    if (!st->npend) {
      int sl = smelt_tok_seqlen(x);
      if (sl == 1) { if (out) out[n] = (char)x; return n + 1; }
      if (sl) { st->pend[st->npend++] = x; return n; }
      if (out) { out[n] = (char)0xEF; out[n + 1] = (char)0xBF; out[n + 2] = (char)0xBD; }
      return n + 3;
    }
    if ((x & 0xC0) == 0x80) {
      st->pend[st->npend++] = x;
      if (st->npend == smelt_tok_seqlen(st->pend[0])) {
        if (out)
          for (int i = 0; i < st->npend; i++) out[n + i] = (char)st->pend[i];
        n += st->npend;
        st->npend = 0;
      }
      return n;
    }
    /* an incomplete char: U+FFFD, then x again */
    if (out) { out[n] = (char)0xEF; out[n + 1] = (char)0xBF; out[n + 2] = (char)0xBD; }
    n += 3;
    st->npend = 0;
  }
}

/* runs token id through the stream; out NULL counts only */
static inline int smelt_tok_decode_run(const struct smelt_tok *t, struct smelt_tok_stream *st, int32_t id, char *out) {
  int kind = t->attr[id] & SMELT_TA_KIND, len, n = 0;
  const uint8_t *p = smelt_tok_text(t, id, &len);
  if (kind == SMELT_TA_CONTROL || kind == SMELT_TA_UNKNOWN || kind == SMELT_TA_UNUSED) return 0;
  if (kind == SMELT_TA_BYTE && len == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && smelt_tok_hex(p[3]) >= 0 && smelt_tok_hex(p[4]) >= 0) {
    uint8_t b = (uint8_t)(smelt_tok_hex(p[3]) * 16 + smelt_tok_hex(p[4]));
    if (st->strip && b == ' ' && (t->flags & SMELT_TOKF_DECODE_STRIP)) { st->strip = 0; return 0; }
    st->strip = 0;
    return smelt_tok_feed(st, b, out, 0);
  }
  int esc = kind == SMELT_TA_NORMAL && (t->flags & SMELT_TOKF_ESCAPE_SPACE);
  for (int i = 0; i < len; i++) {
    uint8_t c = p[i];
    if (esc && c == 0xE2 && i + 2 < len && p[i + 1] == 0x96 && p[i + 2] == 0x81) { c = ' '; i += 2; }
    if (st->strip) {
      st->strip = 0;
      if (c == ' ' && (t->flags & SMELT_TOKF_DECODE_STRIP)) continue;
    }
    n = smelt_tok_feed(st, c, out, n);
  }
  return n;
}

/* Decodes one token into out[0..max): the bytes written (whole UTF-8 chars only), or
 * SMELT_E_INDEX for a bad id, SMELT_E_NOSPACE when out is too small (nothing consumed). */
static inline int smelt_tok_decode(const struct smelt_tok *t, struct smelt_tok_stream *st, int32_t id, char *out, int max) {
  if (!t || !st || (!out && max)) return SMELT_E_NULL;
  if (id < 0 || id >= t->n_vocab) return SMELT_E_INDEX;
  struct smelt_tok_stream probe = *st;
  int need = smelt_tok_decode_run(t, &probe, id, NULL);
  if (need > max) return SMELT_E_NOSPACE;
  return smelt_tok_decode_run(t, st, id, out);
}

/* What is left in the stream at the end of the text (an incomplete char: U+FFFD). */
static inline int smelt_tok_decode_flush(struct smelt_tok_stream *st, char *out, int max) {
  if (!st->npend) return 0;
  if (max < 3) return SMELT_E_NOSPACE;
  st->npend = 0;
  out[0] = (char)0xEF; out[1] = (char)0xBF; out[2] = (char)0xBD;
  return 3;
}

#endif
