"""tools/make_encoder_fixture.py — writes tests/e2e/models/encoder: a tiny BERT-style
encoder exported by PyTorch at opset 14 (before LayerNormalization and Gelu were ONNX
ops, so the exporter writes them out: ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div,
Mul, Add, and Div, Erf, Add, Mul, Mul), with one ONNX test_data_set (input and
PyTorch's output).  The idioms pass (passes/idioms.c) must turn those back into
LayerNorm and Gelu; the conformance runner checks the compiled model against PyTorch.
Two post-norm layers of 2-head self-attention and a GELU feed-forward, d 32, ff 64,
sequence 8, plus an input LayerNorm.
Rerun only to change it (deterministic; needs PyTorch and python3-onnx).

usage: /usr/bin/python3 tools/make_encoder_fixture.py [REPO_ROOT]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fixture import EncoderLayer as Layer, export_with_test_set  # noqa: E402

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "e2e", "models", "encoder")
torch.manual_seed(20261123)


class Net(torch.nn.Module):
    def __init__(self, d=32, h=2, ff=64, layers=2):
        super().__init__()
        self.norm = torch.nn.LayerNorm(d)
        self.layers = torch.nn.ModuleList([Layer(d, h, ff) for _ in range(layers)])
        for m in self.modules():  # LayerNorm weights and biases that are not 1 and 0
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = self.norm(x)
        for l in self.layers:
            x = l(x)
        return x


def main():
    net = Net().eval()
    x = torch.randn(1, 8, 32) * 2 + 0.5
    export_with_test_set(net, x, OUT, 14, ROOT)


main()
