#!/bin/sh
# tests/e2e/prologue.sh BUILD — norm + MatMul prologues (passes/fuse.c, backends/c/k_fused.c)
# compiled for the generic and the native target and run on 40 rows, which the kernel
# normalizes in three chunks of its stack buffer, against the reference interpreter
# (rel. error <= 1e-5 of the largest output).
set -u
B=$1
W=$B/e2e-prologue; rm -rf "$W"; mkdir -p "$W"
fail() { echo "FAIL: $*"; exit 1; }
/usr/bin/python3 -c "import numpy" 2>/dev/null || { echo "SKIPPED: python3 numpy is missing"; exit 77; }
/usr/bin/python3 "$(dirname "$0")/prologue/make.py" "$W" || fail "make.py"
"$B/smelt" eval "$W/model.ir" "$W/x.npy" -o "$W/ref" >/dev/null || fail "smelt eval"
for T in generic native; do
  "$B/smelt" build "$W/model.ir" -o "$W/$T" --name m --target $T -q || fail "smelt build --target $T"
  [ "$(grep -c 'c2.dims\[0\] = R - r0 < CH' "$W/$T/m.c")" = 2 ] || fail "$T: expected two chunked prologue kernels"
  grep -q "RMSNorm\|LayerNorm" "$W/$T/m.c" || fail "$T: no norm"
  "$W/$T/m" "$W/x.npy" -o "$W/$T/out" >/dev/null || fail "$T: run"
  "$B/tests/npy_compare" "$W/$T/out/z.npy" "$W/ref/z.npy" 1e-5 || fail "$T: outputs differ"
done
echo "ok: prologue kernels over 3 chunks of rows agree with the interpreter (generic, native)"
