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
#   ffi-python          the classifier as a shared library called from Python with ctypes
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
  # a damaged cache entry (an output deleted) is a miss, and the build repairs it
  rm -f "$D"/smelt-cache/o-*/libmodel_b.a
  touch "$M/digits.onnx"
  out=$(cmake --build "$D" 2>&1)
  echo "$out" | grep -q "libmodel_b.a.*cached" && fail "a damaged cache entry was used"
  "$D/two" >/dev/null || fail "the app did not run after the damaged entry was rebuilt"
  touch "$M/digits.onnx"
  out=$(cmake --build "$D" 2>&1)
  echo "$out" | grep -q "libmodel_b.a.*cached" || fail "the damaged cache entry was not repaired"
  echo "PASS: depfile-driven rebuilds of one model; cache hit on touch, miss on new bytes, damaged entries rebuilt"
  ;;

llm-chat)
  # the tiny random Llama the project ships (tests/e2e/llm/llama): greedy ids through the
  # step-by-step API must equal PyTorch's (greedy_ids.txt); text through llm_generate
  F=$SRC/tests/e2e/llm/llama
  D=$WORK/llm-chat
  build_project "$D" "$SRC/samples/llm-chat" -DLLM_MODEL="$F" -DLLM_CTX=64
  got=$("$D/chat" --ids "$(cat "$F/prompt_ids.txt")" -n 16)
  want=$(tr -s ' \n' ' ' <"$F/greedy_ids.txt" | sed 's/ *$//')
  [ "$got" = "$want" ] || fail "greedy ids differ from PyTorch's:
  got  $got
  want $want"
  text=$("$D/chat" "$(cat "$F/prompt.txt")" -n 12) || fail "chat with a text prompt"
  [ -n "$text" ] || fail "no text generated"
  echo "fixture: 16 greedy ids equal PyTorch's; text: $text"
  S=$SRC/../shared/models/gguf/stories260K.gguf
  if [ -f "$S" ]; then
    build_project "$WORK/llm-chat-stories" "$SRC/samples/llm-chat" -DLLM_MODEL="$S" -DLLM_CTX=128
    got=$("$WORK/llm-chat-stories/chat" --ids 1 -n 32)
    want=$(grep -v '^#' "$SRC/tests/e2e/llm/stories260K.llama.cpp.ids" | tr -s ' \n' ' ' | sed 's/ *$//')
    [ "$got" = "$want" ] || fail "stories260K greedy ids differ from llama.cpp's:
  got  $got
  want $want"
    echo "stories260K: 32 greedy ids from BOS equal llama.cpp's; text: $("$WORK/llm-chat-stories/chat" "Once upon a time" -n 16)"
  else
    echo "stories260K: SKIPPED ($S is absent)"
  fi
  echo "PASS"
  ;;

cross-aarch64)
  need aarch64-linux-gnu-gcc "Debian package gcc-aarch64-linux-gnu"
  need qemu-aarch64 "Debian package qemu-user"
  D=$WORK/cross-aarch64
  build_project "$D" "$SRC/samples/cross-aarch64" -DCMAKE_TOOLCHAIN_FILE="$SRC/samples/cross-aarch64/aarch64-linux-gnu.cmake" |
    tee "$D.log"
  grep -q "libdigits.a (library, aarch64)" "$D.log" || fail "TARGET auto did not pick aarch64"
  file "$D/classify" 2>/dev/null | grep -q "aarch64" || [ ! -x "$(command -v file)" ] || fail "classify is not an aarch64 program"
  if command -v aarch64-linux-gnu-readelf >/dev/null && [ -f "$D/smelt/digits/digits_weights.o" ]; then
    aarch64-linux-gnu-readelf -h "$D/smelt/digits/digits_weights.o" | grep -q "AArch64" || fail "the weights object is not for AArch64"
  fi
  out=$(qemu-aarch64 -cpu max "$D/classify" "$SRC/samples/digits/test_digits.npy" "$SRC/samples/digits/test_labels.npy")
  echo "$out" | tail -1
  echo "$out" | grep -q "^accuracy: 98.61% (355/360)" || fail "the aarch64 build's accuracy differs from the float model's 98.61%"
  echo "PASS: cross-compiled for aarch64, run under qemu-aarch64 -cpu max"
  ;;

