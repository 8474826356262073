"""Resampling maps of a large picture's blocks, upsampled with ``cv2.resize``.

The picture is drawn block by block (:func:`reenactor.render.moving.moving_runs`).
A block's backward map is the crop-space displacement, bilinearly upsampled
to the block's image pixels, plus the identity. With a crop aligned to its
blocks (:class:`reenactor.render.crop.CropTransform` ``block`` > 0), the crop
pixels of a run of whole blocks and the run's image pixels share their outer
borders, which is the lattice ``cv2.resize`` assumes; the identity is affine in
crop pixels, so bilinear upsampling reproduces it exactly. So the map (the
displacement plus the identity, on the crop grid) is upsampled by one
``cv2.resize`` per axis, which costs about half of ``cv2.warpAffine`` followed
by adding the identity (measured on 4.5 moving megapixels of a 3742 px frame).
The resize also weighs the corners with exact bilinear weights where
``warpAffine`` rounds them to 1/32 pixel; the maps differ by less than
1/32 pixel.

Blocks of the first block row or column are drawn the general way: their
first image pixels lie up to one pixel outside the crop's first pixel
centre, where ``cv2.resize`` clamps the identity.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from reenactor.render.moving import block_edges

#: Crop pixels of map added after the crop's last row and column (the image
#: pixels of the last block reach up to one crop pixel past its last centre).
PAD = 3

#: (x0, y0, x1, y1) image box -> (map_x, map_y), each (y1 - y0, x1 - x0) float32.
MapFunction = Callable[[tuple[int, int, int, int]], tuple[np.ndarray, np.ndarray]]


class BlockMaps:
    """One frame's backward maps over the image boxes of runs of whole blocks.

    Args:
        crop: the portrait's aligned :class:`reenactor.render.crop.CropTransform`.
        roi: (x0, y0, x1, y1) image pixels the crop covers (the blocks' range).
        d_img: (S, S, 2) float32 backward displacement on the crop grid, in
            image pixels.
        shift: (x, y) image pixels subtracted from the maps (the corner of the
            region they sample).
        general: the general map function, for boxes in the first block row
            or column.

    Raises:
        ValueError: the crop is not aligned to blocks.
    """

    def __init__(self, crop, roi: tuple[int, int, int, int], d_img: np.ndarray, shift: tuple[int, int],
                 general: MapFunction) -> None:
        if crop.block <= 0:
            raise ValueError("BlockMaps needs a crop aligned to blocks (CropTransform.block > 0)")
        self.crop, self.general = crop, general
        self.xs, self.ys = (np.asarray(e) for e in block_edges(crop, roi))
        s, (ox, oy) = crop.scale, crop.offset
        d = cv2.copyMakeBorder(d_img, 0, PAD, 0, PAD, cv2.BORDER_REPLICATE)
        u = np.arange(d.shape[0], dtype=np.float64)
        self.map_x = d[..., 0] + ((u - ox) / s - shift[0]).astype(np.float32)[None, :]
        self.map_y = d[..., 1] + ((u - oy) / s - shift[1]).astype(np.float32)[:, None]

    def __call__(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) of an image box whose edges are block edges (one block row or more)."""
        x0, y0, x1, y1 = box
        jx = int(np.searchsorted(self.xs, x0, side="right")) - 1
        jy = int(np.searchsorted(self.ys, y0, side="right")) - 1
        if jx <= 0 or jy <= 0:
            return self.general(box)
        b, s = self.crop.block, self.crop.scale
        cx0, cy0 = jx * b, jy * b
        # Crop pixels the box's image pixels interpolate (their last one lies
        # before the next block's first crop pixel, or within PAD of the end).
        cx1 = min(int(np.ceil(s * (x1 - 1) + self.crop.offset[0])) + 2, self.map_x.shape[1])
        cy1 = min(int(np.ceil(s * (y1 - 1) + self.crop.offset[1])) + 2, self.map_x.shape[0])
        # Image pixel of the resize's first output pixel: the crop pixel border cx0 - 0.5 is an image pixel border.
        ax = int(round((cx0 - 0.5 - self.crop.offset[0]) / s + 0.5))
        ay = int(round((cy0 - 0.5 - self.crop.offset[1]) / s + 0.5))
        cut = np.s_[y0 - ay : y1 - ay, x0 - ax : x1 - ax]
        f = 1.0 / s
        mx = cv2.resize(self.map_x[cy0:cy1, cx0:cx1], None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)[cut]
        my = cv2.resize(self.map_y[cy0:cy1, cx0:cx1], None, fx=f, fy=f, interpolation=cv2.INTER_LINEAR)[cut]
        if mx.shape != (y1 - y0, x1 - x0):
            raise RuntimeError(f"block maps of {box} came out {mx.shape}")  # an alignment bug, never a user error
        return mx, my


def block_pieces(box: tuple[int, int, int, int], xs: np.ndarray, max_pixels: int) -> list[tuple[int, int, int, int]]:
    """A run's box (x0, y0, x1, y1) cut along x at block edges ``xs`` into pieces of at most
    ``max_pixels`` image pixels (at least one block each)."""
    x0, y0, x1, y1 = box
    edges = [int(e) for e in xs if x0 < e < x1]
    pieces, start, h = [], x0, y1 - y0
    for k, e in enumerate(edges):
        nxt = edges[k + 1] if k + 1 < len(edges) else x1
        if (nxt - start) * h > max_pixels:
            pieces.append((start, y0, e, y1))
            start = e
    pieces.append((start, y0, x1, y1))
    return pieces
