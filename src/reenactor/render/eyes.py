"""Irises that follow the driver's gaze, clipped by the eyelids.

At preparation the portrait's irises are lifted off: each iris disc is cut out
(its hidden part completed from the visible part rotated by 180°, irises
being roughly point-symmetric) and the eye opening under it is inpainted, so
the warp moves lids over plain sclera. Each frame, the iris is pasted back at
its retargeted centre and size, clipped to the retargeted eye opening, so a
blink hides it and a glance moves it without stretching the sclera.

Images are HxWx3 uint8 RGB; landmarks (478, 2+) in the same pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.numeric import smoothstep


@dataclass(frozen=True)
class IrisSprite:
    """One iris, ready to paste.

    Attributes:
        rgba: (S, S, 4) float32, RGB 0..255 and alpha 0..1, centred on the iris.
        radius: iris radius in the source image, pixels.
        centre: (2,) iris centre in sprite pixels (x, y).
    """

    rgba: np.ndarray
    radius: float
    centre: np.ndarray


def _iris_geometry(landmarks: np.ndarray, iris: tuple[int, ...]) -> tuple[np.ndarray, float]:
    pts = landmarks[list(iris), :2].astype(np.float64)
    centre = pts[0]
    radius = float(np.linalg.norm(pts[1:] - centre, axis=1).mean())
    return centre, radius


def _opening_mask(shape: tuple[int, int], loop: np.ndarray, offset: np.ndarray) -> np.ndarray:
    m = np.zeros(shape, np.float32)
    cv2.fillPoly(m, [np.round((loop - offset) * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    return m


class EyeRenderer:
    """Removes the irises from a portrait and re-draws them for target landmarks.

    Args:
        image: HxWx3 uint8 RGB portrait in the drawing space.
        landmarks: (478, 2+) portrait landmarks in that space.

    Attributes:
        base: the portrait with its irises inpainted (what the warp samples).
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray) -> None:
        self.base = image.copy()
        self.sprites: list[IrisSprite | None] = []
        for iris, loop in ((T.RIGHT_IRIS, T.RIGHT_EYE_LOOP), (T.LEFT_IRIS, T.LEFT_EYE_LOOP)):
            self.sprites.append(self._lift(image, landmarks, iris, loop))

    def _lift(self, image: np.ndarray, lm: np.ndarray, iris, loop) -> IrisSprite | None:
        centre, r = _iris_geometry(lm, iris)
        if r < 1.5:
            return None
        half = int(np.ceil(r * 1.6)) + 2
        cx, cy = int(round(centre[0])), int(round(centre[1]))
        h, w = image.shape[:2]
        x0, y0, x1, y1 = cx - half, cy - half, cx + half + 1, cy + half + 1
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            return None
        roi = image[y0:y1, x0:x1].astype(np.float32)
        off = np.array([x0, y0], np.float64)
        opening = _opening_mask(roi.shape[:2], lm[list(loop), :2], off)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        dist = np.hypot(xx - centre[0], yy - centre[1])
        disc = np.clip(r + 0.5 - dist, 0.0, 1.0).astype(np.float32)
        visible = (opening > 0.5) & (disc > 0.5)
        # Complete hidden iris parts from the point-symmetric pixel.
        rgb = roi.copy()
        known = visible.copy()
        m = cv2.getRotationMatrix2D((centre[0] - x0, centre[1] - y0), 180, 1.0)
        rot = cv2.warpAffine(roi, m, (roi.shape[1], roi.shape[0]), flags=cv2.INTER_LINEAR)
        rot_ok = cv2.warpAffine(visible.astype(np.uint8), m, (roi.shape[1], roi.shape[0]), flags=cv2.INTER_NEAREST).astype(bool)
        fill = (disc > 0) & ~known & rot_ok
        rgb[fill] = rot[fill]
        known |= fill
        if known.sum() < 4:
            return None
        # Anything still unknown inside the disc takes the mean visible colour.
        rest = (disc > 0) & ~known
        rgb[rest] = roi[visible].mean(0) if visible.any() else rgb[rest]
        alpha = disc
        # Inpaint what the iris covered inside the opening (slightly larger);
        # the opening is grown by a quarter of the iris radius so iris pixels
        # just outside the landmark lid line do not stay on the lid margin
        # (they would ride up with the lid when the eye opens wider).
        grow = max(1, int(round(0.25 * r)))
        grown = cv2.dilate((opening > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        hole = ((dist <= r * 1.15 + 1) & (grown > 0)).astype(np.uint8)
        big_pad = half
        bx0, by0 = max(0, x0 - big_pad), max(0, y0 - big_pad)
        bx1, by1 = min(w, x1 + big_pad), min(h, y1 + big_pad)
        region = np.ascontiguousarray(self.base[by0:by1, bx0:bx1])
        hmask = np.zeros(region.shape[:2], np.uint8)
        hmask[y0 - by0:y1 - by0, x0 - bx0:x1 - bx0] = hole
        self.base[by0:by1, bx0:bx1] = cv2.inpaint(region, hmask, max(2.0, r * 0.5), cv2.INPAINT_TELEA)
        rgba = np.dstack([rgb, alpha]).astype(np.float32)
        return IrisSprite(rgba, r, centre - off)

    def composite(self, out: np.ndarray, target: np.ndarray) -> None:
        """Paste both irises into ``out`` (in place) for target landmarks (478, 2+)."""
        sides = zip(self.sprites, (T.RIGHT_IRIS, T.LEFT_IRIS), (T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP), (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS))
        for sprite, iris, loop, lids in sides:
            if sprite is None:
                continue
            centre, r = _iris_geometry(target, iris)
            # A closing eye's opening polygon collapses to an anti-aliased line,
            # which would still draw a smear of iris along the closed lids
            # (seen on winks): the iris fades out as the widest lid gap falls
            # from half to a fifth of its radius.
            gap = max(float(np.linalg.norm(target[a, :2] - target[b, :2])) for a, b in lids)
            shown = float(smoothstep(gap / max(r, 1e-6), 0.2, 0.5))
            if shown <= 0.0:
                continue
            s = r / sprite.radius if sprite.radius > 0 else 1.0
            size = sprite.rgba.shape[0]
            half_out = int(np.ceil(size * s / 2)) + 2
            cx, cy = int(round(centre[0])), int(round(centre[1]))
            h, w = out.shape[:2]
            x0, y0 = max(0, cx - half_out), max(0, cy - half_out)
            x1, y1 = min(w, cx + half_out + 1), min(h, cy + half_out + 1)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            c_src = sprite.centre
            m = np.array([[s, 0, centre[0] - x0 - s * c_src[0]], [0, s, centre[1] - y0 - s * c_src[1]]])
            spr = cv2.warpAffine(sprite.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            opening = _opening_mask((y1 - y0, x1 - x0), target[list(loop), :2], np.array([x0, y0], np.float64))
            a = (shown * spr[..., 3] * opening)[..., None]
            roi = out[y0:y1, x0:x1]
            roi[:] = np.clip(a * spr[..., :3] + (1 - a) * roi.astype(np.float32), 0, 255).astype(np.uint8)
