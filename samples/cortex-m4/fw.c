/* samples/cortex-m4/fw.c — firmware for a bare-metal Cortex-M4 that classifies 16
 * handwritten digits with the model smelt_add_model() compiled for cortex-m4.
 *
 * The model is flash-resident (weights in digits_weights.o, read-only data) and works
 * in a static arena of digits_ARENA_BYTES: no heap, no OS.  Output goes through newlib's
 * semihosting stdio (--specs=rdimon.specs), so QEMU prints it on the host's terminal:
 *
 *   qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native -kernel fw.elf */
#include "digits.h"
#include "digits16.h"

#include <stdint.h>
#include <stdio.h>

static unsigned char arena_storage[digits_ARENA_BYTES + 15];

int main(void) {
  digits_ctx ctx;
  void *arena = (void *)(((uintptr_t)arena_storage + 15) & ~(uintptr_t)15);
  int rc = digits_init(&ctx, arena, digits_ARENA_BYTES);
  if (rc) { printf("digits_init: %s\n", digits_strerror(rc)); return 2; }
  int correct = 0;
  for (int i = 0; i < 16; i++) {
    float logits[digits_OUTPUT0_ELEMS];
    if ((rc = digits_run(&ctx, digits16[i], logits))) { printf("digits_run: %s\n", digits_strerror(rc)); return 2; }
    int best = 0;
    for (int k = 1; k < digits_OUTPUT0_ELEMS; k++)
      if (logits[k] > logits[best]) best = k;
    printf("digit %d: class %d\n", i, best);
    correct += best == labels16[i];
  }
  printf("cortex-m4: %d/16 correct, arena %d bytes\n", correct, digits_ARENA_BYTES);
  return 0;
}
