#!/usr/bin/env python3
"""tools/make_quant_ir_cases.py — writes the IR cases of the quantize pass's golden test
(tests/ir/quant/*.ir, run by tests/ir/quantize.c).  Deterministic (a fixed xorshift
seed, no numpy); rerun only to change the cases, then `make update-golden`."""
import os, sys

state = [0x2545F4914F6CDD1D]
def rnd():
    x = state[0]
    x ^= x >> 12; x ^= (x << 25) & 0xFFFFFFFFFFFFFFFF; x ^= x >> 27
    state[0] = x
    return ((x * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF) >> 40  # 24 bits

def vals(n, scale=0.25):
    return ", ".join("%.6g" % ((rnd() / float(1 << 24) * 2 - 1) * scale) for _ in range(n))

def const(name, rows, cols):
    return "const %%%s : f32[%d,%d] = [%s]\n" % (name, rows, cols, vals(rows * cols))

def const_n(name, dims):
    n = 1
    for d in dims:
        n *= d
    return "const %%%s : f32[%s] = [%s]\n" % (name, ",".join(str(d) for d in dims), vals(n))

cases = {
    # int4 on a [K, N] ONNX-style weight (transposed to [N, K]), --quant-group 4 dividing K = 12
    "int4_group": ("--quant int4 --quant-group 4",
        "# int4, group 4: the [K, N] weight becomes u8 [N, K/2] + scales [N, K/4] (QMatMul)\n"
        "input %x : f32[2,12]\n" + const("w1", 12, 8) +
        "%h : f32[2,8] = MatMul(%x, %w1)\n%r : f32[2,8] = Relu(%h)\n" + const("w2", 8, 3) +
        "%y : f32[2,3] = MatMul(%r, %w2)\noutput %y\n"),
    # int8 on a trans_b weight; a --quant-skip glob keeps the second float
    "int8_skip": ("--quant int8 --quant-skip keep.*",
        "# int8: per-row scales (QMatMul, int8 activations); keep.w matches --quant-skip\n"
        "input %x : f32[3,16]\n" + const("w", 8, 16) +
        "%h : f32[3,8] = MatMul(%x, %w) {trans_b=1}\n" + const("keep.w", 8, 4) +
        "%y : f32[3,4] = MatMul(%h, %keep.w)\noutput %y\n"),
    # q8_0: K = 64 takes blocks; K = 24 falls back to int8
    "q8_0_fallback": ("--quant q8_0",
        "# q8_0: K = 64 becomes ggml blocks under MatMul; K = 24 is no whole number of\n"
        "# blocks and falls back to int8\n"
        "input %x : f32[1,64]\n" + const("w1", 64, 24) +
        "%h : f32[1,24] = MatMul(%x, %w1)\n" + const("w2", 24, 5) +
        "%y : f32[1,5] = MatMul(%h, %w2)\noutput %y\n"),
    # nf4 with the default group on K = 172: the nearest divisor is 43; K = 64 keeps 32
    "nf4_divisor": ("--quant nf4",
        "# nf4, default group 32: K = 172 (stories260K's ffn_down) takes its divisor 43\n"
        "input %x : f32[2,64]\n" + const("up", 172, 64) +
        "%h : f32[2,172] = MatMul(%x, %up) {trans_b=1}\n" + const("down", 4, 172) +
        "%y : f32[2,4] = MatMul(%h, %down) {trans_b=1}\noutput %y\n"),
    # tied embeddings: the Gather reads the LM head's q8_0 copy (--quant-skip none drops
    # the default token_embd.weight)
    "q8_0_tied": ("--quant q8_0 --quant-skip none",
        "# q8_0 with --quant-skip none: the table feeds Gather and the tied LM head; both read\n"
        "# one q8_0 constant (Gather gives f32 rows)\n"
        "input %ids : i32[3]\n" + const("token_embd.weight", 6, 32) +
        "%e : f32[3,32] = Gather(%token_embd.weight, %ids)\n"
        "%y : f32[3,6] = MatMul(%e, %token_embd.weight) {trans_b=1}\noutput %y\n"),
    # f16; a MatMul of two activations is left alone
    "f16_acts": ("--quant f16",
        "# f16: the weight becomes f16 [N, K]; MatMul of two activations stays f32\n"
        "input %x : f32[4,8]\ninput %z : f32[8,4]\n" + const("w", 8, 8) +
        "%h : f32[4,8] = MatMul(%x, %w)\n%y : f32[4,4] = MatMul(%h, %z)\noutput %y\n"),
    # Conv weights: rows of C/group * prod(kernel) values per output channel
    "conv_q8_0": ("--quant q8_0",
        "# q8_0 on Conv: w1's rows hold 8*2*2 = 32 values (one q8_0 block: QConv with a\n"
        "# zero bias added); w2's rows hold 36 and fall back to per-channel int8 (scales [M])\n"
        "input %x : f32[1,8,5,5]\n" + const_n("w1", [4, 8, 2, 2]) +
        "%h : f32[1,4,4,4] = Conv(%x, %w1) {strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1]}\n" +
        const_n("w2", [3, 4, 3, 3]) + const_n("b2", [3]) +
        "%y : f32[1,3,4,4] = Conv(%h, %w2, %b2) {strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1]}\noutput %y\n"),
    "conv_int4_1d": ("--quant int4 --quant-group 4",
        "# int4 on a 1-D grouped Conv: rows of 2*4 = 8 values, group 4 (scales [M, 2])\n"
        "input %x : f32[2,4,9]\n" + const_n("w", [6, 2, 4]) + const_n("b", [6]) +
        "%y : f32[2,6,4] = Conv(%x, %w, %b) {strides=[2], pads=[1, 0], dilations=[1], group=2}\noutput %y\n"),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "ir", "quant")
for name, (opts, body) in sorted(cases.items()):
    with open(os.path.join(out, name + ".ir"), "w") as f:
        f.write('smelt-ir 1\ngraph "%s"\n# options: %s\n# ints: 0 3\n%s' % (name, opts, body))
