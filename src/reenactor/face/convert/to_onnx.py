"""Write a parsed TFLite graph (:mod:`.tflite_graph`) as an ONNX graph with the same weights.

The ONNX model keeps the TFLite interface exactly: the same input and output
names, shapes and NHWC layout. Inside, every 4-D activation is NCHW (ONNX's
convolution layout): the input is transposed once, 4-D outputs once back, and
layout-sensitive operators (reshape, concatenation, padding, reductions,
slices) map their axes. Constant operators (``DEQUANTIZE`` of float16
weights, ``DENSIFY`` of sparse ones) are folded into float32 initialisers.

Operators covered: those of mediapipe 0.10.21's face detection, face landmark,
iris landmark and selfie segmentation models, including the custom
``Convolution2DTransposeBias`` (a transposed convolution plus a bias), and
the attention landmark model's three custom operators (:mod:`.custom_ops`).
Anything else raises ``NotImplementedError`` naming the operator.
"""

from __future__ import annotations

import struct

import numpy as np

from reenactor.face.convert.custom_ops import CUSTOM
from reenactor.face.convert.tflite_graph import Graph, Operator

OPSET = 17
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
_ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6", 4: "Tanh"}


class _Builder:
    """Accumulates ONNX nodes and initialisers while walking the TFLite operators."""

    def __init__(self, graph: Graph) -> None:
        import onnx  # noqa: F401 - fail early when the convert extra is missing

        self.g = graph
        self.nodes: list = []
        self.inits: list = []
        self.names: dict[int, str] = {}
        self.consts: dict[int, np.ndarray] = {t.index: t.data for t in graph.tensors if t.data is not None}
        self._n = 0

    # -- helpers -----------------------------------------------------------------
    def fresh(self, stem: str) -> str:
        self._n += 1
        return f"{stem}__{self._n}"

    def const(self, array: np.ndarray, stem: str = "c") -> str:
        from onnx import numpy_helper

        name = self.fresh(stem)
        array = np.asarray(array)  # 0-d stays 0-d (np.ascontiguousarray would make it 1-d)
        self.inits.append(numpy_helper.from_array(array if array.flags.c_contiguous else array.copy(), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, outputs: list[str] | None = None, **attrs) -> str:
        from onnx import helper

        outs = outputs or [self.fresh(stem)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=self.fresh(op), **attrs))
        return outs[0]

    def rank(self, index: int) -> int:
        return len(self.g.tensors[index].shape)

    def value(self, index: int) -> str:
        """ONNX name of a tensor's value (NCHW when 4-D); constants become initialisers."""
        if index in self.names:
            return self.names[index]
        if index in self.consts:
            data = self.consts[index].astype(np.float32) if self.consts[index].dtype == np.float16 else self.consts[index]
            if data.ndim == 4:
                data = data.transpose(_NHWC_TO_NCHW)
            self.names[index] = self.const(data, "w")
            return self.names[index]
        raise KeyError(f"tensor {self.g.tensors[index].name} is used before it is produced")

    def operand(self, index: int, other_rank: int) -> str:
        """A broadcast operand of an elementwise op against a 4-D NCHW activation."""
        if index in self.consts and self.consts[index].ndim < 4 and other_rank == 4:
            data = self.consts[index].astype(np.float32)
            data = data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(_NHWC_TO_NCHW)
            return self.const(data, "b")
        return self.value(index)

    def activate(self, name: str, fused: int, out_index: int) -> None:
        act = _ACTIVATIONS.get(fused, "unsupported")
        if act == "unsupported":
            raise NotImplementedError(f"fused activation {fused}")
        if act == "Relu6":
            name = self.node("Clip", [name, self.const(np.float32(0)), self.const(np.float32(6))], "relu6")
        elif act is not None:
            name = self.node(act, [name], act.lower())
        self.names[out_index] = name


