#!/usr/bin/python3
"""tools/make_lora_fixtures.py — LoRA adapters for the tests of tests/e2e/lora, with the
outputs PyTorch computes for the merged models.

PEFT is not installed here, so adapters are written by hand in its format:
adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, use_rslora,
fan_in_fan_out) and adapter_model.safetensors with tensors
"base_model.model.<module>.lora_A.weight" [r, in] and ".lora_B.weight" [out, r].  PEFT's
merge is W + scale * (alpha / r) * B @ A (alpha / sqrt(r) with use_rslora), which is what
the reference outputs below are computed from.  GGUF adapters follow llama.cpp's
convert_lora_to_gguf.py: general.type = adapter, adapter.type = lora, adapter.lora.alpha,
tensors "<GGUF weight name>.lora_a" / ".lora_b", and for llama the Q/K rows of B permuted
like the base's.

Outputs (in tests/e2e/lora):
  llama/  adapters for the tiny Llama fixture tests/e2e/llm/llama:
    a1/ (PEFT, r 4, alpha 8, q/k/v_proj of every layer), a1.gguf (the same as GGUF),
    a2/ (PEFT, r 2, alpha 4, rsLoRA, o/gate/up/down_proj of layer 1),
    bad_name/ (targets layer 7, which the model lacks), bad_shape/ (A has in = 31);
    ref_base.npy, ref_a1.npy, ref_a2_half.npy (a2 at scale 0.5), ref_both.npy (a1 + a2
    at 0.5): float32 logits [8, vocab] of the 8 prompt ids, by PyTorch on merged weights;
    model_q8_0.gguf: the base with ffn/attn weights in q8_0 (ggml's reference rounding),
    ref_a1_q8_0.npy: logits of a1 merged into it (the merged weights re-quantized).
  gpt2/  g1/ (PEFT with fan_in_fan_out, on c_attn / c_fc / c_proj of the GPT-2 fixture,
    Conv1D weights [in, out]) and ref_g1.npy (PyTorch's logits on the merged weights).
  mlp/  model.onnx (Linear 16->32, ReLU, Linear 32->8, exported by torch.onnx), x.npy,
    m1/ (PEFT on fc1 and fc2), m2/ (fc2 only, fan_in_fan_out false, r 1),
    ref_base.npy, ref_m1.npy, ref_m2.npy, ref_m1_m2.npy (m1 + m2 merged).

Run with Debian's PyTorch: /usr/bin/python3 tools/make_lora_fixtures.py
Deterministic; rerun only to change the fixtures. """
import json
import os
import struct
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.argv = sys.argv[:1]  # make_llm_fixtures reads argv[1] as its output folder
import make_llm_fixtures as mf  # noqa: E402

OUT = os.path.join(ROOT, "tests", "e2e", "lora")
LLAMA = os.path.join(ROOT, "tests", "e2e", "llm", "llama")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32"
        b, e = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[b:e], dtype="<f4").reshape(v["shape"]).copy())
    return out


def write_peft(d, r, alpha, pairs, rslora=False, targets=None, fan_in_fan_out=False):
    """pairs: {module path (without base_model.model.): (A [r, in], B [out, r])}"""
    os.makedirs(d, exist_ok=True)
    cfg = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
           "target_modules": targets or sorted({m.split(".")[-1] for m in pairs}), "use_rslora": rslora,
           "fan_in_fan_out": fan_in_fan_out, "bias": "none", "base_model_name_or_path": "smelt/tiny", "rank_pattern": {}, "alpha_pattern": {}}
    mf.write_json(os.path.join(d, "adapter_config.json"), cfg)
    t = []
    for m, (a, b) in pairs.items():
        t.append(("base_model.model.%s.lora_A.weight" % m, a.float()))
        t.append(("base_model.model.%s.lora_B.weight" % m, b.float()))
    mf.write_safetensors(os.path.join(d, "adapter_model.safetensors"), t)


