"""Rigid head pose from 3D landmarks.

Conventions: points are (N, 3) float arrays in pixel units, ``x`` right, ``y``
down, ``z`` away from the viewer (mediapipe's z grows away from the camera).
Rotations are 3x3 matrices acting on column vectors (``p' = R @ p``); with row
arrays that is ``P @ R.T``. Angles are degrees: yaw about the head's vertical
axis (positive = the nose moves to the image's left), pitch about the
horizontal axis (positive = chin down), roll in the image plane (positive =
clockwise on screen).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.face import topology as T


@dataclass(frozen=True)
class Similarity:
    """``dst ≈ scale * src @ rotation.T + translation`` for (N, 3) row arrays."""

    scale: float
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """Transform (N, 3) points."""
        return self.scale * pts @ self.rotation.T + self.translation

    def inverse_apply(self, pts: np.ndarray) -> np.ndarray:
        """Undo :meth:`apply` on (N, 3) points."""
        return (pts - self.translation) @ self.rotation / self.scale


def fit_similarity(src: np.ndarray, dst: np.ndarray, indices=T.STABLE_POINTS) -> Similarity:
    """Least-squares similarity (Umeyama) taking ``src`` onto ``dst``.

    Args:
        src, dst: (N, 3) float arrays (the same landmark set).
        indices: rows used for the fit (default: expression-stable points).

    Returns:
        The :class:`Similarity` minimising ``sum |dst_i - (s R src_i + t)|^2``
        over the chosen rows; ``R`` is a proper rotation (det +1).
    """
    a = np.asarray(src, dtype=np.float64)[list(indices)]
    b = np.asarray(dst, dtype=np.float64)[list(indices)]
    ma, mb = a.mean(0), b.mean(0)
    a0, b0 = a - ma, b - mb
    cov = b0.T @ a0 / len(a)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rot = u @ np.diag(sign) @ vt
    var_a = (a0**2).sum() / len(a)
    scale = float((d * sign).sum() / var_a) if var_a > 0 else 1.0
    trans = mb - scale * rot @ ma
    return Similarity(scale, rot, trans)


def head_axes(landmarks: np.ndarray) -> np.ndarray:
    """Anatomical head frame of one face.

    Columns are the head's x axis (right eye corner → left eye corner, i.e.
    towards the image's right for a frontal face), y axis (forehead → chin,
    made orthogonal to x) and z = x × y (into the screen).

    Args:
        landmarks: (478, 3) landmarks in pixels.

    Returns:
        (3, 3) rotation matrix R with head-to-camera mapping ``p_cam = R @ p_head``.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    x = lm[T.LEFT_EYE_CORNERS[0]] - lm[T.RIGHT_EYE_CORNERS[0]]
    x /= np.linalg.norm(x) + 1e-12
    y = lm[T.CHIN] - lm[T.FOREHEAD_TOP]
    y -= x * (x @ y)
    y /= np.linalg.norm(y) + 1e-12
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


def euler_degrees(rotation: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a head-to-camera rotation.

    Decomposition ``R = Rz(roll) @ Rx(pitch) @ Ry(yaw)``; an identity rotation
    gives (0, 0, 0).
    """
    r = np.asarray(rotation, dtype=np.float64)
    pitch = np.degrees(np.arcsin(np.clip(r[2, 1], -1.0, 1.0)))
    yaw = np.degrees(np.arctan2(-r[2, 0], r[2, 2]))
    roll = np.degrees(np.arctan2(-r[0, 1], r[1, 1]))
    return float(yaw), float(pitch), float(roll)


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`euler_degrees`: a (3, 3) rotation from degrees."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """Absolute (yaw, pitch, roll) in degrees from the anatomical head frame.

    Biased per person (forehead slope, eye line); use it to rank frames of one
    face, and relative rotations (:func:`fit_similarity`) to measure motion.
    """
    return euler_degrees(head_axes(landmarks))
