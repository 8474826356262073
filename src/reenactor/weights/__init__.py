"""Shipped model weights: one registry, checked by sha256, loaded by path.

Every learned model reenactor uses at run time lives in this folder as an ONNX
file, next to a JSON card (same stem, ``.json``) that records how it was made:
the training command, the data list, the seed and the measured figures. The
registry below is the only place that names them; nothing is fetched from the
network and no model is ever guessed from tensor shapes.

Register a new model by adding a :class:`WeightSpec` to :data:`REGISTRY` after
exporting it (``reenactor train ... --export``), with its sha256 from
:func:`sha256_of`.
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


#: name -> spec. Filled in as models are trained and exported.
REGISTRY: dict[str, WeightSpec] = {}

REGISTRY["mouth"] = WeightSpec(
    name="mouth",
    filename="mouth.onnx",
    sha256="1a0bbf6a80b747fde865c6665847836a94eaf643e9c3f96deacd3fe385cb2541",
    description="inner-mouth painter (reenactor train mouth; see reenactor.render.mouth_learned)",
)

REGISTRY["ldnet"] = WeightSpec(
    name="ldnet",
    filename="ldnet.onnx",
    sha256="e970ae8daf186eb7abdff9dcb2fb6ef66f444bec000a26676730961a8e34e2e6",
    description="LD-Net E_I + E_P + G (reenactor train ldnet; see reenactor.motion.ldnet, docs/ldnet.md)",
)


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
