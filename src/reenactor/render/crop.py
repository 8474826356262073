"""The square face crop the pipeline works in, and the way back to the image.

A crop is an axis-aligned similarity ``u = s * x + t`` from portrait-image
pixels ``x`` to crop pixels ``u`` (both (x, y), pixel centres at integers).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.face.topology import CHIN, STABLE_POINTS


@dataclass(frozen=True)
class CropTransform:
    """Image -> crop mapping (uniform scale, then translation).

    Attributes:
        scale: crop pixels per image pixel.
        offset: (2,) translation, crop pixels.
        size: side of the square crop, pixels.
    """

    scale: float
    offset: tuple[float, float]
    size: int

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
        off = cfg.work_size / 2 - s * centre
        return CropTransform(float(s), (float(off[0]), float(off[1])), cfg.work_size)

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

    def extract(self, image: np.ndarray) -> np.ndarray:
        """The crop of ``image`` (HxWxC uint8) at working resolution."""
        m = self.matrix
        if self.scale < 0.5:  # shrink with area averaging first: no aliasing
            f = 2.0 * self.scale
            h, w = image.shape[:2]
            image = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
            m = m.copy()
            m[:, :2] /= f
        return cv2.warpAffine(image, m, (self.size, self.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
