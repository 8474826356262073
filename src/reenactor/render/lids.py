"""Closing upper lids without streaks.

A wide-open portrait eye hides most of its upper-lid skin in the crease, so
the warp has only a thin band of it (between the lash line and the mesh ring
above the lid) to cover the whole closed lid. Stretched several times
vertically, every small horizontal change of colour in that band (a crease
line, eyeshadow, the tips of lashes) becomes a vertical streak. Real lid skin
is smooth along the lid, so where the band is stretched this module replaces
it by the same pixels blurred along the eye's axis: the streaks go, the
vertical shading (crease shadow, eyeshadow fading towards the lashes) stays.

Images are HxWx3 uint8 RGB; landmarks (478, 2+) in the same pixels (x right,
y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.numeric import smoothstep


@dataclass(frozen=True)
class LidBand:
    """The stretched skin band of one upper lid in the target.

    Attributes:
        polygon: (K, 2) float64 pixel xy, the lash line from corner to corner
            then the ring above the lid back (the skin between them).
        stretch: band height in the target over its height in the portrait
            (scaled by the change of eye distance); about 1 while the eye
            stays as open as the portrait's.
        axis: (2,) unit vector from one eye corner to the other.
        width: eye width (corner to corner), pixels.
    """

    polygon: np.ndarray
    stretch: float
    axis: np.ndarray
    width: float


def lid_bands(source: np.ndarray, target: np.ndarray, lash_fraction: float) -> list[LidBand]:
    """The two upper-lid skin bands (right eye, then left) of a target frame.

    Args:
        source: (478, 2+) portrait landmarks.
        target: (478, 2+) target landmarks, same pixels.
        lash_fraction: :attr:`reenactor.config.RenderConfig.lash_fraction`;
            the lash line is placed as the warp places it (0: at the lid).

    Returns:
        Two :class:`LidBand`.
    """
    from reenactor.render.warp import LASH_FIRST, with_lash_points

    def full(points: np.ndarray) -> np.ndarray:
        p = np.zeros((T.N_LANDMARKS, 3))
        p[:, : min(3, points.shape[1])] = points[: T.N_LANDMARKS, :3]
        return T.with_virtual_points(p)

    src_v, dst_v = with_lash_points(full(source), full(target), lash_fraction)
    scale = T.inter_ocular(dst_v) / max(T.inter_ocular(src_v), 1e-6)
    n = len(T.RIGHT_UPPER_LID)
    bands = []
    for e, (ring, corners) in enumerate(((T.RIGHT_LID_RING, T.RIGHT_EYE_CORNERS), (T.LEFT_LID_RING, T.LEFT_EYE_CORNERS))):
        lash = list(range(LASH_FIRST + e * n, LASH_FIRST + (e + 1) * n))
        h_src = np.linalg.norm(src_v[list(ring), :2] - src_v[lash, :2], axis=1).mean() * scale
        h_dst = np.linalg.norm(dst_v[list(ring), :2] - dst_v[lash, :2], axis=1).mean()
        polygon = np.concatenate([dst_v[lash, :2], dst_v[list(ring), :2][::-1]])
        axis = dst_v[corners[1], :2] - dst_v[corners[0], :2]
        width = float(np.linalg.norm(axis))
        bands.append(LidBand(polygon, float(h_dst / max(h_src, 1e-6)), axis / max(width, 1e-6), width))
    return bands


def _along_kernel(axis: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised Gaussian line kernel along ``axis`` (sigma px), 0.7 px across."""
    r = int(np.ceil(3.0 * sigma))
    ys, xs = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    along = xs * axis[0] + ys * axis[1]
    across = -xs * axis[1] + ys * axis[0]
    k = np.exp(-0.5 * (along / sigma) ** 2 - 0.5 * (across / 0.7) ** 2)
    return (k / k.sum()).astype(np.float32)


def smooth_stretched_lids(
    out: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    lash_fraction: float,
    stretch_range: tuple[float, float],
    blur: float,
) -> None:
    """Blur the stretched upper-lid skin of ``out`` along the eyes (in place).

    Args:
        out: HxWx3 uint8 RGB rendered frame, modified in place.
        source: (478, 2+) portrait landmarks in ``out``'s pixels.
        target: (478, 2+) target landmarks in ``out``'s pixels.
        lash_fraction: where the warp put the lash line (see :func:`lid_bands`).
        stretch_range: band stretch where the blur starts and where it is
            complete (smoothstep in between); an eye as open as the
            portrait's is never touched.
        blur: Gaussian sigma along the eye, as a fraction of the eye width.
    """
    h, w = out.shape[:2]
    for band in lid_bands(source, target, lash_fraction):
        weight = float(smoothstep(np.array(band.stretch), *stretch_range))
        if weight <= 0.0 or blur <= 0.0 or band.width < 4.0:
            continue
        sigma = max(1.0, blur * band.width)
        pad = int(np.ceil(3.0 * sigma)) + 2
        x0, y0 = np.floor(band.polygon.min(0)).astype(int) - pad
        x1, y1 = np.ceil(band.polygon.max(0)).astype(int) + pad + 1
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        poly = np.round((band.polygon - (x0, y0)) * 16).astype(np.int32)
        cv2.fillPoly(mask, [poly], 1.0, lineType=cv2.LINE_AA, shift=4)
        # Feathered inwards along the band's own height, not past the lashes.
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.7, 0.015 * band.width)) * mask
        roi = out[y0:y1, x0:x1]
        smooth = cv2.filter2D(roi.astype(np.float32), -1, _along_kernel(band.axis, sigma), borderType=cv2.BORDER_REFLECT101)
        a = (weight * mask)[..., None]
        roi[:] = np.clip(a * smooth + (1.0 - a) * roi.astype(np.float32), 0, 255).astype(np.uint8)
