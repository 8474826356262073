"""Fast tier: a large portrait's crop is aligned to its blocks, and the block maps
(render/blocks.py, cv2.resize) equal the general maps (cv2.warpAffine) to within
warpAffine's 1/32 pixel rounding, on every run of blocks, with and without a shift;
the first block row and column fall back to the general maps.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenactor.config import RenderConfig
from reenactor.render.blocks import BlockMaps, block_pieces
from reenactor.render.crop import CropTransform
from reenactor.render.moving import block_edges

S = 512


def _general(crop: CropTransform, d_img: np.ndarray, shift):
    """The compositor's general map: warpAffine of the displacement, plus the identity."""

    def maps(box):
        x0, y0, x1, y1 = box
        s, (ox, oy) = crop.scale, crop.offset
        m = np.array([[s, 0.0, s * x0 + ox], [0.0, s, s * y0 + oy]])
        d = cv2.warpAffine(d_img, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
        return (d[..., 0] + np.arange(x0 - shift[0], x1 - shift[0], dtype=np.float32)[None, :],
                d[..., 1] + np.arange(y0 - shift[1], y1 - shift[1], dtype=np.float32)[:, None])

    return maps


def _field(seed: int = 0) -> np.ndarray:
    """(S, S, 2) float32 displacement in image px: smooth, with kinks (piecewise-linear ridges)."""
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.standard_normal((S, S, 2)).astype(np.float32) * 60, (0, 0), 6)
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    ridge = np.maximum(0.0, 40.0 - np.abs(xx - 260) - 0.5 * np.abs(yy - 300)) * 0.2
    return (smooth + np.dstack([ridge, -ridge])).astype(np.float32)


@pytest.mark.parametrize("side, centre", [(3700.0, (2100.3, 1400.7)), (1600.0, (800.0, 911.2))])
def test_around_face_aligns_large_crops(side, centre):
    crop = CropTransform.aligned(S / side, np.array(centre), S)
    assert crop.block > 0
    assert abs(crop.scale * side / S - 1.0) <= 0.5 / (crop.block / crop.scale) + 1e-9  # at most half a pixel per block
    exact = np.array(centre)
    placed = crop.to_image(np.array([[S / 2, S / 2]]))[0]  # where the crop's centre now lies
    assert np.all(np.abs(placed - exact) <= 0.5 + S / 2 * abs(1 / crop.scale - side / S))
    with pytest.raises(ValueError, match="not aligned"):
        CropTransform(crop.scale, (crop.offset[0] + 0.3 * crop.scale, crop.offset[1]), S, crop.block)


def test_small_portraits_keep_the_exact_crop():
    lm = np.zeros((478, 3))
    lm[:, 0], lm[:, 1] = np.linspace(100, 260, 478), np.linspace(120, 300, 478)
    crop = CropTransform.around_face(lm, RenderConfig())
    assert crop.block == 0  # a footprint of at most SMALL_PICTURE is drawn as one block


@pytest.mark.parametrize("shift", [(0, 0), (713, 402)])
def test_block_maps_equal_the_general_maps(shift):
    crop = CropTransform.aligned(S / 3700.0, np.array([2100.3, 1400.7]), S)
    roi = crop.image_roi(4352, 2903)
    d_img = _field()
    general = _general(crop, d_img, shift)
    maps = BlockMaps(crop, roi, d_img, shift, general)
    xs, ys = block_edges(crop, roi)
    assert list(maps.xs) == list(xs)
    fast = boxes = 0
    for r in range(len(ys) - 1):
        for box in block_pieces((xs[0], ys[r], xs[-1], ys[r + 1]), maps.xs, 1 << 15):
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            got, want = maps(box), general(box)
            for g, w in zip(got, want):
                assert g.shape == w.shape and g.dtype == np.float32
                assert np.abs(g - w).max() < 1.0 / 32 + 1e-3
            fast += box[0] > xs[0] and box[1] > ys[0]
            boxes += 1
    assert boxes > 300 and fast > 0.8 * boxes  # most boxes took the resize path


def test_block_pieces_cut_at_block_edges():
    xs = np.array([0, 100, 228, 356, 484, 600])
    pieces = block_pieces((100, 10, 600, 30), xs, 20 * 260)
    assert pieces[0][0] == 100 and pieces[-1][2] == 600
    assert all(p[0] in xs and p[2] in xs for p in pieces)
    assert all((p[2] - p[0]) * 20 <= 20 * 260 or np.sum((xs > p[0]) & (xs < p[2])) == 0 for p in pieces)
    assert [p[2] for p in pieces[:-1]] == [p[0] for p in pieces[1:]]


def test_source_memo_is_per_array_and_read_only():
    from reenactor.render.mesh import source_memo

    calls = []
    a, b = np.arange(12.0).reshape(4, 3), np.arange(12.0).reshape(4, 3) + 1
    first = source_memo("test", a, lambda: calls.append("a") or a * 2)
    again = source_memo("test", a.copy(), lambda: calls.append("a2") or a * 2)  # same bytes: kept
    other = source_memo("test", b, lambda: calls.append("b") or b * 2)
    assert calls == ["a", "b"] and again is first and np.array_equal(other, b * 2)
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # handed out read-only: no caller can change another frame's geometry