cortex-m4)
  need arm-none-eabi-gcc "Debian packages gcc-arm-none-eabi libnewlib-arm-none-eabi"
  need qemu-system-arm "Debian package qemu-system-arm"
  [ -f /usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/librdimon.a ] || [ -n "$(arm-none-eabi-gcc -print-file-name=librdimon.a | grep /)" ] ||
    skip "newlib's librdimon.a not found (Debian package libnewlib-arm-none-eabi)"
  D=$WORK/cortex-m4
  build_project "$D" "$SRC/samples/cortex-m4" -DCMAKE_TOOLCHAIN_FILE="$SRC/samples/cortex-m4/arm-none-eabi-cortex-m4.cmake" | tee "$D.log"
  grep -q "libdigits.a (library, cortex-m4)" "$D.log" || fail "TARGET auto did not pick cortex-m4"
  arm-none-eabi-readelf -h "$D/smelt/digits/digits_weights.o" | grep -q "Machine:.*ARM" || fail "the weights object is not for ARM"
  arm-none-eabi-readelf -A "$D/smelt/digits/digits_weights.o" | grep -q "Tag_CPU_arch: v7E-M" || fail "the weights object is not for thumbv7em"
  # the model itself is freestanding: no heap, no stdio (the firmware's printf is its own)
  bad=$(arm-none-eabi-nm -u "$D/smelt/digits/libdigits.a" | grep -wE "malloc|calloc|realloc|free|printf|fprintf|puts|fputs|fopen|fwrite|putchar|_sbrk|abort|exit" || true)
  [ -z "$bad" ] || fail "the compiled model needs hosted functions: $bad"
  echo "flash/RAM (arm-none-eabi-size; flash = text + data, RAM = data + bss, stack aside):"
  arm-none-eabi-size "$D/fw.elf"
  arm-none-eabi-size "$D/fw.elf" | awk 'NR == 2 { printf "flash %d bytes, RAM %d bytes\n", $1 + $2, $2 + $3 }'
  out=$(timeout 120 qemu-system-arm -M mps2-an386 -nographic -semihosting-config enable=on,target=native -kernel "$D/fw.elf") ||
    { echo "$out"; fail "the firmware did not exit cleanly under qemu-system-arm"; }
  echo "$out"
  # the same predictions as the desktop build of the same model on the same digits
  H=$WORK/desktop-classifier-m4ref
  build_project "$H" "$SRC/samples/desktop-classifier" >/dev/null
  want=$("$H/classify" "$SRC/samples/digits/test_digits.npy" | grep "^digit ")
  [ "$(echo "$out" | grep "^digit ")" = "$want" ] || fail "the firmware's predictions differ from the desktop build's:
$want"
  echo "$out" | grep -q "16/16 correct" || fail "the firmware misclassified some of the first 16 digits"
  # the runtime headers a model includes compile freestanding for the Cortex-M4 (the
  # hosted-only ones — smelt_npy.h, smelt_main.h, smelt_llm_main.h — serve executables)
  for h in smelt_rt.h smelt_scalar.h smelt_quant.h smelt_tok.h smelt_chat.h smelt_llm.h smelt_unicode.h; do
    printf '#include "%s"\nint smelt_freestanding_probe;\n' "$h" >"$WORK/fs.c"
    arm-none-eabi-gcc -std=c99 -ffreestanding -DSMELT_FREESTANDING -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 \
      -Wall -Wextra -pedantic -Werror -Wno-unused-function -I "$PREFIX/include/smelt" -c "$WORK/fs.c" -o "$WORK/fs.o" ||
      fail "runtime/$h does not compile freestanding for cortex-m4"
  done
  echo "runtime headers: compile with -ffreestanding for cortex-m4"
  # an LLM compiled for cortex-m4 is freestanding too (the runtime's tokenizer, sampler, chat)
  L=$WORK/cortex-m4-llm
  rm -rf "$L"
  "$PREFIX/bin/smelt" build "$SRC/tests/e2e/llm/llama" --emit lib --name llm --target cortex-m4 --cc arm-none-eabi-gcc --ctx 64 -o "$L" -q ||
    fail "smelt build of the LLM fixture for cortex-m4"
  bad=$(arm-none-eabi-nm -u "$L/libllm.a" | grep -wE "malloc|calloc|realloc|free|printf|fprintf|puts|fputs|fopen|fwrite|putchar|_sbrk|abort|exit" || true)
  [ -z "$bad" ] || fail "the LLM compiled for cortex-m4 needs hosted functions: $bad"
  echo "PASS: firmware ran under qemu-system-arm mps2-an386; model and LLM freestanding (no heap, no stdio)"
  ;;

ffi-python)
  PY=/usr/bin/python3 # Debian's, with python3-numpy
  [ -x "$PY" ] || PY=python3
  "$PY" -c "import numpy" 2>/dev/null || skip "python3 with numpy not found (Debian package python3-numpy)"
  D=$WORK/ffi-python
  rm -rf "$D"
  "$PREFIX/bin/smelt" build "$SRC/samples/digits/digits.onnx" --emit lib --name digits --dim N=1 --cflags -fPIC -o "$D" ||
    fail "smelt build --cflags -fPIC"
  ${CC:-cc} -shared -fPIC -I "$D" "$SRC/samples/ffi-python/ffi_digits.c" \
    -Wl,--whole-archive "$D/libdigits.a" -Wl,--no-whole-archive -lm -o "$D/libdigits.so" || fail "linking libdigits.so"
  out=$("$PY" "$SRC/samples/ffi-python/classify.py" "$D/libdigits.so" "$SRC/samples/digits/test_digits.npy" \
        "$SRC/samples/digits/test_labels.npy") || fail "classify.py"
  echo "$out"
  [ "$out" = "accuracy: 98.61% (355/360)" ] || fail "the accuracy through ctypes differs from the float model's 98.61%"
  echo "PASS: the model called from Python through ctypes"
  ;;

*)
  fail "unknown sample $WHAT"
  ;;
esac
