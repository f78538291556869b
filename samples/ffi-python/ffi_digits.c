/* samples/ffi-python/ffi_digits.c — sizes that FFI callers cannot read from digits.h's
 * macros, exported as functions (docs/ffi.md). */
#include "digits.h"

size_t digits_ffi_ctx_bytes(void) { return sizeof(digits_ctx); }
size_t digits_ffi_arena_bytes(void) { return digits_ARENA_BYTES; }
int digits_ffi_in_elems(void) { return digits_INPUT0_ELEMS; }
int digits_ffi_out_elems(void) { return digits_OUTPUT0_ELEMS; }
