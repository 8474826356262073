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

The frame picks and the crop boxes are computed in
:mod:`reenactor.eval.region_boxes`; its public names are re-exported here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from reenactor.errors import InputError
from reenactor.eval.dlibface import FaceMeasurement
from reenactor.eval.imageops import check_rgb, crop_square, letterbox
from reenactor.eval.region_boxes import (  # noqa: F401
    BG_GAP,
    BG_MIN_SIDE,
    BG_SIDE,
    EYES_ASPECT,
    EYES_SCALE,
    MOUTH_MIN_IOD,
    MOUTH_SCALE,
    NAN,
    RegionFrames,
    background_boxes,
    driver_signals,
    eyes_box,
    face_rect,
    fit_rect,
    map_points,
    mouth_box,
    overlaps_face,
    pick_frames,
)

#: Height of every tile in pixels (mouth and background tiles are square).
TILE = 128
#: Width / height of the thumbnail tile (the frame is letterboxed into it).
THUMB_ASPECT = 4 / 3
#: Width of the row-label band on the left.
LABEL_W = 104
#: Height of the header band on top (a title line, then two lines per column).
HEADER_H = 58
#: Gap between tiles and rows, pixels.
GAP = 2

_TEXT = (0, 0, 0)
_WARN = (200, 0, 0)


# ------------------------------------------------------------------- tiles


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
