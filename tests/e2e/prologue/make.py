#!/usr/bin/python3
"""tests/e2e/prologue/make.py OUTDIR — writes OUTDIR/model.ir and OUTDIR/x.npy for
tests/e2e/prologue.sh: RMSNorm and LayerNorm rows [n, 1024] (n symbolic, <= 64) each
read only by one MatMul with a bias, so the fuse pass makes norm + MatMul prologues
whose C kernel normalizes 16 rows at a time (64 KiB / 1024 floats): x has 40 rows,
so the chunks are 16, 16 and 8.  Weights are drawn from a fixed seed."""
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)
K, N = 1024, 32  # N·K >= 32768: the native target takes sms_matmul


def arr(a):
    return '[' + ', '.join('%.9g' % v for v in a.reshape(-1)) + ']'


w = rng.standard_normal((N, K)).astype(np.float32) / 32
lw = rng.standard_normal((N, K)).astype(np.float32) / 32
b = rng.standard_normal(N).astype(np.float32)
g = (1 + rng.standard_normal(K) / 8).astype(np.float32)
beta = (rng.standard_normal(K) / 8).astype(np.float32)
text = f"""smelt-ir 1
graph "prologue"
sym n <= 64
input %x : f32[n,{K}]
const %g : f32[{K}] = {arr(g)}
const %beta : f32[{K}] = {arr(beta)}
const %w : f32[{N},{K}] = {arr(w)}
const %lw : f32[{N},{K}] = {arr(lw)}
const %b : f32[{N}] = {arr(b)}
%h : f32[n,{K}] = RMSNorm(%x, %g) {{eps=1e-05}}
%m : f32[n,{N}] = MatMul(%h, %w) {{trans_b=1}}
%y : f32[n,{N}] = Add(%m, %b)
%l : f32[n,{K}] = LayerNorm(%x, %g, %beta) {{eps=1e-05}}
%lm : f32[n,{N}] = MatMul(%l, %lw) {{trans_b=1}}
%z : f32[n,{N}] = Add(%y, %lm)
output %z
"""
open(os.path.join(out, 'model.ir'), 'w').write(text)
x = (rng.standard_normal((40, K)) * 3).astype(np.float32)
np.save(os.path.join(out, 'x.npy'), x)
