#!/bin/sh
# tests/e2e/llm_weights.sh BUILD MODEL NAME — a GGUF whose weights are not f32 (f16 or
# block-quantized) compiles with its weights kept as stored, and the compiled logits after
# every token of a prompt agree with the reference interpreter's (rel. error <= 1e-4).
set -u
B=$1; M=$2; N=$3
[ -f "$M" ] || { echo "SKIPPED: $M is missing"; exit 77; }
W=$B/e2e-llm-$N; rm -rf "$W"; mkdir -p "$W"
fail() { echo "FAIL: $*"; exit 1; }
"$B/smelt" build "$M" -o "$W" --name m -q || fail "smelt build"
grep -q "smq_dot_\|sms_matmul" "$W/m.c" || fail "no kernel computes on the stored weights"
P="1 450 4996 17354 1701"
"$W/m" --prompt-ids "$P" --prompt-logits --logits "$W/compiled.npy" -n 0 >/dev/null 2>&1 || fail "compiled --prompt-logits"
"$B/tests/llm_ref" "$M" --prompt-ids "$P" -n 1 --logits "$W/ref.npy" >/dev/null || fail "llm_ref --logits"
"$B/tests/npy_compare" "$W/compiled.npy" "$W/ref.npy" 1e-4 || fail "logits differ"
echo "ok: $N: per-position logits of the compiled model agree with the interpreter's"
