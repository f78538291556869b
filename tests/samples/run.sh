#!/bin/sh
# tests/samples/run.sh WHAT BUILD_DIR SOURCE_DIR — the sample tests (ctest label samples).
#
# Every sample is built as an out-of-tree project against smelt installed by the
# `install` step into BUILD_DIR/samples/prefix (cmake --install), so what is tested is
# what a user gets: find_package(Smelt) + smelt_add_model().  Exit 77 (SKIPPED, with the
# reason) when a toolchain, emulator or model is missing.
#
#   install             cmake --install into the prefix (the fixture the others need)
#   desktop-classifier  build, classify the held-out digits, rebuild checks, cache timing
#   rebuild             two models: touching one rebuilds only it; changed bytes miss the cache
#   llm-chat            a tiny LLM through the generated C API (and stories260K if present)
#   cross-aarch64       the classifier cross-compiled for aarch64, run under qemu-aarch64
#   cortex-m4           bare-metal firmware under qemu-system-arm (mps2-an386)
set -eu
WHAT=$1
BUILD=$(cd "$2" && pwd)
SRC=$(cd "$3" && pwd)
WORK=$BUILD/samples
PREFIX=$WORK/prefix
mkdir -p "$WORK"
skip() { echo "SKIPPED: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 not found (${2:-install it})"; }
# configure + build an out-of-tree project; extra arguments go to cmake
build_project() {
  dir=$1; src=$2; shift 2
  rm -rf "$dir"
  cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; fail "configure $src"; }
  cmake --build "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; fail "build $src"; }
  cat "$dir.build.log"
}
[ "$WHAT" = install ] || [ -f "$PREFIX/lib/cmake/Smelt/SmeltConfig.cmake" ] || fail "smelt is not installed in $PREFIX (run the samples_install test)"

case $WHAT in
install)
  rm -rf "$PREFIX"
  cmake --install "$BUILD" --prefix "$PREFIX" >"$WORK/install.log" || { cat "$WORK/install.log"; fail "cmake --install"; }
  for f in bin/smelt include/smelt/smelt_rt.h lib/cmake/Smelt/SmeltConfig.cmake lib/cmake/Smelt/SmeltConfigVersion.cmake \
           lib/cmake/Smelt/Smelt.cmake lib/pkgconfig/smelt.pc; do
    [ -f "$PREFIX/$f" ] || fail "$f not installed"
  done
  "$PREFIX/bin/smelt" --version >/dev/null || fail "the installed smelt does not run"
  if command -v pkg-config >/dev/null; then
    s=$(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --variable=smelt smelt)
    "$s" --version >/dev/null || fail "smelt.pc names $s, which does not run"
    set -- $(PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config --cflags smelt)
    c=$1
    [ -f "${c#-I}/smelt_rt.h" ] || fail "smelt.pc --cflags ($c) does not name the runtime headers"
  fi
  echo "installed into $PREFIX"
  ;;

desktop-classifier)
  D=$WORK/desktop-classifier
  mkdir -p "$WORK/models"
  cp "$SRC/samples/digits/digits.onnx" "$WORK/models/digits.onnx"
  build_project "$D" "$SRC/samples/desktop-classifier" -DDIGITS_MODEL="$WORK/models/digits.onnx"
  out=$("$D/classify" "$SRC/samples/digits/test_digits.npy" "$SRC/samples/digits/test_labels.npy")
  echo "$out" | tail -3
  # the float model's accuracy (samples/digits/README.md): the compiled one must match it
  echo "$out" | grep -q "^accuracy: 98.61% (355/360)" || fail "accuracy differs from the float model's 98.61%"
  again=$(cmake --build "$D" 2>&1)
  echo "$again" | grep -q "no work to do" || { echo "$again"; fail "a second build with nothing touched did work"; }
  touch "$WORK/models/digits.onnx"
  again=$(cmake --build "$D" 2>&1)
  echo "$again"
  echo "$again" | grep -q "smelt: .*digits.onnx -> .*libdigits.a (generic): .*cached" ||
    fail "touching the model did not rerun smelt, or smelt did not reuse its cache"
  echo "PASS: accuracy 98.61%, nothing rebuilt when nothing changed, cache hit after touch"
  ;;

rebuild)
  D=$WORK/two-models
  M=$WORK/two-models-src
  rm -rf "$M" && mkdir -p "$M"
  cp "$SRC/tests/e2e/models/extdata/model.onnx" "$SRC/tests/e2e/models/extdata/weights.bin" "$M/"
  cp "$SRC/samples/digits/digits.onnx" "$M/digits.onnx"
  build_project "$D" "$SRC/tests/samples/two-models" -DMODEL_A="$M/model.onnx" -DMODEL_B="$M/digits.onnx"
  "$D/two" || fail "the app did not run"
  grep -q "weights.bin" "$D/smelt/model_a/model_a.d" || fail "the depfile does not name the external data file"
  sleep 1 # mtimes of a coarse file system
  touch "$M/weights.bin"
  out=$(cmake --build "$D" 2>&1)
  echo "$out"
  echo "$out" | grep -q "libmodel_a.a" || fail "touching model A's external data did not rebuild model A"
  echo "$out" | grep -q "libmodel_b.a" && fail "touching model A's external data rebuilt model B"
  echo "$out" | grep -q "libmodel_a.a.*cached" || fail "unchanged bytes did not hit the cache"
  # new bytes: the cache must miss and the new weights must reach the app
  before=$("$D/two")
  python3 - "$M/weights.bin" <<'PY' || printf '\077' | dd of="$M/weights.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[0:4] = bytes([0, 0, 0x80, 0x40]); open(p, "wb").write(bytes(b))
PY
  out=$(cmake --build "$D" 2>&1)
  echo "$out"
  echo "$out" | grep -q "libmodel_a.a.*cached" && fail "changed bytes hit the cache"
  echo "$out" | grep -q "libmodel_b.a" && fail "changing model A rebuilt model B"
  after=$("$D/two")
  echo "before: $before; after: $after"
  [ "$before" != "$after" ] || fail "the new weights did not change model A's output"
  echo "PASS: depfile-driven rebuilds of one model; cache hit on touch, miss on new bytes"
  ;;

*)
  fail "unknown sample $WHAT"
  ;;
esac
