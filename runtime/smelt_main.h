/* runtime/smelt_main.h — main() of the executables smelt generates for non-LLM
 * models (DESIGN §6):
 *
 *     NAME in0.npy [in1.npy ...] [-o DIR] [--repeat N] [--adapter NAME [--adapter-scale S]]
 *
 * Checks each input's dtype and shape against the model (binding symbolic dims),
 * runs the model, prints each output's name, shape and first values, and writes
 * DIR/<output name>.npy (characters other than letters, digits, '_', '-', '.'
 * replaced by '_').  --repeat N runs N times and prints the median time to stderr.
 * Exit status: 0 ok, 1 bad usage or input, 2 the model returned an error. */
#ifndef SMELT_MAIN_H
#define SMELT_MAIN_H

#include "smelt_rt.h"
#include "smelt_npy.h"
#include "smelt_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/stat.h>

static int smelt_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void smelt_print_values(const struct smelt_io_desc *d, const void *p, int64_t n) {
  int64_t show = n < 10 ? n : 10;
  for (int64_t i = 0; i < show; i++) {
    const unsigned char *e = (const unsigned char *)p + i * d->elem_bytes;
    const char *t = d->npy;
    if (!strcmp(t, "<f4")) { float v; memcpy(&v, e, 4); printf(" %.6g", v); }
    else if (!strcmp(t, "<f8")) { double v; memcpy(&v, e, 8); printf(" %.9g", v); }
    else if (!strcmp(t, "<f2")) { uint16_t v; memcpy(&v, e, 2); printf(" %.5g", sm_f16_to_f32(v)); }
    else if (t[1] == 'i' || t[1] == 'u' || t[1] == 'b') {
      int64_t v = 0;
      uint64_t u = 0;
      memcpy(&u, e, (size_t)d->elem_bytes);
      if (t[1] == 'i' && d->elem_bytes < 8 && (u >> (8 * d->elem_bytes - 1)) & 1) u |= ~(uint64_t)0 << (8 * d->elem_bytes);
      v = (int64_t)u;
      if (t[1] == 'u') printf(" %llu", (unsigned long long)u);
      else printf(" %lld", (long long)v);
    }
  }
  if (n > show) printf(" ...");
  printf("\n");
}

