#!/usr/bin/python3
"""`make bench`: ONE table of smelt's speed against peers, every row measured in this run.

    tools/bench_all.py BUILD_DIR [--quick]

Rows (each the median of at least 5 runs):
  - language models (tools/bench_llm.py): prefill of a 128-token prompt and decode of 128
    tokens, tokens/s, 1 and 2 threads, against llama.cpp's llama-bench on the same GGUF:
    stories260K (F32) and random Llama-shaped 15M/110M/500M models (tools/make_bench_gguf.py);
  - ONNX models against ONNX Runtime (onnxruntime-node from npm, its CPU provider; one
    thread; the same inputs): mnist-8, the demo's digit classifier, and a BERT-style
    encoder and a CNN exported by PyTorch (tools/make_bench_onnx.py);
  - f32 GEMM (M = N = K) and GEMV (M = 1) built as one-MatMul ONNX models with a constant
    weight, against OpenBLAS's cblas_sgemm / cblas_sgemv (one thread).
The last column is smelt's fraction of this machine's roofline, measured by
tools/bench/probe.c in the same run: memory-bound rows (decode, GEMV) move their weight
bytes per token/call over the measured read bandwidth; compute-bound rows (prefill, ONNX
models, GEMM) do their MatMul/Gemm/Conv FLOPs over the measured f32 FMA peak.

A peer that is not available gives its cells a reason instead of a number.  ONNX
Runtime is unpacked into $SMELT_BENCH_CACHE (default ~/.cache/smelt-bench), never into
the checkout; bench models go to $BENCH_MODELS (default ../bench-models).
The table goes to stdout and BUILD_DIR/bench/table.md.  --quick measures a subset
(stories260K, 15M, mnist-8, GEMM 256) to check the harness.
"""
import argparse
import datetime
import os
import platform
import re
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_llm  # noqa: E402

