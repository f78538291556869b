#!/usr/bin/python3
"""samples/ffi-python/classify.py — the compiled digit classifier called from Python with
ctypes (docs/ffi.md).

    classify.py LIBDIGITS.so DIGITS.npy LABELS.npy

LIBDIGITS.so is libdigits.a (compiled with -fPIC) plus ffi_digits.c linked into a shared
library; see README.md.  Prints the accuracy over all digits."""
import ctypes
import sys

import numpy as np

lib = ctypes.CDLL(sys.argv[1])
for f in ("digits_ffi_ctx_bytes", "digits_ffi_arena_bytes"):
    getattr(lib, f).restype = ctypes.c_size_t
lib.digits_strerror.restype = ctypes.c_char_p

# the context and a 16-byte aligned arena, owned by Python
ctx = ctypes.create_string_buffer(lib.digits_ffi_ctx_bytes())
raw = ctypes.create_string_buffer(lib.digits_ffi_arena_bytes() + 16)
arena = ctypes.c_void_p((ctypes.addressof(raw) + 15) & ~15)
rc = lib.digits_init(ctx, arena, ctypes.c_size_t(lib.digits_ffi_arena_bytes()))
if rc:
    sys.exit("digits_init: %s" % lib.digits_strerror(rc).decode())

xs = np.load(sys.argv[2]).astype(np.float32)
ys = np.load(sys.argv[3])
y = np.empty(lib.digits_ffi_out_elems(), dtype=np.float32)
f32p = ctypes.POINTER(ctypes.c_float)
correct = 0
for i in range(len(xs)):
    x = np.ascontiguousarray(xs[i])
    rc = lib.digits_run(ctx, x.ctypes.data_as(f32p), y.ctypes.data_as(f32p))
    if rc:
        sys.exit("digits_run: %s" % lib.digits_strerror(rc).decode())
    correct += int(y.argmax() == ys[i])
print("accuracy: %.2f%% (%d/%d)" % (100.0 * correct / len(xs), correct, len(xs)))
