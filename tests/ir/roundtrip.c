/* tests/ir/roundtrip.c — the IR text form round trip over every ONNX node-conformance
 * model smelt loads (Debian's libonnx-testdata; SKIPPED when absent):
 *
 *   graph --print (all constants)--> text --parse--> graph' --print--> text'
 *
 * text' must equal text byte for byte, and the reference interpreter must give
 * identical outputs (bit for bit; NaN equals NaN) on graph and graph' for
 * test_data_set_0.  A shape operand that is a graph input is frozen from the test
 * data with --const, as the conformance runner does.
 *
 *   ir_roundtrip [--data DIR] [--filter SUBSTR] [-v] */
#include "../testutil.h"
#include "../modeltest.h"
#include "compiler/driver.h"
#include "onnx.pb-c.h"

#include <math.h>

#define MAXIO 16

static int same_tensor(const smelt_tensor *a, const smelt_tensor *b) {
  if (a->dt != b->dt || a->rank != b->rank) return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  int64_t n = smelt_tensor_elems(a);
  size_t es = (size_t)smelt_dtype_bytes(a->dt);
  for (int64_t i = 0; i < n; i++) {
    if (!memcmp((char *)a->data + i * es, (char *)b->data + i * es, es)) continue;
    if (smelt_dtype_is_float(a->dt) && isnan(smelt_tensor_getf(a, i)) && isnan(smelt_tensor_getf(b, i))) continue;
    return 0;
  }
  return 1;
}

/* Position of graph input `name` among the model's inputs that are not initializers
 * (the test data files input_K.pb follow that order). */
static int input_index(const char *model, const char *name) {
  size_t len;
  char *bytes = t_read_file(model, &len);
  if (!bytes) return -1;
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, (const uint8_t *)bytes);
  free(bytes);
  if (!mp) return -1;
  int pos = -1, k = 0;
  for (size_t i = 0; mp->graph && i < mp->graph->n_input && pos < 0; i++) {
    int init = 0;
    for (size_t j = 0; j < mp->graph->n_initializer; j++) init |= !strcmp(mp->graph->initializer[j]->name, mp->graph->input[i]->name);
    if (init) continue;
    if (!strcmp(mp->graph->input[i]->name, name)) pos = k;
    k++;
  }
  onnx__model_proto__free_unpacked(mp, NULL);
  return pos;
}

