"""Shipped model weights: one registry, checked by sha256, loaded by path.

Every learned model reenactor uses at run time lives in this folder as an ONNX
file, next to a JSON card (same stem, ``.json``) that records how it was made:
the training command, the data list, the seed and the measured figures. The
registry below is the only place that names them; nothing is fetched from the
network and no model is ever guessed from tensor shapes.

Register a new model by adding a line to ``_MODELS`` after exporting it
(``reenactor train ... --export``, ``scripts/convert_face_models.py``), with
its sha256 from :func:`sha256_of`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from reenactor.errors import DependencyError, ReenactorError

WEIGHTS_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class WeightSpec:
    """One shipped model.

    Attributes:
        name: registry key (e.g. ``"ldnet"``).
        filename: ONNX file inside :data:`WEIGHTS_DIR`.
        sha256: hex digest of that file.
        description: one line on what it does.
    """

    name: str
    filename: str
    sha256: str
    description: str


#: (name, sha256 of ``<name>.onnx`` (or of the file itself when the name has an
#: extension, registered under its stem), one line on what it is). Trained here:
_MODELS = (
    ("mouth", "1a0bbf6a80b747fde865c6665847836a94eaf643e9c3f96deacd3fe385cb2541",
     "inner-mouth painter (reenactor train mouth; see reenactor.render.mouth_learned)"),
    ("fdgan_lips_extractor", "f29f043d258560e7c35355df6880cf9b9765c65495a1a67fc39ae33cfae3a5c7",
     "FD-GAN extractor, 80 px lips crop, once per portrait (reenactor train fdgan --region lips --residual --cond learned --loss composite; reenactor.render.mouth_fdgan)"),
    ("fdgan_lips_translator", "0410774e5637aa0ada7fb350120820b1655b037da7b01d48bdabc376a5f8be36",
     "FD-GAN translator, 80 px lips crop, once per frame, refines the learned mouth (reenactor train fdgan --region lips --residual --cond learned --loss composite --strength auto; reenactor.render.mouth_fdgan)"),
    ("ldnet", "e970ae8daf186eb7abdff9dcb2fb6ef66f444bec000a26676730961a8e34e2e6",
     "LD-Net E_I + E_P + G (reenactor train ldnet; see reenactor.motion.ldnet, docs/ldnet.md)"),
    ("directions.npz", "364de823ad961b10fc9855d8c915291cf21438f79317f8bff7a5ad042e0e6f51",
     "map A of the edit channels (numpy; reenactor train directions; see reenactor.motion.params)"),
    ("edit_response.json", "bc0a0eb73e5bd0bb7e6f79c45a2cda3d6055361b6f49ecc1c756d0477af38d44",
     "per-channel picture response of edits and the factors reenactor edit applies (scripts/make_controls_doc.py --calibrate)"),
    # Face models converted from mediapipe 0.10.21's TFLite files by
    # scripts/convert_face_models.py (Apache-2.0; LICENSE-mediapipe.txt, NOTICE-mediapipe.txt).
    ("face_detection_short_range", "cf9e315f15b9fb709ab2c90f7dbebde14150aed2b42ce1a207b0e6024f04944e",
     "BlazeFace short-range face detector, 128x128 (mediapipe 0.10.21)"),
    ("face_detection_full_range", "a17416c7e4a80a07ba1f67cee6b204f8687f25a2adb902419ecc6c588cebb404",
     "BlazeFace full-range face detector, 192x192 (mediapipe 0.10.21)"),
    ("face_landmark_attention", "f612ed459feaa4bd52ee1c278e9d57983c552a133c3a1ac631d423001228e9be",
     "Face Mesh with attention: 468 points + refined lips, eyes, irises, 192x192 (mediapipe 0.10.21)"),
    ("face_landmark", "1c8aa288c7320bb7e67ca1ba294b27d28f87a0c232feea862e1e67577e3a63ca",
     "Face Mesh, 468 points, 192x192 (mediapipe 0.10.21)"),
    ("iris_landmark", "3a836e50452807b5d5e3a70dfb1d9cb9afaec3c326e193e4b7d01b1755266141",
     "iris and eye contour on a 64x64 eye crop (mediapipe 0.10.21)"),
    ("selfie_segmentation", "10e5832aa52a4276339f1163ee0fa8004dd5b112d42057d2a670a51776703720",
     "person mask, 256x256 (mediapipe 0.10.21)"),
    ("selfie_segmentation_landscape", "8bb3c5971d634054176f80736678ee72254d96be7f64a0dc115c70029c82f29b",
     "person mask, 144x256 (mediapipe 0.10.21)"),
)

#: name -> spec: the one place that names a shipped model.
REGISTRY: dict[str, WeightSpec] = {
    Path(name).stem: WeightSpec(Path(name).stem, name if "." in name else f"{name}.onnx", digest, what) for name, digest, what in _MODELS
}


class WeightsError(ReenactorError):
    """A shipped model file is missing or does not match its checksum."""


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_VERIFIED: set[str] = set()


def weight_path(name: str) -> Path:
    """Path of a registered model, its checksum verified (once per process).

    Raises:
        WeightsError: unknown name, file missing, or checksum mismatch.
    """
    spec = REGISTRY.get(name)
    if spec is None:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise WeightsError(f"no shipped model named {name!r} (known: {known})")
    path = WEIGHTS_DIR / spec.filename
    if not path.is_file():
        raise WeightsError(f"model file {spec.filename} is missing from the package; reinstall reenactor")
    if name not in _VERIFIED:
        digest = sha256_of(path)
        if digest != spec.sha256:
            raise WeightsError(f"model file {spec.filename} is corrupt (sha256 {digest[:12]}… != {spec.sha256[:12]}…)")
        _VERIFIED.add(name)
    return path


def weight_card(name: str) -> dict:
    """The JSON card recorded beside a model (training command, data, seed, figures)."""
    path = weight_path(name).with_suffix(".json")
    if not path.is_file():
        return {}
    return json.loads(path.read_text())


def onnx_session(name_or_path: str | Path, threads: int = 1):
    """An onnxruntime CPU session for a registered model name or an ONNX path.

    Raises:
        DependencyError: onnxruntime is not installed.
        WeightsError: see :func:`weight_path`.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - runtime dependency
        raise DependencyError("onnxruntime is needed for learned models: pip install onnxruntime") from exc
    path = Path(name_or_path) if str(name_or_path).endswith(".onnx") else weight_path(str(name_or_path))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
