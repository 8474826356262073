"""docs/wink.jpg: a wink and a downcast closure from a real driver: the full-closure snap, lid smoothing and lash line.

    .venv/bin/python scripts/make_wink_strip.py [--data ../shared/data] [--out docs/wink.jpg]

Scarlett (``portraits/EAMM__scarlett.jpg``) driven by ``videos/LivePortrait__d3.mp4``;
two frames are shown: where one driver eye is most closed relative to the
other (a wink), and where both are most closed (looking down). Rows: the
driver's eyes, the portrait's, the result with
``RetargetConfig.eye_closed_fraction = 0`` (the lid stops at mediapipe's lash
gap), with the full-closure snap but ``RenderConfig.lid_blur = 0`` (the lid
skin a wide-open portrait eye hides in its crease is stretched from a thin
band: vertical streaks), with that stretched skin smoothed along the eye
(render/lids.py) but ``RenderConfig.lash_line = 0`` (the warped lashes of
the open eye: a broken line), and the default (a continuous lash line of the
portrait's lash colour drawn along the closed lid).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from reenactor.api import Reenactor
from reenactor.config import ReenactorConfig
from reenactor.eval.sets import resolve_data_dir
from reenactor.io.image import read_image, write_image
from reenactor.io.video import iter_frames, probe_video

from _strips import label, render_row  # scripts/_strips.py

PORTRAIT = "portraits/EAMM__scarlett.jpg"
DRIVER = "videos/LivePortrait__d3.mp4"


def eyes_crop(image: np.ndarray, lm: np.ndarray, size=(480, 213)) -> np.ndarray:
    """The band around both eyes (corners 33 and 263), resized to ``size``."""
    c = lm[[33, 263], :2].mean(0)
    w = float(np.linalg.norm(lm[33, :2] - lm[263, :2]))
    crop = image[int(c[1] - 0.45 * w) : int(c[1] + 0.35 * w), int(c[0] - 0.9 * w) : int(c[0] + 0.9 * w)]
    return cv2.resize(crop, size, interpolation=cv2.INTER_AREA)




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--out", default="docs/wink.jpg")
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    frames = list(iter_frames(data / DRIVER, max_frames=120))
    portrait = read_image(data / PORTRAIT)
    base = Reenactor()
    prepared = base.prepare(portrait)
    track = base.track(frames, probe_video(data / DRIVER).fps)

    def gap(lm, up, lo):
        return float(np.linalg.norm(lm[up, :2] - lm[lo, :2]))

    gaps = np.array([(gap(lm, 159, 145), gap(lm, 386, 374)) for lm in track.landmarks])
    picks = [int(np.argmax(np.abs(gaps[:, 0] - gaps[:, 1]))), int(np.argmin(gaps.sum(1)))]
    rows = [np.hstack([label(eyes_crop(frames[t], track.landmarks[t]), f"driver, frame {t}", (8, 22), 0.6) for t in picks])]
    rows.append(np.hstack([label(eyes_crop(prepared.crop_image, prepared.crop_landmarks), "portrait", (8, 22), 0.6)] * 2))
    cfg = ReenactorConfig()
    closed, blur, line = cfg.retarget.eye_closed_fraction, cfg.render.lid_blur, cfg.render.lash_line
    variants = (
        (0.0, blur, 0.0, "lids stop at the lash gap"),
        (closed, 0.0, 0.0, "closes fully, lid skin stretched"),
        (closed, blur, 0.0, "closes fully, lid smoothed"),
        (closed, blur, line, "default: lid smoothed, lash line drawn"),
    )
    for closed_fraction, lid_blur, lash_line, text in variants:
        render = replace(cfg.render, lid_blur=lid_blur, lash_line=lash_line)
        r = Reenactor(replace(cfg, retarget=replace(cfg.retarget, eye_closed_fraction=closed_fraction), render=render))
        rows.append(render_row(r, portrait, track, picks, eyes_crop, text, (8, 22), 0.6))
    write_image(Path(args.out), np.vstack(rows))


if __name__ == "__main__":
    main()
