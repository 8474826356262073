"""Matting helpers of the person/background layers: hole filling and alpha refinement.

* :func:`push_pull_fill`: smooth multi-scale fill of unknown pixels;
* :func:`mirror_fill`: the background's texture continued into a hole by
  reflection across its edge;
* :func:`refine_alpha`: a coarse person mask snapped to the image's colour
  edges (fast guided filter), at the image's own resolution.

Images are HxWx3 (float32 or uint8 as stated), masks HxW float32 in [0, 1].
"""

from __future__ import annotations

import cv2
import numpy as np


def push_pull_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels from the known ones (multi-scale push-pull).

    Unknown regions receive a smooth blend of the surrounding known colours,
    coarse scales filling large holes and fine scales keeping the colours
    next to the hole's edge.

    Args:
        image: HxWxC float32 colours.
        known: HxW float32 weights in [0, 1] (1 = known, 0 = to fill).

    Returns:
        HxWxC float32, equal to ``image`` where ``known`` is 1.
    """
    w = known.astype(np.float32)
    levels = [(image * w[..., None], w)]
    while min(levels[-1][1].shape) > 4:
        c, k = levels[-1]
        levels.append((cv2.pyrDown(c), cv2.pyrDown(k)))
    c, k = levels[-1]
    filled = c.sum((0, 1)) / max(float(k.sum()), 1e-6) * np.ones_like(c)  # the mean colour at the top
    filled = np.where(k[..., None] > 1e-6, c / np.maximum(k, 1e-6)[..., None], filled)
    for c, k in reversed(levels[:-1]):
        up = cv2.pyrUp(filled, dstsize=(k.shape[1], k.shape[0]))
        if up.ndim == 2:
            up = up[..., None]
        conf = np.clip(k * 2.0, 0.0, 1.0)[..., None]  # trust a level once half its support is known
        own = c / np.maximum(k, 1e-6)[..., None]
        filled = conf * own + (1.0 - conf) * up
    return filled


def mirror_fill(image: np.ndarray, hole: np.ndarray, smooth: np.ndarray, depth: float) -> np.ndarray:
    """Continue the background's texture into a hole by mirroring it across the hole's edge.

    Each hole pixel at distance ``d`` from the edge takes the known pixel
    reflected through its nearest edge point (``2 * nearest - p``), so the
    fill is continuous at the edge and keeps the background's grain instead
    of a smooth smear. Deeper than ``depth`` (and where the reflection falls
    outside the image or back into the hole) it fades into ``smooth``.

    Args:
        image: HxWx3 float32 colours (known outside the hole).
        hole: HxW uint8, 1 = to fill.
        smooth: HxWx3 float32 smooth fill of the hole (e.g. push-pull).
        depth: how deep the mirrored texture reaches, pixels.

    Returns:
        HxWx3 float32: ``image`` outside the hole, the blended fill inside.
    """
    out = smooth.copy()
    known = (hole == 0).astype(np.uint8)
    if known.all() or not known.any():
        return out
    dist, labels = cv2.distanceTransformWithLabels(1 - known, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ky, kx = np.nonzero(known)
    lut = np.zeros((labels.max() + 1, 2), np.int64)
    lut[labels[ky, kx]] = np.stack([kx, ky], 1)
    hy, hx = np.nonzero(hole)
    near = lut[labels[hy, hx]]
    sx, sy = 2 * near[:, 0] - hx, 2 * near[:, 1] - hy
    h, w = hole.shape
    ok = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    ok[ok] &= known[sy[ok], sx[ok]] == 1
    d = dist[hy, hx]
    wgt = (1.0 - np.clip((d - depth) / max(depth, 1e-6), 0.0, 1.0)) * ok
    wgt = wgt.astype(np.float32)[:, None]
    mirrored = image[np.where(ok, sy, 0), np.where(ok, sx, 0)]
    out[hy, hx] = wgt * mirrored + (1.0 - wgt) * smooth[hy, hx]
    return out


def refine_alpha(image: np.ndarray, alpha: np.ndarray, radius: float, eps: float, work_side: int = 384) -> np.ndarray:
    """Snap a coarse person mask to the image's colour edges (fast guided filter).

    He & Sun's fast guided filter with a colour guide: the local linear model
    ``alpha ≈ a · rgb + b`` is fitted at reduced resolution (longest side
    ``work_side``), its coefficients smoothed and brought back to full
    resolution, where they are applied to the full-resolution colours, so the
    mask follows hair and shoulder edges at the portrait's own resolution.

    Args:
        image: HxWx3 uint8 RGB guide.
        alpha: HxW float32 coarse mask in [0, 1].
        radius: window radius in pixels of ``image``.
        eps: regularisation, in (0..1 intensity)^2: larger = smoother.
        work_side: longest side the coefficients are fitted at.

    Returns:
        HxW float32 refined alpha in [0, 1].
    """
    h, w = alpha.shape
    f = min(1.0, work_side / float(max(h, w)))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    g = (cv2.resize(image, size, interpolation=cv2.INTER_AREA) if f < 1.0 else image).astype(np.float32) * np.float32(1.0 / 255.0)
    p = cv2.resize(alpha.astype(np.float32), size, interpolation=cv2.INTER_AREA) if f < 1.0 else alpha.astype(np.float32)
    coef, offset = _guided_coefficients(g, p, max(1, int(round(radius * f))), eps)
    q = (coef * g).sum(-1) + offset
    if f >= 1.0:
        return np.clip(q, 0.0, 1.0)
    return _at_full_resolution(image, q, coef, offset)


def _guided_coefficients(g: np.ndarray, p: np.ndarray, r: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Box-smoothed guided-filter coefficients: ((h, w, 3) a, (h, w) b) float32 with
    ``p ≈ a · g + b`` in windows of radius ``r`` (g: (h, w, 3) float32 colours in 0..1)."""
    k = (2 * r + 1, 2 * r + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mean_i = box(g)  # (h, w, 3)
    mean_p = box(p)
    cov_ip = box(g * p[..., None]) - mean_i * mean_p[..., None]
    var = {}
    for a in range(3):
        for b in range(a, 3):
            var[a, b] = box(g[..., a] * g[..., b]) - mean_i[..., a] * mean_i[..., b] + (np.float32(eps) if a == b else 0)
    # Solve (Sigma + eps I) coef = cov_ip per pixel by the symmetric 3x3 adjugate.
    i00 = var[1, 1] * var[2, 2] - var[1, 2] * var[1, 2]
    i01 = var[0, 2] * var[1, 2] - var[0, 1] * var[2, 2]
    i02 = var[0, 1] * var[1, 2] - var[0, 2] * var[1, 1]
    i11 = var[0, 0] * var[2, 2] - var[0, 2] * var[0, 2]
    i12 = var[0, 2] * var[0, 1] - var[0, 0] * var[1, 2]
    i22 = var[0, 0] * var[1, 1] - var[0, 1] * var[0, 1]
    det = var[0, 0] * i00 + var[0, 1] * i01 + var[0, 2] * i02
    c0, c1, c2 = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    coef = np.dstack([i00 * c0 + i01 * c1 + i02 * c2, i01 * c0 + i11 * c1 + i12 * c2, i02 * c0 + i12 * c1 + i22 * c2])
    coef /= det[..., None]
    offset = mean_p - (coef * mean_i).sum(-1)
    return box(coef), box(offset)


def _at_full_resolution(image: np.ndarray, q: np.ndarray, coef: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The low-resolution result ``q`` upsampled to ``image`` (HxWx3 uint8), re-evaluated
    with the full-resolution colours wherever it is not plainly 0 or 1; HxW float32."""
    h, w = image.shape[:2]
    p_shape = q.shape
    out = cv2.resize(np.clip(q, 0.0, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    band = cv2.dilate(((q > 0.01) & (q < 0.99)).astype(np.uint8), np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(cv2.resize(band, (w, h), interpolation=cv2.INTER_NEAREST))
    if len(ys):
        n, cols = len(ys), 1024  # remap wants a 2D map narrower than 32767
        pad = -n % cols
        mx = np.pad((xs + 0.5) * (p_shape[1] / float(w)) - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
        my = np.pad((ys + 0.5) * (p_shape[0] / float(h)) - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
        co = cv2.remap(np.dstack([coef, offset]), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 4)[:n]
        px = image[ys, xs].astype(np.float32) * np.float32(1.0 / 255.0)
        out[ys, xs] = np.clip((co[:, :3] * px).sum(1) + co[:, 3], 0.0, 1.0)
    return out
