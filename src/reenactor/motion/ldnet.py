"""LD-Net retargeting at inference (onnxruntime, no torch).

The Landmark Disentanglement Network (Xiang et al., Sec. 3.1) encodes the
portrait's identity once (E_I), the driver's pose/expression on every frame
(E_P), and its generator G combines them into landmarks with the portrait's
face shape and the driver's expression.

Landmark representation (the network's input/output vectors), shared by the
trainer (:mod:`reenactor.train.ldnet_data` holds the torch twin):

* ``"3d"`` (pose-normalised, the shipped choice): the 478 landmarks are
  expressed in their own head frame (origin at the mean of
  :data:`reenactor.face.topology.STABLE_POINTS`, axes from
  :func:`reenactor.face.pose.head_axes`, so x right, y down, z into the
  screen for the face), then shifted and scaled so that their square x/y
  bounding box spans [-1, 1] (App. 7); z is centred on its own min/max
  mid-point and divided by the same half-side. Vector: 478 * 3 = 1434 floats,
  point-major ``[x0, y0, z0, x1, ...]``.
* ``"2d"``: image-plane x, y in pixels, same square-bounding-box
  normalisation. Vector: 478 * 2 = 956 floats.

Head pose is not left to the network in ``"3d"``: it is measured on the
driver exactly as :class:`reenactor.motion.retarget.Retargeter` does
(similarity of the expression-stable points) and re-applied about the
portrait's head centre, so LD-Net only decides the face shape and expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenactor.config import RetargetConfig
from reenactor.errors import InputError
from reenactor.face import topology as T
from reenactor.face.pose import head_axes
from reenactor.motion.retarget import Retargeter, fix_lids_and_lips

SPACES = ("3d", "2d")
MODEL_NAME = "ldnet"


@dataclass(frozen=True)
class NormFrame:
    """How one landmark set was normalised (to undo it).

    Attributes:
        origin: (3,) float64 head origin in pixels ("3d"; zeros for "2d").
        axes: (3, 3) head-to-camera rotation ("3d"; identity for "2d").
        centre: (dims,) bounding-box centre in the head frame (pixels).
        half: half-side of the square x/y bounding box (pixels, > 0).
    """

    origin: np.ndarray
    axes: np.ndarray
    centre: np.ndarray
    half: float


def space_dims(space: str) -> int:
    """Coordinates per landmark of a representation: 3 for "3d", 2 for "2d".

    Raises:
        InputError: unknown space.
    """
    if space not in SPACES:
        raise InputError(f"unknown LD-Net landmark space {space!r} (use one of {', '.join(SPACES)})")
    return 3 if space == "3d" else 2


def to_head(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin (3,), axes (3, 3), head-frame landmarks (478, 3)) of one face."""
    lm = np.asarray(landmarks, dtype=np.float64)
    origin = lm[list(T.STABLE_POINTS)].mean(0)
    axes = head_axes(lm)
    return origin, axes, (lm - origin) @ axes


