"""Procedural motion: drive a portrait without a video.

A template is a function of time giving head angles and a few expression
controls (:class:`MotionParams`). :class:`ExpressionBasis` turns the controls
into landmark displacements built from the portrait's *own* geometry (its lid
gaps, mouth width, face length), so every portrait blinks shut and opens its
mouth in proportion to its face.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.face import topology as T
from reenactor.face.pose import head_axes, rotation_from_euler
from reenactor.motion.retarget import PortraitRig

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


class ExpressionBasis:
    """Landmark displacements for the expression controls of one portrait.

    Args:
        rig: the portrait's rig (landmarks, head centre and axes).
    """

    def __init__(self, rig: PortraitRig) -> None:
        self.rig = rig
        h = rig.head
        p = rig.proportions
        n = T.N_LANDMARKS
        self.blink = np.zeros((n, 3))
        for pairs in (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS):
            for up, lo in pairs:
                gap = h[lo, 1] - h[up, 1]
                self.blink[up, 1] = 0.8 * gap
                self.blink[lo, 1] = -0.2 * gap
        mw = p.mouth_width
        m_centre = h[list(T.INNER_LIP_LOOP)].mean(0)
        # Jaw drop: everything below the mouth line moves down, most at the chin
        # and lower lip, fading towards the ears and above the mouth.
        self.jaw = np.zeros((n, 3))
        below = h[:, 1] - m_centre[1]
        lateral = np.abs(h[:, 0] - m_centre[0]) / (0.5 * p.face_width)
        w = np.clip(below / (0.1 * mw) + 0.5, 0, 1) * np.exp(-(lateral**2) / 0.55)
        w[list(T.INNER_LIP_LOOP)] = 0.0
        lower_inner = [lo for _, lo in T.INNER_LIP_PAIRS] + [95, 88, 178, 87, 14, 317, 402, 318, 324]
        w[lower_inner] = 1.0
        self.jaw[:, 1] = 0.42 * mw * w
        upper_inner = [up for up, _ in T.INNER_LIP_PAIRS]
        self.jaw[upper_inner, 1] -= 0.04 * mw
        # Smile: corners out and up, cheeks up a little.
        self.smile = np.zeros((n, 3))
        for corner, side in ((T.MOUTH_CORNERS[0], -1.0), (T.MOUTH_CORNERS[1], 1.0)):
            d2 = ((h[:, :2] - h[corner, :2]) ** 2).sum(1)
            wc = np.exp(-d2 / (0.35 * mw) ** 2)
            self.smile[:, 0] += side * 0.13 * mw * wc
            self.smile[:, 1] += -0.09 * mw * wc
        # Brows: up (and apart a little); negative = frown (down and together).
        self.brow = np.zeros((n, 3))
        brows = h[list(T.RIGHT_BROW + T.LEFT_BROW)]
        b_y = brows[:, 1].mean()
        wb = np.exp(-((h[:, 1] - b_y) ** 2) / (0.12 * p.face_length) ** 2) * (h[:, 1] < m_centre[1] - 0.2 * p.face_length)
        self.brow[:, 1] = -0.07 * p.face_length * wb
        self.brow[:, 0] = 0.02 * p.face_length * wb * np.sign(h[:, 0] - m_centre[0])
        # Gaze: irises move within the eye.
        self.gaze_x = np.zeros((n, 3))
        self.gaze_y = np.zeros((n, 3))
        for iris, ew, eo in ((T.RIGHT_IRIS, p.eye_width[0], p.eye_open[0]), (T.LEFT_IRIS, p.eye_width[1], p.eye_open[1])):
            self.gaze_x[list(iris), 0] = 0.2 * ew
            self.gaze_y[list(iris), 1] = 0.25 * eo

    def displacement(self, m: MotionParams) -> np.ndarray:
        """(478, 3) displacement in crop pixels (camera axes) for the controls."""
        frown = min(m.brow, 0.0)
        d_head = (
            m.blink * self.blink
            + m.mouth_open * self.jaw
            + m.smile * self.smile
            + max(m.brow, 0.0) * self.brow
            + frown * self.brow * np.array([-1.0, 0.7, 0.0])
            + m.gaze_x * self.gaze_x
            + m.gaze_y * self.gaze_y
        )
        return d_head @ self.rig.axes.T

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
    mouth = (ed["mouth_open"] / ed["mouth_width"] - ep["mouth_open"] / ep["mouth_width"]) / 0.42
    smile = (ed["mouth_width"] / ep["mouth_width"] - 1.0) / 0.26
    brow = (ed["brow"] - ep["brow"]) * iod / (0.07 * prop.face_length)
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
        gaze_x=float(np.clip((gxd - gxp) / 0.2, -1.2, 1.2)),
        gaze_y=float(np.clip((gyd - gyp) / 0.25, -1.0, 1.0)),
    )
