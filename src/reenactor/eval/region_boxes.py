"""Where the region view (:mod:`reenactor.eval.regions`) looks: picked frames and crop boxes.

The frames come from the driver's dlib measurements (:func:`driver_signals`,
:func:`pick_frames`); the boxes are placed on a frame's dlib-68 landmarks
(:func:`mouth_box`, :func:`eyes_box`, :func:`background_boxes`). Conventions
as in :mod:`reenactor.eval.regions`, which re-exports these names: points and
boxes are ``float64`` pixel xy, square boxes ``(cx, cy, side)``, rectangles
``(cx, cy, width, height)``, and every box returned here lies inside its frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.errors import InputError
from reenactor.eval import metrics as M
from reenactor.eval.dlibface import FaceMeasurement
from reenactor.eval.imageops import fit_box
from reenactor.eval.pose import estimate_pose, euler_deg, relative_rotation

NAN = float("nan")

#: Width / height of the eyes strip (box and tile).
EYES_ASPECT = 2.5

#: Mouth box side: this times the larger side of the mouth landmarks' bounding box ...
MOUTH_SCALE = 1.6
#: ... but at least this times the inter-ocular distance.
MOUTH_MIN_IOD = 0.9
#: Eyes box width: this times the x-span of the eye landmarks (outer corners).
EYES_SCALE = 1.5
#: Background patch side and its gap to the face box, as fractions of the face-box width
#: (the box of the jaw and brow landmarks 0..26). The small gap puts the head's
#: outline (ear, hair) at the patch's inner edge, so a background dragged along by
#: the head, a halo or a seam shows; the rest of the patch is background. Where the
#: frame leaves less room beside the face, the patch shrinks down to ``BG_MIN_SIDE``,
#: then the gap shrinks.
BG_SIDE = 0.6
BG_GAP = 0.08
BG_MIN_SIDE = 0.25

_MOUTH = slice(48, 68)
_EYES = slice(36, 48)
_FACE_OUTLINE = slice(0, 27)


@dataclass(frozen=True)
class RegionFrames:
    """Frames picked from the driver's signals (indices into the clip, 0-based).

    Attributes:
        mouth, blink, yaw: frame indices of the widest mouth opening, the
            strongest blink and the largest |yaw|.
        mouth_open: inner-lip gap / IOD at ``mouth`` (NaN when unmeasured;
            IOD = the clip's median inter-ocular distance, see :func:`driver_signals`).
        eye_open: lid gap / IOD at ``blink``.
        eye_open_median: median lid gap / IOD over the clip (for comparison).
        yaw_deg: signed yaw change in degrees at ``yaw`` (> 0: towards image right).
    """

    mouth: int
    blink: int
    yaw: int
    mouth_open: float = NAN
    eye_open: float = NAN
    eye_open_median: float = NAN
    yaw_deg: float = NAN

    @property
    def indices(self) -> set[int]:
        """The distinct picked frame indices."""
        return {self.mouth, self.blink, self.yaw}

    def as_dict(self) -> dict:
        """JSON-friendly ``{"mouth": t, "blink": t, "yaw": t, ...values}``."""
        return {
            "mouth": self.mouth,
            "blink": self.blink,
            "yaw": self.yaw,
            "mouth_open": self.mouth_open,
            "eye_open": self.eye_open,
            "eye_open_median": self.eye_open_median,
            "yaw_deg": self.yaw_deg,
        }


def driver_signals(meas: list[FaceMeasurement]) -> dict[str, np.ndarray]:
    """Per-frame mouth opening, eye opening and yaw of a measured clip.

    Args:
        meas: dlib measurements, one per frame.

    Returns:
        ``{"mouth_open", "eye_open", "yaw"}`` -> ``(N,)`` float64 arrays, NaN
        where dlib found no face. Openings are the inner-lip and lid gaps of
        :func:`reenactor.eval.metrics.expression_features` in pixels, divided
        by the clip's *median* inter-ocular distance (not each frame's: a
        turned head shortens the IOD and would inflate the opening of exactly
        the frames with the most yaw). Yaw is the yaw of ``R_t R_r^T`` in
        degrees, ``r`` the first frame with a face.
    """
    n = len(meas)
    out = {k: np.full(n, NAN) for k in ("mouth_open", "eye_open", "yaw")}
    iod = np.full(n, NAN)
    r_ref = None
    for t, m in enumerate(meas):
        if not m.found:
            continue
        try:
            f = M.expression_features(m.landmarks)
        except InputError:
            continue
        iod[t] = M.inter_ocular(m.landmarks)
        out["mouth_open"][t] = f["mouth_open"] * iod[t]
        out["eye_open"][t] = f["eye_open"] * iod[t]
        rot = estimate_pose(m.landmarks, m.size)
        if r_ref is None:
            r_ref = rot
        out["yaw"][t] = euler_deg(relative_rotation(rot, r_ref))[0]
    if np.isfinite(iod).any():
        scale = float(np.nanmedian(iod))
        out["mouth_open"] /= scale
        out["eye_open"] /= scale
    return out


def _arg_extreme(values: np.ndarray, largest: bool, skip_first: bool) -> int:
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if skip_first and v.size > 1 and finite[1:].any():
        finite[0] = False
    if not finite.any():
        return 0
    idx = np.flatnonzero(finite)
    sub = v[idx]
    return int(idx[int(np.argmax(sub) if largest else np.argmin(sub))])


def pick_frames(mouth_open, eye_open, yaw, skip_first: bool = True) -> RegionFrames:
    """Pick the widest-mouth, strongest-blink and largest-|yaw| frames.

    Args:
        mouth_open, eye_open, yaw: equal-length per-frame series (NaN where
            unmeasured), as from :func:`driver_signals`.
        skip_first: never pick frame 0 when another frame has a value.

    Returns:
        A :class:`RegionFrames`; ties go to the earliest frame; a series with
        no finite value picks frame 0.

    Raises:
        InputError: the series differ in length or are empty.
    """
    series = [np.asarray(s, dtype=np.float64).ravel() for s in (mouth_open, eye_open, yaw)]
    if len({s.size for s in series}) != 1 or series[0].size == 0:
        raise InputError(f"pick_frames: series must be non-empty and of equal length, got {[s.size for s in series]}")
    mo, eo, yw = series
    tm = _arg_extreme(mo, True, skip_first)
    tb = _arg_extreme(eo, False, skip_first)
    ty = _arg_extreme(np.abs(yw), True, skip_first)
    med = float(np.nanmedian(eo)) if np.isfinite(eo).any() else NAN
    return RegionFrames(tm, tb, ty, float(mo[tm]), float(eo[tb]), med, float(yw[ty]))


# --------------------------------------------------------------------- boxes


def map_points(points: np.ndarray, src_size: tuple[int, int], dst_size: tuple[int, int]) -> np.ndarray:
    """Map pixel xy from a ``src_size`` frame to a ``dst_size`` frame (``(width, height)``).

    The same placement as :func:`reenactor.eval.imageops.letterbox` (uniform
    scale, centred); the identity when the sizes are equal.
    """
    pts = np.asarray(points, dtype=np.float64)
    if tuple(src_size) == tuple(dst_size):
        return pts.copy()
    sw, sh = src_size
    dw, dh = dst_size
    s = min(dw / sw, dh / sh)
    dx = (dw - round(sw * s)) // 2
    dy = (dh - round(sh * s)) // 2
    return (pts + 0.5) * s - 0.5 + np.array([dx, dy], dtype=np.float64)


def fit_rect(rect: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    """Move a ``(cx, cy, w, h)`` rectangle inside a ``width x height`` frame.

    A rectangle larger than the frame is shrunk uniformly (aspect kept) until
    it fits; the centre then shifts the least needed. Pixel xy; the result
    covers ``[cx - w/2, cx + w/2]`` within ``[-0.5, width - 0.5]`` (same for y).
    """
    cx, cy, w, h = (float(v) for v in rect)
    if w <= 0 or h <= 0:
        raise InputError(f"fit_rect: non-positive size {w}x{h}")
    k = min(1.0, width / w, height / h)
    w, h = w * k, h * k
    cx = min(max(cx, w / 2 - 0.5), width - 0.5 - w / 2)
    cy = min(max(cy, h / 2 - 0.5), height - 0.5 - h / 2)
    return cx, cy, w, h

def _iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))


def mouth_box(lm: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """Square ``(cx, cy, side)`` around the mouth landmarks (48..67) of a dlib-68 face, inside the frame.

    The side is :data:`MOUTH_SCALE` times the larger side of the mouth's
    bounding box, at least :data:`MOUTH_MIN_IOD` times the inter-ocular
    distance (so a closed mouth keeps its surroundings in view).
    """
    pts = np.asarray(lm, dtype=np.float64)[_MOUTH]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    side = max(float((hi - lo).max()) * MOUTH_SCALE, MOUTH_MIN_IOD * _iod(lm), 8.0)
    cx, cy = (lo + hi) / 2
    return fit_box((float(cx), float(cy), side), width, height)


def eyes_box(lm: np.ndarray, width: int, height: int) -> tuple[float, float, float, float]:
    """Wide ``(cx, cy, w, h)`` strip over both eyes (36..47), aspect :data:`EYES_ASPECT`, inside the frame.

    The width is :data:`EYES_SCALE` times the eyes' x-span; the centre is the
    centre of the eye points' bounding box (the strip is not rotated with roll).
    """
    pts = np.asarray(lm, dtype=np.float64)[_EYES]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    w = max(float(hi[0] - lo[0]) * EYES_SCALE, 8.0 * EYES_ASPECT)
    cx, cy = (lo + hi) / 2
    return fit_rect((float(cx), float(cy), w, w / EYES_ASPECT), width, height)


def face_rect(lm: np.ndarray) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` bounding box of the jaw and brow landmarks (0..26)."""
    pts = np.asarray(lm, dtype=np.float64)[_FACE_OUTLINE]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def background_boxes(lm: np.ndarray, width: int, height: int) -> list[tuple[float, float, float]]:
    """Two squares ``(cx, cy, side)`` beside the face at eye height: image-left, then image-right.

    Ideally side :data:`BG_SIDE` and gap :data:`BG_GAP` (to the face box of
    :func:`face_rect`) times the face-box width. When the room between the
    face box and the frame edge is smaller, the side shrinks (down to
    :data:`BG_MIN_SIDE` times the face width), then the gap. Each box is
    finally moved inside the frame, so it may overlap the face where there is
    no room at all (see :func:`overlaps_face`).
    """
    x0, _, x1, _ = face_rect(lm)
    fw = max(x1 - x0, 8.0)
    ey = float(np.asarray(lm, dtype=np.float64)[_EYES, 1].mean())
    boxes = []
    for room, sign, edge in ((x0 + 0.5, -1.0, x0), (width - 0.5 - x1, 1.0, x1)):
        gap = BG_GAP * fw
        side = min(BG_SIDE * fw, room - gap)
        if side < BG_MIN_SIDE * fw:
            side = BG_MIN_SIDE * fw
            gap = max(room - side, 0.0)
        boxes.append(fit_box((edge + sign * (gap + side / 2), ey, side), width, height))
    return boxes


def overlaps_face(box: tuple[float, float, float], lm: np.ndarray) -> bool:
    """True when a square ``(cx, cy, side)`` box intersects the face box of ``lm`` (:func:`face_rect`)."""
    cx, cy, side = box
    x0, y0, x1, y1 = face_rect(lm)
    h = side / 2
    return cx - h < x1 and cx + h > x0 and cy - h < y1 and cy + h > y0