def normalise(landmarks: np.ndarray, space: str = "3d") -> tuple[np.ndarray, NormFrame]:
    """One face's landmarks as an LD-Net input vector.

    Args:
        landmarks: (478, 3) pixels (x right, y down, z mediapipe depth).
        space: "3d" or "2d" (see the module docstring).

    Returns:
        ((478 * dims,) float32 vector in [-1, 1] on x/y, its :class:`NormFrame`).

    Raises:
        InputError: wrong shape, non-finite values, or a degenerate face.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.shape != (T.N_LANDMARKS, 3) or not np.isfinite(lm).all():
        raise InputError(f"LD-Net needs finite (478, 3) landmarks, got shape {lm.shape}")
    dims = space_dims(space)
    if space == "3d":
        origin, axes, pts = to_head(lm)
    else:
        origin, axes, pts = np.zeros(3), np.eye(3), lm[:, :2]
    lo, hi = pts.min(0), pts.max(0)
    centre = 0.5 * (lo + hi)
    half = 0.5 * float((hi - lo)[:2].max())
    if not half > 1e-6:
        raise InputError("degenerate landmarks (zero-size face)")
    vec = ((pts - centre) / half).astype(np.float32).reshape(-1)
    return vec, NormFrame(origin, axes, centre[:dims], half)


def denormalise(vector: np.ndarray, frame: NormFrame) -> np.ndarray:
    """Inverse of :func:`normalise` for one vector: (478 * dims,) -> (478, 3) pixels.

    For "2d" the returned z column is 0.
    """
    dims = len(frame.centre)
    pts = np.asarray(vector, dtype=np.float64).reshape(T.N_LANDMARKS, dims) * frame.half + frame.centre
    if dims == 2:
        return np.concatenate([pts, np.zeros((T.N_LANDMARKS, 1))], axis=1)
    return pts @ frame.axes.T + frame.origin


class LDNetModel:
    """An exported LD-Net (one ONNX graph with E_I, E_P and G) on onnxruntime.

    See :class:`reenactor.models.ldnet.InferenceGraph` for the graph's inputs
    and outputs; the part not asked for gets an empty batch.

    Args:
        model: registry name (default ``"ldnet"``) or path of an ``.onnx`` file.
        threads: onnxruntime intra-op threads.

    Attributes:
        space: landmark representation the model was trained on ("3d"/"2d").
        dim: input vector length (478 * dims).

    Raises:
        reenactor.weights.WeightsError: the shipped file is missing or corrupt.
        DependencyError: onnxruntime is not installed.
    """

    def __init__(self, model: str | Path = MODEL_NAME, threads: int = 1) -> None:
        from reenactor.weights import onnx_session

        self.session = onnx_session(model, threads=threads)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.space = meta.get("space", "3d")
        self.dim = int(self.session.get_inputs()[0].shape[1])
        if self.dim != T.N_LANDMARKS * space_dims(self.space):
            raise InputError(f"LD-Net model input length {self.dim} does not fit space {self.space!r}")

    def _run(self, output: str, vectors: np.ndarray, codes: np.ndarray | None = None) -> np.ndarray:
        x = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        empty = np.zeros((0, self.dim), np.float32)
        if output == "identity":
            feeds = {"landmarks": empty, "identity_code": np.zeros((0, 128), np.float32), "identity_landmarks": x}
        else:
            c = np.zeros((len(x), 128), np.float32) if codes is None else np.ascontiguousarray(codes, dtype=np.float32).reshape(-1, 128)
            feeds = {"landmarks": x, "identity_code": c, "identity_landmarks": empty}
        return self.session.run([output], feeds)[0]

    def identity(self, vectors: np.ndarray) -> np.ndarray:
        """E_I: (N, D) float32 normalised landmarks -> (N, 128) identity codes."""
        return self._run("identity", vectors)

    def pose(self, vectors: np.ndarray) -> np.ndarray:
        """E_P: (N, D) -> (N, 64) pose/expression codes."""
        return self._run("pose", vectors)

    def generate(self, vectors: np.ndarray, identity_codes: np.ndarray) -> np.ndarray:
        """G(E_P(vectors), identity_codes): (N, D), (N, 128) -> (N, D)."""
        return self._run("generated", vectors, identity_codes)


class LDNetRetargeter:
    """Drop-in replacement of :class:`reenactor.motion.retarget.Retargeter` using LD-Net.

    E_I runs once on the portrait; every driver frame goes through E_P and G.
    In ``"3d"`` the generated head-frame landmarks are placed in the portrait's
    head frame (its bounding box, scaled by the driver's expression-driven
    size change), and head rotation, scale and translation come from the
    driver's stable points, re-applied about the portrait's head centre as the
    geometric retargeter does (so ``translation_gain``, the portrait's own
    head pose and the pose controls are honoured; the per-channel ``gain`` scales the
    generated displacement as :mod:`reenactor.motion.controls` describes). In ``"2d"`` the generated x, y are placed by the
    driver's bounding-box motion mapped onto the portrait's bounding box, and
    z comes from the geometric retargeter (the renderer only uses z for depth
    order).

    With ``relative=True`` (the default, see ``docs/ldnet.md``) the result is
    the portrait's landmarks plus the difference between G's output for the
    current driver frame and for the driver's reference frame, both with the
    portrait's identity code: G's reconstruction error on the portrait
    cancels. With ``relative=False`` G's output replaces the portrait's face
    (the paper's use).

    Args:
        portrait: (478, 3) portrait landmarks in crop pixels.
        driver_reference: (478, 3) driver landmarks of the reference frame
            (driver pixels).
        config: retargeting options (``mode="absolute"`` falls back to the
            geometric absolute alignment, which is same-person driving).
        model: an :class:`LDNetModel` or anything with the same
            ``identity/pose/generate`` methods and ``space`` (default: the
            shipped model).
        relative: see above.
    """

    def __init__(
        self,
        portrait: np.ndarray,
        driver_reference: np.ndarray,
        config: RetargetConfig | None = None,
        model=None,
        relative: bool = True,
    ) -> None:
        self.cfg = config or RetargetConfig()
        self.geometric = Retargeter(portrait, driver_reference, self.cfg)
        self.model = model if model is not None else shared_model()
        self.space = self.model.space
        self.relative = bool(relative)
        self.portrait = np.asarray(portrait, dtype=np.float64)
        p_vec, self.p_frame = normalise(self.portrait, self.space)
        self.code = self.model.identity(p_vec[None])
        r_vec, self.r_frame = normalise(driver_reference, self.space)
        self.r_out = self.model.generate(r_vec[None], self.code)[0]
        if self.space == "3d":
            _, _, p_head = to_head(self.portrait)
            self.p_head = p_head
            self.p_axes = head_axes(self.portrait)

    def identity_code(self) -> np.ndarray:
        """(128,) float32 E_I code of the portrait."""
        return self.code[0]

    def __call__(self, driver: np.ndarray) -> np.ndarray:
        """Target portrait landmarks for one driver frame.

        Args:
            driver: (478, 3) driver landmarks in driver-frame pixels.

        Returns:
            (478, 3) float64 target landmarks in crop pixels.
        """
        driver = np.asarray(driver, dtype=np.float64)
        if self.cfg.mode == "absolute":
            return self.geometric(driver)
        vec, frame = normalise(driver, self.space)
        out = self.model.generate(vec[None], self.code)[0]
        return self.place(out, frame, driver)

    def place(self, out: np.ndarray, frame: NormFrame, driver: np.ndarray) -> np.ndarray:
        """Put a generated vector into the portrait's crop (see the class docstring)."""
        dims = space_dims(self.space)
        g = self.geometric
        pose = g.driver_pose(driver)
        pf, rf = self.p_frame, self.r_frame
        if dims == 3:
            # The driver's bounding box in its own head frame, head scale removed,
            # relative to the reference: expression-driven size/centre change.
            k = (frame.half / pose.scale) / rf.half
            shift = (frame.centre / pose.scale - rf.centre) * (pf.half / rf.half)
            head_t = out.reshape(-1, 3) * (pf.half * k) + pf.centre + shift
            if self.relative:
                head_0 = self.r_out.reshape(-1, 3) * pf.half + pf.centre
                delta_head = head_t - head_0
            else:
                delta_head = head_t - self.p_head
            if g.gain_field is not None:  # per-channel gains (reenactor.motion.controls)
                delta_head = delta_head * g.gain_field[:, None]
            delta = delta_head @ self.p_axes.T
            shift_px = pose.apply(g.ref_centre[None])[0] - g.ref_centre
            return g.compose(delta, pose.rotation, pose.scale, shift_px)
        ratio = pf.half / rf.half
        xy_t = out.reshape(-1, 2) * (pf.half * frame.half / rf.half) + pf.centre + (frame.centre - rf.centre) * ratio
        if self.relative:
            xy = self.portrait[:, :2] + xy_t - (self.r_out.reshape(-1, 2) * pf.half + pf.centre)
        else:
            xy = xy_t
        res = g(driver)
        res[:, :2] = xy
        return fix_lids_and_lips(res)


_SHARED: dict[str, LDNetModel] = {}


def shared_model(name: str | Path = MODEL_NAME) -> LDNetModel:
    """One :class:`LDNetModel` per model name or path, per process."""
    key = str(name)
    if key not in _SHARED:
        _SHARED[key] = LDNetModel(name)
    return _SHARED[key]


def make_retargeter(portrait: np.ndarray, driver_reference: np.ndarray, config: RetargetConfig | None = None):
    """The retargeter named by ``config.method``: "geometric" or "ldnet".

    Raises:
        InputError: unknown method.
    """
    cfg = config or RetargetConfig()
    method = getattr(cfg, "method", "geometric")
    if method == "geometric":
        return Retargeter(portrait, driver_reference, cfg)
    if method == "ldnet":
        return LDNetRetargeter(portrait, driver_reference, cfg)
    raise InputError(f"unknown retargeting method {method!r} (use 'geometric' or 'ldnet')")
