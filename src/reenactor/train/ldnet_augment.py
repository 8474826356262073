"""Synthetic identity changes for LD-Net training: the field's regions, parameters and evaluation.

The identity displacement field is defined in :mod:`reenactor.train.ldnet_data`
(module docstring, "Identity augmentation"), which re-exports these names;
this module draws its parameters (:func:`sample_identity_params`) and
evaluates it with numpy (:func:`field_numpy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenactor.face import topology as T

#: Named regions of the identity field: (name, landmark indices of the centre, radius in IOD).
NOSE_POINTS = (1, 2, 4, 5, 6, 195, 197, 98, 327)
JAW_POINTS = (152, 148, 377, 176, 400, 149, 378)
REGIONS: tuple[tuple[str, tuple[int, ...], float], ...] = (
    ("global", T.STABLE_POINTS, 0.0),  # radius 0 = everywhere
    ("right_eye", T.RIGHT_EYE_LOOP, 0.35),
    ("left_eye", T.LEFT_EYE_LOOP, 0.35),
    ("right_brow", T.RIGHT_BROW, 0.3),
    ("left_brow", T.LEFT_BROW, 0.3),
    ("nose", NOSE_POINTS, 0.35),
    ("mouth", T.OUTER_LIP_LOOP, 0.45),
    ("jaw", JAW_POINTS, 0.7),
)
N_BLOBS = 3
BLOB_RADIUS = 0.8
N_FIELD = len(REGIONS) + N_BLOBS
REGION_RADII = np.array([r for _, _, r in REGIONS] + [BLOB_RADIUS] * N_BLOBS, np.float32)


@dataclass(frozen=True)
class AugmentConfig:
    """Standard deviations of the identity changes (fractions; IOD units for shifts)."""

    face_width: float = 0.06
    face_length: float = 0.06
    face_depth: float = 0.08
    eye_size: float = 0.08
    eye_open: float = 0.12
    eye_spacing: float = 0.04
    eye_height: float = 0.03
    brow_height: float = 0.05
    nose_width: float = 0.1
    nose_length: float = 0.08
    nose_depth: float = 0.1
    nose_shift: float = 0.04
    mouth_width: float = 0.08
    lip_thickness: float = 0.12
    mouth_shift: float = 0.04
    jaw_width: float = 0.08
    chin_length: float = 0.08
    blob_affine: float = 0.03
    blob_shift: float = 0.02
    asymmetry: float = 0.2  # left/right difference as a fraction of each term


@dataclass
class IdentityParams:
    """Parameters of ``n`` synthetic identity changes.

    Attributes:
        A: (n, N_FIELD, 3, 3) float32 affine parts.
        t: (n, N_FIELD, 3) float32 shifts (IOD units).
        blob_centres: (n, N_BLOBS, 3) float32 canonical centres of the random blobs.
    """

    A: np.ndarray
    t: np.ndarray
    blob_centres: np.ndarray

    def __len__(self) -> int:
        return len(self.A)

    @staticmethod
    def concat(parts: list["IdentityParams"]) -> "IdentityParams":
        return IdentityParams(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("A", "t", "blob_centres")))


def sample_identity_params(rng: np.random.Generator, n: int, cfg: AugmentConfig | None = None, identity_first: bool = False) -> IdentityParams:
    """Draw ``n`` random identity changes.

    Args:
        rng: numpy generator.
        n: how many.
        cfg: magnitudes.
        identity_first: make entry 0 the zero change (the real face).
    """
    c = cfg or AugmentConfig()
    A = np.zeros((n, N_FIELD, 3, 3), np.float32)
    t = np.zeros((n, N_FIELD, 3), np.float32)
    g = rng.standard_normal

    def asym(v: float) -> tuple[float, float]:
        d = c.asymmetry * v * g()
        return v + d, v - d

    for i in range(n):
        A[i, 0] = np.diag([c.face_width * g(), c.face_length * g(), c.face_depth * g()])
        es, eo, sp, eh = c.eye_size * g(), c.eye_open * g(), c.eye_spacing * g(), c.eye_height * g()
        (es_r, es_l), (eo_r, eo_l) = asym(es), asym(eo)
        A[i, 1] = np.diag([es_r, eo_r, es_r])
        A[i, 2] = np.diag([es_l, eo_l, es_l])
        # The right eye (image left, smaller x) moves by -sp, the left by +sp.
        t[i, 1] = (-sp, eh, 0.0)
        t[i, 2] = (sp, eh, 0.0)
        bh_r, bh_l = asym(c.brow_height * g())
        t[i, 3] = (0.0, bh_r, 0.0)
        t[i, 4] = (0.0, bh_l, 0.0)
        A[i, 5] = np.diag([c.nose_width * g(), c.nose_length * g(), c.nose_depth * g()])
        t[i, 5] = (0.0, c.nose_shift * g(), 0.0)
        A[i, 6] = np.diag([c.mouth_width * g(), c.lip_thickness * g(), 0.0])
        t[i, 6] = (0.0, c.mouth_shift * g(), 0.0)
        A[i, 7] = np.diag([c.jaw_width * g(), c.chin_length * g(), 0.0])
        k = len(REGIONS)
        A[i, k:] = c.blob_affine * rng.standard_normal((N_BLOBS, 3, 3))
        t[i, k:] = c.blob_shift * rng.standard_normal((N_BLOBS, 3))
    blobs = np.stack([rng.uniform(-1.0, 1.0, (n, N_BLOBS)), rng.uniform(-1.0, 1.6, (n, N_BLOBS)), np.zeros((n, N_BLOBS))], -1)
    if identity_first and n:
        A[0] = 0.0
        t[0] = 0.0
    return IdentityParams(A, t, blobs.astype(np.float32))


def field_numpy(p: np.ndarray, centres: np.ndarray, radii: np.ndarray, A: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Identity displacement field at canonical points.

    Args:
        p: (..., N, 3) canonical positions (IOD units).
        centres: (..., K, 3) field centres; radii: (..., K) (0 = infinite).
        A: (..., K, 3, 3); t: (..., K, 3).

    Returns:
        (..., N, 3) displacements, canonical units.
    """
    d = p[..., :, None, :] - centres[..., None, :, :]  # (..., N, K, 3)
    r2 = np.where(radii > 0, radii**2, np.inf)[..., None, :]
    w = np.exp(-(d**2).sum(-1) / r2)  # (..., N, K)
    aff = np.einsum("...nkj,...kij->...nki", d, A) + t[..., None, :, :]
    return (w[..., None] * aff).sum(-2)
