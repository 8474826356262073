"""Inner mouth: what shows between the lips when the portrait opens its mouth.

A warp can only stretch the portrait's closed lips over the opening. Instead,
once the target opening exceeds the portrait's own, the inner-lip polygon is
filled with

* ``driver``: the driver's own inner mouth (teeth, tongue, cavity), cut from the
  driver frame around its inner lips, mapped onto the target inner-lip contour
  by an affine fit and colour-matched to the portrait's lips (Lab), or
* ``synthetic``: a procedural cavity with upper and lower teeth, lit like the
  portrait (used for built-in motions, which have no driver frames), or
* ``learned``: painted by the shipped inner-mouth network from the target lip
  shape and the portrait's lip and skin colours (no driver frame needed; see
  :mod:`reenactor.render.mouth_learned`), or
* ``fdgan``: the FD-GAN translator, its feature dictionaries written from the
  portrait's own lips, conditioned on the target landmarks and the portrait
  warped onto them (:mod:`reenactor.render.mouth_fdgan`); a model trained
  with ``--cond hint`` also reads the driver's mouth layout (bright teeth,
  dark cavity; :mod:`reenactor.render.mouth_hint`) unless ``mouth_hint`` is off,

blended with a feathered mask. All images are HxWx3 uint8 RGB; landmark arrays
are (478, 2+) pixels in the image being drawn on.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reenactor.config import MOUTH_MODES, RenderConfig
from reenactor.face import topology as T

_PATCH_W, _PATCH_H = 128, 96


@dataclass(frozen=True)
class MouthPatch:
    """A driver's mouth, cut out and roll-normalised.

    Attributes:
        image: (96, 128, 3) uint8 RGB patch around the mouth.
        inner: (20, 2) float inner-lip loop in patch pixels.
        lip_lab: (3,) float32 mean Lab colour of the driver's lips (OpenCV
            float Lab: L in 0..100).
    """

    image: np.ndarray
    inner: np.ndarray
    lip_lab: np.ndarray


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _rgb(lab: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0, 0, 255)


def lip_ring_mask(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(H, W) bool mask of the lips: outer-lip polygon minus the inner one."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(landmarks[list(T.OUTER_LIP_LOOP), :2]).astype(np.int32)], 1)
    cv2.fillPoly(m, [np.round(landmarks[list(T.INNER_LIP_LOOP), :2]).astype(np.int32)], 0)
    return m.astype(bool)


def mean_lip_lab(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Mean Lab colour of the lips of ``image`` (HxWx3 uint8 RGB)."""
    x0, y0 = np.floor(landmarks[list(T.OUTER_LIP_LOOP), :2].min(0)).astype(int) - 2
    x1, y1 = np.ceil(landmarks[list(T.OUTER_LIP_LOOP), :2].max(0)).astype(int) + 3
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return np.array([50.0, 20.0, 10.0], np.float32)
    roi = image[y0:y1, x0:x1]
    lm = landmarks[:, :2] - np.array([x0, y0])
    m = lip_ring_mask(roi.shape[:2], lm)
    if m.sum() < 4:
        return np.array([50.0, 20.0, 10.0], np.float32)
    return _lab(roi)[m].mean(0)


def mouth_opening(landmarks: np.ndarray) -> float:
    """Inner-lip gap divided by the mouth width (2D, along the face's vertical)."""
    lm = landmarks[:, :2].astype(np.float64)
    width = np.linalg.norm(lm[T.MOUTH_CORNERS[1]] - lm[T.MOUTH_CORNERS[0]]) + 1e-9
    down = lm[T.CHIN] - lm[T.FOREHEAD_TOP]
    down /= np.linalg.norm(down) + 1e-9
    gaps = [(lm[lo] - lm[up]) @ down for up, lo in T.INNER_LIP_PAIRS]
    return float(np.mean(gaps) / width)


def inner_lip_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """(2, 3) float64 least-squares affine taking inner-lip loop ``src`` onto ``dst`` (each (20, 2) xy,
    ``T.INNER_LIP_LOOP`` order): how a driver's mouth is mapped onto a target's opening."""
    x = np.hstack([np.asarray(src, np.float64), np.ones((len(src), 1))])
    sol, *_ = np.linalg.lstsq(x, np.asarray(dst, np.float64), rcond=None)
    return sol.T


