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

With a person layer over a still plate (:mod:`reenactor.render.layers`),
:func:`moving_runs` also sorts the moving blocks by what their pixels can
sample (a :class:`LayerCover`): a block whose pixels and sources all lie where
the person layer is empty draws the plate, which is the portrait itself there,
so it is left as it is (``"still"``); a block whose sources all lie where the
person is opaque draws the person alone, a plain resampling of the portrait
(``"opaque"``); the others need the composite (``"mixed"``). On a 4000 px
press photo, 42 % of the moving pixels are background.
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


#: Side (image pixels) of the cells a :class:`LayerCover` summarises the layer in.
COVER_CELL = 8
#: How a moving block is drawn (:meth:`LayerCover.kinds`): left as it is, the
#: opaque person alone, or the person over the plate (or, without layers, the warp).
STILL, OPAQUE, MIXED = 0, 1, 2


class LayerCover:
    """Where a person layer is present and where it is opaque, counted by cells.

    Args:
        alpha: (h, w) uint8 person alpha of the layer's region, 0..255.
        plate: (h, w, 3) uint8 background plate of the region.
        picture: (h, w, 3) uint8 the portrait over the same region (what an
            unmoved frame shows).
        at: (x, y) image pixel of the region's top-left corner.
        cell: cell side in pixels; queries are rounded out to whole cells.
    """

    def __init__(self, alpha: np.ndarray, plate: np.ndarray, picture: np.ndarray, at: tuple[int, int], cell: int = COVER_CELL) -> None:
        if alpha.dtype != np.uint8 or alpha.shape != plate.shape[:2] or plate.shape != picture.shape:
            raise ValueError(f"LayerCover needs matching uint8 alpha and images, got {alpha.shape}, {plate.shape}, {picture.shape}")
        self.at, self.size, self.cell = at, alpha.shape[::-1], cell
        # Present: the layer draws something, or the plate is not the picture there.
        present = (alpha > 0) | (cv2.absdiff(plate, picture).max(axis=2) > 0)
        self._present = _cell_table(present, cell)
        self._clear = _cell_table(alpha < 255, cell)

    def kinds(self, boxes: np.ndarray, sources: np.ndarray) -> np.ndarray:
        """How to draw image boxes, given where their pixels sample.

        Args:
            boxes: (N, 4) int image pixels (x0, y0, x1, y1), ends exclusive.
            sources: (N, 4) float image pixels (x0, y0, x1, y1), inclusive,
                holding every bilinear source of the box's pixels; sources
                outside the region count as their reflection
                (``cv2.BORDER_REFLECT101``, as the resampling does).

        Returns:
            (N,) int8: :data:`STILL`, :data:`OPAQUE` or :data:`MIXED`.
        """
        (ax, ay), (w, h) = self.at, self.size
        sx0, sx1 = _reflected(sources[:, 0] - ax, sources[:, 2] - ax, w)
        sy0, sy1 = _reflected(sources[:, 1] - ay, sources[:, 3] - ay, h)
        src = np.stack([sx0, sy0, sx1 + 1, sy1 + 1], axis=1)
        own = np.asarray(boxes) - np.array([ax, ay, ax, ay])
        out = np.full(len(src), MIXED, np.int8)
        out[(_count(self._present, src, self.cell) == 0) & (_count(self._present, own, self.cell) == 0)] = STILL
        out[_count(self._clear, src, self.cell) == 0] = OPAQUE
        return out


