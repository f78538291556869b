/* ir/llm.c — RoPE frequencies (with linear and Llama-3 scaling), shared by the
 * interpreter and the C backend so both rotate by the same angles. */
#include "llm.h"

#include <math.h>
#include <string.h>

void smelt_rope_inv_freq(const smelt_node *n, double *out) {
  int64_t dims = smelt_attr_i(n, "dims");
  double theta = smelt_attr_f(n, "theta"), factor = smelt_attr_f(n, "factor");
  const char *sc = smelt_attr_s(n, "scaling");
  const smelt_attr *fa = smelt_node_attr(n, "factors");
  double lo = smelt_attr_f(n, "low_freq"), hi = smelt_attr_f(n, "high_freq"), orig = (double)smelt_attr_i(n, "orig_ctx");
  for (int64_t i = 0; i < dims / 2; i++) {
    double f = pow(theta, -2.0 * (double)i / (double)dims);
    if (!strcmp(sc, "linear")) f /= factor;
    else if (!strcmp(sc, "llama3") && orig > 0) {
      /* Llama 3.1: keep high frequencies, divide low ones by factor, blend between */
      double wavelen = 2 * M_PI / f, low_wl = orig / lo, high_wl = orig / hi;
      if (wavelen > low_wl) f /= factor;
      else if (wavelen >= high_wl) {
        double smooth = (orig / wavelen - lo) / (hi - lo);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
    if (fa && fa->n == dims / 2 && fa->fs[i] != 0) f /= fa->fs[i]; /* explicit per-frequency divisors */
    out[i] = f;
  }
}
