"""How far the pipeline's head rotation agrees with dlib's, per driver clip.

    .venv/bin/python scripts/pose_agreement.py [--frames 90] [--data ../shared/data] CLIP [CLIP ...]

CLIP is a file under ``videos/`` of the data folder. For every frame where
dlib finds the face, the head rotation relative to the first such frame is
read twice:

* ours: the similarity the retargeting uses (:func:`reenactor.face.pose.fit_similarity`
  of the pipeline's smoothed track on its stable points), as yaw, pitch, roll
  (:func:`reenactor.face.pose.euler_degrees`);
* dlib: the evaluation's PnP pose (:func:`reenactor.eval.pose.estimate_pose`),
  relative to the same frame (yaw negated: the two conventions turn opposite ways).

Printed per clip: the least-squares slope of ours on dlib's for each angle
(1 = the same size of motion) and dlib's range of each angle over the clip
(a slope over a range of a few degrees is mostly noise). Neither reader is
ground truth; a slope far from 1 on clips with a clear turn says the two
disagree about how far the head turned.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def clip_rotations(path: Path, frames: int, reenactor, face) -> tuple[np.ndarray, np.ndarray]:
    """((N, 3) ours, (N, 3) dlib's) yaw, pitch, roll in degrees relative to the first frame with a dlib face."""
    from reenactor.eval.media import read_video
    from reenactor.eval.pose import estimate_pose, euler_deg, relative_rotation
    from reenactor.face.pose import euler_degrees, fit_similarity

    clip = read_video(path, max_frames=frames)
    size = clip.frames[0].shape[1::-1]
    track = reenactor.track(clip.frames, clip.fps)
    dlib = [face.measure(f, descriptor=False).landmarks for f in clip.frames]
    ok = [t for t, lm in enumerate(dlib) if lm is not None]
    if len(ok) < 2:
        return np.zeros((0, 3)), np.zeros((0, 3))
    ref, p0 = np.asarray(track.landmarks[ok[0]], np.float64), estimate_pose(dlib[ok[0]], size)
    ours = np.array([euler_degrees(fit_similarity(ref, np.asarray(track.landmarks[t], np.float64)).rotation) for t in ok])
    theirs = np.array([euler_deg(relative_rotation(estimate_pose(dlib[t], size), p0)) for t in ok])
    theirs[:, 0] *= -1.0
    return ours, theirs


def main(argv=None) -> int:
    from reenactor.api import Reenactor
    from reenactor.bench import find_shared_data
    from reenactor.eval.dlibface import DlibFace

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+", help="files under videos/ of the data folder")
    p.add_argument("--frames", type=int, default=90, help="frames read per clip (default 90)")
    p.add_argument("--data", type=Path, default=None, help="the shared data folder (default: found as the benchmarks find it)")
    args = p.parse_args(argv)
    data = args.data or find_shared_data()
    reenactor, face = Reenactor(), DlibFace()
    print("| clip | slope yaw | slope pitch | slope roll | dlib range yaw / pitch / roll (deg) |")
    print("|---|---|---|---|---|")
    for name in args.clips:
        ours, theirs = clip_rotations(data / "videos" / name, args.frames, reenactor, face)
        slopes = [np.polyfit(theirs[:, k], ours[:, k], 1)[0] if len(ours) > 2 and theirs[:, k].std() > 0.5 else float("nan")
                  for k in range(3)]
        ranges = np.ptp(theirs, axis=0) if len(theirs) else np.full(3, np.nan)
        print(f"| {name} | {slopes[0]:.2f} | {slopes[1]:.2f} | {slopes[2]:.2f} | {ranges[0]:.1f} / {ranges[1]:.1f} / {ranges[2]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
