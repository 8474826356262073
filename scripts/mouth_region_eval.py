"""Mouth-region error of the inner-mouth modes on the self-reenactment sets.

    .venv/bin/python scripts/mouth_region_eval.py [--data ../shared/data] [--modes driver,learned] [--json FILE]

``reenactor eval --protocol self`` scores the whole face crop, where the inner
mouth is a few percent of the pixels. This script scores only the mouth: for
every self item of ``reenactor/eval/sets.tsv`` (frame 0 of the clip is the
portrait, the clip drives it, the rest of the clip is the ground truth; same
90 frames, ``reference_frame=0`` and ``motion="relative"`` as the eval), the
pipeline runs once per mouth mode, and on the ground-truth frames whose mouth
is open (mediapipe inner-lip gap > 0.1 mouth widths) a box of 1.2 x 0.8 mouth
widths around the ground-truth lips is compared: PSNR and mean absolute error
(RGB, 0..255). Printed as a markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from reenactor.api import Reenactor
from reenactor.config import ReenactorConfig
from reenactor.eval.media import read_video
from reenactor.eval.sets import load_sets, resolve_data_dir
from reenactor.face import topology as T
from reenactor.face.landmarks import LandmarkDetector
from reenactor.render.mouth import mouth_opening

MAX_FRAMES = 90
MIN_OPENING = 0.1


def mouth_box(lm: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) pixel box, 1.2 x 0.8 mouth widths around the outer lips' centre."""
    c = lm[list(T.OUTER_LIP_LOOP), :2].mean(0)
    mw = np.linalg.norm(lm[T.MOUTH_CORNERS[1], :2] - lm[T.MOUTH_CORNERS[0], :2])
    x0, x1 = int(round(c[0] - 0.6 * mw)), int(round(c[0] + 0.6 * mw))
    y0, y1 = int(round(c[1] - 0.4 * mw)), int(round(c[1] + 0.4 * mw))
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--modes", default="driver,learned")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    modes = args.modes.split(",")
    cfg = ReenactorConfig()
    engines = {m: Reenactor(replace(cfg, render=replace(cfg.render, mouth=m))) for m in modes}
    rows = []
    for item in [i for i in load_sets() if i.protocol == "self"]:
        clip = read_video(data / item.driver, MAX_FRAMES)
        frames = clip.frames
        h, w = frames[0].shape[:2]
        with LandmarkDetector(static_image_mode=False) as det:
            gt = [det.detect(f) for f in frames]
        keep = [t for t in range(1, len(frames)) if gt[t] is not None and mouth_opening(gt[t]) > MIN_OPENING]
        row = {"item": item.name, "frames": len(keep)}
        for m in modes:
            outs = engines[m].animate_frames(frames[0], frames, fps=clip.fps, reference_frame=0, motion="relative")
            sq, ab, n = 0.0, 0.0, 0
            for t in keep:
                x0, y0, x1, y1 = mouth_box(gt[t], w, h)
                a = outs[t][y0:y1, x0:x1].astype(np.float64)
                b = frames[t][y0:y1, x0:x1].astype(np.float64)
                sq += ((a - b) ** 2).sum()
                ab += np.abs(a - b).sum()
                n += a.size
            row[m] = {"psnr": 10 * np.log10(255.0**2 / max(sq / max(n, 1), 1e-9)) if n else None, "l1": ab / n if n else None}
        rows.append(row)
    print("| item | open frames | " + " | ".join(f"{m} PSNR dB | {m} L1" for m in modes) + " |")
    print("|---|---|" + "---|---|" * len(modes))
    for r in rows:
        cells = [f"{r[m]['psnr']:.2f} | {r[m]['l1']:.2f}" if r[m]["psnr"] is not None else "- | -" for m in modes]
        print(f"| {r['item']} | {r['frames']} | " + " | ".join(cells) + " |")
    means = [f"{np.mean([r[m]['psnr'] for r in rows if r[m]['psnr'] is not None]):.2f} | {np.mean([r[m]['l1'] for r in rows if r[m]['l1'] is not None]):.2f}" for m in modes]
    print(f"| mean | {sum(r['frames'] for r in rows)} | " + " | ".join(means) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
