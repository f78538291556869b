#!/bin/sh
# tests/cross/llm.sh BUILD SRC TARGET — language models cross-compiled for TARGET
# (aarch64, aarch64-dotprod) and run under qemu-aarch64, against the same models built
# for the host (--target generic):
#   - stories260K (../shared/models/gguf, when present): 32 greedy tokens from BOS equal
#     llama.cpp's recorded ids; the per-position logits of a prompt agree with the host
#     build's within 1e-4 (relative to max(|x|, 1));
#   - every fixture of tests/e2e/llm (seven families; the GGUF form where there is one):
#     the prompt's logits agree with the host build's within 1e-4 and the greedy tokens
#     are identical, and contain the fixture's PyTorch greedy ids;
#   - stories260K quantized q8_0, q4_0, int8 and int4 (the NEON / dotprod int8 kernels):
#     see below.
# The weights are NAME_weights.o emitted through LLVM for TARGET's triple (checked with
# the object's ELF machine).
set -u
B=$1; SRC=$2; T=$3
. "$SRC/tests/cross/env.sh"
W=$B/cross-llm-$T
rm -rf "$W"; mkdir -p "$W"
fail() { echo "FAIL: $*"; exit 1; }
words() { tr -s ' \n' ' ' | sed 's/^ *//; s/ *$//'; }
# build MODEL DIR: the cross build in DIR/x, the host build in DIR/h
build() {
  mkdir -p "$2"
  "$B/smelt" build "$1" -o "$2/x" --name m --target "$T" --cc "$XCC" --cflags "$XCFLAGS" -q || fail "smelt build $1 --target $T"
  "$B/smelt" build "$1" -o "$2/h" --name m --target generic -q || fail "smelt build $1 --target generic"
  if [ -f "$2/x/m_weights.o" ]; then
    od -An -tx1 -j18 -N2 "$2/x/m_weights.o" | grep -q "b7 00" || fail "$2/x/m_weights.o is not an aarch64 object"
  fi
}
n=0
S=$SRC/../shared/models/gguf/stories260K.gguf
if [ -f "$S" ]; then
  build "$S" "$W/stories"
  want=$(grep -v '^#' "$SRC/tests/e2e/llm/stories260K.llama.cpp.ids" | words)
  got=$($XEMU "$W/stories/x/m" --prompt-ids 1 -n 32 --tokens 2>/dev/null | words)
  [ "$got" = "$want" ] || fail "stories260K ($T): greedy ids differ from llama.cpp's:
  got  $got
  want $want"
  P="1 403 407 260 300 13 270 461 299 402 481 266"
  $XEMU "$W/stories/x/m" --prompt-ids "$P" --prompt-logits --logits "$W/stories/x.npy" -n 0 >/dev/null 2>&1 || fail "stories260K ($T) --prompt-logits"
  "$W/stories/h/m" --prompt-ids "$P" --prompt-logits --logits "$W/stories/h.npy" -n 0 >/dev/null 2>&1 || fail "stories260K (host) --prompt-logits"
  "$B/tests/npy_compare" "$W/stories/x.npy" "$W/stories/h.npy" 1e-4 || fail "stories260K ($T): logits differ from the host build's"
  n=$((n + 1))
  # the quantized kernels (NEON, dotprod): stories260K quantized q8_0 / q4_0 (block
  # kernels) and int8 / int4 (QMatMul: sms_qmatmul_i8, _q4) for TARGET
  #  - against the interpreter running the same quantized graph, relative error <= 1e-4
  #    over every position of the prompt; for q8_0 / q4_0 the interpreter rounds
  #    activations to int8 per block as the kernels do (llm_ref --act-q8).  Skipped
  #    for q8_0 on plain aarch64, whose float parts (norms, attention) put one activation of
  #    layer 4 across an int8 rounding step that the interpreter does not cross (0.156 of
  #    the largest logit afterwards; the same flip as x86-64-avx2's, see quant_llm.sh);
  #  - perplexity on 8 stories the float host build samples (127 tokens each) within 0.5% of
  #    the host native build of the same scheme (its x86 / arm kernels round activations
  #    per block alike and are held to llm_ref --act-q8 by e2e_quant_llm; the generic
  #    build keeps activations f32, 1.3% lower on q8_0): this catches a wrong kernel on
  #    every path, the flipping one included.
  sh "$SRC/tests/e2e/sample_corpus.sh" "$W/stories/h/m" 8 "$W/corpus.ids" || exit 1
  ppl() { sed -n 's/^perplexity: \([0-9.]*\) .*/\1/p'; }
  for q in q8_0 q4_0 int8 int4; do
    case $q in q*) aq=--act-q8 k="sms_matmul(SMS_" ;; int8) aq= k="sms_qmatmul_i8(" ;; *) aq= k="sms_qmatmul_q4(" ;; esac
    D=$W/stories-$q; mkdir -p "$D"
    "$B/smelt" build "$S" -o "$D/x" --name m --quant $q --target "$T" --cc "$XCC" --cflags "$XCFLAGS" -q || fail "smelt build --quant $q --target $T"
    "$B/smelt" build "$S" -o "$D/h" --name m --quant $q --target native -q || fail "smelt build --quant $q --target native"
    grep -q "$k" "$D/x/m.c" || fail "stories260K $q ($T) does not call $k"
    if [ "$q-$T" != q8_0-aarch64 ]; then
      $XEMU "$D/x/m" --prompt-ids "$P" --prompt-logits --logits "$D/x.npy" -n 0 >/dev/null 2>&1 || fail "stories260K $q ($T) --prompt-logits"
      "$B/tests/llm_ref" "$S" --quant $q $aq --prompt-ids "$P" -n 1 --logits "$D/ref.npy" >/dev/null || fail "llm_ref --quant $q $aq"
      "$B/tests/npy_compare" "$D/x.npy" "$D/ref.npy" 1e-4 || fail "stories260K $q ($T): logits differ from the interpreter's ($aq)"
    fi
    grep -q "$k" "$D/h/m.c" || { echo "stories260K $q: perplexity not compared (the host's native target has no $k kernels)"; continue; }
    px=$($XEMU "$D/x/m" --perplexity-ids "$W/corpus.ids" 2>/dev/null | ppl)
    ph=$("$D/h/m" --perplexity-ids "$W/corpus.ids" 2>/dev/null | ppl)
    [ -n "$px" ] && [ -n "$ph" ] || fail "stories260K $q: no perplexity ($T '$px', host '$ph')"
    awk -v a="$px" -v b="$ph" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005 * b) }' ||
      fail "stories260K $q ($T): perplexity $px, host native $ph (more than 0.5% apart)"
    echo "stories260K $q ($T): perplexity $px, host native $ph"
  done
