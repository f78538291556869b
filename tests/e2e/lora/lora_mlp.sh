#!/bin/sh
# tests/e2e/lora/lora_mlp.sh BUILD SRC — LoRA adapters on an ONNX MLP (two Gemm layers
# exported by torch.onnx; PEFT adapters on their initializers fc1.weight / fc2.weight):
# merged builds (one adapter, two at once) and a switchable build through the
# executable's --adapter, against PyTorch's merged forward (relative error <= 1e-5).
set -u
B=$1; S=$2
SMELT=$B/smelt; CMP=$B/tests/lora_cmp; M=$S/tests/e2e/lora/mlp
W=$B/e2e-lora-mlp; rm -rf "$W"; mkdir -p "$W"
[ -f "$M/model.onnx" ] || { echo "SKIPPED: $M is missing (tools/make_lora_fixtures.py makes it)"; exit 77; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
run() { n=$1; o=$2; shift 2; "$W/$n/mlp" "$M/x.npy" -o "$W/$n/out$o" "$@" >/dev/null 2>"$W/$n.err" || fail "run $n: $(cat "$W/$n.err")"; }
build() { n=$1; shift; "$SMELT" build "$M/model.onnx" -o "$W/$n" --name mlp -q "$@" 2>"$W/$n.err" || { fail "smelt build $n: $(cat "$W/$n.err")"; return 1; }; }
check() { "$CMP" "$1" "$2" 1e-5 || fail "$1 differs from $2"; }
build m1 --lora "$M/m1" && run m1 "" && check "$W/m1/out/y.npy" "$M/ref_m1.npy"
build m12 --lora "$M/m1" --lora "$M/m2:1" && run m12 "" && check "$W/m12/out/y.npy" "$M/ref_m1_m2.npy"
if build sw --adapter m1="$M/m1" --adapter m2="$M/m2"; then
  run sw 1 --adapter m1 && check "$W/sw/out1/y.npy" "$M/ref_m1.npy" && check "$W/sw/out1/y.npy" "$W/m1/out/y.npy"
  run sw 2 --adapter m2 && check "$W/sw/out2/y.npy" "$M/ref_m2.npy"
  run sw 3 --adapter m1 --adapter-scale 0 && check "$W/sw/out3/y.npy" "$M/ref_base.npy"
  run sw 4 && check "$W/sw/out4/y.npy" "$M/ref_base.npy"
  grep -q "LoRA" "$W/sw/mlp.c" || fail "no LoRA kernel in the switchable build"
fi
[ $fails -eq 0 ] || { echo "FAIL: $fails check(s)"; exit 1; }
echo "ok: LoRA merged and switchable builds of the ONNX MLP agree with PyTorch"
