"""The person and the background as two layers: the head moves, the background stays.

At preparation (once per portrait and drawing space):

* the person is separated from the background with mediapipe's selfie
  segmentation (run on the part of the portrait the face crop covers, padded
  to a square), refined at the hair edge with a guided filter that follows the
  portrait's own colour edges, and forced opaque inside the face oval;
* the background behind the person is filled once, at reduced resolution:
  near the silhouette with the background's own texture mirrored across it
  (continuous at the edge, keeps the grain), deeper in with a push-pull
  pyramid fill (the surrounding colours diffused inwards); the hole is the
  person grown a little, so no hair or face colour leaks in. This is the
  *plate*;
* the portrait is split into a premultiplied person layer ``C`` and its alpha
  ``a`` such that ``C + (1 - a) * plate`` reproduces the portrait exactly
  (to 1 level of rounding). Around the person, where the portrait differs
  from the plate, ``a`` is raised to the least value that explains the pixel
  as a mix of the plate and a colour in [0, 255], but only for thin things
  (hair strands the mask missed) and the halo at the edge: those travel with
  the person instead of staying behind as ghosts, while a neighbouring
  object of the background stays in the background.

Per frame, the person layer (colour and alpha together) is sampled through
the same backward map as the warp, and composited over the still plate::

    out = C(map) + (1 - a(map)) * plate

Where the person did not move the portrait comes back unchanged; where the
head moved away the plate shows; background pixels are never dragged along by
the head's motion. The neck and shoulders follow the warp's own falloff, so
they blend between the two.

Images are HxWx3 uint8 RGB, alpha HxW float32 in [0, 1] (or uint8 0..255
where stated), coordinates pixel (x, y) with centres at integers.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.config import RenderConfig
from reenactor.errors import InputError
from reenactor.face import topology as T
from reenactor.render.segmentation import selfie_mask

#: Alpha below this (above 1 - this) is taken as 0 (1): guided-filter ripple.
_SNAP = 0.02
#: Longest side an image is brought to before segmentation (the model input is 256).
_SEGMENT_SIDE = 512


def segment_person(image: np.ndarray, model_selection: int = 0, full_size: bool = True) -> np.ndarray:
    """Soft person mask of an image (mediapipe's selfie segmentation network, :mod:`.segmentation`).

    The image is padded to a square with mid grey first (the model works on a
    square input; stretching a tall or wide region distorts hair and
    shoulders).

    Args:
        image: HxWx3 uint8 RGB.
        model_selection: 0 (general, 256x256) or 1 (landscape, 144x256).

        full_size: bring the mask to the image's size (else it stays at most
            512 px on its longer side; :func:`mask_at` enlarges it later).

    Returns:
        HxW float32 person probability in [0, 1].
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError("segment_person needs an HxWx3 uint8 RGB image")
    h, w = image.shape[:2]
    small = image
    if max(h, w) > _SEGMENT_SIDE:  # the model sees 256x256: no need to pad megapixels
        f = _SEGMENT_SIDE / float(max(h, w))
        small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    s = max(sh, sw)
    square = np.full((s, s, 3), 127, np.uint8)
    oy, ox = (s - sh) // 2, (s - sw) // 2
    square[oy : oy + sh, ox : ox + sw] = small
    mask = np.ascontiguousarray(selfie_mask(square, model_selection)[oy : oy + sh, ox : ox + sw])
    return mask_at(mask, (w, h)) if full_size else mask


