/* backends/c/k_fused.c — the C kernel of a Fused node (ops.def, ir/fused.h).
 *
 * An elementwise chain becomes one loop over the output: each input is loaded once
 * per element (broadcast by its strides), each step is computed in the same type
 * the unfused kernel uses (float for f32) and kept in a local, and only the last
 * one is stored, so intermediates never touch memory.
 *
 * With an anchor (MatMul or Conv at step 0) the anchor's ordinary kernel — the
 * target backend's if it has one, else the generic one — is emitted as a helper
 * function just before the Fused kernel (emit_fused_pre), and the Fused kernel
 * calls it into y0, then runs the epilogue steps in place over y0.  Every
 * quantized-weight or target-specific MatMul kernel thus keeps working unchanged. */
#include "cgen.h"
#include "ir/fused.h"

#include <stdlib.h>
#include <string.h>

typedef int (*emit_fn)(struct cg *, const smelt_node *);
static const emit_fn emit_tab[] = {
#define OP(id, name, nimin, nimax, nomin, nomax, attrs, shape, kind, flags, fe, ie) emit_##kind,
#include "ir/ops.def"
#undef OP
};

static struct smelt_fused_prog *parse(struct cg *c, const smelt_node *n) {
  struct smelt_fused_prog *p = smelt_alloc(c->cx, sizeof *p);
  if (!p || smelt_fused_parse(c->cx, n, p)) return NULL;
  return p;
}

/* A prologue's norm, emitted as helper NAME_kI_n(ctx, its inputs..., y0): its rows
 * are the node's row count as ctx says (the Fused kernel passes a copy of ctx whose
 * row symbol is one chunk's). */
static int emit_prologue_pre(struct cg *c, const smelt_node *n, const struct smelt_fused_prog *p, int *xid) {
  smelt_node nm;
  int *args = smelt_alloc(c->cx, sizeof(int) * 4);
  if (!args) return SMELT_ERR;
  smelt_fused_step_node(n, p, 0, n->in, NULL, &nm, args);
  *xid = nm.in[0];
  nm.out = xid; /* the normed rows have X's type (the node's own value stands in) */
  sb_printf(c->b, "/* %s '%s': the prologue of the fused kernel below, over a chunk of rows */\n", smelt_op_info(nm.op)->name, n->name);
  sb_puts(c->b, "#if defined(__GNUC__)\n__attribute__((noinline))\n#endif\n");
  sb_printf(c->b, "static int %s_n(const %s_ctx *ctx", c->kname, c->o->name);
  for (int i = 0; i < nm.nin; i++) sb_printf(c->b, ", const %s *restrict x%d", smelt_dtype_ctype(cg_in(c, &nm, i)->dt), i);
  sb_printf(c->b, ", %s *restrict y0) {\n", smelt_dtype_ctype(cg_in(c, &nm, 0)->dt));
  c->indent = 1;
  if (emit_tab[nm.op](c, &nm)) return SMELT_ERR;
  sb_puts(c->b, "  return 0;\n}\n\n");
  return 0;
}

int emit_fused_pre(struct cg *c, const smelt_node *n) {
  if (n->op != SMELT_OP_FUSED) return 0;
  struct smelt_fused_prog *p = parse(c, n);
  if (!p) return SMELT_ERR;
  if (!p->anchor) return 0;
  smelt_node an;
  int *args = smelt_alloc(c->cx, sizeof(int) * 4), xid = -1;
  if (!args) return SMELT_ERR;
  if (p->pro && emit_prologue_pre(c, n, p, &xid)) return SMELT_ERR;
  smelt_fused_step_node(n, p, p->pro, n->in, &xid, &an, args); /* a prologue's rows: X's type */
  an.out = n->out; /* the anchor writes y0 */
  const char *N = c->o->name;
  sb_printf(c->b, "/* %s '%s': the anchor of the fused kernel below */\n", smelt_op_info(an.op)->name, n->name);
  /* kept out of line: inlined into the Fused kernel (and so into NAME_run), GCC
   * compiled mnist-8's convolutions 40% slower; called, they run as fast as alone */
  /* unused when the target runs the whole chain (smc_conv_epi: backends/simd_conv.c) */
  sb_puts(c->b, "#if defined(__GNUC__)\n__attribute__((noinline, unused))\n#endif\n");
  sb_printf(c->b, "static int %s_a(const %s_ctx *ctx", c->kname, N);
  for (int i = 0; i < an.nin; i++) sb_printf(c->b, ", const %s *restrict x%d", smelt_dtype_ctype(cg_in(c, &an, i)->dt), i);
  sb_printf(c->b, ", %s *restrict y0) {\n", smelt_dtype_ctype(cg_out(c, &an, 0)->dt));
  c->indent = 1;
  int handled = c->o->kernels ? c->o->kernels(c, &an) : 1; /* the target backend first */
  if (handled < 0 || (handled > 0 && emit_tab[an.op](c, &an))) return SMELT_ERR;
  sb_puts(c->b, "  return 0;\n}\n\n");
  return 0;
}

