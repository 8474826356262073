"""Eye-region error of evaluation methods on the self-reenactment sets.

    .venv/bin/python scripts/eye_region_eval.py [--data ../shared/data] [--methods reenactor,reenactor-warponly] [--json FILE]

``reenactor eval --protocol self`` scores the whole face crop, where the eyes
are a few percent of the pixels. This script scores only the eyes: for every
self item of ``reenactor/eval/sets.tsv`` (frame 0 of the clip is the portrait,
the clip drives it, the rest of the clip is the ground truth; the same 90
frames and settings as the eval, through :func:`reenactor.eval.methods.make_methods`),
each method runs once, and on every ground-truth frame where mediapipe finds
the face, a box around each eye (the eye contour widened by 15 % of its width
each side and by half its height above and below: lids, lashes and the brow's
lower edge) is compared: PSNR over all boxes of the item (RGB, 0..255).
Printed as a markdown table; ``--json`` also writes the numbers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reenactor.eval.media import read_video
from reenactor.eval.methods import make_methods
from reenactor.eval.sets import load_sets, resolve_data_dir
from reenactor.face import topology as T
from reenactor.face.landmarks import LandmarkDetector

MAX_FRAMES = 90


def eye_boxes(lm: np.ndarray, w: int, h: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) pixel boxes around both eyes of (478, 2+) landmarks, clipped to the frame."""
    boxes = []
    for loop in (T.RIGHT_EYE_LOOP, T.LEFT_EYE_LOOP):
        e = lm[list(loop), :2]
        (x0, y0), (x1, y1) = e.min(0), e.max(0)
        mx, my = 0.15 * (x1 - x0), 0.5 * (y1 - y0)
        boxes.append((max(0, int(x0 - mx)), max(0, int(y0 - my)), min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my)))))
    return boxes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--methods", default="reenactor,reenactor-warponly")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    methods = make_methods(args.methods.split(","))
    results: dict[str, dict[str, float]] = {m.name: {} for m in methods}
    for item in [i for i in load_sets() if i.protocol == "self"]:
        clip = read_video(data / item.driver, MAX_FRAMES)
        frames = clip.frames
        h, w = frames[0].shape[:2]
        with LandmarkDetector(static_image_mode=False) as det:
            boxes = [eye_boxes(lm, w, h) if lm is not None else [] for lm in (det.detect(f) for f in frames)]
        for method in methods:
            out = method.generate(frames[0], frames, clip.fps, "self")
            se, n = 0.0, 0
            for t in range(1, len(frames)):
                for x0, y0, x1, y1 in boxes[t]:
                    a = frames[t][y0:y1, x0:x1].astype(np.float64)
                    b = out[t][y0:y1, x0:x1].astype(np.float64)
                    se += float(((a - b) ** 2).sum())
                    n += a.size
            results[method.name][item.name] = 10.0 * np.log10(255.0**2 / (se / n)) if n and se > 0 else float("inf")
    names = [m.name for m in methods]
    print("| item | " + " | ".join(f"{n} eye PSNR dB" for n in names) + " |")
    print("|---|" + "---|" * len(names))
    for item in results[names[0]]:
        print(f"| {item} | " + " | ".join(f"{results[n][item]:.2f}" for n in names) + " |")
    print("| **mean** | " + " | ".join(f"**{np.mean(list(results[n].values())):.2f}**" for n in names) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
