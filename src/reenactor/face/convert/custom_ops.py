"""ONNX equivalents of mediapipe's custom TFLite operators in the attention face model.

``face_landmark_with_attention.tflite`` (Face Mesh with ``refine_landmarks``)
crops 16x16 patches of a 48x48 feature map around the lips and each eye, and
maps the refined points back. Three custom operators do that (version 2 of
each, as registered by mediapipe 0.10.21); here each becomes a few standard
ONNX operators:

* ``Landmarks2TransformMatrix``: from (1, 468, 3) landmarks, a (1, 4, 4)
  row-major matrix taking output-patch pixel coordinates to input coordinates:
  translate to the centre of the subset's box (measured in a frame rotated so
  the two rotation landmarks lie level), rotate back, scale by
  ``scale * box size / output size``, shift by half the output size.
* ``TransformTensorBilinear``: samples the NHWC input at ``M @ (x + 0.5,
  y + 0.5) - 0.5`` for each output pixel, bilinearly, zero outside the input
  (``GridSample`` with ``align_corners=1`` and zero padding, times an
  in-bounds mask, because mediapipe zeroes a sample whose point falls outside
  even when a neighbour is inside).
* ``TransformLandmarks``: (1, K, 2) points mapped by the matrix's upper 2x4.

Options are flexbuffers; they are decoded with ``flatbuffers.flexbuffers``.
"""

from __future__ import annotations

import numpy as np

_NHWC_TO_NCHW = (0, 3, 1, 2)


def _options(op) -> dict:
    if not op.custom:
        return {}
    from flatbuffers import flexbuffers

    return flexbuffers.Loads(op.custom)


def _scalar_pick(b, vec: str, i: int) -> str:
    """Element ``i`` of a 1-D tensor as a (1,) tensor."""
    return b.node("Gather", [vec, b.const(np.array([i], dtype=np.int64), "idx")], "pick", axis=0)