def merged(W, adapters, fan_in_fan_out=False, strip=""):
    """adapters: [(pairs, scale)] with scale = user scale * alpha / r (or / sqrt r);
    fan_in_fan_out: the weights are stored [in, out] (GPT-2's Conv1D), as PEFT merges them"""
    W = dict(W)
    for pairs, s in adapters:
        for m, (a, b) in pairs.items():
            k = m[len(strip):] + ".weight"
            d = b.double() @ a.double()
            W[k] = (W[k].double() + s * (d.T if fan_in_fan_out else d)).float()
    return W


def q8_0(w):
    """ggml's quantize_row_q8_0_ref on rows of w (float32 [rows, k]): bytes"""
    w = w.astype(np.float32).reshape(-1, 32)
    amax = np.abs(w).max(axis=1)
    d = (amax / 127).astype(np.float32)
    idv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0).astype(np.float32)
    q = np.round(w * idv[:, None]).astype(np.int8)  # roundf: half away from zero; ties are measure-zero here
    out = bytearray()
    for i in range(w.shape[0]):
        out += np.float16(d[i]).tobytes() + q[i].tobytes()
    return bytes(out)


def q8_0_roundtrip(w):
    """dequantize(q8_0(w)) as float32, w [rows, k]"""
    b = np.frombuffer(q8_0(w), dtype=np.uint8).reshape(-1, 34)
    d = b[:, :2].copy().view(np.float16).astype(np.float32)
    q = b[:, 2:].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(w.shape).astype(np.float32)


