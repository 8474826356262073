"""Identity-preserving geometric retargeting of driver landmarks.

The driver's landmarks at frame ``t`` are split into

* **head pose**: a similarity (rotation, scale, translation) taking the
  driver's reference frame onto frame ``t``, fitted on expression-stable
  points (:data:`reenactor.face.topology.STABLE_POINTS`);
* **expression**: what is left once that pose is undone, as a displacement of
  each landmark from the reference frame.

Relative mode re-expresses the displacement in the portrait's own head frame,
scales it by the portrait's proportions (eye size and opening, mouth width,
face width and length), adds it to the portrait's landmarks, and moves the
result by the driver's pose change about the portrait's head centre. The
driver's face shape never enters the result, only its changes. The controls
of :mod:`reenactor.motion.controls` (per-channel gains, pose scale, offsets,
pose mode) act there too, in relative mode.

All landmark arrays are (478, 3) float, pixels (x right, y down, z into the
screen); portrait landmarks are in the portrait's working crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.config import RetargetConfig
from reenactor.face import topology as T
from reenactor.face.pose import Similarity, euler_degrees, fit_similarity, head_axes, head_pose, rotation_from_euler
from reenactor.motion.controls import PoseControl, ease_yaw, gain_field
from reenactor.numeric import corner_arc, smoothstep


@dataclass(frozen=True)
class FaceProportions:
    """Sizes of one face measured in its own head frame (pixels)."""

    face_width: float
    face_length: float
    eye_width: tuple[float, float]  # right, left
    eye_open: tuple[float, float]
    mouth_width: float

    @staticmethod
    def measure(lm_head: np.ndarray) -> "FaceProportions":
        """Measure from (478, 3) landmarks expressed in head axes (pose removed)."""
        def dist(a: int, b: int) -> float:
            return float(np.linalg.norm(lm_head[a, :2] - lm_head[b, :2]))

        def opening(pairs) -> float:
            return float(np.mean([lm_head[lo, 1] - lm_head[up, 1] for up, lo in pairs]))

        return FaceProportions(
            face_width=dist(234, 454),
            face_length=dist(T.FOREHEAD_TOP, T.CHIN),
            eye_width=(dist(*T.RIGHT_EYE_CORNERS), dist(*T.LEFT_EYE_CORNERS)),
            eye_open=(opening(T.RIGHT_LID_PAIRS), opening(T.LEFT_LID_PAIRS)),
            mouth_width=dist(*T.MOUTH_CORNERS),
        )


def expression_metrics(landmarks: np.ndarray) -> dict[str, float]:
    """Pose-free expression measures, normalised by the inter-ocular distance.

    Returns:
        ``mouth_open`` (inner-lip gap), ``mouth_width``, ``eye_open`` (mean of
        both eyes) and ``brow`` (brow height above the eye corners).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    r = head_axes(lm)
    h = (lm - lm[list(T.STABLE_POINTS)].mean(0)) @ r
    iod = np.linalg.norm(h[263, :2] - h[33, :2]) + 1e-9
    mouth_open = np.mean([h[lo, 1] - h[up, 1] for up, lo in T.INNER_LIP_PAIRS]) / iod
    eye = np.mean([h[lo, 1] - h[up, 1] for up, lo in T.RIGHT_LID_PAIRS + T.LEFT_LID_PAIRS]) / iod
    brow_y = h[list(T.RIGHT_BROW + T.LEFT_BROW), 1].mean()
    eye_y = h[[33, 133, 263, 362], 1].mean()
    return {
        "mouth_open": float(mouth_open),
        "mouth_width": float(np.linalg.norm(h[61, :2] - h[291, :2]) / iod),
        "eye_open": float(eye),
        "brow": float((eye_y - brow_y) / iod),
    }


