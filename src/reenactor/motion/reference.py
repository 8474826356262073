"""Choosing the driver's reference frame by matching the portrait.

Relative motion transfers the driver's *change from a reference frame* onto
the portrait, so the reference should be the driver frame in the portrait's
own state: like maps to like. A closed-mouth portrait then opens as the
driver's mouth opens from closed, a smiling portrait stops smiling when the
driver does, and a portrait that is itself a frame of the driver (self
reenactment) takes that very frame, so the output starts where the portrait
is.

Each face is summarised by :class:`FaceState` (head pose, pose-free
expression measures, position and size in its picture, and its pose-free
shape), and :func:`match_distance` compares two states in units of a typical
"small" difference (:data:`UNITS`). Pose and expression terms are quadratic.
The position/size and shape terms only say whether two faces are *the same
face in the same framing*: they are bounded, so between different people
(where they are large and meaningless) they add a near-constant and leave the
choice to pose and expression, while for the same person they pin the exact
frame.

Landmarks are (478, 3) float pixels (x right, y down, z into the screen) of
the picture they were found in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.face import topology as T
from reenactor.face.pose import head_axes, head_pose
from reenactor.motion.retarget import expression_metrics

#: One unit of distance per term: degrees of head rotation, inter-ocular
#: distances (IOD) of the expression measures, picture diagonals of the head
#: position, natural log of the face size, IOD (RMS) of the pose-free shape.
UNITS = {
    "yaw": 8.0,
    "pitch": 8.0,
    "roll": 8.0,
    "mouth_open": 0.04,
    "mouth_width": 0.06,
    "eye_open": 0.08,
    "brow": 0.05,
    "gaze": 0.06,
    "position": 0.03,
    "size": 0.08,
    "shape": 0.03,
}
#: Largest contribution of each bounded "same face, same framing" term
#: (``weight * (1 - exp(-d^2 / 2))``, d in units).
SAME_FACE_WEIGHT = {"position": 4.0, "size": 2.0, "shape": 6.0}
EXPRESSION_KEYS = ("mouth_open", "mouth_width", "eye_open", "brow")
POSE_KEYS = ("yaw", "pitch", "roll")
#: Driver frames whose eyes are open less than this fraction of the clip's
#: median opening (blinks, squeezes) are never the reference.
MIN_EYE_OPEN = 0.7


def gaze(head: np.ndarray) -> np.ndarray:
    """(2,) mean iris-centre offset from the eye corners' midpoint, in eye widths (x right, y down).

    Args:
        head: (478, 2+) landmarks in head axes.
    """
    out = []
    for iris, (a, b) in ((T.RIGHT_IRIS_CENTER, T.RIGHT_EYE_CORNERS), (T.LEFT_IRIS_CENTER, T.LEFT_EYE_CORNERS)):
        width = float(np.linalg.norm(head[a, :2] - head[b, :2])) + 1e-9
        out.append((head[iris, :2] - 0.5 * (head[a, :2] + head[b, :2])) / width)
    return np.mean(out, axis=0)


@dataclass(frozen=True)
class FaceState:
    """What a face looks like, for reference matching.

    Attributes:
        pose: (yaw, pitch, roll) in degrees from the anatomical head frame.
        expression: measures of :func:`reenactor.motion.retarget.expression_metrics`
            (IOD units), keys :data:`EXPRESSION_KEYS`.
        position: (2,) head centre (mean of the stable points) divided by the
            picture's diagonal.
        size: natural log of IOD / picture diagonal.
        shape: (478, 2) landmarks in head axes about the head centre, in IOD.
        gaze: (2,) see :func:`gaze`.
    """

    pose: tuple[float, float, float]
    expression: dict[str, float]
    gaze: np.ndarray
    position: np.ndarray
    size: float
    shape: np.ndarray

    @staticmethod
    def measure(landmarks: np.ndarray, picture_size: tuple[int, int]) -> "FaceState":
        """State of (478, 3) landmarks found in a picture of (width, height) pixels."""
        lm = np.asarray(landmarks, dtype=np.float64)
        diag = float(np.hypot(*picture_size))
        centre = lm[list(T.STABLE_POINTS)].mean(0)
        head = (lm - centre) @ head_axes(lm)
        iod = float(np.linalg.norm(head[263, :2] - head[33, :2])) + 1e-9
        e = expression_metrics(lm)
        return FaceState(
            pose=head_pose(lm),
            expression={k: e[k] for k in EXPRESSION_KEYS},
            gaze=gaze(head),
            position=centre[:2] / diag,
            size=float(np.log(iod / diag)),
            shape=head[:, :2] / iod,
        )


def _bounded(d: float, weight: float) -> float:
    return weight * (1.0 - float(np.exp(-0.5 * d * d)))


def match_distance(a: FaceState, b: FaceState) -> float:
    """Dissimilarity of two face states (0 for equal states, unitless).

    ``sqrt`` of the sum of squared unit differences of pose and expression
    plus the bounded same-face terms (position, size, shape).
    """
    total = sum(((x - y) / UNITS[k]) ** 2 for k, x, y in zip(POSE_KEYS, a.pose, b.pose))
    total += sum(((a.expression[k] - b.expression[k]) / UNITS[k]) ** 2 for k in EXPRESSION_KEYS)
    total += float(np.sum(((a.gaze - b.gaze) / UNITS["gaze"]) ** 2))
    total += _bounded(float(np.linalg.norm(a.position - b.position)) / UNITS["position"], SAME_FACE_WEIGHT["position"])
    total += _bounded(abs(a.size - b.size) / UNITS["size"], SAME_FACE_WEIGHT["size"])
    rms = float(np.sqrt(np.mean(np.sum((a.shape - b.shape) ** 2, axis=1))))
    total += _bounded(rms / UNITS["shape"], SAME_FACE_WEIGHT["shape"])
    return float(np.sqrt(total))


@dataclass(frozen=True)
class ReferenceChoice:
    """The chosen reference frame and why.

    Attributes:
        index: driver frame index.
        distance: :func:`match_distance` between it and the portrait (NaN when
            the frame was not chosen by matching).
        rule: ``"match"`` (closest to the portrait), ``"neutral"`` (most
            neutral frontal frame) or ``"given"`` (set by the caller).
    """

    index: int
    distance: float
    rule: str


def match_reference(
    track: np.ndarray,
    valid: np.ndarray,
    frame_size: tuple[int, int],
    portrait: np.ndarray,
    portrait_size: tuple[int, int],
) -> ReferenceChoice:
    """The valid driver frame closest to the portrait's own pose and expression.

    Frames with the eyes less open than :data:`MIN_EYE_OPEN` of the driver's
    median are skipped unless the portrait's eyes are that closed too (a
    portrait is rarely caught mid-blink, and an open eye mapped to a blink
    frame would open past the portrait's when the driver's opens).

    Each frame is measured, compared and let go in turn: what is kept is two
    numbers a frame, so ``track`` may be read from disk one frame at a time.

    Args:
        track: (F, 478, 3) driver landmarks in driver pixels (an array, or
            anything whose ``track[i]`` is frame i's (478, 3)).
        valid: (F,) bool, frames where a face was detected.
        frame_size: driver (width, height).
        portrait: (478, 3) portrait landmarks in portrait pixels.
        portrait_size: portrait (width, height).

    Raises:
        ValueError: no valid frame.
    """
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        raise ValueError("no valid frame to choose a reference from")
    target = FaceState.measure(portrait, portrait_size)
    eyes, dist = np.empty(len(idx)), np.empty(len(idx))  # eye opening (IOD), match_distance
    for k, i in enumerate(idx):
        state = FaceState.measure(track[i], frame_size)
        eyes[k], dist[k] = state.expression["eye_open"], match_distance(target, state)
    shut = eyes < MIN_EYE_OPEN * np.median(eyes)
    if target.expression["eye_open"] >= MIN_EYE_OPEN * np.median(eyes) and not shut.all():
        dist[shut] = np.inf  # an open-eyed portrait never takes a blink frame
    best = int(np.argmin(dist))
    return ReferenceChoice(int(idx[best]), float(dist[best]), "match")
