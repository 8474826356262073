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
from reenactor.render.matting import mirror_fill, push_pull_fill, refine_alpha
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
        big = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
        return np.clip(big, 0.0, 1.0, out=big)
    return np.clip(mask, 0.0, 1.0)


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
        side = float(max(image.shape[:2]))
        a = refine_alpha(image, alpha, cfg.layer_refine_radius * side, cfg.layer_refine_eps)
        oval = np.round(np.asarray(landmarks)[list(T.face_oval()), :2] * 16).astype(np.int32)
        cv2.fillPoly(a, [oval], 1.0, lineType=cv2.LINE_8, shift=4)  # the face is the person
        # Snap near-0 and near-1 values (filter ripple) so only true edges stay soft.
        gain = 255.0 / (1.0 - 2 * _SNAP)
        a_u8 = cv2.convertScaleAbs(np.maximum(a - _SNAP, 0.0), alpha=gain)  # rounds and saturates
        del a
        fill, ring = _background_fill(image, a_u8, cfg, side)
        # The plate is the fill over the grown person and the portrait
        # elsewhere. Where the two differ outside the opaque person (hair
        # strands the mask missed, a halo), the person's alpha is raised to
        # the least that explains the pixel as a mix of the plate and some
        # colour in [0, 255], so those pixels travel with the person instead
        # of staying behind as a ghost; the portrait stays exactly reproduced.
        plate = image.copy()
        cv2.copyTo(fill, (a_u8 == 255).view(np.uint8), plate)
        _lift_strands(image, plate, a_u8, fill, ring, cfg, side)
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


def _background_fill(image: np.ndarray, a_u8: np.ndarray, cfg: RenderConfig, side: float) -> tuple[np.ndarray, np.ndarray]:
    """The background behind the person, filled at reduced resolution.

    The hole is the person (``a_u8``, HxW uint8 alpha) grown a little, so no
    hair colour leaks in; near its edge the background's own texture is
    mirrored in, deeper the push-pull fill.

    Returns:
        (fill, ring): HxWx3 uint8 filled background and HxW float32 hole
        weight in [0, 1] (the hole enlarged bilinearly).
    """
    h, w = image.shape[:2]
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
    return fill, ring


def _lift_strands(image: np.ndarray, plate: np.ndarray, a_u8: np.ndarray, fill: np.ndarray, ring: np.ndarray,
                  cfg: RenderConfig, side: float) -> None:
    """Raise the person's alpha (``a_u8``) and set the plate (``plate``), in place, in the
    filled ring outside the opaque person, so that ``plate`` and ``a_u8`` still explain
    ``image`` and thin things (strands the mask missed) and the person's edge halo
    travel with the person while a whole other object next to the hair stays behind.

    ``image``, ``plate``, ``fill``: HxWx3 uint8; ``a_u8``: HxW uint8; ``ring``: HxW float32.
    """
    h, w = a_u8.shape
    ys, xs = np.nonzero((ring > 0) & (a_u8 < 255))
    wr = ring[ys, xs, None]
    px = image[ys, xs].astype(np.float32)
    pl = wr * fill[ys, xs].astype(np.float32) + (1.0 - wr) * px
    with np.errstate(divide="ignore", invalid="ignore"):
        need = np.maximum(np.where(pl > 0, 1.0 - px / pl, 0.0), np.where(pl < 255, (px - pl) / (255.0 - pl), 0.0))
    need = np.clip(need.max(1), 0.0, 1.0).astype(np.float32)
    # Thin things: what a morphological opening removes; plus the halo at the edge.
    k = max(3, int(round(cfg.layer_strand_width * side)) | 1)
    need_img = np.zeros((h, w), np.float32)
    need_img[ys, xs] = need
    thin = need_img - cv2.morphologyEx(need_img, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    edge = cv2.dilate((a_u8 > 127).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    need = np.maximum(thin[ys, xs], need * edge[ys, xs])
    del need_img, thin, edge
    aq = np.maximum(a_u8[ys, xs].astype(np.float32), np.ceil(need * 255.0)) / 255.0
    a_u8[ys, xs] = np.round(aq * 255.0).astype(np.uint8)
    aq = aq[:, None]
    inv = np.maximum(1.0 - aq, 1.0 / 255.0)
    lo = np.where(aq < 1.0, (px - 255.0 * aq) / inv, 0.0)
    hi = np.where(aq < 1.0, px / inv, 255.0)
    plate[ys, xs] = np.clip(np.clip(pl, lo, hi) + 0.5, 0, 255).astype(np.uint8)


def _behind(plate: np.ndarray, alpha_u8: np.ndarray) -> np.ndarray:
    """``(1 - alpha) * plate`` in uint8 (HxWx3), alpha given as HxW uint8 0..255."""
    inv = cv2.cvtColor(cv2.bitwise_not(alpha_u8), cv2.COLOR_GRAY2RGB)
    return cv2.multiply(plate, inv, scale=1.0 / 255.0)


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
    k = max(3, int(0.3 * float(np.ptp(pts, axis=0).max())) | 1)
    # Only the face's box grown by the band's reach can hold band pixels.
    oval = pts[list(T.face_oval())]
    x0, y0 = (max(0, int(np.floor(v)) - k) for v in oval.min(0))
    x1, y1 = (int(np.ceil(v)) + k + 1 for v in oval.max(0))
    x1, y1 = min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return 0.0
    alpha = alpha[y0:y1, x0:x1]
    face = np.zeros(alpha.shape, np.uint8)
    cv2.fillPoly(face, [np.round((oval - (x0, y0)) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
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