def write_gguf_mixed(path, kvs, tensors, align=32):
    """Like make_llm_fixtures.write_gguf, with (name, array, ggml type, bytes) entries."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, t, v in kvs:
        out += mf.gg_str(k) + struct.pack("<I", t) + mf.gg_value(t, v)
    off, datas = 0, []
    for name, shape, gtype, data in tensors:
        out += mf.gg_str(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        out += struct.pack("<IQ", gtype, off)
        datas.append(data)
        off += (len(data) + align - 1) // align * align
    out += b"\0" * ((align - len(out) % align) % align)
    for d in datas:
        out += d + b"\0" * ((align - len(d) % align) % align)
    with open(path, "wb") as f:
        f.write(out)


def llama():
    d = os.path.join(OUT, "llama")
    os.makedirs(d, exist_ok=True)
    cfg = json.load(open(os.path.join(LLAMA, "config.json")))
    W = read_safetensors(os.path.join(LLAMA, "model.safetensors"))
    prompt = [int(x) for x in open(os.path.join(LLAMA, "prompt_ids.txt")).read().split()]
    H, L, nh, nkv = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = H // nh
    F = cfg["intermediate_size"]
    g = torch.Generator().manual_seed(4242)

    def rnd(*shape, std):
        return torch.randn(*shape, generator=g) * std

    dims = {"self_attn.q_proj": (nh * hd, H), "self_attn.k_proj": (nkv * hd, H), "self_attn.v_proj": (nkv * hd, H),
            "self_attn.o_proj": (H, nh * hd), "mlp.gate_proj": (F, H), "mlp.up_proj": (F, H), "mlp.down_proj": (H, F)}
    # a1: r 4, alpha 8 on q/k/v of every layer
    a1 = {}
    for l in range(L):
        for m in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"):
            o, i = dims[m]
            a1["model.layers.%d.%s" % (l, m)] = (rnd(4, i, std=0.25), rnd(o, 4, std=0.25))
    write_peft(os.path.join(d, "a1"), 4, 8, a1)
    # a2: r 2, alpha 4, rsLoRA, o/gate/up/down of layer 1
    a2 = {}
    for m in ("self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        o, i = dims[m]
        a2["model.layers.1.%s" % m] = (rnd(2, i, std=0.3), rnd(o, 2, std=0.3))
    write_peft(os.path.join(d, "a2"), 2, 4, a2, rslora=True)
    # a1 as a GGUF adapter (llama.cpp's names; Q/K rows of B permuted like the base)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v"}
    T = []
    for m, (a, b) in a1.items():
        l, mod = int(m.split(".")[2]), ".".join(m.split(".")[3:])
        if mod == "self_attn.q_proj":
            b = mf.permute_qk(b, nh, nh)
        if mod == "self_attn.k_proj":
            b = mf.permute_qk(b, nh, nkv)
        base = "blk.%d.%s.weight" % (l, names[mod])
        T += [(base + ".lora_a", a.numpy()), (base + ".lora_b", b.numpy())]
    kvs = [("general.architecture", mf.GG_STR, "llama"), ("general.type", mf.GG_STR, "adapter"),
           ("adapter.type", mf.GG_STR, "lora"), ("adapter.lora.alpha", mf.GG_F32, 8.0)]
    mf.write_gguf(os.path.join(d, "a1.gguf"), kvs, T)
    # error fixtures
    o, i = dims["self_attn.q_proj"]
    write_peft(os.path.join(d, "bad_name"), 2, 2, {"model.layers.7.self_attn.q_proj": (rnd(2, i, std=0.1), rnd(o, 2, std=0.1))})
    write_peft(os.path.join(d, "bad_shape"), 2, 2, {"model.layers.0.self_attn.q_proj": (rnd(2, i - 1, std=0.1), rnd(o, 2, std=0.1))})
    # references: PyTorch's forward on the merged weights (float32), every prompt position
    refs = {"base": [], "a1": [(a1, 8 / 4)], "a2_half": [(a2, 0.5 * 4 / 2 ** 0.5)],
            "both": [(a1, 8 / 4), (a2, 0.5 * 4 / 2 ** 0.5)]}
    for name, ads in refs.items():
        Wm = merged(W, ads)
        lg = mf.forward("llama", cfg, Wm, prompt, torch.float32)
        l64 = mf.forward("llama", cfg, Wm, prompt, torch.float64)
        rel = ((lg.double() - l64).abs().max() / l64.abs().max()).item()
        np.save(os.path.join(d, "ref_%s.npy" % name), lg.numpy().astype("<f4"))
        print("llama %-8s logits [%d, %d], f32 vs f64 %.1e, max |logit| %.2f" % (name, lg.shape[0], lg.shape[1], rel, l64.abs().max().item()))
    base = np.fromfile(os.path.join(LLAMA, "logits.bin"), dtype="<f4").reshape(len(prompt), -1)
    assert np.abs(base - np.load(os.path.join(d, "ref_base.npy"))).max() < 1e-5
    # the base as q8_0 GGUF (projections q8_0, the rest f32), for merging into a quantized base
    T = mf.gguf_tensors("llama", cfg, W)
    meta = gguf_meta_from_file(os.path.join(LLAMA, "model.gguf"))
    ents = []
    for k, v in T.items():
        a = v.numpy().astype(np.float32)
        if a.ndim == 2 and k.startswith("blk.") and a.shape[1] % 32 == 0:
            ents.append((k, a.shape, 8, q8_0(a)))  # GGML_TYPE_Q8_0
        else:
            ents.append((k, a.shape, 0, a.tobytes()))
    write_gguf_mixed(os.path.join(d, "model_q8_0.gguf"), meta, ents)
    # a1 merged into that base: its dequantized weights plus the update, re-quantized to
    # q8_0 (row by row, so the permuted Q/K rows of the GGUF do not matter), then
    # PyTorch's forward
    def rt(Wx):
        return {k: torch.from_numpy(q8_0_roundtrip(v.numpy())) if v.dim() == 2 and k.startswith("model.layers.") and v.shape[1] % 32 == 0 else v
                for k, v in Wx.items()}
    Wm = rt(merged(rt(W), [(a1, 8 / 4)]))
    lg = mf.forward("llama", cfg, Wm, prompt, torch.float32)
    np.save(os.path.join(d, "ref_a1_q8_0.npy"), lg.numpy().astype("<f4"))


def gguf_meta_from_file(path):
    """The metadata key/values of a GGUF file as (key, type, value) for mf.gg_value."""
    b = open(path, "rb").read()
    assert b[:4] == b"GGUF"
    _, nt, nkv = struct.unpack_from("<IQQ", b, 4)
    p = 24

    def rstr(p):
        n = struct.unpack_from("<Q", b, p)[0]
        return b[p + 8:p + 8 + n].decode(), p + 8 + n

    def rval(t, p):
        if t == mf.GG_STR:
            return rstr(p)
        fmt = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}[t]
        return struct.unpack_from(fmt, b, p)[0], p + struct.calcsize(fmt)

    out = []
    for _ in range(nkv):
        k, p = rstr(p)
        t = struct.unpack_from("<I", b, p)[0]
        p += 4
        if t == mf.GG_ARR:
            et, n = struct.unpack_from("<IQ", b, p)
            p += 12
            items = []
            for _ in range(n):
                v, p = rval(et, p)
                items.append(v)
            out.append((k, t, (et, items)))
        else:
            v, p = rval(t, p)
            out.append((k, t, v))
    for k, t, v in out:  # gg_value writes these types only
        assert t in (mf.GG_U32, mf.GG_I32, mf.GG_F32, mf.GG_BOOL, mf.GG_STR, mf.GG_ARR), (k, t)
    return out


def gpt2():
    """GPT-2's Conv1D weights are [in, out]: PEFT sets fan_in_fan_out and merges (B·A)ᵀ."""
    d = os.path.join(OUT, "gpt2")
    os.makedirs(d, exist_ok=True)
    F = os.path.join(ROOT, "tests", "e2e", "llm", "gpt2")
    cfg = json.load(open(os.path.join(F, "config.json")))
    W = read_safetensors(os.path.join(F, "model.safetensors"))
    prompt = [int(x) for x in open(os.path.join(F, "prompt_ids.txt")).read().split()]
    g = torch.Generator().manual_seed(77)
    pairs = {}
    for l in range(cfg["n_layer"]):
        for m in ("attn.c_attn", "mlp.c_fc", "mlp.c_proj"):
            i, o = W["h.%d.%s.weight" % (l, m)].shape
            pairs["transformer.h.%d.%s" % (l, m)] = (torch.randn(4, i, generator=g) * 0.25, torch.randn(o, 4, generator=g) * 0.25)
    write_peft(os.path.join(d, "g1"), 4, 8, pairs, fan_in_fan_out=True)
    Wm = merged(W, [(pairs, 8 / 4)], fan_in_fan_out=True, strip="transformer.")
    lg = mf.forward("gpt2", cfg, Wm, prompt, torch.float32)
    np.save(os.path.join(d, "ref_g1.npy"), lg.numpy().astype("<f4"))
    print("gpt2 g1 logits %s, max |logit| %.2f" % (tuple(lg.shape), lg.abs().max().item()))


