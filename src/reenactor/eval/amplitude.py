"""Expression amplitude: how large the output's expression changes are, compared with the driver's.

Six channels, measured per frame from dlib-68 landmarks (``(68, 2)`` pixel
xy) after removing the face's in-plane rotation (the eye-centre line made
horizontal; "up" is positive), in units of that face's own size, so that a
portrait with a small mouth and a driver with a wide one are compared fairly:

* ``mouth_open``: mean inner-lip gap (61-67, 62-66, 63-65);
* ``mouth_width``: mouth corners 48-54;
* ``lip_corner``: height of the mouth corners (48, 54) relative to the
  upper lip's centre (51) (up = smile, down = frown);
  these three in units of that face's own median mouth width over the clip
  (the pipeline transfers mouth motion in proportion to the mouth's width,
  so a narrow portrait mouth opens less, in inter-ocular distances, than a
  wide driver mouth, and equally in mouth widths);
* ``eye_open``: mean lid gap (37-41, 38-40, 43-47, 44-46) as a fraction of
  that face's own median gap over the clip (so 0.5 = half closed);
* ``brow_raise``: mean height of the brows (17..26) above the eye-corner
  lines (36-39, 42-45), in IOD;
* ``cheek_raise``: dlib has no cheek point; proxy: the rise of the lower lid
  (40, 41, 46, 47) towards the eye-corner line, in IOD (a cheek raise,
  AU6, pushes the lower lid up; a blink barely moves it).

Each channel of each stream (output, driver) becomes its change from its own
median over the clip. On the frames where both have a face:

* ``amp_C``: the **amplitude ratio**, the output's robust spread over the
  driver's, spread = the 10-90 percentile range. The range is chosen over a
  regression slope because it measures the size of the motion a viewer sees
  whether or not the output is in step frame by frame (timing is measured
  separately by the correlations), and unlike the slope it is not pulled
  towards 0 by noise in the driver's own measurement (regression dilution);
  the slope is reported too, as ``amp_slope_C``;
* ``below_corr_C``: the Pearson correlation of output and driver on the frames
  where the driver's channel is below its median (a mouth closing further
  than usual, a squint, brows lowered): does the output follow *below* the
  reference as well as above;
* ``ref_range_C``, ``out_range_C``: the two spreads; ``noise_C``: dlib's
  noise floor for the channel on this item (:func:`measure_noise`).

A channel is skipped (NaN) on an item when the driver's spread is below
:data:`NOISE_FACTOR` times the noise floor: its ratio would measure dlib
(when the floor itself is unknown, dlib having lost the face in the jittered
copies, only a driver spread of 0 is skipped).
Target: ratio within :data:`TARGET` on every channel.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from reenactor.eval import metrics as M

NAN = float("nan")
CHANNELS = ("mouth_open", "mouth_width", "lip_corner", "eye_open", "brow_raise", "cheek_raise")
#: Channels measured in units of the face's own median mouth width.
MOUTH_CHANNELS = ("mouth_open", "mouth_width", "lip_corner")
#: Percentiles of the robust spread.
SPREAD_PCT = (10.0, 90.0)
#: A driver spread below NOISE_FACTOR x the noise floor makes the channel NaN.
NOISE_FACTOR = 2.0
#: Fewest paired frames for a ratio; fewest below-median frames for ``below_corr``.
MIN_FRAMES = 8
MIN_BELOW = 5
#: Target band of the amplitude ratio.
TARGET = (0.8, 1.25)
#: Jitter of the noise measurement: shifts (px), rotations (deg), scales.
JITTER_SHIFTS = (-1.0, -0.5, 0.5, 1.0)
JITTER_ROT = (-0.75, 0.75)
JITTER_SCALE = (0.99, 1.01)


def _aligned(lm: np.ndarray) -> tuple[np.ndarray, float]:
    """Landmarks rotated so the eye-centre line is horizontal, origin between the eyes; and the IOD."""
    lm = np.asarray(lm, dtype=np.float64)
    le = lm[list(M.LEFT_EYE)].mean(axis=0)
    re = lm[list(M.RIGHT_EYE)].mean(axis=0)
    d = re - le
    iod = float(np.hypot(*d))
    c, s = d / max(iod, 1e-9)
    rot = np.array([[c, s], [-s, c]])
    return (lm - 0.5 * (le + re)) @ rot.T, iod


def channels(lm: np.ndarray) -> dict[str, float]:
    """The six raw channels of one face (``(68, 2)`` pixel xy); ``eye_open`` in IOD here.

    Returns NaN for every channel when the inter-ocular distance is degenerate.
    """
    p, iod = _aligned(lm)
    if iod <= 1e-6:
        return {c: NAN for c in CHANNELS}
    y = p[:, 1]
    corner_l = 0.5 * (y[36] + y[39])
    corner_r = 0.5 * (y[42] + y[45])
    return {
        "mouth_open": float(np.mean([y[67] - y[61], y[66] - y[62], y[65] - y[63]])) / iod,
        "mouth_width": float(p[54, 0] - p[48, 0]) / iod,
        "lip_corner": float(y[51] - 0.5 * (y[48] + y[54])) / iod,
        "eye_open": float(np.mean([y[41] - y[37], y[40] - y[38], y[47] - y[43], y[46] - y[44]])) / iod,
        "brow_raise": float(np.mean(np.r_[corner_l - y[17:22], corner_r - y[22:27]])) / iod,
        "cheek_raise": float(np.mean([corner_l - y[40], corner_l - y[41], corner_r - y[46], corner_r - y[47]])) / iod,
    }


def channel_series(landmarks: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    """Per channel, ``(T,)`` change from the clip's median (NaN where no face).

    ``eye_open`` becomes ``gap / median gap - 1`` (fraction of the face's own
    median opening); the mouth channels ``(value - median) / median mouth
    width``; brow and cheek ``value - median`` in IOD.
    """
    raw = {c: np.full(len(landmarks), NAN) for c in CHANNELS}
    for t, lm in enumerate(landmarks):
        if lm is None:
            continue
        for c, v in channels(lm).items():
            raw[c][t] = v
    out = {}
    widths = raw["mouth_width"][np.isfinite(raw["mouth_width"])]
    mouth_unit = float(np.median(widths)) if widths.size else NAN
    for c, x in raw.items():
        fin = x[np.isfinite(x)]
        if fin.size == 0:
            out[c] = x
            continue
        med = float(np.median(fin))
        if c == "eye_open":
            out[c] = x / med - 1.0 if med > 1e-6 else np.full_like(x, NAN)
        elif c in MOUTH_CHANNELS:
            out[c] = (x - med) / mouth_unit if mouth_unit > 1e-6 else np.full_like(x, NAN)
        else:
            out[c] = x - med
    return out


def spread(x: np.ndarray) -> float:
    """10-90 percentile range of the finite entries (NaN with fewer than :data:`MIN_FRAMES`)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < MIN_FRAMES:
        return NAN
    lo, hi = np.percentile(x, SPREAD_PCT)
    return float(hi - lo)


