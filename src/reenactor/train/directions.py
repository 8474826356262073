"""``reenactor train directions``: fit the map A of :mod:`reenactor.motion.params`.

Every cached clip (:mod:`reenactor.train.landmark_cache`) gives frames; each
frame's parameter change from its clip's neutral frame
(:func:`reenactor.motion.retarget.choose_reference`) is ``x`` (13 channels:
yaw, pitch, roll in degrees, then the 10 expression channels in IOD units)
and its normalised-head landmark change is ``y`` (1434 numbers). A is the
ridge least-squares solution of ``y ≈ x A`` on standardised ``x``; the pose
rows only absorb what head turns do to the head-frame landmarks (perspective,
tracking) and are dropped. Clips of anyone who appears among the portraits
of the manifest are left out, so the portraits (the held-out set of
``scripts/make_controls_doc.py``) are people the fit never saw.

Writes ``<out>/directions.npz`` (``matrix`` (10, 478, 3) float32, ``span``
(10,), ``pose_span`` (3,)) and ``<out>/directions.json`` (the card).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from reenactor.errors import InputError

DEFAULT_CACHE = Path.home() / ".cache" / "reenactor" / "directions_landmarks"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``reenactor train directions``."""
    p.add_argument("--data", type=Path, required=True, help="shared data folder (MANIFEST.tsv, videos/)")
    p.add_argument("--cache", type=Path, default=None, help=f"landmark cache folder (default {DEFAULT_CACHE}); clips missing are extracted")
    p.add_argument("--out", type=Path, required=True, help="output folder for directions.npz and directions.json")
    p.add_argument("--stride", type=int, default=3, help="keep every N-th frame (default 3)")
    p.add_argument("--max-frames", type=int, default=40, help="frames kept per clip (default 40)")
    p.add_argument("--ridge", type=float, default=1e-3, help="ridge weight on standardised channels (default 1e-3)")
    p.add_argument("--max-turn", type=float, default=25.0, help="drop frames turned more than this from the neutral frame (degrees)")


def portrait_identities(data_dir: Path) -> set[str]:
    """Identity labels of the manifest's portraits."""
    from reenactor.eval.sets import read_manifest

    return {row["identity"] for f, row in read_manifest(data_dir).items() if f.startswith("portraits/")}


def clip_changes(track: np.ndarray, found: np.ndarray, max_turn: float) -> tuple[np.ndarray, np.ndarray]:
    """(x (N, 13), y (N, 1434)) float64 changes from the clip's neutral frame.

    Args:
        track: (F, 478, 3) landmarks in pixels; found: (F,) bool.
        max_turn: frames whose yaw/pitch/roll change exceeds this (degrees) are dropped.
    """
    from reenactor.face.pose import head_pose
    from reenactor.motion.params import measure_expression, normalised_head
    from reenactor.motion.retarget import choose_reference

    def params(lm):
        h, _ = normalised_head(lm)
        return np.concatenate([head_pose(lm), measure_expression(h)]), h.ravel()

    ref = choose_reference(track, found)
    p0, h0 = params(track[ref])
    xs, ys = [], []
    for i in np.flatnonzero(found):
        p, h = params(track[i].astype(np.float64))
        if np.abs(p[:3] - p0[:3]).max() <= max_turn:
            xs.append(p - p0)
            ys.append(h - h0)
    return np.array(xs).reshape(-1, 13), np.array(ys).reshape(-1, 1434)


def fit(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, float]:
    """(A (13, 1434) float64, R^2 of the fit) for ``y ≈ x A`` (ridge on standardised columns)."""
    sd = x.std(0) + 1e-9
    xs = x / sd
    gram = xs.T @ xs + ridge * len(xs) * np.eye(x.shape[1])
    a = np.linalg.solve(gram, xs.T @ y) / sd[:, None]
    r2 = 1.0 - float(((y - x @ a) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())
    return a, r2


def run(args: argparse.Namespace) -> int:
    """Extract (or reuse) the landmarks, fit A, write the npz and card."""
    from reenactor.motion.params import EXPRESSION_CHANNELS
    from reenactor.train.landmark_cache import build_cache, load_clip

    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    if not (Path(args.data) / "MANIFEST.tsv").is_file():
        raise InputError(f"{args.data} has no MANIFEST.tsv")
    records = build_cache(args.data, cache, stride=args.stride, max_frames=args.max_frames)
    held = portrait_identities(Path(args.data))
    used = [r for r in records if r.identity not in held and r.found >= 5]
    xs, ys = [], []
    for rec in used:
        z = load_clip(cache, rec)
        x, y = clip_changes(z["landmarks"].astype(np.float64), z["found"], args.max_turn)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    a, r2 = fit(x, y, args.ridge)
    matrix = a[3:].reshape(len(EXPRESSION_CHANNELS), 478, 3)
    span = np.percentile(np.abs(x), 95, axis=0)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "directions.npz", matrix=matrix.astype(np.float32), span=span[3:].astype(np.float32),
             pose_span=span[:3].astype(np.float32))
    card = {
        "name": "directions",
        "description": "map A: expression-channel changes -> normalised-head landmark displacements (reenactor.motion.params)",
        "command": "reenactor train directions " + " ".join(sys.argv[3:]),
        "clips": len(used), "identities": len({r.identity for r in used}), "frames": int(len(x)),
        "left_out_identities": sorted({r.identity for r in records if r.identity in held}),
        "r2": round(r2, 4), "ridge": args.ridge, "stride": args.stride, "max_frames": args.max_frames,
        "span": dict(zip(EXPRESSION_CHANNELS, np.round(span[3:], 4).tolist())),
        "pose_span_deg": dict(zip(("yaw", "pitch", "roll"), np.round(span[:3], 2).tolist())),
    }
    (args.out / "directions.json").write_text(json.dumps(card, indent=1) + "\n")
    print(f"fitted A on {len(x)} frames of {len(used)} clips (R^2 {r2:.3f}); wrote {args.out / 'directions.npz'}")
    return 0
