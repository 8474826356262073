#!/usr/bin/env python
"""Convert mediapipe 0.10.21's face models from TFLite to the ONNX files reenactor ships.

Repeatable developer step (not needed to use reenactor). Set up once with the
``convert`` extra on Python 3.10-3.12 (mediapipe 0.10.21 has no newer wheel):

    python -m venv /tmp/convert && /tmp/convert/bin/pip install -e ".[convert]"
    /tmp/convert/bin/python scripts/convert_face_models.py

It reads the ``.tflite`` files inside the installed mediapipe wheel, writes
``src/reenactor/weights/<name>.onnx`` (same input/output names, shapes and
NHWC layout as the TFLite graph), checks every network that has only standard
operators against the LiteRT interpreter on real and random inputs (the
attention landmark model's custom operators are checked end to end against
mediapipe by ``scripts/face_agreement.py``), writes the mesh edge lists to
``src/reenactor/face/mesh_edges.json``, and prints the sha256 lines for
``reenactor/weights/__init__.py``. Exits non-zero when a check fails.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reenactor.face.convert.tflite_graph import read_tflite  # noqa: E402
from reenactor.face.convert.custom_ops import refinement_map  # noqa: E402
from reenactor.face.convert.to_onnx import convert  # noqa: E402

#: shipped name -> (path inside mediapipe/modules, input range, checked with LiteRT)
MODELS = {
    "face_detection_short_range": ("face_detection/face_detection_short_range.tflite", (-1.0, 1.0), True),
    "face_detection_full_range": ("face_detection/face_detection_full_range_sparse.tflite", (-1.0, 1.0), True),
    "face_landmark_attention": ("face_landmark/face_landmark_with_attention.tflite", (0.0, 1.0), False),
    "face_landmark": ("face_landmark/face_landmark.tflite", (0.0, 1.0), True),
    "iris_landmark": ("iris_landmark/iris_landmark.tflite", (0.0, 1.0), True),
    "selfie_segmentation": ("selfie_segmentation/selfie_segmentation.tflite", (0.0, 1.0), True),
    "selfie_segmentation_landscape": ("selfie_segmentation/selfie_segmentation_landscape.tflite", (0.0, 1.0), True),
}
#: Largest |onnx - tflite| allowed, relative to the output's largest magnitude (or 1, for the
#: probability maps that are near 0 everywhere on noise).
TOLERANCE = 1e-4


def mediapipe_modules() -> Path:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("mediapipe 0.10.21 is not installed: pip install -e '.[convert]' (Python 3.10-3.12)")
    return Path(spec.submodule_search_locations[0]) / "modules"


def sample_inputs(shape: tuple[int, ...], value_range: tuple[float, float], n_random: int = 2) -> list[np.ndarray]:
    """A real face (skimage's astronaut, resized to the input) and ``n_random`` uniform noise inputs."""
    import cv2
    from skimage import data

    _, h, w, _ = shape
    lo, hi = value_range
    face = cv2.resize(data.astronaut()[20:260, 130:370], (w, h), interpolation=cv2.INTER_AREA)
    out = [(face.astype(np.float32) / 255.0 * (hi - lo) + lo)[None]]
    rng = np.random.default_rng(0)
    out += [rng.uniform(lo, hi, shape).astype(np.float32) for _ in range(n_random)]
    return out


def check_against_litert(tflite_path: Path, onnx_path: Path, value_range) -> float:
    """Largest relative difference of the ONNX outputs from LiteRT's over the sample inputs.

    LiteRT runs its reference kernels (``experimental_preserve_all_tensors``
    turns the XNNPACK delegate off): XNNPACK's fast sigmoid alone moves the
    selfie mask by up to 2.5e-2, which would hide a real conversion error.
    """
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x in sample_inputs(tuple(inp["shape"]), value_range):
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        ref = {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}
        got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x})))
        for name, r in ref.items():
            worst = max(worst, float(np.abs(got[name] - r).max() / max(1.0, np.abs(r).max())))
    return worst


def litert_reference(tflite_path: Path, value_range) -> dict[str, np.ndarray]:
    """The real-face sample input (as uint8) and LiteRT's outputs on it, for the fast test tier."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = sample_inputs(tuple(inp["shape"]), value_range, n_random=0)[0]
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    lo, hi = value_range
    out = {"input_u8": np.round((x[0] - lo) / (hi - lo) * 255).astype(np.uint8)}
    out.update({d["name"]: interp.get_tensor(d["index"]).astype(np.float32) for d in interp.get_output_details()})
    return out


def write_mesh_edges(path: Path) -> None:
    """mediapipe's face mesh edge lists (tessellation, face oval), sorted, as JSON."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    edges = {
        "source": "mediapipe 0.10.21 mediapipe/python/solutions/face_mesh_connections.py (Apache-2.0)",
        "tesselation": sorted(sorted(e) for e in fmc.FACEMESH_TESSELATION),
        "face_oval": sorted(sorted(e) for e in fmc.FACEMESH_FACE_OVAL),
    }
    path.write_text(json.dumps(edges, separators=(",", ":")) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "src/reenactor/weights")
    ap.add_argument("--only", nargs="*", help="convert only these shipped names")
    ap.add_argument("--reference", type=Path, default=ROOT / "tests/data/face_models_reference.npz",
                    help="where to store LiteRT's outputs on a real face for tests/test_face_models.py")
    args = ap.parse_args()
    import onnx

    modules = mediapipe_modules()
    args.out.mkdir(parents=True, exist_ok=True)
    failed, reference = [], {}
    for name, (rel, value_range, litert) in MODELS.items():
        if args.only and name not in args.only:
            continue
        src = modules / rel
        graph = read_tflite(str(src))
        model = convert(graph, producer=f"reenactor scripts/convert_face_models.py from mediapipe 0.10.21 {rel}")
        refined = refinement_map(graph)
        if refined:  # where the attention model's refined points go in the 478-point layout
            onnx.helper.set_model_props(model, {"refinement_indices": json.dumps(refined, separators=(",", ":"))})
        dst = args.out / f"{name}.onnx"
        onnx.save(model, str(dst))
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()
        err = check_against_litert(src, dst, value_range) if litert else float("nan")
        if litert:
            reference.update({f"{name}/{k}": v for k, v in litert_reference(src, value_range).items()})
        ok = not litert or err <= TOLERANCE
        failed += [] if ok else [name]
        check = f"max rel diff vs LiteRT {err:.1e}" if litert else "custom ops: check with scripts/face_agreement.py"
        print(f"{name:32s} {dst.stat().st_size / 1e6:5.2f} MB  {check}  {'ok' if ok else 'FAILED'}")
        print(f"    sha256 {digest}")
    write_mesh_edges(ROOT / "src/reenactor/face/mesh_edges.json")
    if reference and not args.only:
        args.reference.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.reference, **reference)
    if failed:
        print("failed:", ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
