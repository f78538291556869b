#!/bin/sh
# tests/e2e/lora/lora_llm.sh BUILD SRC — LoRA adapters on the tiny Llama and GPT-2
# fixtures (tests/e2e/llm; adapters and PyTorch references from tools/make_lora_fixtures.py):
#   merged builds (--lora) from Hugging Face and GGUF bases, PEFT and GGUF adapters, two at
#   once, into a q8_0 base, on GPT-2's [in, out] Conv1D weights (fan_in_fan_out);
#   switchable builds (--adapter) through the executable and through the library in one
#   process (switch.c), compared with PyTorch's merged forward
#   (relative error <= 1e-5 of the largest logit) and with the merged builds; adapters
#   that name missing weights or have the wrong shapes are errors naming the tensor.
set -u
B=$1; S=$2
SMELT=$B/smelt; CMP=$B/tests/lora_cmp
F=$S/tests/e2e/llm/llama; L=$S/tests/e2e/lora/llama
W=$B/e2e-lora-llm; rm -rf "$W"; mkdir -p "$W"
[ -f "$L/ref_a1.npy" ] || { echo "SKIPPED: $L is missing (tools/make_lora_fixtures.py makes it)"; exit 77; }
P=$(cat "$F/prompt_ids.txt")
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# build NAME MODEL OPTIONS... ; then logits NAME [EXE OPTIONS...] -> $W/NAME.npy
build() { n=$1; m=$2; shift 2; "$SMELT" build "$m" -o "$W/$n" --name m -q "$@" 2>"$W/$n.err" || { fail "smelt build $n: $(cat "$W/$n.err")"; return 1; }; }
logits() { n=$1; o=$2; shift 2; "$W/$n/m" --prompt-ids "$P" --prompt-logits --logits "$W/$n$o.npy" -n 0 "$@" >/dev/null 2>"$W/$n.err" || fail "run $n $*: $(cat "$W/$n.err")"; }
check() { "$CMP" "$1" "$2" "${3:-1e-5}" || fail "$1 differs from $2"; }

# merged: Hugging Face base with PEFT adapters (one, one scaled, two at once)
build a1 "$F" --lora "$L/a1" && logits a1 "" && check "$W/a1.npy" "$L/ref_a1.npy"
build a2 "$F" --lora "$L/a2:0.5" && logits a2 "" && check "$W/a2.npy" "$L/ref_a2_half.npy"
build both "$F" --lora "$L/a1" --lora "$L/a2:0.5" && logits both "" && check "$W/both.npy" "$L/ref_both.npy"
# GGUF base (Q/K rows permuted by llama.cpp) with the GGUF and the PEFT adapter; HF base with the GGUF adapter
build gg "$F/model.gguf" --lora "$L/a1.gguf" && logits gg "" && check "$W/gg.npy" "$L/ref_a1.npy"
build gp "$F/model.gguf" --lora "$L/a1" && logits gp "" && check "$W/gp.npy" "$L/ref_a1.npy"
build hg "$F" --lora "$L/a1.gguf" && logits hg "" && check "$W/hg.npy" "$L/ref_a1.npy"
# a q8_0 base: dequantized, merged, re-quantized; -v reports the error re-quantizing added
# (generic target: its q8_0 kernel keeps activations f32, as PyTorch's reference does)
if build q8 "$L/model_q8_0.gguf" --lora "$L/a1" -v --target generic; then
  grep -q "requantized to q8_0 after merging: relative error" "$W/q8.err" || fail "no requantization error reported: $(cat "$W/q8.err")"
  grep "requantized" "$W/q8.err" | head -1
  logits q8 "" && check "$W/q8.npy" "$L/ref_a1_q8_0.npy"
fi

