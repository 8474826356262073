"""The learned inner mouth: geometry shared by training and inference, and the painter.

A small convolutional network (:mod:`reenactor.models.mouth`, shipped as ONNX
under the registry name ``"mouth"``) paints the inside of the target inner-lip
contour in a mouth-aligned crop. Training (:mod:`reenactor.train.mouth`) and
rendering build the network input with the same functions of this module, so
the two cannot drift apart.

The mouth crop
    ``CROP_H x CROP_W`` (64 x 80) pixels, rotated so the mouth corners
    (landmarks 61 and 291) lie on a horizontal line, scaled so they are
    ``MOUTH_WIDTH`` (40) pixels apart, and centred on the mean of the outer-lip
    loop. The subject's right mouth corner (61) is on the left of the crop.

The network input (``IN_CHANNELS`` = 13 channels, float32, NCHW)
    0-2  the crop's RGB in 0..1 minus 0.5, zeroed (0 = mid grey) inside the mask;
    3    the mask: the inner-lip polygon dilated by ``MASK_DILATE`` pixels, 0/1;
    4    the inner-lip polygon, anti-aliased fill 0..1;
    5    the lips: outer-lip polygon minus the inner one, 0..1;
    6    the vertical position between the inner upper lip (0) and the inner
         lower lip (1) in each column, clipped to -0.5..1.5, times the mask;
    7-12 the appearance condition minus 0.5, constant over the image: mean RGB
         (0..1) of the lips, then of the cheek skin, of the *portrait* (a
         closed-mouth frame of the same person in training).

The network output is (1, 3, 64, 80) float32 RGB in 0..1; only the masked
area is used.

No torch here: inference runs the ONNX model with onnxruntime.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.face import topology as T

CROP_W, CROP_H = 80, 64
MOUTH_WIDTH = 40.0
MASK_DILATE = 2
IN_CHANNELS = 13
#: Landmarks whose surroundings give the cheek skin colour (both cheeks).
CHEEK_POINTS = (205, 425, 50, 280, 187, 411)
#: Registry name of the shipped model.
MODEL_NAME = "mouth"

_INNER = list(T.INNER_LIP_LOOP)
_OUTER = list(T.OUTER_LIP_LOOP)


def mouth_affine(landmarks: np.ndarray) -> np.ndarray:
    """The image -> mouth-crop similarity transform.

    Args:
        landmarks: (478, 2+) landmarks in image pixels (x right, y down).

    Returns:
        (2, 3) float64 matrix ``M`` with ``crop_xy = M[:, :2] @ xy + M[:, 2]``.
    """
    lm = np.asarray(landmarks, np.float64)[:, :2]
    left, right = lm[T.MOUTH_CORNERS[0]], lm[T.MOUTH_CORNERS[1]]
    vec = right - left
    width = float(np.hypot(*vec)) + 1e-9
    scale = MOUTH_WIDTH / width
    ang = np.arctan2(vec[1], vec[0])
    c, s = np.cos(-ang) * scale, np.sin(-ang) * scale
    m = np.array([[c, -s, 0.0], [s, c, 0.0]])
    centre = lm[_OUTER].mean(0)
    m[:, 2] = np.array([CROP_W / 2.0, CROP_H / 2.0]) - m[:, :2] @ centre
    return m


def lip_points(landmarks: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(40, 2) float32 lip contours in crop pixels: the outer loop (20), then the inner loop (20)."""
    lm = np.asarray(landmarks, np.float64)[:, :2]
    pts = lm[_OUTER + _INNER] @ m[:, :2].T + m[:, 2]
    return pts.astype(np.float32)


