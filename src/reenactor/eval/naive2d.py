"""The naive-2D baseline: landmark deltas + Delaunay piecewise-affine warp.

For driver frame ``t`` the portrait's 2D landmarks move by the driver's 2D
landmark displacement since the first driver frame, scaled by the ratio of
the two faces' inter-ocular distances:

    target_t = P + (IOD_P / IOD_D0) * (D_t - D_0)

and the portrait is warped piecewise-affinely on a Delaunay triangulation of
its landmarks plus fixed image-border anchors. No 3D pose, no mouth interior,
no eye or iris handling, no temporal smoothing: it is the floor the pipeline
must clear. Landmarks are the pipeline's mediapipe Face Mesh (478 points),
only used here, never for metrics.
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np
from scipy.spatial import Delaunay

from reenactor.errors import NoFaceError
from reenactor.eval.imageops import check_rgb

# Face Mesh outer eye corners (used for the scale ratio).
_EYE_OUTER = (33, 263)


def _iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[_EYE_OUTER[0], :2] - lm[_EYE_OUTER[1], :2]))


def border_anchors(width: int, height: int, per_side: int = 4) -> np.ndarray:
    """Fixed anchor points on the image border, ``(4 * per_side, 2)`` float64 pixel xy."""
    xs = np.linspace(0.0, width - 1.0, per_side + 1)
    ys = np.linspace(0.0, height - 1.0, per_side + 1)
    top = np.stack([xs[:-1], np.zeros(per_side)], axis=1)
    right = np.stack([np.full(per_side, width - 1.0), ys[:-1]], axis=1)
    bottom = np.stack([xs[:0:-1], np.full(per_side, height - 1.0)], axis=1)
    left = np.stack([np.zeros(per_side), ys[:0:-1]], axis=1)
    return np.concatenate([top, right, bottom, left])


class PiecewiseAffineWarp:
    """Backward piecewise-affine warp of one source image over fixed triangles.

    Args:
        image: ``HxWx3`` ``uint8`` RGB source.
        src_points: ``(N, 2)`` pixel xy control points in the source (border
            anchors are added automatically and never move).
    """

    def __init__(self, image: np.ndarray, src_points: np.ndarray) -> None:
        self.image = check_rgb(image)
        h, w = self.image.shape[:2]
        anchors = border_anchors(w, h)
        pts = np.clip(np.asarray(src_points, dtype=np.float64)[:, :2], 0.0, [w - 1.0, h - 1.0])
        self.n_face = pts.shape[0]
        self.src = np.concatenate([pts, anchors])
        self.tri = Delaunay(self.src).simplices.astype(np.int32)
        gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self._grid = (gx, gy)

    def __call__(self, dst_points: np.ndarray) -> np.ndarray:
        """Warp so that the source control points land on ``dst_points``.

        Args:
            dst_points: ``(N, 2)`` pixel xy, same order as ``src_points``.

        Returns:
            ``HxWx3`` ``uint8`` RGB, the source's size.
        """
        h, w = self.image.shape[:2]
        dst = np.concatenate([np.asarray(dst_points, dtype=np.float64)[:, :2], self.src[self.n_face :]])
        # Rasterise destination triangles (ids), then map each pixel back with
        # its triangle's affine transform dst -> src.
        ids = np.full((h, w), -1, dtype=np.int32)
        for k, t in enumerate(self.tri):
            cv2.fillConvexPoly(ids, np.round(dst[t] * 16).astype(np.int32), int(k), lineType=cv2.LINE_8, shift=4)
        a = np.ones((len(self.tri), 3, 3))
        a[:, :2, :] = dst[self.tri].transpose(0, 2, 1)  # columns: the 3 dst vertices (x, y, 1)
        b = self.src[self.tri].transpose(0, 2, 1)  # (T, 2, 3)
        det = np.linalg.det(a)
        ok = np.abs(det) > 1e-9
        m = np.zeros((len(self.tri), 2, 3))
        m[ok] = b[ok] @ np.linalg.inv(a[ok])  # (T, 2, 3): src = M @ (x, y, 1)
        m[~ok] = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        gx, gy = self._grid
        sel = np.clip(ids, 0, None)
        m32 = m.astype(np.float32)
        map_x = m32[:, 0, 0][sel] * gx + m32[:, 0, 1][sel] * gy + m32[:, 0, 2][sel]
        map_y = m32[:, 1, 0][sel] * gx + m32[:, 1, 1][sel] * gy + m32[:, 1, 2][sel]
        outside = ids < 0
        map_x[outside] = gx[outside]
        map_y[outside] = gy[outside]
        return cv2.remap(self.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class Naive2D:
    """Naive-2D reenactment (see module docstring).

    Args:
        detector_factory: callable ``(static_image_mode: bool) -> detector`` whose
            ``detect(rgb)`` returns ``(N, 2|3)`` pixel landmarks or None; defaults
            to the pipeline's :class:`reenactor.face.landmarks.LandmarkDetector`.
    """

    def __init__(self, detector_factory=None) -> None:
        if detector_factory is None:
            from reenactor.face.landmarks import LandmarkDetector  # noqa: PLC0415

            def detector_factory(static_image_mode: bool):
                return LandmarkDetector(static_image_mode=static_image_mode)

        self._factory = detector_factory

    def animate(self, portrait: np.ndarray, driver_frames: Iterable[np.ndarray]) -> list[np.ndarray]:
        """One output frame per driver frame.

        Args:
            portrait: ``HxWx3`` ``uint8`` RGB.
            driver_frames: iterable of ``hxwx3`` ``uint8`` RGB frames.

        Returns:
            list of ``HxWx3`` ``uint8`` RGB frames (the portrait's size). Frames
            whose driver face is lost reuse the last found landmarks (the
            portrait itself before the first found face).

        Raises:
            NoFaceError: no face in the portrait or in any driver frame.
        """
        portrait = check_rgb(portrait, "portrait")
        still = self._factory(True)
        try:
            p_lm = still.detect(portrait)
        finally:
            _close(still)
        if p_lm is None:
            raise NoFaceError("naive-2D: no face in the portrait")
        p_xy = np.asarray(p_lm, dtype=np.float64)[:, :2]
        warp = PiecewiseAffineWarp(portrait, p_xy)
        scale_p = _iod(p_xy)
        video = self._factory(False)
        tracks: list[np.ndarray | None] = []
        try:
            for frame in driver_frames:
                lm = video.detect(check_rgb(frame, "driver frame"))
                tracks.append(None if lm is None else np.asarray(lm, dtype=np.float64)[:, :2])
        finally:
            _close(video)
        found = [t for t in tracks if t is not None]
        if not found:
            raise NoFaceError("naive-2D: no face in any driver frame")
        d0 = found[0]
        s = scale_p / max(_iod(d0), 1e-6)
        out = []
        last = d0
        for t in tracks:
            if t is not None:
                last = t
            out.append(warp(p_xy + s * (last - d0)))
        return out


def _close(detector) -> None:
    close = getattr(detector, "close", None)
    if callable(close):
        close()
