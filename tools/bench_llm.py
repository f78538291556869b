#!/usr/bin/python3
"""`make bench`, language-model rows: decode and prefill tokens/s of smelt-compiled
models against llama.cpp on the same GGUF files, measured in the same run.  Used by
tools/bench_all.py (the one table of `make bench`); run alone it prints these rows only:

    tools/bench_llm.py BUILD_DIR [--sizes 15m,110m,500m] [--types f16,q8_0,q4_0] [--runs 5]

Models: ../shared/models/gguf/stories260K.gguf when present, and random Llama-shaped
files made by tools/make_bench_gguf.py (into $BENCH_MODELS, default ../bench-models
beside the checkout).  Each is compiled by smelt (--target native) and run with 1 and 2
threads: prefill = a 128-token prompt, decode = 128 tokens after a 1-token prompt; the
figure is the median of --runs runs.  smelt builds take --threads N when `smelt build
--help` lists it; until then its 2-thread cells say so.  llama.cpp runs when
$LLAMA_BENCH (or ../peer/llama.cpp/build/bin/llama-bench) is its llama-bench binary
(medians of llama-bench's per-run samples, `-t N`); otherwise its cells say so.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# One measurement (a process) may take this long; past it the cell says "timed out"
# instead of stretching `make bench` on an oversubscribed machine.
TIMEOUT = float(os.environ.get('BENCH_TIMEOUT', '240'))


def run(cmd, timeout=None, **kw):
    try:
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise RuntimeError('timed out (> %.0f s)' % timeout)


def bench_models_dir():
    return os.environ.get('BENCH_MODELS') or os.path.join(os.path.dirname(ROOT), 'bench-models')


def llama_bench_path():
    """$LLAMA_BENCH, else llama.cpp built beside the checkout, else None"""
    b = os.environ.get('LLAMA_BENCH')
    if b:
        return b
    b = os.path.join(os.path.dirname(ROOT), 'peer', 'llama.cpp', 'build', 'bin', 'llama-bench')
    return b if os.access(b, os.X_OK) else None


def smelt_has_threads(smelt):
    r = run([smelt, 'build', '--help'])
    return '--threads' in (r.stdout + r.stderr)


def smelt_rates(exe, n_prompt, n_gen, runs):
    """median prefill and decode tokens/s reported by the generated executable"""
    pre, dec = [], []
    prompt = ' '.join(['1'] + [str(259 + (i * 37) % 200) for i in range(n_prompt - 1)])
    for _ in range(runs):
        r = run([exe, '--prompt-ids', prompt, '-n', '1', '--tokens'], timeout=TIMEOUT / runs)
        m = re.search(r'prefill (\d+) tokens in [\d.]+ ms \(([\d.]+) tok/s\)', r.stderr)
        if r.returncode or not m:
            raise RuntimeError('%s failed: %s' % (exe, r.stderr.strip()))
        pre.append(float(m.group(2)))
        r = run([exe, '--prompt-ids', '1', '-n', str(n_gen), '--tokens'], timeout=TIMEOUT / runs)
        m = re.search(r'decode (\d+) tokens in [\d.]+ ms \(([\d.]+) tok/s\)', r.stderr)
        if r.returncode or not m:
            raise RuntimeError('%s failed: %s' % (exe, r.stderr.strip()))
        dec.append(float(m.group(2)))
    return statistics.median(pre), statistics.median(dec)


def llama_rates(bench, model, n_prompt, n_gen, runs, threads=1):
    """median prefill and decode tokens/s from llama-bench's per-run samples"""
    out = {}
    for key, p, n in (('pp', n_prompt, 0), ('tg', 0, n_gen)):
        try:  # a time-out of one half leaves the other half's figure
            r = run([bench, '-m', model, '-t', str(threads), '-p', str(p), '-n', str(n), '-r', str(runs), '-o', 'json'], timeout=TIMEOUT)
        except RuntimeError as e:
            out[key] = str(e)
            continue
        if r.returncode:
            raise RuntimeError('llama-bench failed on %s: %s' % (model, r.stderr.strip()[-300:]))
        res = json.loads(r.stdout)[0]
        out[key] = statistics.median(res['samples_ts'])
    return out['pp'], out['tg']


# ---- the roofline of a GGUF model: bytes per decoded token, FLOPs per prefilled prompt ----
GGML_BYTES = {0: (4, 1), 1: (2, 1), 30: (2, 1), 2: (18, 32), 3: (20, 32), 6: (22, 32), 7: (24, 32), 8: (34, 32)}


def gguf_info(path):
    """{'tensors': {name: (dims, ggml type)}, 'kv': {key: int or float}} (arrays skipped)"""
    with open(path, 'rb') as f:
        data = f.read(64 << 20)  # the header; tensor data is not needed
    off = [0]

    def take(fmt):
        v = struct.unpack_from('<' + fmt, data, off[0])
        off[0] += struct.calcsize('<' + fmt)
        return v[0]

    def string():
        n = take('Q')
        s = data[off[0]:off[0] + n].decode('utf-8', 'replace')
        off[0] += n
        return s
    scalar = {0: 'B', 1: 'b', 2: 'H', 3: 'h', 4: 'I', 5: 'i', 6: 'f', 7: '?', 10: 'Q', 11: 'q', 12: 'd'}

    def value(t):
        if t in scalar:
            return take(scalar[t])
        if t == 8:
            return string()
        if t == 9:
            et, n = take('I'), take('Q')
            if et in scalar:
                off[0] += n * struct.calcsize('<' + scalar[et])
            else:
                for _ in range(n):
                    value(et)
            return None
        raise ValueError('GGUF value type %d' % t)
    if data[:4] != b'GGUF':
        raise ValueError('%s: not GGUF' % path)
    off[0] = 8
    nt, nkv = take('Q'), take('Q')
    kv = {}
    for _ in range(nkv):
        k = string()
        kv[k] = value(take('I'))
    tensors = {}
    for _ in range(nt):
        name = string()
        nd = take('I')
        dims = [take('Q') for _ in range(nd)]
        t = take('I')
        take('Q')
        tensors[name] = (dims, t)
    return {'tensors': tensors, 'kv': kv}


