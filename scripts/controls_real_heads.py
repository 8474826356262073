"""What a real head's turn does to dlib's brow measure (for docs/controls.md).

On the shared talking-head clips, every 5th of the first 200 frames is read
with the evaluation's dlib measures (:mod:`reenactor.eval.dlibface`, PnP head
pose in :mod:`reenactor.eval.pose`, ``brow_raise`` of
:func:`reenactor.eval.metrics.expression_features`), and the brow measure is
regressed, within each clip (both sides less the clip's mean), on the head's
pitch and squared yaw (a turn either way foreshortens the eye-centre
distance the measure is divided by). Nothing of the pipeline is used.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

#: Frames read per clip: every STEP-th of the first LIMIT.
STEP, LIMIT = 5, 200
#: Frames kept: a face turned less than this (degrees of yaw, pitch).
MAX_YAW, MAX_PITCH = 35.0, 30.0


def clip_readings(face, path: Path) -> list[tuple[float, float, float]]:
    """(yaw, pitch, brow_raise) of the sampled frames of one clip that have a face."""
    import av

    from reenactor.eval.metrics import expression_features
    from reenactor.eval.pose import euler_deg, estimate_pose, relative_rotation

    frontal = np.diag([1.0, -1.0, -1.0])  # the pose module's frontal head
    out = []
    with av.open(str(path)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            if k >= LIMIT:
                break
            if k % STEP:
                continue
            m = face.measure(frame.to_ndarray(format="rgb24"), descriptor=False)
            if m.found:
                yaw, pitch, _ = euler_deg(relative_rotation(estimate_pose(m.landmarks, m.size), frontal))
                out.append((yaw, pitch, expression_features(m.landmarks)["brow_raise"]))
    return out


def real_head_brow(face, data: Path) -> dict:
    """The within-clip regression ``brow = a * pitch + b * yaw^2 (+ the clip's own level)``.

    Returns:
        ``{"per_pitch_deg": a, "per_yaw_deg2": b, "clips": n, "frames": m, "corr_pitch": median
        within-clip correlation of brow and pitch}``.
    """
    rows = list(csv.DictReader(open(data / "MANIFEST.tsv"), delimiter="\t"))
    xs, ys, corr = [], [], []
    for row in rows:
        if not row["file"].startswith("videos/"):
            continue
        r = np.array(clip_readings(face, data / row["file"]))
        if len(r) < 5:
            continue
        r = r[(np.abs(r[:, 0]) < MAX_YAW) & (np.abs(r[:, 1]) < MAX_PITCH)]
        if len(r) < 5:
            continue
        centred = r - r.mean(0)
        xs.append(np.c_[centred[:, 1], r[:, 0] ** 2 - (r[:, 0] ** 2).mean()])
        ys.append(centred[:, 2])
        if r[:, 1].std() > 2.0:
            corr.append(np.corrcoef(r[:, 1], r[:, 2])[0, 1])
        print(f"real heads: {row['file']}", file=sys.stderr)
    coef, *_ = np.linalg.lstsq(np.concatenate(xs), np.concatenate(ys), rcond=None)
    return {"per_pitch_deg": float(coef[0]), "per_yaw_deg2": float(coef[1]), "clips": len(xs),
            "frames": int(sum(len(x) for x in xs)), "corr_pitch": float(np.median(corr)), "corr_clips": len(corr)}
