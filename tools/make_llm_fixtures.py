#!/usr/bin/python3
"""tools/make_llm_fixtures.py — tiny random decoder-only LLMs in Hugging Face layout, with
the logits PyTorch computes for them: the reference every architecture builder is tested
against (tests/e2e/llm/README.md lists the fixtures and what each checks).

There is no transformers / safetensors / tokenizers package here, so this script holds
what it needs by hand:

  - one forward pass per family that follows the Hugging Face implementation step by step
    (float32, eager attention, no KV cache): Llama (with llama3 and linear rope scaling),
    Qwen2 (QKV bias), Mistral (sliding window), Gemma (scaled embeddings, GeGLU, (1 + w)
    RMSNorm), Gemma 2 (pre/post norms, soft-capping, query_pre_attn_scalar, sliding
    window on even layers), Phi-3 (fused QKV and gate/up, partial rotary), GPT-2 (learned
    positions, LayerNorm, GELU-tanh, fused c_attn, Conv1D [in, out] weights);
  - a safetensors writer (and a sharded index), and a GGUF v3 writer with llama.cpp's
    tensor names and metadata keys (Q/K rows permuted for GGUF llama, norms + 1 for Gemma);
  - a small BPE trainer that makes a valid tokenizer.json of the kind each family uses
    (byte-level BPE with the GPT-2 / Llama-3 / Qwen2 pre-tokenizers, or SentencePiece-style
    BPE with byte fallback), a few hundred tokens.

Each fixture folder gets config.json, generation_config.json, tokenizer.json,
tokenizer_config.json, model.safetensors (or shards + model.safetensors.index.json),
prompt.txt and prompt_tokens.txt (its encoding, BOS first where the family adds one),
prompt_ids.txt (the first 8 of those ids), logits.bin (float32 [8, vocab_size], every
prompt position), greedy_ids.txt (16 greedy ids, a full forward per step) and, for
some, model.gguf.

The script checks itself: the float32 logits agree with a float64 run, every greedy step
has a clear winner (so f32 rounding cannot flip it), and for GGUF llama a forward with
the permuted rows and adjacent-pair RoPE gives the same logits.  A seed that fails is
replaced by the next one.

Run with Debian's PyTorch:  /usr/bin/python3 tools/make_llm_fixtures.py [OUT_DIR]
Output is deterministic; rerun it only to change the fixtures. """
import collections
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests", "e2e", "llm")
N_PROMPT, N_GREEDY = 8, 16

CORPUS = """Once upon a time there was a little robot who lived in a small town by the sea.
Every morning the robot walked to the market, said hello to the baker, and bought
three loaves of bread. The baker liked the robot, and the robot liked the baker.
One day it rained so hard that the streets turned into rivers. The robot could not
walk to the market, so the baker came to the robot's house with the bread, and they
sat by the window, watching the water, talking about the sea, the stars and the time
when the town was young. "Thank you," said the robot. "You are a good friend."
The next morning the sun was bright, the sky was blue, and the town was clean again.
The robot and the baker went to the sea together, and they were happy for a long time.
In the evening the robot read books about the stars, and the baker baked bread for the
next morning. They were good friends, and the little town by the sea was a good place to
live. The children of the town played on the beach, and the old fishermen told stories
about the water, the wind and the boats that sailed far away over the sea to the stars.
Numbers: 1 2 3 10 42 100 2024. Questions? Answers! (Maybe.) Tea, coffee; milk & honey.
"""
PROMPT_TEXT = "Once upon a time there was a little robot who"

# ---------------------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------------------


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def train_bpe(words, n_merges, have):
    """Greedy BPE on {tuple(symbols): count}: the most frequent pair (ties: smallest),
    skipping pairs whose result is already a token; stops at pairs seen once."""
    merges = []
    words = dict(words)
    for _ in range(n_merges):
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        best = None
        for (a, b), c in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
            if c < 2:
                break
            if a + b not in have:
                best = (a, b)
                break
        if best is None:
            break
        a, b = best
        merges.append(best)
        have.add(a + b)
        new = collections.Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] += c
        words = new
    return merges