else
  echo "stories260K not checked: $S is missing"
fi
for F in "$SRC"/tests/e2e/llm/*/; do
  F=${F%/}; f=${F##*/}
  [ -f "$F/prompt_ids.txt" ] || continue
  M=$F; [ -f "$F/model.gguf" ] && M=$F/model.gguf
  build "$M" "$W/$f"
  ids=$(words < "$F/prompt_ids.txt")
  greedy=$(words < "$F/greedy_ids.txt")
  ng=$(echo "$greedy" | wc -w)
  $XEMU "$W/$f/x/m" --prompt-ids "$ids" --logits "$W/$f/x.npy" -n 1 >/dev/null 2>&1 || fail "$f ($T) --logits"
  "$W/$f/h/m" --prompt-ids "$ids" --logits "$W/$f/h.npy" -n 1 >/dev/null 2>&1 || fail "$f (host) --logits"
  "$B/tests/npy_compare" "$W/$f/x.npy" "$W/$f/h.npy" 1e-4 || fail "$f ($T): logits differ from the host build's"
  gx=$($XEMU "$W/$f/x/m" --prompt-ids "$ids" -n "$ng" --temp 0 --top-k 1 --tokens 2>/dev/null | words)
  gh=$("$W/$f/h/m" --prompt-ids "$ids" -n "$ng" --temp 0 --top-k 1 --tokens 2>/dev/null | words)
  [ -n "$gx" ] && [ "$gx" = "$gh" ] || fail "$f ($T): greedy tokens differ from the host build's:
  $T $gx
  host $gh"
  case " $gx " in *" $greedy "*) ;; *) fail "$f ($T): PyTorch's greedy ids ($greedy) are not in the output ($gx)";; esac
  n=$((n + 1))
done
echo "ok: $n language models cross-compiled for $T under $XEMU: identical greedy tokens, logits within 1e-4 of the host build's (and stories260K quantized four ways, when present)"
