"""Directions in landmark space (issue 17): a parameter vector and a learned map A.

After Bounareli et al. ("Finding directions in GAN's latent space"), where a
linear map A takes changes of 3DMM pose/expression parameters to latent
shifts, here A takes changes of a small *measured* parameter vector to
displacements of the pose-normalised 478 landmarks that the renderer draws.

Parameter vector (:data:`CHANNELS`), measured by :func:`measure` on (478, 3)
landmarks in pixels:

* pose: ``yaw``, ``pitch``, ``roll`` in degrees (:func:`reenactor.face.pose.head_pose`),
  ``x``/``y`` (head centre, pixels) and ``size`` (inter-ocular distance,
  pixels); pose is applied as a rigid motion, never through A;
* expression (:data:`EXPRESSION_CHANNELS`), on the landmarks in their own head
  frame (:func:`reenactor.motion.ldnet.to_head`) divided by the distance
  between the two eye centres (mean of each eye's contour; the
  normalisation of dlib's measures in :mod:`reenactor.eval.metrics`), so each
  is a length in inter-ocular units (IOD):

  - ``mouth_open``: mean inner-lip gap (:data:`~reenactor.face.topology.INNER_LIP_PAIRS`);
  - ``smile``: mouth width, corner to corner (61-291);
  - ``pucker``: lip protrusion, depth of the corners behind the lip mid-points (0, 17);
  - ``corners``: height of the mouth corners above the lip mid-points' mean;
  - ``eye_r``, ``eye_l``: mean lid gap of the right / left eye;
  - ``brow``: brow height above the eye corners (mean over both brows);
  - ``frown``: how much closer together the inner brow ends are (negative distance);
  - ``gaze_x``, ``gaze_y``: mean iris centre offset from the eye contour's mean
    (x right, y down in the head frame).

A is fitted by :mod:`reenactor.train.directions` (least squares with a small
ridge, on frames of the shared clips, each frame's change from its clip's
neutral frame) and shipped as ``weights/directions.npz``. At edit time the
expression request is solved against the portrait's own measured response
(:meth:`Directions.solve`), so asking for one channel moves the others by
~0 in the landmarks it draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.errors import InputError
from reenactor.face import topology as T
from reenactor.face.pose import head_pose, rotation_from_euler
from reenactor.motion.ldnet import to_head

POSE_CHANNELS = ("yaw", "pitch", "roll")
EXPRESSION_CHANNELS = ("mouth_open", "smile", "pucker", "corners", "eye_r", "eye_l", "brow", "frown", "gaze_x", "gaze_y")
#: Channels regressed jointly when fitting A (pose only absorbs perspective; its rows are dropped).
FIT_CHANNELS = POSE_CHANNELS + EXPRESSION_CHANNELS
CHANNELS = POSE_CHANNELS + ("x", "y", "size") + EXPRESSION_CHANNELS
MODEL_NAME = "directions"
_LIP_MID = (0, 17, 13, 14)
_INNER_BROW = ((55, 107, 65), (285, 336, 295))


def eye_distance(head: np.ndarray) -> float:
    """Distance (xy) between the means of the two eye contours of (478, 3) points."""
    r = head[list(T.RIGHT_EYE_LOOP), :2].mean(0)
    left = head[list(T.LEFT_EYE_LOOP), :2].mean(0)
    return float(np.linalg.norm(left - r))


def normalised_head(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """((478, 3) float64 head-frame landmarks in IOD units, IOD in pixels).

    Head frame: origin at the stable points' mean, axes of
    :func:`reenactor.face.pose.head_axes` (x right, y down, z into the screen).
    """
    _, _, head = to_head(landmarks)
    iod = eye_distance(head)
    if iod <= 1e-6:
        raise InputError("degenerate landmarks: the eyes coincide")
    return head / iod, iod


def measure_expression(h: np.ndarray) -> np.ndarray:
    """(10,) float64 expression channels (:data:`EXPRESSION_CHANNELS`) of (478, 3) normalised head landmarks."""
    def gap(pairs) -> float:
        return float(np.mean([h[lo, 1] - h[up, 1] for up, lo in pairs]))

    c0, c1 = T.MOUTH_CORNERS
    corners_y = 0.5 * (h[c0, 1] + h[c1, 1])
    mid = h[list(_LIP_MID)]
    brow_y = h[list(T.RIGHT_BROW + T.LEFT_BROW), 1].mean()
    eye_y = h[[33, 133, 263, 362], 1].mean()
    inner_r, inner_l = (h[list(ix), 0].mean() for ix in _INNER_BROW)
    gx, gy = [], []
    for iris, loop in ((T.RIGHT_IRIS_CENTER, T.RIGHT_EYE_LOOP), (T.LEFT_IRIS_CENTER, T.LEFT_EYE_LOOP)):
        d = h[iris, :2] - h[list(loop), :2].mean(0)
        gx.append(d[0])
        gy.append(d[1])
    return np.array([
        gap(T.INNER_LIP_PAIRS),
        float(np.linalg.norm(h[c1, :2] - h[c0, :2])),
        float(0.5 * (h[c0, 2] + h[c1, 2]) - h[[0, 17], 2].mean()),
        float(mid[:, 1].mean() - corners_y),
        gap(T.RIGHT_LID_PAIRS),
        gap(T.LEFT_LID_PAIRS),
        float(eye_y - brow_y),
        float(-(inner_l - inner_r)),
        float(np.mean(gx)),
        float(np.mean(gy)),
    ])


def measure(landmarks: np.ndarray) -> dict[str, float]:
    """The parameter vector of one face, ``{channel: value}`` for :data:`CHANNELS`.

    Args:
        landmarks: (478, 3) landmarks in pixels.

    Returns:
        Degrees for yaw/pitch/roll (absolute, biased per person: compare
        changes), pixels for x/y/size, IOD units for the expression channels.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (T.N_LANDMARKS, 3):
        raise InputError(f"measure needs (478, 3) landmarks, got {lm.shape}")
    h, iod = normalised_head(lm)
    yaw, pitch, roll = head_pose(lm)
    centre = lm[list(T.STABLE_POINTS)].mean(0)
    out = {"yaw": yaw, "pitch": pitch, "roll": roll, "x": float(centre[0]), "y": float(centre[1]), "size": iod}
    out.update(zip(EXPRESSION_CHANNELS, measure_expression(h).tolist()))
    return out