/* Loads DIR/model.onnx, freezing graph inputs the reader asks for (--const). */
static smelt_graph *load(smelt_ctx **cxp, const char *dir, struct smelt_constopt *consts, int *nconsts, int *frozen) {
  char model[4200];
  snprintf(model, sizeof model, "%s/model.onnx", dir);
  for (int attempt = 0; attempt < MAXIO; attempt++) {
    smelt_ctx_free(*cxp);
    *cxp = smelt_ctx_new();
    struct smelt_load_opts lo = {NULL, 0, consts, *nconsts};
    smelt_graph *g = smelt_load_model(*cxp, model, &lo);
    if (g) return g;
    const char *m = smelt_error_msg(*cxp), *p = m ? strstr(m, "--const ") : NULL;
    if (!p || *nconsts == MAXIO) return NULL;
    p += 8;
    char *name = strndup(p, strcspn(p, "="));
    int pos = input_index(model, name);
    if (pos < 0 || pos >= MAXIO || frozen[pos]) { free(name); return NULL; }
    char *file = malloc(4300);
    snprintf(file, 4300, "%s/test_data_set_0/input_%d.pb", dir, pos);
    consts[*nconsts].name = name;
    consts[*nconsts].file = file;
    frozen[pos] = 1;
    (*nconsts)++;
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *data = "/usr/include/onnx/backend/test/data/node", *filter = NULL;
  int verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
    else if (!strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!strcmp(argv[i], "-v")) verbose = 1;
    else { fprintf(stderr, "usage: ir_roundtrip [--data DIR] [--filter SUBSTR] [-v]\n"); return 2; }
  }
  DIR *d = opendir(data);
  if (!d) SKIP("%s is missing (install Debian's libonnx-testdata)", data);
  closedir(d);
  char **names;
  int nn = t_list_dir(data, "", &names), loaded = 0, evaluated = 0, tried = 0;
  double t0 = t_now();
  for (int i = 0; i < nn; i++) {
    if (strncmp(names[i], "test_", 5) || (filter && !strstr(names[i], filter))) continue;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", data, names[i]);
    tried++;
    struct smelt_constopt consts[MAXIO];
    int nconsts = 0, frozen[MAXIO] = {0};
    smelt_ctx *cx = NULL;
    smelt_graph *g = load(&cx, dir, consts, &nconsts, frozen);
    if (!g) {
      if (verbose) printf("  %s: not loaded: %s\n", names[i], smelt_error_msg(cx));
      goto next;
    }
    loaded++;
    size_t l1, l2;
    char *t1 = t_print_graph(g, SMELT_PRINT_CONSTS, &l1);
    CHECK(t1 != NULL, "%s: print failed: %s", names[i], smelt_error_msg(cx));
    if (!t1) goto next;
    smelt_ctx *cx2 = smelt_ctx_new();
    smelt_graph *g2 = smelt_parse(cx2, t1, l1, names[i]);
    CHECK(g2 != NULL, "%s: the printed IR does not parse: %s", names[i], smelt_error_msg(cx2));
    char *t2 = g2 ? t_print_graph(g2, SMELT_PRINT_CONSTS, &l2) : NULL;
    if (g2) {
      int same = t2 && l1 == l2 && !memcmp(t1, t2, l1);
      CHECK(same, "%s: print -> parse -> print differs", names[i]);
      if (!same && t2) t_show_diff(names[i], t2, t1);
    }
    /* the interpreter on test_data_set_0 */
    if (g2) {
      smelt_tensor in[MAXIO], o1[MAXIO], o2[MAXIO];
      int nin = 0, ok = 1;
      for (int k = 0; k < MAXIO && ok; k++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/test_data_set_0/input_%d.pb", dir, k);
        if (!t_exists(p)) break;
        if (frozen[k]) continue;
        if (nin == g->ninputs || smelt_read_tensor_file(cx, p, &in[nin])) { ok = 0; break; }
        nin++;
      }
      if (ok && nin == g->ninputs && g->noutputs <= MAXIO) {
        int r1 = smelt_eval(g, in, o1), r2 = smelt_eval(g2, in, o2);
        CHECK(!r1 == !r2, "%s: the interpreter %s on the original and %s on the parsed graph (%s%s)", names[i], r1 ? "fails" : "succeeds",
              r2 ? "fails" : "succeeds", r1 ? smelt_error_msg(cx) : "", r2 ? smelt_error_msg(cx2) : "");
        if (!r1 && !r2) {
          evaluated++;
          for (int o = 0; o < g->noutputs; o++)
            CHECK(same_tensor(&o1[o], &o2[o]), "%s: output %d differs between the original and the parsed graph", names[i], o);
        }
        for (int o = 0; !r1 && o < g->noutputs; o++) smelt_tensor_free(&o1[o]);
        for (int o = 0; !r2 && o < g->noutputs; o++) smelt_tensor_free(&o2[o]);
      }
      for (int k = 0; k < nin; k++) smelt_tensor_free(&in[k]);
    }
    free(t1);
    free(t2);
    smelt_ctx_free(cx2);
  next:
    for (int k = 0; k < nconsts; k++) { free((void *)consts[k].name); free((void *)consts[k].file); }
    smelt_ctx_free(cx);
  }
  t_free_list(names, nn);
  printf("ir_roundtrip: %d of %d models loaded and round-tripped, %d of them evaluated, %.1f s\n", loaded, tried, evaluated, t_now() - t0);
  CHECK(loaded > 0, "no model loaded");
  return t_done("ir_roundtrip");
}
