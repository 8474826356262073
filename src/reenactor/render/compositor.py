"""The compositor: all pixel work of a frame, from warp maps and layers to the picture.

:class:`Compositor` draws a prepared portrait with its landmarks moved to a
target: it builds and caches, per portrait, the drawing spaces (the working
crop, or the whole picture with its region of interest), the person and
background layers, the mouth and eye renderers; then, per frame, the warp
maps (:class:`reenactor.render.warp.MeshWarper`), the resampling at the
output's resolution, the mirrored fill of revealed regions, the outline seam
layer, and the mouth, lid and lash layers. :class:`reenactor.api.Reenactor`
calls it and does no pixel work itself.

Coordinates: target landmarks are (478, 3) in the portrait's working-crop
pixels; maps are ``cv2.remap`` backward maps (float32 pixel x, y).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import cv2
import numpy as np

from reenactor.config import ReenactorConfig
from reenactor.io.alloc import release_free_memory
from reenactor.render.blocks import BlockMaps, block_pieces
from reenactor.render.layers import build_layers
from reenactor.render.mouth import MouthPatch
from reenactor.render.moving import LayerCover, moving_runs
from reenactor.render.space import DrawingSpace
from reenactor.render.warp import MeshWarper, SampleLayer, remap
from reenactor.render.workers import worker_pool

if TYPE_CHECKING:  # annotations only (api imports this module)
    from reenactor.api import PreparedPortrait, StageTimer

#: Side (image pixels) of the tiles the full-resolution seam layer is drawn in.
SEAM_TILE = 48
#: Pixels of the picture drawn at a time (a band of rows).
STRIP_PIXELS = 1 << 18


class Compositor:
    """Pixel work of one renderer (see the module docstring).

    Args:
        config: the renderer's configuration (``render`` section used).
    """

    def __init__(self, config: ReenactorConfig) -> None:
        self.config = config
        self.warper = MeshWarper(config.render)

    def _space(self, portrait: PreparedPortrait, crop_output: bool) -> DrawingSpace:
        key = "crop" if crop_output else "full"
        if key not in portrait._spaces:
            if crop_output:
                portrait._spaces[key] = DrawingSpace(portrait.crop_image, portrait.crop_landmarks, self.config.render)
            else:
                portrait._spaces[key] = DrawingSpace(portrait.image, portrait.landmarks, self.config.render)
                w, h = portrait.size
                portrait._spaces["roi"] = portrait.crop.image_roi(w, h)
            if self.config.render.background == "still":
                space = portrait._spaces[key]
                lm = portrait.crop_landmarks if crop_output else portrait.landmarks
                space.person, space.person_at = build_layers(
                    portrait.image, portrait.crop, space.base, lm, crop_output, self.config.render, portrait._spaces
                )
                if space.person is not None and not crop_output:
                    space.cover = LayerCover(space.person.person[..., 3], space.person.plate, space.region(), space.person_at)
            release_free_memory()  # the layers' temporaries (hundreds of MB at 4000 px)
        return portrait._spaces[key]

    def _edge(self, portrait: PreparedPortrait) -> np.ndarray:
        """(g*g,) distances of the warper's coarse grid inside the portrait picture (crop px)."""
        if "edge" not in portrait._spaces:
            w, h = portrait.size
            portrait._spaces["edge"] = portrait.crop.inside_distance(self.warper.coarse, w, h)
        return portrait._spaces["edge"]

    # ----------------------------------------------------------------- render
    def draw(self, portrait: PreparedPortrait, target: np.ndarray, mouth: MouthPatch | None = None,
             crop_output: bool = False, timer: StageTimer | None = None) -> np.ndarray:
        """The pixels of :meth:`reenactor.api.Reenactor.render` (same arguments; ``portrait`` already bound)."""
        t0 = time.perf_counter()
        space = self._space(portrait, crop_output)
        use_mirror = self.config.render.mirror_visibility > 0
        maps = self.warper.maps(portrait.crop_landmarks, target, mirror=use_mirror, edge=self._edge(portrait))
        t1 = time.perf_counter()
        if crop_output:
            map_x, map_y = maps.map_x, maps.map_y
            out = space.person.composite(map_x, map_y) if space.person is not None else remap(space.base, map_x, map_y)
            target_out = target

            def own_map(box):
                return map_x[box[1] : box[3], box[0] : box[2]], map_y[box[1] : box[3], box[0] : box[2]]
        else:
            disp = maps.disp
            d_img = self._image_px(portrait, disp)  # once a frame: the main draw and the mirror's own maps
            out = self._draw_picture(portrait, space, disp, d_img)
            target_out = portrait.crop.to_image(target)

            def own_map(box):
                return self._image_map(portrait, d_img, box)
        if maps.mirror is not None:
            self._apply_mirror(portrait, space, out, maps.mirror, own_map, crop_output)
        if maps.seam is not None:
            self._apply_seam(portrait, space, out, maps.seam, crop_output)
        t2 = time.perf_counter()
        space.layers(out, target_out, mouth)
        t3 = time.perf_counter()
        if timer is not None:
            timer.add("warp_field", t1 - t0)
            timer.add("remap", t2 - t1)
            timer.add("mouth_eyes", t3 - t2)
        return out

    def _draw_picture(self, portrait: PreparedPortrait, space: DrawingSpace, disp: np.ndarray, d_img: np.ndarray) -> np.ndarray:
        """The whole picture with the crop's displacement applied: HxWx3 uint8.

        Only the runs of blocks whose pixels move
        (:func:`reenactor.render.moving.moving_runs`) are resampled, in pieces
        of at most :data:`STRIP_PIXELS` (their maps stay in the cache, and a
        4000 px portrait's temporaries a few MB); the rest is the portrait as
        prepared, which the resampling would reproduce anyway. With layers,
        blocks that can only show the still plate are left too, and blocks
        that only sample the opaque person are resampled without the plate.
        A crop aligned to its blocks has its maps upsampled by
        :class:`reenactor.render.blocks.BlockMaps`; others by ``cv2.warpAffine``.
        """
        out = space.base.copy()
        roi = portrait._spaces["roi"]
        runs = moving_runs(portrait.crop, disp, roi, space.cover)
        if not runs:
            return out
        shift = space.person_at if space.person is not None else (0, 0)

        def general(box):
            return self._picture_map(self._crop_sampled(portrait, d_img, box), box, shift)

        if portrait.crop.block > 0:
            maps = BlockMaps(portrait.crop, roi, d_img, shift, general)
            jobs = [(piece, kind) for box, kind in runs for piece in block_pieces(box, maps.xs, STRIP_PIXELS)]
        else:
            maps = general
            jobs = [(band, kind) for box, kind in runs for band in _bands(box)]
        if len(jobs) < 4:
            for band, kind in jobs:
                self._draw_band(out, space, band, kind, maps)
        else:  # the pieces are disjoint: one worker per core, at most 4 (OpenCV releases the GIL)
            list(worker_pool().map(lambda job: self._draw_band(out, space, *job, maps), jobs))
        return out

    @staticmethod
    def _draw_band(out: np.ndarray, space: DrawingSpace, band: tuple[int, int, int, int], kind: str, maps) -> None:
        """Resample the image pixels ``band`` (x0, y0, x1, y1) of ``out`` in place, drawn as ``kind``
        (:func:`reenactor.render.moving.moving_runs`); ``maps``: band -> (map_x, map_y) in the
        pixels of what is sampled (the person layer's region, else the picture)."""
        x0, y0, x1, y1 = band
        mx, my = maps(band)
        if space.person is None:
            out[y0:y1, x0:x1] = remap(space.base, mx, my)
        elif kind == "opaque":  # the person alone: its colour is the portrait's (sampled like the layer)
            out[y0:y1, x0:x1] = remap(space.region(), mx, my)
        else:
            px, py = space.person_at
            out[y0:y1, x0:x1] = space.person.composite(mx, my, at=(x0 - px, y0 - py))

    @staticmethod
    def _crop_sampled(portrait: PreparedPortrait, values: np.ndarray, box: tuple[int, int, int, int],
                      origin: tuple[int, int] = (0, 0), border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        """A crop-space array (h, w[, c]) float32 whose top-left pixel is crop pixel
        ``origin``, sampled (bilinear) at the image pixels of ``box`` (x0, y0, x1, y1)."""
        s, (ox, oy) = portrait.crop.scale, portrait.crop.offset
        x0, y0, x1, y1 = box
        m = np.array([[s, 0.0, s * x0 + ox - origin[0]], [0.0, s, s * y0 + oy - origin[1]]])
        return cv2.warpAffine(values, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=border, borderValue=0)

    @staticmethod
    def _image_px(portrait: PreparedPortrait, disp: np.ndarray) -> np.ndarray:
        """A crop-space displacement (crop px) expressed in image pixels (same grid), float32."""
        return disp * np.float32(1.0 / portrait.crop.scale)

    @classmethod
    def _image_map(cls, portrait: PreparedPortrait, d_img: np.ndarray, box: tuple[int, int, int, int],
                   origin: tuple[int, int] = (0, 0), shift: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """Backward map of the image pixels of ``box``, in image pixels minus ``shift``.

        The crop-space displacement (map - identity) is resampled, not the map
        itself, so image pixels just outside the crop's last pixel centre (the
        crop footprint is rounded outwards) keep the identity instead of a
        clamped coordinate: no one-pixel seam where the crop meets the portrait.

        Args:
            d_img: (h, w, 2) float32 crop-space displacement over a box of the
                crop whose top-left corner is ``origin`` (x, y), in image
                pixels (:meth:`_image_px` of :attr:`WarpMaps.disp` or
                :meth:`SampleLayer.displacement`).
            box: (x0, y0, x1, y1) image pixels.
            shift: (x, y) subtracted from the map (a layer region's corner).

        Returns:
            (map_x, map_y), each (y1 - y0, x1 - x0) float32.
        """
        return cls._picture_map(cls._crop_sampled(portrait, d_img, box, origin), box, shift)

    @staticmethod
    def _picture_map(d: np.ndarray, box: tuple[int, int, int, int], shift: tuple[int, int] = (0, 0)) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) of the image pixels of ``box`` from their (h, w, 2) displacement ``d`` in image pixels, minus ``shift``."""
        x0, y0, x1, y1 = box
        ramp_x = np.arange(x0 - shift[0], x1 - shift[0], dtype=np.float32)
        ramp_y = np.arange(y0 - shift[1], y1 - shift[1], dtype=np.float32)
        return d[..., 0] + ramp_x[None, :], d[..., 1] + ramp_y[:, None]

    def _layer_samples(
        self, portrait: PreparedPortrait, layer: SampleLayer, crop_output: bool, maps: bool = True
    ) -> tuple[tuple[int, int, int, int], np.ndarray | None, np.ndarray | None, np.ndarray] | None:
        """A sample layer's box, maps and weight in ``out``'s pixels.

        Args:
            maps: also resample the maps (full output; else map_x, map_y are None).

        Returns:
            ((x0, y0, x1, y1), map_x, map_y, weight) with the maps in the
            drawing space's pixels over that box of ``out``; None when the box
            misses the output.
        """
        if crop_output:
            return layer.box, layer.map_x, layer.map_y, layer.weight
        bx0, by0, bx1, by1 = layer.box
        rx0, ry0, rx1, ry1 = portrait._spaces["roi"]
        corners = portrait.crop.to_image(np.array([[bx0, by0, 0.0], [bx1, by1, 0.0]]))
        x0 = max(rx0, int(np.floor(corners[0, 0])) - 1)
        y0 = max(ry0, int(np.floor(corners[0, 1])) - 1)
        x1 = min(rx1, int(np.ceil(corners[1, 0])) + 1)
        y1 = min(ry1, int(np.ceil(corners[1, 1])) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        box = (x0, y0, x1, y1)
        mx, my = self._image_map(portrait, self._image_px(portrait, layer.displacement()), box, (bx0, by0)) if maps else (None, None)
        w = self._crop_sampled(portrait, layer.weight, box, (bx0, by0), cv2.BORDER_CONSTANT)
        return box, mx, my, w

    @staticmethod
    def _blend(out: np.ndarray, box: tuple[int, int, int, int], sample: np.ndarray, weight: np.ndarray) -> None:
        """``out[box] = (1 - weight) * out[box] + weight * sample`` in place, rounded; ``sample``
        (h, w, 3) uint8, ``weight`` (h, w) float32 in [0, 1]."""
        x0, y0, x1, y1 = box
        region = out[y0:y1, x0:x1]
        region[:] = cv2.blendLinear(region, sample, 1.0 - weight, weight)

    def _apply_mirror(
        self,
        portrait: PreparedPortrait,
        space: DrawingSpace,
        out: np.ndarray,
        layer: SampleLayer,
        own_map,
        crop_output: bool,
    ) -> None:
        """Blend the mirrored fill into ``out`` (in place), shading-corrected.

        The mirrored sample is multiplied by the ratio of the portrait's
        low-pass colour at the original and at the mirrored source position,
        so a lit cheek copied onto a shaded one takes the shaded side's light.

        Args:
            own_map: box (x0, y0, x1, y1) of ``out`` -> the frame's backward
                map over it, in the drawing space's pixels.
        """
        found = self._layer_samples(portrait, layer, crop_output, maps=crop_output)
        if found is None:
            return
        box, mx, my, w_box = found
        # In bands (a 4000 px portrait's fill box is megapixels of float colour).
        d_img = None if crop_output else self._image_px(portrait, layer.displacement())
        for band in [box] if crop_output else _bands(box):
            if crop_output:
                bmx, bmy, w = mx, my, w_box
            else:
                bmx, bmy = self._image_map(portrait, d_img, band, layer.box[:2])
                w = w_box[band[1] - box[1] : band[3] - box[1]]
            gain = space.lighting_gain(own_map(band), (bmx, bmy))
            self._blend(out, band, cv2.multiply(remap(space.base, bmx, bmy), gain, dtype=cv2.CV_8U), w)

    def _apply_seam(self, portrait: PreparedPortrait, space: DrawingSpace, out: np.ndarray, layer: SampleLayer, crop_output: bool) -> None:
        """Blend the outer-field samples along occluding face outlines into ``out`` (in place).

        They are drawn like the main map: the person over the still plate
        when there are layers, else the plain warp.
        """
        if crop_output:
            found = self._layer_samples(portrait, layer, crop_output)
            if found is not None:
                box, mx, my, w = found
                self._blend(out, box, self._draw(space, mx, my, box, (0, 0)), w)
            return
        # Full resolution: the layer is a thin ring around the face, so its box
        # is drawn in runs of tiles along each row of tiles, skipping those the ring misses.
        found = self._layer_samples(portrait, layer, crop_output, maps=False)
        if found is None:
            return
        (x0, y0, x1, y1), _, _, w_box = found
        step = SEAM_TILE
        d_img = self._image_px(portrait, layer.displacement())
        for ty in range(y0, y1, step):
            rows = w_box[ty - y0 : ty - y0 + step]
            # Runs of neighbouring tiles of this row that the ring touches, each drawn at once.
            cols = (rows > 0.004).any(axis=0)
            tiles = np.add.reduceat(cols, np.arange(0, cols.size, step)) > 0
            edges = np.flatnonzero(np.diff(np.concatenate([[0], tiles.view(np.int8), [0]])))
            for t0, t1 in zip(edges[0::2], edges[1::2]):
                box = (x0 + t0 * step, ty, min(x1, x0 + t1 * step), ty + rows.shape[0])
                mx, my = self._image_map(portrait, d_img, box, layer.box[:2])
                w = rows[:, box[0] - x0 : box[2] - x0]
                self._blend(out, box, self._draw(space, mx, my, box, space.person_at), w)

    @staticmethod
    def _draw(space: DrawingSpace, mx: np.ndarray, my: np.ndarray, box: tuple[int, int, int, int], person_at: tuple[int, int]) -> np.ndarray:
        """uint8 colours of ``space`` at source maps over ``box`` of the output: the person over the plate, or the plain warp."""
        if space.person is not None:
            px, py = person_at
            return space.person.composite(mx - px, my - py, at=(box[0] - px, box[1] - py))
        return remap(space.base, mx, my)


def _bands(box: tuple[int, int, int, int]) -> list[tuple[int, int, int, int]]:
    """``box`` (x0, y0, x1, y1) cut into bands of whole rows of at most :data:`STRIP_PIXELS` (at least 8 rows)."""
    x0, y0, x1, y1 = box
    step = max(8, STRIP_PIXELS // max(1, x1 - x0))
    return [(x0, top, x1, min(top + step, y1)) for top in range(y0, y1, step)]