@dataclass(frozen=True)
class Directions:
    """The learned map A and the channels' typical ranges.

    Attributes:
        matrix: (10, 478, 3) float64: normalised-head landmark displacement
            (IOD units) per unit change of each expression channel.
        span: (10,) float64: the 95th percentile of |change| of each channel
            over the fitting frames (IOD units), the "1.0" of the edit flags.
        pose_span: (3,) float64: the same for yaw, pitch, roll (degrees).
    """

    matrix: np.ndarray
    span: np.ndarray
    pose_span: np.ndarray

    def response(self, head: np.ndarray, eps: float = 0.05) -> np.ndarray:
        """(10, 10) measured channel change (rows) per unit of each direction (columns) on ``head``."""
        base = measure_expression(head)
        cols = [(measure_expression(head + eps * a) - base) / eps for a in self.matrix]
        return np.stack(cols, axis=1)

    def solve(self, head: np.ndarray, request: np.ndarray, steps: int = 2) -> np.ndarray:
        """Normalised-head displacement (478, 3) whose measured change is ``request``.

        Args:
            head: (478, 3) normalised head landmarks of the face being edited.
            request: (10,) wanted change of :data:`EXPRESSION_CHANNELS` (IOD units).
            steps: Newton steps against the face's own response (the
                measures are nearly linear; 2 leave < 1e-3 IOD of error).
        """
        want = np.asarray(request, dtype=np.float64)
        if not np.any(want):
            return np.zeros_like(head)
        m = self.response(head)
        base = measure_expression(head)
        coef = np.zeros(len(want))
        for _ in range(steps):
            got = measure_expression(head + np.tensordot(coef, self.matrix, 1)) - base
            coef += np.linalg.lstsq(m, want - got, rcond=1e-6)[0]
        return np.tensordot(coef, self.matrix, 1)


def load_directions(path=None) -> Directions:
    """The shipped map (checksum-verified), or the ``.npz`` at ``path``.

    Raises:
        WeightsError: the shipped file is missing or corrupt.
        InputError: the file lacks the arrays or has the wrong shapes.
    """
    if path is None:
        from reenactor.weights import weight_path

        path = weight_path(MODEL_NAME)
    with np.load(path) as z:
        try:
            d = Directions(z["matrix"].astype(np.float64), z["span"].astype(np.float64), z["pose_span"].astype(np.float64))
        except KeyError as exc:
            raise InputError(f"{path}: not a directions file (missing {exc})") from None
    if d.matrix.shape != (len(EXPRESSION_CHANNELS), T.N_LANDMARKS, 3):
        raise InputError(f"{path}: directions matrix has shape {d.matrix.shape}")
    return d


