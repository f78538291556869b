"""tools/torch_fixture.py — what the PyTorch model makers share
(tools/make_branchy_fixture.py, tools/make_encoder_fixture.py, tools/make_bench_onnx.py):
export a module to OUT/model.onnx with one ONNX test_data_set (its input and PyTorch's
output), and the post-norm BERT-style encoder layer."""
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def export_with_test_set(net, x, out, opset, root):
    """net(x) -> OUT/model.onnx (input x, output y) and OUT/test_data_set_0/{input,output}_0.pb"""
    with torch.no_grad():
        y = net(x)
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    path = os.path.join(out, "model.onnx")
    torch.onnx.export(net, x, path, input_names=["x"], output_names=["y"], opset_version=opset)
    onnx.checker.check_model(onnx.load(path))
    for name, a in (("input_0.pb", x), ("output_0.pb", y)):
        t = numpy_helper.from_array(a.numpy().astype(np.float32), "x" if name.startswith("in") else "y")
        with open(os.path.join(out, "test_data_set_0", name), "wb") as f:
            f.write(t.SerializeToString())
    print("wrote", os.path.relpath(path, root), os.path.getsize(path), "bytes")


class EncoderLayer(torch.nn.Module):
    """post-norm self-attention (h heads) and a GELU feed-forward of width ff, d wide"""

    def __init__(self, d, h, ff):
        super().__init__()
        nn = torch.nn
        self.h, self.dh = h, d // h
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.n1 = nn.LayerNorm(d)
        self.f1 = nn.Linear(d, ff)
        self.f2 = nn.Linear(ff, d)
        self.n2 = nn.LayerNorm(d)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, self.dh).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / self.dh ** 0.5, dim=-1) @ v
        x = self.n1(x + self.o(a.transpose(1, 2).reshape(b, s, d)))
        return self.n2(x + self.f2(torch.nn.functional.gelu(self.f1(x))))