def landmarks_to_matrix(b, op) -> None:
    """Emit ``Landmarks2TransformMatrix`` (v2)."""
    o = _options(op)
    subset = np.asarray(o["subset_idxs"], dtype=np.int64)
    pts = b.node("Reshape", [b.value(op.inputs[0]), b.const(np.array([-1, 3], dtype=np.int64), "shape")], "pts")
    xy = b.node("Slice", [pts, b.const(np.array([0]), "s"), b.const(np.array([2]), "e"), b.const(np.array([1]), "a")], "xy")
    ends = b.node("Gather", [xy, b.const(np.array([o["left_rotation_idx"], o["right_rotation_idx"]]), "lr")], "ends", axis=0)
    d = b.node("Sub", [_row(b, ends, 1), _row(b, ends, 0)], "d")  # (2,) right - left
    norm = b.node("Sqrt", [b.node("ReduceSum", [b.node("Mul", [d, d], "d2")], "n2", keepdims=1)], "norm")
    unit = b.node("Div", [d, norm], "unit")  # (cos a, sin a) of the line's angle a
    ca, sa = _scalar_pick(b, unit, 0), _scalar_pick(b, unit, 1)
    t = float(o.get("target_rotation_radians", 0.0))
    ct, st = b.const(np.array([np.cos(t)], np.float32)), b.const(np.array([np.sin(t)], np.float32))
    # r = t - a
    c = b.node("Add", [b.node("Mul", [ct, ca], "m"), b.node("Mul", [st, sa], "m")], "cos_r")
    s = b.node("Sub", [b.node("Mul", [st, ca], "m"), b.node("Mul", [ct, sa], "m")], "sin_r")
    sub = b.node("Gather", [xy, b.const(subset, "subset")], "sub", axis=0)  # (K, 2)
    px, py = _col(b, sub, 0), _col(b, sub, 1)
    qx = b.node("Sub", [b.node("Mul", [c, px], "m"), b.node("Mul", [s, py], "m")], "qx")
    qy = b.node("Add", [b.node("Mul", [s, px], "m"), b.node("Mul", [c, py], "m")], "qy")
    lo_x, hi_x = b.node("ReduceMin", [qx], "lo", keepdims=0), b.node("ReduceMax", [qx], "hi", keepdims=0)
    lo_y, hi_y = b.node("ReduceMin", [qy], "lo", keepdims=0), b.node("ReduceMax", [qy], "hi", keepdims=0)
    half = b.const(np.array([0.5], np.float32))
    mx = b.node("Mul", [b.node("Add", [lo_x, hi_x], "sum"), half], "mx")
    my = b.node("Mul", [b.node("Add", [lo_y, hi_y], "sum"), half], "my")
    ow, oh = float(o["output_width"]), float(o["output_height"])
    sx = b.node("Mul", [b.node("Sub", [hi_x, lo_x], "w"), b.const(np.array([o["scale_x"] / ow], np.float32))], "sx")
    sy = b.node("Mul", [b.node("Sub", [hi_y, lo_y], "h"), b.const(np.array([o["scale_y"] / oh], np.float32))], "sy")
    neg_s = b.node("Neg", [s], "neg_s")
    # centre = R(-r) @ m; linear part = R(-r) @ diag(sx, sy)
    cx = b.node("Add", [b.node("Mul", [c, mx], "m"), b.node("Mul", [s, my], "m")], "cx")
    cy = b.node("Add", [b.node("Mul", [neg_s, mx], "m"), b.node("Mul", [c, my], "m")], "cy")
    a00, a01 = b.node("Mul", [c, sx], "a00"), b.node("Mul", [s, sy], "a01")
    a10, a11 = b.node("Mul", [neg_s, sx], "a10"), b.node("Mul", [c, sy], "a11")
    hw, hh = b.const(np.array([-ow / 2], np.float32)), b.const(np.array([-oh / 2], np.float32))
    tx = b.node("Add", [cx, b.node("Add", [b.node("Mul", [a00, hw], "m"), b.node("Mul", [a01, hh], "m")], "t")], "tx")
    ty = b.node("Add", [cy, b.node("Add", [b.node("Mul", [a10, hw], "m"), b.node("Mul", [a11, hh], "m")], "t")], "ty")
    zero, one = b.const(np.zeros(1, np.float32)), b.const(np.ones(1, np.float32))
    entries = [a00, a01, zero, tx, a10, a11, zero, ty, zero, zero, one, zero, zero, zero, zero, one]
    flat = b.node("Concat", entries, "m16", axis=0)
    b.names[op.outputs[0]] = b.node("Reshape", [flat, b.const(np.array([1, 4, 4], dtype=np.int64), "shape")], "mat")


def _row(b, mat: str, i: int) -> str:
    """Row ``i`` of a 2-D tensor as a 1-D tensor."""
    return b.node("Gather", [mat, b.const(np.array(i, dtype=np.int64), "idx")], "row", axis=0)


def _col(b, mat: str, i: int) -> str:
    """Column ``i`` of a 2-D tensor as a 1-D tensor."""
    return b.node("Gather", [mat, b.const(np.array(i, dtype=np.int64), "idx")], "col", axis=1)


def _affine_2x3(b, matrix: str) -> str:
    """The (2, 3) affine part [[m00, m01, m03], [m10, m11, m13]] of a (1, 4, 4) matrix."""
    m = b.node("Reshape", [matrix, b.const(np.array([4, 4], dtype=np.int64), "shape")], "m44")
    rows = b.node("Gather", [m, b.const(np.array([0, 1], dtype=np.int64), "idx")], "rows", axis=0)
    return b.node("Gather", [rows, b.const(np.array([0, 1, 3], dtype=np.int64), "idx")], "aff", axis=1)


