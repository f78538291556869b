#!/usr/bin/python3
"""tools/make_test_fixtures.py — writes the small ONNX fixtures the test suites use
(checked in; rerun only to change them).  Needs Debian's python3-onnx and python3-numpy.

  tests/e2e/models/dynbatch/model.onnx   a small conv net whose input has a dynamic
      batch "N" ([N,1,8,8] -> Conv 3x3 -> Relu -> MaxPool 2x2 -> view(N, -1) through
      Shape/Gather/Unsqueeze/Concat/Reshape, as PyTorch exports it -> Gemm -> Relu ->
      Gemm -> Softmax), with inputs in_bB.npy for batches 1, 3, 4, 8 and the outputs
      ref_bB.npy computed here with numpy (float64, independent of smelt);
  tests/e2e/models/dynattn/model.onnx   self-attention over x[N,S,8] with two dynamic
      dims (batch N, sequence S): MatMul with symbolic batch dims, Transpose moving
      S, Softmax over S, a LayerNorm made of ReduceMean/Sub/Mul/Sqrt/Div; inputs and
      numpy outputs for (N,S) = (1,1), (2,5), (4,16), (3,7);
  tests/malformed/base.onnx   a valid static model (MatMul, Add, Relu, Reshape with a
      constant shape, a Constant node, raw_data and typed-field initializers) that
      tests/malformed/gen.c mutates into malformed files.

usage: tools/make_test_fixtures.py [REPO_ROOT]
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
rng = np.random.default_rng(20240611)


def save(model, path):
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


def save_npy(path, a):
    np.save(path, a)
    print("wrote", os.path.relpath(path, ROOT), a.dtype, a.shape)


# ---- dynbatch: a small conv net with a dynamic batch ------------------------------------
def dynbatch():
    w = (rng.standard_normal((4, 1, 3, 3)) * 0.5).astype(np.float32)
    b = (rng.standard_normal(4) * 0.1).astype(np.float32)
    w1 = (rng.standard_normal((16, 64)) * 0.2).astype(np.float32)  # Gemm transB=1
    b1 = (rng.standard_normal(16) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((16, 10)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(10) * 0.1).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in [(w, "conv.w"), (b, "conv.b"), (w1, "fc1.w"), (b1, "fc1.b"), (w2, "fc2.w"), (b2, "fc2.b")]]
    inits += [numpy_helper.from_array(np.array([0], np.int64), "zero"), numpy_helper.from_array(np.array([-1], np.int64), "minus1")]
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Concat", ["n", "minus1"], ["newshape"], axis=0),
        helper.make_node("Reshape", ["p", "newshape"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc1.w", "fc1.b"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Gemm", ["hr", "fc2.w", "fc2.b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])
    g = helper.make_graph(nodes, "dynbatch", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="smelt tools/make_test_fixtures.py")
    d = os.path.join(ROOT, "tests/e2e/models/dynbatch")
    save(m, os.path.join(d, "model.onnx"))

    def forward(xb):  # float64 reference
        n = xb.shape[0]
        xp = np.pad(xb.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        c = np.zeros((n, 4, 8, 8))
        for i in range(3):
            for j in range(3):
                c += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + 8, j:j + 8], w[:, :, i, j].astype(np.float64))
        c += b.astype(np.float64)[None, :, None, None]
        r = np.maximum(c, 0)
        p = r.reshape(n, 4, 4, 2, 4, 2).max(axis=(3, 5))
        h = np.maximum(p.reshape(n, 64) @ w1.T.astype(np.float64) + b1, 0)
        lg = h @ w2.astype(np.float64) + b2
        e = np.exp(lg - lg.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    for bsz in (1, 3, 4, 8):
        xb = rng.standard_normal((bsz, 1, 8, 8)).astype(np.float32)
        save_npy(os.path.join(d, "in_b%d.npy" % bsz), xb)
        save_npy(os.path.join(d, "ref_b%d.npy" % bsz), forward(xb))
    # inputs the executables must reject: past the bound, empty, wrong rank, wrong dtype
    save_npy(os.path.join(d, "in_b9.npy"), np.zeros((9, 1, 8, 8), np.float32))
    save_npy(os.path.join(d, "in_b0.npy"), np.zeros((0, 1, 8, 8), np.float32))
    save_npy(os.path.join(d, "in_rank3.npy"), np.zeros((1, 8, 8), np.float32))
    save_npy(os.path.join(d, "in_f64.npy"), np.zeros((1, 1, 8, 8), np.float64))


# ---- dynattn: attention with two dynamic dims ---------------------------------------------------
def dynattn():
    wq, wk, wv = [(rng.standard_normal((8, 8)) * 0.4).astype(np.float32) for _ in range(3)]
    inits = [numpy_helper.from_array(a, n) for a, n in [(wq, "wq"), (wk, "wk"), (wv, "wv")]]
    inits += [numpy_helper.from_array(np.array(np.sqrt(8.0), np.float32), "scale"), numpy_helper.from_array(np.array(1e-5, np.float32), "eps")]
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("MatMul", ["x", "wv"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Div", ["s", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["a"], axis=-1),
        helper.make_node("MatMul", ["a", "v"], ["o"]),
        helper.make_node("Add", ["o", "x"], ["res"]),
        helper.make_node("ReduceMean", ["res"], ["mean"], axes=[-1], keepdims=1),
        helper.make_node("Sub", ["res", "mean"], ["d"]),
        helper.make_node("Mul", ["d", "d"], ["d2"]),
        helper.make_node("ReduceMean", ["d2"], ["var"], axes=[-1], keepdims=1),
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["sd"]),
        helper.make_node("Div", ["d", "sd"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "S", 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", "S", 8])
    g = helper.make_graph(nodes, "dynattn", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="smelt tools/make_test_fixtures.py")
    d = os.path.join(ROOT, "tests/e2e/models/dynattn")
    save(m, os.path.join(d, "model.onnx"))

    def forward(xb):
        x = xb.astype(np.float64)
        q, k, v = x @ wq, x @ wk, x @ wv
        s = q @ k.transpose(0, 2, 1) / np.float64(np.float32(np.sqrt(8.0)))
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        a = e / e.sum(axis=-1, keepdims=True)
        r = a @ v + x
        dd = r - r.mean(axis=-1, keepdims=True)
        return (dd / np.sqrt((dd * dd).mean(axis=-1, keepdims=True) + np.float64(np.float32(1e-5)))).astype(np.float32)

    for n, sl in ((1, 1), (2, 5), (4, 16), (3, 7)):
        xb = rng.standard_normal((n, sl, 8)).astype(np.float32)
        save_npy(os.path.join(d, "in_n%ds%d.npy" % (n, sl)), xb)
        save_npy(os.path.join(d, "ref_n%ds%d.npy" % (n, sl)), forward(xb))
    save_npy(os.path.join(d, "in_n5s1.npy"), np.zeros((5, 1, 8), np.float32))
    save_npy(os.path.join(d, "in_n1s17.npy"), np.zeros((1, 17, 8), np.float32))


# ---- base.onnx: the valid model tests/malformed/gen.c mutates -------------------------------
def base():
    w = (rng.standard_normal((8, 4)) * 0.5).astype(np.float32)
    b = np.array([0.5, -0.5, 1, -1], np.float32)
    shape = np.array([2, 2], np.int64)
    # w as raw_data (numpy_helper), b in float_data (typed field), shape in int64_data
    tw = numpy_helper.from_array(w, "w")
    tb = helper.make_tensor("b", TensorProto.FLOAT, [4], b.tolist())
    ts = helper.make_tensor("shape", TensorProto.INT64, [2], shape.tolist())
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("Add", ["h", "b"], ["hb"], name="add"),
        helper.make_node("Relu", ["hb"], ["hr"], name="relu"),
        helper.make_node("Constant", [], ["two"], name="const2", value=helper.make_tensor("two_v", TensorProto.FLOAT, [], [2.0])),
        helper.make_node("Mul", ["hr", "two"], ["hm"], name="mul"),
        helper.make_node("Reshape", ["hm", "shape"], ["y"], name="reshape"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
    g = helper.make_graph(nodes, "base", [x], [y], [tw, tb, ts])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="smelt tools/make_test_fixtures.py")
    save(m, os.path.join(ROOT, "tests/malformed/base.onnx"))


dynbatch()
dynattn()
base()
