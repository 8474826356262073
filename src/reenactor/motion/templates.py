"""Procedural motion: drive a portrait without a video.

A template is a function of time giving head angles and a few expression
controls (:class:`MotionParams`). :class:`ExpressionBasis` turns the controls
into landmark displacements through the learned map A of
:mod:`reenactor.motion.params` (issue 17): each control asks for a change of
the measured expression channels in the portrait's *own* units (its lid gaps,
mouth width, face length, eye size), and A, solved against the portrait's own
response, gives the landmarks. So every portrait blinks shut and opens its
mouth in proportion to its face, and the built-in motions move the face the
way the fitted clips do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from reenactor.face import topology as T
from reenactor.face.pose import head_axes, rotation_from_euler
from reenactor.motion.params import EXPRESSION_CHANNELS, Directions, load_directions, measure_expression, normalised_head, solve_field
from reenactor.motion.retarget import FaceProportions, PortraitRig

DEFAULT_FPS = 25.0


@dataclass(frozen=True)
class MotionParams:
    """Controls for one frame. Angles in degrees; expressions mostly 0..1.

    ``brow`` is -1 (frown) .. 1 (raised); ``gaze_x``/``gaze_y`` -1..1
    (right/down positive in the image).
    """

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    blink: float = 0.0
    mouth_open: float = 0.0
    smile: float = 0.0
    brow: float = 0.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0


#: One unit of each control as a change of the measured expression channels, in
#: the portrait's own measures. Chosen to match the hand-built displacements
#: these replace, read with :func:`~reenactor.motion.params.measure_expression`
#: on six portraits (the same fractions on each): mouth_open 1 opens the inner
#: lips by 0.46 mouth widths; smile 1 widens the mouth by 0.26 and lifts its
#: corners by 0.07 mouth widths; brow 1 raises the brows by 0.04 face lengths,
#: brow -1 lowers them by 0.028 and brings the inner ends 0.015 face lengths
#: closer (a frown); gaze 1 moves the irises 0.2 eye widths across or 0.25 lid
#: gaps down; blink 1 closes each eye by its own lid gap.
UNITS = {"mouth_gap": 0.46, "smile_width": 0.26, "smile_lift": 0.07, "brow_raise": 0.04,
         "brow_lower": 0.028, "frown": 0.015, "gaze_x": 0.2, "gaze_y": 0.25}
#: Order of the fields of :class:`ExpressionBasis`.
FIELDS = ("blink", "mouth_open", "smile", "brow_up", "frown", "gaze_x", "gaze_y")


@lru_cache(maxsize=1)
def shipped_directions() -> Directions:
    """The shipped map A (:func:`reenactor.motion.params.load_directions`), loaded once."""
    return load_directions()


def control_requests(head: np.ndarray, proportions: FaceProportions, iod: float) -> dict[str, np.ndarray]:
    """Channel change asked by one unit of each control on one portrait.

    Args:
        head: (478, 3) the portrait's normalised head landmarks (IOD units).
        proportions: its :class:`~reenactor.motion.retarget.FaceProportions` (pixels).
        iod: its inter-ocular distance (pixels) of :func:`~reenactor.motion.params.normalised_head`.

    Returns:
        ``{field: (10,) change of EXPRESSION_CHANNELS in IOD units}`` for :data:`FIELDS`.
    """
    c = dict(zip(EXPRESSION_CHANNELS, measure_expression(head).tolist()))
    mouth, face = c["smile"], proportions.face_length / iod
    eye_width = float(np.mean(proportions.eye_width)) / iod
    lid_gap = max(0.5 * (c["eye_r"] + c["eye_l"]), 0.0)

    def ask(**change: float) -> np.ndarray:
        return np.array([change.get(k, 0.0) for k in EXPRESSION_CHANNELS])

    u = UNITS
    return {
        "blink": ask(eye_r=-max(c["eye_r"], 0.0), eye_l=-max(c["eye_l"], 0.0)),
        "mouth_open": ask(mouth_open=u["mouth_gap"] * mouth),
        "smile": ask(smile=u["smile_width"] * mouth, corners=u["smile_lift"] * mouth),
        "brow_up": ask(brow=u["brow_raise"] * face),
        "frown": ask(brow=-u["brow_lower"] * face, frown=u["frown"] * face),
        "gaze_x": ask(gaze_x=u["gaze_x"] * eye_width),
        "gaze_y": ask(gaze_y=u["gaze_y"] * lid_gap),
    }


def _close_each_lid_pair(head: np.ndarray, blink: np.ndarray) -> np.ndarray:
    """The blink field (478, 3) with each lid pair's gap exactly closed at blink 1.

    A closes the mean lid gap; what it leaves per pair (a few percent of the
    gap, up to ~0.12 at the outer corner) is taken up three quarters by the
    upper lid, a quarter by the lower, as :class:`~reenactor.motion.retarget.Retargeter` closes lids.
    """
    out = np.array(blink)
    for up, lo in T.RIGHT_LID_PAIRS + T.LEFT_LID_PAIRS:
        left = (head[lo, 1] + out[lo, 1]) - (head[up, 1] + out[up, 1])
        out[up, 1] += 0.75 * left
        out[lo, 1] -= 0.25 * left
    return out


class ExpressionBasis:
    """Landmark displacements for the expression controls of one portrait, through A.

    Each control's field is A's displacement (:func:`solve_field`: solved
    against the portrait's own response, stable points kept still) for one
    unit of the control (:func:`control_requests`); a
    frame's displacement is the sum of the fields times the controls (brow
    above 0 uses ``brow_up``, below 0 ``frown``). Head pose stays a rigid
    rotation about the head centre.

    Args:
        rig: the portrait's rig (landmarks, head centre and axes).
        directions: the map A (default: the shipped one).
    """

    def __init__(self, rig: PortraitRig, directions: Directions | None = None) -> None:
        self.rig = rig
        self.directions = directions if directions is not None else shipped_directions()
        head, iod = normalised_head(rig.landmarks)
        self.requests = control_requests(head, rig.proportions, iod)
        fields = {k: solve_field(rig, self.directions, req) for k, req in self.requests.items()}
        fields["blink"] = _close_each_lid_pair(rig.head, fields["blink"])
        #: (7, 478, 3) head-axes pixel displacement per unit of each of :data:`FIELDS`.
        self.fields = np.stack([fields[k] for k in FIELDS])

    def displacement(self, m: MotionParams) -> np.ndarray:
        """(478, 3) displacement in crop pixels (camera axes) for the controls."""
        coef = np.array([m.blink, m.mouth_open, m.smile, max(m.brow, 0.0), max(-m.brow, 0.0), m.gaze_x, m.gaze_y])
        return np.tensordot(coef, self.fields, 1) @ self.rig.axes.T

    def landmarks(self, m: MotionParams) -> np.ndarray:
        """(478, 3) posed landmarks for one frame's controls."""
        rot = rotation_from_euler(m.yaw, m.pitch, m.roll)
        return self.rig.pose(self.displacement(m), rot)


