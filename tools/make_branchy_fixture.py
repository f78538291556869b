#!/usr/bin/python3
"""tools/make_branchy_fixture.py — writes tests/e2e/models/inception: a small branchy
CNN exported from PyTorch (two Inception-style modules: 1x1 / 1x1+3x3 / 1x1+5x5 /
maxpool+1x1 branches concatenated, then global
average pooling and a linear layer) with one ONNX test_data_set (input and PyTorch's
output).  The schedule pass (passes/schedule.c) lowers this graph's peak; the
conformance runner checks the compiled model against PyTorch's output.
Rerun only to change it (deterministic; needs PyTorch and python3-onnx).

usage: /usr/bin/python3 tools/make_branchy_fixture.py [REPO_ROOT]
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_fixture import export_with_test_set  # noqa: E402

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "e2e", "models", "inception")
torch.manual_seed(20261122)


class Inception(torch.nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, cp):
        super().__init__()
        nn = torch.nn
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), nn.ReLU())
        self.b3 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1), nn.ReLU())
        self.b5 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2), nn.ReLU())
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, cp, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 24, 3, padding=1), nn.ReLU())
        self.i1 = Inception(24, 8, 12, 16, 2, 4, 4)    # -> 32 channels (GoogLeNet 3a / 8)
        self.i2 = Inception(32, 8, 16, 16, 4, 4, 4)    # -> 32 channels
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        x = self.i1(x)
        x = self.i2(x)
        x = torch.mean(x, dim=(2, 3))
        return self.fc(x)


def main():
    net = Net().eval()
    x = torch.randn(1, 3, 24, 24)
    export_with_test_set(net, x, OUT, 13, ROOT)


main()
