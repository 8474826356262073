"""Head pose from dlib-68 landmarks with ``cv2.solvePnP``.

Only rigid points are used (eye corners and nose), so mouth opening and brow
motion do not leak into the pose. The 3D model is a generic adult face in
millimetres (x to the subject's left = image right when frontal, y up, z out
of the face towards the viewer), built from average anthropometric
distances (biocular width 90 mm, intercanthal width 32 mm, nose tip ~30 mm in
front of the inner eye corners).

The camera is a pinhole with focal length ``max(W, H)`` pixels and the
principal point at the image centre. The iterative solver starts from a
frontal pose at the distance implied by the outer eye-corner span (without
that guess it occasionally converges to a mirrored solution, seen as ~150 deg
roll jumps).

Poses are compared as *relative rotations* ``R_t @ R_0.T`` (head motion since
frame 0, expressed in camera coordinates: x right, y down, z into the
scene), never as differences of absolute Euler angles. :func:`euler_deg`
decomposes such a rotation as ``R = Ry(-yaw) @ Rx(pitch) @ Rz(roll)``; pitch
and roll have the signs of :mod:`reenactor.face.pose`, **yaw the opposite one**
(measured: the astronaut turned by yaw +20 in :mod:`reenactor.face.pose`, its
nose 9 px towards the image's left, reads -14.4 here; pitch +15 reads +20.2,
roll +15 reads +14.5):

* ``yaw`` > 0: the face turns towards the image's right;
* ``pitch`` > 0: chin down (the nose turns down);
* ``roll`` > 0: the head tilts clockwise as seen in the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reenactor.errors import InputError

#: dlib-68 indices used for PnP (rigid: eye corners, nose bridge/tip/base).
POSE_INDICES = (36, 39, 42, 45, 27, 30, 31, 33, 35)

#: Generic 3D positions (mm) of :data:`POSE_INDICES`; x right (image), y up, z towards camera.
MODEL_POINTS_MM = np.array(
    [
        [-45.0, 0.0, -10.0],  # 36 outer corner, image-left eye
        [-16.0, 0.0, 0.0],  # 39 inner corner, image-left eye
        [16.0, 0.0, 0.0],  # 42 inner corner, image-right eye
        [45.0, 0.0, -10.0],  # 45 outer corner, image-right eye
        [0.0, 4.0, 8.0],  # 27 nasion (top of the nose bridge)
        [0.0, -38.0, 30.0],  # 30 nose tip
        [-13.0, -44.0, 12.0],  # 31 left alar base
        [0.0, -48.0, 18.0],  # 33 subnasale
        [13.0, -44.0, 12.0],  # 35 right alar base
    ],
    dtype=np.float64,
)

_EYE_SPAN_MM = 90.0
# Frontal pose: model y up -> camera y down, model z (towards viewer) -> camera -z.
_R_FRONTAL = np.diag([1.0, -1.0, -1.0])


def camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole intrinsics ``(3, 3)`` float64: f = max(W, H) px, centre (W-1)/2, (H-1)/2."""
    f = float(max(width, height))
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def estimate_pose(landmarks: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Head rotation (model -> camera) from dlib-68 landmarks.

    Args:
        landmarks: ``(68, 2)`` pixel xy (x right, y down).
        image_size: ``(width, height)`` of the image the landmarks come from.

    Returns:
        ``(3, 3)`` float64 rotation matrix ``R`` with ``X_cam = R @ X_model + t``.

    Raises:
        InputError: wrong landmark shape or degenerate eye span.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (68, 2):
        raise InputError(f"estimate_pose needs (68, 2) landmarks, got {lm.shape}")
    w, h = int(image_size[0]), int(image_size[1])
    k = camera_matrix(w, h)
    f = k[0, 0]
    img_pts = lm[list(POSE_INDICES)].astype(np.float64)
    span = float(np.linalg.norm(lm[45] - lm[36]))
    if span < 1.0:
        raise InputError("estimate_pose: degenerate landmarks (eye corners coincide)")
    z = f * _EYE_SPAN_MM / span
    mid = (lm[39] + lm[42]) / 2.0
    tvec0 = np.array([[(mid[0] - k[0, 2]) * z / f], [(mid[1] - k[1, 2]) * z / f], [z]])
    rvec0 = cv2.Rodrigues(_R_FRONTAL)[0]
    ok, rvec, _tvec = cv2.solvePnP(
        MODEL_POINTS_MM,
        img_pts,
        k,
        None,
        rvec=rvec0.copy(),
        tvec=tvec0.copy(),
        useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        raise InputError("estimate_pose: solvePnP failed")
    return cv2.Rodrigues(rvec)[0]


def relative_rotation(r_t: np.ndarray, r_0: np.ndarray) -> np.ndarray:
    """Head motion from frame 0 to frame t in camera coordinates: ``R_t @ R_0.T`` (3x3)."""
    return np.asarray(r_t, dtype=np.float64) @ np.asarray(r_0, dtype=np.float64).T


def euler_deg(r_rel: np.ndarray) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees of a relative rotation (see module docstring).

    Decomposes ``R = Ry(a) @ Rx(b) @ Rz(c)`` and returns
    ``yaw = -a, pitch = b, roll = c``.
    """
    r = np.asarray(r_rel, dtype=np.float64)
    # Ry(a) Rx(b) Rz(c): r[1,2] = -sin b; r[0,2] = cos b sin a; r[2,2] = cos b cos a;
    # r[1,0] = cos b sin c; r[1,1] = cos b cos c.
    b = math.asin(float(np.clip(-r[1, 2], -1.0, 1.0)))
    a = math.atan2(r[0, 2], r[2, 2])
    c = math.atan2(r[1, 0], r[1, 1])
    return (-math.degrees(a), math.degrees(b), math.degrees(c))


def rotation_from_euler_deg(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Inverse of :func:`euler_deg`: a ``(3, 3)`` relative rotation in camera coordinates."""
    a, b, c = math.radians(-yaw), math.radians(pitch), math.radians(roll)
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def geodesic_deg(r_a: np.ndarray, r_b: np.ndarray) -> float:
    """Angle in degrees of the rotation taking ``r_b`` to ``r_a`` (0..180)."""
    m = np.asarray(r_a, dtype=np.float64) @ np.asarray(r_b, dtype=np.float64).T
    cos = (float(np.trace(m)) - 1.0) / 2.0
    return math.degrees(math.acos(float(np.clip(cos, -1.0, 1.0))))


def project_model(
    r_rel: np.ndarray, image_size: tuple[int, int], eye_span_px: float = 80.0
) -> np.ndarray:
    """Synthetic landmarks: the 3D model after head motion ``r_rel`` from a frontal pose.

    Used by tests to check that :func:`estimate_pose` measures a known
    rotation back. Only :data:`POSE_INDICES` are meaningful; the other rows
    are filled with plausible values so that the result is a valid ``(68, 2)``
    array.

    Args:
        r_rel: ``(3, 3)`` head motion in camera coordinates.
        image_size: ``(width, height)``.
        eye_span_px: outer eye-corner span of the frontal face, pixels.

    Returns:
        ``(68, 2)`` float64 pixel xy.
    """
    w, h = int(image_size[0]), int(image_size[1])
    k = camera_matrix(w, h)
    z = k[0, 0] * _EYE_SPAN_MM / eye_span_px
    r = np.asarray(r_rel, dtype=np.float64) @ _R_FRONTAL
    tvec = np.array([[0.0], [0.0], [z]])
    pts, _ = cv2.projectPoints(MODEL_POINTS_MM, cv2.Rodrigues(r)[0], tvec, k, None)
    pts = pts.reshape(-1, 2)
    out = np.tile(pts.mean(axis=0), (68, 1))
    out[list(POSE_INDICES)] = pts
    return out
