"""Fast tier: the picture is resampled only where it moves (render/moving.py).

A synthetic crop of a large picture and a displacement that moves a blob of
it: every image pixel whose interpolated source shift reaches STILL_SHIFT lies
in a returned box, the boxes do not overlap, stay inside the crop's footprint
and cover far less than the picture; a still frame returns no box.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenactor.render.crop import CropTransform
from reenactor.render.moving import STILL_SHIFT, moving_boxes

S = 128


def _picture(scale: float) -> tuple[CropTransform, tuple[int, int, int, int]]:
    crop = CropTransform(scale=scale, offset=(-3.3, -5.7), size=S)
    w = h = int((S + 6) / scale)
    x0, y0 = crop.to_image(np.array([[0.0, 0.0]]))[0]
    x1, y1 = crop.to_image(np.array([[float(S), float(S)]]))[0]
    roi = (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))), min(w, int(np.ceil(x1))), min(h, int(np.ceil(y1))))
    return crop, roi


def _blob(centre: tuple[float, float], radius: float, amplitude: float) -> np.ndarray:
    """(S, S, 2) float32 displacement: a smooth bump that vanishes exactly outside ``radius``."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    r = np.hypot(xx - centre[0], yy - centre[1]) / radius
    bump = np.where(r < 1.0, (1.0 - r**2) ** 2, 0.0).astype(np.float32)
    return np.dstack([amplitude * bump, -0.5 * amplitude * bump]).astype(np.float32)


def _shift_image_px(crop: CropTransform, disp: np.ndarray, roi) -> np.ndarray:
    """Per image pixel of ``roi``, the largest component of its interpolated source shift (image px)."""
    x0, y0, x1, y1 = roi
    s, (ox, oy) = crop.scale, crop.offset
    m = np.array([[s, 0.0, s * x0 + ox], [0.0, s, s * y0 + oy]])
    d = cv2.warpAffine(disp / s, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return np.abs(d).max(2)


@pytest.mark.parametrize("block", [128, 8])  # 8: blocks of 2 crop px, where a neighbour's shift crosses a block edge
@pytest.mark.parametrize("scale", [0.05, 0.08])  # footprints of 2600 and 1600 px
def test_moving_pixels_lie_in_the_boxes(scale, block, monkeypatch):
    import reenactor.render.moving as moving_module

    monkeypatch.setattr(moving_module, "BLOCK_PIXELS", block)
    crop, roi = _picture(scale)
    disp = _blob((40.0, 70.0), 18.0, 2.0)
    boxes = moving_boxes(crop, disp, roi)
    assert boxes
    covered = np.zeros((roi[3] - roi[1], roi[2] - roi[0]), np.int32)
    for x0, y0, x1, y1 in boxes:
        assert roi[0] <= x0 < x1 <= roi[2] and roi[1] <= y0 < y1 <= roi[3]
        covered[y0 - roi[1] : y1 - roi[1], x0 - roi[0] : x1 - roi[0]] += 1
    assert covered.max() == 1  # no overlap
    moving = _shift_image_px(crop, disp, roi) >= STILL_SHIFT
    assert moving.any() and not np.any(moving & (covered == 0))
    # The blob is ~8% of the crop: the boxes hold a small part of the picture.
    assert covered.mean() < 0.3


def test_a_still_frame_moves_nothing():
    crop, roi = _picture(0.1)
    assert moving_boxes(crop, np.zeros((S, S, 2), np.float32), roi) == []
    tiny = np.full((S, S, 2), 0.2 * STILL_SHIFT * crop.scale, np.float32)  # below the rounding of cv2.remap
    assert moving_boxes(crop, tiny, roi) == []


def test_a_small_picture_is_one_block():
    crop, roi = _picture(1.0)  # the crop's footprint is about S x S pixels
    boxes = moving_boxes(crop, _blob((40.0, 70.0), 10.0, 2.0), roi)
    assert boxes == [roi]
