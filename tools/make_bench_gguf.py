#!/usr/bin/python3
"""Writes random-weight Llama-shaped GGUF files for `make bench`.

    tools/make_bench_gguf.py OUT_DIR [--sizes 15m,110m,500m] [--types f16,q8_0,q4_0]

Each file is a complete llama-architecture GGUF (hyperparameters, a stand-in 32000-token
SentencePiece vocabulary so llama.cpp loads it, and every tensor) whose weights are
random: speed does not depend on their values, and random files need no download.
F16, Q8_0 and Q4_0 blocks are written exactly as ggml lays them out (quantize_row_*_ref).
Norm weights stay F32, as llama.cpp's own quantizer keeps them.  Needs only numpy
(Debian's python3-numpy); run with /usr/bin/python3.
"""
import argparse
import os
import struct
import sys

import numpy as np

# the shapes of llama2.c's stories15M and stories110M, and a 500M model with grouped-query
# attention; the output projection is tied to the embedding, as in those models
SHAPES = {  # name: (n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab)
    '15m': (288, 6, 6, 6, 768, 32000),
    '110m': (768, 12, 12, 12, 2048, 32000),
    '500m': (1280, 24, 20, 4, 3456, 32000),
}
GGML = {'f32': 0, 'f16': 1, 'q4_0': 2, 'q8_0': 8}
FILE_TYPE = {'f32': 0, 'f16': 1, 'q4_0': 2, 'q8_0': 7}  # llama_ftype


