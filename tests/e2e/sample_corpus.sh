#!/bin/sh
# tests/e2e/sample_corpus.sh EXE N OUT — N whole 127-token stories that the language-model
# executable EXE samples itself (temperature 1, seeds 1, 2, .. up to 200, skipping those
# that stop early), one line of token ids each, into OUT: a corpus for --perplexity-ids.
# Used by tests/e2e/quant_llm.sh and tests/cross/llm.sh.  Exits 1, saying why, when fewer
# than N come.
set -u
E=$1; N=$2; O=$3
: > "$O"
k=0; s=0
while [ $k -lt "$N" ] && [ $s -lt 200 ]; do
  s=$((s + 1))
  t=$("$E" -n 127 --temp 1 --seed $s --tokens 2>/dev/null) || { echo "FAIL: sampling with $E (seed $s)"; exit 1; }
  [ "$(echo $t | wc -w)" -eq 127 ] || continue
  echo "$t" >> "$O"; k=$((k + 1))
done
[ $k -eq "$N" ] || { echo "FAIL: only $k whole stories sampled by $E"; exit 1; }