def crop_mouth(image: np.ndarray, m: np.ndarray) -> np.ndarray:
    """(64, 80, 3) uint8 RGB mouth crop of an HxWx3 uint8 RGB image (border replicated)."""
    return cv2.warpAffine(image, m, (CROP_W, CROP_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _fill(poly: np.ndarray) -> np.ndarray:
    out = np.zeros((CROP_H, CROP_W), np.float32)
    cv2.fillPoly(out, [np.round(poly * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
    return out


def shape_channels(points: np.ndarray, dilate: int = MASK_DILATE) -> np.ndarray:
    """The mask and shape channels (input channels 3-6) for lip contours in crop pixels.

    Args:
        points: (40, 2) from :func:`lip_points`.
        dilate: mask dilation in crop pixels (training varies it so the
            network does not rely on seeing the lips at the mask's edge).

    Returns:
        (4, 64, 80) float32: dilated inner mask (0/1), inner fill (0..1), lip
        ring (0..1), vertical position inside the mouth times the mask.
    """
    outer, inner = points[:20].astype(np.float64), points[20:].astype(np.float64)
    inner_fill = _fill(inner)
    k = 2 * max(0, int(dilate)) + 1
    mask = cv2.dilate((inner_fill > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(np.float32)
    ring = np.clip(_fill(outer) - inner_fill, 0.0, 1.0)
    # Upper inner lip = loop[0..10] (corner 78 to corner 308), lower = loop[10..19] + loop[0].
    upper = inner[:11]
    lower = np.vstack([inner[10:], inner[:1]])
    xs = np.arange(CROP_W, dtype=np.float64)
    ou, ol = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
    y_up = np.interp(xs, upper[ou, 0], upper[ou, 1])
    y_lo = np.interp(xs, lower[ol, 0], lower[ol, 1])
    gap = np.maximum(y_lo - y_up, 1.0)
    ys = np.arange(CROP_H, dtype=np.float64)[:, None]
    t = np.clip((ys - y_up[None]) / gap[None], -0.5, 1.5).astype(np.float32)
    return np.stack([mask, inner_fill, ring, t * mask])


def net_input(crop: np.ndarray, shape: np.ndarray, cond: np.ndarray) -> np.ndarray:
    """Assemble one network input.

    Args:
        crop: (64, 80, 3) uint8 RGB mouth crop.
        shape: (4, 64, 80) float32 from :func:`shape_channels`.
        cond: (6,) float32 appearance (lip RGB, skin RGB), 0..1.

    Returns:
        (13, 64, 80) float32.
    """
    rgb = crop.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5
    rgb *= 1.0 - shape[0]
    c = np.broadcast_to((np.asarray(cond, np.float32) - 0.5)[:, None, None], (6, CROP_H, CROP_W))
    return np.concatenate([rgb, shape, c], 0).astype(np.float32)


def appearance(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The appearance condition of a face: mean lip and cheek-skin colour.

    Args:
        image: HxWx3 uint8 RGB.
        landmarks: (478, 2+) landmarks in ``image`` pixels.

    Returns:
        (6,) float32 in 0..1: mean RGB of the lips (outer minus inner lip
        polygon), then the mean RGB of small discs around the cheek points.
    """
    lm = np.asarray(landmarks, np.float64)[:, :2]
    h, w = image.shape[:2]
    width = float(np.linalg.norm(lm[T.MOUTH_CORNERS[1]] - lm[T.MOUTH_CORNERS[0]]))
    x0, y0 = np.floor(lm[_OUTER].min(0)).astype(int) - 2
    x1, y1 = np.ceil(lm[_OUTER].max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    lip = None
    if x1 > x0 and y1 > y0:
        roi = image[y0:y1, x0:x1]
        m = np.zeros(roi.shape[:2], np.uint8)
        cv2.fillPoly(m, [np.round(lm[_OUTER] - (x0, y0)).astype(np.int32)], 1)
        cv2.fillPoly(m, [np.round(lm[_INNER] - (x0, y0)).astype(np.int32)], 0)
        if m.sum() >= 4:
            lip = roi[m.astype(bool)].reshape(-1, 3).mean(0)
    r = max(1, int(round(0.08 * width)))
    skin = []
    for i in CHEEK_POINTS:
        cx, cy = int(round(lm[i, 0])), int(round(lm[i, 1]))
        if r <= cx < w - r and r <= cy < h - r:
            skin.append(image[cy - r : cy + r + 1, cx - r : cx + r + 1].reshape(-1, 3).mean(0))
    skin_rgb = np.mean(skin, 0) if skin else (lip if lip is not None else np.array([180.0, 140.0, 120.0]))
    lip_rgb = lip if lip is not None else skin_rgb * np.array([0.9, 0.7, 0.7])
    return (np.concatenate([lip_rgb, skin_rgb]) / 255.0).astype(np.float32)


class LearnedMouthPainter:
    """Runs the shipped mouth network on the rendered frame.

    Args:
        cond: (6,) float32 appearance of the portrait (:func:`appearance`).
        model: registry name or ``.onnx`` path of the model.

    Raises:
        reenactor.errors.DependencyError: onnxruntime is missing.
        reenactor.weights.WeightsError: the model file is missing or corrupt.
    """

    def __init__(self, cond: np.ndarray, model: str = MODEL_NAME) -> None:
        from reenactor.weights import onnx_session

        self.cond = np.asarray(cond, np.float32)
        self.session = onnx_session(model, threads=1)
        self.input_name = self.session.get_inputs()[0].name

    def inputs(self, frame: np.ndarray, target: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The network's feed ((1, 13, 64, 80) float32) for a frame and target landmarks, and the image -> crop transform."""
        m = mouth_affine(target)
        x = net_input(crop_mouth(frame, m), shape_channels(lip_points(target, m)), self.cond)[None]
        return {self.input_name: x}, m

    def paint(self, frame: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predict the inner mouth for target landmarks on a rendered frame.

        Args:
            frame: HxWx3 uint8 RGB frame (after the warp, before the mouth).
            target: (478, 2+) target landmarks in ``frame`` pixels.

        Returns:
            ((64, 80, 3) float32 RGB 0..255 painted crop, (2, 3) image -> crop
            transform). Only the inner-lip area of the crop is meaningful.
        """
        feeds, m = self.inputs(frame, target)
        y = self.session.run(None, feeds)[0][0]
        return np.clip(y.transpose(1, 2, 0) * 255.0, 0, 255).astype(np.float32), m


def painted_in_place(painter: LearnedMouthPainter, image: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The learned painter's mouth for ``target`` on ``image``, back in ``image``'s pixels.

    Used to build the condition of an FD-GAN translator trained with
    ``--cond learned`` (:mod:`reenactor.render.mouth_fdgan`), in training and
    at run time alike.

    Args:
        painter: a :class:`LearnedMouthPainter` bound to the face's appearance
            (:func:`appearance` of the whole portrait, not of a crop: the cheek
            points lie outside a lips crop).
        image: (H, W, 3) uint8 RGB picture the mouth is painted for.
        target: (478, 2+) target landmarks in ``image`` pixels.

    Returns:
        (H, W, 3) uint8 RGB; meaningful inside the target's inner lips only.
    """
    painted, m = painter.paint(image, target)
    return resample_painting(painted, m, np.eye(2, 3), image.shape[:2])


def crop_to(m: np.ndarray, to_dst: np.ndarray) -> np.ndarray:
    """(2, 3) transform from a painter crop (image -> crop ``m``) to a destination (image -> dst ``to_dst``)."""
    return (np.vstack([to_dst, [0, 0, 1]]) @ np.vstack([cv2.invertAffineTransform(m), [0, 0, 1]]))[:2]


def resample_painting(painted: np.ndarray, m: np.ndarray, to_dst: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A painted crop resampled into another space.

    Args:
        painted: (h, w, 3) float32 RGB 0..255 (:meth:`LearnedMouthPainter.paint`).
        m: its (2, 3) image -> crop transform.
        to_dst: (2, 3) image -> destination transform (identity: the image itself).
        shape: (height, width) of the destination.

    Returns:
        (height, width, 3) uint8 RGB (border replicated outside the crop).
    """
    out = cv2.warpAffine(painted, crop_to(m, to_dst), (shape[1], shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