def _slope(o: np.ndarray, r: np.ndarray) -> float:
    o = o - o.mean()
    r = r - r.mean()
    den = float(np.dot(r, r))
    return float(np.dot(o, r) / den) if den > 1e-12 else NAN


def amplitude(out: dict[str, np.ndarray], ref: dict[str, np.ndarray], noise: dict[str, float] | None = None) -> dict[str, float]:
    """Amplitude metrics of an output against its reference (driver or ground truth).

    Args:
        out, ref: :func:`channel_series` of the output and of the reference (same length).
        noise: per channel noise floor (same units as the spread); None = no noise test.

    Returns:
        Flat ``{f"{key}_{channel}": value}`` with keys ``amp``, ``amp_slope``,
        ``below_corr``, ``ref_range``, ``out_range``, ``noise`` (see the module docstring).
    """
    res: dict[str, float] = {}
    for c in CHANNELS:
        o, r = np.asarray(out[c], float), np.asarray(ref[c], float)
        both = np.isfinite(o) & np.isfinite(r)
        rr, orr = spread(r[both]), spread(o[both])
        nz = float(noise.get(c, NAN)) if noise else NAN
        res[f"ref_range_{c}"], res[f"out_range_{c}"], res[f"noise_{c}"] = rr, orr, nz
        quiet = math.isnan(rr) or rr <= 1e-9 or (math.isfinite(nz) and rr < NOISE_FACTOR * nz)
        if quiet:
            res[f"amp_{c}"] = res[f"amp_slope_{c}"] = res[f"below_corr_{c}"] = NAN
            continue
        res[f"amp_{c}"] = orr / rr
        res[f"amp_slope_{c}"] = _slope(o[both], r[both])
        below = both & (r < 0)
        res[f"below_corr_{c}"] = M.pearson(o[below], r[below]) if below.sum() >= MIN_BELOW else NAN
    return res


