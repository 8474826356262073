"""Where an expression channel's correlation with the driver is lost: tracking, retargeting or the rendered picture.

    REENACTOR_CACHE=... .venv/bin/python scripts/expression_chain.py --results RUN/results.json [--half dev] [--out chain.json]

For every item of an evaluation run (``reenactor eval --max-frames N``; the
same frames are read here), dlib's reading of the driver frames (the
evaluation's own ``expression_features``: mouth opening, eye opening, brow
raise, in IOD) is correlated (Pearson) with

* ``track``: the same measures on the pipeline's own smoothed driver track
  (478 points; inner-lip pairs, lid pairs, brow-to-eye-corner-line distance,
  each over the track's IOD);
* ``target``: the same measures on the retargeted target landmarks that the
  renderer is given (default config, the automatic reference, as a user runs it);
* ``output``: the run's own ``reenactor`` row (dlib on the rendered frames),
  and ``naive2d`` likewise.

A channel that keeps its correlation from ``track`` to ``target`` and loses it
at ``output`` is lost in the rendered picture as dlib reads it, not in
tracking or retargeting. Prints one line per item and the medians per protocol.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CHANNELS = ("mouth_open", "eye_open", "brow_raise")


def own_channels(lm: np.ndarray) -> dict[str, float]:
    """Mouth opening, eye opening and brow raise of (478, 2+) pipeline landmarks, in their IOD."""
    from reenactor.face import topology as T

    p = np.asarray(lm, np.float64)[:, :2]
    iod = T.inter_ocular(p)

    def gaps(pairs):
        return float(np.mean([np.linalg.norm(p[a] - p[b]) for a, b in pairs]))

    def brow(idx, corners):
        a, b = p[corners[0]], p[corners[1]]
        d = (b - a) / np.linalg.norm(b - a)
        v = p[list(idx)] - a
        return float(np.abs(v[:, 0] * d[1] - v[:, 1] * d[0]).mean())

    return {"mouth_open": gaps(T.INNER_LIP_PAIRS) / iod, "eye_open": gaps(T.RIGHT_LID_PAIRS + T.LEFT_LID_PAIRS) / iod,
            "brow_raise": 0.5 * (brow(T.RIGHT_BROW, T.RIGHT_EYE_CORNERS) + brow(T.LEFT_BROW, T.LEFT_EYE_CORNERS)) / iod}


def _corr(ours: list, dlib: list) -> dict[str, float]:
    from reenactor.eval.metrics import expression_features, pearson

    out = {}
    for ch in CHANNELS:
        a = [own_channels(o)[ch] for o, d in zip(ours, dlib) if o is not None and d is not None and np.isfinite(o).all()]
        b = [expression_features(d)[ch] for o, d in zip(ours, dlib) if o is not None and d is not None and np.isfinite(o).all()]
        out[ch] = pearson(np.array(a), np.array(b)) if len(a) > 8 else float("nan")
    return out


def item_chain(item, frames: int, data: Path, face, reenactor) -> dict[str, dict[str, float]]:
    """{"track": {channel: corr}, "target": {...}} for one evaluation item."""
    from reenactor.eval.media import read_image, read_video
    from reenactor.pipeline import TrackedSource
    from reenactor.stages import StageTimer

    clip = read_video(data / item.driver, max_frames=frames)
    portrait = reenactor.prepare(read_image(data / item.portrait) if item.portrait else clip.frames[0])
    dlib = [face.measure(f, descriptor=False).landmarks for f in clip.frames]
    source = TrackedSource(clip.frames, clip.fps)
    source.open(reenactor, portrait, StageTimer(), False)
    track = [np.asarray(lm) for lm in source.track.landmarks]
    targets = [t for t, _ in source.targets()]
    return {"track": _corr(track, dlib), "target": _corr(targets, dlib)}


def main(argv=None) -> int:
    from reenactor.api import Reenactor
    from reenactor.eval.dlibface import DlibFace
    from reenactor.bench import find_shared_data
    from reenactor.eval.sets import load_sets

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, required=True, help="results.json of a reenactor eval run (its reenactor and naive2d rows)")
    p.add_argument("--half", default=None, help="only this half (dev or check)")
    p.add_argument("--data", type=Path, default=None, help="the shared data folder (default: found as the evaluation finds it)")
    p.add_argument("--out", type=Path, default=None, help="write the per-item rows as JSON")
    args = p.parse_args(argv)
    run = json.loads(args.results.read_text())
    data = args.data or find_shared_data()
    sets = {i.name: i for i in load_sets()}
    face, reenactor, rows = DlibFace(), Reenactor(), []
    for res in run["items"]:
        if args.half and res["half"] != args.half:
            continue
        row = {"name": res["name"], "protocol": res["protocol"], **item_chain(sets[res["name"]], res["frames"], data, face, reenactor)}
        for method, key in (("reenactor", "output"), ("naive2d", "naive2d")):
            row[key] = {ch: res["metrics"].get(method, {}).get(f"{ch}_corr", float("nan")) for ch in CHANNELS}
        rows.append(row)
        print(row["name"], "  ".join(f"{ch}: " + "/".join(f"{row[k][ch]:.2f}" for k in ("track", "target", "output", "naive2d"))
                                     for ch in CHANNELS), flush=True)
    print("medians (track / target / output / naive2d):")
    for proto in ("self", "cross"):
        sub = [r for r in rows if r["protocol"] == proto]
        for ch in CHANNELS:
            med = [float(np.nanmedian([r[k][ch] for r in sub])) if sub else float("nan") for k in ("track", "target", "output", "naive2d")]
            print(f"  {proto:5s} {ch:10s} " + " / ".join(f"{m:.3f}" for m in med))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
