"""docs/mouth_readings.jpg: where dlib and mediapipe disagree about a driver's mouth opening.

    .venv/bin/python scripts/make_mouth_reading_strip.py [--data ../shared/data] [--out docs/mouth_readings.jpg]

``reenactor eval`` scores a method's mouth-open correlation against the
driver's mouth opening as *dlib* reads it; the pipeline moves the portrait's
mouth by the opening *mediapipe* reads. For the drivers of the three cross
pairs with the lowest correlation, this strip shows the driver's mouth at the
clip's first frame (the eval's reference) and at the four frames where the
two readings disagree most, each labelled with both readings as a change from
the first frame (inner-lip gap over the inter-ocular distance, each detector
its own). Anyone can then see which reading the picture supports. The first
90 frames are read, as in the eval; frames either detector misses are skipped.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from _strips import label
from reenactor.eval.dlibface import DlibFace
from reenactor.eval.media import read_video
from reenactor.eval.metrics import expression_features, pearson
from reenactor.eval.sets import load_sets, resolve_data_dir
from reenactor.face import topology as T
from reenactor.face.landmarks import LandmarkDetector
from reenactor.io.image import write_image
from reenactor.motion.retarget import expression_metrics

ITEMS = ("jake__mead_1080p", "art13__grid_swiz3n", "musk__styletalk_nice")
MAX_FRAMES = 90
TILE = 200
PICKS = 4


def mouth_tile(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """A TILE-square crop around the mouth of (478, 3) landmarks, 2.2 mouth widths wide."""
    c = lm[list(T.INNER_LIP_LOOP), :2].mean(0)
    side = 2.2 * np.linalg.norm(lm[T.MOUTH_CORNERS[1], :2] - lm[T.MOUTH_CORNERS[0], :2])
    s = TILE / side
    m = np.array([[s, 0.0, TILE / 2 - s * c[0]], [0.0, s, TILE / 2 - s * c[1]]])
    return cv2.warpAffine(frame, m, (TILE, TILE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def readings(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list]:
    """Per-frame mouth opening by dlib and by mediapipe (NaN where missed), and the mediapipe landmarks."""
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


def row(name: str, driver: Path) -> np.ndarray:
    frames = read_video(driver, MAX_FRAMES).frames
    d, m, mp = readings(frames)
    ok = np.isfinite(d) & np.isfinite(m)
    first = int(np.flatnonzero(ok)[0])
    d, m = d - d[first], m - m[first]
    r = pearson(d[ok], m[ok])
    # Disagreement in each reading's own spread, so neither scale dominates.
    gap = np.where(ok, np.abs(d / (np.nanstd(d) + 1e-9) - m / (np.nanstd(m) + 1e-9)), -np.inf)
    picks = []
    for t in np.argsort(-gap):
        if len(picks) == PICKS or not np.isfinite(gap[t]):
            break
        if t != first and all(abs(int(t) - p) >= 5 for p in picks):
            picks.append(int(t))
    tiles = []
    for t in [first] + sorted(picks):
        tile = mouth_tile(frames[t], mp[t])
        tile = label(tile, f"t={t}" + (" (ref)" if t == first else ""), (6, 18))
        tile = label(tile, f"dlib {d[t]:+.3f}", (6, TILE - 28))
        tiles.append(label(tile, f"mp   {m[t]:+.3f}", (6, TILE - 8)))
    head = np.full((24, TILE * len(tiles), 3), 255, np.uint8)
    cv2.putText(head, f"{name}: driver {driver.name}, r(dlib, mediapipe) = {r:.2f}", (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([head, np.hstack(tiles)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", type=Path, default=Path("docs/mouth_readings.jpg"))
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    items = {i.name: i for i in load_sets()}
    rows = [row(name, data / items[name].driver) for name in ITEMS]
    write_image(args.out, np.vstack(rows))


if __name__ == "__main__":
    main()
