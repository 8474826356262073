"""BlazeFace face detection (mediapipe's short- and full-range models) in numpy.

Everything around the network is reimplemented here so that the boxes match
mediapipe 0.10.21's ``FaceDetectionShortRangeCpu`` / ``FaceDetectionFullRangeCpu``
graphs (read from the expanded graph config of the installed package):

* input: the whole image letterboxed (aspect ratio kept, centred, zero border)
  into a square ``size x size`` RGB tensor, values in ``[-1, 1]`` (the black
  border becomes ``-1``), NHWC float32;
* SSD anchors (``SsdAnchorsCalculator``), all of size 1 (``fixed_anchor_size``);
* decoding (``TensorsToDetectionsCalculator``): ``reverse_output_order`` box
  ``(x_centre, y_centre, w, h)`` then 6 keypoints ``(x, y)``, all divided by
  the input size and offset by the anchor centre; score = sigmoid of the logit
  clipped to ``[-100, 100]``;
* weighted non-maximum suppression, IoU threshold 0.3;
* projection from the letterboxed tensor back to image pixels.

Coordinates returned are image pixels: ``x`` to the right, ``y`` down, in the
continuous convention where the image spans ``[0, width] x [0, height]``
(mediapipe's normalised coordinate times the image size).

The network is any callable ``run(batch) -> {output name: array}`` taking a
``(1, size, size, 3) float32`` batch (see :data:`Runner`); outputs are picked by
their last dimension (16 = regressors, 1 = scores), so the ``.tflite`` names
(``regressors``/``classificators`` or ``Identity``/``Identity_1``) and their
ONNX twins all work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from reenactor.face.roi import warp

#: A network: NHWC float32 batch in, ``{output name: array}`` out.
Runner = Callable[[np.ndarray], "dict[str, np.ndarray]"]

#: Keypoint order of BlazeFace detections (subject's point of view: the
#: subject's right eye is on the image's left).
KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear_tragion", "left_ear_tragion")
NUM_KEYPOINTS = 6
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS
SCORE_CLIP = 100.0
NMS_IOU = 0.3


@dataclass(frozen=True)
class DetectorSpec:
    """Anchor and decoding options of one BlazeFace model (mediapipe's values).

    Attributes:
        name: weight registry name (ONNX stem).
        size: square input side in pixels.
        strides: one per SSD layer.
        interpolated_scale_aspect_ratio: 0 disables the extra anchor per location.
        min_scale, max_scale: SSD scale range (only used to count anchors here,
            since every anchor has size 1).
        num_anchors: expected anchor count (checked).
        min_score: mediapipe's score threshold for this model (0.5 short
            range; 0.6 full range, fixed in its graph: ``FaceDetection``'s
            ``min_detection_confidence`` does not reach it).
    """

    name: str
    size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_anchors: int
    min_score: float
    min_scale: float = 0.1484375
    max_scale: float = 0.75


SHORT_RANGE = DetectorSpec("face_detection_short_range", 128, (8, 16, 16, 16), 1.0, 896, 0.5)
FULL_RANGE = DetectorSpec("face_detection_full_range", 192, (4,), 0.0, 2304, 0.6)


@dataclass(frozen=True)
class Detection:
    """One face found by the detector.

    Attributes:
        box: ``(4,) float32`` ``xmin, ymin, xmax, ymax`` in image pixels.
        keypoints: ``(6, 2) float32`` pixels, order :data:`KEYPOINT_NAMES`.
        score: sigmoid score in ``[0, 1]``.
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float


