#!/bin/sh
# tests/cross/conformance.sh BUILD SRC TARGET [EVERY] — ONNX node tests cross-compiled for
# TARGET (aarch64, aarch64-dotprod) and run under qemu-aarch64: the tests of
# tests/conformance/expected_pass.txt (what the generic backend passes on the host), one
# in EVERY of them (default 1: all; ~1 minute on 2 cores), each checked against ONNX's
# expected outputs like the host run; then mnist-8 (../shared/models, when present) as a
# `smelt build` executable whose weights are the LLVM object emitted for TARGET's triple,
# the PyTorch-made encoder and branchy CNN of tests/e2e/models, and the demo's digit classifier as a cross-built static library called from C.
set -u
B=$1; SRC=$2; T=$3; EVERY=${4:-1}
. "$SRC/tests/cross/env.sh"
W=$B/cross-conf-$T
rm -rf "$W"
"$B/tests/conformance" --target "$T" --cc "$XCC" --cflags "$XCFLAGS" --emulator "$XEMU" \
  --select "$SRC/tests/conformance/expected_pass.txt" --every "$EVERY" \
  --expected "$SRC/tests/conformance/expected_pass.txt" --work "$W" || { echo "FAIL: node tests for $T"; exit 1; }
M=$SRC/../shared/models/onnx/mnist-8
if [ -d "$M" ]; then
  "$B/tests/conformance" --dir "$M" --exe --require-pass --weights-min 1024 --target "$T" --cc "$XCC" --cflags "$XCFLAGS" \
    --emulator "$XEMU" --work "$W/mnist8" || { echo "FAIL: mnist-8 for $T"; exit 1; }
  ls "$W/mnist8"/*/*_weights.o >/dev/null 2>&1 || { echo "FAIL: mnist-8 for $T has no weights object"; exit 1; }
else
  echo "mnist-8 not checked: $M is missing"
fi
# two models made by PyTorch (tests/e2e/models): the encoder (LayerNorm, GELU, attention:
# the vector math kernels) and the branchy CNN (convolutions, pools), against PyTorch's outputs
for m in encoder inception; do
  "$B/tests/conformance" --dir "$SRC/tests/e2e/models/$m" --exe --require-pass --target "$T" --cc "$XCC" --cflags "$XCFLAGS" \
    --emulator "$XEMU" --work "$W/$m" || { echo "FAIL: $m for $T"; exit 1; }
done
# the demo's digit classifier as a static library (--emit lib, weights object), linked
# into samples/digits/classify.c by the cross compiler: the same accuracy as on the host
D=$SRC/samples/digits
acc() { grep '^accuracy:'; }
"$B/smelt" build "$D/digits.onnx" --emit lib --name digits --dim N=1 --weights-min 1024 -o "$W/digits" --target "$T" \
  --cc "$XCC" --cflags "$XCFLAGS" -q || { echo "FAIL: smelt build --emit lib digits for $T"; exit 1; }
$XCC -std=c99 -O2 $XCFLAGS -I "$W/digits" "$D/classify.c" -L "$W/digits" -ldigits -lm -o "$W/digits/classify" ||
  { echo "FAIL: classify.c does not link against the $T library"; exit 1; }
"$B/smelt" build "$D/digits.onnx" --emit lib --name digits --dim N=1 --weights-min 1024 -o "$W/digits-host" --target generic -q &&
  ${CC:-cc} -std=c99 -O2 ${SMELT_CFLAGS:-} -I "$W/digits-host" "$D/classify.c" -L "$W/digits-host" -ldigits -lm -o "$W/digits-host/classify" ||
  { echo "FAIL: the host digits library"; exit 1; }
ax=$($XEMU "$W/digits/classify" "$D/test_digits.npy" "$D/test_labels.npy" | acc)
ah=$("$W/digits-host/classify" "$D/test_digits.npy" "$D/test_labels.npy" | acc)
[ -n "$ax" ] && [ "$ax" = "$ah" ] || { echo "FAIL: digits library for $T: '$ax', host '$ah'"; exit 1; }
echo "digits library for $T: $ax (host: $ah)"
echo "ok: cross $T conformance (one in $EVERY of the expected-pass node tests) under $XEMU"