def mask_at(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float32 mask brought to ``size`` (width, height) (bilinear) and clipped to [0, 1]."""
    if mask.shape[::-1] != tuple(size):
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
    return np.clip(mask, 0.0, 1.0)


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


class PortraitLayers:
    """Person layer and background plate of one region of a drawing space.

    Args:
        image: HxWx3 uint8 RGB region (what the warp samples: the portrait
            with its irises lifted).
        alpha: HxW float32 raw person probability in [0, 1] for that region.
        landmarks: (478, 2+) portrait landmarks in region pixels.
        cfg: rendering options (``layer_*`` fields).

    Attributes:
        person: HxWx4 uint8: premultiplied person colour (RGB) and alpha
            (0..255); ``person[..., :3] + (1 - alpha) * plate == image``.
        plate: HxWx3 uint8 RGB background with the person removed.
    """

    def __init__(self, image: np.ndarray, alpha: np.ndarray, landmarks: np.ndarray, cfg: RenderConfig) -> None:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError("PortraitLayers needs an HxWx3 uint8 RGB image")
        if alpha.shape != image.shape[:2]:
            raise InputError(f"alpha {alpha.shape} does not match the image {image.shape[:2]}")
        h, w = image.shape[:2]
        side = float(max(h, w))
        a = refine_alpha(image, alpha, cfg.layer_refine_radius * side, cfg.layer_refine_eps)
        oval = np.round(np.asarray(landmarks)[list(T.face_oval()), :2] * 16).astype(np.int32)
        cv2.fillPoly(a, [oval], 1.0, lineType=cv2.LINE_8, shift=4)  # the face is the person
        # Snap near-0 and near-1 values (filter ripple) so only true edges stay soft.
        gain = 255.0 / (1.0 - 2 * _SNAP)
        a_u8 = cv2.convertScaleAbs(np.maximum(a - _SNAP, 0.0), alpha=gain)  # rounds and saturates
        # Fill the background behind the person, at reduced resolution: the
        # hole is the person grown a little, so no hair colour leaks in.
        f = min(1.0, cfg.layer_fill_side / side)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        a_small = cv2.resize(a_u8, size, interpolation=cv2.INTER_AREA)
        grow = max(1, int(round(cfg.layer_plate_grow * side * f)))
        hole = cv2.dilate((a_small > 4).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        fill_small = push_pull_fill(small, 1.0 - hole.astype(np.float32))
        if cfg.layer_mirror_depth > 0:
            fill_small = mirror_fill(small, hole, fill_small, cfg.layer_mirror_depth * side * f)
            # Soften the mirrored texture (no saw-tooth seams between reflections).
            soft = cv2.GaussianBlur(fill_small, (0, 0), max(0.8, cfg.layer_fill_blur * side * f))
            fill_small = np.where(hole[..., None] > 0, soft, fill_small)
        fill = cv2.resize(np.clip(fill_small + 0.5, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        ring = cv2.resize(hole.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        # The plate is the fill over the grown person and the portrait
        # elsewhere. Where the two differ outside the opaque person (hair
        # strands the mask missed, a halo), the person's alpha is raised to
        # the least that explains the pixel as a mix of the plate and some
        # colour in [0, 255], so those pixels travel with the person instead
        # of staying behind as a ghost; the portrait stays exactly reproduced.
        plate = image.copy()
        opaque = (a_u8 == 255).view(np.uint8)
        cv2.copyTo(fill, opaque, plate)
        ys, xs = np.nonzero((ring > 0) & (a_u8 < 255))
        wr = ring[ys, xs, None]
        px = image[ys, xs].astype(np.float32)
        pl = wr * fill[ys, xs].astype(np.float32) + (1.0 - wr) * px
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.maximum(np.where(pl > 0, 1.0 - px / pl, 0.0), np.where(pl < 255, (px - pl) / (255.0 - pl), 0.0))
        need = np.clip(need.max(1), 0.0, 1.0).astype(np.float32)
        # Lift only thin things (strands: what a morphological opening
        # removes) and the halo right at the person's edge; a whole other
        # object next to the hair stays in the background.
        k = max(3, int(round(cfg.layer_strand_width * side)) | 1)
        need_img = np.zeros((h, w), np.float32)
        need_img[ys, xs] = need
        thin = need_img - cv2.morphologyEx(need_img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        edge = cv2.dilate((a_u8 > 127).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        need = np.maximum(thin[ys, xs], need * edge[ys, xs])
        aq = np.maximum(a_u8[ys, xs].astype(np.float32), np.ceil(need * 255.0)) / 255.0
        a_u8[ys, xs] = np.round(aq * 255.0).astype(np.uint8)
        aq = aq[:, None]
        inv = np.maximum(1.0 - aq, 1.0 / 255.0)
        lo = np.where(aq < 1.0, (px - 255.0 * aq) / inv, 0.0)
        hi = np.where(aq < 1.0, px / inv, 255.0)
        plate[ys, xs] = np.clip(np.clip(pl, lo, hi) + 0.5, 0, 255).astype(np.uint8)
        # Premultiplied colour, computed with the very arithmetic of composite().
        colour = cv2.subtract(image, _behind(plate, a_u8))
        self.person = cv2.merge([colour, a_u8])
        self.plate = plate

    @property
    def alpha(self) -> np.ndarray:
        """HxW float32 final person alpha in [0, 1] (computed on request, from :attr:`person`)."""
        return self.person[..., 3].astype(np.float32) / 255.0

    def composite(self, map_x: np.ndarray, map_y: np.ndarray, at: tuple[int, int] = (0, 0)) -> np.ndarray:
        """Person layer sampled at the backward map, over the still plate.

        Args:
            map_x, map_y: (h, w) float32 source coordinates, in pixels of this
                region, for the output pixels of the box of the region whose
                top-left corner is ``at`` (x, y); by default the whole region.

        Returns:
            (h, w, 3) uint8 RGB.
        """
        h, w = map_x.shape
        x0, y0 = at
        person = cv2.remap(self.person, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        plate = self.plate[y0 : y0 + h, x0 : x0 + w]
        return cv2.add(cv2.cvtColor(person, cv2.COLOR_RGBA2RGB), _behind(plate, cv2.extractChannel(person, 3)))


def _behind(plate: np.ndarray, alpha_u8: np.ndarray) -> np.ndarray:
    """``(1 - alpha) * plate`` in uint8 (HxWx3), alpha given as HxW uint8 0..255."""
    inv = cv2.cvtColor(cv2.bitwise_not(alpha_u8), cv2.COLOR_GRAY2RGB)
    return cv2.multiply(plate, inv, scale=1.0 / 255.0)


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
    r = max(1, int(round(radius * f)))
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
    coef, offset = box(coef), box(offset)
    q = (coef * g).sum(-1) + offset
    if f >= 1.0:
        return np.clip(q, 0.0, 1.0)
    # Full resolution: the low-resolution result, upsampled, re-evaluated with
    # the full-resolution colours wherever it is not plainly 0 or 1.
    out = cv2.resize(np.clip(q, 0.0, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    band = cv2.dilate(((q > 0.01) & (q < 0.99)).astype(np.uint8), np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(cv2.resize(band, (w, h), interpolation=cv2.INTER_NEAREST))
    if len(ys):
        n, cols = len(ys), 1024  # remap wants a 2D map narrower than 32767
        pad = -n % cols
        mx = np.pad((xs + 0.5) * (p.shape[1] / float(w)) - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
        my = np.pad((ys + 0.5) * (p.shape[0] / float(h)) - 0.5, (0, pad)).astype(np.float32).reshape(-1, cols)
        co = cv2.remap(np.dstack([coef, offset]), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(-1, 4)[:n]
        px = image[ys, xs].astype(np.float32) * np.float32(1.0 / 255.0)
        out[ys, xs] = np.clip((co[:, :3] * px).sum(1) + co[:, 3], 0.0, 1.0)
    return out


def build_layers(
    image: np.ndarray,
    crop,
    base: np.ndarray,
    landmarks: np.ndarray,
    crop_output: bool,
    cfg: RenderConfig,
    cache: dict,
) -> tuple[PortraitLayers | None, tuple[int, int]]:
    """The layers of one drawing space of a prepared portrait.

    The selfie segmentation runs once per portrait, on the part of the
    portrait the face crop covers (``cache["person_alpha"]``, at most 512 px), and is shared by
    both drawing spaces. When it finds too little of a person around the face
    (``cfg.layer_min_cover``; a drawing or an animal it does not recognise),
    there are no layers and the portrait is warped as a whole.

    Args:
        image: HxWx3 uint8 RGB portrait as given.
        crop: its :class:`~reenactor.render.crop.CropTransform`.
        base: what the warp samples in this space: the work_size crop
            (``crop_output``) or the full portrait, irises lifted.
        landmarks: (478, 2+) portrait landmarks in this space's pixels.
        crop_output: True for the crop space, False for the full image.
        cfg: rendering options.
        cache: per-portrait dict kept between calls.

    Returns:
        (layers, (x0, y0)): the layers of the region drawn in (the whole crop,
        or the crop's footprint on the portrait), and that region's top-left
        corner in the space's pixels; layers is None when no person was found.
    """
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop.image_roi(w, h)
    if "person_alpha" not in cache:  # kept at the network's scale (a 4000 px one is 38 MB)
        cache["person_alpha"] = segment_person(np.ascontiguousarray(image[y0:y1, x0:x1]), cfg.layer_model, full_size=False)
    roi_alpha = mask_at(cache["person_alpha"], (x1 - x0, y1 - y0))
    lm = np.asarray(landmarks, dtype=np.float64)[:, :2]
    roi_lm = lm - np.array([x0, y0], np.float64) if not crop_output else crop.to_image(lm) - np.array([x0, y0], np.float64)
    if person_cover(roi_alpha, roi_lm) < cfg.layer_min_cover:
        return None, (0, 0)
    if crop_output:
        full = np.zeros((h, w), np.float32)
        full[y0:y1, x0:x1] = roi_alpha
        return PortraitLayers(base, _extract_alpha(crop, full), lm, cfg), (0, 0)
    region = np.ascontiguousarray(base[y0:y1, x0:x1])
    return PortraitLayers(region, roi_alpha, roi_lm, cfg), (x0, y0)


def person_cover(alpha: np.ndarray, landmarks: np.ndarray) -> float:
    """How much of a band around the face the person mask covers.

    Args:
        alpha: HxW float32 person probability in [0, 1].
        landmarks: (478, 2+) face landmarks in the mask's pixels.

    Returns:
        Fraction in [0, 1] of the pixels within 0.15 face sizes outside the
        face oval where ``alpha`` > 0.5 (hair, ears, neck: about 0.6-1.0 for a
        person; a mask that holds only the face, or nothing, gives ~0).
    """
    h, w = alpha.shape
    pts = np.asarray(landmarks)[:, :2]
    face = np.zeros((h, w), np.uint8)
    cv2.fillPoly(face, [np.round(pts[list(T.face_oval())] * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    k = max(3, int(0.3 * float(np.ptp(pts, axis=0).max())) | 1)
    # The pixels within k/2 of the face: a distance transform, linear in the
    # image size (an elliptic dilation by k took 14 s on a 4000 px portrait).
    dist = cv2.distanceTransform((face == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    band = (dist <= k // 2) & (face == 0)
    if not band.any():
        return 0.0
    return float((alpha[band] > 0.5).mean())


def _extract_alpha(crop, full: np.ndarray) -> np.ndarray:
    """A full-image float32 mask resampled into the crop (replicated border, like the crop)."""
    return cv2.warpAffine(full, crop.matrix, (crop.size, crop.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