# ----------------------------------------------------------------- templates
def _pulse(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """Smooth 0 -> 1 -> 0 bump of ``length`` seconds starting at ``start``."""
    x = np.clip((t - start) / length, 0.0, 1.0)
    return np.sin(np.pi * x) ** 2


def _blinks(t: np.ndarray, times) -> np.ndarray:
    return np.clip(sum(_pulse(t, s, 0.28) for s in times), 0.0, 1.0)


def _talk(t: np.ndarray, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    syll = np.cumsum(rng.uniform(0.16, 0.3, size=int(t.max() / 0.16) + 4))
    amp = rng.uniform(0.25, 0.9, size=len(syll))
    out = np.zeros_like(t)
    for s, a in zip(syll, amp):
        out = np.maximum(out, a * _pulse(t, s - 0.2, 0.22))
    return out


def _seq(duration: float, fps: float) -> np.ndarray:
    return np.arange(int(round(duration * fps))) / fps


def _frames(t: np.ndarray, **curves) -> list[MotionParams]:
    keys = list(curves)
    arr = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), t.shape) for k, v in curves.items()}
    return [MotionParams(**{k: float(arr[k][i]) for k in keys}) for i in range(len(t))]


def template(name: str, fps: float = DEFAULT_FPS) -> list[MotionParams]:
    """The frames of a built-in motion.

    Args:
        name: one of :data:`TEMPLATES`.
        fps: frames per second of the result.

    Raises:
        ValueError: unknown name.
    """
    if name not in TEMPLATES:
        raise ValueError(f"unknown motion {name!r}; choose from {', '.join(TEMPLATES)}")
    w = 2 * np.pi
    if name == "nod":
        t = _seq(3.0, fps)
        return _frames(t, pitch=14 * np.sin(w * t / 1.5), blink=_blinks(t, [1.9]))
    if name == "shake":
        t = _seq(3.0, fps)
        return _frames(t, yaw=22 * np.sin(w * t / 1.5), blink=_blinks(t, [1.1]))
    if name == "tilt":
        t = _seq(3.0, fps)
        return _frames(t, roll=14 * np.sin(w * t / 1.5), blink=_blinks(t, [2.2]))
    if name == "blink":
        t = _seq(3.0, fps)
        return _frames(t, blink=_blinks(t, [0.4, 1.4, 1.8, 2.6]))
    if name == "smile":
        t = _seq(3.0, fps)
        s = _pulse(t, 0.2, 2.6)
        return _frames(t, smile=s, mouth_open=0.25 * s, brow=0.3 * s, blink=_blinks(t, [2.5]))
    if name == "frown":
        t = _seq(3.0, fps)
        return _frames(t, brow=-_pulse(t, 0.2, 2.6), pitch=3 * _pulse(t, 0.2, 2.6))
    if name == "look":
        t = _seq(4.0, fps)
        return _frames(t, gaze_x=np.sin(w * t / 2.0), gaze_y=0.5 * np.sin(w * t / 4.0), yaw=4 * np.sin(w * t / 2.0))
    if name == "talk":
        t = _seq(4.0, fps)
        return _frames(
            t, mouth_open=_talk(t), pitch=3 * np.sin(w * t / 1.3), yaw=4 * np.sin(w * t / 2.9), blink=_blinks(t, [1.2, 3.1])
        )
    # demo: a bit of everything, 8 seconds.
    t = _seq(8.0, fps)
    yaw = 20 * np.sin(w * t / 2.0) * _pulse(t, 0.0, 2.0) + 6 * np.sin(w * (t - 4) / 3.0) * (t > 4)
    pitch = 12 * np.sin(w * (t - 2.0) / 1.0) * _pulse(t, 2.0, 2.0) + 3 * np.sin(w * t / 1.3) * (t > 5)
    roll = 10 * np.sin(w * (t - 3.5) / 1.5) * _pulse(t, 3.5, 1.5)
    smile = _pulse(t, 2.0, 2.5)
    talk = _talk(t) * (t > 5.0)
    return _frames(
        t,
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        smile=smile,
        mouth_open=np.maximum(0.25 * smile, talk),
        brow=0.5 * _pulse(t, 4.2, 1.0) - 0.6 * _pulse(t, 7.0, 1.0),
        blink=_blinks(t, [0.9, 3.0, 4.9, 6.6]),
        gaze_x=0.8 * np.sin(w * (t - 4.0) / 1.6) * _pulse(t, 4.0, 1.6),
    )


