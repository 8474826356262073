"""Shot cuts in a driving video, found from the pictures (numpy + OpenCV).

An edited clip can jump from one shot to another between two frames; the
landmark track then jumps too, and a smoothing filter run across the jump
drags the frames on both sides towards each other (a face that slides across
the picture over a few frames where the video cuts). The landmarks alone
cannot tell a cut from a fast head turn (a fast turn moves them as far), so
cuts are found from the frames.

Rule: each frame is reduced to a :data:`THUMB` x :data:`THUMB` grey
thumbnail (area average), and its difference to the previous frame is the
mean absolute difference of the thumbnails, in grey levels 0..255. Frame t
starts a new shot when that difference is at least :data:`MIN_DIFF` and more
than :data:`RATIO` times the median difference of the :data:`WINDOW` frames
on either side, plus one level (so a clip that moves fast all along has no
cuts). On the first 200 frames of the 110 shared clips this finds three cuts,
each a change of shot seen by eye, and nothing else.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Side of the grey thumbnail compared between frames (pixels).
THUMB = 64
#: Smallest thumbnail difference of a cut (mean absolute grey levels, 0..255).
MIN_DIFF = 6.0
#: A cut's difference exceeds this many times its neighbours' median (plus one level).
RATIO = 4.0
#: Frames on either side whose differences give the neighbours' median.
WINDOW = 5


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (THUMB, THUMB) float32 grey levels 0..255."""
    grey = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails (grey levels)."""
    return float(cv2.norm(a, b, cv2.NORM_L1)) / a.size


def likely_cut(diff: float, before: np.ndarray) -> bool:
    """The causal half of the rule, for a frame as it arrives: ``diff`` (to the
    previous frame) against the median of the up to :data:`WINDOW` differences
    ``before`` it (NaN ignored). The tracker re-detects the face on such a frame
    instead of searching where the previous shot's face was."""
    return _is_cut(diff, np.asarray(before, np.float64)[-WINDOW:])


def find_cuts(diffs: np.ndarray) -> list[int]:
    """Frames that start a new shot.

    Args:
        diffs: (F,) float, ``diffs[t]`` the thumbnail difference between frame
            t - 1 and frame t (``diffs[0]`` is ignored; NaN where unknown).

    Returns:
        Sorted frame indices t >= 1 where a shot starts (see the module).
    """
    d = np.asarray(diffs, np.float64)
    return [t for t in range(1, len(d)) if _is_cut(d[t], np.r_[d[max(1, t - WINDOW):t], d[t + 1:t + 1 + WINDOW]])]


def _is_cut(diff: float, near: np.ndarray) -> bool:
    """The rule: ``diff`` at least :data:`MIN_DIFF` and above :data:`RATIO` times the
    median of the finite values of ``near`` plus one level (0 when there are none)."""
    if not diff >= MIN_DIFF:
        return False
    near = near[np.isfinite(near)]
    return diff > RATIO * (float(np.median(near)) if len(near) else 0.0) + 1.0
