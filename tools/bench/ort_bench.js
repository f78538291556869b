// tools/bench/ort_bench.js — the ONNX Runtime side of `make bench`'s ONNX rows: loads
// MODEL in onnxruntime-node (the CPU execution provider of the real ORT shared library,
// from `npm pack onnxruntime-node`; NODE_PATH names the folder holding it), one intra-op
// and one inter-op thread, sequential execution, all graph optimizations, and times
// session.run on the given inputs.  Prints the median of RUNS runs in milliseconds,
// after 3 warm-up runs.  The time includes the binding's per-call overhead (tensor
// wrapping, a promise), a few microseconds: the table says so.
//
//   node ort_bench.js MODEL RUNS [--out FILE] NAME:DTYPE:D0xD1x..:FILE.bin ...   prints "median_ms MS"
// --out writes the first output's elements (f32, raw) to FILE, to check both agree.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

(async () => {
  let [model, runsArg, ...specs] = process.argv.slice(2);
  let out = null;
  if (specs[0] === '--out') { out = specs[1]; specs = specs.slice(2); }
  const runs = parseInt(runsArg, 10);
  const feeds = {};
  for (const s of specs) {
    const [name, dtype, shape, file] = s.split(':');
    const buf = fs.readFileSync(file);
    const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const data = dtype === 'int64' ? new BigInt64Array(ab) : dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
    feeds[name] = new ort.Tensor(dtype, data, shape.split('x').map(Number));
  }
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const first = await sess.run(feeds);
  if (out) fs.writeFileSync(out, Buffer.from(Float32Array.from(first[sess.outputNames[0]].data).buffer));
  for (let i = 0; i < 2; i++) await sess.run(feeds);
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await sess.run(feeds);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  console.log('median_ms ' + t[Math.floor(runs / 2)].toFixed(6));
})().catch((e) => { console.error('ort_bench: ' + e.message); process.exit(1); });
