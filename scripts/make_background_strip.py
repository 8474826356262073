"""Make docs/background.jpg: ``--background warp`` against ``--background still``.

    .venv/bin/python scripts/make_background_strip.py [--data ../shared/data] [--out docs/background.jpg]

Each portrait is driven by the same clip; the frame with the widest head turn
(yaw of the retargeted landmarks) is rendered with both background modes. A
row shows the portrait, both renders, and each render's change from the
portrait (max over RGB, x3), over the part of the portrait the face crop
covers.
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
from reenactor.face.pose import euler_degrees, fit_similarity
from reenactor.io.image import read_image, write_image
from reenactor.io.video import iter_frames, probe_video

from _strips import label  # scripts/_strips.py

PORTRAITS = ["portraits/deepface__img54.jpg", "portraits/SadTalker__art_11.png", "portraits/deepface__img20.jpg"]
DRIVER = "videos/SadTalker__WDA_KatieHill_000.mp4"
MAX_FRAMES = 200
TILE = 256
NAMES = ["portrait", "--background warp", "--background still", "change: warp", "change: still"]




def _change(frame: np.ndarray, portrait: np.ndarray) -> np.ndarray:
    d = np.clip(np.abs(frame.astype(np.int16) - portrait.astype(np.int16)).max(2) * 3, 0, 255).astype(np.uint8)
    return np.dstack([d] * 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("docs/background.jpg"))
    args = ap.parse_args()
    data = args.data or find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found: pass --data")
    cfg = ReenactorConfig()
    modes = {m: Reenactor(replace(cfg, render=replace(cfg.render, background=m))) for m in ("warp", "still")}
    driver = data / DRIVER
    info = probe_video(driver)
    track = modes["still"].track(iter_frames(driver, MAX_FRAMES), info.fps)
    rows = []
    for k, rel in enumerate(PORTRAITS):
        image = read_image(data / rel)
        prepared = {m: r.prepare(image) for m, r in modes.items()}
        rt = modes["still"].retargeter(prepared["still"], track)
        targets = [rt(lm) for lm in track.landmarks]
        yaw = np.array([euler_degrees(fit_similarity(prepared["still"].crop_landmarks, t).rotation)[0] for t in targets])
        i = int(np.argmax(np.abs(yaw)))
        frames = {m: modes[m].render(prepared[m], targets[i], track.mouths[i]) for m in modes}
        x0, y0, x1, y1 = prepared["still"].crop.image_roi(*prepared["still"].size)
        side = min(x1 - x0, y1 - y0)
        sx, sy = (x0 + x1) // 2 - side // 2, (y0 + y1) // 2 - side // 2
        box = (slice(sy, sy + side), slice(sx, sx + side))
        tiles = [image, frames["warp"], frames["still"], _change(frames["warp"], image), _change(frames["still"], image)]
        tiles = [cv2.resize(np.ascontiguousarray(t[box]), (TILE, TILE), interpolation=cv2.INTER_AREA) for t in tiles]
        if k == 0:
            tiles = [label(t, n) for t, n in zip(tiles, NAMES)]
        rows.append(np.hstack(tiles))
        print(f"{rel}: frame {i}, yaw {yaw[i]:.1f} deg")
    write_image(args.out, np.vstack(rows))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
