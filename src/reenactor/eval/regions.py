"""The region view: mouth, eyes and background crops at the driver's extreme frames.

For every item the evaluation picks three frames from the **driver's** dlib
measurements (the reference stream: the ground truth in the self protocol,
the driver clip in the cross protocol):

* ``mouth``: the widest mouth opening (largest inner-lip gap / IOD);
* ``blink``: the strongest blink (smallest lid gap / IOD);
* ``yaw``: the largest ``|yaw|`` relative to the first frame where dlib
  finds a face (the motion reference).

Frame 0 is never picked when another frame qualifies: in the self protocol it
is the portrait itself and in both protocols it is the motion reference, so
every method reproduces it trivially.

From each method's output at those frames the view cuts

* a square **mouth** crop around the output's own dlib mouth landmarks
  (48..67) at the ``mouth`` frame;
* a wide **eyes** strip (aspect :data:`EYES_ASPECT`) around both eyes
  (36..47) at the ``blink`` frame;
* two square **background** patches just outside the face box (jaw and
  brows), left and right, at eye height, at the ``yaw`` frame: the head's
  outline (ear, hair) at the inner edge, background beyond. Their place is
  fixed per row (computed from the row's *anchor*: the portrait's
  landmarks, or the driver's first face), so a still background shows the
  same pixels in every frame while a dragged background, a halo or a seam
  at the head's outline shows;
* a small thumbnail of the whole ``yaw`` frame with the background patches
  outlined.

When dlib finds no face in an output frame, the mouth/eyes boxes come from
the anchor's landmarks mapped to the output's size, and the tile is marked
``mapped``. A background patch that had to be moved onto the face box (too
little room beside the face) is marked ``on face``.

Conventions: images are ``HxWx3`` ``uint8`` RGB; points and boxes are
``float64`` pixel xy (see :mod:`reenactor.eval.imageops`). Square boxes are
``(cx, cy, side)``, rectangles ``(cx, cy, width, height)``; every box
returned here lies inside its frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from reenactor.errors import InputError
from reenactor.eval import metrics as M
from reenactor.eval.dlibface import FaceMeasurement
from reenactor.eval.imageops import check_rgb, crop_square, fit_box, letterbox
from reenactor.eval.pose import estimate_pose, euler_deg, relative_rotation

NAN = float("nan")

#: Height of every tile in pixels (mouth and background tiles are square).
TILE = 128
#: Width / height of the eyes strip (box and tile).
EYES_ASPECT = 2.5
#: Width / height of the thumbnail tile (the frame is letterboxed into it).
THUMB_ASPECT = 4 / 3
#: Width of the row-label band on the left.
LABEL_W = 104
#: Height of the header band on top (a title line, then two lines per column).
HEADER_H = 58
#: Gap between tiles and rows, pixels.
GAP = 2

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
_TEXT = (0, 0, 0)
_WARN = (200, 0, 0)


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


def crop_rect(image: np.ndarray, rect: tuple[float, float, float, float], out_size: tuple[int, int]) -> np.ndarray:
    """Cut a ``(cx, cy, w, h)`` rectangle and resample it to ``out_size`` = (width, height).

    Bilinear, with an anti-aliasing blur when shrinking by more than 2x;
    outside the image is black. The rectangle is scaled uniformly when its
    aspect matches ``out_size`` (callers keep it so).

    Returns:
        ``out_h x out_w x 3`` ``uint8`` RGB.
    """
    image = check_rgb(image)
    cx, cy, w, h = rect
    ow, oh = int(out_size[0]), int(out_size[1])
    sx, sy = ow / w, oh / h
    s = min(sx, sy)
    src = image
    if s < 0.5:
        sigma = 0.25 / s
        src = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)
    m = np.array([[sx, 0.0, -sx * (cx - w / 2) - 0.5], [0.0, sy, -sy * (cy - h / 2) - 0.5]])
    return cv2.warpAffine(src, m, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


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


# ------------------------------------------------------------------- tiles


def thumb_size() -> tuple[int, int]:
    """``(width, height)`` of the thumbnail tile."""
    return int(round(TILE * THUMB_ASPECT)), TILE


def eyes_size() -> tuple[int, int]:
    """``(width, height)`` of the eyes tile."""
    return int(round(TILE * EYES_ASPECT)), TILE


#: Column keys of the strip, in order.
COLUMNS = ("mouth", "eyes", "bg_left", "bg_right", "frame")


def column_widths() -> list[int]:
    """Widths of the tiles of :data:`COLUMNS`."""
    return [TILE, eyes_size()[0], TILE, TILE, thumb_size()[0]]


def _mark(tile: np.ndarray, text: str) -> None:
    cv2.rectangle(tile, (0, 0), (min(tile.shape[1] - 1, 7 * len(text) + 6), 14), (255, 255, 255), -1)
    cv2.putText(tile, text, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, _WARN, 1, cv2.LINE_AA)


@dataclass
class RegionRow:
    """One row of the strip: a label and the tiles of :data:`COLUMNS`.

    Attributes:
        label: method name (or ``ground truth`` / ``driver``).
        tiles: ``TILE``-high ``uint8`` RGB tiles, widths :func:`column_widths`.
        boxes: the crop boxes used, in the output frame's pixel xy:
            ``{"mouth": (cx, cy, side), "eyes": (cx, cy, w, h), "bg_left": ..., "bg_right": ...}``.
        notes: per column, the marks drawn on the tiles (``mapped``, ``on face``, ``failed``).
    """

    label: str
    tiles: list[np.ndarray]
    boxes: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


def region_row(
    label: str,
    frames: dict[int, np.ndarray],
    meas: dict[int, FaceMeasurement | None],
    picks: RegionFrames,
    anchor: np.ndarray,
    anchor_size: tuple[int, int],
) -> RegionRow:
    """Cut one row's tiles from a method's output frames at the picked frames.

    Args:
        label: row label.
        frames: ``{t: HxWx3 uint8 RGB output frame}`` for every ``t`` in
            ``picks.indices``.
        meas: ``{t: dlib measurement of frames[t]}`` (None or not found:
            the anchor is used for the mouth/eyes boxes and the tile marked ``mapped``).
        picks: the frames picked from the driver.
        anchor: ``(68, 2)`` dlib landmarks (pixel xy) fixing the background
            patches and the fallback mouth/eyes boxes: the portrait's face for
            the methods, the driver's first face for the driver row.
        anchor_size: ``(width, height)`` of the frame ``anchor`` was measured in.

    Returns:
        A :class:`RegionRow`.

    Raises:
        InputError: a picked frame is missing from ``frames``.
    """
    missing = picks.indices - set(frames)
    if missing:
        raise InputError(f"region_row {label}: frames {sorted(missing)} not provided")
    row = RegionRow(label=label, tiles=[])

    def landmarks_at(t: int) -> tuple[np.ndarray, bool]:
        h, w = frames[t].shape[:2]
        m = meas.get(t)
        if m is not None and m.found:
            return m.landmarks, False
        return map_points(anchor, anchor_size, (w, h)), True

    # mouth at the widest opening
    f = check_rgb(frames[picks.mouth])
    h, w = f.shape[:2]
    lm, mapped = landmarks_at(picks.mouth)
    box = mouth_box(lm, w, h)
    tile = crop_square(f, box, TILE)
    row.boxes["mouth"] = box
    if mapped:
        _mark(tile, "mapped")
        row.notes["mouth"] = "mapped"
    row.tiles.append(tile)

    # eyes at the strongest blink
    f = check_rgb(frames[picks.blink])
    h, w = f.shape[:2]
    lm, mapped = landmarks_at(picks.blink)
    rect = eyes_box(lm, w, h)
    tile = crop_rect(f, rect, eyes_size())
    row.boxes["eyes"] = rect
    if mapped:
        _mark(tile, "mapped")
        row.notes["eyes"] = "mapped"
    row.tiles.append(tile)

    # background beside the face at the largest yaw (patches fixed by the anchor)
    f = check_rgb(frames[picks.yaw])
    h, w = f.shape[:2]
    anchor_here = map_points(anchor, anchor_size, (w, h))
    bgs = background_boxes(anchor_here, w, h)
    for key, b in zip(("bg_left", "bg_right"), bgs):
        tile = crop_square(f, b, TILE)
        row.boxes[key] = b
        if overlaps_face(b, anchor_here):
            _mark(tile, "on face")
            row.notes[key] = "on face"
        row.tiles.append(tile)

    # thumbnail of the yaw frame with the patches outlined
    tw, th = thumb_size()
    thumb, place = letterbox(f, (tw, th))
    for b in bgs:
        cx, cy, side = b
        p = place.apply(np.array([[cx - side / 2, cy - side / 2], [cx + side / 2, cy + side / 2]]))
        cv2.rectangle(thumb, tuple(int(round(v)) for v in p[0]), tuple(int(round(v)) for v in p[1]), (255, 220, 0), 1)
    row.tiles.append(thumb)
    return row


def failed_row(label: str) -> RegionRow:
    """A row of grey tiles marked ``failed`` (the method raised on this item)."""
    tiles = []
    for wd in column_widths():
        t = np.full((TILE, wd, 3), 96, np.uint8)
        _mark(t, "failed")
        tiles.append(t)
    return RegionRow(label=label, tiles=tiles, notes={c: "failed" for c in COLUMNS})


def column_headers(picks: RegionFrames) -> list[tuple[str, str]]:
    """Two header lines per column of :data:`COLUMNS` (frame index and what was picked)."""

    def num(v: float, fmt: str) -> str:
        return fmt.format(v) if math.isfinite(v) else "n/a"

    return [
        (f"mouth  t={picks.mouth}", f"widest open {num(picks.mouth_open, '{:.2f}')} IOD"),
        (
            f"eyes  t={picks.blink}",
            f"strongest blink: lids {num(picks.eye_open, '{:.3f}')} IOD (median {num(picks.eye_open_median, '{:.3f}')})",
        ),
        (f"bg left  t={picks.yaw}", f"max |yaw| {num(picks.yaw_deg, '{:+.1f}')} deg"),
        (f"bg right  t={picks.yaw}", "fixed place"),
        (f"frame  t={picks.yaw}", "patches outlined"),
    ]


def _put(img: np.ndarray, text: str, org: tuple[int, int], scale: float, max_w: int) -> None:
    """Draw ``text`` at ``org``, shortened until it fits ``max_w`` pixels."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    while text and cv2.getTextSize(text, font, scale, 1)[0][0] > max_w:
        text = text[:-1]
    cv2.putText(img, text, org, font, scale, _TEXT, 1, cv2.LINE_AA)


