"""tools/torch_fixture.py — what the PyTorch fixture makers share
(tools/make_branchy_fixture.py, tools/make_encoder_fixture.py): export a module to
OUT/model.onnx and write one ONNX test_data_set (its input and PyTorch's output)."""
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
