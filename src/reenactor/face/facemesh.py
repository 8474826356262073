"""Face Mesh (468 points) + irises (478 points) without mediapipe.

A numpy re-implementation of mediapipe 0.10.21's ``FaceLandmarkFrontCpu`` graph
around the same networks (run by any :data:`~reenactor.face.blazeface.Runner`,
normally onnxruntime):

* ROI from a detection: box centre, side ``1.5 * max(w, h)``, rotated so that
  the detector's eye keypoints are level; from the previous frame's landmarks
  (tracking): bounding-box centre, side ``1.5 * max(w, h)``, rotated by the
  eye corners 33 -> 263;
* landmark model on a ``192 x 192`` crop (bilinear, replicated border, RGB in
  ``[0, 1]``); face flag = sigmoid of its logit, the face kept when it is
  ``>= min_tracking_confidence`` (0.5), in static mode too, as mediapipe;
* irises: mediapipe's older iris pipeline (``iris_landmark.tflite``): per eye a
  ``64 x 64`` crop centred between the two eye corners (33, 133 and 362, 263),
  side ``2.3 x`` the longer side of their bounding box, rotated to level them,
  the second eye mirrored; 5 iris points and 71 eye-contour points. By default
  the 2 x 16 eyelid points of the mesh take the iris model's ``x, y``
  (mediapipe's ``refine_landmarks`` model also refines the eyelids; this brings
  the lid opening closer to it: correlation 0.87-0.89 -> 0.94 on 12 clips).

Output arrays are ``(478, 3) float32`` in the pixels of the image given: ``x``
right, ``y`` down (the image spans ``[0, W] x [0, H]``), ``z`` in the same
pixel scale as ``x``, negative towards the viewer (mediapipe's sign; equal to
mediapipe's normalised ``z`` times the image width). Indices 0..467 are the
mesh, 468..472 the iris on the image's left (the subject's right eye: centre
then rim), 473..477 the other iris. The iris ``z`` is the mean mesh ``z`` of the
16 eye-contour points of that eye, exactly as mediapipe's ``refine_landmarks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from reenactor.face.attention import attention_in_roi
from reenactor.face.blazeface import SHORT_RANGE, FaceDetector, Runner, check_rgb
from reenactor.face.roi import Roi, crop, crop_to_image, rect_iou, roi_from_box, roi_from_points

MESH_SIZE = 192
IRIS_SIZE = 64
ROI_SCALE = 1.5
IRIS_ROI_SCALE = 2.3
N_MESH = 468
N_OUT = 478

#: Mesh indices of the iris model's 71 eye-contour points, image-left eye
#: (subject's right; corners 33, 133) then the mirrored one (263, 362);
#: mediapipe's ``UpdateFaceLandmarksCalculator`` / refinement table.
EYE_CONTOUR_INDICES = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22, 26,
     112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222,
     221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107,
     55, 193),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253, 252,
     256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444,
     443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293,
     334, 296, 336, 285, 417),
)  # fmt: skip
#: Eye corners giving each iris crop (start, end) and whether it is mirrored.
IRIS_CORNERS = ((33, 133, False), (362, 263, True))
#: First output index of each eye's 5 iris points.
IRIS_SLOTS = (468, 473)
#: Order of the iris model's 5 points in the output slots, per eye: centre
#: then rim. Mirroring the second eye swaps its two horizontal rim points
#: (measured against mediapipe's ``refine_landmarks`` output).
IRIS_ORDER = ((0, 1, 2, 3, 4), (0, 3, 2, 1, 4))
#: The first 16 contour points (eyelids) whose mean z becomes the iris z.
N_LID_POINTS = 16
EYE_CONTOUR_MODES = ("none", "lids", "all")


#: Landmark pipelines: mediapipe's attention model alone (``refine_landmarks=True``,
#: the default), or the plain mesh model plus the iris model on eye crops.
LANDMARK_MODELS = ("attention", "mesh+iris")


@dataclass(frozen=True)
class FaceNetworks:
    """The networks, each a :data:`~reenactor.face.blazeface.Runner`.

    Attributes:
        detector: BlazeFace short range, ``(1, 128, 128, 3)`` in ``[-1, 1]``.
        landmark: ``(1, 192, 192, 3)`` in ``[0, 1]``: the attention model (when
            ``refinement`` is given; see :mod:`reenactor.face.attention`) or the
            plain mesh model (1404 values + 1 logit).
        iris: iris model, ``(1, 64, 64, 3)`` in ``[0, 1]`` -> 213 + 15 values;
            used only with the plain mesh model.
        refinement: the attention model's refinement table, or None.
    """

    detector: Runner
    landmark: Runner
    iris: Runner | None = None
    refinement: dict | None = None

    @classmethod
    def from_onnx(cls, folder: str | Path | None = None, threads: int = 1, model: str = "attention") -> "FaceNetworks":
        """onnxruntime sessions of the shipped models (registry names), or of ``<folder>/<stem>.onnx``.

        Args:
            model: one of :data:`LANDMARK_MODELS`.
        """
        from reenactor.face.attention import refinement_indices
        from reenactor.weights import onnx_session

        if model not in LANDMARK_MODELS:
            raise ValueError(f"landmark model must be one of {LANDMARK_MODELS}, got {model!r}")
        source = (lambda n: Path(folder) / f"{n}.onnx") if folder is not None else (lambda n: n)
        detector = onnx_runner(source(SHORT_RANGE.name), threads)
        if model == "attention":
            session = onnx_session(source("face_landmark_attention"), threads=threads)
            return cls(detector, session_runner(session), None, refinement_indices(session))
        return cls(detector, onnx_runner(source("face_landmark"), threads), onnx_runner(source("iris_landmark"), threads))


def onnx_runner(name_or_path: str | Path, threads: int = 1) -> Runner:
    """A :data:`Runner` over an onnxruntime session (registry name or ``.onnx`` path)."""
    from reenactor.weights import onnx_session

    return session_runner(onnx_session(name_or_path, threads=threads))


def session_runner(session) -> Runner:
    """A :data:`Runner` over an existing onnxruntime session."""
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]

    def run(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(output_names, session.run(output_names, {input_name: batch})))

    return run


def _by_size(outputs: dict, size: int, what: str) -> np.ndarray:
    found = [np.asarray(v) for v in outputs.values() if np.asarray(v).size == size]
    if len(found) != 1:
        shapes = {k: np.asarray(v).shape for k, v in outputs.items()}
        raise ValueError(f"cannot find the {what} output ({size} values) among {shapes}")
    return found[0].astype(np.float32).reshape(-1)


def _as_tensor(crop_rgb: np.ndarray) -> np.ndarray:
    return (crop_rgb.astype(np.float32) * (1.0 / 255.0))[None]


def roi_from_detection(detection) -> Roi:
    """Face ROI from a :class:`~reenactor.face.blazeface.Detection` (eyes level, side 1.5x the box)."""
    return roi_from_box(detection.box, detection.keypoints[0], detection.keypoints[1], ROI_SCALE)


def roi_from_landmarks(landmarks: np.ndarray) -> Roi:
    """Face ROI for the next frame from ``(>=468, >=2)`` pixel landmarks (eye corners 33 -> 263 level)."""
    return roi_from_points(np.asarray(landmarks)[:N_MESH], 33, 263, ROI_SCALE)


def mesh_in_roi(rgb: np.ndarray, roi: Roi, run: Runner) -> tuple[np.ndarray, float]:
    """The 468-point mesh in ``roi``: ``((468, 3) float32 pixels, face-flag probability)``."""
    outputs = run(_as_tensor(crop(rgb, roi, MESH_SIZE, "replicate")))
    raw = _by_size(outputs, N_MESH * 3, "landmarks").reshape(N_MESH, 3)
    logit = float(np.clip(_by_size(outputs, 1, "face flag")[0], -100.0, 100.0))
    return crop_to_image(raw, roi, MESH_SIZE), float(1.0 / (1.0 + np.exp(-logit)))


def iris_roi(mesh: np.ndarray, eye: int) -> Roi:
    """Crop ROI of eye ``eye`` (0 = image-left, 1 = image-right) from mesh pixels."""
    start, end, _ = IRIS_CORNERS[eye]
    return roi_from_points(np.asarray(mesh)[[start, end]], 0, 1, IRIS_ROI_SCALE)


def eye_in_image(rgb: np.ndarray, mesh: np.ndarray, eye: int, run: Runner) -> tuple[np.ndarray, np.ndarray]:
    """Iris model on one eye: ``((71, 3) contour, (5, 3) iris)``, float32 image pixels.

    ``z`` is the model's own, scaled like ``x``; the order is the model's
    (see :data:`IRIS_ORDER` for the output slots).
    """
    flip = IRIS_CORNERS[eye][2]
    roi = iris_roi(mesh, eye)
    outputs = run(_as_tensor(crop(rgb, roi, IRIS_SIZE, "replicate", flip=flip)))
    contour = _by_size(outputs, 71 * 3, "eye contour").reshape(71, 3)
    iris = _by_size(outputs, 5 * 3, "iris").reshape(5, 3)
    return crop_to_image(contour, roi, IRIS_SIZE, flip), crop_to_image(iris, roi, IRIS_SIZE, flip)


def refine(rgb: np.ndarray, mesh: np.ndarray, run: Runner, eye_contours: str = "none") -> np.ndarray:
    """Add irises to a ``(468, 3)`` mesh: ``(478, 3) float32``.

    Args:
        eye_contours: which mesh points take the iris model's ``x, y`` (``z``
            kept): ``"none"``, ``"lids"`` (the 2 x 16 eyelid points) or
            ``"all"`` (the 2 x 71 eye, halo and brow points, as mediapipe's
            old iris pipeline did).
    """
    if eye_contours not in EYE_CONTOUR_MODES:
        raise ValueError(f"eye_contours must be one of {EYE_CONTOUR_MODES}, got {eye_contours!r}")
    out = np.empty((N_OUT, 3), dtype=np.float32)
    out[:N_MESH] = mesh
    for eye in (0, 1):
        contour, iris = eye_in_image(rgb, mesh, eye, run)
        idx = np.asarray(EYE_CONTOUR_INDICES[eye])
        slot = IRIS_SLOTS[eye]
        out[slot : slot + 5, :2] = iris[list(IRIS_ORDER[eye]), :2]
        out[slot : slot + 5, 2] = mesh[idx[:N_LID_POINTS], 2].mean()
        n = {"none": 0, "lids": N_LID_POINTS, "all": len(idx)}[eye_contours]
        out[idx[:n], :2] = contour[:n, :2]
    return out


class FaceMesh:
    """Detector + mesh + irises, with mediapipe Face Mesh's options.

    Args:
        networks: the three runners (see :class:`FaceNetworks`).
        max_faces: most faces returned (``max_num_faces``), >= 1.
        min_detection_confidence: detector score threshold in ``(0, 1)``.
        min_tracking_confidence: face-flag threshold in ``[0, 1]``; a face whose
            flag is lower is dropped (and re-detected on the next frame).
        eye_contours: see :func:`refine`.
    """

    def __init__(
        self,
        networks: FaceNetworks,
        max_faces: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        eye_contours: str = "lids",
    ):
        if int(max_faces) < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        if not 0.0 <= min_tracking_confidence <= 1.0:
            raise ValueError(f"min_tracking_confidence must be in [0, 1], got {min_tracking_confidence}")
        self.networks = networks
        self.detector = FaceDetector(networks.detector, SHORT_RANGE, min_detection_confidence)
        self.max_faces = int(max_faces)
        self.min_tracking_confidence = float(min_tracking_confidence)
        if eye_contours not in EYE_CONTOUR_MODES:
            raise ValueError(f"eye_contours must be one of {EYE_CONTOUR_MODES}, got {eye_contours!r}")
        self.eye_contours = eye_contours

    def detect_rois(self, rgb: np.ndarray) -> list[Roi]:
        """ROIs of the best ``max_faces`` detections."""
        return [roi_from_detection(d) for d in self.detector.detect(rgb)[: self.max_faces]]

    def faces_in_rois(self, rgb: np.ndarray, rois: list[Roi]) -> list[tuple[np.ndarray, float]]:
        """``(478, 3)`` landmarks and face-flag score for each ROI whose face flag passes."""
        faces = []
        nets = self.networks
        for roi in rois:
            if nets.refinement is not None:
                points, score = attention_in_roi(rgb, roi, nets.landmark, nets.refinement)
            else:
                points, score = mesh_in_roi(rgb, roi, nets.landmark)
            if score >= self.min_tracking_confidence and np.all(np.isfinite(points)):
                faces.append((points if nets.refinement is not None else refine(rgb, points, nets.iris, self.eye_contours), score))
        return faces

    def in_image(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Static mode: detect, then mesh each face; list of ``(478, 3) float32``, best detection first.

        Raises:
            ValueError: ``rgb`` is not an ``HxWx3 uint8`` image.
        """
        rgb = check_rgb(rgb)
        return [lm for lm, _ in self.faces_in_rois(rgb, self.detect_rois(rgb))]


