/* samples/cortex-m4/startup.c — what runs before main() on the bare Cortex-M4: the vector
 * table (initial stack pointer, reset handler), the FPU switched on (the code is built
 * for hard float), .bss cleared, newlib's semihosting stdio opened; main's return value
 * ends the QEMU run through semihosting's exit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern int main(void);
extern void initialise_monitor_handles(void); /* newlib's librdimon: stdio over semihosting */
extern char __bss_start__[], __bss_end__[], __stack_top[];

void reset_handler(void);
/* -nostartfiles leaves out crti/crtn; newlib's init/fini walkers still call these */
void _init(void) {}
void _fini(void) {}
static void fault_handler(void) { for (;;) {} }

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
};

void reset_handler(void) {
  /* CPACR: full access to coprocessors 10 and 11 (the FPU) */
  *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb");
  memset(__bss_start__, 0, (size_t)(__bss_end__ - __bss_start__));
  initialise_monitor_handles();
  exit(main());
}