def roofline_terms(path, n_prompt=128):
    """(weight bytes read per decoded token, FLOPs of a prefill of n_prompt tokens), or
    None when a tensor type is not in GGML_BYTES.  Decode reads every layer weight and
    the output projection (the embedding when tied) once per token; prefill multiplies
    every layer weight by each token, the output projection once (the last position's
    logits), and attention adds 4·n_layer·d_attn·i FLOPs at position i."""
    g = gguf_info(path)
    ts, kv = g['tensors'], g['kv']
    arch = kv.get('general.architecture', 'llama')
    nbytes = nel_layer = 0
    for name, (dims, t) in ts.items():
        if t not in GGML_BYTES:
            return None
        n = 1
        for d in dims:
            n *= d
        b = n * GGML_BYTES[t][0] // GGML_BYTES[t][1]
        if name.startswith('blk.'):
            nbytes += b
            if len(dims) == 2:
                nel_layer += n
    out = 'output.weight' if 'output.weight' in ts else 'token_embd.weight'
    dims, t = ts[out]
    nel_out = dims[0] * dims[1]
    nbytes += nel_out * GGML_BYTES[t][0] // GGML_BYTES[t][1]
    L = kv.get(arch + '.block_count', 0)
    d = kv.get(arch + '.embedding_length', 0)
    attn = 4 * L * d * n_prompt * (n_prompt + 1) // 2
    return nbytes, 2 * n_prompt * nel_layer + 2 * nel_out + attn


def models_list(sizes, types):
    mdir = bench_models_dir()
    subprocess.run([sys.executable, os.path.join(HERE, 'make_bench_gguf.py'), mdir, '--sizes', sizes, '--types', types], check=True)
    models = []
    stories = os.path.join(os.path.dirname(ROOT), 'shared', 'models', 'gguf', 'stories260K.gguf')
    if os.path.exists(stories):
        models.append(('stories260K', 'f32', stories))
    for s in sizes.split(','):
        for t in types.split(','):
            models.append((s, t, os.path.join(mdir, 'bench-%s-%s.gguf' % (s, t))))
    return models


def measure(build, models, threads_list, runs, log=sys.stderr):
    """rows of dicts: model, type, path, threads, smelt (prefill, decode) or a reason,
    llama (prefill, decode) or a reason"""
    smelt = os.path.join(build, 'smelt')
    wdir = os.path.join(build, 'bench')
    os.makedirs(wdir, exist_ok=True)
    threads_ok = smelt_has_threads(smelt)
    bench = llama_bench_path()
    if bench and not os.access(bench, os.X_OK):
        bench = None
    rows = []
    for name, t, path in models:
        for th in threads_list:
            row = {'model': name, 'type': t, 'path': path, 'threads': th}
            if th > 1 and not threads_ok:
                row['smelt'] = 'n/a (no threads yet)'
            else:
                out = os.path.join(wdir, '%s-%s-t%d' % (name, t, th))
                # a context long enough for the 128-token prompt plus the decoded tokens
                cmd = [smelt, 'build', path, '-o', out, '--name', 'm', '--ctx', '512', '-q']
                if threads_ok:
                    cmd += ['--threads', str(th)]
                # extra build flags, e.g. SMELT_BENCH_FLAGS='--skip-pass concat' to measure a pass
                cmd += os.environ.get('SMELT_BENCH_FLAGS', '').split()
                r = run(cmd)
                if r.returncode:
                    row['smelt'] = 'build failed: ' + r.stderr.strip().splitlines()[-1][:120]
                else:
                    try:
                        row['smelt'] = smelt_rates(os.path.join(out, 'm'), 128, 128, runs)
                    except RuntimeError as e:
                        row['smelt'] = str(e)[:120] if 'timed out' in str(e) else 'run failed: ' + str(e)[:120]
                # a 500M build is ~2 GB (weights object and executable): keep one at a time
                # unless SMELT_BENCH_KEEP is set (to profile the executables afterwards)
                if not os.environ.get('SMELT_BENCH_KEEP'):
                    shutil.rmtree(out, ignore_errors=True)
            if bench:
                try:
                    row['llama'] = llama_rates(bench, path, 128, 128, runs, th)
                except RuntimeError as e:
                    row['llama'] = str(e)[:120]
            else:
                row['llama'] = 'not run: set LLAMA_BENCH to llama.cpp\'s llama-bench'
            rows.append(row)
            print('  %s %s t%d: smelt %s, llama.cpp %s' % (name, t, th, row['smelt'], row['llama']), file=log, flush=True)
    return rows, bench


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('build')
    ap.add_argument('--sizes', default=os.environ.get('BENCH_SIZES', '15m,110m,500m'))
    ap.add_argument('--types', default=os.environ.get('BENCH_TYPES', 'f16,q8_0,q4_0'))
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--runs', type=int, default=5)
    a = ap.parse_args()
    rows, bench = measure(a.build, models_list(a.sizes, a.types), [int(x) for x in a.threads.split(',')], a.runs)
    for r in rows:
        print(r['model'], r['type'], 't%d' % r['threads'], r['smelt'], r['llama'])


if __name__ == '__main__':
    main()