def neutral_frontal_score(landmarks: np.ndarray) -> float:
    """Lower is more neutral and frontal: used to pick the reference frame."""
    yaw, pitch, roll = head_pose(landmarks)
    e = expression_metrics(landmarks)
    return abs(yaw) + abs(pitch) + abs(roll) + 120.0 * max(e["mouth_open"], 0.0) + 40.0 * abs(e["mouth_width"] - 0.75)


def choose_reference(track: np.ndarray, valid: np.ndarray) -> int:
    """Index of the driver's most neutral frontal frame among valid frames.

    Args:
        track: (F, 478, 3) driver landmarks.
        valid: (F,) bool, frames where a face was detected.
    """
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        raise ValueError("no valid frame to choose a reference from")
    eyes = np.array([expression_metrics(track[i])["eye_open"] for i in idx])
    open_eyes = eyes >= np.median(eyes) * 0.8  # never a mid-blink frame
    scores = [neutral_frontal_score(track[i]) if ok else np.inf for i, ok in zip(idx, open_eyes)]
    return int(idx[int(np.argmin(scores))])


def _region_weight(points: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    d2 = ((points[:, :2] - centre[:2]) ** 2).sum(1)
    return np.exp(-d2 / (radius * radius))


class Retargeter:
    """Transfers a driver's motion onto a portrait's landmarks.

    Args:
        portrait: (478, 3) portrait landmarks in crop pixels.
        driver_reference: (478, 3) driver landmarks of the reference frame,
            in driver-frame pixels.
        config: retargeting options (mode, clamps).
    """

    def __init__(self, portrait: np.ndarray, driver_reference: np.ndarray, config: RetargetConfig | None = None) -> None:
        self.cfg = config or RetargetConfig()
        if self.cfg.mode not in ("relative", "absolute"):
            raise ValueError(f"unknown motion mode {self.cfg.mode!r} (use 'relative' or 'absolute')")
        self.portrait = np.asarray(portrait, dtype=np.float64)
        self.ref = np.asarray(driver_reference, dtype=np.float64)
        # Driver reference -> portrait (pose difference and size ratio).
        self.align: Similarity = fit_similarity(self.ref, self.portrait)
        self.rig = PortraitRig(self.portrait)
        self.centre = self.rig.centre
        self.ref_centre = self.ref[list(T.STABLE_POINTS)].mean(0)
        self.ref_down = head_axes(self.ref)[:, 1]  # driver forehead -> chin
        # Per eye: upper and lower lid indices and the driver's reference gap.
        self._lids = []
        for pairs in (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS):
            up, lo = [a for a, _ in pairs], [b for _, b in pairs]
            self._lids.append((up, lo, float(np.mean((self.ref[lo] - self.ref[up]) @ self.ref_down))))
        self._both_eyes_open = min(g for *_, g in self._lids) > 1e-6  # both reference eyes open: blinks can be coupled
        self.axes = self.rig.axes
        self.scales = self._per_point_scales()
        # Controls: per-point expression gains (None: all 1) and the head-motion control.
        self.gain_field = gain_field(self.rig.head, self.rig.proportions.eye_width, self.cfg.gain)
        if self.gain_field is not None:
            self.scales = self.scales * self.gain_field[:, None]
        self._eye_gain = self.cfg.gain.get("eyes", 1.0)
        self.pose_control = PoseControl(self.cfg)

    def _per_point_scales(self) -> np.ndarray:
        """(478, 3) multipliers applied to expression displacements in head axes."""
        c = self.cfg
        p_head = self.rig.head
        d_al = self.align.apply(self.ref)
        d_head = (d_al - d_al[list(T.STABLE_POINTS)].mean(0)) @ self.axes
        pp, dp = self.rig.proportions, FaceProportions.measure(d_head)

        def ratio(a: float, b: float, lo: float = c.min_ratio, hi: float = c.max_ratio) -> float:
            return float(np.clip(a / b, lo, hi)) if b > 1e-6 else 1.0

        sx = ratio(pp.face_width, dp.face_width)
        sy = ratio(pp.face_length, dp.face_length)
        scales = np.empty((T.N_LANDMARKS, 3))
        scales[:] = (sx, sy, sx)
        # Mouth: proportions of the portrait's mouth width.
        m_ratio = ratio(pp.mouth_width, dp.mouth_width)
        m_centre = p_head[list(T.INNER_LIP_LOOP)].mean(0)
        w = _region_weight(p_head, m_centre, 0.75 * pp.mouth_width)[:, None]
        scales = (1 - w) * scales + w * np.array([m_ratio, m_ratio, m_ratio])
        # Eyes: width ratio horizontally, opening ratio vertically (a full blink
        # of the driver closes the portrait's eye exactly).
        for loop, iris, k in ((T.RIGHT_EYE_LOOP, T.RIGHT_IRIS, 0), (T.LEFT_EYE_LOOP, T.LEFT_IRIS, 1)):
            e_ratio = ratio(pp.eye_width[k], dp.eye_width[k])
            o_ratio = ratio(pp.eye_open[k], dp.eye_open[k], c.eye_min_ratio, c.eye_max_ratio)
            e_centre = p_head[list(loop)].mean(0)
            w = _region_weight(p_head, e_centre, 0.5 * pp.eye_width[k])[:, None]
            w[list(iris)] = 1.0
            scales = (1 - w) * scales + w * np.array([e_ratio, o_ratio, e_ratio])
            scales[list(iris), 1] = e_ratio  # gaze moves in eye-width units
        return scales

    def driver_pose(self, driver: np.ndarray) -> Similarity:
        """Similarity from the driver's reference frame to ``driver`` (478, 3)."""
        return fit_similarity(self.ref, driver)

    def __call__(self, driver: np.ndarray) -> np.ndarray:
        """Target portrait landmarks for one driver frame.

        Args:
            driver: (478, 3) driver landmarks in driver-frame pixels.

        Returns:
            (478, 3) float64 target landmarks in crop pixels.
        """
        driver = np.asarray(driver, dtype=np.float64)
        if self.cfg.mode == "absolute":
            return fix_lids_and_lips(self.align.apply(driver))
        pose = self.driver_pose(driver)
        expression = self.cfg.expression_gain * (pose.inverse_apply(driver) - self.ref)  # in the reference frame
        # Into the portrait's camera frame, then its head axes for scaling.
        delta = self.align.scale * expression @ self.align.rotation.T
        delta = ((delta @ self.axes) * self.scales) @ self.axes.T
        if self.cfg.eye_closed_fraction > 0:
            delta = self._close_lids(delta, pose.inverse_apply(driver))
        return self.compose(delta, pose.rotation, pose.scale, pose.apply(self.ref_centre[None])[0] - self.ref_centre)

    def _limit_yaw(self, rotation: np.ndarray) -> np.ndarray:
        """The head rotation (3, 3) with the portrait's resulting yaw eased into
        ``max_yaw`` and ``max_reveal`` (:func:`reenactor.motion.controls.ease_yaw`);
        pitch and roll are kept."""
        if self.cfg.max_yaw <= 0 and self.cfg.max_reveal <= 0:
            return rotation
        yaw, pitch, roll = euler_degrees(rotation @ self.axes)
        eased = ease_yaw(yaw, self.rig.yaw, self.cfg.max_yaw, self.cfg.max_reveal)
        if eased == yaw:
            return rotation
        return rotation_from_euler(eased, pitch, roll) @ self.axes.T

    def _close_lids(self, delta: np.ndarray, driver_ref: np.ndarray) -> np.ndarray:
        """Deepen the lid displacement near a full closure (see ``eye_closed_fraction``).

        Args:
            delta: (478, 3) expression displacement in portrait crop pixels.
            driver_ref: (478, 3) driver landmarks in its reference frame's pose.

        Returns:
            (478, 3) displacement whose lid gaps are scaled per eye by
            ``closed_gap_fraction(f) / f``, f the driver's gap over its
            reference gap; the upper lid takes three quarters of the change.
        """
        out = np.array(delta, dtype=np.float64)
        y_axis = self.axes[:, 1]
        closed = self.cfg.eye_closed_fraction
        fs = []
        for up, lo, ref_gap in self._lids:
            f = float(np.mean((driver_ref[lo] - driver_ref[up]) @ self.ref_down)) / max(ref_gap, 1e-6)
            if self._eye_gain != 1.0:  # the lid motion the gain asks for: closure times the gain
                f = 1.0 - self._eye_gain * (1.0 - f)
            fs.append(f)
        shown = couple_blink(fs, closed, self.cfg.blink_coupling) if self._both_eyes_open else fs
        for (up, lo, ref_gap), f, fc in zip(self._lids, fs, shown):
            if ref_gap <= 1e-6:
                continue
            k = closed_gap_fraction(fc, closed) / f if f > 1e-6 else 0.0
            if k >= 1.0 and fc == f:
                continue
            gap = ((self.portrait[lo] + out[lo]) - (self.portrait[up] + out[up])) @ y_axis
            change = (1.0 - k) * np.maximum(gap, 0.0)
            out[up] += 0.75 * change[:, None] * y_axis
            out[lo] -= 0.25 * change[:, None] * y_axis
        return out

    def compose(self, delta: np.ndarray, rotation: np.ndarray, scale: float, shift: np.ndarray) -> np.ndarray:
        """Portrait landmarks after an expression displacement and a head motion.

        Args:
            delta: (478, 3) expression displacement in portrait crop pixels.
            rotation: (3, 3) head rotation (camera frame); its yaw is eased into
                ``max_yaw`` and ``max_reveal`` (:meth:`_limit_yaw`).
            scale: head scale change (1 = none).
            shift: (3,) head-centre translation in *driver* pixels.

        The pose controls (``pose``, ``pose_scale``, ``pose_offset``) act
        first, then ``translation_gain`` and the yaw limit.
        """
        gain = self.cfg.translation_gain
        rotation, scale, shift = self.pose_control(rotation, scale, shift)
        rotation = self._limit_yaw(rotation)
        return self.rig.pose(delta, rotation, float(scale) ** gain, gain * self.align.scale * np.asarray(shift))


class PortraitRig:
    """The portrait's landmarks with its head centre and axes, ready to pose.

    Args:
        landmarks: (478, 3) portrait landmarks in crop pixels.
    """

    def __init__(self, landmarks: np.ndarray) -> None:
        self.landmarks = np.asarray(landmarks, dtype=np.float64)
        self.centre = self.landmarks[list(T.STABLE_POINTS)].mean(0)
        self.axes = head_axes(self.landmarks)
        self.head = (self.landmarks - self.centre) @ self.axes  # (478, 3) in head axes
        self.proportions = FaceProportions.measure(self.head)
        #: The portrait's own head yaw, degrees (:func:`euler_degrees` of its head axes).
        self.yaw = euler_degrees(self.axes)[0]

    def pose(self, delta: np.ndarray, rotation: np.ndarray, scale: float = 1.0, shift: np.ndarray | None = None) -> np.ndarray:
        """Apply an expression displacement, then rotate/scale about the head centre.

        Args:
            delta: (478, 3) displacement in crop pixels (camera axes).
            rotation: (3, 3) rotation in camera axes.
            scale: uniform scale about the head centre.
            shift: (3,) translation in crop pixels.

        Returns:
            (478, 3) float64 landmarks, lids and lips uncrossed.
        """
        moved = scale * (self.landmarks + delta - self.centre) @ np.asarray(rotation).T + self.centre
        if shift is not None:
            moved += shift
        return fix_lids_and_lips(moved)


def couple_blink(fs: list[float], closed: float, coupling: float) -> list[float]:
    """The two eyes' driver gap fractions, with a small difference shrunk during a blink.

    Below ``3 * closed`` for both eyes (the closure regime of
    :func:`closed_gap_fraction`), the half-difference d from their mean
    becomes ``d * min(1, (|d| / coupling)^2)``: a tracker's uneven reading of
    a blink is evened out, a wink (|d| >= ``coupling``) is kept exactly.
    Open eyes, and ``coupling`` 0, are returned unchanged.
    """
    if coupling <= 0 or len(fs) != 2 or max(fs) >= 3.0 * closed:
        return list(fs)
    mean, d = 0.5 * (fs[0] + fs[1]), 0.5 * (fs[0] - fs[1])
    if abs(d) >= coupling:
        return list(fs)
    d *= (abs(d) / coupling) ** 2
    return [mean + d, mean - d]


def closed_gap_fraction(f: float, closed: float) -> float:
    """Lid gap fraction to render for a driver gap fraction ``f`` (both of the open gap).

    0 for ``f <= closed``; ``f`` itself from ``3 * closed`` on; in between
    ``f - closed * (1 - smoothstep)``, which is continuous and increasing.
    """
    if closed <= 0:
        return f
    return max(0.0, f - closed * (1.0 - float(smoothstep(f, closed, 3.0 * closed))))


#: A closed eye's lid line is eased onto a smooth arc below this lid gap (in eye widths).
CLOSED_LID_GAP = 0.05


def fix_lids_and_lips(landmarks: np.ndarray) -> np.ndarray:
    """Stop eyelids and inner lips from crossing each other; smooth closed lids.

    Where a lower lid (lip) point ends up above its upper partner, measured
    along the face's vertical axis, both move to their midpoint: a closed eye
    (mouth) rather than a folded one. Then, as an eye's mean lid gap falls
    from :data:`CLOSED_LID_GAP` eye widths to zero, its lid pairs are moved
    together (gaps kept) onto a parabola from corner to corner: the tracked
    points of a closed eye wave, a closed lid's margin is one arc.

    Args:
        landmarks: (478, 3) landmarks; a corrected copy is returned.
    """
    lm = np.array(landmarks, dtype=np.float64)
    up_axis = head_axes(lm)[:, 1]
    for pairs in (T.RIGHT_LID_PAIRS, T.LEFT_LID_PAIRS, T.INNER_LIP_PAIRS):
        up = np.array([p[0] for p in pairs])
        lo = np.array([p[1] for p in pairs])
        gap = (lm[lo] - lm[up]) @ up_axis
        bad = gap < 0
        if bad.any():
            mid = 0.5 * (lm[up[bad]] + lm[lo[bad]])
            lm[up[bad]] = mid
            lm[lo[bad]] = mid
    for pairs, corners in ((T.RIGHT_LID_PAIRS, T.RIGHT_EYE_CORNERS), (T.LEFT_LID_PAIRS, T.LEFT_EYE_CORNERS)):
        _smooth_closed_lid(lm, pairs, corners)
    return lm


def _smooth_closed_lid(lm: np.ndarray, pairs, corners) -> None:
    """Ease a (nearly) closed eye's lid pairs onto a parabola through its corners (in place, 2D)."""
    a, b = lm[corners[0], :2], lm[corners[1], :2]
    width = float(np.linalg.norm(b - a))
    if width < 1e-6:
        return
    ax = (b - a) / width
    nrm = np.array([-ax[1], ax[0]])
    up = np.array([p[0] for p in pairs])
    lo = np.array([p[1] for p in pairs])
    gap = float(np.mean(np.abs((lm[lo, :2] - lm[up, :2]) @ nrm))) / width
    w = 1.0 - float(smoothstep(gap, 0.0, CLOSED_LID_GAP))
    if w <= 0.0:
        return
    mid = 0.5 * (lm[up, :2] + lm[lo, :2])
    shift = w * (corner_arc(a, b, mid) - mid)
    lm[up, :2] += shift
    lm[lo, :2] += shift