#: Channels that move the lower face; without them an edit leaves the nose, mouth and jaw still.
MOUTH_CHANNELS = ("mouth_open", "smile", "pucker", "corners")


def _upper_face_weight(head: np.ndarray) -> np.ndarray:
    """(478,) 1 down to just below the lower lids, fading (smoothstep) to 0 at the nose tip.

    A's eye, brow and gaze directions carry a little of what co-occurred in the
    fitting clips (the nose tip rises 0.7 px with a blink at 60 px between the
    eyes, which an independent head-pose reader takes for a 1.7 deg nod);
    blinks and brows do not move the nose and below.
    """
    from reenactor.numeric import smoothstep

    lids = [lo for _, lo in T.RIGHT_LID_PAIRS + T.LEFT_LID_PAIRS]
    top = float(head[lids, 1].max()) + 0.1
    return 1.0 - np.asarray(smoothstep(head[:, 1], top, max(float(head[T.NOSE_TIP, 1]), top + 0.05)), dtype=np.float64)


def solve_field(rig, directions: Directions, want: np.ndarray, steps: int = 3) -> np.ndarray:
    """(478, 3) head-axes pixel displacement from A whose measured change is ``want``, stable points kept still.

    A's directions keep the anatomical head frame still but move a few of the
    points the pipeline takes the head's rigid motion from (a blink the eye
    corners, a jaw drop the jaw line by the ears): left in, the hair and
    background would follow each blink by a few pixels and a jaw drop would
    read as a 3.5 deg nod. Those points stay where they are (as with the
    hand-built shapes), and the request is corrected (``steps`` fixed-point
    steps, measured with :func:`~reenactor.motion.params.measure` as a
    caller would) so the drawn change is still ``want``.

    Args:
        rig: the portrait's :class:`~reenactor.motion.retarget.PortraitRig`.
        directions: the map A.
        want: (10,) change of EXPRESSION_CHANNELS, IOD units.
    """
    head, iod = normalised_head(rig.landmarks)
    base = measure_expression(head)
    stable = list(T.STABLE_POINTS)
    ask = np.array(want, dtype=np.float64)
    keep = _upper_face_weight(head) if not np.any(ask[[EXPRESSION_CHANNELS.index(c) for c in MOUTH_CHANNELS]]) else None
    for _ in range(steps):
        field = directions.solve(head, ask) * iod
        field[stable] = 0.0
        if keep is not None:
            field *= keep[:, None]
        got = measure_expression(normalised_head(rig.landmarks + field @ rig.axes.T)[0]) - base
        ask = ask + (want - got)
    return field


def edit_landmarks(rig, directions: Directions, change: dict[str, float]) -> np.ndarray:
    """Target landmarks for a portrait with some channels changed.

    Args:
        rig: the portrait's :class:`reenactor.motion.retarget.PortraitRig`
            (landmarks in crop pixels).
        directions: the map A.
        change: ``{channel: change}``: degrees for yaw/pitch/roll, pixels for
            x/y, a factor for ``size`` (1 = as is), IOD units for the
            expression channels; missing channels stay as they are.

    Returns:
        (478, 3) float64 landmarks in crop pixels, for :meth:`reenactor.api.Reenactor.render`.

    Raises:
        InputError: an unknown channel name.
    """
    unknown = sorted(set(change) - set(CHANNELS))
    if unknown:
        raise InputError(f"unknown channel(s) {', '.join(unknown)} (known: {', '.join(CHANNELS)})")
    request = np.array([float(change.get(k, 0.0)) for k in EXPRESSION_CHANNELS])
    delta = solve_field(rig, directions, request) @ rig.axes.T if np.any(request) else np.zeros_like(rig.landmarks)
    rot = rotation_from_euler(*(float(change.get(k, 0.0)) for k in POSE_CHANNELS))
    shift = np.array([change.get("x", 0.0), change.get("y", 0.0), 0.0], dtype=np.float64)
    return rig.pose(delta, rot, float(change.get("size", 1.0)), shift)
