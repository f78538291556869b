#!/bin/sh
# tests/fuzz/run.sh — the ctest fuzz_libfuzzer: runs each libFuzzer harness for a few
# seconds, seeded from the project's fixtures (and small ONNX node-test models and
# tensors when libonnx-testdata is installed).  The corpus grows in CORPUS_DIR from
# run to run; a finding is saved in CORPUS_DIR/crashes/ and fails the test (rerun it
# with `FUZZ_BIN/fuzz_NAME CRASH_FILE`).  Run longer by hand with e.g.
#   build/fuzz/tests/fuzz/fuzz_ir -max_total_time=3600 build/fuzz-corpus/ir
#
# usage: run.sh FUZZ_BIN CORPUS_DIR SECONDS_EACH SOURCE_DIR
set -u
bin=$1 corpus=$2 secs=$3 src=$4
for h in onnx ir npy safetensors hf lora; do
  if [ ! -x "$bin/fuzz_$h" ]; then
    echo "SKIPPED: $bin/fuzz_$h is not built (needs clang with libFuzzer: apt-get install clang libclang-rt-dev, then reconfigure)"
    exit 77
  fi
done
seeds=$corpus/seeds
rm -rf "$seeds"
mkdir -p "$seeds/onnx" "$seeds/ir" "$seeds/npy" "$seeds/safetensors" "$seeds/hf" "$seeds/lora" "$corpus/crashes"
cp "$src/tests/malformed/base.onnx" "$seeds/onnx/"
for m in "$src"/tests/e2e/models/*/model.onnx; do cp "$m" "$seeds/onnx/$(basename "$(dirname "$m")").onnx"; done
cp "$src"/tests/ir/*.ir "$src"/tests/golden/*.ir "$seeds/ir/"
# inputs that once found a bug (tests/fuzz/regress/HARNESS/) are seeds too
# the LLM fixtures: their safetensors files, and config.json for fuzz_hf
for d in "$src"/tests/e2e/llm/*/; do
  n=$(basename "$d")
  for f in "$d"*.safetensors; do [ -f "$f" ] && cp "$f" "$seeds/safetensors/${n}_$(basename "$f")"; done
  cp "$d/config.json" "$seeds/hf/$n.json"
done
cp "$src"/tests/e2e/lora/llama/*.gguf "$seeds/lora/" 2>/dev/null # GGUF LoRA adapters (tools/make_lora_fixtures.py)
rm -f "$seeds/lora/model_q8_0.gguf"
for h in onnx ir npy safetensors hf lora; do
  for f in "$src/tests/fuzz/regress/$h"/*; do [ -f "$f" ] && cp "$f" "$seeds/$h/regress-$(basename "$f")"; done
done
for f in "$src"/tests/e2e/models/*/*.npy; do cp "$f" "$seeds/npy/$(basename "$(dirname "$f")")_$(basename "$f")"; done
node=/usr/include/onnx/backend/test/data/node
if [ -d "$node" ]; then
  # every fifth small node model, and the input tensors of a few
  find "$node" -name model.onnx -size -3k | sort | awk 'NR % 5 == 1' | while read -r m; do
    cp "$m" "$seeds/onnx/$(basename "$(dirname "$m")").onnx"
  done
  find "$node" -name input_0.pb -size -2k | sort | awk 'NR % 20 == 1' | while read -r t; do
    cp "$t" "$seeds/npy/$(basename "$(dirname "$(dirname "$t")")").pb"
  done
fi
status=0
for h in onnx ir npy safetensors hf lora; do
  mkdir -p "$corpus/$h"
  dict=
  if [ "$h" = ir ]; then dict=-dict=$src/tests/fuzz/ir.dict; fi
  maxlen=65536
  if [ "$h" = safetensors ]; then maxlen=262144; fi # the fixtures' files are up to 180 KB
  "$bin/fuzz_$h" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=$maxlen -print_final_stats=1 \
    -artifact_prefix="$corpus/crashes/$h-" $dict "$corpus/$h" "$seeds/$h" >"$corpus/$h.log" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: fuzz_$h found a problem (exit $rc); log $corpus/$h.log, inputs in $corpus/crashes/"
    tail -40 "$corpus/$h.log"
    status=1
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus/$h.log")
    echo "fuzz_$h: ${runs:-?} inputs in ${secs} s, corpus $(ls "$corpus/$h" | wc -l) files, no findings"
  fi
done
exit $status
