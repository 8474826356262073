"""A small visible label on an output frame: "synthetic - reenactor".

Drawn in the bottom-right corner: white text on a half-transparent dark box,
its text height about 2.5 % of the frame's shorter side (at least 9 px), so it
stays readable on a phone and small on a large frame. Only the pixels of the
box change.
"""

from __future__ import annotations

import cv2
import numpy as np

LABEL = "synthetic - reenactor"


def watermark(rgb: np.ndarray, text: str = LABEL) -> np.ndarray:
    """A copy of ``rgb`` (HxWx3 uint8 RGB) with ``text`` in its bottom-right corner.

    Raises:
        ValueError: not an HxWx3 uint8 image.
    """
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("watermark needs an HxWx3 uint8 RGB image")
    h, w = rgb.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    target = max(9.0, 0.025 * min(h, w))
    (tw, th), base = cv2.getTextSize(text, font, 1.0, 1)
    scale = target / th
    thick = max(1, int(round(scale * 1.2)))
    (tw, th), base = cv2.getTextSize(text, font, scale, thick)
    pad = max(2, int(0.4 * th))
    x1, y1 = w - pad, h - pad
    x0, y0 = max(0, x1 - tw - 2 * pad), max(0, y1 - th - base - 2 * pad)
    out = rgb.copy()
    box = out[y0:y1, x0:x1]
    box[:] = (box.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken to 40 %
    cv2.putText(out, text, (x0 + pad, y1 - pad - base), font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
