"""Small, deterministic image helpers used by the evaluation suite.

Conventions used throughout :mod:`reenactor.eval`:

* images are ``HxWx3`` ``uint8`` arrays in **RGB** order, values 0..255;
* points are ``float64`` pixel coordinates **(x, y)**, x to the right, y down,
  origin at the centre of the top-left pixel (OpenCV's convention);
* boxes are ``(x0, y0, x1, y1)`` in the same pixel coordinates, half-open.

Frames of different aspect ratios are only ever compared after
*letterboxing* (uniform scale + padding), never after stretching.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.errors import InputError


def check_rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    """Validate an RGB frame and return it as a C-contiguous array.

    Args:
        image: ``HxWx3`` ``uint8`` RGB array (H, W >= 1).
        name: what to call the array in the error message.

    Returns:
        The same pixels, C-contiguous, ``HxWx3`` ``uint8``.

    Raises:
        InputError: wrong type, dtype, rank or channel count.
    """
    if not isinstance(image, np.ndarray):
        raise InputError(f"{name}: expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(f"{name}: expected dtype uint8, got {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{name}: expected an HxWx3 RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)


@dataclass(frozen=True)
class Letterbox:
    """Placement of a source image inside a letterboxed canvas.

    A source pixel centre ``(x, y)`` lands at
    ``((x + 0.5) * scale - 0.5 + dx, (y + 0.5) * scale - 0.5 + dy)`` on the
    canvas (pixel xy, pixel-centre convention).
    """

    scale: float
    dx: float
    dy: float
    size: tuple[int, int]  # canvas (width, height)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Map ``(N, 2)`` source pixel xy points to canvas pixel xy (``float64``)."""
        pts = np.asarray(points, dtype=np.float64)
        return (pts + 0.5) * self.scale - 0.5 + np.array([self.dx, self.dy])


def letterbox(
    image: np.ndarray, size: tuple[int, int], fill: int = 0
) -> tuple[np.ndarray, Letterbox]:
    """Fit ``image`` into a ``size`` canvas without changing its aspect ratio.

    Args:
        image: ``HxWx3`` ``uint8`` RGB.
        size: canvas ``(width, height)`` in pixels.
        fill: grey level (0..255) of the padding bars.

    Returns:
        ``(canvas, placement)``: canvas is ``height x width x 3`` ``uint8`` RGB;
        ``placement`` maps source pixel xy to canvas pixel xy.
    """
    image = check_rgb(image)
    out_w, out_h = int(size[0]), int(size[1])
    if out_w < 1 or out_h < 1:
        raise InputError(f"letterbox size must be positive, got {size}")
    h, w = image.shape[:2]
    scale = min(out_w / w, out_h / h)
    new_w = max(1, min(out_w, int(round(w * scale))))
    new_h = max(1, min(out_h, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    canvas = np.full((out_h, out_w, 3), fill, dtype=np.uint8)
    x0 = (out_w - new_w) // 2
    y0 = (out_h - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    placement = Letterbox(scale=new_w / w, dx=float(x0), dy=float(y0), size=(out_w, out_h))
    return canvas, placement


def square_box_around(points: np.ndarray, scale: float = 1.6) -> tuple[float, float, float]:
    """Square box centred on a point cloud's bounding box.

    Args:
        points: ``(N, 2)`` pixel xy, ``N >= 1``.
        scale: box side divided by the larger side of the points' bounding box.

    Returns:
        ``(cx, cy, side)`` in pixels (floats).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.shape[0] == 0:
        raise InputError("square_box_around: no points")
    lo = pts.min(axis=0)
    hi = pts.max(axis=0)
    cx, cy = (lo + hi) / 2.0
    side = max(float((hi - lo).max()) * scale, 8.0)
    return float(cx), float(cy), side


def fit_box(box: tuple[float, float, float], width: int, height: int) -> tuple[float, float, float]:
    """Move a square ``(cx, cy, side)`` box inside a ``width x height`` image.

    The side shrinks to ``min(width, height)`` when larger; the centre then
    shifts the least needed to keep the box within the image. Pixel xy.
    """
    cx, cy, side = box
    side = min(float(side), float(min(width, height)))
    half = side / 2.0
    cx = min(max(cx, half - 0.5), width - 0.5 - half)
    cy = min(max(cy, half - 0.5), height - 0.5 - half)
    return float(cx), float(cy), side


def crop_square(image: np.ndarray, box: tuple[float, float, float], size: int = 256) -> np.ndarray:
    """Crop a square ``(cx, cy, side)`` region and resample it to ``size x size``.

    Parts of the box outside the image are filled with black, so the crop never
    shifts or stretches the content. Resampling is bilinear (area-averaged via
    an anti-aliasing blur when shrinking by more than 2x).

    Args:
        image: ``HxWx3`` ``uint8`` RGB.
        box: ``(cx, cy, side)`` in pixel xy.
        size: output side in pixels.

    Returns:
        ``size x size x 3`` ``uint8`` RGB.
    """
    image = check_rgb(image)
    cx, cy, side = box
    s = size / side
    src = image
    if s < 0.5:  # anti-alias before a strong shrink
        sigma = 0.5 / s * 0.5
        src = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)
    # Pixel-centre convention: the box centre lands on the crop centre
    # (size/2 - 0.5), i.e. x' = s * (x - (cx - side/2)) - 0.5.
    x0 = cx - side / 2.0
    y0 = cy - side / 2.0
    m = np.array([[s, 0.0, -s * x0 - 0.5], [0.0, s, -s * y0 - 0.5]])
    return cv2.warpAffine(
        src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def crop_points(points: np.ndarray, box: tuple[float, float, float], size: int = 256) -> np.ndarray:
    """Map ``(N, 2)`` full-frame pixel xy to the pixel xy of :func:`crop_square`'s output."""
    cx, cy, side = box
    s = size / side
    pts = np.asarray(points, dtype=np.float64)
    return (pts - np.array([cx - side / 2.0, cy - side / 2.0])) * s - 0.5


def match_size(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bring ``frame`` to ``size`` = (width, height) for pixel-wise comparison.

    A frame that is at most 2 pixels smaller or larger in each dimension (the
    pipeline rounds its output down to even sizes) is edge-padded or trimmed at
    the right/bottom, which keeps every pixel at its coordinates. Any other
    size mismatch is letterboxed (never stretched).

    Args:
        frame: ``hxwx3`` ``uint8`` RGB.
        size: target ``(width, height)``.

    Returns:
        ``height x width x 3`` ``uint8`` RGB.
    """
    frame = check_rgb(frame)
    w, h = int(size[0]), int(size[1])
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    if abs(fw - w) <= 2 and abs(fh - h) <= 2:
        out = frame[: min(fh, h), : min(fw, w)]
        pad_y = h - out.shape[0]
        pad_x = w - out.shape[1]
        if pad_x or pad_y:
            out = np.pad(out, ((0, pad_y), (0, pad_x), (0, 0)), mode="edge")
        return np.ascontiguousarray(out)
    return letterbox(frame, (w, h))[0]