def _cell_table(mask: np.ndarray, cell: int) -> np.ndarray:
    """Summed-area table (int32, one row and column of zeros first) of the cells of ``mask`` holding any True."""
    h, w = mask.shape
    hc, wc = -(-h // cell), -(-w // cell)
    padded = np.zeros((hc * cell, wc * cell), bool)
    padded[:h, :w] = mask
    return cv2.integral(padded.reshape(hc, cell, wc, cell).any(axis=(1, 3)).view(np.uint8))


def _count(table: np.ndarray, boxes: np.ndarray, cell: int) -> np.ndarray:
    """(N,) cells of ``table`` holding any True within each pixel box (N, 4) (x0, y0, x1, y1; ends exclusive, clipped)."""
    hc, wc = table.shape[0] - 1, table.shape[1] - 1
    x0 = np.clip(np.floor(boxes[:, 0]).astype(np.int64) // cell, 0, wc)
    y0 = np.clip(np.floor(boxes[:, 1]).astype(np.int64) // cell, 0, hc)
    x1 = np.clip(-(-np.ceil(boxes[:, 2]).astype(np.int64) // cell), x0, wc)
    y1 = np.clip(-(-np.ceil(boxes[:, 3]).astype(np.int64) // cell), y0, hc)
    return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]


def _reflected(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel ranges [lo, hi] on an axis of ``n`` pixels, with what falls outside reflected in (101)."""
    lo, hi = np.floor(lo).astype(np.int64), np.ceil(hi).astype(np.int64)
    under = lo < 0
    hi = np.where(under, np.maximum(hi, np.minimum(n - 1, -lo)), hi)
    lo = np.where(under, 0, lo)
    over = hi > n - 1
    lo = np.where(over, np.minimum(lo, np.maximum(0, 2 * (n - 1) - hi)), lo)
    hi = np.where(over, n - 1, hi)
    return np.clip(lo, 0, n - 1), np.clip(hi, 0, n - 1)


def moving_boxes(crop, disp: np.ndarray, roi: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """The image boxes to resample under a crop displacement (:func:`moving_runs` without a layer)."""
    return [box for box, _ in moving_runs(crop, disp, roi)]


def moving_runs(
    crop, disp: np.ndarray, roi: tuple[int, int, int, int], cover: LayerCover | None = None
) -> list[tuple[tuple[int, int, int, int], str]]:
    """The image boxes to resample under a crop displacement, and how to draw each.

    Args:
        crop: the portrait's :class:`reenactor.render.crop.CropTransform`
            (crop = ``scale`` * image + ``offset``).
        disp: (S, S, 2) float32 backward displacement, crop pixels.
        roi: (x0, y0, x1, y1) image pixels the crop covers.
        cover: the person layer's :class:`LayerCover` over ``roi``, or None
            (no layers: every moving block is ``"mixed"``, a plain resampling).

    Returns:
        Runs of moving blocks of one kind (``"opaque"`` or ``"mixed"``; the
        ``"still"`` ones are left out), each (image box inside ``roi``, kind);
        empty when nothing moves.
    """
    n = disp.shape[0]
    s = crop.scale
    small = (roi[2] - roi[0]) * (roi[3] - roi[1]) <= SMALL_PICTURE
    if small:  # one block, drawn whole when anything moves
        still = np.abs(disp).max(initial=0.0) < STILL_SHIFT * s
        return [] if still or roi[2] <= roi[0] or roi[3] <= roi[1] else [(tuple(roi), "mixed")]
    flat = np.abs(disp.reshape(n, -1)) >= STILL_SHIFT * s  # (S, 2S): x and y interleaved
    moving = (flat[:, 0::2] | flat[:, 1::2]).view(np.uint8)
    if not moving.any():
        return []
    b = min(n, block_side(crop))
    nb = -(-n // b)
    if nb == 1:
        blocks = np.ones((1, 1), bool)
    else:  # an image pixel interpolates crop pixels floor(u) and floor(u) + 1: b + 1 of them per block
        blocks = cv2.dilate(moving, np.ones((b + 1, b + 1), np.uint8), anchor=(0, 0))[0:n:b, 0:n:b] > 0
    xs = _block_starts(crop.offset[0], s, b, nb, roi[0], roi[2])
    ys = _block_starts(crop.offset[1], s, b, nb, roi[1], roi[3])  # as block_edges, for this b
    kinds = np.full((nb, nb), MIXED, np.int8)
    if cover is not None:
        kinds = _kinds(cover, disp, b, s, np.array(xs), np.array(ys))
    kinds[~blocks] = STILL
    runs = []
    for r in np.flatnonzero((kinds != STILL).any(1)):
        row = np.concatenate([[STILL], kinds[r], [STILL]])
        edges = np.flatnonzero(row[1:] != row[:-1])  # every change of kind starts or ends a run
        for c0, c1 in zip(edges[:-1], edges[1:]):
            box = (xs[c0], ys[r], xs[c1], ys[r + 1])
            if row[c0 + 1] != STILL and box[2] > box[0] and box[3] > box[1]:
                runs.append((box, "opaque" if row[c0 + 1] == OPAQUE else "mixed"))
    return runs


def block_side(crop) -> int:
    """Side of a block in crop pixels: the crop's own (an aligned crop,
    :class:`reenactor.render.crop.CropTransform`) or about :data:`BLOCK_PIXELS` image pixels."""
    return crop.block if crop.block > 0 else max(2, int(round(BLOCK_PIXELS * crop.scale)))


def block_edges(crop, roi: tuple[int, int, int, int]) -> tuple[list[int], list[int]]:
    """Image pixel edges of the crop's blocks inside ``roi`` (x0, y0, x1, y1): (xs, ys), each
    the first pixel of every block and the end (see :func:`_block_starts`)."""
    n, b = crop.size, block_side(crop)
    nb = -(-n // b)
    return (_block_starts(crop.offset[0], crop.scale, b, nb, roi[0], roi[2]),
            _block_starts(crop.offset[1], crop.scale, b, nb, roi[1], roi[3]))


def _block_reach(disp: np.ndarray, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of ``b`` crop pixels, the least and largest crop displacement (x, y) its
    image pixels interpolate: two (nb, nb, 2) float32 arrays, crop px."""
    n = disp.shape[0]
    # An image pixel interpolates crop pixels floor(u) and floor(u) + 1: b + 1 of them per block.
    kernel = np.ones((b + 1, b + 1), np.uint8)
    lo = cv2.erode(disp, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[0:n:b, 0:n:b]
    hi = cv2.dilate(disp, kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)[0:n:b, 0:n:b]
    return lo, hi


def _kinds(cover: LayerCover, disp: np.ndarray, b: int, s: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(nb, nb) int8 kind of every block (see :func:`moving_runs`); ``xs``, ``ys``: block edges, image px."""
    lo, hi = (r / s for r in _block_reach(disp, b))  # image px
    nb = lo.shape[0]
    x0, x1 = np.broadcast_to(xs[None, :-1], (nb, nb)), np.broadcast_to(xs[None, 1:], (nb, nb))
    y0, y1 = np.broadcast_to(ys[:-1, None], (nb, nb)), np.broadcast_to(ys[1:, None], (nb, nb))
    boxes = np.stack([x0, y0, x1, y1], axis=-1).reshape(-1, 4)
    # Bilinear sources of the block's pixels: shifted by the reach, and one pixel on.
    sources = np.stack([x0 + lo[..., 0] - 1, y0 + lo[..., 1] - 1, x1 + hi[..., 0] + 1, y1 + hi[..., 1] + 1], axis=-1)
    return cover.kinds(boxes, sources.reshape(-1, 4)).reshape(nb, nb)


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
