/* Initializes and runs both models once on inputs of 0.5; prints their first outputs. */
#include "model_a.h"
#include "model_b.h"
#include <stdint.h>
#include <stdio.h>

static unsigned char arena_a[model_a_ARENA_BYTES + 16], arena_b[model_b_ARENA_BYTES + 16];
static float in_a[model_a_INPUT0_ELEMS], out_a[model_a_OUTPUT0_ELEMS];
static float in_b[model_b_INPUT0_ELEMS], out_b[model_b_OUTPUT0_ELEMS];

int main(void) {
  model_a_ctx a;
  model_b_ctx b;
  for (int i = 0; i < model_a_INPUT0_ELEMS; i++) in_a[i] = 0.5f;
  for (int i = 0; i < model_b_INPUT0_ELEMS; i++) in_b[i] = 0.5f;
  if (model_a_init(&a, (void *)(((uintptr_t)arena_a + 15) & ~(uintptr_t)15), model_a_ARENA_BYTES) ||
      model_b_init(&b, (void *)(((uintptr_t)arena_b + 15) & ~(uintptr_t)15), model_b_ARENA_BYTES))
    return 1;
  if (model_a_run(&a, in_a, out_a) || model_b_run(&b, in_b, out_b)) return 1;
  printf("a %.6f b %.6f\n", out_a[0], out_b[0]);
  return 0;
}
