#!/bin/sh
# tests/e2e/digits_demo.sh BUILD_DIR — the `make demo` sample as a test: runs
# samples/digits/demo.sh and checks that the accuracy the compiled model reports
# equals the float model's accuracy recorded by tools/make_digits_model.py in
# samples/digits/README.md, within 0.5 points.
set -eu
BUILD=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
out=$(sh "$ROOT/samples/digits/demo.sh" "$BUILD" 2>&1) || { printf '%s\n' "$out"; echo "FAIL: demo.sh failed"; exit 1; }
got=$(printf '%s\n' "$out" | sed -n 's/^accuracy: \([0-9.]*\)%.*/\1/p')
want=$(sed -n 's/^float-accuracy: \([0-9.]*\)%.*/\1/p' "$ROOT/samples/digits/README.md")
printf '%s\n' "$out" | tail -n 3
if [ -z "$got" ] || [ -z "$want" ]; then
  echo "FAIL: accuracy not found (compiled '$got', float '$want')"
  exit 1
fi
if awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.5) }'; then
  echo "ok: compiled model $got%, float model $want%"
else
  echo "FAIL: compiled model $got%, float model $want% (more than 0.5 points apart)"
  exit 1
fi
