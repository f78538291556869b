#!/usr/bin/python3
"""tools/make_rnn_node_tests.py — ONNX node tests for the corners of RNN / GRU / LSTM
that ONNX's own backend tests leave out: reverse and bidirectional directions,
layout 1, run-time sequence_lens (including 0 and partial lengths, with Y and
Y_h / Y_c), custom activations with activation_alpha / activation_beta (all eleven
functions), clip, input_forget, linear_before_reset 0 and 1, outputs requested
selectively, and double precision.

Expected outputs come from the numpy reference below, written from the operator
definitions in ONNX's Operators.md (computed in float64).  Writes one folder per
test, in the layout of ONNX's node tests, under tests/conformance/rnn_cases/:
    /usr/bin/python3 tools/make_rnn_node_tests.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

# ---- reference --------------------------------------------------------------------
# name: (function of x, alpha, beta; uses alpha; uses beta; default alpha; default beta)
ACTS = {
    "Relu": (lambda x, a, b: np.maximum(x, 0), 0, 0, 0, 0),
    "Tanh": (lambda x, a, b: np.tanh(x), 0, 0, 0, 0),
    "Sigmoid": (lambda x, a, b: 1 / (1 + np.exp(-x)), 0, 0, 0, 0),
    "Affine": (lambda x, a, b: a * x + b, 1, 1, 1.0, 0.0),
    "LeakyRelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 1, 0, 0.01, 0),
    "ThresholdedRelu": (lambda x, a, b: np.where(x > a, x, 0), 1, 0, 1.0, 0),
    "ScaledTanh": (lambda x, a, b: a * np.tanh(b * x), 1, 1, 1.0, 1.0),
    "HardSigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 1, 1, 0.2, 0.5),
    "Elu": (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1)), 1, 0, 1.0, 0),
    "Softsign": (lambda x, a, b: x / (1 + np.abs(x)), 0, 0, 0, 0),
    "Softplus": (lambda x, a, b: np.log1p(np.exp(x)), 0, 0, 0, 0),
}
DEFAULT_ACTS = {"RNN": ["Tanh"], "GRU": ["Sigmoid", "Tanh"], "LSTM": ["Sigmoid", "Tanh", "Tanh"]}
GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def resolve_acts(op, ndir, names, alphas, betas):
    """Per-direction lists of (function, alpha, beta): alphas / betas go, in order, to
    the functions that take them; the rest keep their defaults."""
    per = len(DEFAULT_ACTS[op])
    names = list(names or DEFAULT_ACTS[op])
    alphas, betas = list(alphas or []), list(betas or [])
    out = []
    for nm in names:
        f, ua, ub, da, db = ACTS[nm]
        a = alphas.pop(0) if ua and alphas else da
        b = betas.pop(0) if ub and betas else db
        out.append((f, a, b))
    if len(out) == per and ndir == 2:
        out = out + out
    assert len(out) == per * ndir
    return [out[d * per:(d + 1) * per] for d in range(ndir)]


def reference(op, X, W, R, B=None, lens=None, h0=None, c0=None, P=None, direction="forward", layout=0, clip=None,
              activations=None, alphas=None, betas=None, linear_before_reset=0, input_forget=0):
    f64 = np.float64
    X, W, R = X.astype(f64), W.astype(f64), R.astype(f64)
    if layout:
        X = X.transpose(1, 0, 2)
        h0 = None if h0 is None else h0.transpose(1, 0, 2)
        c0 = None if c0 is None else c0.transpose(1, 0, 2)
    S, N, _ = X.shape
    D, GH, _ = W.shape
    H = GH // GATES[op]
    acts = resolve_acts(op, D, activations, alphas, betas)
    cl = (lambda v: np.clip(v, -clip, clip)) if clip is not None else (lambda v: v)
    Y = np.zeros((S, D, N, H))
    Yh = np.zeros((D, N, H))
    Yc = np.zeros((D, N, H))
    for d in range(D):
        rev = direction == "reverse" or d == 1
        Wb = B[d, :GH].astype(f64) if B is not None else np.zeros(GH)
        Rb = B[d, GH:].astype(f64) if B is not None else np.zeros(GH)
        (f, fa, fb) = acts[d][0]
        for b in range(N):
            L = S if lens is None else int(lens[b])
            h = h0[d, b].astype(f64) if h0 is not None else np.zeros(H)
            c = c0[d, b].astype(f64) if c0 is not None else np.zeros(H)
            order = range(L - 1, -1, -1) if rev else range(L)
            for t in order:
                x = X[t, b]
                if op == "RNN":
                    h = f(cl(W[d] @ x + R[d] @ h + Wb + Rb), fa, fb)
                elif op == "GRU":
                    g, ga, gb = acts[d][1]
                    Wz, Wr, Wh = np.split(W[d], 3)
                    Rz, Rr, Rh = np.split(R[d], 3)
                    wbz, wbr, wbh = np.split(Wb, 3)
                    rbz, rbr, rbh = np.split(Rb, 3)
                    z = f(cl(Wz @ x + Rz @ h + wbz + rbz), fa, fb)
                    r = f(cl(Wr @ x + Rr @ h + wbr + rbr), fa, fb)
                    if linear_before_reset:
                        ht = g(cl(Wh @ x + r * (Rh @ h + rbh) + wbh), ga, gb)
                    else:
                        ht = g(cl(Wh @ x + Rh @ (r * h) + rbh + wbh), ga, gb)
                    h = (1 - z) * ht + z * h
                else:
                    g, ga, gb = acts[d][1]
                    hh, ha, hb = acts[d][2]
                    pi, po, pf = np.split(P[d].astype(f64), 3) if P is not None else (0, 0, 0)
                    gi, go, gf, gc = np.split(W[d] @ x + R[d] @ h + Wb + Rb, 4)
                    i = f(cl(gi + pi * c), fa, fb)
                    fg = 1 - i if input_forget else f(cl(gf + pf * c), fa, fb)
                    ct = g(cl(gc), ga, gb)
                    c = fg * c + i * ct
                    o = f(cl(go + po * c), fa, fb)
                    h = o * hh(c, ha, hb)
                Y[t, d, b] = h
            Yh[d, b] = h
            Yc[d, b] = c
    if layout:
        Y, Yh, Yc = Y.transpose(2, 0, 1, 3), Yh.transpose(1, 0, 2), Yc.transpose(1, 0, 2)
    return Y, Yh, Yc


# ---- tests --------------------------------------------------------------------------
def make(out, name, op, S, N, I, H, direction="forward", layout=0, dtype=np.float32, with_b=True, lens=None,
         with_h0=False, with_c0=False, with_p=False, outputs=("Y", "Y_h", "Y_c"), scale=0.5, seed=0, **attrs):
    rng = np.random.default_rng(seed)
    D = 2 if direction == "bidirectional" else 1
    G = GATES[op]
    st = (N, D, H) if layout else (D, N, H)
    feeds = {
        "X": rng.standard_normal((N, S, I) if layout else (S, N, I)),
        "W": rng.standard_normal((D, G * H, I)) * scale,
        "R": rng.standard_normal((D, G * H, H)) * scale,
    }
    if with_b:
        feeds["B"] = rng.standard_normal((D, 2 * G * H)) * scale
    if lens is not None:
        feeds["sequence_lens"] = np.array(lens, dtype=np.int32)
    if with_h0:
        feeds["initial_h"] = rng.standard_normal(st)
    if with_c0:
        feeds["initial_c"] = rng.standard_normal(st)
    if with_p:
        feeds["P"] = rng.standard_normal((D, 3 * H)) * scale
    feeds = {k: (v if v.dtype == np.int32 else v.astype(dtype)) for k, v in feeds.items()}
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
    names = [k if k in feeds else "" for k in order]
    while names and not names[-1]:
        names.pop()
    outs = [o if o in outputs else "" for o in (["Y", "Y_h", "Y_c"] if op == "LSTM" else ["Y", "Y_h"])]
    while outs and not outs[-1]:
        outs.pop()
    onnx_attrs = {"hidden_size": H, "direction": direction}
    if layout:
        onnx_attrs["layout"] = 1
    for k, v in attrs.items():
        onnx_attrs[{"activations": "activations", "alphas": "activation_alpha", "betas": "activation_beta"}.get(k, k)] = v
    node = helper.make_node(op, names, outs, **onnx_attrs)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    ins = [helper.make_tensor_value_info(k, TensorProto.INT32 if k == "sequence_lens" else elem, feeds[k].shape) for k in names if k]
    ref = reference(op, feeds["X"], feeds["W"], feeds["R"], feeds.get("B"), feeds.get("sequence_lens"),
                    feeds.get("initial_h"), feeds.get("initial_c"), feeds.get("P"), direction, layout,
                    attrs.get("clip"), attrs.get("activations"), attrs.get("alphas"), attrs.get("betas"),
                    attrs.get("linear_before_reset", 0), attrs.get("input_forget", 0))
    results = dict(zip(["Y", "Y_h", "Y_c"], ref))
    outv = [helper.make_tensor_value_info(o, elem, results[o].shape) for o in outs if o]
    graph = helper.make_graph([node], name, ins, outv)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    folder = os.path.join(out, "test_smelt_" + name)
    os.makedirs(os.path.join(folder, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for i, k in enumerate(k for k in names if k):
        with open(os.path.join(folder, "test_data_set_0", "input_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(feeds[k], k).SerializeToString())
    for i, o in enumerate(o for o in outs if o):
        with open(os.path.join(folder, "test_data_set_0", "output_%d.pb" % i), "wb") as f:
            f.write(numpy_helper.from_array(results[o].astype(dtype), o).SerializeToString())
    print(folder)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "conformance", "rnn_cases"))
    # LSTM
    make(out, "lstm_bidir_seqlens", "LSTM", 5, 4, 3, 4, "bidirectional", lens=[5, 3, 0, 1],
         with_h0=True, with_c0=True, with_p=True, seed=1)
    make(out, "lstm_reverse_layout1_clip_forget", "LSTM", 6, 3, 2, 5, "reverse", layout=1, lens=[2, 6, 4],
         with_h0=True, scale=1.5, clip=0.7, input_forget=1, seed=2)
    make(out, "lstm_bidir_acts", "LSTM", 4, 2, 3, 3, "bidirectional", with_p=True, outputs=("Y", "Y_c"),
         activations=["Sigmoid", "Affine", "Softplus", "HardSigmoid", "ThresholdedRelu", "Relu"],
         alphas=[0.8, 0.3, 0.1], betas=[0.2], seed=3)
    make(out, "lstm_one_dir_acts_bidir", "LSTM", 3, 2, 2, 3, "bidirectional", outputs=("Y_h",),
         activations=["HardSigmoid", "Softsign", "Elu"], alphas=[0.25, 0.5], betas=[0.6], seed=4)
    # GRU
    make(out, "gru_bidir_acts_seqlens", "GRU", 5, 3, 4, 4, "bidirectional", lens=[4, 5, 1], with_h0=True,
         activations=["HardSigmoid", "Softsign", "Sigmoid", "Elu"], alphas=[0.3, 0.9], betas=[0.4], seed=5)
    make(out, "gru_reverse_layout1_lbr_clip", "GRU", 4, 2, 3, 5, "reverse", layout=1, lens=[3, 4], with_h0=True,
         scale=1.5, clip=0.9, linear_before_reset=1, seed=6)
    make(out, "gru_bidir_lbr_y_only", "GRU", 3, 2, 2, 3, "bidirectional", outputs=("Y",), linear_before_reset=1, seed=7)
    make(out, "gru_f64_seqlens", "GRU", 4, 3, 2, 3, "forward", dtype=np.float64, lens=[4, 0, 2], with_h0=True, seed=8)
    # RNN
    make(out, "rnn_bidir_acts_seqlens", "RNN", 5, 3, 3, 4, "bidirectional", lens=[5, 2, 3],
         activations=["LeakyRelu", "ScaledTanh"], alphas=[0.2, 0.7], betas=[1.3], seed=9)
    make(out, "rnn_reverse_layout1", "RNN", 4, 2, 3, 3, "reverse", layout=1, with_h0=True,
         activations=["Relu"], seed=10)
    make(out, "rnn_layout1_seqlens_clip", "RNN", 5, 3, 2, 4, "forward", layout=1, lens=[1, 5, 3], with_h0=True,
         scale=2.0, clip=0.5, seed=11)


if __name__ == "__main__":
    main()
