"""Make docs/strip.png: source / driver / output frames for the README.

    .venv/bin/python scripts/make_strip.py [--data ../shared/data]

Needs the real clips of ../shared/data (read at run time, never copied).
Each pair gives two rows: the driver's frames, then the reenacted portrait
at the same frames; the portrait itself heads the output row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from reenactor.api import Reenactor
from reenactor.bench import find_shared_data
from reenactor.io.image import read_image, write_image
from reenactor.io.video import iter_frames, probe_video

from _strips import label  # scripts/_strips.py

PAIRS = [
    ("portraits/EAMM__scarlett.jpg", "videos/LivePortrait__d3.mp4", 120),
    ("portraits/EAMM__mona.png", "videos/SadTalker__WDA_KatieHill_000.mp4", 120),
    ("portraits/deepface__img1.jpg", "videos/LivePortrait__d6.mp4", 150),
]
TILE = 192
N = 6


def _tile(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = TILE / max(h, w)
    small = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((TILE, TILE, 3), 255, np.uint8)
    y, x = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out




def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "strip.jpg")
    args = ap.parse_args()
    data = args.data or find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found: pass --data")
    r = Reenactor()
    rows = []
    for portrait_rel, driver_rel, n in PAIRS:
        portrait = r.prepare(read_image(data / portrait_rel))
        drv = data / driver_rel
        frames = list(iter_frames(drv, n))
        track = r.track(frames, probe_video(drv).fps)
        outs = list(r.iter_render(portrait, track))
        idx = np.linspace(0, len(frames) - 1, N).round().astype(int)
        blank = np.full((TILE, TILE, 3), 255, np.uint8)
        rows.append(np.hstack([label(blank, "driver")] + [label(_tile(frames[i]), f"#{i}") for i in idx]))
        rows.append(np.hstack([label(_tile(portrait.image), "source")] + [_tile(outs[i]) for i in idx]))
    write_image(args.out, np.vstack(rows))
    # The built-in demo motion on the astronaut (what `reenactor demo` writes).
    from skimage import data

    from reenactor.motion.templates import template

    portrait = r.prepare(data.astronaut())
    params = template("demo")
    idx = np.linspace(10, len(params) - 10, N + 1).round().astype(int)
    outs = list(r.animate_params(portrait, [params[i] for i in idx], crop_output=True))
    tiles = [label(_tile(o), f"#{i}") for o, i in zip(outs, idx)]
    write_image(args.out.with_name("demo_strip.jpg"), np.hstack(tiles))


if __name__ == "__main__":
    main()
