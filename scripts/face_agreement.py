"""Agreement of reenactor's own Face Mesh (``reenactor.face.facemesh``) with mediapipe's.

Dev tool, run in an environment with mediapipe 0.10.21 (the ``convert`` extra,
Python <= 3.12; see docs/face_models.md)::

    /tmp/convert/bin/python scripts/face_agreement.py --clips 20 --portraits 116 --frames 90

Networks: the ONNX files in ``src/reenactor/weights`` (or ``--onnx-dir``); with
``--litert SITE_PACKAGES --tflite-dir DIR`` the original ``.tflite`` files run
with LiteRT instead (``SITE_PACKAGES`` is appended to ``sys.path``, e.g. a venv
that has ``ai_edge_litert``).

Data: clips and portraits listed in ``../shared/data/MANIFEST.tsv`` (read in
place, spread evenly over the list). Clips run in video mode on both sides
(``static_image_mode=False`` vs :class:`FaceMeshTracker`), portraits in static
mode (``static_image_mode=True`` vs :class:`FaceMesh`), reference
``refine_landmarks=True``.

Printed (markdown): per region, the mean and 95th percentile of the per-point
2D distance ours <-> mediapipe in inter-ocular units (IOD = distance between
mediapipe's two iris centres, 468 and 473, on that frame), pooled over all
points of the region and all frames where both found a face; the jitter of both
on the clips; face-found rates and run times.

Jitter: the second temporal difference ``x[t-1] - 2 x[t] + x[t+1]`` of each
point after a least-squares similarity alignment of frames ``t-1`` and ``t+1``
onto ``t`` (over the 468 mesh points, so head motion is removed), divided by
``sqrt(6)`` (white noise of per-axis std ``s`` gives ``E|d2|^2 = 6 * 2 s^2``, so
the figure estimates the 2D noise amplitude ``sqrt(2) s``), RMS over the
region's points and frames, in IOD. Smooth motion contributes little at 30 fps;
fast speech or blinks add some, equally for both trackers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reenactor.face import topology  # noqa: E402
from reenactor.face.facemesh import FaceMesh, FaceMeshTracker, FaceNetworks  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
TFLITE = {"detector": "face_detection_short_range", "landmark": "face_landmark", "iris": "iris_landmark"}


def regions() -> dict[str, np.ndarray]:
    """Index sets per region (mediapipe's connection sets)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    def idx(*sets):
        return np.array(sorted({i for s in sets for e in s for i in e}))

    return {
        "face oval": np.array(topology.face_oval()),
        "lips": idx(fmc.FACEMESH_LIPS),
        "eyes": idx(fmc.FACEMESH_LEFT_EYE, fmc.FACEMESH_RIGHT_EYE),
        "irises": np.arange(468, 478),
        "brows": idx(fmc.FACEMESH_LEFT_EYEBROW, fmc.FACEMESH_RIGHT_EYEBROW),
        "all 478": np.arange(478),
    }


def networks(args) -> FaceNetworks:
    """ONNX runners, or LiteRT ones on the .tflite originals with ``--litert``."""
    if not args.litert:
        return FaceNetworks.from_onnx(args.onnx_dir or ROOT / "src" / "reenactor" / "weights", model=args.model)
    sys.path.append(args.litert)
    from ai_edge_litert.interpreter import Interpreter

    def runner(path):
        it = Interpreter(model_path=str(path), num_threads=1)
        it.allocate_tensors()
        inp = it.get_input_details()[0]["index"]
        outs = [(d["name"], d["index"]) for d in it.get_output_details()]

        def run(x):
            it.set_tensor(inp, np.ascontiguousarray(x, dtype=np.float32))
            it.invoke()
            return {n: it.get_tensor(i).copy() for n, i in outs}

        return run

    return FaceNetworks(**{k: runner(Path(args.tflite_dir) / f"{v}.tflite") for k, v in TFLITE.items()})


def manifest(kind: str, n: int) -> list[Path]:
    rows = [line.split("\t")[0] for line in (DATA / "MANIFEST.tsv").read_text().splitlines()[1:]]
    files = [DATA / r for r in rows if r.startswith(kind + "/")]
    if n <= 0 or not files:
        return []
    return [files[i] for i in np.linspace(0, len(files) - 1, min(n, len(files))).round().astype(int)]


def read_clip(path: Path, frames: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while len(out) < frames:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def mp_points(result, w: int, h: int) -> np.ndarray | None:
    if not result.multi_face_landmarks:
        return None
    return np.array([(p.x * w, p.y * h, p.z * w) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32)


def run_sequence(frames, ours, theirs) -> tuple[list, list, float, float]:
    """Landmarks (or None) per frame from both, and seconds spent by each."""
    a, b, ta, tb = [], [], 0.0, 0.0
    for rgb in frames:
        t0 = time.perf_counter()
        faces = ours(rgb)
        t1 = time.perf_counter()
        res = theirs.process(rgb)
        t2 = time.perf_counter()
        ta, tb = ta + t1 - t0, tb + t2 - t1
        a.append(faces[0] if faces else None)
        b.append(mp_points(res, rgb.shape[1], rgb.shape[0]))
    return a, b, ta, tb


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``src`` (N, 2) mapped onto ``dst`` by the least-squares similarity fitted on the first 468 points."""
    s, d = src[:468], dst[:468]
    ms, md = s.mean(0), d.mean(0)
    u, sig, vt = np.linalg.svd((d - md).T @ (s - ms))
    r = u @ np.diag([1.0, np.sign(np.linalg.det(u @ vt))]) @ vt
    scale = (sig * [1.0, np.sign(np.linalg.det(u @ vt))]).sum() / ((s - ms) ** 2).sum()
    return (src - ms) @ r.T * scale + md


def jitter(seq: list, iods: list) -> np.ndarray | None:
    """``(T-2, 478)`` second-difference magnitudes / sqrt(6) in IOD for runs of 3 consecutive found frames."""
    out = []
    for t in range(1, len(seq) - 1):
        if seq[t - 1] is None or seq[t] is None or seq[t + 1] is None or iods[t] is None:
            continue
        x = seq[t][:, :2]
        prev, nxt = similarity_align(seq[t - 1][:, :2], x), similarity_align(seq[t + 1][:, :2], x)
        out.append(np.linalg.norm(prev - 2 * x + nxt, axis=1) / np.sqrt(6) / iods[t])
    return np.array(out) if out else None


class Tally:
    """Pooled distances and counts for one mode (clips or portraits)."""

    def __init__(self):
        self.dist, self.jit_ours, self.jit_mp = [], [], []
        self.frames = self.found_ours = self.found_mp = 0
        self.t_ours = self.t_mp = 0.0

    def add(self, a: list, b: list, ta: float, tb: float, with_jitter: bool) -> None:
        self.frames += len(a)
        self.found_ours += sum(x is not None for x in a)
        self.found_mp += sum(x is not None for x in b)
        self.t_ours, self.t_mp = self.t_ours + ta, self.t_mp + tb
        iods = [None if y is None else float(np.linalg.norm(y[468, :2] - y[473, :2])) for y in b]
        for x, y, iod in zip(a, b, iods):
            if x is not None and y is not None:
                self.dist.append(np.linalg.norm(x[:, :2] - y[:, :2], axis=1) / iod)
        if with_jitter:
            for seq, sink in ((a, self.jit_ours), (b, self.jit_mp)):
                j = jitter(seq, iods)
                if j is not None:
                    sink.append(j)


def table(clips: Tally, stills: Tally) -> str:
    cols = ["region", "clips mean", "clips p95", "portraits mean", "portraits p95", "mp jitter", "our jitter"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, idx in regions().items():
        cells = [name]
        for t in (clips, stills):
            d = np.concatenate([x[idx] for x in t.dist]) if t.dist else np.array([np.nan])
            cells += [f"{d.mean():.4f}", f"{np.percentile(d, 95):.4f}"]
        for sink in (clips.jit_mp, clips.jit_ours):
            j = np.concatenate([x[:, idx].ravel() for x in sink]) if sink else np.array([np.nan])
            cells.append(f"{np.sqrt(np.mean(j**2)):.4f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary(clips: Tally, stills: Tally, detector_runs: int) -> str:
    out = []
    for name, t in (("clips", clips), ("portraits", stills)):
        if t.frames:
            out.append(
                f"- {name}: {t.frames} frames; face found: ours {t.found_ours / t.frames:.1%}, "
                f"mediapipe {t.found_mp / t.frames:.1%}; ms/frame: ours {1e3 * t.t_ours / t.frames:.1f}, "
                f"mediapipe {1e3 * t.t_mp / t.frames:.1f}"
            )
    if clips.frames:
        out.append(f"- detector ran on {detector_runs} of {clips.frames} clip frames (ours)")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=4)
    ap.add_argument("--portraits", type=int, default=20)
    ap.add_argument("--frames", type=int, default=60, help="frames read from the start of each clip")
    ap.add_argument("--model", default="attention", choices=("attention", "mesh+iris"),
                    help="landmark pipeline: the attention model (default) or the plain mesh + iris models")
    ap.add_argument("--eye-contours", default="lids", choices=("none", "lids", "all"), help="mesh+iris only")
    ap.add_argument("--onnx-dir", default=None)
    ap.add_argument("--litert", default=None, help="site-packages with ai_edge_litert (use .tflite files)")
    ap.add_argument("--tflite-dir", default="/tmp/fm")
    args = ap.parse_args(argv)

    import mediapipe as mp

    nets = networks(args)
    clips, stills, runs = Tally(), Tally(), 0
    for path in manifest("videos", args.clips):
        tracker = FaceMeshTracker(nets, eye_contours=args.eye_contours)
        with mp.solutions.face_mesh.FaceMesh(refine_landmarks=True) as ref:
            clips.add(*run_sequence(read_clip(path, args.frames), tracker.process, ref), with_jitter=True)
        runs += tracker.detector_runs
    still = FaceMesh(nets, eye_contours=args.eye_contours)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as ref:
        for path in manifest("portraits", args.portraits):
            bgr = cv2.imread(str(path))
            if bgr is not None:
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                stills.add(*run_sequence([rgb], still.in_image, ref), with_jitter=False)
    contours = f"; eye contours: {args.eye_contours}" if args.model == "mesh+iris" else ""
    print(f"Ours ({args.model}) vs mediapipe 0.10.21 (refine_landmarks=True), 2D distance in IOD{contours}\n")
    print(table(clips, stills))
    print()
    print(summary(clips, stills, runs))


if __name__ == "__main__":
    main()