def ssd_anchors(spec: DetectorSpec) -> np.ndarray:
    """Anchor centres of ``spec``, ``(N, 2) float32`` ``(x, y)`` in ``[0, 1]``.

    Follows ``SsdAnchorsCalculator``: consecutive layers with the same stride
    share one feature map; each location carries one anchor per aspect ratio
    (here only 1.0) plus one interpolated-scale anchor when enabled, per layer.
    Order: layer groups, then rows, columns, anchors at a location.
    """
    centres = []
    layer = 0
    strides = spec.strides
    while layer < len(strides):
        per_location = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_location += 1 + (1 if spec.interpolated_scale_aspect_ratio > 0 else 0)
            last += 1
        side = int(np.ceil(spec.size / strides[layer]))
        grid = (np.arange(side, dtype=np.float64) + 0.5) / side
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell, per_location, axis=0))
        layer = last
    anchors = np.concatenate(centres).astype(np.float32)
    if len(anchors) != spec.num_anchors:
        raise ValueError(f"{spec.name}: computed {len(anchors)} anchors, expected {spec.num_anchors}")
    return anchors


def decode_boxes(raw: np.ndarray, anchors: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw regressors to boxes and keypoints, normalised to the input tensor.

    Args:
        raw: ``(N, 16)`` regressor rows ``(xc, yc, w, h, kx0, ky0, ..., kx5, ky5)``
            in input pixels relative to the anchor centre.
        anchors: ``(N, 2)`` anchor centres in ``[0, 1]``.
        size: model input side (the x/y/w/h scale).

    Returns:
        ``boxes (N, 4)`` ``xmin, ymin, xmax, ymax`` and ``keypoints (N, 6, 2)``,
        float32, in tensor-normalised units (``[0, 1]`` spans the tensor).
    """
    raw = np.asarray(raw, dtype=np.float32).reshape(-1, NUM_COORDS)
    if anchors.shape != (len(raw), 2):
        raise ValueError(f"anchors {anchors.shape} do not match {len(raw)} regressor rows")
    centre = raw[:, 0:2] / size + anchors
    half = raw[:, 2:4] / size / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2) / size + anchors[:, None, :]
    return boxes.astype(np.float32), keypoints.astype(np.float32)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    """Score logits ``(N,)`` or ``(N, 1)`` to ``(N,) float32`` probabilities (clipped to +-100 first)."""
    x = np.clip(np.asarray(logits, dtype=np.float64).reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with ``(N, 4)`` boxes, ``xmin, ymin, xmax, ymax``; 0 when disjoint."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mediapipe's weighted non-maximum suppression.

    Repeatedly takes the best remaining detection and every remaining one whose
    IoU with it exceeds ``iou_threshold`` (itself included); the output box and
    keypoints are their score-weighted mean, the score that of the best one.

    Args:
        boxes: ``(N, 4)``; keypoints: ``(N, K, 2)``; scores: ``(N,)``.

    Returns:
        ``(boxes, keypoints, scores)`` of the kept detections, best first.
    """
    if not (len(boxes) == len(keypoints) == len(scores)):
        raise ValueError("boxes, keypoints and scores must have the same length")
    remaining = np.argsort(-np.asarray(scores), kind="stable")
    out_b, out_k, out_s = [], [], []
    while remaining.size:
        best = remaining[0]
        overlap = iou(boxes[best], boxes[remaining]) > iou_threshold
        overlap[0] = True
        group = remaining[overlap]
        w = scores[group].astype(np.float64)
        out_b.append((boxes[group] * w[:, None]).sum(0) / w.sum())
        out_k.append((keypoints[group] * w[:, None, None]).sum(0) / w.sum())
        out_s.append(scores[best])
        remaining = remaining[~overlap]
    k_shape = (-1,) + tuple(keypoints.shape[1:])
    return (
        np.asarray(out_b, dtype=np.float32).reshape(-1, 4),
        np.asarray(out_k, dtype=np.float32).reshape(k_shape),
        np.asarray(out_s, dtype=np.float32),
    )


def letterbox_matrix(height: int, width: int, size: int) -> np.ndarray:
    """``(2, 3) float64`` affine from image pixels to the letterboxed ``size`` tensor.

    The image is centred in a square of side ``max(height, width)`` which is
    scaled to ``size``; like mediapipe, the square's corners map to the
    tensor's corners (continuous coordinates).
    """
    side = float(max(height, width))
    s = size / side
    return np.array([[s, 0.0, (side - width) / 2.0 * s], [0.0, s, (side - height) / 2.0 * s]])


def _pick(outputs: dict, last_dim: int, what: str) -> np.ndarray:
    found = [v for v in outputs.values() if np.asarray(v).shape[-1] == last_dim]
    if len(found) != 1:
        shapes = {k: np.asarray(v).shape for k, v in outputs.items()}
        raise ValueError(f"cannot find the {what} output (last dim {last_dim}) among {shapes}")
    return np.asarray(found[0])


def check_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate an ``HxWx3 uint8`` RGB image (each side >= 2); return it C-contiguous."""
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        got = getattr(rgb, "shape", type(rgb)), getattr(rgb, "dtype", "")
        raise ValueError(f"expected an HxWx3 uint8 RGB image, got {got}")
    if min(rgb.shape[:2]) < 2:
        raise ValueError(f"image too small: {rgb.shape}")
    return np.ascontiguousarray(rgb)


class FaceDetector:
    """BlazeFace detector with mediapipe's pre- and post-processing.

    Args:
        run: the network (see :data:`Runner`).
        spec: :data:`SHORT_RANGE` (faces within ~2 m, 128 px input; the one
            Face Mesh uses) or :data:`FULL_RANGE` (192 px input).
        min_score: detection score threshold in ``(0, 1)``; default the
            spec's (Face Mesh passes its ``min_detection_confidence``).
    """

    def __init__(self, run: Runner, spec: DetectorSpec = SHORT_RANGE, min_score: float | None = None):
        min_score = spec.min_score if min_score is None else min_score
        if not 0.0 < min_score < 1.0:
            raise ValueError(f"min_score must be in (0, 1), got {min_score}")
        self.run = run
        self.spec = spec
        self.min_score = float(min_score)
        self.anchors = ssd_anchors(spec)

    def input_tensor(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Letterboxed ``(1, size, size, 3) float32`` tensor in ``[-1, 1]`` and its image->tensor matrix."""
        rgb = check_rgb(rgb)
        size = self.spec.size
        m = letterbox_matrix(rgb.shape[0], rgb.shape[1], size)
        crop = warp(rgb, m, size, cv2.BORDER_CONSTANT)
        tensor = crop.astype(np.float32) * (2.0 / 255.0) - 1.0
        return tensor[None], m

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in an ``HxWx3 uint8`` RGB image, best score first.

        Raises:
            ValueError: not an RGB uint8 image, or the network's outputs do not
                have the expected shapes.
        """
        tensor, m = self.input_tensor(rgb)
        outputs = self.run(tensor)
        raw = _pick(outputs, NUM_COORDS, "regressors").reshape(-1, NUM_COORDS)
        logits = _pick(outputs, 1, "scores").reshape(-1)
        if len(raw) != len(self.anchors) or len(logits) != len(self.anchors):
            raise ValueError(f"{self.spec.name}: expected {len(self.anchors)} boxes, got {len(raw)} and {len(logits)}")
        scores = sigmoid_scores(logits)
        keep = scores >= self.min_score
        if not keep.any():
            return []
        boxes, kps = decode_boxes(raw[keep], self.anchors[keep], self.spec.size)
        boxes, kps, scores = weighted_nms(boxes, kps, scores[keep])
        # tensor-normalised -> tensor pixels -> image pixels (inverse letterbox).
        scale, offset = m[0, 0], m[:, 2]
        size = self.spec.size
        boxes = (boxes * size - np.tile(offset, 2)) / scale
        kps = (kps * size - offset) / scale
        return [Detection(b.astype(np.float32), k.astype(np.float32), float(s)) for b, k, s in zip(boxes, kps, scores)]
