/* backends/registry.c — which kernel backend overrides which kernels: the target table
 * (compiler/targets.c) names a backend, and this maps the name to its emitter.  A
 * backend that overrides nothing (the generic C one) maps to NULL. */
#include "backends/backend.h"

#include <string.h>

smelt_kernel_fn smelt_backend_kernels(const char *backend) {
  static const struct { const char *name; smelt_kernel_fn fn; } tab[] = {
      {"c", NULL},
  };
  for (unsigned i = 0; i < sizeof tab / sizeof *tab; i++)
    if (!strcmp(tab[i].name, backend)) return tab[i].fn;
  return NULL;
}