def jittered(frame: np.ndarray, centre: tuple[float, float]) -> list[np.ndarray]:
    """Copies of ``frame`` (``HxWx3`` ``uint8``) moved by the fixed small jitters, about ``centre`` (pixel xy).

    Every combination of one shift (x and y alike, :data:`JITTER_SHIFTS`),
    one rotation and one scale: 16 frames, bilinear resampling.
    """
    h, w = frame.shape[:2]
    out = []
    k = 0
    for rot in JITTER_ROT:
        for sc in JITTER_SCALE:
            for sh in JITTER_SHIFTS:
                m = cv2.getRotationMatrix2D(centre, rot, sc)
                m[:, 2] += (sh, -sh if k % 2 else sh)
                out.append(cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
                k += 1
    return out


def measure_noise(face, frame: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """dlib's noise floor per channel on one still: the spread of the channels over :func:`jittered` copies.

    Args:
        face: a :class:`reenactor.eval.dlibface.DlibFace`.
        frame: ``HxWx3`` ``uint8`` RGB with a face.
        landmarks: that face's ``(68, 2)`` dlib landmarks (pixel xy), for the jitter's centre.

    Returns:
        ``{channel: spread}`` in the channel's units (NaN when dlib loses the
        face in too many copies).
    """
    cx, cy = np.asarray(landmarks, float).mean(axis=0)
    lms = [landmarks] + [m.landmarks for m in (face.measure(f, descriptor=False) for f in jittered(frame, (float(cx), float(cy))))]
    series = channel_series(lms)
    return {c: spread(series[c]) for c in CHANNELS}


def summarize(rows: list[dict], method: str | None = None) -> dict[str, dict[str, float]]:
    """Per channel over items: ``median`` ratio, ``n`` items with a ratio, ``in_target`` share, ``below_corr`` median.

    Args:
        rows: per-item metric dicts holding the keys of :func:`amplitude`.
    """
    out = {}
    for c in CHANNELS:
        r = np.array([row.get(f"amp_{c}", NAN) for row in rows], dtype=np.float64)
        r = r[np.isfinite(r)]
        b = np.array([row.get(f"below_corr_{c}", NAN) for row in rows], dtype=np.float64)
        b = b[np.isfinite(b)]
        out[c] = {
            "median": float(np.median(r)) if r.size else NAN,
            "n": int(r.size),
            "in_target": float(np.mean((r >= TARGET[0]) & (r <= TARGET[1]))) if r.size else NAN,
            "below_corr": float(np.median(b)) if b.size else NAN,
        }
    return out


#: Report text describing this module's measurement.
AMPLITUDE_NOTE = (
    "Expression amplitude (reenactor.eval.amplitude): per channel (mouth opening, mouth width, lip-corner height, eye "
    "opening as a fraction of the face's own median, brow raise, cheek raise = lower lid's rise towards the "
    "eye-corner line, a proxy: dlib has no cheek point), measured with dlib-68 after removing the face's roll, in "
    "the face's own inter-ocular distances, as the change from its median over the clip, for the output and the "
    "driver (self: the ground truth). Ratio = output's 10-90 percentile range / driver's, on frames where both have "
    "a face (the range, not a regression slope: it measures the motion's size whether or not it is in step, and is "
    "not pulled to 0 by noise in the driver's measurement; the slope is in results.json). A channel is skipped on an "
    "item when the driver's range is below 2x dlib's noise floor, measured on 16 jittered copies of the driver's "
    "first face (shifts of 0.5-1 px, +-0.75 deg, +-1 % scale). Cell: median ratio over items (items with a ratio, "
    "share within the target band 0.8-1.25). Target: 0.8-1.25 on every channel."
)

BELOW_NOTE = (
    "Follows below the reference: Pearson correlation of output and driver on the frames where the driver's channel "
    "is below its clip median (a mouth closing further than usual, a squint, lowered brows); median over items "
    "(at least 5 such frames)."
)