def extract_mouth_patch(frame: np.ndarray, landmarks: np.ndarray) -> MouthPatch:
    """Cut the driver's mouth out of a frame.

    Args:
        frame: HxWx3 uint8 RGB driver frame.
        landmarks: (478, 2+) driver landmarks in frame pixels.
    """
    lm = landmarks[:, :2].astype(np.float64)
    left, right = lm[T.MOUTH_CORNERS[0]], lm[T.MOUTH_CORNERS[1]]
    centre = lm[list(T.INNER_LIP_LOOP)].mean(0)
    vec = right - left
    width = np.linalg.norm(vec) + 1e-9
    scale = 0.6 * _PATCH_W / width
    ang = np.arctan2(vec[1], vec[0])
    c, s = np.cos(-ang) * scale, np.sin(-ang) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    m[:, 2] = np.array([_PATCH_W / 2, _PATCH_H / 2]) - m[:, :2] @ centre
    patch = cv2.warpAffine(frame, m, (_PATCH_W, _PATCH_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inner = lm[list(T.INNER_LIP_LOOP)] @ m[:, :2].T + m[:, 2]
    return MouthPatch(patch, inner.astype(np.float32), mean_lip_lab(frame, landmarks))


class MouthRenderer:
    """Paints the inner mouth of the portrait for target landmarks.

    Args:
        image: the portrait (HxWx3 uint8 RGB) in the space that will be drawn
            on (the working crop or the full image).
        landmarks: (478, 2+) portrait landmarks in that space.
        cfg: rendering options (``mouth`` mode, threshold, feather).
    """

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, cfg: RenderConfig) -> None:
        if cfg.mouth not in MOUTH_MODES:
            raise ValueError(f"unknown mouth mode {cfg.mouth!r} (use {', '.join(MOUTH_MODES)})")
        self.cfg = cfg
        self.painter = None
        if cfg.mouth == "learned":
            from reenactor.render.mouth_learned import LearnedMouthPainter, appearance

            self.painter = LearnedMouthPainter(appearance(image, landmarks), cfg.mouth_model)
        elif cfg.mouth == "fdgan":
            from reenactor.render.mouth_fdgan import FDGANMouthPainter

            self.painter = FDGANMouthPainter(image, landmarks, cfg.fdgan_model)
        self.lip_lab = mean_lip_lab(image, landmarks)
        self.opening = mouth_opening(landmarks)
        cheek = landmarks[[205, 425, 50, 280], :2].round().astype(int)
        h, w = image.shape[:2]
        cheek[:, 0] = np.clip(cheek[:, 0], 0, w - 1)
        cheek[:, 1] = np.clip(cheek[:, 1], 0, h - 1)
        self.skin_lab = _lab(image[cheek[:, 1], cheek[:, 0]][None])[0].mean(0)

    def amount(self, target: np.ndarray) -> float:
        """How much inner mouth to paint, 0..1, for target landmarks."""
        return paint_amount(mouth_opening(target), self.opening, self.cfg)

    def composite(self, out: np.ndarray, target: np.ndarray, patch: MouthPatch | None) -> None:
        """Draw the inner mouth into ``out`` (modified in place).

        Args:
            out: HxWx3 uint8 RGB frame being rendered.
            target: (478, 2+) target landmarks in ``out`` pixels.
            patch: the driver's mouth for this frame, or None (synthetic);
                ``driver`` pastes it, ``fdgan`` with a hint model reads its layout
                (unless ``cfg.mouth_hint`` is off).
        """
        if self.cfg.mouth == "off":
            return
        amount = self.amount(target)
        if amount <= 0:
            return
        inner = target[list(T.INNER_LIP_LOOP), :2].astype(np.float64)
        feather, soft = blend_widths(target, self.cfg.mouth_feather)
        pad = int(np.ceil(3 * feather)) + 2
        h, w = out.shape[:2]
        x0, y0 = np.floor(inner.min(0)).astype(int) - pad
        x1, y1 = np.ceil(inner.max(0)).astype(int) + pad
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
        if x1 - x0 < 3 or y1 - y0 < 3:
            return
        roi = out[y0:y1, x0:x1]
        poly = inner - np.array([x0, y0])
        mask = _opening_mask(poly, roi.shape[:2], soft) * amount
        if self.painter is not None:
            fill = self._learned(out, target, (x0, y0), roi.shape[:2], patch if self.cfg.mouth_hint else None)
        elif self.cfg.mouth == "driver" and patch is not None:
            fill = self._from_driver(patch, poly, roi.shape[:2])
        else:
            fill = self._synthetic(poly, roi.shape[:2])
        a = mask[..., None]
        roi[:] = np.clip(a * fill + (1 - a) * roi.astype(np.float32), 0, 255).astype(np.uint8)

    def _learned(self, out: np.ndarray, target: np.ndarray, origin: tuple[int, int], shape: tuple[int, int],
                 patch: MouthPatch | None) -> np.ndarray:
        painted, m = self.painter.paint(out, target, patch) if self.cfg.mouth == "fdgan" else self.painter.paint(out, target)
        inv = cv2.invertAffineTransform(m)
        inv[:, 2] -= origin
        return cv2.warpAffine(painted, inv, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def _from_driver(self, patch: MouthPatch, poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        m = inner_lip_affine(patch.inner, poly)
        warped = cv2.warpAffine(patch.image, m, (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        lab = _lab(warped)
        # Match lighting to the portrait: luminance ratio of the lips, half the
        # chroma shift (teeth must stay white, not turn lip-coloured).
        ratio = np.clip((self.lip_lab[0] + 5) / (patch.lip_lab[0] + 5), 0.5, 2.0)
        lab[..., 0] = np.clip(lab[..., 0] * ratio, 0, 100)
        lab[..., 1:] += 0.5 * (self.lip_lab[1:] - patch.lip_lab[1:])
        return _rgb(lab)

    def _synthetic(self, poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        left, right = poly[0], poly[10]  # inner-lip corners (78, 308)
        upper = poly[:11]
        lower = poly[10:].tolist() + [poly[0].tolist()]
        lower = np.array(lower)
        xq = np.clip(xs, min(left[0], right[0]), max(left[0], right[0]))
        up_y = np.interp(xq, upper[:, 0][np.argsort(upper[:, 0])], upper[:, 1][np.argsort(upper[:, 0])])
        lo_y = np.interp(xq, lower[:, 0][np.argsort(lower[:, 0])], lower[:, 1][np.argsort(lower[:, 0])])
        gap = np.maximum(lo_y - up_y, 1e-3)
        t = (ys - up_y) / gap  # 0 at the upper lip, 1 at the lower lip
        mw = max(abs(right[0] - left[0]), 1.0)
        u = np.clip((xs - left[0]) / (right[0] - left[0] + 1e-6), 0, 1)
        lab = np.zeros((h, w, 3), np.float32)
        # Cavity: dark, lip-tinted, darker in the middle and towards the back.
        lab[..., 0] = self.lip_lab[0] * (0.22 + 0.12 * np.abs(u - 0.5) * 2)
        lab[..., 1] = self.lip_lab[1] * 0.6
        lab[..., 2] = self.lip_lab[2] * 0.4
        tooth_l = np.clip(self.skin_lab[0] * 1.05 + 8, 55, 92)
        edge = 1.0 - 0.35 * (np.abs(u - 0.5) * 2) ** 2  # teeth recede at the corners
        upper_h = np.minimum(0.42, 0.16 * mw / gap)
        lower_h = np.minimum(0.25, 0.09 * mw / gap)
        for band, shade in (((t >= 0) & (t <= upper_h), 1.0), ((t <= 1) & (t >= 1 - lower_h), 0.8)):
            lab[..., 0] = np.where(band, tooth_l * shade * edge, lab[..., 0])
            lab[..., 1] = np.where(band, 1.5, lab[..., 1])
            lab[..., 2] = np.where(band, 6.0, lab[..., 2])
        lab[..., 0] = cv2.GaussianBlur(lab[..., 0], (0, 0), max(0.6, 0.012 * mw))
        return _rgb(lab)


def paint_amount(target_opening: float, portrait_opening: float, cfg: RenderConfig) -> float:
    """How much inner mouth to paint, 0..1: 0 until the target's opening (:func:`mouth_opening`,
    mouth widths) exceeds the portrait's by ``mouth_open_threshold``, 1 from ``mouth_open_ramp`` further."""
    extra = target_opening - portrait_opening - cfg.mouth_open_threshold
    return float(np.clip(extra / cfg.mouth_open_ramp, 0.0, 1.0))


def blend_widths(target: np.ndarray, feather_frac: float) -> tuple[float, float]:
    """(feather, soft) in ``target``'s pixels for the opening's blend mask.

    ``feather`` = ``feather_frac`` mouth widths (at least 1 px). The mask keeps
    the lip edge itself from the warp: it is shrunk, then softened, by
    ``soft`` = half the feather, but by at most a fifth of the gap, so a
    slightly parted mouth still shows a dark opening instead of being eroded
    away to stretched lip texture.

    Args:
        target: (478, 2+) landmarks, pixel xy (any similarity of the frame).
    """
    width = float(np.linalg.norm(target[T.MOUTH_CORNERS[1], :2] - target[T.MOUTH_CORNERS[0], :2]))
    feather = max(1.0, feather_frac * width)
    return feather, min(feather * 0.5, 0.2 * mouth_opening(target) * width)


def opening_blend(target: np.ndarray, shape: tuple[int, int], feather_frac: float) -> np.ndarray:
    """(h, w) float32 0..1: the renderer's blend mask of the inner mouth for ``target`` ((478, 2+) px of
    an image of ``shape``), before the paint amount; what ``--mouth`` modes are composited with."""
    inner = target[list(T.INNER_LIP_LOOP), :2].astype(np.float64)
    return _opening_mask(inner, shape, blend_widths(target, feather_frac)[1])


#: Erosion radius (px) above which the opening's mask is drawn shrunk: an elliptic
#: erosion costs its area per pixel (48 ms a frame for a 2000 px face at 4000 px).
_MASK_RADIUS = 8


def _opening_mask(poly: np.ndarray, shape: tuple[int, int], soft: float) -> np.ndarray:
    """(h, w) float32 mask of the mouth opening ``poly`` ((N, 2) px), eroded by
    ``soft`` px and blurred by sigma ``soft``.

    Beyond an erosion of :data:`_MASK_RADIUS` px it is drawn at the scale that
    brings the radius to that, then enlarged (it is smooth at that scale).
    """
    h, w = shape
    f = max(1.0, soft / _MASK_RADIUS)
    size = (max(1, round(w / f)), max(1, round(h / f))) if f > 1.0 else (w, h)
    mask = np.zeros((size[1], size[0]), np.float32)
    cv2.fillPoly(mask, [np.round(poly / f * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    k = int(round(soft / f))
    if k >= 1:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, soft / f))
    return mask if f == 1.0 else cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