def bpe_word(symbols, ranks):
    """Applies merges by rank, as the tokenizers library's BPE model does."""
    symbols = list(symbols)
    while len(symbols) > 1:
        best = None
        for i in range(len(symbols) - 1):
            r = ranks.get((symbols[i], symbols[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        symbols[i:i + 2] = [symbols[i] + symbols[i + 1]]
    return symbols


# GPT-2's pre-tokenizer with ASCII classes (enough for the corpus, which is ASCII)
GPT2_SPLIT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")
GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
LLAMA3_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
                "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
QWEN2_REGEX = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
               "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")


def added(id_, content, special=True, normalized=False):
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": special}


class Tok:
    """A tokenizer: vocab (piece -> id, in id order), merges, specials, and its JSON."""

    def __init__(self, kind, vocab, merges, specials, json_, bos=None, eos=None):
        self.kind, self.vocab, self.merges, self.specials, self.json = kind, vocab, merges, specials, json_
        self.bos, self.eos = bos, eos
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.pieces = sorted(vocab, key=vocab.get)

    def encode(self, text):
        if self.kind == "bytelevel":
            b2u = bytes_to_unicode()
            ids = []
            for w in GPT2_SPLIT.findall(text):
                for p in bpe_word([b2u[b] for b in w.encode()], self.ranks):
                    ids.append(self.vocab[p])
            return ids
        text = text.replace(" ", "▁")
        if self.kind == "spm":  # legacy Llama: a "▁" before the text
            text = "▁" + text
        ids = []
        for p in bpe_word(list(text), self.ranks):
            if p in self.vocab:
                ids.append(self.vocab[p])
            else:
                ids += [self.vocab["<0x%02X>" % b] for b in p.encode()]
        return ids


def make_bytelevel(style, n_target):
    """GPT-2 / Llama-3 / Qwen2 byte-level BPE.  Ids 0..255 are the byte characters in
    GPT-2's order, then merges, then the special tokens."""
    b2u = bytes_to_unicode()
    vocab = {}
    for b, u in b2u.items():
        vocab[u] = len(vocab)
    words = collections.Counter(tuple(b2u[b] for b in w.encode()) for w in GPT2_SPLIT.findall(CORPUS))
    specials = {"gpt2": ["<|endoftext|>"],
                "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
                "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]}[style]
    merges = train_bpe(words, n_target - 256 - len(specials), set(vocab))
    for a, b in merges:
        vocab[a + b] = len(vocab)
    for s in specials:
        vocab[s] = len(vocab)
    addl = [added(vocab[s], s, normalized=(style == "gpt2")) for s in specials]
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
             "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": ["%s %s" % m for m in merges]}
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": addl}
    if style == "gpt2":
        j.update(normalizer=None, pre_tokenizer=bl, post_processor=dict(bl, trim_offsets=False), decoder=bl)
        bos = eos = vocab["<|endoftext|>"]
    elif style == "llama3":
        b = vocab["<|begin_of_text|>"]
        j.update(normalizer=None,
                 pre_tokenizer={"type": "Sequence", "pretokenizers": [
                     {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
                     {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
                 post_processor={"type": "Sequence", "processors": [
                     {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
                     {"type": "TemplateProcessing",
                      "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                      "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                               {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                      "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [b], "tokens": ["<|begin_of_text|>"]}}}]},
                 decoder={"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True})
        model["ignore_merges"] = True
        bos, eos = b, vocab["<|end_of_text|>"]
    else:
        j.update(normalizer={"type": "NFC"},
                 pre_tokenizer={"type": "Sequence", "pretokenizers": [
                     {"type": "Split", "pattern": {"Regex": QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
                     {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
                 post_processor={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
                 decoder={"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False})
        bos, eos = None, vocab["<|im_end|>"]
    j["model"] = model
    return Tok("bytelevel", vocab, merges, specials, j, bos, eos)


def make_spm(style, n_target):
    """SentencePiece-style BPE with byte fallback, as tokenizer.json holds it for Llama 2 /
    TinyLlama / Phi-3 ("legacy": Prepend + Replace normalizer), Mistral (Metaspace
    pre-tokenizer) and Gemma (Replace only, its own special ids)."""
    if style == "gemma":
        head = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
    else:
        head = ["<unk>", "<s>", "</s>"]
    vocab = {}
    for p in head:
        vocab[p] = len(vocab)
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    text = CORPUS.replace("\n", " ").replace(" ", "▁")
    if style != "gemma":
        text = "▁" + text
    words = collections.Counter(tuple(w) for w in re.findall("▁?[^▁]+|▁", text))
    chars = collections.Counter(ch for w, c in words.items() for ch in w for _ in range(c))
    for ch, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0])):
        vocab[ch] = len(vocab)
    extra = ["<|endoftext|>", "<|assistant|>", "<|system|>", "<|end|>", "<|user|>"] if style == "phi3" else []
    merges = train_bpe(words, n_target - len(vocab) - len(extra), set(vocab))
    for a, b in merges:
        vocab[a + b] = len(vocab)
    for s in extra:
        vocab[s] = len(vocab)
    bos_p, eos_p = ("<bos>", "<eos>") if style == "gemma" else ("<s>", "</s>")
    addl = [added(vocab[p], p) for p in head if p in ("<unk>", "<s>", "</s>", "<pad>", "<eos>", "<bos>")]
    if style == "gemma":
        addl += [added(vocab[p], p, special=False) for p in ("<start_of_turn>", "<end_of_turn>")]
        addl.sort(key=lambda a: a["id"])
    addl += [added(vocab[s], s, special=s in ("<|endoftext|>",), normalized=False) for s in extra]
    if style == "phi3":
        for a in addl:  # Phi-3 keeps its chat markers special but rstrip-ped
            if a["content"] in ("<|assistant|>", "<|system|>", "<|end|>", "<|user|>"):
                a["special"], a["rstrip"] = True, True
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None,
             "fuse_unk": True, "byte_fallback": True, "vocab": vocab, "merges": ["%s %s" % m for m in merges]}
    post = {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos_p, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos_p, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos_p, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos_p: {"id": bos_p, "ids": [vocab[bos_p]], "tokens": [bos_p]}}}
    if style == "phi3":  # add_bos_token false: the template transformers rebuilds has no BOS
        post = {"type": "TemplateProcessing", "single": [{"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}], "special_tokens": {}}
    dec_tail = [{"type": "ByteFallback"}, {"type": "Fuse"}]
    j = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": addl}
    if style == "mistral":
        j.update(normalizer=None,
                 pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False},
                 post_processor=post,
                 decoder={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": False})
        model["ignore_merges"] = False
    elif style == "gemma":
        j.update(normalizer={"type": "Replace", "pattern": {"String": " "}, "content": "▁"}, pre_tokenizer=None,
                 post_processor=post,
                 decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}] + dec_tail})
    else:
        j.update(normalizer={"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                                 {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
                 pre_tokenizer=None, post_processor=post,
                 decoder={"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "▁"}, "content": " "}] + dec_tail +
                          [{"type": "Strip", "content": " ", "start": 1, "stop": 0}]})
    j["model"] = model
    kind = "gemma" if style == "gemma" else "spm"
    return Tok(kind, vocab, merges, head + extra, j, vocab[bos_p], vocab[eos_p])


# ---------------------------------------------------------------------------------------
# File writers
# ---------------------------------------------------------------------------------------
ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors):
    """tensors: [(name, torch tensor)], written in name order like safetensors' writer
    (after its sort by dtype size, which is one size here)."""
    header, blobs, off = {}, [], 0
    for name, t in sorted(tensors, key=lambda nt: nt[0]):
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return off


GG_U32, GG_I32, GG_F32, GG_BOOL, GG_STR, GG_ARR = 4, 5, 6, 7, 8, 9


def gg_str(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gg_value(t, v):
    if t == GG_U32:
        return struct.pack("<I", v)
    if t == GG_I32:
        return struct.pack("<i", v)
    if t == GG_F32:
        return struct.pack("<f", v)
    if t == GG_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if t == GG_STR:
        return gg_str(v)
    et, items = v
    return struct.pack("<IQ", et, len(items)) + b"".join(gg_value(et, x) for x in items)


def write_gguf(path, kvs, tensors, align=32):
    """GGUF v3: kvs [(key, type, value)], tensors [(name, float32 numpy array)]
    (shape as PyTorch's; GGUF's ne is it reversed)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        out += gg_str(k) + struct.pack("<I", t) + gg_value(t, v)
    off, datas = 0, []
    for name, a in tensors:
        a = np.ascontiguousarray(a, dtype="<f4")
        out += gg_str(name) + struct.pack("<I", a.ndim) + b"".join(struct.pack("<Q", d) for d in reversed(a.shape))
        out += struct.pack("<IQ", 0, off)  # F32
        datas.append(a.tobytes())
        off += (len(datas[-1]) + align - 1) // align * align
    out += b"\0" * ((align - len(out) % align) % align)
    for d in datas:
        out += d + b"\0" * ((align - len(d) % align) % align)
    with open(path, "wb") as f:
        f.write(out)
    return len(out)


# ---------------------------------------------------------------------------------------
# Forward passes (Hugging Face's eager implementations, no cache)
# ---------------------------------------------------------------------------------------


def rms_norm(x, w, eps, add_one):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * (1.0 + w) if add_one else w * y


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def act_fn(name, x):
    if name == "silu":
        return torch.nn.functional.silu(x)
    if name in ("gelu_pytorch_tanh", "gelu_new"):
        return gelu_tanh(x)
    raise ValueError(name)


def inv_freq(cfg, dim, dtype):
    """transformers' rope init: default, linear or llama3 (computed in float32)."""
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "linear":
            inv = inv / rs["factor"]
        elif kind == "llama3":
            factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
            lo_wl, hi_wl = old / lo, old / hi
            wl = 2 * math.pi / inv
            inv_l = torch.where(wl > lo_wl, inv / factor, inv)
            smooth = (old / wl - lo) / (hi - lo)
            smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
            medium = ~(wl < hi_wl) * ~(wl > lo_wl)
            inv = torch.where(medium, smoothed, inv_l)
        else:
            raise ValueError(kind)
    return inv.to(dtype)


def rope_cos_sin(inv, n):
    pos = torch.arange(n, dtype=inv.dtype)
    freqs = pos[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def apply_rope(x, cos, sin):
    """x [heads, n, head_dim]; rotates the first cos.shape[-1] dims (partial rotary)."""
    r = cos.shape[-1]
    xr, xp = x[..., :r], x[..., r:]
    return torch.cat((xr * cos + rotate_half(xr) * sin, xp), dim=-1)


def apply_rope_adjacent(x, inv, n):
    """GGUF llama's RoPE: pairs (2i, 2i + 1) rotated by pos * inv[i]."""
    ang = torch.arange(n, dtype=inv.dtype)[:, None] * inv[None, :]
    c, s = ang.cos(), ang.sin()
    x0, x1 = x[..., 0::2], x[..., 1::2]
    y = torch.empty_like(x)
    y[..., 0::2] = x0 * c - x1 * s
    y[..., 1::2] = x0 * s + x1 * c
    return y


def attention(q, k, v, scale, softcap=0.0, window=0):
    """q [nh, n, hd], k/v [nkv, n, hd]; causal, optionally a sliding window (key j is seen
    by query i when 0 <= i - j < window) and tanh soft-capping of the scores."""
    n_rep = q.shape[0] // k.shape[0]
    k = k.repeat_interleave(n_rep, dim=0)
    v = v.repeat_interleave(n_rep, dim=0)
    w = torch.matmul(q, k.transpose(1, 2)) * scale
    if softcap:
        w = torch.tanh(w / softcap) * softcap
    n = q.shape[1]
    i = torch.arange(n)[:, None]
    j = torch.arange(n)[None, :]
    ok = j <= i
    if window:
        ok = ok & (i - j < window)
    w = w.masked_fill(~ok, torch.finfo(w.dtype).min)
    p = torch.softmax(w, dim=-1)
    return torch.matmul(p, v)


def forward(arch, cfg, W, ids, dtype, gguf_llama=None):
    """Logits [n, vocab] for token ids, in dtype.  gguf_llama: a dict of GGUF-llama
    weights (permuted Q/K) to run with adjacent-pair RoPE instead (the self-check)."""
    W = {k: v.to(dtype) for k, v in W.items()}
    ids = torch.tensor(ids)
    n = len(ids)
    if arch == "gpt2":
        return forward_gpt2(cfg, W, ids)
    H, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    eps = cfg["rms_norm_eps"]
    gemma = arch in ("gemma", "gemma2")
    rot = int(hd * cfg.get("partial_rotary_factor", 1.0))
    inv = inv_freq(cfg, rot, dtype)
    cos, sin = rope_cos_sin(inv, n)
    E = W["model.embed_tokens.weight"]
    h = E[ids]
    if gemma:
        h = h * torch.tensor(H ** 0.5, dtype=dtype)
    if arch == "gemma2":
        scale = cfg["query_pre_attn_scalar"] ** -0.5
    else:
        scale = hd ** -0.5
    for l in range(L):
        p = "model.layers.%d." % l

        def lin(x, name, bias=False):
            y = x @ W[p + name + ".weight"].T
            return y + W[p + name + ".bias"] if bias else y

        r = h
        x = rms_norm(h, W[p + "input_layernorm.weight"], eps, gemma)
        if arch == "phi3":
            qkv = lin(x, "self_attn.qkv_proj")
            q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        else:
            bias = arch == "qwen2"
            q, k, v = lin(x, "self_attn.q_proj", bias), lin(x, "self_attn.k_proj", bias), lin(x, "self_attn.v_proj", bias)
        q = q.view(n, nh, hd).transpose(0, 1)
        k = k.view(n, nkv, hd).transpose(0, 1)
        v = v.view(n, nkv, hd).transpose(0, 1)
        if gguf_llama is not None:
            g = {kk: vv.to(dtype) for kk, vv in gguf_llama.items()}
            q = (x @ g["blk.%d.attn_q.weight" % l].T).view(n, nh, hd).transpose(0, 1)
            k = (x @ g["blk.%d.attn_k.weight" % l].T).view(n, nkv, hd).transpose(0, 1)
            ginv = inv_freq(dict(cfg, rope_scaling=None), rot, dtype)
            if "rope_freqs.weight" in g:
                ginv = ginv / g["rope_freqs.weight"]
            elif cfg.get("rope_scaling"):
                ginv = inv
            q, k = apply_rope_adjacent(q, ginv, n), apply_rope_adjacent(k, ginv, n)
        else:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        window = 0
        if arch in ("mistral", "phi3") and cfg.get("sliding_window"):
            window = cfg["sliding_window"]
        if arch == "gemma2" and l % 2 == 0:
            window = cfg["sliding_window"]
        a = attention(q, k, v, scale, cfg.get("attn_logit_softcapping") or 0.0 if arch == "gemma2" else 0.0, window)
        a = lin(a.transpose(0, 1).reshape(n, nh * hd), "self_attn.o_proj")
        if arch == "gemma2":
            a = rms_norm(a, W[p + "post_attention_layernorm.weight"], eps, True)
        h = r + a
        r = h
        if arch == "gemma2":
            x = rms_norm(h, W[p + "pre_feedforward_layernorm.weight"], eps, True)
        else:
            x = rms_norm(h, W[p + "post_attention_layernorm.weight"], eps, gemma)
        act = cfg.get("hidden_activation") if gemma else cfg.get("hidden_act")
        if arch == "phi3":
            gate, up = lin(x, "mlp.gate_up_proj").chunk(2, dim=-1)
            m = lin(up * act_fn(act, gate), "mlp.down_proj")
        else:
            m = lin(act_fn(act, lin(x, "mlp.gate_proj")) * lin(x, "mlp.up_proj"), "mlp.down_proj")
        if arch == "gemma2":
            m = rms_norm(m, W[p + "post_feedforward_layernorm.weight"], eps, True)
        h = r + m
    h = rms_norm(h, W["model.norm.weight"], eps, gemma)
    out = E if cfg.get("tie_word_embeddings", gemma) else W["lm_head.weight"]
    logits = h @ out.T
    if arch == "gemma2" and cfg.get("final_logit_softcapping"):
        c = cfg["final_logit_softcapping"]
        logits = torch.tanh(logits / c) * c
    return logits


def forward_gpt2(cfg, W, ids):
    n, E, nh, L = len(ids), cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    hd, eps = E // nh, cfg["layer_norm_epsilon"]
    h = W["wte.weight"][ids] + W["wpe.weight"][torch.arange(n)]
    for l in range(L):
        p = "h.%d." % l

        def conv1d(x, name):  # Conv1D: x @ W + b, W [in, out]
            return x @ W[p + name + ".weight"] + W[p + name + ".bias"]

        r = h
        x = layer_norm(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        q, k, v = conv1d(x, "attn.c_attn").split(E, dim=-1)
        q, k, v = (t.view(n, nh, hd).transpose(0, 1) for t in (q, k, v))
        w = torch.matmul(q, k.transpose(1, 2)) / torch.full([], hd ** 0.5, dtype=q.dtype)
        causal = torch.tril(torch.ones(n, n, dtype=torch.bool))
        w = torch.where(causal, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
        a = torch.matmul(torch.softmax(w, dim=-1), v).transpose(0, 1).reshape(n, E)
        h = r + conv1d(a, "attn.c_proj")
        r = h
        x = layer_norm(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        h = r + conv1d(gelu_tanh(conv1d(x, "mlp.c_fc")), "mlp.c_proj")
    h = layer_norm(h, W["ln_f.weight"], W["ln_f.bias"], eps)
    return h @ W["wte.weight"].T


# ---------------------------------------------------------------------------------------
# Random weights
# ---------------------------------------------------------------------------------------


def make_weights(arch, cfg, n_tok, gen, out_scale=1.0):
    def randn(*shape, std=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).float() * std

    def linear(out, inp):
        return randn(out, inp, std=1.0 / math.sqrt(inp))

    W = {}
    if arch == "gpt2":
        E, L, F, V, P = cfg["n_embd"], cfg["n_layer"], cfg["n_inner"] or 4 * cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
        W["wte.weight"] = randn(V, E)
        W["wpe.weight"] = randn(P, E, std=0.5)
        for l in range(L):
            p = "h.%d." % l
            for ln in ("ln_1", "ln_2"):
                W[p + ln + ".weight"] = 1 + randn(E, std=0.2)
                W[p + ln + ".bias"] = randn(E, std=0.1)
            for name, i, o in (("attn.c_attn", E, 3 * E), ("attn.c_proj", E, E), ("mlp.c_fc", E, F), ("mlp.c_proj", F, E)):
                W[p + name + ".weight"] = (linear(o, i) * (out_scale if name.endswith("c_proj") else 1)).T.contiguous()  # Conv1D: [in, out]
                W[p + name + ".bias"] = randn(o, std=0.1)
        W["ln_f.weight"] = randn(E)  # zero-mean: a tied head does not just repeat the input token
        W["ln_f.bias"] = randn(E, std=0.1)
        return W
    H, nh, L, F, V = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    gemma = arch in ("gemma", "gemma2")

    def norm_w():  # Gemma stores w and scales by 1 + w
        return randn(H, std=0.2) if gemma else 1 + randn(H, std=0.2)

    emb = randn(V, H, std=0.5 if arch == "gemma2" else 1.0)
    emb[n_tok:] *= 0.1  # padding rows past the tokenizer: rarely the argmax
    W["model.embed_tokens.weight"] = emb
    for l in range(L):
        p = "model.layers.%d." % l
        W[p + "input_layernorm.weight"] = norm_w()
        W[p + "post_attention_layernorm.weight"] = norm_w()
        if arch == "gemma2":
            W[p + "pre_feedforward_layernorm.weight"] = norm_w()
            W[p + "post_feedforward_layernorm.weight"] = norm_w()
        if arch == "phi3":
            W[p + "self_attn.qkv_proj.weight"] = linear((nh + 2 * nkv) * hd, H)
            W[p + "mlp.gate_up_proj.weight"] = linear(2 * F, H)
        else:
            W[p + "self_attn.q_proj.weight"] = linear(nh * hd, H)
            W[p + "self_attn.k_proj.weight"] = linear(nkv * hd, H)
            W[p + "self_attn.v_proj.weight"] = linear(nkv * hd, H)
            W[p + "mlp.gate_proj.weight"] = linear(F, H)
            W[p + "mlp.up_proj.weight"] = linear(F, H)
            if arch == "qwen2":
                for x, d in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
                    W[p + "self_attn.%s_proj.bias" % x] = randn(d, std=0.1)
        W[p + "self_attn.o_proj.weight"] = linear(H, nh * hd) * out_scale
        W[p + "mlp.down_proj.weight"] = linear(H, F) * out_scale
    # a zero-mean final norm scale: with tied embeddings the output would otherwise
    # mostly favour the input token, and greedy decoding would repeat one token
    W["model.norm.weight"] = randn(H) - (1 if gemma else 0)
    if not cfg.get("tie_word_embeddings", gemma):
        W["lm_head.weight"] = linear(V, H) * 4
    return W


# ---------------------------------------------------------------------------------------
# GGUF forms
# ---------------------------------------------------------------------------------------


def permute_qk(w, n_head, n_head_kv=None):
    """llama.cpp convert_hf_to_gguf.py's LlamaModel.permute: rotate-half pairs become
    adjacent rows."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_freqs(cfg, dim):
    """convert_hf_to_gguf.py's rope_freqs.weight for llama3 rope scaling."""
    rs = cfg["rope_scaling"]
    base = cfg.get("rope_theta", 10000.0)
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    lo_wl, hi_wl = old / lo, old / hi
    out = []
    for f in freqs:
        wl = 2 * math.pi / f
        if wl < hi_wl:
            out.append(1)
        elif wl > lo_wl:
            out.append(factor)
        else:
            smooth = (old / wl - lo) / (hi - lo)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(out, dtype=torch.float32)


def gguf_tensors(arch, cfg, W):
    """The weights under llama.cpp's names, as its converter writes them (float32)."""
    H, nh, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    T = {"token_embd.weight": W["model.embed_tokens.weight"]}
    names = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm", "self_attn.q_proj": "attn_q",
             "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
             "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
    for l in range(L):
        for hf, gg in names.items():
            for kind in ("weight", "bias"):
                k = "model.layers.%d.%s.%s" % (l, hf, kind)
                if k not in W:
                    continue
                t = W[k].float()
                if arch == "llama" and hf in ("self_attn.q_proj", "self_attn.k_proj"):
                    t = permute_qk(t, nh, nh if hf == "self_attn.q_proj" else nkv)
                if arch == "gemma" and hf.endswith("layernorm"):
                    t = t + 1
                T["blk.%d.%s.%s" % (l, gg, kind)] = t
    T["output_norm.weight"] = W["model.norm.weight"].float() + (1 if arch == "gemma" else 0)
    if "lm_head.weight" in W and not cfg.get("tie_word_embeddings", False):
        T["output.weight"] = W["lm_head.weight"]
    rs = cfg.get("rope_scaling")
    if arch == "llama" and rs and rs.get("rope_type") == "llama3":
        T["rope_freqs.weight"] = llama3_rope_freqs(cfg, hd)
    return {k: v.float() for k, v in T.items()}


def gguf_metadata(arch, cfg, tok, tcfg, name):
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads", nh)
    hd = cfg.get("head_dim") or H // nh
    V = cfg["vocab_size"]
    kv = [("general.architecture", GG_STR, arch), ("general.name", GG_STR, name), ("general.file_type", GG_U32, 0),
          ("general.quantization_version", GG_U32, 2),
          (arch + ".context_length", GG_U32, cfg["max_position_embeddings"]), (arch + ".embedding_length", GG_U32, H),
          (arch + ".block_count", GG_U32, cfg["num_hidden_layers"]), (arch + ".feed_forward_length", GG_U32, cfg["intermediate_size"]),
          (arch + ".attention.head_count", GG_U32, nh), (arch + ".attention.head_count_kv", GG_U32, nkv),
          (arch + ".attention.layer_norm_rms_epsilon", GG_F32, cfg["rms_norm_eps"]),
          (arch + ".rope.freq_base", GG_F32, cfg.get("rope_theta", 10000.0))]
    kv.append((arch + ".rope.dimension_count", GG_U32, hd))
    if arch == "llama":
        kv.append((arch + ".vocab_size", GG_U32, V))
    if hd != H // nh or arch == "gemma":
        kv += [(arch + ".attention.key_length", GG_U32, hd), (arch + ".attention.value_length", GG_U32, hd)]
    rs = cfg.get("rope_scaling")
    if rs and rs.get("type", rs.get("rope_type")) == "linear":
        kv += [(arch + ".rope.scaling.type", GG_STR, "linear"), (arch + ".rope.scaling.factor", GG_F32, rs["factor"])]
    # the vocabulary, padded to vocab_size as the converter does
    toks, types, scores = [], [], []
    n_merges = len(tok.merges)
    for i, p in enumerate(tok.pieces):
        toks.append(p)
        if p in tok.specials:
            types.append(2 if p == "<unk>" else 3)
        elif re.fullmatch(r"<0x[0-9A-F]{2}>", p) and tok.kind != "bytelevel":
            types.append(6)
        else:
            types.append(1)
        scores.append(0.0)
    if tok.kind != "bytelevel":  # SentencePiece scores: merges by rank, single characters last
        for r, (a, b) in enumerate(tok.merges):
            scores[tok.vocab[a + b]] = -float(r)
        for i, p in enumerate(toks):
            if types[i] == 1 and len(p) == 1:
                scores[i] = -float(n_merges + i)
    for i in range(len(toks), V):
        toks.append("[PAD%d]" % i)
        types.append(5)
        scores.append(0.0)
    if tok.kind == "bytelevel":
        kv += [("tokenizer.ggml.model", GG_STR, "gpt2"), ("tokenizer.ggml.pre", GG_STR, {"llama": "llama-bpe", "qwen2": "qwen2"}[arch]),
               ("tokenizer.ggml.tokens", GG_ARR, (GG_STR, toks)), ("tokenizer.ggml.token_type", GG_ARR, (GG_I32, types)),
               ("tokenizer.ggml.merges", GG_ARR, (GG_STR, ["%s %s" % m for m in tok.merges]))]
    else:
        kv += [("tokenizer.ggml.model", GG_STR, "llama"), ("tokenizer.ggml.pre", GG_STR, "default"),
               ("tokenizer.ggml.tokens", GG_ARR, (GG_STR, toks)), ("tokenizer.ggml.scores", GG_ARR, (GG_F32, scores)),
               ("tokenizer.ggml.token_type", GG_ARR, (GG_I32, types)),
               ("tokenizer.ggml.unknown_token_id", GG_U32, tok.vocab["<unk>"])]
    if tok.bos is not None:
        kv.append(("tokenizer.ggml.bos_token_id", GG_U32, tok.bos))
    kv.append(("tokenizer.ggml.eos_token_id", GG_U32, tok.eos))
    if arch == "gemma":
        kv.append(("tokenizer.ggml.padding_token_id", GG_U32, tok.vocab["<pad>"]))
    kv.append(("tokenizer.ggml.add_bos_token", GG_BOOL, adds_bos(arch, tok, tcfg)))
    kv.append(("tokenizer.ggml.add_eos_token", GG_BOOL, False))
    if tcfg.get("chat_template"):
        kv.append(("tokenizer.chat_template", GG_STR, tcfg["chat_template"]))
    return kv


# ---------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------
TEMPLATES = {
    "llama3": ("{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
               "message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}"
               "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}").replace("\\n", "\n"),
    "zephyr": ("{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}{% endfor %}"
               "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}").replace("\\n", "\n"),
    "chatml": ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
               "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}").replace("\\n", "\n"),
    "mistral": ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + "
                "' [/INST]' }}{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}"),
    "gemma": ("{{ bos_token }}{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
              "{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
              "'<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}").replace("\\n", "\n"),
    "phi3": ("{% for message in messages %}{{'<|' + message['role'] + '|>' + '\\n' + message['content'] + '<|end|>\\n'}}{% endfor %}"
             "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}").replace("\\n", "\n"),
}


def llama_cfg(**kw):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu", "hidden_size": 32,
         "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 4,
         "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
         "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False, "torch_dtype": "float32",
         "initializer_range": 0.02, "use_cache": True, "transformers_version": "4.44.2"}
    c.update(kw)
    return c


def fixtures():
    """(name, arch, config, tokenizer, storage dtype, shards, gguf, tokenizer_config extras, generation_config)"""
    t_l3 = make_bytelevel("llama3", 400)
    t_spm = make_spm("llama", 400)
    t_qw = make_bytelevel("qwen2", 410)
    t_mis = make_spm("mistral", 400)
    t_gem = make_spm("gemma", 400)
    t_phi = make_spm("phi3", 405)
    t_g2 = make_bytelevel("gpt2", 400)
    F = []
    # Llama 3.2 style: GQA, llama3 rope scaling (all three frequency bands: head_dim 8,
    # theta 1e4, original ctx 128 -> wavelengths 6 / 63 / 628 / 6283 against 32 and 128),
    # byte-level BPE with the Llama-3 pre-tokenizer, untied output
    F.append(("llama", "llama",
              llama_cfg(vocab_size=len(t_l3.vocab), num_key_value_heads=2, bos_token_id=t_l3.bos, eos_token_id=t_l3.eos,
                        rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                      "original_max_position_embeddings": 128, "rope_type": "llama3"},
                        max_position_embeddings=1024, rms_norm_eps=1e-5, _name_or_path="smelt/tiny-llama3"),
              t_l3, torch.float32, 1, True,
              {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": TEMPLATES["llama3"],
               "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1024},
              {"bos_token_id": t_l3.bos, "eos_token_id": [t_l3.eos, t_l3.vocab["<|eot_id|>"]], "do_sample": True,
               "temperature": 0.6, "top_p": 0.9}))
    # TinyLlama / Llama 2 style: SentencePiece BPE (legacy normalizer), linear rope
    # scaling, multi-head attention, tied embeddings (as SmolLM)
    F.append(("llama_spm", "llama",
              llama_cfg(vocab_size=len(t_spm.vocab), bos_token_id=1, eos_token_id=2, tie_word_embeddings=True,
                        rope_scaling={"type": "linear", "factor": 2.0}, rms_norm_eps=1e-6, _name_or_path="smelt/tiny-llama2"),
              t_spm, torch.float32, 1, True,
              {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "pad_token": None, "legacy": True, "chat_template": TEMPLATES["zephyr"], "tokenizer_class": "LlamaTokenizer",
               "model_max_length": 2048, "clean_up_tokenization_spaces": False},
              {"bos_token_id": 1, "eos_token_id": 2, "max_length": 2048}))
    # Qwen2: QKV biases, GQA, theta 1e6, tied, vocab_size padded past the tokenizer (as
    # Qwen's 151936 > 151646), two shards with an index
    F.append(("qwen2", "qwen2",
              {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu", "hidden_size": 32,
               "intermediate_size": 96, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
               "max_position_embeddings": 4096, "max_window_layers": 2, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
               "sliding_window": 4096, "use_sliding_window": False, "tie_word_embeddings": True, "vocab_size": 448,
               "bos_token_id": t_qw.vocab["<|endoftext|>"], "eos_token_id": t_qw.vocab["<|im_end|>"], "torch_dtype": "float32",
               "attention_dropout": 0.0, "use_cache": True, "transformers_version": "4.44.2", "_name_or_path": "smelt/tiny-qwen2"},
              t_qw, torch.float32, 2, True,
              {"add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
               "chat_template": TEMPLATES["chatml"], "errors": "replace", "split_special_tokens": False,
               "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 4096},
              {"bos_token_id": t_qw.vocab["<|endoftext|>"], "eos_token_id": [t_qw.vocab["<|im_end|>"], t_qw.vocab["<|endoftext|>"]],
               "pad_token_id": t_qw.vocab["<|endoftext|>"], "do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
               "repetition_penalty": 1.05}))
    # Mistral: sliding window 6 (binds: 24 positions), explicit head_dim 16 != 48 / 4,
    # GQA, F16 weights, Metaspace tokenizer, untied
    F.append(("mistral", "mistral",
              {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_act": "silu", "hidden_size": 48,
               "intermediate_size": 96, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
               "head_dim": 16, "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "rope_theta": 1000000.0,
               "sliding_window": 6, "tie_word_embeddings": False, "vocab_size": len(t_mis.vocab), "bos_token_id": 1,
               "eos_token_id": 2, "torch_dtype": "float16", "attention_dropout": 0.0, "use_cache": True,
               "transformers_version": "4.44.2", "_name_or_path": "smelt/tiny-mistral"},
              t_mis, torch.float16, 1, False,
              {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
               "legacy": False, "chat_template": TEMPLATES["mistral"], "tokenizer_class": "LlamaTokenizer",
               "model_max_length": 32768},
              {"bos_token_id": 1, "eos_token_id": 2}))
    # Gemma: scaled embeddings, GeGLU (gelu_pytorch_tanh), (1 + w) RMSNorm, multi-query
    # attention (1 KV head), head_dim 16 != 32 / 4, tied, BF16 weights, Gemma's vocabulary
    F.append(("gemma", "gemma",
              {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "hidden_act": "gelu_pytorch_tanh",
               "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 32, "intermediate_size": 96, "num_attention_heads": 4,
               "num_hidden_layers": 2, "num_key_value_heads": 1, "head_dim": 16, "max_position_embeddings": 8192,
               "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "vocab_size": len(t_gem.vocab), "bos_token_id": 2, "eos_token_id": 1,
               "pad_token_id": 0, "torch_dtype": "bfloat16", "attention_bias": False, "use_cache": True,
               "transformers_version": "4.44.2", "_name_or_path": "smelt/tiny-gemma"},
              t_gem, torch.bfloat16, 1, True,
              {"add_bos_token": True, "add_eos_token": False, "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
               "unk_token": "<unk>", "chat_template": TEMPLATES["gemma"], "tokenizer_class": "GemmaTokenizer",
               "model_max_length": 8192, "spaces_between_special_tokens": False},
              {"bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0}))
    # Gemma 2: pre/post attention and FFN norms, attention soft-capping 1.5 and final 8
    # (both bind: scores reach about 1, logits about 9), query_pre_attn_scalar 24 != head_dim 16, sliding window 5 on layer 0
    # only (even layers), GQA, 3 layers
    F.append(("gemma2", "gemma2",
              {"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_act": "gelu_pytorch_tanh",
               "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
               "num_hidden_layers": 3, "num_key_value_heads": 2, "head_dim": 16, "max_position_embeddings": 8192,
               "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "vocab_size": len(t_gem.vocab), "query_pre_attn_scalar": 24,
               "sliding_window": 5, "attn_logit_softcapping": 1.5, "final_logit_softcapping": 8.0, "cache_implementation": "hybrid",
               "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "float32", "attention_bias": False,
               "use_cache": True, "transformers_version": "4.44.2", "_name_or_path": "smelt/tiny-gemma2"},
              t_gem, torch.float32, 1, False,
              {"add_bos_token": True, "add_eos_token": False, "bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>",
               "unk_token": "<unk>", "chat_template": TEMPLATES["gemma"], "tokenizer_class": "GemmaTokenizer",
               "model_max_length": 8192},
              {"bos_token_id": 2, "eos_token_id": [1, t_gem.vocab["<end_of_turn>"]], "pad_token_id": 0,
               "cache_implementation": "hybrid"}))
    # Phi-3: fused qkv_proj and gate_up_proj, partial rotary (factor 0.5: 4 of 8 dims),
    # GQA, Llama-2 vocabulary plus Phi-3's chat tokens, vocab_size padded, untied
    F.append(("phi3", "phi3",
              {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_act": "silu", "hidden_size": 32,
               "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "num_key_value_heads": 2,
               "partial_rotary_factor": 0.5, "max_position_embeddings": 4096, "original_max_position_embeddings": 4096,
               "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None, "sliding_window": 2047,
               "tie_word_embeddings": False, "vocab_size": 416, "bos_token_id": 1, "eos_token_id": t_phi.vocab["<|endoftext|>"],
               "pad_token_id": t_phi.vocab["<|endoftext|>"], "torch_dtype": "float32", "attention_bias": False,
               "embd_pdrop": 0.0, "resid_pdrop": 0.0, "use_cache": True, "transformers_version": "4.44.2",
               "_name_or_path": "smelt/tiny-phi3"},
              t_phi, torch.float32, 1, False,
              {"add_bos_token": False, "add_eos_token": False, "bos_token": "<s>", "eos_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>", "unk_token": "<unk>", "legacy": False, "chat_template": TEMPLATES["phi3"],
               "tokenizer_class": "LlamaTokenizer", "model_max_length": 4096},
              {"bos_token_id": 1, "eos_token_id": [t_phi.vocab["<|endoftext|>"], t_phi.vocab["<|assistant|>"], t_phi.vocab["<|end|>"]],
               "pad_token_id": t_phi.vocab["<|endoftext|>"]}))
    # GPT-2: learned positions, LayerNorm with biases, gelu_new, fused c_attn, Conv1D
    # weights stored [in, out], tied; tensor names without "transformer." as in
    # openai-community/gpt2's model.safetensors
    F.append(("gpt2", "gpt2",
              {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new", "n_embd": 32,
               "n_head": 4, "n_layer": 2, "n_inner": None, "n_positions": 64, "n_ctx": 64, "vocab_size": len(t_g2.vocab),
               "layer_norm_epsilon": 1e-5, "bos_token_id": t_g2.bos, "eos_token_id": t_g2.eos, "scale_attn_weights": True,
               "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False, "attn_pdrop": 0.1, "embd_pdrop": 0.1,
               "resid_pdrop": 0.1, "initializer_range": 0.02, "summary_type": "cls_index", "torch_dtype": "float32",
               "use_cache": True, "transformers_version": "4.44.2", "_name_or_path": "smelt/tiny-gpt2"},
              t_g2, torch.float32, 1, False,
              {"add_prefix_space": False, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer", "model_max_length": 64},
              {"bos_token_id": t_g2.bos, "eos_token_id": t_g2.eos}))
    return F


def adds_bos(arch, tok, tcfg):
    """Whether prompts start with BOS: tokenizer_config's add_bos_token, else (Llama 3,
    whose tokenizer.json template adds it) for llama."""
    return tok.bos is not None and bool(tcfg.get("add_bos_token", arch == "llama"))


def tokenizer_config(tok, extra):
    tc = {"added_tokens_decoder": {str(a["id"]): {k: a[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")}
                                   for a in tok.json["added_tokens"]}}
    tc.update(extra)
    tc.setdefault("clean_up_tokenization_spaces", False)
    return tc


def check_and_greedy(arch, cfg, W, prompt):
    """f32 logits for the prompt, and the greedy continuation; None when the model is
    ill-conditioned (f32 and f64 disagree, or a greedy step has no clear winner)."""
    l32 = forward(arch, cfg, W, prompt, torch.float32)
    l64 = forward(arch, cfg, W, prompt, torch.float64)
    rel = ((l32.double() - l64).abs().max(dim=-1).values / l64.abs().max(dim=-1).values).max().item()
    if rel > 2e-6:
        return None
    ids = list(prompt)
    margins = []
    for _ in range(N_GREEDY):
        lg = forward(arch, cfg, W, ids, torch.float64)[-1]
        top = torch.topk(lg, 2).values
        margins.append(((top[0] - top[1]) / lg.abs().max()).item())
        nxt = int(torch.argmax(forward(arch, cfg, W, ids, torch.float32)[-1]))
        if nxt != int(torch.argmax(lg)):
            return None
        ids.append(nxt)
    if min(margins) < 1e-3 or len(set(ids[len(prompt):])) < 8:  # a clear winner each step; no single-token loop
        return None
    return l32, ids[len(prompt):], rel, min(margins), len(set(ids[len(prompt):]))


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    summary = []
    for name, arch, cfg, tok, sdt, shards, want_gguf, tcx, gen in fixtures():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        V = cfg["vocab_size"]
        assert V >= len(tok.vocab), name
        full = tok.encode(PROMPT_TEXT)
        if adds_bos(arch, tok, tcx):
            full = [tok.bos] + full
        prompt = full[:N_PROMPT]
        assert len(prompt) == N_PROMPT
        for seed in range(1000, 1300):
            gen_ = torch.Generator().manual_seed(seed)
            W = make_weights(arch, cfg, len(tok.vocab), gen_, out_scale=2.0)
            W = {k: v.to(sdt) for k, v in W.items()}  # the stored values are the model
            r = check_and_greedy(arch, cfg, W, prompt)
            if r:
                break
        else:
            raise SystemExit("%s: no well-conditioned seed" % name)
        logits, greedy, rel, margin, distinct = r
        # files
        write_json(os.path.join(d, "config.json"), cfg)
        write_json(os.path.join(d, "generation_config.json"), dict(gen, transformers_version=cfg["transformers_version"]))
        write_json(os.path.join(d, "tokenizer.json"), tok.json)
        write_json(os.path.join(d, "tokenizer_config.json"), tokenizer_config(tok, tcx))
        items = list(W.items())
        if shards == 1:
            write_safetensors(os.path.join(d, "model.safetensors"), items)
        else:
            names = sorted(W)
            half = (len(names) + 1) // 2
            parts = [names[:half], names[half:]]
            wm, total = {}, 0
            for i, part in enumerate(parts):
                fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(parts))
                total += write_safetensors(os.path.join(d, fn), [(k, W[k]) for k in part])
                for k in part:
                    wm[k] = fn
            write_json(os.path.join(d, "model.safetensors.index.json"), {"metadata": {"total_size": total}, "weight_map": wm})
        with open(os.path.join(d, "prompt_ids.txt"), "w") as f:
            f.write(" ".join(map(str, prompt)) + "\n")
        with open(os.path.join(d, "prompt.txt"), "w") as f:
            f.write(PROMPT_TEXT)  # no final newline: the text is the whole file
        with open(os.path.join(d, "prompt_tokens.txt"), "w") as f:
            f.write(" ".join(map(str, full)) + "\n")
        with open(os.path.join(d, "greedy_ids.txt"), "w") as f:
            f.write(" ".join(map(str, greedy)) + "\n")
        logits.numpy().astype("<f4").tofile(os.path.join(d, "logits.bin"))
        gsize = 0
        if want_gguf:
            T = gguf_tensors(arch, cfg, W)
            if arch == "llama":  # the permuted rows with adjacent-pair RoPE give the same logits
                g = forward(arch, cfg, W, prompt, torch.float64, gguf_llama=T)
                ref = forward(arch, cfg, W, prompt, torch.float64)
                print("gguf self-check", name, ((g - ref).abs().max() / ref.abs().max()).item())
                assert (g - ref).abs().max().item() < 1e-5 * ref.abs().max().item(), name
            order = ["token_embd.weight", "rope_freqs.weight"] + \
                ["blk.%d.%s" % (l, t) for l in range(cfg["num_hidden_layers"])
                 for t in ("attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
                           "attn_v.bias", "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight")] + \
                ["output_norm.weight", "output.weight"]
            assert set(T) <= set(order), set(T) - set(order)
            gsize = write_gguf(os.path.join(d, "model.gguf"), gguf_metadata(arch, cfg, tok, tokenizer_config(tok, tcx), cfg["_name_or_path"]),
                               [(k, T[k].numpy()) for k in order if k in T])
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        summary.append("%-10s %-8s vocab %3d (%3d tokens) %s seed %d  f32/f64 %.1e  margin %.3f  %2d distinct greedy  %6.1f KiB%s" % (
            name, arch, V, len(tok.vocab), ST_DTYPE[sdt], seed, rel, margin, distinct, size / 1024,
            "  (gguf %.1f KiB)" % (gsize / 1024) if gsize else ""))
        print(summary[-1])


if __name__ == "__main__":
    main()