def associate(detected: list[Roi], tracked: list[Roi], threshold: float = 0.5) -> list[Roi]:
    """Merge new detections with tracked ROIs: a tracked ROI replaces every detection overlapping it.

    Overlap is the IoU of the axis-aligned squares (> ``threshold``), as
    mediapipe's ``AssociationNormRectCalculator``. Tracked ROIs come first.
    """
    fresh = [d for d in detected if all(rect_iou(d, t) <= threshold for t in tracked)]
    return list(tracked) + fresh


class FaceMeshTracker(FaceMesh):
    """Video mode (mediapipe's ``static_image_mode=False``).

    Each frame, the faces of the previous frame are followed through ROIs
    built from their landmarks. While fewer than ``max_faces`` faces are
    tracked, the detector looks for more: at once when no face is tracked
    (the first frame, or the frame after a face is lost because its face flag
    fell below ``min_tracking_confidence``), otherwise every
    ``redetect_frames`` frames. mediapipe runs it on every such frame
    (``redetect_frames=1``); a tracked face's landmarks are the same either
    way, because a detection overlapping a tracked face (IoU > 0.5 of the
    axis-aligned squares) is dropped in favour of the tracked ROI, so a larger
    value only delays picking up a *new* face, and saves the detector's
    ~1.2 ms on the other frames. The result is capped at ``max_faces``
    (tracked faces first; mediapipe does not cap there, but only when a new
    face appears while others are tracked can it exceed ``max_faces``).
    :attr:`detector_runs` counts the frames the detector ran on.

    Args:
        networks, **options: as :class:`FaceMesh`.
        redetect_frames: >= 1, see above.
    """

    def __init__(self, networks: FaceNetworks, redetect_frames: int = 1, **options):
        super().__init__(networks, **options)
        if int(redetect_frames) < 1:
            raise ValueError(f"redetect_frames must be >= 1, got {redetect_frames}")
        self.redetect_frames = int(redetect_frames)
        self.tracked: list[Roi] = []
        self.detector_runs = 0
        self._since_detection = 0

    def reset(self) -> None:
        """Forget the tracked faces (next frame runs the detector)."""
        self.tracked = []

    def process(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Landmarks of the faces in this frame: list of ``(478, 3) float32`` pixels.

        Raises:
            ValueError: ``rgb`` is not an ``HxWx3 uint8`` image.
        """
        rgb = check_rgb(rgb)
        rois = list(self.tracked)
        self._since_detection += 1
        if len(rois) < self.max_faces and (not rois or self._since_detection >= self.redetect_frames):
            self.detector_runs += 1
            self._since_detection = 0
            rois = associate(self.detect_rois(rgb), rois)[: self.max_faces]
        faces = [lm for lm, _ in self.faces_in_rois(rgb, rois)]
        self.tracked = [roi_from_landmarks(lm) for lm in faces]
        return faces


@lru_cache(maxsize=1)
def default_networks() -> FaceNetworks:
    """The shipped ONNX models, loaded once per process."""
    return FaceNetworks.from_onnx()


def mesh_in_image(rgb: np.ndarray, networks: FaceNetworks | None = None, max_faces: int = 1) -> list[np.ndarray]:
    """Still image (mediapipe's ``static_image_mode=True``): list of ``(478, 3) float32`` pixel landmarks.

    ``networks`` defaults to :func:`default_networks`. Best detection first.

    Raises:
        ValueError: ``rgb`` is not an ``HxWx3 uint8`` image, or ``max_faces < 1``.
    """
    return FaceMesh(networks or default_networks(), max_faces=max_faces).in_image(rgb)
