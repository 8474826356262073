"""Landmark images and crop geometry of the FD-GAN translator (numpy + OpenCV only).

Training (:mod:`reenactor.train.fdgan`) and the ONNX run-time wrapper build the
translator's inputs with these functions, so the two cannot drift apart. No
torch here.

The crop (:func:`crop_affine`)
    A similarity (rotation, uniform scale, translation) from image pixels to a
    square ``size x size`` crop. The rotation levels the line through the outer
    eye corners (33 -> 263); the scale comes from the distance between them
    (IOD), so opening or widening the mouth does not rescale the crop:

    * ``"mouth"``: the IOD spans ``MOUTH_IOD`` (0.9) of the side, centred on
      the mean of the outer-lip loop (a closed mouth is then about half the
      crop wide: lips, teeth, philtrum, chin at 64 px of a 128 px crop);
    * ``"lips"``: the IOD spans ``LIPS_IOD`` (1.25) of the side, same centre:
      a closed mouth is about 0.7 of the side (56 px of an 80 px crop), so a
      small crop, cheap for the per-frame translator, still resolves teeth;
    * ``"face"``: the IOD spans ``FACE_IOD`` (0.40) of the side, centred on
      the mean of the face oval (forehead to chin inside the crop).

The landmark image (:func:`landmark_image`)
    (C, size, size) float32 in [0, 1]: anti-aliased polylines through the
    landmarks (0 = background, 1 = on a line), drawn in crop pixels with
    sub-pixel precision (OpenCV ``shift=4``) on an 8-bit canvas, divided by
    255. Line thickness is ``max(1, round(size * LINE_WIDTH))`` pixels with
    ``LINE_WIDTH = 1/128`` (1 px at 128, 2 px at 256); anti-aliasing spreads
    each line over about two pixels. Curves (:data:`CURVES`): face oval,
    brows, eye contours, irises, nose bridge and nostril base, outer and inner
    lip loops. Parts outside the crop are clipped. Channels:

    * ``channels=1``: every curve in channel 0 (the paper's landmark image);
    * ``channels=3``: 0 = face oval + nose, 1 = brows + eyes + irises,
      2 = outer + inner lips.

The warped source (:func:`warp_to_landmarks`)
    The conditioning image of the inner-mouth translator: the source crop
    warped piecewise-affinely so that its landmarks land on the target's,
    over the triangles of the face mesh (:func:`reenactor.face.topology.mesh_triangles`,
    whose mouth fan maps the source's inner mouth onto the target's);
    pixels outside the mesh follow the least-squares affine of all points.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.face import topology as T
from reenactor.render.mesh import fit_affine_2d, triangle_affines

REGIONS = ("mouth", "lips", "face")
#: Outer-eye-corner distance as a fraction of the crop side.
MOUTH_IOD = 0.9
LIPS_IOD = 1.25
FACE_IOD = 0.40
REGION_IOD = {"mouth": MOUTH_IOD, "lips": LIPS_IOD, "face": FACE_IOD}
#: Line thickness as a fraction of the crop side.
LINE_WIDTH = 1.0 / 128.0
NOSE_BRIDGE_LINE = (168, 6, 197, 195, 5, 4, 1)
NOSE_BASE_LINE = (98, 97, 2, 326, 327)
RIGHT_IRIS_LOOP = (469, 470, 471, 472)
LEFT_IRIS_LOOP = (474, 475, 476, 477)

#: name -> (landmark indices in drawing order, closed loop, channel when channels=3).
CURVES: dict[str, tuple[tuple[int, ...], bool, int]] = {
    "face_oval": (T.face_oval(), True, 0),
    "nose_bridge": (NOSE_BRIDGE_LINE, False, 0),
    "nose_base": (NOSE_BASE_LINE, False, 0),
    "right_brow": (T.RIGHT_BROW, True, 1),
    "left_brow": (T.LEFT_BROW, True, 1),
    "right_eye": (T.RIGHT_EYE_LOOP, True, 1),
    "left_eye": (T.LEFT_EYE_LOOP, True, 1),
    "right_iris": (RIGHT_IRIS_LOOP, True, 1),
    "left_iris": (LEFT_IRIS_LOOP, True, 1),
    "outer_lip": (T.OUTER_LIP_LOOP, True, 2),
    "inner_lip": (T.INNER_LIP_LOOP, True, 2),
}
CHANNEL_CHOICES = (1, 3)


def crop_affine(landmarks: np.ndarray, region: str, size: int) -> np.ndarray:
    """The image -> crop similarity of ``region`` (see the module docstring).

    Args:
        landmarks: (478, 2+) image pixels (x right, y down).
        region: ``"mouth"``, ``"lips"`` or ``"face"``.
        size: crop side, pixels.

    Returns:
        (2, 3) float64 ``M`` with ``crop_xy = M[:, :2] @ xy + M[:, 2]``.
    """
    if region not in REGIONS:
        raise ValueError(f"unknown region {region!r} (choose from {REGIONS})")
    lm = np.asarray(landmarks, np.float64)[:, :2]
    vec = lm[T.LEFT_EYE_CORNERS[0]] - lm[T.RIGHT_EYE_CORNERS[0]]
    iod = float(np.hypot(*vec)) + 1e-9
    scale = REGION_IOD[region] * size / iod
    ang = np.arctan2(vec[1], vec[0])
    c, s = np.cos(-ang) * scale, np.sin(-ang) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    centre = lm[list(T.face_oval() if region == "face" else T.OUTER_LIP_LOOP)].mean(0)
    m[:, 2] = np.array([size / 2.0, size / 2.0]) - m[:, :2] @ centre
    return m


def to_crop(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(N, 2) float32 crop pixels of (N, 2+) image points under ``m``."""
    pts = np.asarray(points, np.float64)[:, :2]
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def crop_image(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8 crop of an HxWx3 uint8 image (bilinear, border replicated)."""
    return cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def line_thickness(size: int) -> int:
    """Line thickness in pixels for a crop of side ``size``."""
    return max(1, int(round(size * LINE_WIDTH)))


def landmark_image(points: np.ndarray, size: int, channels: int = 1) -> np.ndarray:
    """Rasterise landmarks given in crop pixels (see the module docstring).

    Args:
        points: (478, 2+) crop pixels.
        size: crop side.
        channels: 1 or 3.

    Returns:
        (channels, size, size) float32 in [0, 1].
    """
    if channels not in CHANNEL_CHOICES:
        raise ValueError(f"channels must be one of {CHANNEL_CHOICES}, got {channels}")
    pts = np.asarray(points, np.float64)[:, :2]
    if pts.shape[0] < T.N_LANDMARKS:
        raise ValueError(f"expected {T.N_LANDMARKS} landmarks, got {pts.shape[0]}")
    thick = line_thickness(size)
    canvas = np.zeros((channels, size, size), np.uint8)
    fixed = np.round(np.clip(pts, -4 * size, 5 * size) * 16).astype(np.int32)
    for idx, closed, ch in CURVES.values():
        cv2.polylines(canvas[ch if channels == 3 else 0], [fixed[list(idx)]], closed, 255, thick, cv2.LINE_AA, shift=4)
    return canvas.astype(np.float32) / 255.0


def warp_to_landmarks(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Warp a crop so its landmarks ``src`` move onto ``dst`` (piecewise affine over the face mesh).

    Args:
        image: (S, S, 3) uint8 crop whose landmarks are ``src``.
        src, dst: (478, 2+) crop pixels of the source and of the target.

    Returns:
        (S, S, 3) uint8, the source in the target's geometry.
    """
    size_h, size_w = image.shape[:2]
    sv = T.with_virtual_points(np.asarray(src, np.float64)[:, :2])
    dv = T.with_virtual_points(np.asarray(dst, np.float64)[:, :2])
    tris = T.mesh_triangles()
    aff = triangle_affines(tris, dv, sv)  # target triangle -> source pixels
    glob = fit_affine_2d(dv[: T.N_LANDMARKS], sv[: T.N_LANDMARKS])
    index = np.full((size_h, size_w), len(tris), np.int32)
    fixed = np.round(np.clip(dv, -4 * size_w, 5 * size_w) * 16).astype(np.int32)[tris]  # (T, 3, 2)
    fill = cv2.fillConvexPoly  # ~900 calls: positional arguments, the triangles gathered once
    for k, poly in enumerate(list(fixed)):
        fill(index, poly, k, cv2.LINE_8, 4)
    table = np.concatenate([aff, glob[None]], 0)[index]  # (H, W, 2, 3)
    ys, xs = np.mgrid[0:size_h, 0:size_w].astype(np.float64)
    map_x = table[..., 0, 0] * xs + table[..., 0, 1] * ys + table[..., 0, 2]
    map_y = table[..., 1, 0] * xs + table[..., 1, 1] * ys + table[..., 1, 2]
    return cv2.remap(image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inner_mouth_mask(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32 0/1: the inner-lip polygon of crop-pixel landmarks (the mouth metric's area)."""
    out = np.zeros((size, size), np.uint8)
    poly = np.round(np.asarray(points, np.float64)[list(T.INNER_LIP_LOOP), :2] * 16).astype(np.int32)
    cv2.fillPoly(out, [poly], 1, cv2.LINE_8, shift=4)
    return out.astype(np.float32)


def face_mask(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32 0/1: inside the face oval of crop-pixel landmarks."""
    out = np.zeros((size, size), np.uint8)
    poly = np.round(np.asarray(points, np.float64)[list(T.face_oval()), :2] * 16).astype(np.int32)
    cv2.fillPoly(out, [poly], 1, cv2.LINE_8, shift=4)
    return out.astype(np.float32)


#: Translator conditions (``reenactor train fdgan --cond``) and their input channels.
COND_CHANNELS = {"warp": 3, "hole": 4, "learned": 4, "hint": 6}
#: Conditions whose target opening is cut out (a hole and its mask channel).
HOLED = ("hole", "learned", "hint")
#: Conditions whose hole holds the learned painter's mouth (the FD-GAN translator refines it).
PAINTED = ("learned", "hint")
#: Pixels by which the condition's hole (``cond="hole"``) extends past the target's inner-lip polygon.
HOLE_DILATE = 2


def hole_mask(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float32 0/1: the target's inner-lip polygon dilated by :data:`HOLE_DILATE` px (the condition's hole)."""
    k = 2 * HOLE_DILATE + 1
    return cv2.dilate(inner_mouth_mask(points, size), np.ones((k, k), np.uint8))


def to_unit(crop: np.ndarray) -> np.ndarray:
    """(S, S, 3) uint8 RGB -> (3, S, S) float32 in [-1, 1]."""
    return crop.astype(np.float32).transpose(2, 0, 1) / 127.5 - 1.0


def mouth_condition(warped: np.ndarray, points: np.ndarray, hole: bool, fill: np.ndarray | None = None) -> np.ndarray:
    """The inner-mouth translator's condition from the warped source crop.

    Args:
        warped: (S, S, 3) uint8 RGB, the source crop warped onto the target
            landmarks (:func:`warp_to_landmarks`).
        points: (478, 2+) target landmarks in crop pixels.
        hole: cut a hole: inside the target's inner-lip polygon dilated by
            :data:`HOLE_DILATE` px the image is set to 0 (mid grey) and a fourth
            channel holds that hole (1 inside, 0 outside), so the network must
            paint the opening instead of stretching the source's closed lips.
        fill: with ``hole``, (S, S, 3) uint8 RGB shown inside the hole instead
            of grey (``cond="learned"``: the learned painter's mouth, which the
            FD-GAN translator then refines).

    Returns:
        (3, S, S) float32 in [-1, 1], or (4, S, S) with ``hole`` (channel 3 in {0, 1}).
    """
    img = to_unit(warped)
    if not hole:
        return img
    mask = hole_mask(points, warped.shape[0])
    inside = 0.0 if fill is None else to_unit(fill)
    return np.concatenate([img * (1.0 - mask) + inside * mask, mask[None]], axis=0).astype(np.float32)
