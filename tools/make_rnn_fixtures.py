#!/usr/bin/python3
"""tools/make_rnn_fixtures.py — small recurrent models exported from PyTorch, as
end-to-end fixtures for smelt's RNN / GRU / LSTM support.

Builds, with fixed seeds, a 2-layer LSTM sequence classifier and a bidirectional
2-layer GRU encoder fed through pack_padded_sequence (so the exported GRUs get a
run-time sequence_lens input), the latter twice: with a static batch and with a
dynamic one (gru_dynbatch, checked with --dim batch<=4).  Each is exported with
torch.onnx.export (opset 13) into tests/e2e/models/<name>/ holding model.onnx and
test_data_set_0/input_*.pb + output_*.pb (ONNX TensorProto files; outputs computed
by PyTorch) — the layout `build/tests/conformance --dir FOLDER --exe --require-pass`
checks.

Run with Debian's PyTorch (apt-get install python3-torch python3-onnx):
    /usr/bin/python3 tools/make_rnn_fixtures.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
from torch import nn

OPSET = 13


class LstmClassifier(nn.Module):
    """x[N, S, F] -> 2-layer LSTM -> last step -> Linear -> log-probabilities[N, C]."""

    def __init__(self, features=8, hidden=16, classes=4):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        y, _ = self.lstm(x)
        return torch.log_softmax(self.head(y[:, -1, :]), dim=-1)


class GruEncoder(nn.Module):
    """x[S, N, F], lengths[N] (sorted, longest first) -> packed bidirectional 2-layer GRU ->
    (padded outputs[S, N, 2H], logits[N, C] from the last layer's final states)."""

    def __init__(self, features=6, hidden=10, classes=3):
        super().__init__()
        self.gru = nn.GRU(features, hidden, num_layers=2, bidirectional=True)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=True)
        y, h = self.gru(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, total_length=x.shape[0])
        last = torch.cat([h[-2], h[-1]], dim=-1)
        return y, self.head(last)


def save_tensor(path, array):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(np.ascontiguousarray(array)).SerializeToString())


def export(model, inputs, input_names, output_names, folder, dynamic_axes=None, trace_inputs=None):
    """Exports model traced on trace_inputs (default: inputs) and writes inputs with
    PyTorch's outputs as test data set 0."""
    os.makedirs(os.path.join(folder, "test_data_set_0"), exist_ok=True)
    model.eval()
    with torch.no_grad():
        outputs = model(*inputs)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, tuple(trace_inputs or inputs), path, opset_version=OPSET,
                      input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes)
    onnx.checker.check_model(onnx.load(path))
    for i, t in enumerate(inputs):
        save_tensor(os.path.join(folder, "test_data_set_0", "input_%d.pb" % i), t.numpy())
    for i, t in enumerate(outputs):
        save_tensor(os.path.join(folder, "test_data_set_0", "output_%d.pb" % i), t.numpy())
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(folder) for f in fs)
    ops = sorted({n.op_type for n in onnx.load(path).graph.node})
    print("%s: %d bytes; ops %s" % (folder, size, " ".join(ops)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e", "models"))

    torch.manual_seed(1234)
    lstm = LstmClassifier()
    x = torch.randn(2, 10, 8)
    export(lstm, [x], ["x"], ["log_probs"], os.path.join(out, "lstm_classifier"))

    torch.manual_seed(5678)
    gru = GruEncoder()
    x = torch.randn(7, 3, 6)
    lengths = torch.tensor([7, 4, 2], dtype=torch.int64)
    export(gru, [x, lengths], ["x", "lengths"], ["y", "logits"], os.path.join(out, "gru_bidir_packed"))

    # The same GRU with a dynamic batch dim (traced with batch 1, where the exporter's
    # zero initial state broadcasts), checked with batch 3 under --dim batch<=4.
    axes = {"x": {1: "batch"}, "lengths": {0: "batch"}, "y": {1: "batch"}, "logits": {0: "batch"}}
    trace = [torch.randn(7, 1, 6), torch.tensor([7], dtype=torch.int64)]
    export(gru, [x, lengths], ["x", "lengths"], ["y", "logits"], os.path.join(out, "gru_dynbatch"), axes, trace)


if __name__ == "__main__":
    main()
