"""Which rule best relights a driver's inner mouth for another person, measured on real clips.

    .venv/bin/python scripts/mouth_colour_check.py [--data ../shared/data] [--cache ~/.cache/reenactor/landmarks]

``--mouth driver`` pastes the driver's inner mouth into the portrait and
adjusts its colour (:meth:`reenactor.render.mouth.MouthRenderer._from_driver`):
lightness times the ratio of the two people's lip lightness, and half the
difference of their lips' a/b chroma. This script checks that choice against
the data. For every cached clip (``reenactor train ldnet`` builds the landmark
cache) it takes up to 8 of the first 150 frames with the widest mouth (inner-lip
gap over 0.25 mouth widths) and measures the median Lab colour inside the inner
lips, the mean lip colour and the cheek colour; clips of one identity are pooled
by their median, grey-scale clips are left out. Then, for every ordered pair of
different identities (A drives, B is the portrait), each rule predicts B's inner
mouth from A's, and the error against B's own inner mouth is averaged (Lab L
units, and Euclidean a/b). Printed as a markdown table, best first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from reenactor.eval.sets import resolve_data_dir
from reenactor.face import topology as T
from reenactor.io.video import iter_frames
from reenactor.render.mouth import _lab, mean_lip_lab, mouth_opening

MAX_FRAMES = 150
MIN_OPENING = 0.25
PER_CLIP = 8
CHEEKS = [205, 425, 50, 280]


def clip_colours(video: Path, landmarks: np.ndarray, found: np.ndarray, frame_index: np.ndarray) -> np.ndarray | None:
    """(9,) median over the widest-mouth frames: inner-mouth Lab, lip Lab, cheek Lab (None: too few)."""
    n = min(len(landmarks), MAX_FRAMES)
    opening = np.array([mouth_opening(landmarks[i]) if found[i] else -1.0 for i in range(n)])
    picked = [int(i) for i in np.argsort(-opening)[:PER_CLIP] if opening[i] > MIN_OPENING]
    if len(picked) < 3:
        return None
    wanted = {int(frame_index[i]): i for i in picked}
    rows = []
    for k, frame in enumerate(iter_frames(video, max_frames=max(wanted) + 1)):
        if k not in wanted:
            continue
        lm = landmarks[wanted[k]].astype(np.float64)
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(mask, [np.round(lm[list(T.INNER_LIP_LOOP), :2]).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        if mask.sum() < 20:
            continue
        inner = np.median(_lab(frame)[mask > 0], 0)
        c = lm[CHEEKS, :2].round().astype(int)
        cheek = _lab(frame[c[:, 1], c[:, 0]][None])[0].mean(0)
        rows.append(np.concatenate([inner, mean_lip_lab(frame, lm), cheek]))
    return np.median(np.array(rows), 0) if len(rows) >= 3 else None


def _ratio(b: float, a: float) -> float:
    return float(np.clip((b + 5.0) / (a + 5.0), 0.5, 2.0))


#: name -> rule(A, B) -> (predicted L, predicted ab); A, B are (9,) clip colours.
RULES = {
    "no change": lambda a, b: (a[0], a[1:3]),
    "lip L ratio, half lip chroma shift (used)": lambda a, b: (a[0] * _ratio(b[3], a[3]), a[1:3] + 0.5 * (b[4:6] - a[4:6])),
    "lip L ratio, full lip chroma shift": lambda a, b: (a[0] * _ratio(b[3], a[3]), a[1:3] + (b[4:6] - a[4:6])),
    "lip L ratio, half cheek chroma shift": lambda a, b: (a[0] * _ratio(b[3], a[3]), a[1:3] + 0.5 * (b[7:9] - a[7:9])),
    "sqrt lip L ratio, half lip chroma shift": lambda a, b: (a[0] * _ratio(b[3], a[3]) ** 0.5, a[1:3] + 0.5 * (b[4:6] - a[4:6])),
    "cheek L ratio, half lip chroma shift": lambda a, b: (a[0] * _ratio(b[6], a[6]), a[1:3] + 0.5 * (b[4:6] - a[4:6])),
    "sqrt(lip x cheek) L ratio, half lip chroma shift": lambda a, b: (
        a[0] * (_ratio(b[3], a[3]) * _ratio(b[6], a[6])) ** 0.5,
        a[1:3] + 0.5 * (b[4:6] - a[4:6]),
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "reenactor" / "landmarks")
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    index = json.loads((args.cache / "index.json").read_text())
    by_identity: dict[str, list[np.ndarray]] = {}
    for rec in index["clips"]:
        d = np.load(args.cache / rec["file"])
        colours = clip_colours(data / rec["video"], d["landmarks"], d["found"], d["frame_index"])
        if colours is not None and abs(colours[7]) + abs(colours[8]) > 1.0:  # not grey-scale
            by_identity.setdefault(rec["identity"], []).append(colours)
    people = [np.median(np.array(v), 0) for v in by_identity.values()]
    results = []
    for name, rule in RULES.items():
        err_l, err_ab = [], []
        for i, a in enumerate(people):
            for j, b in enumerate(people):
                if i != j:
                    lum, ab = rule(a, b)
                    err_l.append(abs(lum - b[0]))
                    err_ab.append(float(np.linalg.norm(ab - b[1:3])))
        results.append((float(np.mean(err_l)) + float(np.mean(err_ab)), name, np.mean(err_l), np.median(err_l), np.mean(err_ab)))
    print(f"{sum(len(v) for v in by_identity.values())} clips, {len(people)} identities, {len(people) * (len(people) - 1)} ordered pairs\n")
    print("| rule | L error, mean | L error, median | a/b error, mean |")
    print("|---|---|---|---|")
    for _, name, m, md, ab in sorted(results):
        print(f"| {name} | {m:.2f} | {md:.2f} | {ab:.2f} |")


if __name__ == "__main__":
    main()
