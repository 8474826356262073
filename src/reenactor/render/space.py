"""A drawing space of a prepared portrait: the working crop, or the whole picture.

:class:`DrawingSpace` holds what the compositor (:mod:`reenactor.render.compositor`)
draws from in one space, made once per portrait: the base picture (irises
lifted), the eye, mouth and lash renderers, the low-pass lighting the mirror
fill is corrected by, and, with a still background, the person and background
layers (:mod:`reenactor.render.layers`) and where they are present and opaque
(:class:`reenactor.render.moving.LayerCover`).

Images are HxWx3 uint8 RGB; maps are ``cv2.remap`` backward maps (float32
pixel x, y) in the space's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.face.landmarks import face_size
from reenactor.render.eyes import EyeRenderer
from reenactor.render.layers import PortraitLayers
from reenactor.render.lids import measure_lash_lines, paint_lash_lines, smooth_stretched_lids
from reenactor.render.mouth import MouthPatch, MouthRenderer
from reenactor.render.moving import LayerCover


class DrawingSpace:
    """A drawing space (the working crop or the full image) with its layers.

    Args:
        image: HxWx3 uint8 RGB picture of the space.
        landmarks: (478, 3) portrait landmarks in the space's pixels.
        cfg: the renderer's :class:`~reenactor.config.RenderConfig`.

    The compositor sets :attr:`person`, :attr:`person_at` and :attr:`cover`
    when it builds the layers.
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, cfg) -> None:
        self.cfg = cfg
        self.landmarks = landmarks
        self.eyes = EyeRenderer(image, landmarks) if cfg.eyes else None
        self.base = self.eyes.base if self.eyes else image
        self.mouth = MouthRenderer(image, landmarks, cfg)
        self.lashes = measure_lash_lines(image, landmarks)
        self._face = face_size(landmarks)
        self._shading: tuple[np.ndarray, int] | None = None
        #: Person/background layers and their region's corner (background "still").
        self.person: PortraitLayers | None = None
        self.person_at: tuple[int, int] = (0, 0)
        #: Where the person layer is present and opaque (full picture with layers only).
        self.cover: LayerCover | None = None

    def region(self) -> np.ndarray:
        """The base under the person layer's region (a view): what the layer reproduces when still."""
        (x, y), (h, w) = self.person_at, self.person.plate.shape[:2]
        return self.base[y : y + h, x : x + w]

    def lighting(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """The base's low-pass colours (sigma 4% of the face size: its lighting) at a backward map.

        Args:
            map_x, map_y: (h, w) float32 source coordinates in this space's pixels.

        Returns:
            (h, w, 3) float32.

        The low-pass is kept shrunk so that sigma is 4 px there (it is smooth at
        that scale anyway) and sampled with scaled coordinates: a full-size
        float copy of a 4000 px portrait is 128 MB, and its blur took 4.7 s.
        """
        shading, _ = self._low_pass()
        sh, sw = shading.shape[:2]
        h, w = self.base.shape[:2]
        if (sh, sw) != (h, w):
            map_x = (map_x + 0.5) * np.float32(sw / w) - 0.5
            map_y = (map_y + 0.5) * np.float32(sh / h) - 0.5
        return cv2.remap(shading, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)

    def _low_pass(self) -> tuple[np.ndarray, int]:
        """The shrunk low-pass (h', w', 3) float32 of :meth:`lighting`, and its pixel spacing in base pixels (>= 1)."""
        if self._shading is None:
            sigma = max(1.0, 0.04 * self._face)
            h, w = self.base.shape[:2]
            shrink = max(1.0, sigma / 4.0) if sigma / 4.0 >= 4.0 else 1.0
            small = self.base
            if shrink > 1.0:  # shrunk as uint8 first: a float copy of a 4000 px picture is 190 MB
                small = cv2.resize(small, (max(1, round(w / shrink)), max(1, round(h / shrink))), interpolation=cv2.INTER_AREA)
            small = small.astype(np.float32)
            self._shading = cv2.GaussianBlur(small, (0, 0), sigma / shrink), max(1, int(shrink))
        return self._shading

    def lighting_gain(self, own: tuple[np.ndarray, np.ndarray], mirror: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """The mirror fill's shading correction: (h, w, 3) float32 lighting at the ``own``
        sources over that at the ``mirror`` sources (each (map_x, map_y), (h, w) float32),
        clipped to 0.6-1.6.

        Sampled every pixel of the shrunk low-pass (its own spacing: finer adds
        nothing) and enlarged bilinearly; at full resolution only when it is not shrunk.
        """
        _, step = self._low_pass()
        h, w = own[0].shape
        if step > 1:
            own, mirror = ([np.ascontiguousarray(m[::step, ::step]) for m in maps] for maps in (own, mirror))
        gain = np.clip((self.lighting(*own) + 1.0) / (self.lighting(*mirror) + 1.0), 0.6, 1.6)
        return gain if step == 1 else cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)

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