TEMPLATES = ("nod", "shake", "tilt", "blink", "smile", "frown", "look", "talk", "demo")


def _gaze(lm: np.ndarray) -> tuple[float, float]:
    """Mean iris offset from the eye centre, in eye widths (x) and eye heights (y)."""
    r = head_axes(lm)
    h = lm @ r
    gx, gy = [], []
    for iris, loop, pairs in ((T.RIGHT_IRIS_CENTER, T.RIGHT_EYE_LOOP, T.RIGHT_LID_PAIRS), (T.LEFT_IRIS_CENTER, T.LEFT_EYE_LOOP, T.LEFT_LID_PAIRS)):
        ring = h[list(loop)]
        width = np.ptp(ring[:, 0]) + 1e-9
        opening = np.mean([h[lo, 1] - h[up, 1] for up, lo in pairs]) + 1e-9
        gx.append((h[iris, 0] - ring[:, 0].mean()) / width)
        gy.append((h[iris, 1] - ring[:, 1].mean()) / opening)
    return float(np.mean(gx)), float(np.mean(gy))


def params_from_still(driver: np.ndarray, portrait: np.ndarray) -> MotionParams:
    """Controls that make the portrait take a still driver's pose and expression.

    A single picture cannot separate a person's resting shape from their
    expression, so instead of transferring landmark offsets (which would
    carry the driver's face shape over), this measures a few identity-free
    quantities on both faces (head angles, eye and mouth openings relative to
    their own widths, mouth width, brow height, gaze) and sets the portrait's
    :class:`ExpressionBasis` controls to the differences.

    Args:
        driver, portrait: (478, 3) landmarks, each in its own image's pixels.
    """
    from reenactor.face.pose import head_pose
    from reenactor.motion.retarget import expression_metrics

    yd, pd, rd = head_pose(driver)
    yp, pp, rp = head_pose(portrait)
    ed, ep = expression_metrics(driver), expression_metrics(portrait)
    rig = PortraitRig(portrait)
    prop = rig.proportions
    iod = float(np.linalg.norm(rig.head[263, :2] - rig.head[33, :2]))
    blink = 1.0 - ed["eye_open"] / max(ep["eye_open"], 1e-6)
    mouth = (ed["mouth_open"] / ed["mouth_width"] - ep["mouth_open"] / ep["mouth_width"]) / UNITS["mouth_gap"]
    smile = (ed["mouth_width"] / ep["mouth_width"] - 1.0) / UNITS["smile_width"]
    lift = (ed["brow"] - ep["brow"]) * iod / prop.face_length  # face lengths, + = raised
    brow = lift / (UNITS["brow_raise"] if lift >= 0 else UNITS["brow_lower"])
    gxd, gyd = _gaze(driver)
    gxp, gyp = _gaze(portrait)
    return MotionParams(
        yaw=float(np.clip(yd - yp, -40, 40)),
        pitch=float(np.clip(pd - pp, -30, 30)),
        roll=float(np.clip(rd - rp, -40, 40)),
        blink=float(np.clip(blink, 0.0, 1.0)),
        mouth_open=float(np.clip(mouth, 0.0, 1.3)),
        smile=float(np.clip(smile, 0.0, 1.2)),
        brow=float(np.clip(brow, -1.0, 1.0)),
        gaze_x=float(np.clip((gxd - gxp) / UNITS["gaze_x"], -1.2, 1.2)),
        gaze_y=float(np.clip((gyd - gyp) / UNITS["gaze_y"], -1.0, 1.0)),
    )
