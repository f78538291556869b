#!/bin/sh
# tests/cross/llm.sh BUILD SRC TARGET — language models cross-compiled for TARGET
# (aarch64, aarch64-dotprod) and run under qemu-aarch64, against the same models built
# for the host (--target generic):
#   - stories260K (../shared/models/gguf, when present): 32 greedy tokens from BOS equal
#     llama.cpp's recorded ids; the per-position logits of a prompt agree with the host
#     build's within 1e-4 (relative to max(|x|, 1));
#   - every fixture of tests/e2e/llm (seven families; the GGUF form where there is one):
#     the prompt's logits agree with the host build's within 1e-4 and the greedy tokens
#     are identical, and contain the fixture's PyTorch greedy ids.
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
echo "ok: $n language models cross-compiled for $T under $XEMU: identical greedy tokens, logits within 1e-4 of the host build's"
