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
from reenactor.face.landmarks import face_size
from reenactor.render.eyes import EyeRenderer
from reenactor.render.layers import PortraitLayers, build_layers
from reenactor.render.lids import measure_lash_lines, paint_lash_lines, smooth_stretched_lids
from reenactor.render.mouth import MouthPatch, MouthRenderer
from reenactor.render.warp import MeshWarper, SampleLayer, remap

if TYPE_CHECKING:  # annotations only (api imports this module)
    from reenactor.api import PreparedPortrait, StageTimer

#: Side (image pixels) of the tiles the full-resolution seam layer is drawn in.
SEAM_TILE = 48


class _Space:
    """A drawing space (the working crop or the full image) with its layers."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, cfg) -> None:
        self.cfg = cfg
        self.landmarks = landmarks
        self.eyes = EyeRenderer(image, landmarks) if cfg.eyes else None
        self.base = self.eyes.base if self.eyes else image
        self.mouth = MouthRenderer(image, landmarks, cfg)
        self.lashes = measure_lash_lines(image, landmarks)
        self._face = face_size(landmarks)
        self._shading: np.ndarray | None = None
        #: Person/background layers and their region's corner (background "still").
        self.person: PortraitLayers | None = None
        self.person_at: tuple[int, int] = (0, 0)

    def shading(self) -> np.ndarray:
        """Low-pass float32 copy of the base (sigma 4% of the face size): its lighting.

        A wide blur is run on a copy shrunk so that sigma is 4 px there, then
        enlarged back (the result is smooth at that scale anyway): on a 4000 px
        portrait the full-size blur took 4.7 s, at the first turned frame.
        """
        if self._shading is None:
            sigma = max(1.0, 0.04 * self._face)
            base = self.base.astype(np.float32)
            shrink = sigma / 4.0
            if shrink < 4.0:
                self._shading = cv2.GaussianBlur(base, (0, 0), sigma)
            else:
                h, w = base.shape[:2]
                small = cv2.resize(base, (max(1, round(w / shrink)), max(1, round(h / shrink))), interpolation=cv2.INTER_AREA)
                small = cv2.GaussianBlur(small, (0, 0), 4.0)
                self._shading = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        return self._shading

    def layers(self, out: np.ndarray, target: np.ndarray, patch: MouthPatch | None) -> None:
        self.mouth.composite(out, target, patch)
        if self.cfg.lid_blur > 0:
            c = self.cfg
            smooth_stretched_lids(out, self.landmarks, target, c.lash_fraction, (c.lid_stretch_start, c.lid_stretch_full), c.lid_blur)
        if self.eyes is not None:
            self.eyes.composite(out, target)
        if self.cfg.lash_line > 0:
            c = self.cfg
            paint_lash_lines(out, self.lashes, target, (c.lash_line_start, c.lash_line_full), c.lash_line, c.lash_line_width)


class Compositor:
    """Pixel work of one renderer (see the module docstring).

    Args:
        config: the renderer's configuration (``render`` section used).
    """

    def __init__(self, config: ReenactorConfig) -> None:
        self.config = config
        self.warper = MeshWarper(config.render)

    def _space(self, portrait: PreparedPortrait, crop_output: bool) -> _Space:
        key = "crop" if crop_output else "full"
        if key not in portrait._spaces:
            if crop_output:
                portrait._spaces[key] = _Space(portrait.crop_image, portrait.crop_landmarks, self.config.render)
            else:
                portrait._spaces[key] = _Space(portrait.image, portrait.landmarks, self.config.render)
                portrait._spaces["roi"] = self._roi_grid(portrait)
            if self.config.render.background == "still":
                space = portrait._spaces[key]
                lm = portrait.crop_landmarks if crop_output else portrait.landmarks
                space.person, space.person_at = build_layers(
                    portrait.image, portrait.crop, space.base, lm, crop_output, self.config.render, portrait._spaces
                )
        return portrait._spaces[key]

    def _edge(self, portrait: PreparedPortrait) -> np.ndarray:
        """(g*g,) distances of the warper's coarse grid inside the portrait picture (crop px)."""
        if "edge" not in portrait._spaces:
            w, h = portrait.size
            portrait._spaces["edge"] = portrait.crop.inside_distance(self.warper.coarse, w, h)
        return portrait._spaces["edge"]

    @staticmethod
    def _roi_grid(portrait: PreparedPortrait):
        h, w = portrait.image.shape[:2]
        x0, y0, x1, y1 = portrait.crop.image_roi(w, h)
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        s, (ox, oy) = portrait.crop.scale, portrait.crop.offset
        return (x0, y0, x1, y1), (gx * s + ox).astype(np.float32), (gy * s + oy).astype(np.float32)

    # ----------------------------------------------------------------- render
    def draw(self, portrait: PreparedPortrait, target: np.ndarray, mouth: MouthPatch | None = None,
             crop_output: bool = False, timer: StageTimer | None = None) -> np.ndarray:
        """The pixels of :meth:`reenactor.api.Reenactor.render` (same arguments; ``portrait`` already bound)."""
        t0 = time.perf_counter()
        space = self._space(portrait, crop_output)
        use_mirror = self.config.render.mirror_visibility > 0
        maps = self.warper.maps(portrait.crop_landmarks, target, mirror=use_mirror, edge=self._edge(portrait))
        map_x, map_y = maps.map_x, maps.map_y
        t1 = time.perf_counter()
        if crop_output:
            out = space.person.composite(map_x, map_y) if space.person is not None else remap(space.base, map_x, map_y)
            target_out = target
            own_map = (map_x, map_y)
        else:
            (x0, y0, x1, y1), ux, uy = portrait._spaces["roi"]
            sx, sy = self._to_image_map(portrait, self._displacement(map_x, map_y), ux, uy)
            out = space.base.copy()
            if space.person is not None:
                px, py = space.person_at
                out[y0:y1, x0:x1] = space.person.composite(sx - px, sy - py)
            else:
                out[y0:y1, x0:x1] = remap(space.base, sx, sy)
            target_out = portrait.crop.to_image(target)
            own_map = (sx, sy)
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

    @staticmethod
    def _to_image_map(portrait: PreparedPortrait, disp: np.ndarray, ux: np.ndarray, uy: np.ndarray, origin: tuple[int, int] = (0, 0)):
        """Resample a crop-space displacement on image pixels: their backward map in image pixels.

        The displacement (map - identity) is resampled, not the map itself, so
        image pixels just outside the crop's last pixel centre (the crop
        footprint is rounded outwards) keep the identity instead of a clamped
        coordinate: no one-pixel seam where the crop meets the portrait.

        Args:
            disp: (h, w, 2) float32 crop-space displacement over a box of the
                crop whose top-left corner is ``origin`` (x, y); see
                :meth:`_displacement` and :meth:`SampleLayer.displacement`.
            ux, uy: (H, W) float32 crop coordinates of the image pixels.
        """
        if origin == (0, 0):
            d = cv2.remap(disp, ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        else:
            d = cv2.remap(disp, ux - origin[0], uy - origin[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        s, (ox, oy) = portrait.crop.scale, portrait.crop.offset
        return (ux + d[..., 0] - ox) / s, (uy + d[..., 1] - oy) / s

    @staticmethod
    def _displacement(map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """(S, S, 2) float32 crop-space displacement (map - identity) of a backward map."""
        ramp = np.arange(map_x.shape[1], dtype=np.float32)
        return cv2.merge([map_x - ramp[None, :], map_y - ramp[: map_y.shape[0], None]])

    def _layer_samples(
        self, portrait: PreparedPortrait, layer: SampleLayer, crop_output: bool, maps: bool = True
    ) -> tuple[tuple[int, int, int, int], np.ndarray | None, np.ndarray | None, np.ndarray, tuple[slice, slice] | None] | None:
        """A sample layer's box, maps and weight in ``out``'s pixels.

        Args:
            maps: also resample the maps (full output; else map_x, map_y are None).

        Returns:
            ((x0, y0, x1, y1), map_x, map_y, weight, rows_cols) with the maps
            in the drawing space's pixels over the box of ``out``, and
            ``rows_cols`` the box's slices of the image ROI grid (None for
            crop output); None when the box misses the output.
        """
        bx0, by0, bx1, by1 = layer.box
        if crop_output:
            return layer.box, layer.map_x, layer.map_y, layer.weight, None
        (rx0, ry0, rx1, ry1), ux, uy = portrait._spaces["roi"]
        corners = portrait.crop.to_image(np.array([[bx0, by0, 0.0], [bx1, by1, 0.0]]))
        x0 = max(rx0, int(np.floor(corners[0, 0])) - 1)
        y0 = max(ry0, int(np.floor(corners[0, 1])) - 1)
        x1 = min(rx1, int(np.ceil(corners[1, 0])) + 1)
        y1 = min(ry1, int(np.ceil(corners[1, 1])) + 1)
        if x1 <= x0 or y1 <= y0:
            return None
        rows, cols = slice(y0 - ry0, y1 - ry0), slice(x0 - rx0, x1 - rx0)
        sub_x, sub_y = ux[rows, cols], uy[rows, cols]
        mx, my = self._to_image_map(portrait, layer.displacement(), sub_x, sub_y, (bx0, by0)) if maps else (None, None)
        w = cv2.remap(layer.weight, sub_x - bx0, sub_y - by0, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return (x0, y0, x1, y1), mx, my, w, (rows, cols)

    @staticmethod
    def _blend(out: np.ndarray, box: tuple[int, int, int, int], sample: np.ndarray, weight: np.ndarray) -> None:
        """``out[box] = (1 - weight) * out[box] + weight * sample`` in place (uint8 result)."""
        x0, y0, x1, y1 = box
        region = out[y0:y1, x0:x1]
        a = weight[..., None]
        region[:] = np.clip((1 - a) * region.astype(np.float32) + a * sample, 0, 255).astype(np.uint8)

    def _apply_mirror(
        self,
        portrait: PreparedPortrait,
        space: "_Space",
        out: np.ndarray,
        layer: SampleLayer,
        own_map: tuple[np.ndarray, np.ndarray],
        crop_output: bool,
    ) -> None:
        """Blend the mirrored fill into ``out`` (in place), shading-corrected.

        The mirrored sample is multiplied by the ratio of the portrait's
        low-pass colour at the original and at the mirrored source position,
        so a lit cheek copied onto a shaded one takes the shaded side's light.

        Args:
            own_map: the frame's backward map in ``out``'s pixels (over the
                crop, or over the crop's image ROI for full output).
        """
        found = self._layer_samples(portrait, layer, crop_output)
        if found is None:
            return
        (x0, y0, x1, y1), mx, my, w, rows_cols = found
        if rows_cols is None:
            ox, oy = own_map[0][y0:y1, x0:x1], own_map[1][y0:y1, x0:x1]
        else:
            ox, oy = own_map[0][rows_cols], own_map[1][rows_cols]
        shade = space.shading()
        lo_own = cv2.remap(shade, ox, oy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        lo_mir = cv2.remap(shade, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        gain = np.clip((lo_own + 1.0) / (lo_mir + 1.0), 0.6, 1.6)
        self._blend(out, (x0, y0, x1, y1), remap(space.base, mx, my).astype(np.float32) * gain, w)

    def _apply_seam(self, portrait: PreparedPortrait, space: "_Space", out: np.ndarray, layer: SampleLayer, crop_output: bool) -> None:
        """Blend the outer-field samples along occluding face outlines into ``out`` (in place).

        They are drawn like the main map: the person over the still plate
        when there are layers, else the plain warp.
        """
        if crop_output:
            found = self._layer_samples(portrait, layer, crop_output)
            if found is not None:
                box, mx, my, w, _ = found
                self._blend(out, box, self._draw(space, mx, my, box, (0, 0)), w)
            return
        # Full resolution: the layer is a thin ring around the face, so its box
        # is drawn in tiles, skipping those the ring misses.
        found = self._layer_samples(portrait, layer, crop_output, maps=False)
        if found is None:
            return
        (x0, y0, x1, y1), _, _, w_box, _ = found
        (rx0, ry0, _, _), ux, uy = portrait._spaces["roi"]
        step = SEAM_TILE
        disp = layer.displacement()
        for ty in range(y0, y1, step):
            for tx in range(x0, x1, step):
                w = w_box[ty - y0 : ty - y0 + step, tx - x0 : tx - x0 + step]
                if not np.any(w > 0.004):
                    continue
                box = (tx, ty, tx + w.shape[1], ty + w.shape[0])
                rows, cols = slice(ty - ry0, box[3] - ry0), slice(tx - rx0, box[2] - rx0)
                mx, my = self._to_image_map(portrait, disp, ux[rows, cols], uy[rows, cols], layer.box[:2])
                self._blend(out, box, self._draw(space, mx, my, box, space.person_at), w)

    @staticmethod
    def _draw(space: "_Space", mx: np.ndarray, my: np.ndarray, box: tuple[int, int, int, int], person_at: tuple[int, int]) -> np.ndarray:
        """float32 colours of ``space`` at source maps over ``box`` of the output: the person over the plate, or the plain warp."""
        if space.person is not None:
            px, py = person_at
            return space.person.composite(mx - px, my - py, at=(box[0] - px, box[1] - py)).astype(np.float32)
        return remap(space.base, mx, my).astype(np.float32)
