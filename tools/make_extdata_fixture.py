#!/usr/bin/python3
"""Writes tests/e2e/models/extdata/: a small MLP whose initializers live in an ONNX
external data file (weights.bin), with one test data set computed by numpy.  It checks
the reader's memory-mapped external data and, built with --weights-min, the LLVM
weights object.  Run with Debian's /usr/bin/python3 (python3-onnx, python3-numpy)."""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

out = os.path.join(os.path.dirname(__file__), '..', 'tests', 'e2e', 'models', 'extdata')
os.makedirs(os.path.join(out, 'test_data_set_0'), exist_ok=True)
rng = np.random.default_rng(7)
w1 = rng.standard_normal((32, 64)).astype(np.float32) * 0.2
b1 = rng.standard_normal(64).astype(np.float32) * 0.1
w2 = rng.standard_normal((64, 10)).astype(np.float32) * 0.2
b2 = rng.standard_normal(10).astype(np.float32) * 0.1
x = rng.standard_normal((3, 32)).astype(np.float32)

nodes = [helper.make_node('MatMul', ['x', 'w1'], ['h0']), helper.make_node('Add', ['h0', 'b1'], ['h1']),
         helper.make_node('Tanh', ['h1'], ['h2']), helper.make_node('MatMul', ['h2', 'w2'], ['h3']),
         helper.make_node('Add', ['h3', 'b2'], ['y'])]
inits = [numpy_helper.from_array(a, n) for a, n in ((w1, 'w1'), (b1, 'b1'), (w2, 'w2'), (b2, 'b2'))]
g = helper.make_graph(nodes, 'extdata', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [3, 32])],
                      [helper.make_tensor_value_info('y', TensorProto.FLOAT, [3, 10])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)], producer_name='smelt-tools')
onnx.save_model(m, os.path.join(out, 'model.onnx'), save_as_external_data=True, all_tensors_to_one_file=True,
                location='weights.bin', size_threshold=0)
y = np.tanh(x @ w1 + b1) @ w2 + b2
for name, a in (('input_0.pb', x), ('output_0.pb', y.astype(np.float32))):
    with open(os.path.join(out, 'test_data_set_0', name), 'wb') as f:
        f.write(numpy_helper.from_array(a).SerializeToString())
print('wrote', out)