# GPT-2: Conv1D weights stored [in, out], a PEFT adapter with fan_in_fan_out (merged and switchable)
G=$S/tests/e2e/llm/gpt2; GP=$(cat "$G/prompt_ids.txt")
if "$SMELT" build "$G" -o "$W/g1" --name m -q --lora "$S/tests/e2e/lora/gpt2/g1" 2>"$W/g1.err"; then
  "$W/g1/m" --prompt-ids "$GP" --prompt-logits --logits "$W/g1.npy" -n 0 >/dev/null 2>&1 || fail "run g1"
  check "$W/g1.npy" "$S/tests/e2e/lora/gpt2/ref_g1.npy"
else fail "smelt build gpt2 --lora: $(cat "$W/g1.err")"; fi
if "$SMELT" build "$G" -o "$W/g1s" --name m -q --adapter g="$S/tests/e2e/lora/gpt2/g1" 2>"$W/g1s.err"; then
  "$W/g1s/m" --adapter g --prompt-ids "$GP" --prompt-logits --logits "$W/g1s.npy" -n 0 >/dev/null 2>&1 || fail "run g1s"
  check "$W/g1s.npy" "$S/tests/e2e/lora/gpt2/ref_g1.npy"
else fail "smelt build gpt2 --adapter: $(cat "$W/g1s.err")"; fi

# switchable: both adapters in one build; the executable's --adapter, then the library in one process
if build sw "$F" --adapter a1="$L/a1" --adapter a2="$L/a2"; then
  logits sw _a1 --adapter a1 && check "$W/sw_a1.npy" "$L/ref_a1.npy" && check "$W/sw_a1.npy" "$W/a1.npy"
  logits sw _a2 --adapter a2 --adapter-scale 0.5 && check "$W/sw_a2.npy" "$L/ref_a2_half.npy" && check "$W/sw_a2.npy" "$W/a2.npy"
  logits sw _none --adapter none && check "$W/sw_none.npy" "$L/ref_base.npy"
  logits sw _default && check "$W/sw_default.npy" "$L/ref_base.npy"
  "$W/sw/m" --adapter nope --prompt-ids "$P" -n 1 >/dev/null 2>"$W/nope.err" && fail "--adapter nope was accepted"
  grep -q "no such adapter" "$W/nope.err" || fail "--adapter nope: $(cat "$W/nope.err")"
fi
if "$SMELT" build "$F" -o "$W/lib" --name sw --emit lib -q --adapter a1="$L/a1" --adapter a2="$L/a2" 2>"$W/lib.err"; then
  ${CC:-cc} -std=c99 -O2 ${SMELT_CFLAGS:-} -I "$W/lib" -o "$W/switch" "$S/tests/e2e/lora/switch.c" "$W/lib/libsw.a" -lm 2>"$W/cc.err" || fail "compiling switch.c: $(cat "$W/cc.err")"
  [ -x "$W/switch" ] && { "$W/switch" "$P" 0 1 "$L/ref_a1.npy" 1 0.5 "$L/ref_a2_half.npy" -1 1 "$L/ref_base.npy" 0 1 "$L/ref_a1.npy" \
    1 0.5 "$L/ref_a2_half.npy" -1 0 "$L/ref_base.npy" || fail "switching in one process"; }
else fail "smelt build --emit lib: $(cat "$W/lib.err")"; fi

# errors: a weight the model lacks, a wrong shape, an adapter for another model
for c in "bad_name:blk.7.attn_q.weight" "bad_shape:model.layers.0.self_attn.q_proj" "../mlp/m1:fc1"; do
  a=${c%%:*}; want=${c#*:}
  for opt in --lora --adapter; do
    v="$L/$a"; [ "$opt" = --adapter ] && v="x=$L/$a"
    "$SMELT" build "$F" -o "$W/err" --name m -q $opt "$v" >/dev/null 2>"$W/err.txt"; rc=$?
    [ $rc -eq 1 ] && grep -q "^smelt: error: .*$want" "$W/err.txt" && [ "$(wc -l <"$W/err.txt")" -eq 1 ] || fail "$opt $a: exit $rc: $(cat "$W/err.txt")"
  done
done
[ $fails -eq 0 ] || { echo "FAIL: $fails check(s)"; exit 1; }
echo "ok: LoRA merged and switchable builds of the tiny Llama and GPT-2 agree with PyTorch"
