#!/usr/bin/python3
"""Writes the ONNX models of `make bench`'s ONNX and GEMM rows (random weights: speed does
not depend on their values).

    tools/make_bench_onnx.py OUT_DIR

- bert.onnx: a BERT-style encoder exported by PyTorch (torch.onnx.export, opset 14):
  token + position embeddings, 4 post-norm layers of 4-head self-attention and a GELU
  feed-forward (d 256, ff 1024), sequence 128, input `input_ids` int64 [1, 128].
- cnn.onnx: a small ResNet-style CNN exported by PyTorch: a 3x3 stem, four residual
  blocks (32, 64, 128, 256 channels, stride 2 from the second), global average pooling
  and a classifier; batch norms folded by the exporter; input `image` f32 [1, 3, 64, 64].
- gemm_MxNxK.onnx: Y[M,N] = X[M,K] · W[K,N] with W a constant initializer (one MatMul),
  for the GEMM (M = N = K) and GEMV (M = 1) shapes the bench lists.
Existing files are kept.  Run with /usr/bin/python3 (PyTorch 1.13, onnx, numpy).
"""
import os
import sys

import numpy as np

GEMM_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (1, 4096, 4096), (1, 11008, 4096)]


def bert(path):
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from torch_fixture import EncoderLayer as Layer

    class Bert(nn.Module):
        def __init__(self, vocab=8000, d=256, layers=4, h=4, ff=1024, seq=128):
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.randn(1, seq, d) * 0.02)
            self.norm = nn.LayerNorm(d)
            self.layers = nn.ModuleList([Layer(d, h, ff) for _ in range(layers)])

        def forward(self, input_ids):
            x = self.norm(self.tok(input_ids) + self.pos)
            for l in self.layers:
                x = l(x)
            return x

    torch.manual_seed(0)
    m = Bert().eval()
    ids = torch.randint(0, 8000, (1, 128))
    torch.onnx.export(m, (ids,), path + '.tmp', input_names=['input_ids'], output_names=['hidden'], opset_version=14)
    os.replace(path + '.tmp', path)


def cnn(path):
    import torch
    import torch.nn as nn

    def block(cin, cout, stride):
        class B(nn.Module):
            def __init__(self):
                super().__init__()
                self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
                self.b1 = nn.BatchNorm2d(cout)
                self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
                self.b2 = nn.BatchNorm2d(cout)
                self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) \
                    if stride != 1 or cin != cout else nn.Identity()

            def forward(self, x):
                y = torch.relu(self.b1(self.c1(x)))
                return torch.relu(self.b2(self.c2(y)) + self.sc(x))
        return B()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
            self.blocks = nn.Sequential(block(32, 32, 1), block(32, 64, 2), block(64, 128, 2), block(128, 256, 2))
            self.fc = nn.Linear(256, 10)

        def forward(self, image):
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.blocks(self.stem(image)), 1), 1))

    torch.manual_seed(0)
    m = Net()
    for mod in m.modules():  # non-trivial batch-norm statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    m.eval()
    torch.onnx.export(m, (torch.randn(1, 3, 64, 64),), path + '.tmp', input_names=['image'], output_names=['logits'], opset_version=14)
    os.replace(path + '.tmp', path)


def gemm(path, M, N, K):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = (np.random.default_rng(K * N).standard_normal((K, N), dtype=np.float32) / np.sqrt(K)).astype(np.float32)
    g = helper.make_graph([helper.make_node('MatMul', ['X', 'W'], ['Y'])], 'gemm_%dx%dx%d' % (M, N, K),
                          [helper.make_tensor_value_info('X', TensorProto.FLOAT, [M, K])],
                          [helper.make_tensor_value_info('Y', TensorProto.FLOAT, [M, N])],
                          [numpy_helper.from_array(w, 'W')])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 7  # readable by the ONNX Runtime release the bench installs
    onnx.save(m, path + '.tmp')
    os.replace(path + '.tmp', path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    todo = [('bert.onnx', bert), ('cnn.onnx', cnn)]
    todo += [('gemm_%dx%dx%d.onnx' % s, lambda p, s=s: gemm(p, *s)) for s in GEMM_SHAPES]
    failed = 0
    for name, fn in todo:
        p = os.path.join(out, name)
        if not os.path.exists(p):
            try:
                fn(p)
            except Exception as e:  # e.g. no PyTorch: the other models are still made
                print('%s: not made: %s: %s' % (p, type(e).__name__, e), file=sys.stderr)
                failed = 1
                continue
            print('%s: %.1f MiB' % (p, os.path.getsize(p) / 2**20))
    sys.exit(failed)


if __name__ == '__main__':
    main()
