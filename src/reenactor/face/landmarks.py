"""478-point 3D face landmarks with irises: mediapipe Face Mesh's networks, run here.

The networks are mediapipe 0.10.21's face detectors and attention face mesh,
shipped as ONNX (see :mod:`reenactor.face.facemesh`, :mod:`.blazeface`,
:mod:`.attention`); mediapipe itself is not needed.

Coordinates returned by this module are always **pixels of the image given**:
``x`` to the right, ``y`` down, ``z`` towards the viewer negative (mediapipe's
convention) in the same pixel scale as ``x``. Arrays are ``(478, 3) float32``.
"""

from __future__ import annotations

import cv2
import numpy as np

from reenactor.config import DetectionConfig
from functools import lru_cache

from reenactor.face.blazeface import FULL_RANGE, SHORT_RANGE, FaceDetector, check_rgb
from reenactor.face.facemesh import FaceMesh, FaceMeshTracker, default_networks, onnx_runner


def face_size(landmarks: np.ndarray) -> float:
    """Size of a face: the larger side of its 2D landmark bounding box (pixels)."""
    span = landmarks[:, :2].max(0) - landmarks[:, :2].min(0)
    return float(span.max())


@lru_cache(maxsize=1)
def _full_range_runner():
    """The full-range detector network, loaded once per process (portraits only)."""
    return onnx_runner(FULL_RANGE.name)


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
        self.config = config or DetectionConfig()
        self.static_image_mode = static_image_mode
        self._prev_centre: np.ndarray | None = None
        cfg = self.config
        nets = default_networks()
        self._mesh = FaceMesh(nets, max_faces=1, min_detection_confidence=cfg.min_detection_confidence,
                              min_tracking_confidence=cfg.min_tracking_confidence)
        self._tracker = None
        self._detectors: list[FaceDetector] = []
        if static_image_mode:
            self._detectors = [
                FaceDetector(_full_range_runner(), FULL_RANGE),
                FaceDetector(nets.detector, SHORT_RANGE, cfg.min_detection_confidence),
            ]
        else:
            self._tracker = FaceMeshTracker(nets, redetect_frames=cfg.redetect_frames, max_faces=cfg.max_faces,
                                            min_detection_confidence=cfg.min_detection_confidence,
                                            min_tracking_confidence=cfg.min_tracking_confidence)

    def new_shot(self) -> None:
        """The next video frame may start another shot: find the face anew instead of
        tracking it from where the previous frame had it (still images: no effect).
        The previous face's position is kept to choose among several faces."""
        if self._tracker is not None:
            self._tracker.reset()

    def close(self) -> None:
        """Forget the tracked faces (the networks are shared and stay loaded)."""
        if self._tracker is not None:
            self._tracker.reset()
        self._prev_centre = None

    def __enter__(self) -> "LandmarkDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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
        for det in self._detectors:
            found = det.detect(small)
            if found:
                boxes = [d.box.astype(np.float64) / scale for d in found]
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
        faces = self._mesh.in_image(crop)
        if not faces:
            return None
        pts = faces[0] / scale
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
        check_rgb(rgb)
        if not self.static_image_mode:
            return sorted(self._tracker.process(rgb), key=lambda f: -face_size(f))
        faces = []
        for box in self._face_boxes(rgb):
            pts = self._mesh_in_box(rgb, box)
            if pts is not None:
                faces.append(pts)
        if not faces:  # the detectors can miss faces that fill the frame
            faces.extend(self._mesh.in_image(rgb)[:1])
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