CACHE = os.environ.get('SMELT_BENCH_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'smelt-bench')
ORT_PKG = 'onnxruntime-node'


def run(cmd, **kw):
    return bench_llm.run(cmd, timeout=kw.pop('timeout', 2 * bench_llm.TIMEOUT), **kw)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---- the machine: read bandwidth and FMA peak ----------------------------------------------
def probe(build):
    exe = os.path.join(build, 'bench', 'probe')
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    r = run(['cc', '-O2', '-march=native', '-pthread', os.path.join(HERE, 'bench', 'probe.c'), '-o', exe])
    if r.returncode:
        sys.exit('cannot build the probe:\n' + r.stderr)
    r = run([exe, '2'])
    out = {}
    for line in r.stdout.splitlines():
        k, t, v = line.split()
        out[(k, int(t))] = float(v)
    return out


# ---- ONNX Runtime ----------------------------------------------------------------------------
def ort_setup():
    """NODE_PATH holding onnxruntime-node + onnxruntime-common unpacked from `npm pack`
    (no install scripts run, nothing downloaded besides the two packages), or a reason."""
    if not shutil.which('node') or not shutil.which('npm'):
        return None, 'not run: node/npm missing (Debian: nodejs npm)'
    base = os.path.join(CACHE, 'ort')
    nm = os.path.join(base, 'node_modules')
    if not os.path.exists(os.path.join(nm, ORT_PKG, 'package.json')):
        os.makedirs(base, exist_ok=True)
        for pkg in (ORT_PKG, 'onnxruntime-common'):
            r = run(['npm', 'pack', pkg, '--silent'], cwd=base)
            if r.returncode:
                return None, 'not run: npm pack %s failed: %s' % (pkg, r.stderr.strip()[-100:])
            tgz = os.path.join(base, r.stdout.strip().splitlines()[-1])
            dest = os.path.join(nm, pkg)
            os.makedirs(dest, exist_ok=True)
            r = run(['tar', 'xzf', tgz, '-C', dest, '--strip-components=1'])
            if r.returncode:
                return None, 'not run: cannot unpack %s' % tgz
            os.remove(tgz)
    r = run(['node', '-e', 'console.log(require("onnxruntime-node/package.json").version)'], env=dict(os.environ, NODE_PATH=nm))
    if r.returncode:
        return None, 'not run: onnxruntime-node does not load: ' + r.stderr.strip()[-100:]
    return nm, 'ONNX Runtime ' + r.stdout.strip()


def onnx_flops(path, dims=None):
    """FLOPs of the model's MatMul, Gemm and Conv nodes (2 per multiply-add), from ONNX
    shape inference; dims fixes symbolic input dims (name -> value)."""
    import onnx
    from onnx import shape_inference
    m = onnx.load(path)
    for i in m.graph.input:
        for d in i.type.tensor_type.shape.dim:
            if d.dim_param and dims and d.dim_param in dims:
                v = dims[d.dim_param]
                d.ClearField('dim_param')
                d.dim_value = v
    m = shape_inference.infer_shapes(m)
    shapes = {}
    for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    for t in m.graph.initializer:
        shapes[t.name] = list(t.dims)
    total = 0
    for n in m.graph.node:
        if n.op_type in ('MatMul', 'Gemm', 'Conv'):
            out = shapes.get(n.output[0])
            a, b = shapes.get(n.input[0]), shapes.get(n.input[1])
            if not out or not a or not b or 0 in out:
                continue
            if n.op_type == 'Conv':
                k = int(np.prod(b[1:]))  # C/group · kernel
            elif n.op_type == 'Gemm':
                ta = [x.i for x in n.attribute if x.name == 'transA']
                k = a[0] if ta and ta[0] else a[-1]
            else:
                k = a[-1]
            total += 2 * int(np.prod(out)) * k
    return total


def onnx_input_specs(path, dims):
    import onnx
    m = onnx.load(path)
    inits = {t.name for t in m.graph.initializer}
    specs = []
    for i in m.graph.input:
        if i.name in inits:
            continue
        shape = [d.dim_value if d.dim_value else dims.get(d.dim_param, 1) for d in i.type.tensor_type.shape.dim]
        et = i.type.tensor_type.elem_type
        specs.append((i.name, {1: 'float32', 7: 'int64', 6: 'int32'}[et], shape))
    return specs


def time_onnx(build, name, path, runs, nm, dims=None, build_args=()):
    """(smelt ms, ORT ms or reason, FLOPs, max |difference| of the first output)"""
    dims = dims or {}
    wdir = os.path.join(build, 'bench', 'onnx-' + name)
    os.makedirs(wdir, exist_ok=True)
    rng = np.random.default_rng(0)
    npys, ort_args = [], []
    for k, (iname, dt, shape) in enumerate(onnx_input_specs(path, dims)):
        if dt == 'int64':
            x = rng.integers(0, 1000, shape).astype(np.int64)
        else:
            x = rng.standard_normal(shape).astype(np.float32 if dt == 'float32' else np.int32)
        p = os.path.join(wdir, 'in%d.npy' % k)
        np.save(p, x)
        x.tofile(p[:-4] + '.bin')
        npys.append(p)
        ort_args.append('%s:%s:%s:%s' % (iname, dt, 'x'.join(map(str, shape)), p[:-4] + '.bin'))
    # a library built by smelt, timed by tools/bench/timer.c (nanosecond clock per run)
    cmd = [os.path.join(build, 'smelt'), 'build', path, '-o', wdir, '--name', 'model', '--emit', 'lib', '-q'] + list(build_args)
    for k, v in dims.items():
        cmd += ['--dim', '%s=%d' % (k, v)]
    r = run(cmd)
    if r.returncode:
        return 'build failed: ' + r.stderr.strip()[-120:], None, 0, None
    timer = os.path.join(wdir, 'timer')
    r = run(['cc', '-std=c99', '-O2', '-I', wdir, os.path.join(HERE, 'bench', 'timer.c'), '-o', timer, '-L', wdir, '-lmodel', '-lm'])
    if r.returncode:
        return 'timer does not build: ' + r.stderr.strip()[-120:], None, 0, None
    ourout = os.path.join(wdir, 'smelt_out.bin')
    r = run([timer, str(runs), ourout] + npys)
    mm = re.search(r'median_ms ([\d.]+)', r.stdout)
    if r.returncode or not mm:
        return 'run failed: ' + r.stderr.strip()[-120:], None, 0, None
    ours = float(mm.group(1))
    flops = onnx_flops(path, dims)
    if not nm:
        return ours, None, flops, None
    ortout = os.path.join(wdir, 'ort_out.bin')
    r = run(['node', os.path.join(HERE, 'bench', 'ort_bench.js'), path, str(runs), '--out', ortout] + ort_args,
            env=dict(os.environ, NODE_PATH=nm))
    mm = re.search(r'median_ms ([\d.]+)', r.stdout)
    if r.returncode or not mm:
        return ours, 'ORT failed: ' + r.stderr.strip()[-120:], flops, None
    diff = None
    if os.path.exists(ortout):
        a = np.fromfile(ourout, dtype=np.float32).astype(np.float64)
        b = np.fromfile(ortout, dtype=np.float32).astype(np.float64)
        if a.size == b.size and b.size:
            diff = float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))
    return ours, float(mm.group(1)), flops, diff


