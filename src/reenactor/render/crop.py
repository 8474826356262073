"""The square face crop the pipeline works in, and the way back to the image.

A crop is an axis-aligned similarity ``u = s * x + t`` from portrait-image
pixels ``x`` to crop pixels ``u`` (both (x, y), pixel centres at integers).

The crop of a large portrait is *aligned to its blocks* (``block`` > 0): its
scale is ``b / m`` exactly (``b`` crop pixels are ``m`` whole image pixels) and
the crop's pixel borders at multiples of ``b`` lie on image pixel borders, so
:mod:`reenactor.render.blocks` can upsample the warp to a block's image pixels
with ``cv2.resize``, whose lattice is aligned the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.face.topology import CHIN, STABLE_POINTS
from reenactor.numeric import smoothstep
from reenactor.render.moving import BLOCK_PIXELS, SMALL_PICTURE

#: How far from exact an aligned crop's border may lie (image pixels; float rounding).
ALIGN_TOLERANCE = 1e-6


@dataclass(frozen=True)
class CropTransform:
    """Image -> crop mapping (uniform scale, then translation).

    Attributes:
        scale: crop pixels per image pixel.
        offset: (2,) translation, crop pixels.
        size: side of the square crop, pixels.
        block: 0, or the side in crop pixels of the blocks the crop is aligned
            to (see the module docstring): ``scale * m == block`` for a whole
            number ``m`` of image pixels, and crop coordinate ``-0.5`` (the
            outer border of crop pixel 0) maps to an image pixel border.

    Raises:
        ValueError: ``block`` > 0 but the crop is not aligned to it.
    """

    scale: float
    offset: tuple[float, float]
    size: int
    block: int = 0

    def __post_init__(self) -> None:
        if self.block > 0:
            m = self.block / self.scale
            borders = [(-0.5 - o) / self.scale + 0.5 for o in self.offset]
            if abs(m - round(m)) > ALIGN_TOLERANCE or any(abs(b - round(b)) > ALIGN_TOLERANCE for b in borders):
                raise ValueError(f"crop (scale {self.scale}, offset {self.offset}) is not aligned to blocks of {self.block}")

    @staticmethod
    def around_face(landmarks: np.ndarray, cfg: RenderConfig) -> "CropTransform":
        """Crop centred on the face, ``cfg.crop_scale`` face sizes wide.

        Args:
            landmarks: (478, 3) portrait landmarks in image pixels.
        """
        lm = landmarks[:, :2].astype(np.float64)
        span = lm.max(0) - lm.min(0)
        size = float(max(span.max(), np.linalg.norm(lm[CHIN] - lm[list(STABLE_POINTS)].mean(0)) * 2))
        centre = 0.5 * (lm.max(0) + lm.min(0)) + np.array([0.0, cfg.crop_shift * size])
        side = cfg.crop_scale * size
        s = cfg.work_size / side
        if side * side <= SMALL_PICTURE:  # drawn as one block (reenactor.render.moving)
            off = cfg.work_size / 2 - s * centre
            return CropTransform(float(s), (float(off[0]), float(off[1])), cfg.work_size)
        return CropTransform.aligned(s, centre, cfg.work_size)

    @staticmethod
    def aligned(scale: float, centre: np.ndarray, size: int) -> "CropTransform":
        """The crop of ``size`` pixels and about ``scale`` crop pixels per image pixel centred
        near image point ``centre`` (x, y), aligned to blocks of about
        :data:`reenactor.render.moving.BLOCK_PIXELS` image pixels.

        The scale changes by at most half an image pixel per block (0.4 %), the
        centre by at most half an image pixel.
        """
        b = max(2, int(round(BLOCK_PIXELS * scale)))
        s = b / max(1, round(b / scale))
        off = []
        for c in centre:  # the border of crop pixel 0 on the image pixel border nearest the exact one
            border = np.round((-0.5 - (size / 2 - s * c)) / s + 0.5) - 0.5
            off.append(float(-0.5 - s * border))
        return CropTransform(float(s), (off[0], off[1]), size, b)

    @property
    def matrix(self) -> np.ndarray:
        """(2, 3) float64 affine image -> crop."""
        return np.array([[self.scale, 0, self.offset[0]], [0, self.scale, self.offset[1]]])

    @property
    def inverse_matrix(self) -> np.ndarray:
        """(2, 3) float64 affine crop -> image."""
        s = 1.0 / self.scale
        return np.array([[s, 0, -self.offset[0] * s], [0, s, -self.offset[1] * s]])

    def to_crop(self, pts: np.ndarray) -> np.ndarray:
        """Image -> crop for (N, 2) or (N, 3) points (z is scaled too)."""
        out = np.array(pts, dtype=np.float64) * self.scale
        out[:, 0] += self.offset[0]
        out[:, 1] += self.offset[1]
        return out

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        """Crop -> image for (N, 2) or (N, 3) points."""
        out = np.array(pts, dtype=np.float64)
        out[:, 0] -= self.offset[0]
        out[:, 1] -= self.offset[1]
        return out / self.scale

    def image_roi(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the part of a width x height image the crop covers."""
        x0, y0 = self.to_image(np.array([[0.0, 0.0]]))[0]
        x1, y1 = self.to_image(np.array([[self.size, self.size]]))[0]
        return (max(0, int(np.floor(x0))), max(0, int(np.floor(y0))), min(width, int(np.ceil(x1))), min(height, int(np.ceil(y1))))

    def _picture_box(self, width: int, height: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): a width x height image's outer pixel borders in crop pixels."""
        x0, y0 = self.offset[0] - 0.5 * self.scale, self.offset[1] - 0.5 * self.scale
        return x0, y0, x0 + width * self.scale, y0 + height * self.scale

    def outside_distance(self, width: int, height: int) -> np.ndarray:
        """(S, S) float32: distance (crop pixels) of each crop pixel from a width x height image; 0 inside."""
        u = np.arange(self.size, dtype=np.float32)
        x0, y0, x1, y1 = self._picture_box(width, height)
        dx = np.maximum(np.maximum(x0 - u, u - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - u, u - y1), 0.0)
        return np.hypot(dx[None, :], dy[:, None]).astype(np.float32)

    def inside_distance(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """(N,) float64: how far crop points (N, 2+) lie inside a width x height image.

        The distance, in crop pixels, from each point to the nearest edge of
        the image (its outer pixel borders, mapped into the crop); 0 for
        points on or outside the image.
        """
        pts = np.asarray(points, dtype=np.float64)[:, :2]
        x0, y0, x1, y1 = self._picture_box(width, height)
        d = np.minimum(np.minimum(pts[:, 0] - x0, x1 - pts[:, 0]), np.minimum(pts[:, 1] - y0, y1 - pts[:, 1]))
        return np.maximum(d, 0.0)

    def extract(self, image: np.ndarray, soften: float = 0.0) -> np.ndarray:
        """The crop of ``image`` (HxWxC uint8) at working resolution.

        Where the crop reaches past the image (a tightly framed portrait), the
        image's edge pixels are repeated outwards, which draws streaks; they
        are blurred (Gaussian sigma ``soften`` crop sides, 0: kept as they
        are), fading in over two sigmas from the image's edge, so the margin
        reads as an out-of-focus continuation
        (:attr:`reenactor.config.RenderConfig.crop_margin_blur`). Pixels
        inside the image are never changed.
        """
        crop = self._warp(image)
        dist = self.outside_distance(image.shape[1], image.shape[0])
        if soften <= 0 or not np.any(dist > 0):
            return crop
        sigma = soften * self.size
        w = smoothstep(dist, 0.0, 2.0 * sigma)
        w = w[..., None] if crop.ndim == 3 else w
        blurred = cv2.GaussianBlur(crop.astype(np.float32), (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
        return np.clip((1.0 - w) * crop + w * blurred, 0, 255).astype(crop.dtype)

    def _warp(self, image: np.ndarray) -> np.ndarray:
        """The crop with the image's border pixels repeated outwards."""
        m = self.matrix
        if self.scale < 0.5:  # shrink with area averaging first: no aliasing
            f = 2.0 * self.scale
            h, w = image.shape[:2]
            image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
            m = m.copy()
            m[:, :2] /= f
        return cv2.warpAffine(image, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
