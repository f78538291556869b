/* compiler/onnx_notes.c — what each ONNX operator becomes in the IR, for `smelt ops`
 * and the README's operator table.
 *
 * Which operators are supported is not listed here: that comes from the lowering
 * tables themselves (smelt_onnx_ops() in read_onnx.c), so the list is always current.
 * This file only annotates them.  An operator without a row is shown as becoming the
 * IR op of the same name when there is one (the common case: Abs, Conv, Softmax ...),
 * so a row is needed only when a lowering builds other IR ops, folds to a constant,
 * or has limits worth telling the user.  A row for an operator no table lowers is
 * never shown. */
#include "compiler/read.h"

#include <string.h>

static const struct smelt_onnx_note notes[] = {
    /* ---- elementwise (onnx_lower_elemwise.c) ---- */
    {"Gelu", "Gelu, GeluTanh", "approximate=tanh becomes GeluTanh"},
    {"Mod", "Mod, FMod", "fmod=1 becomes FMod (sign of the dividend)"},
    {"BitShift", "Shl, Shr", "direction LEFT / RIGHT"},
    {"Pow", "Pow, Cast", "the exponent is cast to the base's type"},
    {"Max", "Max", "any number of inputs: a chain of binary Max"},
    {"Min", "Min", "any number of inputs: a chain of binary Min"},
    {"Sum", "Add", "any number of inputs: a chain of Add"},
    {"Mean", "Add, Div", "sum of the inputs divided by their count"},
    {"Cast", "Cast", "numeric and bool types (no strings); float to integer saturates"},
    {"CastLike", "Cast", NULL},
    {"Clip", "Clip, Max, Min", "constant float bounds: one Clip; run-time or integer bounds: Max / Min"},
    {"Identity", "(none)", "the output is the input"},
    {"Dropout", "(none), Expand", "inference: Y = X and an all-true mask; training_mode=1 is rejected"},
    /* ---- shapes and data movement (onnx_lower_tensor.c) ---- */
    {"Shape", "(constant)", "a constant, or a symbolic shape value when dims are dynamic (understood by Reshape, Expand, ConstantOfShape ...)"},
    {"Size", "(constant)", "static shapes only"},
    {"Reshape", "Reshape", "the target shape must be known at compile time (a constant, a Shape computation, or --const)"},
    {"Flatten", "Reshape", NULL},
    {"Squeeze", "Reshape", "axes known at compile time"},
    {"Unsqueeze", "Reshape", "axes known at compile time"},
    {"Split", "Slice", "split sizes known at compile time; not along a dynamic dim"},
    {"Slice", "Slice", "starts, ends, axes and steps known at compile time; a dynamic dim can only be kept whole"},
    {"Expand", "Expand", "the target shape known at compile time"},
    {"Tile", "Reshape, Expand", "repeats known at compile time; rank <= 4"},
    {"Pad", "Pad", "modes constant, reflect, edge; pads known at compile time"},
    {"Constant", "(constant)", "tensor, float(s) and int(s) values; no strings or sparse tensors"},
    {"ConstantOfShape", "Expand", "of the scalar value"},
    {"Range", "(constant)", "start, limit and delta known at compile time"},
    {"EyeLike", "(constant)", "static 2-D input"},
    {"DepthToSpace", "Reshape, Transpose", "DCR and CRD modes; static channel and spatial dims"},
    {"SpaceToDepth", "Reshape, Transpose", "static channel and spatial dims"},
    /* ---- neural-network operators (onnx_lower_nn.c) ---- */
    {"MatMul", "MatMul", "1-D operands are promoted and the added dim dropped (numpy rules)"},
    {"Gemm", "MatMul, Transpose, Mul, Add", "transB is MatMul's trans_b, transA a Transpose; alpha and beta become Mul"},
    {"Conv", "Conv", "any number of spatial dims, groups, dilations, auto_pad; static spatial dims"},
    {"MaxPool", "MaxPool", "no Indices output, no storage_order=1; static spatial dims"},
    {"AveragePool", "AveragePool", "static spatial dims"},
    {"GlobalAveragePool", "ReduceMean", NULL},
    {"GlobalMaxPool", "ReduceMax", NULL},
    {"BatchNormalization", "Mul, Add (+ Sqrt, Div, Sub)", "inference: a per-channel scale and shift, folded at compile time when the statistics are constants; training mode is rejected"},
    {"ReduceLogSumExp", "ReduceMax, Sub, Exp, ReduceSum, Log, Add (+ IsInf, Where)", "computed stably as m + log(sum(exp(x - m)))"},
    {"Softmax", "Softmax", "before opset 13: the input is flattened to 2-D at axis, as those opsets define it"},
    {"LogSoftmax", "LogSoftmax", "before opset 13: the input is flattened to 2-D at axis"},
    {"LayerNormalization", "ReduceMean, Sub, Mul, Add, Sqrt, Reciprocal", "Mean and InvStdDev outputs included"},
    {"InstanceNormalization", "ReduceMean, Sub, Mul, Add, Sqrt, Reciprocal, Reshape", NULL},
    {"MeanVarianceNormalization", "ReduceMean, Sub, Mul, Add, Sqrt, Div", NULL},
    {"LRN", "Mul, AveragePool, Add, Pow, Div, Reshape", "the window sum of squares is an AveragePool over channels; static input"},
    {"NegativeLogLikelihoodLoss", "Equal, Cast, Mul, ReduceSum, Neg, Div, Not, Reshape", "a one-hot mask selects the targets; weight, ignore_index, reduction none / sum / mean"},
    {"SoftmaxCrossEntropyLoss", "LogSoftmax, Equal, Cast, Mul, ReduceSum, Neg, Div, Not, Reshape", "as NegativeLogLikelihoodLoss over LogSoftmax; the log_prob output included"},
    /* ---- quantized operators (onnx_lower_quant.c): exact, in float / int32 ---- */
    {"QuantizeLinear", "Div, Round, Add, Clip, Cast", "round half to even, saturating; per-tensor or per-axis"},
    {"DequantizeLinear", "Sub, Mul, Cast", "per-tensor or per-axis"},
    {"MatMulInteger", "Cast, Sub, MatMul", "int32 arithmetic"},
    {"ConvInteger", "Cast, Sub, Conv", "int32 arithmetic"},
    {"QLinearMatMul", "MatMul, Cast, Sub, Mul, Div, Round, Add, Clip", "int32 accumulation, requantized in float with ONNX's rounding"},
    {"QLinearConv", "Conv, Cast, Sub, Mul, Div, Round, Add, Clip", "int32 accumulation, requantized in float with ONNX's rounding"},
    {"DynamicQuantizeLinear", "ReduceMin, ReduceMax, Min, Max, Sub, Div, Neg, Round, Add, Clip, Cast", "uint8, scale and zero point from the data's range"},
    /* ---- index operators (onnx_lower_gather.c) ---- */
    {"GatherElements", "GatherElements", "negative indices count from the end; an index out of range is a run-time error (SMELT_E_INDEX)"},
    {"ScatterElements", "ScatterElements", "reduction none / add / mul / min / max, updates applied in index order; an index out of range is a run-time error"},
    {"Scatter", "ScatterElements", "the deprecated name of ScatterElements (opsets 9-10)"},
    {"GatherND", "GatherND", "batch_dims; the last dim of the indices must be static; an index out of range is a run-time error"},
    {"ScatterND", "ScatterND", "reduction none / add / mul / min / max; the last dim of the indices must be static"},
    {"Trilu", "Trilu", "k known at compile time"},
    {"CumSum", "CumSum", "axis known at compile time; floats accumulate in double"},
    {"OneHot", "OneHot (+ Cast)", "depth known at compile time; values may be computed at run time; non-integer indices are cast to int64"},
    {"TopK", "TopK", "K known at compile time and a static axis dim; always sorted, ties lower index first, NaN counts as the largest"},
    {"Hardmax", "ArgMax, OneHot (+ Reshape)", "before opset 13: the input is flattened to 2-D at axis; a static axis dim"},
    {"ReverseSequence", "ReverseSequence", "sequence_lens may be computed at run time; a length above the time dim is a run-time error"},
    {"Compress", "Gather (+ Reshape)", "the condition must be known at compile time (a constant or --const); a run-time condition would make the output's shape depend on data"},
    {NULL, NULL, NULL},
};

const struct smelt_onnx_note *smelt_onnx_note(const char *op) {
  for (const struct smelt_onnx_note *n = notes; n->op; n++)
    if (!strcmp(n->op, op)) return n;
  return NULL;
}
