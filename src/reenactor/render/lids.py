"""Closing upper lids: without streaks, with a lash line.

A wide-open portrait eye hides most of its upper-lid skin in the crease, so
the warp has only a thin band of it (between the lash line and the mesh ring
above the lid) to cover the whole closed lid. Stretched several times
vertically, every small horizontal change of colour in that band (a crease
line, eyeshadow, the tips of lashes) becomes a vertical streak. Real lid skin
is smooth along the lid, so where the band is stretched this module replaces
it by the same pixels blurred along the eye's axis: the streaks go, the
vertical shading (crease shadow, eyeshadow fading towards the lashes) stays.

A closed eye also needs its lash line: the warped lashes of a wide-open eye
are a broken row of strokes, so :func:`paint_lash_lines` lays a soft,
continuous line of the portrait's own lash colour along a closing lid.

Images are HxWx3 uint8 RGB; landmarks (478, 2+) in the same pixels (x right,
y down).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.numeric import corner_arc, smoothstep


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
    from reenactor.render.mesh import source_memo
    from reenactor.render.warp import LASH_FIRST, with_lash_points

    def full(points: np.ndarray) -> np.ndarray:
        p = np.zeros((T.N_LANDMARKS, 3))
        p[:, : min(3, points.shape[1])] = points[: T.N_LANDMARKS, :3]
        return T.with_virtual_points(p)

    src_v, dst_v = with_lash_points(source_memo("lid-vertices", source, lambda: full(source)), full(target), lash_fraction)
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


# ------------------------------------------------------------------ lash line
@dataclass(frozen=True)
class LashLine:
    """One eye's lash line as the portrait shows it, measured once.

    Attributes:
        colour: (3,) float32 RGB 0..255, the mean of the darkest fifth of the
            pixels in a thin band along the upper lid (lashes, liner).
        opening: the portrait's lid gap over its eye width (both along the
            face's vertical), the opening a closing eye is measured against.
    """

    colour: np.ndarray
    opening: float


def _lid_geometry(lm: np.ndarray, upper: tuple[int, ...], pairs, corners) -> tuple[np.ndarray, float, float]:
    """(upper-lid polyline (9, 2), lid gap / eye width, eye width) of (478, 2+) landmarks."""
    pts = np.asarray(lm, dtype=np.float64)[:, :2]
    axis = pts[corners[1]] - pts[corners[0]]
    width = float(np.linalg.norm(axis))
    down = np.array([-axis[1], axis[0]]) / max(width, 1e-6)
    if down[1] < 0:
        down = -down
    gap = float(np.mean([(pts[lo] - pts[up]) @ down for up, lo in pairs]))
    return pts[list(upper)], gap / max(width, 1e-6), width


_EYES = (
    (T.RIGHT_UPPER_LID, T.RIGHT_LID_PAIRS, T.RIGHT_EYE_CORNERS),
    (T.LEFT_UPPER_LID, T.LEFT_LID_PAIRS, T.LEFT_EYE_CORNERS),
)


def _smooth_arc(lid: np.ndarray, samples: int = 17) -> np.ndarray:
    """A smooth version of an upper-lid polyline (K, 2), corner to corner: (samples, 2).

    The tracked points of a closing lid can wave; a lid's margin is one arc
    (:func:`reenactor.numeric.corner_arc`).
    """
    return corner_arc(lid[0], lid[-1], lid[1:-1], np.linspace(0.0, 1.0, samples))


def measure_lash_lines(image: np.ndarray, landmarks: np.ndarray) -> list[LashLine]:
    """The portrait's two lash lines (right eye, then left).

    Args:
        image: HxWx3 uint8 RGB portrait.
        landmarks: (478, 2+) its landmarks, same pixels.
    """
    h, w = image.shape[:2]
    out = []
    for upper, pairs, corners in _EYES:
        lid, opening, width = _lid_geometry(landmarks, upper, pairs, corners)
        # The lash band: the upper lid contour thickened upwards by ~8% of the eye width,
        # drawn in a box around it (not a mask of the whole portrait).
        thick = max(1, int(round(0.08 * width)))
        line = np.round(lid - (0, 0.5 * thick)).astype(np.int32)
        x0, y0 = np.maximum(line.min(0) - thick - 1, 0)
        x1, y1 = np.minimum(line.max(0) + thick + 2, (w, h))
        band = np.zeros((max(0, y1 - y0), max(0, x1 - x0)), np.uint8)
        if band.size:
            cv2.polylines(band, [line - (x0, y0)], False, 1, thick)
        pix = image[y0:y1, x0:x1][band > 0].astype(np.float32)
        if len(pix) < 5:
            colour = np.array([40.0, 30.0, 25.0], np.float32)
        else:
            lum = pix @ np.array([0.299, 0.587, 0.114], np.float32)
            colour = pix[lum <= np.percentile(lum, 20)].mean(0)
        out.append(LashLine(colour.astype(np.float32), opening))
    return out


def paint_lash_lines(
    out: np.ndarray,
    lashes: list[LashLine],
    target: np.ndarray,
    closing: tuple[float, float],
    strength: float,
    thickness: float,
) -> None:
    """Draw a soft lash line along the lid margin of closing eyes (in place).

    A closed eye reads as closed by its dark lash line. The warp carries the
    portrait's own lashes down, but a wide-open eye's lashes are a broken row
    of strokes, which stretched along a closed lid read as a dotted line, and
    as a half-open eye to a landmark detector. Where an eye closes, a
    continuous line of the portrait's lash colour is laid along the target
    upper lid, fading out towards the corners.

    Args:
        out: HxWx3 uint8 RGB rendered frame, modified in place.
        lashes: from :func:`measure_lash_lines` (same pixels as ``out``).
        target: (478, 2+) target landmarks in ``out``'s pixels.
        closing: closure (1 - target opening / portrait opening) where the
            line starts to show and where it is at full strength.
        strength: opacity at full closure (0 draws nothing).
        thickness: line thickness in eye widths.
    """
    if strength <= 0:
        return
    h, w = out.shape[:2]
    for lash, (upper, pairs, corners) in zip(lashes, _EYES):
        lid, opening, width = _lid_geometry(target, upper, pairs, corners)
        if width < 4.0 or lash.opening <= 1e-6:
            continue
        closure = 1.0 - opening / lash.opening
        alpha = strength * float(smoothstep(np.array(closure), *closing))
        if alpha <= 0.0:
            continue
        lid = _smooth_arc(lid)
        t = max(1.0, thickness * width)
        box = _lash_box(lid, t, (w, h))
        if box is None:
            continue
        x0, y0, x1, y1 = box
        roi = out[y0:y1, x0:x1]
        m = (alpha * _lash_mask(lid, t, box))[..., None]
        roi[:] = np.clip(m * lash.colour + (1.0 - m) * roi.astype(np.float32), 0, 255).astype(np.uint8)


def _lash_box(lid: np.ndarray, t: float, size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The pixels ``(x0, y0, x1, y1)`` a lash line ``t`` pixels thick along ``lid``
    ((K, 2) float pixels) can touch, clipped to ``size`` = (width, height); None
    when the box is under 3 pixels across."""
    w, h = size
    pad = int(np.ceil(2.0 * t)) + 2
    x0, y0 = np.floor(lid.min(0)).astype(int) - pad
    x1, y1 = np.ceil(lid.max(0)).astype(int) + pad + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return None
    return x0, y0, x1, y1


def _lash_mask(lid: np.ndarray, t: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """(y1 - y0, x1 - x0) float32 opacity 0..1 over ``box``: a soft line ``t`` pixels
    thick along ``lid`` ((K, 2) float pixels), thinning out towards its ends."""
    x0, y0, x1, y1 = box
    # Supersampled by 4, centred a third of the thickness above the lid margin.
    s = 4
    big = np.zeros(((y1 - y0) * s, (x1 - x0) * s), np.uint8)
    line = (lid - (x0, y0) - (0, t / 3.0) + 0.5) * s - 0.5
    cv2.polylines(big, [np.round(line * 16).astype(np.int32)], False, 255, max(1, int(round(t * s))), cv2.LINE_AA, shift=4)
    mask = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, 0.3 * t))
    # Thinner towards the corners: fade over the outer and inner fifth of the eye.
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    a, b = lid[0], lid[-1]
    axis = (b - a) / max(np.linalg.norm(b - a), 1e-6)
    u = ((xs - a[0]) * axis[0] + (ys - a[1]) * axis[1]) / max(np.linalg.norm(b - a), 1e-6)
    mask *= smoothstep(np.minimum(u, 1.0 - u), 0.0, 0.2)
    return mask
