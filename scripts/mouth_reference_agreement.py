"""How far the evaluation's mouth-opening reference can be trusted, per driver clip.

    .venv/bin/python scripts/mouth_reference_agreement.py [--data ../shared/data] [--max-frames 90]

``reenactor eval`` reads every mouth opening with dlib (never with the
pipeline's mediapipe), the driver's as well as the output's. This script reads
the *driver's* inner-lip gap on the same frames with both detectors and prints
their Pearson correlation for every driver clip of ``reenactor/eval/sets.tsv``:

* ``dlib``: dlib's 68-point predictor as the evaluator used it until the
  flip averaging (mean gap 61-67, 62-66, 63-65 over the eye-centre distance);
* ``dlib flip``: the same on the mean of the frame's and its mirror image's
  points (what :class:`reenactor.eval.dlibface.DlibFace` measures now);
* ``mediapipe``: the video-mode Face Mesh (mean gap of the three central
  inner-lip pairs over the iris-centre distance).

Where the two detectors disagree about the driver itself, a method's
mouth-open correlation with the driver cannot be told from measurement error.
Frames without a face in either detector are left out. Printed as a markdown
table.
"""

from __future__ import annotations

import argparse

import numpy as np

from reenactor.eval.dlibface import DlibFace
from reenactor.eval.media import read_video
from reenactor.eval.metrics import expression_features, pearson
from reenactor.eval.sets import load_sets, resolve_data_dir
from reenactor.face import topology as T
from reenactor.face.landmarks import LandmarkDetector


def mediapipe_gap(lm: np.ndarray) -> float:
    """Inner-lip gap of (478, 3) landmarks over the iris-centre distance."""
    iod = np.linalg.norm(lm[T.LEFT_IRIS_CENTER, :2] - lm[T.RIGHT_IRIS_CENTER, :2])
    pairs = T.INNER_LIP_PAIRS[3:6]
    return float(np.mean([np.linalg.norm(lm[a, :2] - lm[b, :2]) for a, b in pairs]) / iod)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="data folder (default: $REENACTOR_DATA or ../shared/data)")
    ap.add_argument("--max-frames", type=int, default=90)
    args = ap.parse_args()
    data = resolve_data_dir(args.data)
    plain, flip = DlibFace(flip_average=False), DlibFace()
    drivers = sorted({item.driver for item in load_sets()})
    rows = []
    print("| driver | frames | dlib | dlib flip |")
    print("|---|---|---|---|")
    for rel in drivers:
        frames = read_video(data / rel, args.max_frames).frames
        with LandmarkDetector(static_image_mode=False) as det:
            mp = [det.detect(f) for f in frames]
        series = {"mp": [], "plain": [], "flip": []}
        for frame, lm in zip(frames, mp):
            a, b = plain.measure(frame, descriptor=False), flip.measure(frame, descriptor=False)
            if lm is None or not a.found or not b.found:
                continue
            series["mp"].append(mediapipe_gap(lm))
            series["plain"].append(expression_features(a.landmarks)["mouth_open"])
            series["flip"].append(expression_features(b.landmarks)["mouth_open"])
        r = (pearson(series["plain"], series["mp"]), pearson(series["flip"], series["mp"]))
        rows.append(r)
        print(f"| {rel} | {len(series['mp'])} | {r[0]:.3f} | {r[1]:.3f} |", flush=True)
    mean = np.nanmean(np.array(rows), axis=0)
    print(f"| mean of {len(rows)} | | {mean[0]:.3f} | {mean[1]:.3f} |")


if __name__ == "__main__":
    main()