/* The norm and the anchor over chunks of rows: each chunk is normalized into a stack
 * buffer (SMELT_FUSED_PRO_BYTES at most) and multiplied from there into its rows of y0,
 * so the normed activations never reach the arena.  With a symbolic row count the
 * helpers get a copy of ctx whose row symbol is the chunk's. */
static int emit_prologue_call(struct cg *c, const smelt_node *n, const struct smelt_fused_prog *p) {
  const struct smelt_fused_step *nm = &p->step[0], *a = &p->step[1];
  const smelt_value *X = cg_in(c, n, nm->arg[0]), *Y = cg_out(c, n, 0);
  if (X->dt != SMELT_DT_F32 || Y->dt != SMELT_DT_F32 || X->shape.rank != 2 || Y->shape.rank != 2 || X->shape.d[1].sym || Y->shape.d[1].sym)
    return smelt_errorf(c->cx, "backend: fused kernel '%s': a prologue needs f32 rows [R, K] and a result [R, N]", n->name);
  int64_t K = X->shape.d[1].n, N = Y->shape.d[1].n, ch = SMELT_FUSED_PRO_BYTES / (4 * (K ? K : 1));
  smelt_dim R = X->shape.d[0];
  if (ch < 1 || (R.sym ? Y->shape.d[0].sym != R.sym : R.n > ch || Y->shape.d[0].n != R.n))
    return smelt_errorf(c->cx, "backend: fused kernel '%s': the prologue's rows do not fit its %d-byte buffer", n->name, SMELT_FUSED_PRO_BYTES);
  if (!R.sym) ch = R.n ? R.n : 1;
  struct sbuf nargs = {0}, aargs = {0};
  for (int i = 0; i < nm->nargs; i++) sb_printf(&nargs, ", x%d%s", nm->arg[i], i ? "" : " + r0 * K");
  for (int i = 1; i < a->nargs; i++) sb_printf(&aargs, ", x%d", a->arg[i]);
  cg_line(c, "int rc;");
  cg_line(c, "const int64_t K = %lld, N = %lld, CH = %lld;", (long long)K, (long long)N, (long long)ch);
  cg_line(c, "float t0[%lld];", (long long)(ch * (K ? K : 1)));
  if (R.sym) {
    cg_line(c, "%s_ctx c2 = *ctx;", c->o->name);
    cg_line(c, "const int64_t R = ctx->dims[%d];", R.sym - 1);
    cg_line(c, "for (int64_t r0 = 0; r0 < R; r0 += CH) {");
    cg_line(c, "  c2.dims[%d] = R - r0 < CH ? R - r0 : CH;", R.sym - 1);
    cg_line(c, "  if ((rc = %s_n(&c2%s, t0)) != 0) return rc;", c->kname, nargs.p ? nargs.p : "");
    cg_line(c, "  if ((rc = %s_a(&c2, t0%s, y0 + r0 * N)) != 0) return rc;", c->kname, aargs.p ? aargs.p : "");
    cg_line(c, "}");
  } else {
    cg_line(c, "const int64_t r0 = 0;");
    cg_line(c, "(void)N; (void)CH;");
    cg_line(c, "if ((rc = %s_n(ctx%s, t0)) != 0) return rc;", c->kname, nargs.p ? nargs.p : "");
    cg_line(c, "if ((rc = %s_a(ctx, t0%s, y0)) != 0) return rc;", c->kname, aargs.p ? aargs.p : "");
  }
  sb_free(&nargs);
  sb_free(&aargs);
  return 0;
}