def compose_regions(rows: list[RegionRow], picks: RegionFrames, title: str) -> np.ndarray:
    """Assemble the strip: a header band, then one row per method.

    Layout: a title line across the top, then two header lines per column;
    below, a :data:`LABEL_W` label band on the left and the columns of
    :data:`COLUMNS` separated by :data:`GAP` white pixels; every row is
    :data:`TILE` high.

    Args:
        rows: the rows (tiles sized per :func:`column_widths`).
        picks: the picked frames (for the headers).
        title: the title line (e.g. item name, portrait and driver).

    Returns:
        ``HxWx3`` ``uint8`` RGB, ``H = HEADER_H + len(rows) * (TILE + GAP)``,
        ``W = LABEL_W + sum(column_widths()) + len(COLUMNS) * GAP``.

    Raises:
        InputError: no rows, or a tile of the wrong size.
    """
    if not rows:
        raise InputError("compose_regions: no rows")
    widths = column_widths()
    total_w = LABEL_W + sum(widths) + len(widths) * GAP
    total_h = HEADER_H + len(rows) * (TILE + GAP)
    img = np.full((total_h, total_w, 3), 255, np.uint8)
    _put(img, title, (4, 15), 0.45, total_w - 8)
    x = LABEL_W + GAP
    for (l1, l2), wd in zip(column_headers(picks), widths):
        _put(img, l1, (x + 2, 34), 0.42, wd - 4)
        _put(img, l2, (x + 2, 51), 0.33, wd - 4)
        x += wd + GAP
    y = HEADER_H
    for r in rows:
        if len(r.tiles) != len(widths):
            raise InputError(f"compose_regions: row {r.label!r} has {len(r.tiles)} tiles, expected {len(widths)}")
        _put(img, r.label, (4, y + TILE // 2 + 5), 0.45, LABEL_W - 6)
        x = LABEL_W + GAP
        for tile, wd in zip(r.tiles, widths):
            if tile.shape != (TILE, wd, 3) or tile.dtype != np.uint8:
                raise InputError(f"compose_regions: row {r.label!r} tile {tile.shape} {tile.dtype}, expected ({TILE}, {wd}, 3) uint8")
            img[y : y + TILE, x : x + wd] = tile
            x += wd + GAP
        y += TILE + GAP
    return img
