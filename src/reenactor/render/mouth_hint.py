"""The driver's mouth as a hint to the FD-GAN inner mouth (translator condition ``"hint"``).

The portrait's lips and the target landmarks fix the shape of an opening, not
what shows inside it: upper teeth, both rows, a tongue or a dark cavity. A
painter that must guess paints the average (a flat, pale band; docs/fdgan.md,
session 18). In cross-reenactment the driver's own mouth answers the question,
so a ``"hint"`` translator also sees the driver's inner mouth, reduced to a
blurred brightness layout relative to the driver's own inner lip edge: bright
= teeth, dark = cavity. Colour and detail still come from the portrait (its
dictionaries and the learned painter's fill): a painting keeps painted
teeth, and a small, blurry driver passes on only a layout that is blurred anyway.

Channels (:func:`hint_channels`), each (S, S) float32 in crop pixels:

* 0: ``(grey - ring) / HINT_SCALE`` clipped to +-``HINT_CLIP``, where grey is
  the driver crop's luminance (0..255) blurred by ``sigma`` px and ring the mean
  grey of a thin band just outside the inner-lip polygon (the lips' inner
  edge); inside the hole (the inner-lip polygon dilated by
  :data:`reenactor.render.landmark_image.HOLE_DILATE` px), 0 outside;
* 1: the hole (1 inside) when a hint is given; all 0 without one.

Without a hint (:func:`no_hint`: the still and motion sources, and the self
measurement, which withholds the driver's mouth because there it *is* the
answer) both channels are 0; training drops the hint from
:data:`HINT_DROP` of its pairs, so that case is trained too.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.render import landmark_image as L
from reenactor.render.mouth import inner_lip_affine

#: Grey levels per unit of the hint channel, and its clip.
HINT_SCALE = 64.0
HINT_CLIP = 2.0
#: Blur (crop px at the 80 px lips crop) of the hint at run time.
HINT_SIGMA = 1.2
#: Share of training pairs whose hint is withheld.
HINT_DROP = 0.5
#: Training jitter of the hint's alignment: rotation (deg), scale, shift (px); blur range (px).
JITTER_ROT, JITTER_SCALE, JITTER_SHIFT, SIGMA_RANGE = 3.0, 0.04, 1.0, (0.6, 2.0)


def no_hint(size: int) -> np.ndarray:
    """(2, size, size) float32 zeros: no driver mouth."""
    return np.zeros((2, size, size), np.float32)


def hint_channels(image: np.ndarray, points: np.ndarray, sigma: float = HINT_SIGMA, hole: np.ndarray | None = None) -> np.ndarray:
    """The hint from a driver mouth already aligned to the crop.

    Args:
        image: (S, S, 3) uint8 RGB, the driver's mouth in crop pixels (its inner
            lips on the target's, e.g. :func:`driver_in_crop`).
        points: (478, 2+) target landmarks in crop pixels.
        sigma: blur of the brightness layout, crop px.
        hole: (S, S) float32 0/1 :func:`reenactor.render.landmark_image.hole_mask` of ``points``
            when the caller has it already (the run-time condition), else drawn here.

    Returns:
        (2, S, S) float32: the layout (channel 0) and the hole (channel 1).
    """
    size = image.shape[0]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    if sigma > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), sigma)
    hole = L.hole_mask(points, size) if hole is None else hole
    ring = cv2.dilate(hole, np.ones((5, 5), np.uint8)) - hole
    ref = float((grey * ring).sum() / max(ring.sum(), 1.0))
    layout = np.clip((grey - ref) / HINT_SCALE, -HINT_CLIP, HINT_CLIP) * hole
    return np.stack([layout, hole]).astype(np.float32)


def driver_in_crop(patch_image: np.ndarray, patch_inner: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    """The driver's mouth patch mapped into the crop by the affine fit of its inner-lip loop onto the target's.

    Args:
        patch_image: (h, w, 3) uint8 RGB driver mouth patch
            (:class:`reenactor.render.mouth.MouthPatch`).
        patch_inner: (20, 2) its inner-lip loop (``T.INNER_LIP_LOOP`` order) in patch pixels.
        points: (478, 2+) target landmarks in crop pixels.
        size: crop side S.

    Returns:
        (S, S, 3) uint8 RGB.
    """
    m = inner_lip_affine(patch_inner, np.asarray(points, np.float64)[list(T.INNER_LIP_LOOP), :2])
    return cv2.warpAffine(patch_image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def training_hint(target: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A training pair's hint from its own target crop, misaligned and blurred as a driver's would be,
    or withheld (:data:`HINT_DROP` of the time).

    Args:
        target: (S, S, 3) uint8 RGB target crop (the answer; only its blurred layout is passed on).
        points: (478, 2+) target landmarks in crop pixels.
        rng: random generator.

    Returns:
        (2, S, S) float32 (:func:`hint_channels` or :func:`no_hint`).
    """
    size = target.shape[0]
    if rng.random() < HINT_DROP:
        return no_hint(size)
    centre = np.asarray(points, np.float64)[list(T.INNER_LIP_LOOP), :2].mean(0)
    m = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), rng.uniform(-JITTER_ROT, JITTER_ROT),
                                1.0 + rng.uniform(-JITTER_SCALE, JITTER_SCALE))
    m[:, 2] += rng.uniform(-JITTER_SHIFT, JITTER_SHIFT, 2)
    moved = cv2.warpAffine(target, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    out = hint_channels(moved, points, rng.uniform(*SIGMA_RANGE))
    out[0] *= rng.uniform(0.8, 1.25)  # the driver's teeth may be brighter or duller than the portrait's would be
    return out
