"""Make docs/mouth/strip.jpg (driver vs learned inner mouths) and docs/mouth/val_curve.png.

    .venv/bin/python scripts/make_mouth_strip.py [--data ../shared/data] [--out docs/mouth/strip.jpg]

For each (portrait, driver) pair the driver is tracked over its first frames,
the frames with the widest driver mouth opening are picked, and the portrait
is rendered there with both inner-mouth modes. Each pair gives three rows of
mouth crops: the driver's own mouth, ``driver`` (the driver's inner mouth
transferred) and ``learned`` (painted by the shipped network). The drivers are
clips of identities held out from the mouth model's training.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from reenactor.api import Reenactor
from reenactor.bench import find_shared_data
from reenactor.config import ReenactorConfig
from reenactor.face import topology as T
from reenactor.io.image import read_image
from reenactor.io.video import iter_frames, probe_video
from reenactor.render.mouth import mouth_opening
from reenactor.train.mouth import plot_curve
from reenactor.weights import weight_card

from _strips import label, render_row  # scripts/_strips.py

PAIRS = [
    ("portraits/EAMM__mona.png", "videos/LivePortrait__d0.mp4"),
    ("portraits/EAMM__scarlett.jpg", "videos/LivePortrait__d3.mp4"),
    ("portraits/EAMM__jake4.png", "videos/SadTalker__WDA_KatieHill_000.mp4"),
    ("portraits/LivePortrait__s6.jpg", "videos/SadTalker__WDA_EdMarkey0_000.mp4"),
]
FRAMES = 5
MAX_FRAMES = 150
TILE_W, TILE_H = 176, 112


def mouth_tile(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(112, 176, 3) uint8 RGB crop around the lips, 2.2 mouth widths wide."""
    lm = landmarks[:, :2].astype(np.float64)
    centre = lm[list(T.OUTER_LIP_LOOP)].mean(0)
    width = np.linalg.norm(lm[T.MOUTH_CORNERS[1]] - lm[T.MOUTH_CORNERS[0]])
    s = TILE_W / (2.2 * max(width, 1.0))
    m = np.array([[s, 0, TILE_W / 2 - s * centre[0]], [0, s, TILE_H / 2 - s * centre[1]]])
    return cv2.warpAffine(image, m, (TILE_W, TILE_H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)




def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("docs/mouth/strip.jpg"))
    args = ap.parse_args()
    data = args.data or find_shared_data()
    if data is None:
        raise SystemExit("needs ../shared/data")
    cfg = ReenactorConfig()
    modes = ("driver", "learned")
    engines = {m: Reenactor(replace(cfg, render=replace(cfg.render, mouth=m))) for m in modes}
    rows = []
    for portrait_rel, driver_rel in PAIRS:
        portrait = read_image(data / portrait_rel)
        info = probe_video(data / driver_rel)
        frames = list(iter_frames(data / driver_rel, MAX_FRAMES))
        r0 = engines[modes[0]]
        track = r0.track(frames, info.fps)
        openings = np.array([mouth_opening(lm) if f else -1.0 for lm, f in zip(track.landmarks, track.found)])
        picks = []
        for i in np.argsort(-openings):  # widest first, at least 5 frames apart
            if all(abs(int(i) - j) >= 5 for j in picks):
                picks.append(int(i))
            if len(picks) == FRAMES:
                break
        picks.sort()
        row_drv = [label(mouth_tile(frames[i], track.landmarks[i]), f"driver {i}", (4, 14), 0.42) for i in picks]
        rows.append(np.hstack(row_drv))
        for mode in modes:
            rows.append(render_row(engines[mode], portrait, track, picks, mouth_tile, mode, (4, 14), 0.42))
        rows.append(np.full((6, rows[-1].shape[1], 3), 255, np.uint8))
    strip = np.vstack(rows[:-1])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise SystemExit(f"cannot encode {args.out}")
    args.out.write_bytes(buf.tobytes())
    # The validation curve recorded in the shipped model's card.
    plot_curve(weight_card("mouth")["val_curve"], args.out.parent / "val_curve.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
