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


def _cover():
    """A 200x160 layer region at (30, 20): background (alpha 0) left of x=60, a soft edge to x=80, opaque beyond."""
    from reenactor.render.moving import LayerCover

    h, w = 160, 200
    alpha = np.zeros((h, w), np.uint8)
    alpha[:, 60:80] = 128
    alpha[:, 80:] = 255
    plate = np.full((h, w, 3), 90, np.uint8)
    picture = plate.copy()
    picture[:, 60:] = 200
    picture[140:150, 10:14] = 30  # a background pixel the plate does not reproduce
    return LayerCover(alpha, plate, picture, at=(30, 20))


def test_layer_cover_kinds():
    from reenactor.render.moving import MIXED, OPAQUE, STILL

    cover = _cover()
    ax, ay = 30, 20

    def kind(box, src):
        b = np.array([[box[0] + ax, box[1] + ay, box[2] + ax, box[3] + ay]])
        s = np.array([[src[0] + ax, src[1] + ay, src[2] + ax, src[3] + ay]], float)
        return int(cover.kinds(b, s)[0])

    assert kind((0, 0, 40, 40), (0, 0, 45, 45)) == STILL  # background sampling background
    assert kind((0, 0, 40, 40), (0, 0, 62, 45)) == MIXED  # its sources reach the soft edge
    assert kind((0, 130, 16, 156), (0, 130, 16, 156)) == MIXED  # the plate differs from the picture there
    assert kind((100, 0, 150, 40), (90, 0, 160, 40)) == OPAQUE  # inside the person
    assert kind((100, 0, 150, 40), (70, 0, 160, 40)) == MIXED
    # Sources past the region's right edge reflect back into the opaque part; past the left edge
    # they reflect into the background, but the person's soft edge is not among them.
    assert kind((180, 0, 200, 40), (170, 0, 215, 40)) == OPAQUE
    assert kind((0, 0, 20, 40), (-25, 0, 20, 40)) == STILL
    assert kind((0, 0, 20, 40), (-70, 0, 20, 40)) == MIXED  # reflected up to x=70


def test_layers_draw_the_same_with_and_without_the_cover(astronaut, monkeypatch):
    """Skipping still blocks and drawing opaque ones without the plate changes no pixel beyond
    rounding (a band's displacement is resampled from a different corner, 1/1024 px)."""
    import reenactor.render.compositor as compositor
    import reenactor.render.moving as moving_module
    from reenactor.api import Reenactor
    from reenactor.motion.templates import template

    monkeypatch.setattr(moving_module, "SMALL_PICTURE", 1 << 18)  # the crop's footprint is 1.1 MP: blocks of 64 px
    monkeypatch.setattr(moving_module, "BLOCK_PIXELS", 64)
    big = cv2.resize(astronaut, (1600, 1600), interpolation=cv2.INTER_CUBIC)
    r = Reenactor()
    prepared = r.prepare(big)
    params = template("shake", 25.0)
    frames = {}
    real = compositor.moving_runs
    kinds = []

    def spy(crop, disp, roi, cover=None):
        runs = real(crop, disp, roi, cover)
        kinds.extend(k for _, k in runs)
        return runs

    for name, runs in (("cover", spy), ("plain", lambda crop, disp, roi, cover=None: real(crop, disp, roi, None))):
        monkeypatch.setattr(compositor, "moving_runs", runs)
        frames[name] = list(r.animate_params(prepared, [params[6], params[18]]))
    assert {"opaque", "mixed"} <= set(kinds)
    for a, b in zip(frames["cover"], frames["plain"], strict=True):
        d = np.abs(a.astype(np.int16) - b).max(axis=2)
        assert np.mean(d > 2) < 1e-4 and d.max() <= 24
