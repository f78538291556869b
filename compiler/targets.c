/* compiler/targets.c — the table of --target values (see targets.h): each gives the
 * weights object's triple, the C compiler flags (which also choose the instructions of
 * runtime/smelt_simd.h) and the kernel backend (backends/x86, backends/arm; cortex-m
 * has none yet and runs the generic C kernels).  native is the host's backend with
 * -march=native. */
#include "compiler/targets.h"

#include <string.h>

static const struct smelt_target targets[] = {
    {"generic", NULL, "", "c", 0},
#if defined(__x86_64__)
    {"native", NULL, "-march=native", "x86", 0},
#elif defined(__aarch64__)
    {"native", NULL, "-march=native", "arm", 0},
#else
    {"native", NULL, "-march=native", "c", 0},
#endif
    {"x86-64-avx2", "x86_64-unknown-linux-gnu", "-march=haswell", "x86", 0},
    {"x86-64-avx512", "x86_64-unknown-linux-gnu", "-march=skylake-avx512 -mavx512vnni", "x86", 0},
    {"aarch64", "aarch64-unknown-linux-gnu", "-march=armv8-a", "arm", 0},
    {"aarch64-dotprod", "aarch64-unknown-linux-gnu", "-march=armv8.2-a+dotprod", "arm", 0},
    {"cortex-m4", "thumbv7em-none-eabihf", "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16", "cortexm", 1},
    {"cortex-m7", "thumbv7em-none-eabihf", "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16", "cortexm", 1},
};

const struct smelt_target *smelt_target_find(const char *name) {
  for (unsigned i = 0; i < sizeof targets / sizeof *targets; i++)
    if (!strcmp(targets[i].name, name)) return &targets[i];
  return NULL;
}

const char *smelt_target_names(void) {
  return "native generic x86-64-avx2 x86-64-avx512 aarch64 aarch64-dotprod cortex-m4 cortex-m7";
}
