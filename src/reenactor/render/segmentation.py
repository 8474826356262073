"""Person segmentation: mediapipe's selfie segmentation network, run with onnxruntime.

The network (``selfie_segmentation`` 256x256 or ``selfie_segmentation_landscape``
256 wide x 144 high, converted from mediapipe 0.10.21 by
``scripts/convert_face_models.py``) takes the whole image stretched to its
input, RGB in [0, 1], NHWC float32, and returns a (1, H, W, 1) person
probability. As in mediapipe's graph, the image is resampled with a plain
bilinear map of corner to corner (no anti-aliasing) and the probability map
is resized back to the image bilinearly.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from reenactor.errors import InputError

#: model_selection -> (registry name, input width, input height)
MODELS = {0: ("selfie_segmentation", 256, 256), 1: ("selfie_segmentation_landscape", 256, 144)}

_SESSIONS: dict[int, object] = {}
_LOCK = threading.Lock()


def _session(model_selection: int):
    from reenactor.weights import onnx_session

    with _LOCK:
        if model_selection not in _SESSIONS:
            _SESSIONS[model_selection] = onnx_session(MODELS[model_selection][0], threads=1)
        return _SESSIONS[model_selection]


def selfie_mask(image: np.ndarray, model_selection: int = 0) -> np.ndarray:
    """Person probability of every pixel.

    Args:
        image: HxWx3 uint8 RGB (any size; it is stretched to the network's input).
        model_selection: 0 (general, 256x256) or 1 (landscape, 256x144).

    Returns:
        HxW float32 in [0, 1].
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError("selfie_mask needs an HxWx3 uint8 RGB image")
    if model_selection not in MODELS:
        raise InputError(f"segmentation model must be 0 or 1, not {model_selection!r}")
    h, w = image.shape[:2]
    _, in_w, in_h = MODELS[model_selection]
    scale = np.float32([[in_w / w, 0, 0], [0, in_h / h, 0]])
    small = cv2.warpAffine(image, scale, (in_w, in_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    x = (small.astype(np.float32) / 255.0)[None]
    sess = _session(model_selection)
    with _LOCK:  # one session per model, shared by threads
        prob = sess.run(None, {sess.get_inputs()[0].name: x})[0][0, :, :, 0]
    if (in_h, in_w) != (h, w):
        prob = cv2.resize(prob, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(prob, 0.0, 1.0).astype(np.float32, copy=False)