/* ad: the model's switchable LoRA adapters (--adapter), or NULL */
static int smelt_main_adapters(int argc, char **argv, const struct smelt_model_desc *m, const struct smelt_adapter_desc *ad) {
  const char *outdir = NULL, *paths[64], *adapter = NULL;
  int np = 0, repeat = 1, rc = 1;
  float adapter_scale = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      printf("usage: %s", argv[0]);
      for (int k = 0; k < m->nin; k++) printf(" %s.npy", m->in[k].name);
      printf(" [-o DIR] [--repeat N]%s\n\nRuns the model %s on .npy inputs (in this order) and prints its outputs;\n"
             "-o DIR also writes each output to DIR/<name>.npy.\n", ad ? " [--adapter NAME [--adapter-scale S]]" : "", m->name);
      for (int k = 0; ad && k < ad->n; k++) printf("%s%s%s", k ? ", " : "LoRA adapters (default: none): ", ad->names[k], k + 1 == ad->n ? "\n" : "");
      return 0;
    }
    if (!strcmp(argv[i], "-o") && i + 1 < argc) outdir = argv[++i];
    else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (ad && !strcmp(argv[i], "--adapter") && i + 1 < argc) adapter = argv[++i];
    else if (ad && !strcmp(argv[i], "--adapter-scale") && i + 1 < argc) adapter_scale = (float)atof(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]); return 1; }
    else if (np < 64) paths[np++] = argv[i];
  }
  if (np != m->nin) { fprintf(stderr, "%s: expected %d input file(s), got %d (try --help)\n", argv[0], m->nin, np); return 1; }
  if (repeat < 1) repeat = 1;
  if (outdir && mkdir(outdir, 0777) && errno != EEXIST) { fprintf(stderr, "%s: cannot create %s\n", argv[0], outdir); return 1; }
  struct smelt_npy *ins = calloc((size_t)m->nin + 1, sizeof *ins);
  void **inp = calloc((size_t)m->nin + 1, sizeof *inp), **outp = calloc((size_t)m->nout + 1, sizeof *outp);
  int64_t *symv = calloc((size_t)m->ndims + 1, sizeof *symv);
  void *ctx = calloc(1, m->ctx_bytes), *arena = calloc(1, m->arena_bytes ? m->arena_bytes : 1); /* states start zeroed */
  double *times = calloc((size_t)repeat, sizeof *times);
  if (!ins || !inp || !outp || !symv || !ctx || !arena || !times) { fprintf(stderr, "%s: out of memory\n", argv[0]); goto done; }
  for (int s = 0; s < m->ndims; s++) symv[s] = -1;
  for (int k = 0; k < m->nin; k++) {
    const struct smelt_io_desc *d = &m->in[k];
    const char *err = smelt_npy_read(paths[k], &ins[k]);
    if (err) { fprintf(stderr, "%s: %s: %s\n", argv[0], paths[k], err); goto done; }
    if (strcmp(ins[k].descr, d->npy) && !(d->npy[0] == '|' && !strcmp(ins[k].descr + 1, d->npy + 1))) {
      fprintf(stderr, "%s: %s: input '%s' needs dtype %s, the file has %s\n", argv[0], paths[k], d->name, d->npy, ins[k].descr);
      goto done;
    }
    int ok = ins[k].rank == d->rank;
    for (int j = 0; ok && j < d->rank; j++) {
      if (d->dimsym[j] < 0) ok = ins[k].dims[j] == d->dims[j];
      else {
        int64_t *sv = &symv[d->dimsym[j]];
        ok = ins[k].dims[j] >= 1 && ins[k].dims[j] <= d->dims[j] && (*sv < 0 || *sv == ins[k].dims[j]);
        *sv = ins[k].dims[j];
      }
    }
    if (!ok) {
      fprintf(stderr, "%s: %s: input '%s' needs shape (", argv[0], paths[k], d->name);
      for (int j = 0; j < d->rank; j++)
        if (d->dimsym[j] < 0) fprintf(stderr, "%s%lld", j ? "," : "", (long long)d->dims[j]);
        else fprintf(stderr, "%s%s<=%lld", j ? "," : "", m->dim_names[d->dimsym[j]], (long long)d->dims[j]);
      fprintf(stderr, "), the file has (");
      for (int j = 0; j < ins[k].rank; j++) fprintf(stderr, "%s%lld", j ? "," : "", (long long)ins[k].dims[j]);
      fprintf(stderr, ")\n");
      goto done;
    }
    inp[k] = ins[k].data;
  }
  int err = m->init(ctx, arena, m->arena_bytes);
  for (int s = 0; s < m->ndims && !err; s++) err = m->set_dim(ctx, s, symv[s] < 0 ? m->dim_max[s] : symv[s]);
  if (err) { fprintf(stderr, "%s: %s\n", argv[0], m->strerror(err)); rc = 2; goto done; }
  if (adapter && smelt_adapter_select(ad, ctx, adapter, adapter_scale)) {
    fprintf(stderr, "%s: --adapter %s: no such adapter (", argv[0], adapter);
    for (int k = 0; k < ad->n; k++) fprintf(stderr, "%s%s", k ? ", " : "", ad->names[k]);
    fprintf(stderr, ", or none)\n");
    goto done;
  }
  for (int k = 0; k < m->nout; k++) {
    const struct smelt_io_desc *d = &m->out[k];
    int64_t n = 1;
    for (int j = 0; j < d->rank; j++) n *= d->dims[j]; /* bounds: enough for any binding */
    outp[k] = calloc(1, (size_t)(n ? n : 1) * (size_t)d->elem_bytes);
    if (!outp[k]) { fprintf(stderr, "%s: out of memory\n", argv[0]); goto done; }
  }
  for (int r = 0; r < repeat; r++) {
    double t0 = smelt_now();
    err = m->run(ctx, inp, outp);
    times[r] = smelt_now() - t0;
    if (err) { fprintf(stderr, "%s: %s\n", argv[0], m->strerror(err)); rc = 2; goto done; }
  }
  if (repeat > 1) {
    qsort(times, (size_t)repeat, sizeof *times, smelt_cmp_double);
    fprintf(stderr, "%s: median %.3f ms over %d runs (min %.3f ms)\n", m->name, 1e3 * times[repeat / 2], repeat, 1e3 * times[0]);
  }
  for (int k = 0; k < m->nout; k++) {
    const struct smelt_io_desc *d = &m->out[k];
    int64_t dims[8], n = 1;
    for (int j = 0; j < d->rank; j++) { dims[j] = d->dimsym[j] < 0 ? d->dims[j] : (symv[d->dimsym[j]] < 0 ? d->dims[j] : symv[d->dimsym[j]]); n *= dims[j]; }
    printf("%s [", d->name);
    for (int j = 0; j < d->rank; j++) printf("%s%lld", j ? "," : "", (long long)dims[j]);
    printf("]:");
    smelt_print_values(d, outp[k], n);
    if (outdir) {
      size_t L = strlen(outdir) + strlen(d->name) + 8;
      char *path = malloc(L);
      if (!path) goto done;
      int off = snprintf(path, L, "%s/", outdir);
      for (const char *c = d->name; *c; c++)
        path[off++] = ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '.') ? *c : '_';
      strcpy(path + off, ".npy");
      if (smelt_npy_write(path, d->npy, d->rank, dims, outp[k], (size_t)n * (size_t)d->elem_bytes)) {
        fprintf(stderr, "%s: cannot write %s\n", argv[0], path);
        free(path);
        goto done;
      }
      free(path);
    }
  }
  rc = 0;
done:
  if (ins)
    for (int k = 0; k < m->nin; k++) free(ins[k].data);
  if (outp)
    for (int k = 0; k < m->nout; k++) free(outp[k]);
  free(ins); free(inp); free(outp); free(symv); free(ctx); free(arena); free(times);
  return rc;
}

static inline int smelt_main(int argc, char **argv, const struct smelt_model_desc *m) { return smelt_main_adapters(argc, argv, m, NULL); }

#endif
