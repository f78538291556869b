#!/usr/bin/python3
"""tools/make_digits_model.py — trains the demo's digit classifier and writes
samples/digits/: digits.onnx, test_digits.npy, test_labels.npy and README.md.

A 64 -> 48 -> 10 MLP with ReLU, trained with plain numpy (Adam, fixed seed) on the
8x8 handwritten digits that scikit-learn ships (1797 images, pixel values 0..16),
holding out 20% of them (stratified, fixed seed).  The model takes pixels scaled to
[0, 1] (value / 16) as a float32 [N, 64] tensor and returns logits [N, 10].

Needs Debian's python3-numpy, python3-sklearn and python3-onnx; run from anywhere:

    /usr/bin/python3 tools/make_digits_model.py

The outputs are checked in, so nothing in `make demo` or `make test` runs this.
The held-out accuracy of the float model, computed here with numpy, is recorded in
README.md; the e2e test checks that the compiled model reproduces it.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 20240607
HIDDEN = 48
EPOCHS = 150
BATCH = 32
LR = 2e-3
WEIGHT_DECAY = 1e-4

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples", "digits")


def forward(params, x):
    w1, b1, w2, b2 = params
    h_pre = x @ w1 + b1
    h = np.maximum(h_pre, 0)
    return h_pre, h, h @ w2 + b2


def train(x, y, rng):
    n_in, n_out = x.shape[1], 10
    # He initialisation for the ReLU layer, Glorot for the output layer.
    params = [
        rng.normal(0, np.sqrt(2.0 / n_in), (n_in, HIDDEN)),
        np.zeros(HIDDEN),
        rng.normal(0, np.sqrt(2.0 / (HIDDEN + n_out)), (HIDDEN, n_out)),
        np.zeros(n_out),
    ]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    b1, b2, eps, t = 0.9, 0.999, 1e-8, 0
    onehot = np.eye(n_out)[y]
    for epoch in range(EPOCHS):
        order = rng.permutation(len(x))
        for s in range(0, len(x), BATCH):
            idx = order[s:s + BATCH]
            xb, tb = x[idx], onehot[idx]
            h_pre, h, logits = forward(params, xb)
            # softmax cross-entropy gradient
            z = logits - logits.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            g_logits = (p - tb) / len(xb)
            g_w2 = h.T @ g_logits + WEIGHT_DECAY * params[2]
            g_b2 = g_logits.sum(axis=0)
            g_h = (g_logits @ params[2].T) * (h_pre > 0)
            g_w1 = xb.T @ g_h + WEIGHT_DECAY * params[0]
            g_b1 = g_h.sum(axis=0)
            t += 1
            for k, g in enumerate((g_w1, g_b1, g_w2, g_b2)):
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                mh = m[k] / (1 - b1 ** t)
                vh = v[k] / (1 - b2 ** t)
                params[k] = params[k] - LR * mh / (np.sqrt(vh) + eps)
    return [p.astype(np.float32) for p in params]


def export(params, path):
    w1, b1, w2, b2 = params
    inits = [numpy_helper.from_array(a, name) for a, name in ((w1, "fc1.weight"), (b1, "fc1.bias"),
                                                            (w2, "fc2.weight"), (b2, "fc2.bias"))]
    nodes = [
        helper.make_node("Gemm", ["pixels", "fc1.weight", "fc1.bias"], ["fc1"], name="fc1"),
        helper.make_node("Relu", ["fc1"], ["relu1"], name="relu1"),
        helper.make_node("Gemm", ["relu1", "fc2.weight", "fc2.bias"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes, "digits_mlp",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="smelt tools/make_digits_model.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    model.doc_string = "8x8 digit classifier: pixels [N,64] in [0,1] (value/16) -> logits [N,10]"
    onnx.checker.check_model(model)
    onnx.save(model, path)


README = """\
# digits — the `make demo` sample

A small digit classifier compiled by smelt into a static library and called from C.

| file | what |
|---|---|
| `digits.onnx` | a 64 → {hidden} → 10 MLP with ReLU ({params} parameters; ONNX opset 13: `Gemm`, `Relu`, `Gemm`). Input `pixels` float32 [N, 64]: the 8×8 pixels, row by row, scaled to [0, 1] (the dataset's 0..16 divided by 16). Output `logits` float32 [N, 10]. |
| `test_digits.npy` | the {ntest} held-out digits (20%, stratified), float32 [{ntest}, 64] |
| `test_labels.npy` | their labels, int64 [{ntest}] |
| `classify.c` | reads both files, runs the compiled model on each digit through the generated C API (`digits.h`), prints the first 12 digits and every misclassified one as text art with the prediction and the true label (every digit with `--all`), then the accuracy over all of them |
| `demo.sh BUILD_DIR [--all]` | what `make demo` runs: `smelt build digits.onnx --emit lib --name digits --dim N=1 -o BUILD_DIR/demo`, then `cc classify.c -ldigits`, then the classifier on the two `.npy` files |

The model and the data are written by `tools/make_digits_model.py` (plain numpy: Adam,
{epochs} epochs, seed {seed}, on the 8×8 handwritten digits that scikit-learn ships,
`sklearn.datasets.load_digits`); they are checked in, so the demo needs no Python.
Regenerate them with `/usr/bin/python3 tools/make_digits_model.py` (Debian's
python3-numpy, python3-sklearn and python3-onnx).

Accuracy of the float model on the held-out digits, computed with numpy by the training
script:

float-accuracy: {acc:.2f}% ({correct}/{ntest})

The e2e test `e2e_digits_demo` (tests/e2e/digits_demo.sh) runs the demo and checks that
the compiled model reports the same accuracy, within 0.5 points.
"""


def main():
    rng = np.random.default_rng(SEED)
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=SEED % (2**32), stratify=y)
    params = train(x_tr.astype(np.float64), y_tr, rng)
    _, _, logits = forward(params, x_te)
    pred = logits.argmax(axis=1)
    correct = int((pred == y_te).sum())
    acc = 100.0 * correct / len(y_te)
    _, _, logits_tr = forward(params, x_tr)
    train_acc = 100.0 * float((logits_tr.argmax(axis=1) == y_tr).mean())

    os.makedirs(OUT, exist_ok=True)
    export(params, os.path.join(OUT, "digits.onnx"))
    np.save(os.path.join(OUT, "test_digits.npy"), np.ascontiguousarray(x_te, dtype=np.float32))
    np.save(os.path.join(OUT, "test_labels.npy"), np.ascontiguousarray(y_te, dtype=np.int64))
    nparams = sum(p.size for p in params)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README.format(hidden=HIDDEN, params=nparams, epochs=EPOCHS, seed=SEED, ntest=len(y_te),
                              acc=acc, correct=correct))
    print(f"train accuracy {train_acc:.2f}%, held-out accuracy {acc:.2f}% ({correct}/{len(y_te)}); wrote {os.path.normpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
