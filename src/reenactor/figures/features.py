"""Figures of the eyes and the mouth: lid closure, inner-mouth modes, mouth readings, the mouth model's curve.

Each function returns the figure as an ``HxWx3`` ``uint8`` RGB array, or
:func:`mouth_curve` as PNG bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np

from reenactor.figures.tiles import (
    config_with,
    heading,
    label,
    mouth_crop,
    read_clip,
    read_portrait,
    render_row,
    spaced_peaks,
    stack_rows,
)

WINK_PORTRAIT = "portraits/EAMM__scarlett.jpg"
WINK_DRIVER = "videos/LivePortrait__d3.mp4"

#: (portrait, driver) pairs of docs/mouth/strip.jpg; the drivers' identities are held out of training.
MOUTH_PAIRS = (
    ("portraits/EAMM__mona.png", "videos/LivePortrait__d0.mp4"),
    ("portraits/EAMM__scarlett.jpg", "videos/LivePortrait__d3.mp4"),
    ("portraits/EAMM__jake4.png", "videos/SadTalker__WDA_KatieHill_000.mp4"),
    ("portraits/LivePortrait__s6.jpg", "videos/SadTalker__WDA_EdMarkey0_000.mp4"),
)
MOUTH_TILE = (176, 112)

#: Eval items of docs/mouth_readings.jpg: the three cross pairs with the lowest mouth-open correlation.
READING_ITEMS = ("jake__mead_1080p", "art13__grid_swiz3n", "musk__styletalk_nice")
READING_TILE = 200


def eyes_crop(image: np.ndarray, lm: np.ndarray, size: tuple[int, int] = (480, 213)) -> np.ndarray:
    """The band around both eyes of ``image`` (corners 33 and 263 of (478, 2+) ``lm``), resized to ``size`` (w, h)."""
    c = lm[[33, 263], :2].mean(0)
    w = float(np.linalg.norm(lm[33, :2] - lm[263, :2]))
    crop = image[int(c[1] - 0.45 * w) : int(c[1] + 0.35 * w), int(c[0] - 0.9 * w) : int(c[0] + 0.9 * w)]
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)


def wink(data: Path) -> np.ndarray:
    """docs/wink.jpg: a wink and a downcast closure: the full-closure snap, lid smoothing and lash line.

    Scarlett driven by LivePortrait d3 (first 120 frames) at two frames: where
    one eye is most closed relative to the other, and where both are most
    closed. Rows: the driver's eyes, the portrait's, then renders with
    ``eye_closed_fraction = 0``; the snap but ``lid_blur = 0``; lid smoothing
    but ``lash_line = 0``; the default.

    Returns:
        ``(213 * 6, 480 * 2, 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor

    frames, fps = read_clip(data, WINK_DRIVER, 120)
    portrait = read_portrait(data, WINK_PORTRAIT)
    base = Reenactor()
    prepared = base.prepare(portrait)
    track = base.track(frames, fps)
    gaps = np.array([(np.linalg.norm(lm[159, :2] - lm[145, :2]), np.linalg.norm(lm[386, :2] - lm[374, :2])) for lm in track.landmarks])
    picks = [int(np.argmax(np.abs(gaps[:, 0] - gaps[:, 1]))), int(np.argmin(gaps.sum(1)))]
    rows = [np.hstack([label(eyes_crop(frames[t], track.landmarks[t]), f"driver, frame {t}", (8, 22), 0.6) for t in picks])]
    rows.append(np.hstack([label(eyes_crop(prepared.crop_image, prepared.crop_landmarks), "portrait", (8, 22), 0.6)] * 2))
    cfg = base.config
    closed, blur, line = cfg.retarget.eye_closed_fraction, cfg.render.lid_blur, cfg.render.lash_line
    variants = (
        (0.0, blur, 0.0, "lids stop at the lash gap"),
        (closed, 0.0, 0.0, "closes fully, lid skin stretched"),
        (closed, blur, 0.0, "closes fully, lid smoothed"),
        (closed, blur, line, "default: lid smoothed, lash line drawn"),
    )
    for closed_fraction, lid_blur, lash_line, text in variants:
        engine = Reenactor(config_with(retarget={"eye_closed_fraction": closed_fraction}, render={"lid_blur": lid_blur, "lash_line": lash_line}))
        rows.append(render_row(engine, portrait, track, picks, eyes_crop, text, (8, 22), 0.6))
    return np.vstack(rows)


def _outer_mouth(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """``MOUTH_TILE`` crop of HxWx3 ``image`` centred on the outer lips of (478, 2+) ``landmarks``."""
    from reenactor.face import topology as T

    return mouth_crop(image, landmarks, MOUTH_TILE, T.OUTER_LIP_LOOP)


def mouth_strip(data: Path) -> np.ndarray:
    """docs/mouth/strip.jpg: the driver's inner mouth transferred vs the learned painter, held-out drivers.

    Per pair the driver is tracked over its first 150 frames and the 5 frames
    with the widest mouth opening (at least 5 apart) are picked; three rows of
    mouth crops follow: the driver's own mouth, ``--mouth driver`` and
    ``--mouth learned``. Pairs are separated by 6 white pixels.

    Returns:
        ``(112 * 12 + 6 * 3, 176 * 5, 3)`` uint8 RGB.
    """
    from reenactor.api import Reenactor
    from reenactor.render.mouth import mouth_opening

    modes = ("driver", "learned")
    engines = {m: Reenactor(config_with(render={"mouth": m})) for m in modes}
    blocks = []
    for portrait_rel, driver_rel in MOUTH_PAIRS:
        portrait = read_portrait(data, portrait_rel)
        frames, fps = read_clip(data, driver_rel, 150)
        track = engines[modes[0]].track(frames, fps)
        openings = np.array([mouth_opening(lm) if f else -1.0 for lm, f in zip(track.landmarks, track.found)])
        picks = sorted(spaced_peaks(openings, 5))
        rows = [np.hstack([label(_outer_mouth(frames[i], track.landmarks[i]), f"driver {i}", (4, 14), 0.42) for i in picks])]
        rows += [render_row(engines[m], portrait, track, picks, _outer_mouth, m, (4, 14), 0.42) for m in modes]
        blocks.append(np.vstack(rows))
    return stack_rows(blocks, gap=6)


def mouth_curve(data: Path | None = None) -> bytes:
    """docs/mouth/val_curve.png: the validation curve recorded in the shipped mouth model's card (PNG bytes).

    ``data`` is not used.

    Raises:
        DependencyError: matplotlib is not installed.
    """
    from reenactor.errors import DependencyError
    from reenactor.train.mouth import plot_curve
    from reenactor.weights import weight_card

    buf = io.BytesIO()
    plot_curve(weight_card("mouth")["val_curve"], buf)
    if not buf.getvalue():
        raise DependencyError("the mouth curve needs matplotlib: pip install 'reenactor[eval]'")
    return buf.getvalue()


def _readings(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """Per-frame mouth opening of HxWx3 ``frames`` by dlib and by mediapipe ((N,) float, NaN where
    either misses), and the mediapipe (478, 3) landmarks (None where missed)."""
    from reenactor.eval.dlibface import DlibFace
    from reenactor.eval.metrics import expression_features
    from reenactor.face.landmarks import LandmarkDetector
    from reenactor.motion.retarget import expression_metrics

    dlib = DlibFace()
    with LandmarkDetector(static_image_mode=False) as det:
        mp = [det.detect(f) for f in frames]
    d = np.full(len(frames), np.nan)
    m = np.full(len(frames), np.nan)
    for i, (frame, lm) in enumerate(zip(frames, mp)):
        meas = dlib.measure(frame, descriptor=False)
        if lm is None or not meas.found:
            continue
        d[i] = expression_features(meas.landmarks)["mouth_open"]
        m[i] = expression_metrics(lm.astype(np.float64))["mouth_open"]
    return d, m, mp


def _reading_row(name: str, data: Path, driver: str) -> np.ndarray:
    """One item of docs/mouth_readings.jpg: a title band over 5 labelled ``READING_TILE`` mouth crops."""
    from reenactor.eval.media import read_video
    from reenactor.eval.metrics import pearson
    from reenactor.face import topology as T

    frames = read_video(data / driver, 90).frames  # decoded as the eval decodes them
    d, m, mp = _readings(frames)
    ok = np.isfinite(d) & np.isfinite(m)
    first = int(np.flatnonzero(ok)[0])
    d, m = d - d[first], m - m[first]
    r = pearson(d[ok], m[ok])
    # Disagreement in each reading's own spread, so neither scale dominates.
    gap = np.where(ok, np.abs(d / (np.nanstd(d) + 1e-9) - m / (np.nanstd(m) + 1e-9)), -np.inf)
    tiles = []
    for t in [first] + sorted(spaced_peaks(gap, 4, skip=first)):
        tile = mouth_crop(frames[t], mp[t], (READING_TILE, READING_TILE), T.INNER_LIP_LOOP, cv2.INTER_CUBIC)
        tile = label(tile, f"t={t}" + (" (ref)" if t == first else ""), (6, 18))
        tile = label(tile, f"dlib {d[t]:+.3f}", (6, READING_TILE - 28))
        tiles.append(label(tile, f"mp   {m[t]:+.3f}", (6, READING_TILE - 8)))
    title = f"{name}: driver {Path(driver).name}, r(dlib, mediapipe) = {r:.2f}"
    return np.vstack([heading(title, READING_TILE * len(tiles)), np.hstack(tiles)])


def mouth_readings(data: Path) -> np.ndarray:
    """docs/mouth_readings.jpg: where dlib and mediapipe disagree about a driver's mouth opening.

    For the drivers of :data:`READING_ITEMS` (first 90 frames, as in the
    eval): the mouth at the first frame both detectors read (the reference)
    and at the 4 frames (at least 5 apart) where the two readings, each as a
    change from the reference in its own spread, disagree most; each tile
    carries both readings (inner-lip gap over the inter-ocular distance).

    Returns:
        ``((24 + 200) * 3, 200 * 5, 3)`` uint8 RGB.
    """
    from reenactor.eval.sets import load_sets

    items = {i.name: i for i in load_sets()}
    return np.vstack([_reading_row(name, data, items[name].driver) for name in READING_ITEMS])
