"""Pure metric functions (numpy only; no models).

All image metrics take ``HxWx3`` ``uint8`` RGB arrays of identical shape.
All landmark metrics take dlib-68 landmark arrays: ``(68, 2)`` ``float64``
pixel xy (x right, y down), indices as in the iBUG 300-W annotation
(0-based: jaw 0..16, brows 17..26, nose 27..35, eyes 36..47, mouth 48..67).
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from reenactor.errors import InputError

#: PSNR reported for identical images (the formula gives +inf).
PSNR_IDENTICAL_DB = 100.0

#: dlib ResNet descriptor distance below which two faces are the same person.
IDENTITY_THRESHOLD = 0.6

# dlib-68 index groups (0-based).
LEFT_EYE = tuple(range(36, 42))  # subject's right eye, image left when frontal
RIGHT_EYE = tuple(range(42, 48))
LEFT_BROW = tuple(range(17, 22))
RIGHT_BROW = tuple(range(22, 27))

EXPRESSION_FEATURES = ("mouth_open", "mouth_width", "eye_open", "brow_raise")


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise InputError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise InputError(f"expected uint8 images, got {a.dtype} and {b.dtype}")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images (peak 255).

    Args:
        a, b: images of identical shape, ``uint8``.

    Returns:
        PSNR in dB; :data:`PSNR_IDENTICAL_DB` (100) when the images are identical.
    """
    _same_shape(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return PSNR_IDENTICAL_DB
    return min(PSNR_IDENTICAL_DB, 10.0 * math.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004; 7x7 uniform window, data range 255).

    Args:
        a, b: ``HxWx3`` ``uint8`` RGB of identical shape, H, W >= 7.

    Returns:
        Mean SSIM over pixels and channels, in [-1, 1]; 1.0 for identical images.
    """
    _same_shape(a, b)
    if a.ndim != 3 or min(a.shape[:2]) < 7:
        raise InputError(f"ssim needs HxWx3 images at least 7x7, got {a.shape}")
    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def l1(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference, with pixel values scaled to [0, 1].

    Args:
        a, b: ``uint8`` images of identical shape.

    Returns:
        A value in [0, 1]; 0.0 for identical images.
    """
    _same_shape(a, b)
    return float(np.mean(np.abs(a.astype(np.float64) - b.astype(np.float64))) / 255.0)


def _landmarks(lm: np.ndarray, name: str = "landmarks") -> np.ndarray:
    arr = np.asarray(lm, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name}: expected (N, 2) pixel xy, got shape {arr.shape}")
    return arr


def akd(lm_a: np.ndarray, lm_b: np.ndarray) -> float:
    """Average keypoint distance: mean Euclidean distance of matching landmarks.

    Args:
        lm_a, lm_b: ``(N, 2)`` pixel xy of the same landmark set, in the same
            image frame (the self protocol uses the 256x256 face crop).

    Returns:
        Mean distance in the landmarks' pixel units; 0.0 when identical.
    """
    a = _landmarks(lm_a, "lm_a")
    b = _landmarks(lm_b, "lm_b")
    if a.shape != b.shape:
        raise InputError(f"akd: landmark sets differ in shape: {a.shape} vs {b.shape}")
    return float(np.mean(np.linalg.norm(a - b, axis=1)))


def identity_distance(desc_a: np.ndarray, desc_b: np.ndarray) -> float:
    """Euclidean distance of two dlib face descriptors (``(128,)`` float).

    Same person is typically ~0.3-0.5, different people ~0.7-0.9; dlib's
    verification threshold is :data:`IDENTITY_THRESHOLD` = 0.6.
    """
    a = np.asarray(desc_a, dtype=np.float64).ravel()
    b = np.asarray(desc_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise InputError(f"descriptor shapes differ: {a.shape} vs {b.shape}")
    return float(np.linalg.norm(a - b))


def inter_ocular(lm: np.ndarray) -> float:
    """Distance between the two eye centres (mean of each eye's 6 points), pixels."""
    lm = _landmarks(lm)
    left = lm[list(LEFT_EYE)].mean(axis=0)
    right = lm[list(RIGHT_EYE)].mean(axis=0)
    return float(np.linalg.norm(right - left))


def _dist(lm: np.ndarray, i: int, j: int) -> float:
    return float(np.linalg.norm(lm[i] - lm[j]))


def _point_line_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    n = np.linalg.norm(d)
    if n == 0:
        return np.linalg.norm(p - a, axis=-1)
    return np.abs(d[0] * (p[..., 1] - a[1]) - d[1] * (p[..., 0] - a[0])) / n


def expression_features(lm: np.ndarray) -> dict[str, float]:
    """Four scale-free expression measurements from dlib-68 landmarks.

    Each value is a length divided by the inter-ocular distance (eye centres):

    * ``mouth_open``: mean inner-lip gap (pairs 61-67, 62-66, 63-65);
    * ``mouth_width``: outer mouth corners 48-54;
    * ``eye_open``: mean lid gap (37-41, 38-40, 43-47, 44-46);
    * ``brow_raise``: mean distance of the brow points (17..26) to the line
      through the corners of the eye below them (36-39, 42-45).

    Args:
        lm: ``(68, 2)`` pixel xy.

    Returns:
        ``{name: value}`` for the names in :data:`EXPRESSION_FEATURES`
        (dimensionless, typically 0..1.5).
    """
    lm = _landmarks(lm)
    if lm.shape[0] != 68:
        raise InputError(f"expression_features needs 68 dlib landmarks, got {lm.shape[0]}")
    iod = inter_ocular(lm)
    if iod <= 1e-6:
        raise InputError("degenerate landmarks: zero inter-ocular distance")
    mouth_open = (_dist(lm, 61, 67) + _dist(lm, 62, 66) + _dist(lm, 63, 65)) / 3.0
    mouth_width = _dist(lm, 48, 54)
    eye_open = (_dist(lm, 37, 41) + _dist(lm, 38, 40) + _dist(lm, 43, 47) + _dist(lm, 44, 46)) / 4.0
    brow_l = _point_line_distance(lm[list(LEFT_BROW)], lm[36], lm[39])
    brow_r = _point_line_distance(lm[list(RIGHT_BROW)], lm[42], lm[45])
    brow = float(np.concatenate([brow_l, brow_r]).mean())
    return {
        "mouth_open": mouth_open / iod,
        "mouth_width": mouth_width / iod,
        "eye_open": eye_open / iod,
        "brow_raise": brow / iod,
    }


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length 1-D series.

    A series with (numerically) zero variance carries no co-variation, so the
    correlation is defined as 0.0 in that case (e.g. the static baseline).
    Fewer than 3 samples give NaN.
    """
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise InputError(f"pearson: lengths differ: {x.shape} vs {y.shape}")
    if x.size < 3:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    sx = math.sqrt(float(np.dot(x, x)))
    sy = math.sqrt(float(np.dot(y, y)))
    if sx < 1e-9 * max(1.0, x.size) or sy < 1e-9 * max(1.0, y.size):
        return 0.0
    return float(np.clip(np.dot(x, y) / (sx * sy), -1.0, 1.0))


def jitter(landmarks: list[np.ndarray | None]) -> float:
    """Mean landmark acceleration of a sequence, in % of the inter-ocular distance.

    For every three consecutive frames ``t-1, t, t+1`` that all have
    landmarks, the mean over points of ``|l[t+1] - 2 l[t] + l[t-1]|`` is
    divided by the inter-ocular distance of frame ``t`` and multiplied by 100;
    the result is the mean over such triplets.

    Args:
        landmarks: per frame ``(68, 2)`` pixel xy, or ``None`` where no face.

    Returns:
        Jitter in % IOD per frame^2 (>= 0); NaN when no triplet exists.
    """
    vals = []
    for t in range(1, len(landmarks) - 1):
        a, b, c = landmarks[t - 1], landmarks[t], landmarks[t + 1]
        if a is None or b is None or c is None:
            continue
        iod = inter_ocular(b)
        if iod <= 1e-6:
            continue
        acc = np.linalg.norm(np.asarray(c) - 2.0 * np.asarray(b) + np.asarray(a), axis=1).mean()
        vals.append(100.0 * acc / iod)
    return float(np.mean(vals)) if vals else float("nan")


def nanmean(values) -> float:
    """Mean of the finite entries of ``values`` (NaN when there are none)."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")
