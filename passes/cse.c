/* passes/cse.c — common subexpression elimination.
 *
 * Expects: any verified graph.
 * Guarantees: identical constants are stored once (smelt_dedup_consts, shared with
 * fold); then two live nodes with the same op, attributes and inputs (in either
 * order for OPF_COMMUTES ops) compute the same values, so the later one's readers
 * read the earlier one's outputs and the later one is dropped.  Nodes are keyed by
 * the XXH3 of (op, input ids, attributes) and compared exactly on a hash match.
 * Bit-exact: the interpreter's results do not change.  Not merged: OPF_INPLACE
 * nodes (they update a state) and nodes whose outputs are graph outputs (their
 * names are part of the generated API). */
#include "passes.h"

#include <stdlib.h>
#include <string.h>

struct hbuf { unsigned char *p; size_t n, cap; int oom; };

static void put(struct hbuf *b, const void *d, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->n + n) cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (!q) { b->oom = 1; return; }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, d, n);
  b->n += n;
}

/* inputs in a canonical order: sorted when the op commutes */
static void canon_inputs(const smelt_node *n, int *in) {
  memcpy(in, n->in, sizeof(int) * (size_t)n->nin);
  if ((smelt_op_flags(n->op) & OPF_COMMUTES) && n->nin == 2 && in[0] > in[1]) { int t = in[0]; in[0] = in[1]; in[1] = t; }
}

static uint64_t node_key(const smelt_node *n, struct hbuf *b, int *in) {
  b->n = 0;
  int hdr[3] = {(int)n->op, n->nin, n->nout};
  put(b, hdr, sizeof hdr);
  canon_inputs(n, in);
  put(b, in, sizeof(int) * (size_t)n->nin);
  for (int k = 0; k < n->nout; k++) { int present = n->out[k] >= 0; put(b, &present, sizeof present); }
  for (int i = 0; i < n->nattr; i++) {
    const smelt_attr *a = &n->attrs[i];
    put(b, a->key, strlen(a->key) + 1);
    int t = (int)a->type;
    put(b, &t, sizeof t);
    put(b, &a->i, sizeof a->i);
    put(b, &a->f, sizeof a->f);
    put(b, &a->n, sizeof a->n);
    if (a->type == SMELT_A_INTS && a->n) put(b, a->is, sizeof(int64_t) * (size_t)a->n);
    if (a->type == SMELT_A_FLOATS && a->n) put(b, a->fs, sizeof(double) * (size_t)a->n);
    if (a->type == SMELT_A_STR && a->s) put(b, a->s, strlen(a->s) + 1);
  }
  return b->oom ? 0 : smelt_hash(b->p, b->n);
}

static int same_attr(const smelt_attr *x, const smelt_attr *y) {
  if (strcmp(x->key, y->key) || x->type != y->type) return 0;
  switch (x->type) {
  case SMELT_A_INT: case SMELT_A_DTYPE: return x->i == y->i;
  case SMELT_A_FLOAT: return !memcmp(&x->f, &y->f, sizeof x->f); /* bits: -0 and NaN payloads differ */
  case SMELT_A_STR: return !strcmp(x->s ? x->s : "", y->s ? y->s : "");
  case SMELT_A_INTS: return x->n == y->n && (!x->n || !memcmp(x->is, y->is, sizeof(int64_t) * (size_t)x->n));
  case SMELT_A_FLOATS: return x->n == y->n && (!x->n || !memcmp(x->fs, y->fs, sizeof(double) * (size_t)x->n));
  }
  return 0;
}

static int same_node(const smelt_node *a, const smelt_node *b, int *ia, int *ib) {
  if (a->op != b->op || a->nin != b->nin || a->nout != b->nout || a->nattr != b->nattr) return 0;
  canon_inputs(a, ia);
  canon_inputs(b, ib);
  if (memcmp(ia, ib, sizeof(int) * (size_t)a->nin)) return 0;
  for (int k = 0; k < a->nout; k++)
    if ((a->out[k] >= 0) != (b->out[k] >= 0)) return 0;
  for (int i = 0; i < a->nattr; i++)
    if (!same_attr(&a->attrs[i], &b->attrs[i])) return 0;
  return 1;
}

int smelt_pass_cse(smelt_ctx *cx, smelt_graph *g) {
  if (smelt_dedup_consts(g) < 0) return SMELT_ERR;
  int nv = g->nvalues, nn = g->nnodes, maxin = 1;
  for (int ni = 0; ni < nn; ni++)
    if (g->nodes[ni].nin > maxin) maxin = g->nodes[ni].nin;
  size_t cap = 16;
  while (cap < 2 * (size_t)nn) cap *= 2;
  int *repl = smelt_alloc(cx, sizeof(int) * ((size_t)nv + 1)), *tab = smelt_alloc(cx, sizeof(int) * cap);
  uint64_t *key = smelt_alloc(cx, sizeof(uint64_t) * ((size_t)nn + 1));
  int *ia = smelt_alloc(cx, sizeof(int) * (size_t)maxin), *ib = smelt_alloc(cx, sizeof(int) * (size_t)maxin);
  char *isout = smelt_alloc(cx, (size_t)nv + 1);
  if (!repl || !tab || !key || !ia || !ib || !isout) return SMELT_ERR;
  for (int v = 0; v < nv; v++) repl[v] = v;
  for (size_t i = 0; i < cap; i++) tab[i] = -1;
  for (int i = 0; i < g->noutputs; i++) isout[g->outputs[i]] = 1;
  struct hbuf b = {0};
  int merged = 0;
  for (int ni = 0; ni < nn; ni++) {
    smelt_node *n = &g->nodes[ni];
    if (n->dead) continue;
    for (int k = 0; k < n->nin; k++) n->in[k] = repl[n->in[k]]; /* readers of merged nodes read the survivors */
    if (smelt_op_flags(n->op) & OPF_INPLACE) continue;
    key[ni] = node_key(n, &b, ia);
    if (b.oom) { free(b.p); return smelt_errorf(cx, "out of memory"); }
    int out_is_output = 0;
    for (int k = 0; k < n->nout; k++) out_is_output |= n->out[k] >= 0 && isout[n->out[k]];
    size_t h = (size_t)key[ni] & (cap - 1);
    int found = -1;
    for (; tab[h] >= 0; h = (h + 1) & (cap - 1))
      if (key[tab[h]] == key[ni] && same_node(&g->nodes[tab[h]], n, ia, ib)) { found = tab[h]; break; }
    if (found < 0) { tab[h] = ni; continue; }
    if (out_is_output) continue;
    for (int k = 0; k < n->nout; k++)
      if (n->out[k] >= 0) repl[n->out[k]] = g->nodes[found].out[k];
    n->dead = 1;
    merged++;
  }
  free(b.p);
  smelt_graph_compact(g);
  smelt_logf(cx, 2, "cse: %d nodes merged", merged);
  return 0;
}
