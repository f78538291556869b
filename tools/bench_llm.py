#!/usr/bin/python3
"""`make bench`, language-model rows: decode and prefill tokens/s of smelt-compiled
models against llama.cpp on the same GGUF files, measured in the same run.

    tools/bench_llm.py BUILD_DIR [--sizes 15m,110m,500m] [--types f16,q8_0,q4_0] [--runs 5]

Models: ../shared/models/gguf/stories260K.gguf when present, and random Llama-shaped
files made by tools/make_bench_gguf.py into BUILD_DIR/bench-models.  Each is compiled
by smelt (--target native) and run with one thread: prefill = a 128-token prompt,
decode = 128 tokens after a 1-token prompt; the figure is the median of --runs runs.
llama.cpp runs when the environment variable LLAMA_BENCH names its llama-bench binary
(its medians come from llama-bench's per-run samples); otherwise its columns say so.
The table goes to stdout and BUILD_DIR/bench/llm.md.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def smelt_rates(exe, n_prompt, n_gen, runs):
    """median prefill and decode tokens/s reported by the generated executable"""
    pre, dec = [], []
    prompt = ' '.join(['1'] + [str(259 + (i * 37) % 200) for i in range(n_prompt - 1)])
    for _ in range(runs):
        r = run([exe, '--prompt-ids', prompt, '-n', '1', '--tokens'])
        m = re.search(r'prefill (\d+) tokens in [\d.]+ ms \(([\d.]+) tok/s\)', r.stderr)
        if r.returncode or not m:
            raise RuntimeError('%s failed: %s' % (exe, r.stderr.strip()))
        pre.append(float(m.group(2)))
        r = run([exe, '--prompt-ids', '1', '-n', str(n_gen), '--tokens'])
        m = re.search(r'decode (\d+) tokens in [\d.]+ ms \(([\d.]+) tok/s\)', r.stderr)
        if r.returncode or not m:
            raise RuntimeError('%s failed: %s' % (exe, r.stderr.strip()))
        dec.append(float(m.group(2)))
    return statistics.median(pre), statistics.median(dec)


def llama_rates(bench, model, n_prompt, n_gen, runs, threads=1):
    """median prefill and decode tokens/s from llama-bench's per-run samples"""
    out = {}
    for key, p, n in (('pp', n_prompt, 0), ('tg', 0, n_gen)):
        r = run([bench, '-m', model, '-t', str(threads), '-p', str(p), '-n', str(n), '-r', str(runs), '-o', 'json'])
        if r.returncode:
            raise RuntimeError('llama-bench failed on %s: %s' % (model, r.stderr.strip()[-300:]))
        res = json.loads(r.stdout)[0]
        out[key] = statistics.median(res['samples_ts'])
    return out['pp'], out['tg']


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('build')
    ap.add_argument('--sizes', default=os.environ.get('BENCH_SIZES', '15m,110m,500m'))
    ap.add_argument('--types', default=os.environ.get('BENCH_TYPES', 'f16,q8_0,q4_0'))
    ap.add_argument('--runs', type=int, default=5)
    a = ap.parse_args()
    smelt = os.path.join(a.build, 'smelt')
    mdir = os.path.join(a.build, 'bench-models')
    wdir = os.path.join(a.build, 'bench')
    os.makedirs(wdir, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(HERE, 'make_bench_gguf.py'), mdir, '--sizes', a.sizes, '--types', a.types], check=True)
    models = []
    stories = os.path.join(ROOT, '..', 'shared', 'models', 'gguf', 'stories260K.gguf')
    if os.path.exists(stories):
        models.append(('stories260K', 'f32', stories))
    for s in a.sizes.split(','):
        for t in a.types.split(','):
            models.append((s, t, os.path.join(mdir, 'bench-%s-%s.gguf' % (s, t))))
    bench = os.environ.get('LLAMA_BENCH')
    if bench and not os.access(bench, os.X_OK):
        sys.exit('LLAMA_BENCH=%s is not an executable' % bench)
    rows = []
    for name, t, path in models:
        out = os.path.join(wdir, '%s-%s' % (name, t))
        # a context long enough for the 128-token prompt plus the decoded tokens
        r = run([smelt, 'build', path, '-o', out, '--name', 'm', '--ctx', '512', '-q'])
        if r.returncode:
            sys.exit('smelt build %s failed:\n%s' % (path, r.stderr))
        sp, sd = smelt_rates(os.path.join(out, 'm'), 128, 128, a.runs)
        lp = ld = None
        if bench:
            lp, ld = llama_rates(bench, path, 128, 128, a.runs)
        rows.append((name, t, sp, sd, lp, ld))
        print('%-12s %-5s prefill %9.1f tok/s  decode %8.1f tok/s%s' % (name, t, sp, sd,
              '' if lp is None else '   llama.cpp: prefill %.1f, decode %.1f' % (lp, ld)), file=sys.stderr)

    def ratio(a_, b_):
        return '%.2fx' % (a_ / b_) if b_ else 'n/a'
    lines = ['| model | weights | prefill 128 (tok/s) smelt | llama.cpp | ratio | decode 128 (tok/s) smelt | llama.cpp | ratio |',
             '|---|---|---:|---:|---:|---:|---:|---:|']
    for name, t, sp, sd, lp, ld in rows:
        lines.append('| %s | %s | %.1f | %s | %s | %.1f | %s | %s |' % (
            name, t, sp, 'not run' if lp is None else '%.1f' % lp, 'n/a' if lp is None else ratio(sp, lp),
            sd, 'not run' if ld is None else '%.1f' % ld, 'n/a' if ld is None else ratio(sd, ld)))
    note = ('One thread each; medians of %d runs; smelt built with --target native (generic C kernels, -march=native). '
            % a.runs) + ('llama.cpp: %s.' % bench if bench else 'llama.cpp not run: set LLAMA_BENCH to its llama-bench binary.')
    table = '\n'.join(lines) + '\n\n' + note + '\n'
    print(table)
    with open(os.path.join(wdir, 'llm.md'), 'w') as f:
        f.write(table)


if __name__ == '__main__':
    main()
