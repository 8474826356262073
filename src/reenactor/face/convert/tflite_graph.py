"""Read a TFLite flatbuffer into plain Python: tensors, constants and operators.

Only what the face models need: one subgraph, float32/float16/int32 tensors,
constant buffers (dense or sparse, densified here), builtin and custom
operators with their options. Shapes are TFLite's own (NHWC for images).

Needs the ``tflite`` package (the flatbuffer schema, ``pip install tflite``),
which only the ``convert`` extra installs; nothing here runs at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


@dataclass
class Tensor:
    """One TFLite tensor: ``shape`` as stored (NHWC for 4-D), ``data`` when constant."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: type
    data: np.ndarray | None = None


@dataclass
class Operator:
    """One operator: its builtin name (or ``CUSTOM:<code>``), tensor indices and options."""

    kind: str
    inputs: list[int]
    outputs: list[int]
    options: object | None = None
    custom: bytes = b""


@dataclass
class Graph:
    """A parsed TFLite subgraph."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    notes: list[str] = field(default_factory=list)


def _builtin_names(tflite) -> dict[int, str]:
    return {getattr(tflite.BuiltinOperator, k): k for k in dir(tflite.BuiltinOperator) if not k.startswith("_")}


def _options(tflite, op, kind: str):
    """The builtin options table of ``op`` as the matching ``tflite.*Options`` object, or None."""
    table = op.BuiltinOptions()
    if table is None:
        return None
    name = {
        "CONV_2D": "Conv2DOptions",
        "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
        "MAX_POOL_2D": "Pool2DOptions",
        "AVERAGE_POOL_2D": "Pool2DOptions",
        "ADD": "AddOptions",
        "MUL": "MulOptions",
        "CONCATENATION": "ConcatenationOptions",
        "RESIZE_BILINEAR": "ResizeBilinearOptions",
        "DEPTH_TO_SPACE": "DepthToSpaceOptions",
        "RESHAPE": "ReshapeOptions",
        "MEAN": "ReducerOptions",
        "STRIDED_SLICE": "StridedSliceOptions",
    }.get(kind)
    if name is None:
        return None
    obj = getattr(tflite, name)()
    obj.Init(table.Bytes, table.Pos)
    return obj


def _index_vector(tflite, meta, kind: str) -> np.ndarray:
    """``array_segments`` or ``array_indices`` of a sparse dimension (a union of int vectors)."""
    union_type = getattr(meta, f"Array{kind}Type")()
    table = getattr(meta, f"Array{kind}")()
    cls = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[union_type]
    vec = cls()
    vec.Init(table.Bytes, table.Pos)
    return vec.ValuesAsNumpy().astype(np.int64)


def densify(values: np.ndarray, shape: tuple[int, ...], sparsity, tflite) -> np.ndarray:
    """Dense array of a TFLite sparse constant (TACO-style dimension metadata).

    Args:
        values: (nnz,) stored values in traversal order.
        shape: the tensor's dense shape.
        sparsity: its ``tflite.SparsityParameters``.
    """
    n_orig = len(shape)
    order = sparsity.TraversalOrderAsNumpy().tolist()
    block_map = sparsity.BlockMapAsNumpy().tolist() if not sparsity.BlockMapIsNone() else []
    metas = [sparsity.DimMetadata(i) for i in range(sparsity.DimMetadataLength())]
    levels = []  # per traversal level: ("dense", size) or ("sparse", segments, indices)
    for meta in metas:
        if meta.Format() == 0:
            levels.append(("dense", meta.DenseSize()))
        else:
            levels.append(("sparse", _index_vector(tflite, meta, "Segments"), _index_vector(tflite, meta, "Indices")))
    block_size = {order[lvl] - n_orig: levels[lvl][1] for lvl in range(len(order)) if order[lvl] >= n_orig}
    out = np.zeros(shape, dtype=values.dtype)
    expanded = [0] * len(order)
    cursor = [0]

    def write() -> None:
        orig = list(expanded[:n_orig])
        for b, dim in enumerate(block_map):
            orig[dim] = expanded[dim] * block_size[b] + expanded[n_orig + b]
        out[tuple(orig)] = values[cursor[0]]
        cursor[0] += 1

    def visit(level: int, parent: int) -> None:
        if level == len(order):
            write()
            return
        spec = levels[level]
        if spec[0] == "dense":
            for i in range(spec[1]):
                expanded[order[level]] = i
                visit(level + 1, parent * spec[1] + i)
        else:
            segments, indices = spec[1], spec[2]
            for j in range(segments[parent], segments[parent + 1]):
                expanded[order[level]] = int(indices[j])
                visit(level + 1, j)

    visit(0, 0)
    if cursor[0] != len(values):
        raise ValueError(f"densify used {cursor[0]} of {len(values)} stored values")
    return out


def read_tflite(path: str) -> Graph:
    """Parse a ``.tflite`` file (first subgraph only)."""
    import tflite

    buf = open(path, "rb").read()
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise ValueError(f"{path}: expected one subgraph, found {model.SubgraphsLength()}")
    g = model.Subgraphs(0)
    names = _builtin_names(tflite)
    tensors = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        dtype = _DTYPES.get(t.Type())
        if dtype is None:
            raise ValueError(f"{path}: tensor {t.Name().decode()} has unsupported type {t.Type()}")
        shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        data = None
        raw = model.Buffers(t.Buffer()).DataAsNumpy() if t.Buffer() > 0 else 0
        if not isinstance(raw, int) and raw.size:
            values = np.frombuffer(raw.tobytes(), dtype=dtype)
            sparsity = t.Sparsity()
            data = densify(values, shape, sparsity, tflite) if sparsity is not None else values.reshape(shape)
        tensors.append(Tensor(i, t.Name().decode(), shape, dtype, data))
    ops = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        custom = b""
        if kind == "CUSTOM":
            kind = "CUSTOM:" + code.CustomCode().decode()
            custom = op.CustomOptionsAsNumpy().tobytes() if op.CustomOptionsLength() else b""
        ops.append(
            Operator(kind, op.InputsAsNumpy().tolist(), op.OutputsAsNumpy().tolist(), _options(tflite, op, kind), custom)
        )
    inputs = [int(x) for x in g.InputsAsNumpy()]
    outputs = [int(x) for x in g.OutputsAsNumpy()]
    return Graph(tensors, ops, inputs, outputs, description=(model.Description() or b"").decode())
