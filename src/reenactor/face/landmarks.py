"""478-point 3D face landmarks with irises (mediapipe Face Mesh).

Coordinates returned by this module are always **pixels of the image given**:
``x`` to the right, ``y`` down, ``z`` towards the viewer negative (mediapipe's
convention) in the same pixel scale as ``x``. Arrays are ``(478, 3) float32``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import cv2
import numpy as np

from reenactor.config import DetectionConfig


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines written straight to file descriptor 2.

    mediapipe's TFLite/glog start-up lines ignore ``GLOG_minloglevel``; this
    swaps fd 2 for /dev/null around the calls that emit them.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def settle(solution) -> None:
    """Wait until a just-built mediapipe solution's graph has opened every calculator.

    Its worker threads open the models after the constructor returns and log
    a warning or two while doing so (e.g. ``inference_feedback_manager``);
    waiting here, inside :func:`quiet_native_stderr`, keeps those lines off
    the user's terminal. Solutions without a graph are left alone.
    """
    graph = getattr(solution, "_graph", None)
    if graph is not None and hasattr(graph, "wait_until_idle"):
        graph.wait_until_idle()


def _to_pixels(landmark_list, width: int, height: int) -> np.ndarray:
    pts = np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)
    pts[:, 0] *= width
    pts[:, 1] *= height
    pts[:, 2] *= width
    return pts


def face_size(landmarks: np.ndarray) -> float:
    """Size of a face: the larger side of its 2D landmark bounding box (pixels)."""
    span = landmarks[:, :2].max(0) - landmarks[:, :2].min(0)
    return float(span.max())


class LandmarkDetector:
    """Detects faces and returns their 478 landmarks.

    Args:
        static_image_mode: True for unrelated photos (portraits): faces are first
            located with mediapipe's full-range face detector, then each face is
            cropped and meshed, which also finds small faces in large images.
            False for video: Face Mesh tracks from frame to frame.
        config: detection thresholds.
    """

    def __init__(self, static_image_mode: bool = True, config: DetectionConfig | None = None) -> None:
        import mediapipe as mp

        self.config = config or DetectionConfig()
        self.static_image_mode = static_image_mode
        self._prev_centre: np.ndarray | None = None
        with quiet_native_stderr():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=static_image_mode,
                max_num_faces=1 if static_image_mode else self.config.max_faces,
                refine_landmarks=True,
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence,
            )
            self._detectors = None
            if static_image_mode:
                fd = mp.solutions.face_detection
                self._detectors = [
                    fd.FaceDetection(model_selection=1, min_detection_confidence=self.config.min_detection_confidence),
                    fd.FaceDetection(model_selection=0, min_detection_confidence=self.config.min_detection_confidence),
                ]
            for graph in [self._mesh, *(self._detectors or [])]:
                settle(graph)

    def close(self) -> None:
        """Release the mediapipe graphs."""
        with quiet_native_stderr():
            self._mesh.close()
            for d in self._detectors or []:
                d.close()

    def __enter__(self) -> "LandmarkDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _process(graph, rgb: np.ndarray):
        # mediapipe logs from C++ on first use of each graph and on every new
        # image geometry; the fd swap costs microseconds.
        with quiet_native_stderr():
            return graph.process(np.ascontiguousarray(rgb))

    # -- still images -------------------------------------------------------------
    def _face_boxes(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Face boxes (x0, y0, x1, y1) in pixels, largest first.

        The whole picture first (shrunk to ``portrait_detect_side``); when
        that finds nothing, overlapping tiles of half the picture's shorter
        side, so that a face of under ~10 % of a large picture's width (which
        mediapipe's detectors miss on the whole picture) is still found.
        """
        boxes = self._detect_boxes(rgb)
        if boxes:
            return boxes
        h, w = rgb.shape[:2]
        tile = min(h, w) // 2
        if tile < 128:
            return []
        step = tile // 2
        found: list[np.ndarray] = []
        for y in sorted({*range(0, h - tile + 1, step), h - tile}):
            for x in sorted({*range(0, w - tile + 1, step), w - tile}):
                for b in self._detect_boxes(rgb[y : y + tile, x : x + tile]):
                    found.append(b + np.array([x, y, x, y], dtype=np.float64))
        return _merge_boxes(found)

    def _detect_boxes(self, rgb: np.ndarray) -> list[np.ndarray]:
        """Boxes of the first detector that finds any face in ``rgb``, largest first."""
        h, w = rgb.shape[:2]
        side = self.config.portrait_detect_side
        scale = min(1.0, side / max(h, w))
        small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        for det in self._detectors or []:
            res = self._process(det, small)
            if res.detections:
                boxes = []
                for d in res.detections:
                    b = d.location_data.relative_bounding_box
                    boxes.append(np.array([b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h]))
                boxes.sort(key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
                return boxes
        return []

    def _mesh_in_box(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        h, w = rgb.shape[:2]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = 1.1 * max(box[2] - box[0], box[3] - box[1])
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        crop = rgb[y0:y1, x0:x1]
        if crop.shape[0] < 16 or crop.shape[1] < 16:
            return None
        scale = min(1.0, 640 / max(crop.shape[:2]))
        if scale < 1:
            crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        res = self._process(self._mesh, crop)
        if not res.multi_face_landmarks:
            return None
        pts = _to_pixels(res.multi_face_landmarks[0], crop.shape[1], crop.shape[0]) / scale
        pts[:, 0] += x0
        pts[:, 1] += y0
        return pts

    def detect_all(self, rgb: np.ndarray) -> list[np.ndarray]:
        """All faces of a still image, largest first.

        Args:
            rgb: HxWx3 uint8 RGB image.

        Returns:
            list of (478, 3) float32 landmark arrays in image pixels.
        """
        _check_rgb(rgb)
        if not self.static_image_mode:
            res = self._process(self._mesh, rgb)
            faces = [_to_pixels(f, rgb.shape[1], rgb.shape[0]) for f in res.multi_face_landmarks or []]
            return sorted(faces, key=lambda f: -face_size(f))
        faces = []
        for box in self._face_boxes(rgb):
            pts = self._mesh_in_box(rgb, box)
            if pts is not None:
                faces.append(pts)
        if not faces:  # the detectors can miss faces that fill the frame
            res = self._process(self._mesh, rgb)
            if res.multi_face_landmarks:
                faces.append(_to_pixels(res.multi_face_landmarks[0], rgb.shape[1], rgb.shape[0]))
        # Drop duplicates (two detector boxes on one face).
        unique: list[np.ndarray] = []
        for f in sorted(faces, key=lambda f: -face_size(f)):
            if all(np.linalg.norm(f[1, :2] - u[1, :2]) > 0.2 * face_size(u) for u in unique):
                unique.append(f)
        return unique

    def detect(self, rgb: np.ndarray, face_index: int = 0) -> np.ndarray | None:
        """Landmarks of one face, or None when there is none.

        In video mode (``static_image_mode=False``) the face nearest to the one
        returned for the previous frame is kept, so a second person entering
        the frame does not steal the track; the first frame takes the largest.

        Args:
            rgb: HxWx3 uint8 RGB image.
            face_index: which face, counted from the largest (still images).

        Returns:
            (478, 3) float32 landmarks in pixels, or None.
        """
        faces = self.detect_all(rgb)
        if not faces:
            return None
        if self.static_image_mode:
            return faces[face_index] if face_index < len(faces) else None
        if self._prev_centre is None or len(faces) == 1:
            pick = faces[0]
        else:
            pick = min(faces, key=lambda f: float(np.linalg.norm(f[:, :2].mean(0) - self._prev_centre)))
        self._prev_centre = pick[:, :2].mean(0)
        return pick


def _merge_boxes(boxes: list[np.ndarray], iou: float = 0.3) -> list[np.ndarray]:
    """Boxes (x0, y0, x1, y1) with overlapping duplicates (IoU above ``iou``) dropped, largest first."""
    area = lambda b: max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])  # noqa: E731
    kept: list[np.ndarray] = []
    for b in sorted(boxes, key=lambda b: -area(b)):
        ok = True
        for k in kept:
            inter = area(np.r_[np.maximum(b[:2], k[:2]), np.minimum(b[2:], k[2:])])
            if inter > iou * (area(b) + area(k) - inter):
                ok = False
                break
        if ok:
            kept.append(b)
    return kept


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("expected an HxWx3 uint8 RGB image")