def _same_pads(in_hw, out_hw, kernel, stride, dilation=(1, 1)) -> list[int]:
    """ONNX pads [top, left, bottom, right] reproducing TensorFlow's SAME padding."""
    pads_begin, pads_end = [], []
    for i in range(2):
        eff = (kernel[i] - 1) * dilation[i] + 1
        total = max((out_hw[i] - 1) * stride[i] + eff - in_hw[i], 0)
        pads_begin.append(total // 2)
        pads_end.append(total - total // 2)
    return pads_begin + pads_end


def _conv(b: _Builder, op: Operator, depthwise: bool) -> None:
    o = op.options
    x, w_idx = op.inputs[0], op.inputs[1]
    w = b.consts[w_idx].astype(np.float32)  # conv: (O, kh, kw, I); depthwise: (1, kh, kw, C*M)
    inp, out = b.g.tensors[x].shape, b.g.tensors[op.outputs[0]].shape
    if depthwise:
        group = inp[3]
        weight = w.transpose(3, 0, 1, 2)  # (C*M, 1, kh, kw)
    else:
        group = 1
        weight = w.transpose(0, 3, 1, 2)
    kernel, stride = weight.shape[2:], (o.StrideH(), o.StrideW())
    dilation = (o.DilationHFactor(), o.DilationWFactor())
    pads = _same_pads(inp[1:3], out[1:3], kernel, stride, dilation) if o.Padding() == 0 else [0, 0, 0, 0]
    ins = [b.value(x), b.const(weight, "w")]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        ins.append(b.const(b.consts[op.inputs[2]].astype(np.float32), "bias"))
    y = b.node("Conv", ins, "conv", group=group, kernel_shape=list(kernel), strides=list(stride),
               dilations=list(dilation), pads=pads)
    b.activate(y, o.FusedActivationFunction(), op.outputs[0])


def _transpose_conv_bias(b: _Builder, op: Operator) -> None:
    """mediapipe's ``Convolution2DTransposeBias``: options are (padding, stride_w, stride_h) int32."""
    padding, stride_w, stride_h = struct.unpack("<3i", op.custom[:12])
    w = b.consts[op.inputs[1]].astype(np.float32)  # (O, kh, kw, I)
    weight = w.transpose(3, 0, 1, 2)  # ONNX ConvTranspose: (I, O, kh, kw)
    inp, out = b.g.tensors[op.inputs[0]].shape, b.g.tensors[op.outputs[0]].shape
    kernel, stride = weight.shape[2:], (stride_h, stride_w)
    pads = [0, 0, 0, 0]
    if padding == 1:  # SAME: the output is in * stride; crop the excess like TensorFlow
        for i in range(2):
            total = max((inp[1 + i] - 1) * stride[i] + kernel[i] - out[1 + i], 0)
            pads[i], pads[i + 2] = total // 2, total - total // 2
    bias = b.const(b.consts[op.inputs[2]].astype(np.float32), "bias")
    b.names[op.outputs[0]] = b.node("ConvTranspose", [b.value(op.inputs[0]), b.const(weight, "w"), bias], "deconv",
                                    kernel_shape=list(kernel), strides=list(stride), pads=pads)


def _pool(b: _Builder, op: Operator, kind: str) -> None:
    o = op.options
    inp, out = b.g.tensors[op.inputs[0]].shape, b.g.tensors[op.outputs[0]].shape
    kernel, stride = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
    pads = _same_pads(inp[1:3], out[1:3], kernel, stride) if o.Padding() == 0 else [0, 0, 0, 0]
    onnx_op = "MaxPool" if kind == "MAX_POOL_2D" else "AveragePool"
    y = b.node(onnx_op, [b.value(op.inputs[0])], "pool", kernel_shape=list(kernel), strides=list(stride), pads=pads)
    b.activate(y, o.FusedActivationFunction(), op.outputs[0])


def _binary(b: _Builder, op: Operator, onnx_op: str) -> None:
    r = b.rank(op.outputs[0])
    y = b.node(onnx_op, [b.operand(op.inputs[0], r), b.operand(op.inputs[1], r)], onnx_op.lower())
    fused = op.options.FusedActivationFunction() if op.options is not None else 0
    b.activate(y, fused, op.outputs[0])


def _prelu(b: _Builder, op: Operator) -> None:
    """PReLU as ``x + (slope - 1) * Min(x, 0)``: the same values in three cheap elementwise
    ops; onnxruntime's CPU PRelu kernel with a per-channel slope is several times slower
    (measured on one thread: the iris model 3.8 ms with PRelu, 2.2 ms with this form)."""
    alpha = b.consts[op.inputs[1]].astype(np.float32)  # (1, 1, C) or (H, W, C)
    alpha = alpha.reshape((1,) * (3 - alpha.ndim) + alpha.shape).transpose(2, 0, 1)  # (C, H, W) broadcasts on NCHW
    x = b.value(op.inputs[0])
    neg = b.node("Min", [x, b.const(np.zeros((1, 1, 1), np.float32), "zero")], "neg")
    scaled = b.node("Mul", [neg, b.const(alpha - 1.0, "slope_m1")], "negpart")
    b.names[op.outputs[0]] = b.node("Add", [x, scaled], "prelu")


def _to_nhwc(b: _Builder, index: int) -> str:
    name = b.value(index)
    return b.node("Transpose", [name], "nhwc", perm=list(_NCHW_TO_NHWC)) if b.rank(index) == 4 else name


def _from_nhwc(b: _Builder, name: str, index: int) -> None:
    b.names[index] = b.node("Transpose", [name], "nchw", perm=list(_NHWC_TO_NCHW)) if b.rank(index) == 4 else name


def _reshape(b: _Builder, op: Operator) -> None:
    shape = np.array(b.g.tensors[op.outputs[0]].shape, dtype=np.int64)
    y = b.node("Reshape", [_to_nhwc(b, op.inputs[0]), b.const(shape, "shape")], "reshape")
    _from_nhwc(b, y, op.outputs[0])


def _axis(b: _Builder, index: int, axis: int) -> int:
    r = b.rank(index)
    axis = axis % r
    return _NHWC_TO_NCHW.index(axis) if r == 4 else axis


def _concat(b: _Builder, op: Operator) -> None:
    axis = _axis(b, op.outputs[0], op.options.Axis())
    y = b.node("Concat", [b.value(i) for i in op.inputs], "concat", axis=axis)
    b.activate(y, op.options.FusedActivationFunction(), op.outputs[0])


def _pad(b: _Builder, op: Operator) -> None:
    pads = b.consts[op.inputs[1]].astype(np.int64)  # (rank, 2) in NHWC order
    if b.rank(op.inputs[0]) == 4:
        pads = pads[list(_NHWC_TO_NCHW)]
    onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]])
    b.names[op.outputs[0]] = b.node("Pad", [b.value(op.inputs[0]), b.const(onnx_pads, "pads")], "pad")


