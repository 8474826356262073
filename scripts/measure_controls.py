"""Measure the motion controls (issue 17 item 2) by reading the rendered frames back.

Animates the astronaut with a driver under several controls, re-detects the
landmarks of every output frame (:class:`reenactor.face.landmarks.LandmarkDetector`,
video mode) and measures them (:func:`reenactor.motion.params.measure`):

* ``mouth_open``: inner-lip gap (IOD units): mean, 10-90 % spread, and
  ``mouth_open_over_own``, its 90th percentile minus the portrait's own gap
  (how far the mouth opens beyond the portrait's: a gain scales that; the
  closing side stops at closed lips, so the 10-90 % spread does not scale);
* ``yaw``/``pitch``/``roll`` mean and spread (90th - 10th percentile, degrees).

Usage::

    .venv/bin/python scripts/measure_controls.py [--frames 100] [--driver clip.mp4]

Without ``--driver`` the real clip of ``reenactor bench`` (../shared/data)
is used, else a generated one (the astronaut talking, a built-in motion).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

CASES = {
    "default": {},
    "gain mouth=1.5": {"gain": {"mouth": 1.5}},
    "pose-offset yaw=10": {"pose_offset": {"yaw": 10.0}},
    "pose portrait": {"pose": "portrait"},
    "pose-scale 0.5": {"pose_scale": 0.5},
}


def spreads(landmarks, portrait: np.ndarray) -> dict[str, float]:
    """Mouth opening and head angles of (478, 3) landmark sets: means and 10-90 % spreads.

    Angles: the rotation of the stable-point similarity from ``portrait``'s
    landmarks to each set (:func:`reenactor.face.pose.fit_similarity`, what
    the retargeter measures on a driver), as (yaw, pitch, roll) degrees. The
    absolute pose of :func:`~reenactor.face.pose.head_pose` leans on the chin,
    so its pitch follows the mouth.
    """
    from reenactor.face.pose import euler_degrees, fit_similarity
    from reenactor.motion.params import measure

    rows = []
    for lm in landmarks:
        yaw, pitch, roll = euler_degrees(fit_similarity(portrait, lm).rotation)
        rows.append({"mouth_open": measure(lm)["mouth_open"], "yaw": yaw, "pitch": pitch, "roll": roll})
    out = {"frames_read": len(rows), "mouth_open_over_own": round(float(np.percentile([r["mouth_open"] for r in rows], 90)
                                                                       - measure(portrait)["mouth_open"]), 4)}
    for k in ("mouth_open", "yaw", "pitch", "roll"):
        v = np.array([r[k] for r in rows])
        out[f"{k}_mean"] = round(float(v.mean()), 4)
        out[f"{k}_spread"] = round(float(np.percentile(v, 90) - np.percentile(v, 10)), 4)
    return out


def read_back(frames, portrait: np.ndarray) -> dict[str, float]:
    """:func:`spreads` of the landmarks re-detected on rendered frames (video mode),
    against those re-detected on ``portrait`` (the crop image)."""
    from reenactor.face.landmarks import LandmarkDetector

    det = LandmarkDetector(static_image_mode=False)
    found = [lm for f in frames if (lm := det.detect(f)) is not None]
    det.close()
    return spreads(found, LandmarkDetector(static_image_mode=True).detect(portrait))


def render(reenactor_cls, cfg, image, driver: Path, frames: int, **changes):
    """(crop frames, target landmarks, prepared portrait) of ``image`` driven by
    ``driver`` under ``changes`` of RetargetConfig."""
    from reenactor.pipeline import ListSink, run, video_source

    r = reenactor_cls(replace(cfg, retarget=replace(cfg.retarget, **changes)))
    portrait = r.prepare(image)
    source, targets = video_source(driver, frames), []
    inner = source.targets
    source.targets = lambda: ((targets.append(t), (t, m))[1] for t, m in inner())
    sink = ListSink()
    run(r, portrait, source, sink, crop_output=True)
    return sink.frames, targets, portrait


def main() -> None:
    from skimage import data

    from reenactor.api import Reenactor, animate_template
    from reenactor.bench import BENCH_CLIP, find_shared_data
    from reenactor.config import ReenactorConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--driver", type=Path, default=None)
    ap.add_argument("--generated", action="store_true", help="use the generated driver even where ../shared exists")
    args = ap.parse_args()
    astronaut, cfg = data.astronaut(), ReenactorConfig()
    driver = args.driver
    tmp = tempfile.TemporaryDirectory()
    if driver is None and not args.generated:
        shared = find_shared_data()
        driver = shared / BENCH_CLIP if shared is not None else None
    if driver is None:
        driver = Path(tmp.name) / "talk.mp4"
        r = Reenactor(cfg)
        animate_template(r, r.prepare(astronaut), "talk", driver, max_frames=args.frames)
    results = {"driver": str(driver)}
    for name, changes in CASES.items():
        frames, targets, own = render(Reenactor, cfg, astronaut, driver, args.frames, **changes)
        results[name] = {"rendered": read_back(frames, own.crop_image), "targets": spreads(targets, own.crop_landmarks)}
    for level in ("rendered", "targets"):
        base, got = results["default"][level], {k: v[level] for k, v in results.items() if k in CASES}
        results[f"ratios ({level})"] = {
            "mouth over own gain 1.5 / default": got["gain mouth=1.5"]["mouth_open_over_own"] / base["mouth_open_over_own"],
            "mouth_spread gain 1.5 / default": got["gain mouth=1.5"]["mouth_open_spread"] / base["mouth_open_spread"],
            "yaw mean offset 10 - default (deg)": got["pose-offset yaw=10"]["yaw_mean"] - base["yaw_mean"],
            "mouth_spread portrait / default": got["pose portrait"]["mouth_open_spread"] / base["mouth_open_spread"],
            "yaw_spread pose-scale 0.5 / default": got["pose-scale 0.5"]["yaw_spread"] / base["yaw_spread"],
        }
    print(json.dumps(results, indent=1))
    tmp.cleanup()


if __name__ == "__main__":
    main()
