"""docs/seam.jpg: the face outline of a turned head, displacements blended vs samples blended.

    .venv/bin/python scripts/make_seam_strip.py [--data ../shared/data] [--out docs/seam.jpg]

Musk's photo (deepface img18, 1200x1200) driven by styletalk "nice" (the
clip with the largest head turn of the eval sets) at three frames of its
turn, rendered at full resolution. Top row: ``RenderConfig.seam_gap_full = 0``
(the feather along the face outline blends the mesh and outer *displacements*,
as before); bottom row: the default, where the feather mixes the two *samples*
where the fields part. Each tile is the far cheek, from the eye to the chin,
enlarged 2x without smoothing.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from _strips import label  # scripts/_strips.py
from reenactor.api import Reenactor
from reenactor.config import ReenactorConfig
from reenactor.eval.media import read_image, read_video
from reenactor.eval.sets import resolve_data_dir
from reenactor.face import topology as T
from reenactor.io.image import write_image

PORTRAIT = "portraits/deepface__img18.jpg"
DRIVER = "videos/styletalk__nice_clip1.mp4"
FRAMES = (30, 33, 36)
#: Tile side in portrait pixels (shown at 2x).
SIDE = 200


def far_cheek_tile(out: np.ndarray, target: np.ndarray) -> np.ndarray:
    """SIDE x SIDE box of ``out`` whose left edge sits just outside the face (full-image target landmarks)."""
    pts = target[list(T.face_oval()), :2]
    x0 = int(pts[:, 0].min()) - SIDE // 8
    cy = int(target[list(T.INNER_LIP_LOOP), 1].mean())
    y0 = cy - SIDE // 2
    h, w = out.shape[:2]
    x0, y0 = max(0, min(x0, w - SIDE)), max(0, min(y0, h - SIDE))
    tile = out[y0 : y0 + SIDE, x0 : x0 + SIDE]
    return cv2.resize(tile, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="data folder (default: $REENACTOR_DATA or ../shared/data)")
    ap.add_argument("--out", default="docs/seam.jpg")
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    portrait = read_image(data / PORTRAIT)
    clip = read_video(data / DRIVER, max(FRAMES) + 1)
    rows = []
    base = ReenactorConfig()
    for gap, text in ((0.0, "displacements blended"), (base.render.seam_gap_full, "samples blended (default)")):
        engine = Reenactor(replace(base, render=replace(base.render, seam_gap_full=gap)))
        prepared = engine.prepare(portrait)
        track = engine.track(clip.frames, clip.fps)
        retarget = engine.retargeter(prepared, track)
        tiles = []
        for t in FRAMES:
            target = retarget(track.landmarks[t])
            out = engine.render(prepared, target, track.mouths[t], crop_output=False)
            tiles.append(label(far_cheek_tile(out, prepared.crop.to_image(target)), f"t={t} {text}", scale=0.45))
        rows.append(np.hstack(tiles))
    write_image(Path(args.out), np.vstack(rows))


if __name__ == "__main__":
    main()