def _resize(b: _Builder, op: Operator) -> None:
    o = op.options
    size = b.consts[op.inputs[1]].astype(np.int64)  # (new_h, new_w)
    n, _, _, c = b.g.tensors[op.inputs[0]].shape
    sizes = np.array([n, c, size[0], size[1]], dtype=np.int64)
    mode = "align_corners" if o.AlignCorners() else "half_pixel" if o.HalfPixelCenters() else "asymmetric"
    b.names[op.outputs[0]] = b.node("Resize", [b.value(op.inputs[0]), "", "", b.const(sizes, "sizes")], "resize",
                                    mode="linear", coordinate_transformation_mode=mode)


def _mean(b: _Builder, op: Operator) -> None:
    axes = [_axis(b, op.inputs[0], int(a)) for a in b.consts[op.inputs[1]].ravel()]
    keep = int(op.options.KeepDims())
    if not keep and b.rank(op.inputs[0]) == 4:
        raise NotImplementedError("MEAN without keep_dims on a 4-D tensor")
    b.names[op.outputs[0]] = b.node("ReduceMean", [b.value(op.inputs[0])], "mean", axes=axes, keepdims=keep)


def _unary(b: _Builder, op: Operator, onnx_op: str) -> None:
    b.names[op.outputs[0]] = b.node(onnx_op, [b.value(op.inputs[0])], onnx_op.lower())


def _emit(b: _Builder, op: Operator) -> None:
    k = op.kind
    if k in ("DEQUANTIZE", "DENSIFY"):
        src = b.consts.get(op.inputs[0])
        if src is None:
            raise NotImplementedError(f"{k} of a non-constant tensor")
        b.consts[op.outputs[0]] = src.astype(np.float32)
    elif k in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _conv(b, op, depthwise=k == "DEPTHWISE_CONV_2D")
    elif k in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        _pool(b, op, k)
    elif k in ("ADD", "MUL"):
        _binary(b, op, "Add" if k == "ADD" else "Mul")
    elif k == "PRELU":
        _prelu(b, op)
    elif k in ("RELU", "LOGISTIC", "HARD_SWISH"):
        _unary(b, op, {"RELU": "Relu", "LOGISTIC": "Sigmoid", "HARD_SWISH": "HardSwish"}[k])
    elif k == "RESHAPE":
        _reshape(b, op)
    elif k == "CONCATENATION":
        _concat(b, op)
    elif k == "PAD":
        _pad(b, op)
    elif k == "RESIZE_BILINEAR":
        _resize(b, op)
    elif k == "DEPTH_TO_SPACE":
        b.names[op.outputs[0]] = b.node("DepthToSpace", [b.value(op.inputs[0])], "d2s",
                                        blocksize=op.options.BlockSize(), mode="DCR")
    elif k == "MEAN":
        _mean(b, op)
    elif k == "CUSTOM:Convolution2DTransposeBias":
        _transpose_conv_bias(b, op)
    elif k in CUSTOM:
        CUSTOM[k](b, op)
    elif k == "STRIDED_SLICE" and b.g.tensors[op.inputs[0]].shape == b.g.tensors[op.outputs[0]].shape:
        b.names[op.outputs[0]] = b.node("Identity", [b.value(op.inputs[0])], "slice")  # a whole-tensor slice
    else:
        raise NotImplementedError(f"TFLite operator {k} is not supported by this converter")


def convert(graph: Graph, producer: str = "reenactor convert_face_models"):
    """ONNX ``ModelProto`` of a parsed TFLite graph (same I/O names, shapes and layout)."""
    from onnx import TensorProto, checker, helper

    b = _Builder(graph)
    inputs = []
    for i in graph.inputs:
        t = graph.tensors[i]
        inputs.append(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.shape)))
        b.names[i] = t.name
        if len(t.shape) == 4:
            b.names[i] = b.node("Transpose", [t.name], "in_nchw", perm=list(_NHWC_TO_NCHW))
    for op in graph.operators:
        _emit(b, op)
    outputs = []
    for i in graph.outputs:
        t = graph.tensors[i]
        src = b.value(i)
        if len(t.shape) == 4:
            b.node("Transpose", [src], "out", outputs=[t.name], perm=list(_NCHW_TO_NHWC))
        else:
            b.node("Identity", [src], "out", outputs=[t.name])
        outputs.append(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.shape)))
    onnx_graph = helper.make_graph(b.nodes, "tflite", inputs, outputs, initializer=b.inits)
    model = helper.make_model(onnx_graph, producer_name=producer, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    checker.check_model(model)
    return model
