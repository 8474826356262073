"""Rotated square regions of interest: construction, crops and back-projection.

Re-implements the geometry of mediapipe's ``DetectionsToRectsCalculator`` +
``RectTransformationCalculator`` (ROI), ``ImageToTensorCalculator`` (crop) and
``LandmarkProjectionCalculator`` (crop coordinates back to the image).

Conventions: image pixels, ``x`` right, ``y`` down, continuous coordinates in
which the image spans ``[0, width] x [0, height]``. A :class:`Roi` is a square
of side ``size`` pixels centred on ``centre`` and rotated by ``rotation``
radians (positive = clockwise on screen, i.e. the ROI's ``x`` axis points
along ``(cos r, sin r)``). A crop of side ``n`` maps the ROI's corners onto the
crop's corners: crop point ``t`` (in crop pixels, continuous) is the image point
``centre + size * R(r) @ (t / n - 0.5)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Roi:
    """A rotated square region of an image.

    Attributes:
        centre: ``(x, y)`` in image pixels.
        size: side in image pixels (> 0).
        rotation: radians in ``[-pi, pi]``.
    """

    centre: tuple[float, float]
    size: float
    rotation: float

    def axes(self) -> np.ndarray:
        """``(2, 2) float64`` rotation matrix whose columns are the ROI's x and y axes in the image."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        return np.array([[c, -s], [s, c]])


def normalize_radians(angle: float) -> float:
    """``angle`` wrapped to ``[-pi, pi)``."""
    return float(angle - 2.0 * np.pi * np.floor((angle + np.pi) / (2.0 * np.pi)))


def roi_from_box(box: np.ndarray, start: np.ndarray, end: np.ndarray, scale: float) -> Roi:
    """ROI around an axis-aligned box, rotated so that ``start -> end`` is horizontal.

    Args:
        box: ``xmin, ymin, xmax, ymax`` pixels.
        start, end: ``(2,)`` pixel points giving the rotation (e.g. the eyes).
        scale: side = ``scale * max(box width, box height)`` (mediapipe's
            ``square_long`` then ``scale_x = scale_y = scale``).

    Raises:
        ValueError: non-finite input or an empty box.
    """
    box = np.asarray(box, dtype=np.float64)
    if not np.all(np.isfinite(box)) or not np.all(np.isfinite(start)) or not np.all(np.isfinite(end)):
        raise ValueError("ROI input has non-finite coordinates")
    side = max(box[2] - box[0], box[3] - box[1]) * scale
    if side <= 0:
        raise ValueError(f"empty box {box.tolist()}")
    d = np.asarray(end, dtype=np.float64) - np.asarray(start, dtype=np.float64)
    rotation = normalize_radians(np.arctan2(d[1], d[0]))
    centre = ((box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0)
    return Roi((float(centre[0]), float(centre[1])), float(side), rotation)


def roi_from_points(points: np.ndarray, start: int, end: int, scale: float) -> Roi:
    """ROI around the bounding box of ``points`` (``(N, >=2)`` pixels), rotated by ``points[start] -> points[end]``."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    box = np.concatenate([p.min(axis=0), p.max(axis=0)])
    return roi_from_box(box, p[start], p[end], scale)


def image_to_crop_matrix(roi: Roi, n: int) -> np.ndarray:
    """``(2, 3) float64`` affine taking image pixels into an ``n x n`` crop of ``roi``."""
    r_t = roi.axes().T * (n / roi.size)
    offset = n / 2.0 - r_t @ np.asarray(roi.centre)
    return np.concatenate([r_t, offset[:, None]], axis=1)


def crop(rgb: np.ndarray, roi: Roi, n: int, border: str = "replicate", flip: bool = False) -> np.ndarray:
    """``n x n x 3 uint8`` crop of ``roi`` (bilinear, like mediapipe's OpenCV path).

    Args:
        rgb: ``HxWx3 uint8``.
        border: ``"replicate"`` (landmark and iris models) or ``"zero"``.
        flip: mirror the crop left-right after cropping (mediapipe's iris
            ``FLIP_HORIZONTALLY``: crop column ``j`` becomes ``n - 1 - j``).
    """
    if border not in ("replicate", "zero"):
        raise ValueError(f"border must be 'replicate' or 'zero', got {border!r}")
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    out = warp(rgb, image_to_crop_matrix(roi, n), n, mode)
    return np.ascontiguousarray(out[:, ::-1]) if flip else out


def warp(rgb: np.ndarray, matrix: np.ndarray, n: int, border_mode: int) -> np.ndarray:
    """``n x n`` bilinear resampling of ``rgb`` through the ``(2, 3)`` image->crop affine ``matrix``.

    Runs ``cv2.warpPerspective`` on the affine (as a 3x3), like mediapipe's
    OpenCV ``ImageToTensor`` converter: its fixed-point sampling differs from
    ``cv2.warpAffine``'s by up to a grey level, enough to move a detector
    score by 0.02 on some images; with ``warpPerspective`` the tensors match.
    """
    m3 = np.vstack([np.asarray(matrix, dtype=np.float64), [0.0, 0.0, 1.0]])
    return cv2.warpPerspective(rgb, m3, (n, n), flags=cv2.INTER_LINEAR, borderMode=border_mode, borderValue=0)


def crop_to_image(points: np.ndarray, roi: Roi, n: int, flip: bool = False) -> np.ndarray:
    """Crop coordinates back to image pixels.

    Args:
        points: ``(N, 3)`` ``x, y, z`` in crop pixels of an ``n``-pixel crop (the
            raw landmark model output); ``z`` in the same units as ``x``.
        flip: the crop was mirrored (``x -> n - x`` first, as mediapipe).

    Returns:
        ``(N, 3) float32``: ``x, y`` image pixels; ``z`` scaled like ``x``
        (``z * roi.size / n``), sign unchanged.
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    x = (n - p[:, 0]) if flip else p[:, 0]
    local = np.stack([x, p[:, 1]], axis=1) / n - 0.5
    xy = local @ roi.axes().T * roi.size + np.asarray(roi.centre)
    z = p[:, 2] * (roi.size / n)
    return np.concatenate([xy, z[:, None]], axis=1).astype(np.float32)


def image_to_crop(points: np.ndarray, roi: Roi, n: int) -> np.ndarray:
    """Image pixels ``(N, 2)`` to crop pixels of an unflipped ``n``-pixel crop (inverse of :func:`crop_to_image`)."""
    m = image_to_crop_matrix(roi, n)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return (p @ m[:, :2].T + m[:, 2]).astype(np.float32)


def rect_iou(a: Roi, b: Roi) -> float:
    """IoU of two ROIs' axis-aligned squares, rotation ignored (as mediapipe's association)."""
    ha, hb = a.size / 2.0, b.size / 2.0
    ix = min(a.centre[0] + ha, b.centre[0] + hb) - max(a.centre[0] - ha, b.centre[0] - hb)
    iy = min(a.centre[1] + ha, b.centre[1] + hb) - max(a.centre[1] - ha, b.centre[1] - hb)
    inter = max(ix, 0.0) * max(iy, 0.0)
    union = a.size**2 + b.size**2 - inter
    return inter / union if union > 0 else 0.0
