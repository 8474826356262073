"""Where a frame moves the picture: the image boxes worth resampling.

A crop-space backward displacement (:attr:`reenactor.render.warp.WarpMaps.disp`)
moves only part of a large portrait: the head, hair, neck and shoulders.
:func:`moving_boxes` splits the picture's part under the crop into blocks of
about :data:`BLOCK_PIXELS` image pixels (one block below
:data:`SMALL_PICTURE`) and returns, row of blocks by row of
blocks, the runs of blocks in which some pixel's source moves by at least
:data:`STILL_SHIFT` image pixels. Everything else is the portrait itself:
``cv2.remap`` rounds source positions to 1/32 pixel, so a smaller shift samples
the pixel itself. Boxes are (x0, y0, x1, y1) image pixels, ends exclusive;
they do not overlap.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Image pixels whose source moves by less than this (image pixels) are the portrait's own.
STILL_SHIFT = 1.0 / 64.0
#: Side of a block, image pixels (about).
BLOCK_PIXELS = 128
#: A picture part under the crop smaller than this (pixels) is one block: resampled
#: whole, it costs less than finding what moves (measured at 512 px: 9.9 against
#: 10.7 ms a frame).
SMALL_PICTURE = 1 << 21


def moving_boxes(crop, disp: np.ndarray, roi: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The image boxes to resample under a crop displacement.

    Args:
        crop: the portrait's :class:`reenactor.render.crop.CropTransform`
            (crop = ``scale`` * image + ``offset``).
        disp: (S, S, 2) float32 backward displacement, crop pixels.
        roi: (x0, y0, x1, y1) image pixels the crop covers.

    Returns:
        Runs of moving blocks, each an image box inside ``roi``; empty when nothing moves.
    """
    n = disp.shape[0]
    s = crop.scale
    flat = np.abs(disp.reshape(n, -1)) >= STILL_SHIFT * s  # (S, 2S): x and y interleaved
    moving = (flat[:, 0::2] | flat[:, 1::2]).view(np.uint8)
    if not moving.any():
        return []
    # An image pixel interpolates the crop pixels at floor(u) and floor(u) + 1.
    moving = cv2.dilate(moving, np.ones((2, 2), np.uint8), anchor=(0, 0))
    small = (roi[2] - roi[0]) * (roi[3] - roi[1]) <= SMALL_PICTURE
    b = n if small else min(n, max(2, int(round(BLOCK_PIXELS * s))))
    nb = -(-n // b)
    padded = np.zeros((nb * b, nb * b), np.uint8)
    padded[:n, :n] = moving
    blocks = padded.reshape(nb, b, nb, b).any(axis=(1, 3))
    xs = _block_starts(crop.offset[0], s, b, nb, roi[0], roi[2])
    ys = _block_starts(crop.offset[1], s, b, nb, roi[1], roi[3])
    boxes = []
    for r in np.flatnonzero(blocks.any(1)):
        row = np.concatenate([[False], blocks[r], [False]])
        edges = np.flatnonzero(row[1:] != row[:-1])
        for c0, c1 in zip(edges[0::2], edges[1::2]):
            box = (xs[c0], ys[r], xs[c1], ys[r + 1])
            if box[2] > box[0] and box[3] > box[1]:
                boxes.append(box)
    return boxes


def _block_starts(offset: float, s: float, b: int, nb: int, lo: int, hi: int) -> list[int]:
    """First image pixel of each of ``nb`` crop blocks of ``b`` pixels along one axis, and the end.

    Image pixel ``x`` lies at crop position ``u = s * x + offset`` and belongs to
    block ``floor(u / b)`` (clamped to the first and last block), so the
    blocks partition [lo, hi).
    """
    starts = [lo]
    for k in range(1, nb):
        starts.append(int(np.clip(np.ceil((k * b - offset) / s), lo, hi)))
    starts.append(hi)
    return starts