def mlp():
    d = os.path.join(OUT, "mlp")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(7)

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(16, 32)
            self.fc2 = torch.nn.Linear(32, 8)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    net = MLP().eval()
    x = torch.randn(4, 16)
    torch.onnx.export(net, (x,), os.path.join(d, "model.onnx"), input_names=["x"], output_names=["y"], opset_version=13)
    np.save(os.path.join(d, "x.npy"), x.numpy().astype("<f4"))
    g = torch.Generator().manual_seed(99)
    m1 = {"fc1": (torch.randn(4, 16, generator=g) * 0.3, torch.randn(32, 4, generator=g) * 0.3),
          "fc2": (torch.randn(4, 32, generator=g) * 0.3, torch.randn(8, 4, generator=g) * 0.3)}
    m2 = {"fc2": (torch.randn(1, 32, generator=g) * 0.5, torch.randn(8, 1, generator=g) * 0.5)}
    write_peft(os.path.join(d, "m1"), 4, 16, m1)
    write_peft(os.path.join(d, "m2"), 1, 1, m2)
    W = {k: v.detach().clone() for k, v in net.state_dict().items()}
    for name, ads in {"base": [], "m1": [(m1, 16 / 4)], "m2": [(m2, 1.0)], "m1_m2": [(m1, 16 / 4), (m2, 1.0)]}.items():
        Wm = merged(W, ads)
        n2 = MLP().eval()
        n2.load_state_dict(Wm)
        with torch.no_grad():
            y = n2(x)
        np.save(os.path.join(d, "ref_%s.npy" % name), y.numpy().astype("<f4"))
        print("mlp %-6s y %s max |y| %.3f" % (name, tuple(y.shape), y.abs().max().item()))


if __name__ == "__main__":
    llama()
    gpt2()
    mlp()