# ---- the table ---------------------------------------------------------------------------------
def fmt_rate(v, unit):
    if isinstance(v, str):
        return v
    if v is None:
        return '—'
    return ('%.1f %s' if v >= 10 else '%.2f %s' if v >= 1 else '%.3g %s') % (v, unit)


def ratio(ours, peer, higher_better=True):
    if isinstance(ours, (int, float)) and isinstance(peer, (int, float)) and ours > 0 and peer > 0:
        return '%.2f×' % (ours / peer if higher_better else peer / ours)
    return 'n/a'


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('build')
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--only', default='llm,onnx,gemm',
                    help='comma-separated sections to measure: llm, onnx, gemm (default: all)')
    a = ap.parse_args()
    only = set(a.only.split(','))
    build = os.path.abspath(a.build)
    runs = max(5, a.runs)
    mdir = bench_llm.bench_models_dir()
    onnx_dir = os.path.join(mdir, 'onnx')
    t_start = datetime.datetime.utcnow()
    load0 = os.getloadavg()[0]

    log('bench: probing read bandwidth and FMA peak')
    roof = probe(build)

    rows = []  # (workload, threads, ours, peer name, peer, ratio, roofline)

    # ---- language models ----
    if a.quick:
        sizes, types = '15m', 'q8_0'
    else:
        sizes = os.environ.get('BENCH_SIZES', '15m,110m,500m')
        types = os.environ.get('BENCH_TYPES', 'f16,q8_0,q4_0')
    models = bench_llm.models_list(sizes, types)
    # the 500M rows take a minute or two each (BENCH_500M_TYPES=q8_0 to keep one type)
    keep500 = os.environ.get('BENCH_500M_TYPES', 'f16,q8_0,q4_0').split(',')
    models = [m for m in models if m[0] != '500m' or m[1] in keep500]
    if 'llm' not in only:
        models = []
    log('bench: %d language models, 1 and 2 threads' % len(models))
    llm_rows, lbench = bench_llm.measure(build, models, [1, 2], runs)
    for r in llm_rows:
        terms = bench_llm.roofline_terms(r['path'])
        th = r['threads']
        label = '%s %s' % (r['model'], r['type'].upper() if r['type'] != 'f32' else 'F32')
        ours = r['smelt'] if isinstance(r['smelt'], str) else None
        peer = r['llama'] if isinstance(r['llama'], str) else None
        for k, what in ((0, 'prefill 128'), (1, 'decode 128')):
            o = ours if ours else r['smelt'][k]
            p = peer if peer else r['llama'][k]
            roofs = None
            if terms and not isinstance(o, str):
                roofs = ('bw', th, o * terms[0]) if k == 1 else ('peak', th, o * terms[1] / 128)
            rows.append(('%s %s' % (label, what), th, fmt_rate(o, 'tok/s'), 'llama.cpp', fmt_rate(p, 'tok/s'), ratio(o, p), roofs))

    # ---- ONNX models vs ONNX Runtime ----
    try:
        nm, ort_name = ort_setup()
    except RuntimeError as e:
        nm, ort_name = None, 'not run: ONNX Runtime setup ' + str(e)
    log('bench: ONNX models (%s)' % ort_name)
    onnx_models = []
    if 'onnx' not in only:
        nm = None
    mnist = os.path.join(os.path.dirname(ROOT), 'shared', 'models', 'onnx', 'mnist-8', 'model.onnx')
    if os.path.exists(mnist):
        onnx_models.append(('mnist-8', mnist, 200, {}))
    else:
        rows.append(('mnist-8', 1, 'not run: %s is missing' % mnist, 'ONNX Runtime', '—', 'n/a', None))
    onnx_models.append(('digits (make demo)', os.path.join(ROOT, 'samples', 'digits', 'digits.onnx'), 200, {'N': 1}))
    r = run([sys.executable, os.path.join(HERE, 'make_bench_onnx.py'), onnx_dir])
    made_why = r.stderr.strip().splitlines()[-1][-120:] if r.returncode and r.stderr.strip() else 'tools/make_bench_onnx.py failed'
    if not a.quick:
        onnx_models.append(('BERT-style encoder (4 layers, d 256, seq 128)', os.path.join(onnx_dir, 'bert.onnx'), 10, {}))
        onnx_models.append(('CNN (ResNet-style, 64×64)', os.path.join(onnx_dir, 'cnn.onnx'), 5, {}))
    try:
        __import__("onnx")  # FLOP counts and input shapes
    except ImportError:
        for name, *_ in onnx_models:
            rows.append((name, 1, 'not run: python3-onnx missing', 'ONNX Runtime', '—', 'n/a', None))
        onnx_models = []
    if 'onnx' not in only:
        onnx_models, rows = [], [r for r in rows if not r[0].startswith('mnist-8')]
    for name, path, n, dims in onnx_models:
        if not os.path.exists(path):
            rows.append((name, 1, 'not run: ' + made_why, 'ONNX Runtime', '—', 'n/a', None))
            continue
        try:
            ours, peer, flops, diff = time_onnx(build, name.split()[0].lower(), path, max(runs, n), nm, dims)
        except RuntimeError as e:
            ours, peer, flops, diff = str(e), None, 0, None
        if peer is None:
            peer = ort_name if not nm else '—'
        roofs = ('peak', 1, flops / (ours / 1e3)) if isinstance(ours, float) and flops else None
        note = '' if diff is None else ' (outputs agree: %.1e)' % diff
        rows.append((name + note, 1, fmt_rate(ours, 'ms'), 'ONNX Runtime', fmt_rate(peer, 'ms'), ratio(ours, peer, False), roofs))

    # ---- GEMM / GEMV vs OpenBLAS ----
    blas = os.path.join(build, 'bench', 'blas')
    r = run(['cc', '-O2', os.path.join(HERE, 'bench', 'blas.c'), '-o', blas, '-lopenblas'])
    blas_why = None if not r.returncode else 'not run: OpenBLAS missing (Debian: libopenblas-dev)'
    shapes = [(256, 256, 256)] if a.quick else [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (1, 4096, 4096), (1, 11008, 4096)]
    if 'gemm' not in only:
        shapes = []
    for M, N, K in shapes:
        path = os.path.join(onnx_dir, 'gemm_%dx%dx%d.onnx' % (M, N, K))
        if not os.path.exists(path):
            rows.append(('GEMM/GEMV %d×%d×%d' % (M, N, K), 1, 'not run: ' + made_why, 'OpenBLAS', '—', 'n/a', None))
            continue
        n = 5 if M * N * K >= 1 << 30 else 20 if M > 1 and M * N * K >= 1 << 27 else 50
        try:
            ours, _, flops, _ = time_onnx(build, 'gemm_%dx%dx%d' % (M, N, K), path, max(runs, n), None)
        except RuntimeError as e:
            ours = str(e)
        peer = blas_why
        if not blas_why:
            try:
                rb = run([blas, str(M), str(N), str(K), str(max(runs, n))], env=dict(os.environ, OPENBLAS_NUM_THREADS='1'))
                peer = float(rb.stdout.split()[1]) if not rb.returncode else 'OpenBLAS failed'
            except RuntimeError as e:
                peer = str(e)
        if M == 1:
            label = 'GEMV %d×%d (f32 weights, %.0f MiB)' % (K, N, K * N * 4 / 2**20)
            roofs = ('bw', 1, K * N * 4 / (ours / 1e3)) if isinstance(ours, float) else None
        else:
            label = 'GEMM %d×%d×%d' % (M, N, K)
            roofs = ('peak', 1, 2 * M * N * K / (ours / 1e3)) if isinstance(ours, float) else None
        rows.append((label, 1, fmt_rate(ours, 'ms'), 'OpenBLAS', fmt_rate(peer, 'ms'), ratio(ours, peer, False), roofs))

    # ---- print ----
    roof2 = probe(build)  # again at the end: the machine's best of both probes is the ceiling
    lines = ['| workload | threads | smelt | peer | peer result | smelt speed / peer | smelt vs roofline |',
             '|---|---:|---:|---|---:|---:|---|']
    ceil = {k: max(roof[k], roof2[k]) for k in roof}

    def roofline(rf):
        if not rf:
            return '—'
        kind, th, v = rf
        if kind == 'bw':
            return '%.0f%% of %.1f GB/s' % (100 * v / 1e9 / ceil[('bw', th)], ceil[('bw', th)])
        return '%.0f%% of %.0f GFLOP/s' % (100 * v / 1e9 / ceil[('peak', th)], ceil[('peak', th)])
    for w, th, o, pn, p, rt, rf in rows:
        rf = roofline(rf)
        lines.append('| %s | %d | %s | %s | %s | %s | %s |' % (w, th, o, pn, p, rt, rf))
    note = [
        '',
        'Measured %s UTC to %s UTC on %s (%s, %d CPUs), `make bench`.' % (
            t_start.strftime('%Y-%m-%d %H:%M'), datetime.datetime.utcnow().strftime('%H:%M'), platform.node() or 'this machine',
            platform.processor() or platform.machine(), os.cpu_count() or 0),
        'Load average (1 min): %.1f at the start, %.1f at the end.  ' % (load0, os.getloadavg()[0]) +
        'Every cell is a median of at least %d runs in this one run.  smelt: `--target native` (the x86 / arm SIMD kernels where '
        'they apply, the generic C kernels elsewhere, -march=native%s).' % (runs, '' if bench_llm.smelt_has_threads(os.path.join(build, 'smelt')) else '; no --threads yet, so its 2-thread cells say n/a'),
        'Peers: llama.cpp (%s; tokens/s from llama-bench, `-p 128` / `-n 128`, `-t N`), %s (onnxruntime-node, CPU provider, '
        'one thread, timed around session.run in node: includes a few µs of binding overhead), OpenBLAS (cblas_sgemm/sgemv, '
        'OPENBLAS_NUM_THREADS=1).' % (lbench or 'not found: set LLAMA_BENCH', ort_name),
        'Roofline (tools/bench/probe.c, this run, start / end): read bandwidth %.1f / %.1f GB/s (1 thread), %.1f / %.1f GB/s '
        '(2 threads); f32 FMA peak %.0f / %.0f GFLOP/s (1 thread), %.0f / %.0f (2 threads).  Decode and GEMV rows: weight bytes '
        'per token or call ÷ time ÷ bandwidth; prefill, ONNX and GEMM rows: MatMul/Gemm/Conv FLOPs ÷ time ÷ peak; the '
        'ceiling is the better of the two probes.  A fraction can exceed 100%% when the weights fit in cache (stories260K: '
        '1 MB) or, on a shared machine, when both probes ran during busy moments.' % (
            roof[('bw', 1)], roof2[('bw', 1)], roof[('bw', 2)], roof2[('bw', 2)], roof[('peak', 1)], roof2[('peak', 1)],
            roof[('peak', 2)], roof2[('peak', 2)]),
    ]
    table = '\n'.join(lines + note) + '\n'
    print(table)
    with open(os.path.join(build, 'bench', 'table.md'), 'w') as f:
        f.write(table)


if __name__ == '__main__':
    main()
