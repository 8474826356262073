"""Independent face measurements with dlib (never with the pipeline's mediapipe).

Models come from the ``eval`` extra (``pip install 'reenactor[eval]'``, i.e.
``dlib-bin`` and ``face-recognition-models==0.3.0``) and are loaded by file
path. ``face_recognition_models`` is *located*, not imported: its
``__init__`` imports ``pkg_resources``, which current setuptools no longer
ships.

* detector: dlib's HOG frontal face detector;
* landmarks: ``shape_predictor_68_face_landmarks.dat`` (iBUG 68 points);
* identity: ``dlib_face_recognition_resnet_model_v1.dat`` (128-D descriptor
  of a 150x150 aligned chip; same person ~0.3-0.5 apart, different people
  ~0.7-0.9, threshold 0.6).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reenactor.errors import DependencyError
from reenactor.eval.imageops import check_rgb

_INSTALL_HINT = "install the eval extra: pip install 'reenactor[eval]' (dlib-bin, face-recognition-models==0.3.0)"

LANDMARKS_FILE = "shape_predictor_68_face_landmarks.dat"
DESCRIPTOR_FILE = "dlib_face_recognition_resnet_model_v1.dat"

#: Frames are searched for faces at most this large (longer side, pixels).
DETECT_MAX_SIDE = 640


def dlib_available() -> bool:
    """True when both ``dlib`` and ``face_recognition_models`` are installed."""
    return (
        importlib.util.find_spec("dlib") is not None
        and importlib.util.find_spec("face_recognition_models") is not None
    )


def models_dir() -> Path:
    """Folder holding the dlib model files of ``face_recognition_models``.

    Raises:
        DependencyError: the package or its model files are missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DependencyError(f"face_recognition_models is not installed; {_INSTALL_HINT}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    for name in (LANDMARKS_FILE, DESCRIPTOR_FILE):
        if not (folder / name).is_file():
            raise DependencyError(f"dlib model file missing: {folder / name}; {_INSTALL_HINT}")
    return folder


@dataclass
class FaceMeasurement:
    """What dlib sees in one frame.

    Attributes:
        landmarks: ``(68, 2)`` float64 pixel xy in the measured frame, or None (no face).
        box: detector box ``(x0, y0, x1, y1)`` in pixels, or None.
        descriptor: ``(128,)`` float64 dlib identity descriptor, or None when
            no face or not requested.
        size: ``(width, height)`` of the measured frame.
    """

    landmarks: np.ndarray | None
    box: tuple[float, float, float, float] | None
    descriptor: np.ndarray | None
    size: tuple[int, int]

    @property
    def found(self) -> bool:
        """True when a face was detected."""
        return self.landmarks is not None


class DlibFace:
    """Loads dlib's detector, 68-point predictor and ResNet descriptor once.

    Args:
        model_dir: folder with the ``.dat`` files; defaults to :func:`models_dir`.

    Raises:
        DependencyError: dlib or the model files are not installed.
    """

    def __init__(self, model_dir: str | Path | None = None) -> None:
        try:
            import dlib  # noqa: PLC0415 (optional dependency)
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise DependencyError(f"dlib is not installed; {_INSTALL_HINT}") from exc
        folder = Path(model_dir) if model_dir is not None else models_dir()
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(folder / LANDMARKS_FILE))
        self._encoder = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_FILE))
        self._cache: dict[tuple[bytes, bool], FaceMeasurement] = {}

    def clear_cache(self) -> None:
        """Forget memoised measurements (they are keyed by frame content)."""
        self._cache.clear()

    def detect(self, image: np.ndarray) -> tuple[float, float, float, float] | None:
        """Most confident face box ``(x0, y0, x1, y1)`` in pixel xy of ``image``, or None.

        The frame is shrunk so that its longer side is at most
        :data:`DETECT_MAX_SIDE`; when nothing is found at that scale the
        detector retries with one 2x upsampling (small faces).

        Args:
            image: ``HxWx3`` ``uint8`` RGB.
        """
        image = check_rgb(image)
        h, w = image.shape[:2]
        s = min(1.0, DETECT_MAX_SIDE / max(h, w))
        small = image if s == 1.0 else cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        rects, scores, _ = self._detector.run(small, 0, 0.0)
        if len(rects) == 0:
            rects, scores, _ = self._detector.run(small, 1, 0.0)
        if len(rects) == 0:
            return None
        best = rects[int(np.argmax(scores))]
        sx = w / small.shape[1]
        sy = h / small.shape[0]
        return (best.left() * sx, best.top() * sy, (best.right() + 1) * sx, (best.bottom() + 1) * sy)

    def measure(self, image: np.ndarray, descriptor: bool = True) -> FaceMeasurement:
        """Detect the most confident face, its 68 landmarks and (optionally) its descriptor.

        Results are memoised by frame content, so measuring the same frame
        twice (e.g. the static baseline) costs one measurement.

        Args:
            image: ``HxWx3`` ``uint8`` RGB.
            descriptor: also compute the 128-D identity descriptor.

        Returns:
            A :class:`FaceMeasurement`; ``landmarks`` is None when no face is found.
        """
        image = check_rgb(image)
        h, w = image.shape[:2]
        digest = hashlib.blake2b(image.tobytes(), digest_size=16).digest() + repr(image.shape).encode()
        key = (digest, descriptor)
        hit = self._cache.get(key)
        if hit is None and not descriptor:
            hit = self._cache.get((digest, True))
        if hit is not None:
            return hit
        box = self.detect(image)
        if box is None:
            result = FaceMeasurement(None, None, None, (w, h))
        else:
            dlib = self._dlib
            rect = dlib.rectangle(
                int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1
            )
            shape = self._predictor(image, rect)
            lm = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            desc = None
            if descriptor:
                desc = np.array(self._encoder.compute_face_descriptor(image, shape), dtype=np.float64)
            result = FaceMeasurement(lm, box, desc, (w, h))
        self._cache[key] = result
        return result