int emit_fused(struct cg *c, const smelt_node *n) {
  struct smelt_fused_prog *p = parse(c, n);
  if (!p) return SMELT_ERR;
  const smelt_value *out = cg_out(c, n, 0);
  smelt_dtype dt = out->dt;
  int first = 0;
  if (p->pro) {
    if (emit_prologue_call(c, n, p)) return SMELT_ERR;
    first = 2;
  } else if (p->anchor) {
    const struct smelt_fused_step *a = &p->step[0];
    cg_line(c, "int rc;");
    struct sbuf call = {0};
    sb_printf(&call, "if ((rc = %s_a(ctx", c->kname);
    for (int i = 0; i < a->nargs; i++) sb_printf(&call, ", x%d", a->arg[i]);
    sb_puts(&call, ", y0)) != 0) return rc;");
    cg_line(c, "%s", call.p ? call.p : "");
    sb_free(&call);
    first = 1;
  }
  if (first == p->nsteps) return 0;
  /* operands of the loop: y0, then each input an elementwise step reads */
  int opnd[64], nused = 0;
  for (int i = 0; i < n->nin && i < 64; i++) opnd[i] = -1;
  if (n->nin > 64) return smelt_errorf(c->cx, "backend: fused kernel '%s' has too many inputs", n->name);
  struct nest ns;
  nest_init(c, &ns, &out->shape, "i");
  for (int k = first; k < p->nsteps; k++)
    for (int j = 0; j < p->step[k].nargs; j++) {
      int a = p->step[k].arg[j];
      if (a < 0 || opnd[a] >= 0) continue;
      if (ns.nops >= NEST_MAXOPS) return smelt_errorf(c->cx, "backend: fused kernel '%s' reads more than %d inputs", n->name, NEST_MAXOPS - 1);
      opnd[a] = nest_add_bcast(c, &ns, &cg_in(c, n, a)->shape);
      nused++;
    }
  nest_simplify(c, &ns);
  const char *T = cg_comptype(dt);
  cg_line(c, "typedef %s T;", T);
  cg_line(c, "typedef T U;");
  const char *off[NEST_MAXOPS];
  nest_open(c, &ns, off);
  for (int a = 0; a < n->nin; a++)
    if (opnd[a] >= 0) cg_line(c, "const T v%d = %s;", a, cg_load(c, cg_in(c, n, a)->dt, smelt_sprintf(c->cx, "x%d[%s]", a, off[opnd[a]])));
  if (first) cg_line(c, "const T t%d = %s;", first - 1, cg_load(c, dt, smelt_sprintf(c->cx, "y0[%s]", off[0])));
  static const char *names[] = {"x", "y", "z"};
  for (int k = first; k < p->nsteps; k++) {
    smelt_node sn;
    int args[3];
    smelt_fused_step_node(n, p, k, n->in, NULL, &sn, args);
    const char *e = cg_formula(c, &sn, smelt_op_info(sn.op)->fexpr, -1, dt);
    struct sbuf b = {0};
    sb_printf(&b, "T t%d; { ", k);
    for (int j = 0; j < p->step[k].nargs; j++) {
      int a = p->step[k].arg[j];
      if (a >= 0) sb_printf(&b, "const T %s = v%d; ", names[j], a);
      else sb_printf(&b, "const T %s = t%d; ", names[j], -a - 1);
    }
    sb_printf(&b, "t%d = %s; }", k, e);
    cg_line(c, "%s", b.p ? b.p : "");
    sb_free(&b);
  }
  cg_line(c, "y0[%s] = %s;", off[0], cg_store(c, dt, smelt_sprintf(c->cx, "t%d", p->nsteps - 1)));
  nest_close(c, &ns);
  (void)nused;
  return 0;
}
