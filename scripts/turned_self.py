"""Self-reenactment from a clip's most turned frame: what limiting the turn back costs against the truth.

    REENACTOR_CACHE=... .venv/bin/python scripts/turned_self.py [--frames 90] [--variant NAME=JSON ...] CLIP [CLIP ...]

CLIP is a file under ``videos/`` of the data folder. Per clip the portrait
is the frame (of the first ``--frames``) whose head is turned most, by the
pipeline's own head frame (:func:`reenactor.face.pose.head_pose` of the
tracked landmarks); the whole clip drives it, and the clip is the truth.
Each variant (``--variant NAME=JSON``, config overrides as in ``reenactor
eval --variant``; default: ``limit={}`` and ``none={"retarget":
{"max_reveal": 0}}``) is read by dlib against the truth frames:

* AKD: mean distance of the 68 points, pixels at the clip's size;
* ID: distance of the output's dlib descriptor to the truth frame's;
* found: share of output frames where dlib finds a face.

Printed per clip: the portrait's yaw, how far the truth turns back towards
the camera at most, and each variant's three figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def _most_turned(engine, frames, fps) -> tuple[int, np.ndarray]:
    """(index of the most turned frame, (F,) signed yaw of every frame, NaN where no face)."""
    from reenactor.face.pose import head_pose

    track = engine.track(frames, fps)
    yaws = np.array([head_pose(np.asarray(lm, np.float64))[0] if np.isfinite(np.asarray(lm, np.float64)).all() else np.nan
                     for lm in track.landmarks])
    return int(np.nanargmax(np.abs(yaws))), yaws


def _scores(outputs, truth, face) -> tuple[float, float, float]:
    """(AKD px, ID distance, face found) of ``outputs`` against the dlib measurements ``truth``."""
    found = [face.measure(o, descriptor=True) for o in outputs]
    both = [t for t, m in enumerate(found) if m.landmarks is not None and truth[t].landmarks is not None]
    if not both:
        return float("nan"), float("nan"), 0.0
    akd = np.mean([np.linalg.norm(found[t].landmarks - truth[t].landmarks, axis=1).mean() for t in both])
    idd = np.mean([np.linalg.norm(found[t].descriptor - truth[t].descriptor) for t in both])
    return float(akd), float(idd), float(np.mean([m.landmarks is not None for m in found]))


def main(argv=None) -> int:
    from reenactor.api import Reenactor
    from reenactor.bench import find_shared_data
    from reenactor.eval.dlibface import DlibFace
    from reenactor.eval.media import read_video
    from reenactor.eval.methods import variant_method

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", help="files under videos/ of the data folder")
    p.add_argument("--frames", type=int, default=90, help="frames read per clip (default 90)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=JSON", help="config overrides to compare")
    p.add_argument("--data", type=Path, default=None, help="the shared data folder (default: found as the benchmarks find it)")
    args = p.parse_args(argv)
    variants = dict(v.split("=", 1) for v in args.variant) or {"limit": "{}", "none": '{"retarget": {"max_reveal": 0}}'}
    methods = {name: variant_method(name, json.loads(js)) for name, js in variants.items()}
    data = args.data or find_shared_data()
    engine, face = Reenactor(), DlibFace()
    print("| clip | own yaw | most turned back | " + " | ".join(f"{n}: AKD / ID / found" for n in methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for name in args.clips:
        clip = read_video(data / "videos" / name, max_frames=args.frames)
        k, yaws = _most_turned(engine, clip.frames, clip.fps)
        back = np.nanmax(abs(yaws[k]) - np.sign(yaws[k]) * yaws)
        truth = [face.measure(f, descriptor=True) for f in clip.frames]
        cells = []
        for method in methods.values():
            akd, idd, found = _scores(method.generate(clip.frames[k], clip.frames, clip.fps, "self"), truth, face)
            cells.append(f"{akd:.2f} / {idd:.3f} / {found:.2f}")
        print(f"| {name} (frame {k}) | {yaws[k]:.1f} | {back:.1f} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