def transform_tensor_bilinear(b, op) -> None:
    """Emit ``TransformTensorBilinear`` (v2) on an NCHW activation."""
    o = _options(op)
    oh, ow = int(o["output_height"]), int(o["output_width"])
    _, h, w, _ = b.g.tensors[op.inputs[0]].shape
    ys, xs = np.mgrid[0:oh, 0:ow].astype(np.float32)
    homog = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.ones(oh * ow, np.float32)], axis=1)  # (N, 3)
    aff = _affine_2x3(b, b.value(op.inputs[1]))
    tc = b.node("Sub", [b.node("MatMul", [b.const(homog, "grid"), b.node("Transpose", [aff], "affT")], "tc"),
                        b.const(np.float32(0.5))], "tc")  # (N, 2) input pixel coordinates (x, y)
    lo = b.const(np.zeros(2, np.float32))
    hi = b.const(np.array([w - 1, h - 1], np.float32))
    inside = b.node("And", [b.node("GreaterOrEqual", [tc, lo], "ge"), b.node("LessOrEqual", [tc, hi], "le")], "in")
    inside = b.node("ReduceMin", [b.node("Cast", [inside], "f", to=1)], "all", axes=[1], keepdims=0)  # (N,) 0 or 1
    norm = b.node("Sub", [b.node("Mul", [tc, b.const(np.array([2 / (w - 1), 2 / (h - 1)], np.float32))], "n"),
                          b.const(np.float32(1.0))], "norm")
    grid = b.node("Reshape", [norm, b.const(np.array([1, oh, ow, 2], dtype=np.int64), "shape")], "gridr")
    sampled = b.node("GridSample", [b.value(op.inputs[0]), grid], "sample", align_corners=1, mode="bilinear",
                     padding_mode="zeros")
    mask = b.node("Reshape", [inside, b.const(np.array([1, 1, oh, ow], dtype=np.int64), "shape")], "mask4")
    b.names[op.outputs[0]] = b.node("Mul", [sampled, mask], "patch")


def transform_landmarks(b, op) -> None:
    """Emit ``TransformLandmarks`` (v2) for (1, K, 2) points."""
    if b.g.tensors[op.inputs[0]].shape[-1] != 2:
        raise NotImplementedError("TransformLandmarks on 3-D points")
    aff = _affine_2x3(b, b.value(op.inputs[1]))  # (2, 3)
    lin = b.node("Gather", [aff, b.const(np.array([0, 1], dtype=np.int64), "idx")], "lin", axis=1)
    shift = b.node("Gather", [aff, b.const(np.array(2, dtype=np.int64), "idx")], "shift", axis=1)
    moved = b.node("MatMul", [b.value(op.inputs[0]), b.node("Transpose", [lin], "linT")], "moved")
    b.names[op.outputs[0]] = b.node("Add", [moved, shift], "landmarks")


CUSTOM = {
    "CUSTOM:Landmarks2TransformMatrix": landmarks_to_matrix,
    "CUSTOM:TransformTensorBilinear": transform_tensor_bilinear,
    "CUSTOM:TransformLandmarks": transform_landmarks,
}


def refinement_map(graph) -> dict[str, list[int]]:
    """For each graph output made by ``TransformLandmarks``: the landmark subset of its crop.

    In the attention model the refined lips and eye contours are, point for
    point, the mesh landmarks whose box defines the crop they were refined in
    (the ``subset_idxs`` of the ``Landmarks2TransformMatrix`` feeding the
    matrix), so the subset is also where the refined points go in the
    478-point layout. Iris outputs (5 points) map to the subset of their eye.
    """
    producer = {o: op for op in graph.operators for o in op.outputs}

    def upstream(index: int, kind: str):
        """The nearest ``kind`` operator up the chain of first inputs from tensor ``index``."""
        op = producer.get(index)
        while op is not None and op.kind != kind:
            op = producer.get(op.inputs[0])
        return op

    out: dict[str, list[int]] = {}
    for index in graph.outputs:
        transform = upstream(index, "CUSTOM:TransformLandmarks")
        op = upstream(transform.inputs[1], "CUSTOM:Landmarks2TransformMatrix") if transform else None
        if op is not None:
            out[graph.tensors[index].name] = [int(i) for i in _options(op)["subset_idxs"]]
    return out
