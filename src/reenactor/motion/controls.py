"""Control of driving (issue 17 item 2): expression gains, pose scale and offsets, pose mode, turn limits.

The controls of :class:`reenactor.config.RetargetConfig` act in the
retargeting stage, on the motion before it reaches the renderer:

* **per-channel gains** (``gain``): the pose-normalised expression
  displacement of each landmark (the driver's change from its reference,
  already in the portrait's head frame and proportions) is multiplied by a
  per-point factor ``1 + sum_r w_r (g_r - 1)``, ``w_r`` the point's weight in
  region ``r`` of :data:`~reenactor.config.GAIN_CHANNELS` (:func:`region_weights`):
  a channel's gain scales that region's part of the motion and nothing else.
  Chosen over params.py's learned map A (adding ``(g - 1)`` times the measured
  channel change through A) because it scales exactly what the driver did,
  needs no per-frame measure or solve, and leaves the driver's motion shape
  intact where A would substitute its average response. A region of weight 1
  (the inner lips for ``mouth``) moves exactly ``g`` times as far, so the
  mouth opening's change from the portrait's own follows ``g``;
* **pose** (``pose``, ``pose_scale``, ``pose_offset``): the driver's head
  rotation (its angle about its own axis), scale change and translation are
  scaled by ``pose_scale``, or dropped in "portrait" mode (the portrait keeps
  its own head pose; expression and gaze still transfer); then
  ``pose_offset`` (degrees, camera axes) turns the head on top;
* **turn limits** (``max_yaw``, ``max_reveal``; :func:`ease_yaw`): the
  portrait's resulting yaw is eased into the yaw limit, and a turned
  portrait's turn back towards the camera into the reveal limit.

The same controls apply to motion given as :class:`~reenactor.motion.templates.MotionParams`
(built-in motions and still drivers, :func:`control_params`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from reenactor.config import GAIN_CHANNELS, RetargetConfig
from reenactor.face import topology as T
from reenactor.face.pose import rotation_from_euler
from reenactor.numeric import smoothstep

_LIP_TOP = 0  # outer upper-lip midpoint


def pose_mode(cfg: RetargetConfig, still: bool = False) -> str:
    """"driver" or "portrait": ``cfg.pose`` with "auto" resolved ("portrait" for a still driver)."""
    if cfg.pose == "auto":
        return "portrait" if still else "driver"
    return cfg.pose


def region_weights(head: np.ndarray, eye_width: tuple[float, float]) -> dict[str, np.ndarray]:
    """(478,) weights in [0, 1] of each point in each gain channel's region; at most 1 summed.

    Args:
        head: (478, 3) portrait landmarks in its head frame (pixels, y down).
        eye_width: (right, left) eye widths in pixels.

    Regions: ``gaze`` the iris points; ``eyes`` the eye contours and a
    Gaussian of 0.5 eye widths around each eye's centre; ``brows`` the brow
    points and a Gaussian of 0.6 brow lengths around each brow's centre;
    ``mouth`` the lips and everything below the nose tip, fading in
    (smoothstep) to full weight at the upper lip's top (jaw, chin). The
    named points (irises, eye contours, brows, lips) belong to their region
    alone; elsewhere overlapping weights are divided by their sum.
    """
    n = T.N_LANDMARKS
    own = {"gaze": list(T.RIGHT_IRIS + T.LEFT_IRIS), "eyes": list(T.RIGHT_EYE_LOOP + T.LEFT_EYE_LOOP),
           "brows": list(T.RIGHT_BROW + T.LEFT_BROW), "mouth": list(T.INNER_LIP_LOOP + T.OUTER_LIP_LOOP)}
    w = {c: np.zeros(n) for c in GAIN_CHANNELS}
    for loop, ew in ((T.RIGHT_EYE_LOOP, eye_width[0]), (T.LEFT_EYE_LOOP, eye_width[1])):
        w["eyes"] = np.maximum(w["eyes"], _gaussian(head, head[list(loop)].mean(0), 0.5 * ew))
    for brow in (T.RIGHT_BROW, T.LEFT_BROW):
        pts = head[list(brow)]
        length = float(np.ptp(pts[:, 0])) + 1e-6
        w["brows"] = np.maximum(w["brows"], _gaussian(head, pts.mean(0), 0.6 * length))
    w["mouth"] = np.asarray(smoothstep(head[:, 1], head[T.NOSE_TIP, 1], head[_LIP_TOP, 1]), dtype=np.float64)
    for c, points in own.items():  # a region's own points belong to it alone
        for other in GAIN_CHANNELS:
            w[other][points] = 1.0 if other == c else 0.0
    total = sum(w.values())
    over = total > 1.0
    for c in w:
        w[c][over] /= total[over]
    return w


def _gaussian(points: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    d2 = ((points[:, :2] - centre[:2]) ** 2).sum(1)
    return np.exp(-d2 / (radius * radius))


def gain_field(head: np.ndarray, eye_width: tuple[float, float], gains: dict[str, float]) -> np.ndarray | None:
    """(478,) per-point multipliers of the expression displacement, or None when every gain is 1.

    See :func:`region_weights` for ``head`` and ``eye_width``; ``gains`` maps
    channels of :data:`~reenactor.config.GAIN_CHANNELS` to factors (missing: 1).
    """
    if all(g == 1.0 for g in gains.values()):
        return None
    weights = region_weights(head, eye_width)
    return 1.0 + sum(weights[c] * (g - 1.0) for c, g in gains.items())


#: The reveal limit (``RetargetConfig.max_reveal``) fades in between these
#: turns of the portrait's own head (degrees): below, the portrait is taken as
#: frontal (its measured yaw is biased by a few degrees per person).
REVEAL_FADE = (5.0, 15.0)


def _ease(x: float, knee: float, room: float) -> float:
    """``x`` (>= 0) kept up to ``knee`` and compressed beyond it to ``knee + room * tanh((x - knee) / room)``."""
    return x if x <= knee else knee + room * float(np.tanh((x - knee) / room))


def reveal_bound(own: float, max_yaw: float, max_reveal: float) -> float:
    """How far (degrees) a portrait turned by ``own`` may turn back towards the camera.

    ``max(max_reveal, max_yaw - 10 - 2 * max(0, |own| - 15))``: up to 15 deg
    as far as the yaw limit's knee lets a frontal portrait turn, then 2 deg
    less for every degree more, down to ``max_reveal`` (reached at 29.5 deg
    with the defaults). Chosen by turning frames of real clips back towards
    frontal (session 20): limiting a portrait turned 18 deg as hard cost AKD
    against the truth's own turn (1.7 -> 3.4 px) and left its far cheek's
    bulge in place; from 30 deg the far eye and lip corner, cut by the
    outline, come back as ghosts unless the turn is held to a few degrees.
    """
    return max(max_reveal, max_yaw - 10.0 - 2.0 * max(0.0, abs(own) - 15.0))


def ease_yaw(yaw: float, own: float, max_yaw: float, max_reveal: float) -> float:
    """The portrait's resulting head yaw (degrees) eased into the two turn limits.

    * ``max_yaw``: ``|yaw|`` is kept up to the knee ``max(max_yaw - 10,
      |own|)`` and compressed beyond it, never passing ``knee + 10``.
    * ``max_reveal``: a portrait turned by ``own`` has its far side squeezed
      against the outline, which cuts through the far eye and lip corner;
      turning it back towards the camera by ``r = |own| - yaw * sign(own)``
      stretches that strip. ``r`` is kept up to ``R - 5`` and compressed
      beyond it, never passing ``R`` (:func:`reveal_bound`); the limit fades
      in as ``|own|`` goes from :data:`REVEAL_FADE` 5 to 15 deg.

    0 disables either limit. Both are continuous and non-decreasing in
    ``yaw``, and a portrait at rest (``yaw == own``) is never moved.
    """
    out = float(yaw)
    if max_yaw > 0:
        knee = max(max_yaw - 10.0, abs(own))
        out = float(np.sign(out)) * _ease(abs(out), knee, 10.0)
    a = abs(float(own))
    w = float(smoothstep(a, *REVEAL_FADE))
    if max_reveal > 0 and w > 0:
        side = 1.0 if own >= 0 else -1.0
        r = a - side * out
        bound = reveal_bound(a, max_yaw, max_reveal)
        if r > 0:
            knee = max(bound - 5.0, 0.0)
            out += side * w * (r - _ease(r, knee, bound - knee))
    return out


def scale_rotation(rotation: np.ndarray, factor: float) -> np.ndarray:
    """The (3, 3) rotation turned ``factor`` times as far about the same axis (axis-angle)."""
    import cv2

    vec, _ = cv2.Rodrigues(np.asarray(rotation, dtype=np.float64))
    out, _ = cv2.Rodrigues(vec * float(factor))
    return out


class PoseControl:
    """Head motion under ``pose``, ``pose_scale`` and ``pose_offset`` of a :class:`RetargetConfig`.

    Args:
        cfg: the retargeting options.
        still: the driver is a still image (resolves ``pose="auto"``).
    """

    def __init__(self, cfg: RetargetConfig, still: bool = False) -> None:
        self.keep = pose_mode(cfg, still) == "portrait"
        self.factor = 0.0 if self.keep else float(cfg.pose_scale)
        off = cfg.pose_offset
        self.offset = rotation_from_euler(off.get("yaw", 0.0), off.get("pitch", 0.0), off.get("roll", 0.0))
        self.active = self.factor != 1.0 or any(v != 0.0 for v in off.values())

    def __call__(self, rotation: np.ndarray, scale: float, shift: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """(rotation (3, 3), scale, shift (3,)) after the controls; unchanged when none is set.

        ``scale`` is the head's scale change (1 = none), ``shift`` its
        translation (pixels); both and the rotation angle go by ``pose_scale``
        (``scale ** pose_scale``), then the offset rotation is applied.
        """
        if not self.active:
            return rotation, scale, shift
        if self.factor != 1.0:
            rotation = scale_rotation(rotation, self.factor)
            scale = float(scale) ** self.factor
            shift = self.factor * np.asarray(shift, dtype=np.float64)
        return self.offset @ rotation, scale, shift


def control_params(cfg: RetargetConfig, still: bool = False, own_yaw: float | None = None):
    """A function ``MotionParams -> MotionParams`` applying the controls to procedural motion.

    Angles (degrees) are scaled by ``pose_scale`` (0 in "portrait" mode) and
    offset by ``pose_offset``; ``blink`` goes by the ``eyes`` gain,
    ``mouth_open`` and ``smile`` by ``mouth``, ``brow`` by ``brows``,
    ``gaze_x``/``gaze_y`` by ``gaze``, all by ``expression_gain``. Given the
    portrait's own yaw ``own_yaw`` (degrees, ``PortraitRig.yaw``), the turn
    ``own_yaw + yaw`` is then eased into ``max_yaw`` and ``max_reveal`` as a
    driver's is (:func:`ease_yaw`). Returns the identity function when
    nothing applies.
    """
    pose = PoseControl(cfg, still)
    g = {c: cfg.expression_gain * cfg.gain.get(c, 1.0) for c in GAIN_CHANNELS}
    limit = own_yaw is not None and (cfg.max_yaw > 0 or cfg.max_reveal > 0)
    if not pose.active and all(v == 1.0 for v in g.values()) and not limit:
        return lambda m: m
    off = cfg.pose_offset

    def apply(m):
        angles = {a: pose.factor * getattr(m, a) + off.get(a, 0.0) for a in ("yaw", "pitch", "roll")}
        if limit:
            angles["yaw"] = ease_yaw(own_yaw + angles["yaw"], own_yaw, cfg.max_yaw, cfg.max_reveal) - own_yaw
        return replace(m, **angles, blink=g["eyes"] * m.blink, mouth_open=g["mouth"] * m.mouth_open,
                       smile=g["mouth"] * m.smile, brow=g["brows"] * m.brow, gaze_x=g["gaze"] * m.gaze_x,
                       gaze_y=g["gaze"] * m.gaze_y)

    return apply
