#!/usr/bin/env python
"""Landmarks of reenactor's ``LandmarkDetector`` on shared portraits and clips, saved for comparison.

Dev tool for comparing two builds of the whole landmark path as reenactor uses
it (portrait: full-range then short-range detector, tiled search, mesh on the
face crop; clips: tracking). It imports ``reenactor`` from wherever Python
finds it, so the build is chosen with ``PYTHONPATH``::

    PYTHONPATH=/tmp/old_build/src .venv/bin/python scripts/landmarks_dump.py old.npz
    .venv/bin/python scripts/landmarks_dump.py new.npz
    .venv/bin/python scripts/landmarks_dump.py --compare old.npz new.npz

Portraits: every image of ``../shared/data/MANIFEST.tsv``; clips: ``--clips``
of them spread over the list, ``--frames`` each.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def listed(kind: str) -> list[Path]:
    rows = [line.split("\t")[0] for line in (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]]
    return [DATA / r for r in rows if r.startswith(kind + "/")]


def dump(out: Path, n_clips: int, frames: int) -> None:
    from reenactor.face.landmarks import LandmarkDetector
    from reenactor.io.image import read_image
    from reenactor.io.video import iter_frames

    result = {}
    det = LandmarkDetector(static_image_mode=True)
    for p in listed("portraits"):
        try:
            lm = det.detect(read_image(p))
        except Exception as exc:  # unreadable picture: recorded as such
            print(f"{p.name}: {exc}", file=sys.stderr)
            continue
        result[f"portrait/{p.name}"] = lm if lm is not None else np.full((478, 3), np.nan, np.float32)
    clips = listed("videos")
    for i in np.linspace(0, len(clips) - 1, min(n_clips, len(clips))).round().astype(int):
        with LandmarkDetector(static_image_mode=False) as video:
            seq = []
            for rgb in iter_frames(clips[i], max_frames=frames):
                lm = video.detect(rgb)
                seq.append(lm if lm is not None else np.full((478, 3), np.nan, np.float32))
        result[f"clip/{clips[i].name}"] = np.stack(seq)
    np.savez_compressed(out, **result)


def compare(a_path: Path, b_path: Path) -> None:
    a, b = np.load(a_path), np.load(b_path)
    for kind in ("portrait", "clip"):
        keys = sorted(k for k in a.files if k.startswith(kind) and k in b.files)
        if not keys:
            continue
        xa = np.concatenate([a[k].reshape(-1, 478, 3) for k in keys])
        xb = np.concatenate([b[k].reshape(-1, 478, 3) for k in keys])
        fa, fb = np.isfinite(xa[:, 0, 0]), np.isfinite(xb[:, 0, 0])
        both = fa & fb
        iod = np.linalg.norm(xa[both, 468, :2] - xa[both, 473, :2], axis=1)
        d = np.linalg.norm(xa[both, :, :2] - xb[both, :, :2], axis=2) / iod[:, None]
        print(f"{kind}s: {len(keys)} files, {len(xa)} images; found {fa.sum()} / {fb.sum()}, both {both.sum()}; "
              f"distance in IOD mean {d.mean():.4f}, p95 {np.percentile(d, 95):.4f}, max {d.max():.4f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        compare(*args.compare)
    elif args.out:
        dump(args.out, args.clips, args.frames)
    else:
        ap.error("give an output file or --compare A B")


if __name__ == "__main__":
    main()
