#!/bin/sh
# samples/digits/demo.sh BUILD_DIR [--all] — what `make demo` runs.
#
# Compiles the checked-in digit classifier with BUILD_DIR/smelt into a static library
# (BUILD_DIR/demo/libdigits.a + digits.h), builds classify.c against it with cc, and
# classifies the bundled held-out digits.  Extra arguments go to the classifier
# (--all shows every digit).  Needs only smelt and a C compiler: no Python.
set -eu
BUILD=${1:-build}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$BUILD/demo
# run from the checkout's root (as make does): short paths in what is printed
[ "$(pwd -P)" = "$(cd "$ROOT" && pwd -P)" ] && HERE=samples/digits
if [ ! -x "$BUILD/smelt" ]; then
  echo "demo.sh: $BUILD/smelt not found (run make first)" >&2
  exit 1
fi
mkdir -p "$OUT"

echo "\$ smelt build samples/digits/digits.onnx --emit lib --name digits --dim N=1 -o $OUT"
"$BUILD/smelt" build "$HERE/digits.onnx" --emit lib --name digits --dim N=1 -o "$OUT"

echo "\$ cc -I $OUT -I runtime samples/digits/classify.c -L $OUT -ldigits -lm -o $OUT/classify"
${CC:-cc} -std=c99 -O2 -Wall -Wextra ${SMELT_CFLAGS:-} -I "$OUT" -I "$ROOT/runtime" \
  "$HERE/classify.c" -L "$OUT" -ldigits -lm -o "$OUT/classify"

echo "\$ $OUT/classify samples/digits/test_digits.npy samples/digits/test_labels.npy${*:+ $*}"
echo
"$OUT/classify" "$HERE/test_digits.npy" "$HERE/test_labels.npy" "$@"