def q8_0(x):
    """ggml quantize_row_q8_0_ref: per 32 values, d = amax/127 (f16), q = round(x/d)."""
    b = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(b).max(axis=1)
    d = amax / 127.0
    idv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.rint(b * idv[:, None]).astype(np.int8)
    out = np.empty((b.shape[0], 34), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def q4_0(x):
    """ggml quantize_row_q4_0_ref: d = (the value of largest magnitude)/-8, nibbles
    min(15, (int8)(x/d + 8.5)); element j in the low nibble of byte j, j+16 in the high."""
    b = x.reshape(-1, 32).astype(np.float32)
    idx = np.abs(b).argmax(axis=1)
    mx = b[np.arange(b.shape[0]), idx]
    d = (mx / -8.0).astype(np.float32)
    idv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    v = (b * idv[:, None] + 8.5).astype(np.float32)
    qi = np.minimum(15, np.trunc(v).astype(np.int32)).astype(np.uint8)
    out = np.empty((b.shape[0], 18), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:] = qi[:, :16] | (qi[:, 16:] << 4)
    return out.tobytes()


def encode(x, t):
    if t == 'f32':
        return x.astype(np.float32).tobytes()
    if t == 'f16':
        return x.astype(np.float16).tobytes()
    if t == 'q8_0':
        return q8_0(x)
    return q4_0(x)


def nbytes(ne, t):
    n = int(np.prod(ne))
    return {'f32': 4 * n, 'f16': 2 * n, 'q8_0': n // 32 * 34, 'q4_0': n // 32 * 18}[t]


def gstr(s):
    b = s.encode()
    return struct.pack('<Q', len(b)) + b


def kv(key, vtype, value):
    out = gstr(key) + struct.pack('<I', vtype)
    if vtype == 4:
        return out + struct.pack('<I', value)
    if vtype == 6:
        return out + struct.pack('<f', value)
    if vtype == 8:
        return out + gstr(value)
    raise ValueError(vtype)


def kv_array(key, etype, values):
    out = gstr(key) + struct.pack('<II', 9, etype) + struct.pack('<Q', len(values))
    if etype == 8:
        return out + b''.join(gstr(v) for v in values)
    fmt = {5: '<i', 6: '<f'}[etype]
    return out + b''.join(struct.pack(fmt, v) for v in values)


def write(path, size, wtype, seed):
    d, L, H, Hkv, ff, V = SHAPES[size]
    hd = d // H
    rng = np.random.default_rng(seed)
    tensors = [('token_embd.weight', (d, V), wtype), ('output_norm.weight', (d,), 'f32')]
    for l in range(L):
        p = 'blk.%d.' % l
        tensors += [(p + 'attn_norm.weight', (d,), 'f32'), (p + 'attn_q.weight', (d, H * hd), wtype),
                    (p + 'attn_k.weight', (d, Hkv * hd), wtype), (p + 'attn_v.weight', (d, Hkv * hd), wtype),
                    (p + 'attn_output.weight', (H * hd, d), wtype), (p + 'ffn_norm.weight', (d,), 'f32'),
                    (p + 'ffn_gate.weight', (d, ff), wtype), (p + 'ffn_down.weight', (ff, d), wtype),
                    (p + 'ffn_up.weight', (d, ff), wtype)]
    tokens = ['<unk>', '<s>', '</s>'] + ['<0x%02X>' % i for i in range(256)] + ['t%d' % i for i in range(V - 259)]
    types = [2, 3, 3] + [6] * 256 + [1] * (V - 259)
    meta = [kv('general.architecture', 8, 'llama'), kv('general.name', 8, 'smelt-bench-%s-%s' % (size, wtype)),
            kv('general.file_type', 4, FILE_TYPE[wtype]), kv('general.alignment', 4, 32),
            kv('llama.context_length', 4, 2048), kv('llama.embedding_length', 4, d), kv('llama.block_count', 4, L),
            kv('llama.feed_forward_length', 4, ff), kv('llama.attention.head_count', 4, H),
            kv('llama.attention.head_count_kv', 4, Hkv), kv('llama.rope.dimension_count', 4, hd),
            kv('llama.attention.layer_norm_rms_epsilon', 6, 1e-5), kv('llama.rope.freq_base', 6, 10000.0),
            kv('tokenizer.ggml.model', 8, 'llama'), kv_array('tokenizer.ggml.tokens', 8, tokens),
            kv_array('tokenizer.ggml.scores', 6, [0.0] * V), kv_array('tokenizer.ggml.token_type', 5, types),
            kv('tokenizer.ggml.bos_token_id', 4, 1), kv('tokenizer.ggml.eos_token_id', 4, 2),
            kv('tokenizer.ggml.unknown_token_id', 4, 0)]
    infos, off = [], 0
    for name, ne, t in tensors:
        infos.append(gstr(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne) +
                     struct.pack('<IQ', GGML[t], off))
        off += (nbytes(ne, t) + 31) // 32 * 32
    head = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(meta)) + b''.join(meta) + b''.join(infos)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(head + b'\0' * ((32 - len(head) % 32) % 32))
        for name, ne, t in tensors:
            n = int(np.prod(ne))
            x = np.ones(n, dtype=np.float32) if name.endswith('norm.weight') else \
                (rng.standard_normal(n, dtype=np.float32) * (0.5 / np.sqrt(ne[0]))).astype(np.float32)
            data = encode(x, t)
            f.write(data + b'\0' * ((32 - len(data) % 32) % 32))
    os.replace(tmp, path)
    params = sum(int(np.prod(ne)) for _, ne, _ in tensors)
    print('%s: %.1fM parameters, %.1f MiB' % (path, params / 1e6, os.path.getsize(path) / 2**20))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('out')
    ap.add_argument('--sizes', default='15m,110m,500m')
    ap.add_argument('--types', default='f16,q8_0,q4_0')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for i, size in enumerate(a.sizes.split(',')):
        for t in a.types.split(','):
            if size not in SHAPES or t not in GGML:
                sys.exit('unknown size or type: %s %s' % (size, t))
            p = os.path.join(a.out, 'bench-%s-%s.gguf' % (size, t))
            if not os.path.exists(p):
                write(p, size, t, 1000 + i)


if __name__ == '__main__':
    main()
