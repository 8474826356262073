"""LD-Net training data: identity split, canonical frames and identity augmentation.

Everything here works on the landmark cache of :mod:`reenactor.train.landmark_cache`
(pixel landmarks, (F, 478, 3) float32 per clip) and needs numpy; the batch
functions at the end need torch and import it inside.

**Split.** Identities (the manifest's identity column, so clips of one
person stay together) are shuffled with a fixed seed; the first
``test_fraction`` go to the test split, the next ``val_fraction`` to
validation, the rest to training (:func:`split_identities`).

**Canonical frame.** Each clip's most neutral frontal frame
(:func:`reenactor.motion.retarget.choose_reference`) defines the clip's
canonical frame: origin at the mean of the expression-stable points, axes from
:func:`reenactor.face.pose.head_axes`, unit = the reference's inter-ocular
distance (IOD). Every frame ``t`` is mapped there by undoing its head pose
(similarity of its stable points onto the reference), giving ``P_t``
(478, 3) canonical positions and ``W_t`` (3, 3), the linear map from a
canonical displacement (row vector) to a pixel displacement in frame ``t``.

**Identity augmentation (synthetic identities).** An identity change is a
smooth displacement field ``u`` over canonical space, a sum of Gaussian-windowed
affine pieces ``u(p) = sum_k exp(-|p - c_k|^2 / r_k^2) ((p - c_k) A_k^T + t_k)``:
a global one (face width, length, depth), both eyes (size, opening, spacing,
height, mirrored), both brows (height), nose (width, length, protrusion,
position), mouth (width, lip thickness, height), jaw/chin (width, length) and
three random low-frequency blobs. Region centres sit on the clip's neutral
face; the parameters belong to the synthetic identity, so every clip of one
person gets the same change and every frame of a clip is displaced
consistently (``x'_t = x_t + u(P_t) W_t``). Because ``u`` is evaluated at each
frame's own canonical positions, expression motion is stretched with the face
(a wider mouth also smiles wider).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenactor.errors import InputError
from reenactor.face import topology as T
from reenactor.face.pose import fit_similarity, head_axes
from reenactor.motion.retarget import choose_reference
from reenactor.train.landmark_cache import ClipRecord, load_clip

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


@dataclass
class LandmarkSet:
    """Frames of a set of clips, ready for augmentation.

    Frames are sorted by person so each person's frames are contiguous.

    Attributes:
        clips: the clip records, in clip-index order.
        persons: person (identity) names, in person-index order.
        x: (N, 478, 3) float32 pixel landmarks.
        p: (N, 478, 3) float32 canonical positions (IOD units).
        w: (N, 3, 3) float32 canonical -> pixel displacement maps (row vectors).
        clip: (N,) int32 clip index; person: (N,) int32 person index.
        frame: (N,) int32 index of the frame inside its cached clip.
        reference: (n_clips,) int32 row in ``x`` of each clip's neutral frame.
        region_centres: (n_clips, len(REGIONS), 3) float32 canonical centres.
        person_start, person_count: (n_persons,) int64 row ranges.
    """

    clips: list[ClipRecord]
    persons: list[str]
    x: np.ndarray
    p: np.ndarray
    w: np.ndarray
    clip: np.ndarray
    person: np.ndarray
    frame: np.ndarray
    reference: np.ndarray
    region_centres: np.ndarray
    person_start: np.ndarray
    person_count: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def split_identities(records: list[ClipRecord], seed: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.15, min_frames: int = 30) -> dict[str, list[ClipRecord]]:
    """Split clips by identity into ``train``/``val``/``test`` (whole people held out).

    Clips with fewer than ``min_frames`` frames with a face are dropped. The
    split depends only on the sorted identity names and ``seed``.
    """
    recs = [r for r in records if r.found >= min_frames]
    ids = sorted({r.identity for r in recs})
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = max(1, int(round(test_fraction * len(ids))))
    n_val = max(1, int(round(val_fraction * len(ids))))
    test = {ids[i] for i in order[:n_test]}
    val = {ids[i] for i in order[n_test:n_test + n_val]}
    out: dict[str, list[ClipRecord]] = {"train": [], "val": [], "test": []}
    for r in sorted(recs, key=lambda r: r.name):
        out["test" if r.identity in test else "val" if r.identity in val else "train"].append(r)
    return out


def load_set(cache_dir: str | Path, records: list[ClipRecord], max_frames: int | None = 600, rng_seed: int = 0) -> LandmarkSet:
    """Load clips, keep frames with a face (at most ``max_frames`` per clip, evenly spaced), canonicalise.

    Raises:
        InputError: no usable frame.
    """
    persons = sorted({r.identity for r in records})
    pid = {n: i for i, n in enumerate(persons)}
    recs = sorted(records, key=lambda r: (pid[r.identity], r.name))
    xs, ps, ws, clip_i, person_i, frame_i, refs, centres = [], [], [], [], [], [], [], []
    row = 0
    for ci, rec in enumerate(recs):
        arr = load_clip(cache_dir, rec)
        lm, found = arr["landmarks"], arr["found"].astype(bool)
        found &= np.isfinite(lm).all(axis=(1, 2))
        idx = np.flatnonzero(found)
        if len(idx) == 0:
            continue
        if max_frames is not None and len(idx) > max_frames:
            idx = idx[np.linspace(0, len(idx) - 1, max_frames).round().astype(int)]
        track = lm[idx].astype(np.float64)
        ref_local = choose_reference(track, np.ones(len(idx), bool))
        p, w = canonicalise(track, track[ref_local])
        xs.append(track.astype(np.float32))
        ps.append(p)
        ws.append(w)
        clip_i.append(np.full(len(idx), ci, np.int32))
        person_i.append(np.full(len(idx), pid[rec.identity], np.int32))
        frame_i.append(idx.astype(np.int32))
        refs.append(row + ref_local)
        centres.append(region_centres(p[ref_local]))
        row += len(idx)
    if not xs:
        raise InputError("no usable frame in the landmark cache for this split")
    person = np.concatenate(person_i)
    start = np.array([np.flatnonzero(person == i).min() if (person == i).any() else 0 for i in range(len(persons))], np.int64)
    count = np.array([(person == i).sum() for i in range(len(persons))], np.int64)
    return LandmarkSet(
        clips=recs, persons=persons, x=np.concatenate(xs), p=np.concatenate(ps), w=np.concatenate(ws),
        clip=np.concatenate(clip_i), person=person, frame=np.concatenate(frame_i),
        reference=np.asarray(refs, np.int32), region_centres=np.stack(centres).astype(np.float32),
        person_start=start, person_count=count,
    )


def canonicalise(track: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical positions and displacement maps of a track (see the module docstring).

    Args:
        track: (F, 478, 3) pixel landmarks; reference: (478, 3) the neutral frame.

    Returns:
        ((F, 478, 3) float32 canonical positions, (F, 3, 3) float32 maps W_t
        with ``pixel_displacement = canonical_displacement @ W_t``).
    """
    c_ref = reference[list(T.STABLE_POINTS)].mean(0)
    a_ref = head_axes(reference)
    iod = float(np.linalg.norm(reference[263] - reference[33])) or 1.0
    ps = np.empty(track.shape, np.float32)
    ws = np.empty((len(track), 3, 3), np.float32)
    for i, x in enumerate(track):
        s = fit_similarity(reference, x)
        ps[i] = ((s.inverse_apply(x) - c_ref) @ a_ref) / iod
        ws[i] = iod * s.scale * (a_ref.T @ s.rotation.T)
    return ps, ws


def region_centres(p_neutral: np.ndarray) -> np.ndarray:
    """(len(REGIONS), 3) canonical centres of the named regions on a neutral face."""
    return np.stack([p_neutral[list(idx)].mean(0) for _, idx, _ in REGIONS])


REGION_RADII = np.array([r for _, _, r in REGIONS] + [BLOB_RADIUS] * N_BLOBS, np.float32)


def deform_numpy(s: LandmarkSet, rows: np.ndarray, params: IdentityParams, which: np.ndarray) -> np.ndarray:
    """Pixel landmarks of frames ``rows`` under identity changes ``params[which]``.

    Args:
        rows: (B,) int rows of ``s``; which: (B,) int entries of ``params``.

    Returns:
        (B, 478, 3) float64 pixel landmarks.
    """
    centres = np.concatenate([s.region_centres[s.clip[rows]], params.blob_centres[which]], axis=1)
    radii = np.broadcast_to(REGION_RADII, (len(rows), N_FIELD))
    u = field_numpy(s.p[rows].astype(np.float64), centres, radii, params.A[which], params.t[which])
    return s.x[rows] + np.einsum("bnj,bji->bni", u, s.w[rows])


# --------------------------------------------------------------------- torch
def normalise_torch(x, space: str = "3d"):
    """Batched torch twin of :func:`reenactor.motion.ldnet.normalise`.

    Args:
        x: (B, 478, 3) float tensor, pixels.

    Returns:
        (B, 478 * dims) float32 tensor.
    """
    import torch

    if space == "3d":
        origin = x[:, list(T.STABLE_POINTS)].mean(1, keepdim=True)
        ax = x[:, T.LEFT_EYE_CORNERS[0]] - x[:, T.RIGHT_EYE_CORNERS[0]]
        ax = ax / (ax.norm(dim=-1, keepdim=True) + 1e-12)
        ay = x[:, T.CHIN] - x[:, T.FOREHEAD_TOP]
        ay = ay - ax * (ax * ay).sum(-1, keepdim=True)
        ay = ay / (ay.norm(dim=-1, keepdim=True) + 1e-12)
        az = torch.cross(ax, ay, dim=-1)
        axes = torch.stack([ax, ay, az], dim=-1)  # (B, 3, 3), columns
        pts = (x - origin) @ axes
    elif space == "2d":
        pts = x[..., :2]
    else:
        raise InputError(f"unknown LD-Net landmark space {space!r}")
    lo, hi = pts.min(1, keepdim=True).values, pts.max(1, keepdim=True).values
    centre = 0.5 * (lo + hi)
    half = 0.5 * (hi - lo)[..., :2].max(-1, keepdim=True).values.clamp_min(1e-6)
    return ((pts - centre) / half).reshape(len(x), -1).float()


class TorchSet:
    """A :class:`LandmarkSet` as torch tensors with batched augmentation."""

    def __init__(self, s: LandmarkSet, params: IdentityParams, n_aug: int, max_persons: int | None = None) -> None:
        import torch

        self.s = s
        self.n_persons = len(s.persons) if max_persons is None else min(max_persons, len(s.persons))
        self.n_aug = int(n_aug)  # synthetic identities per person (label 0 of each person = real)
        self.n_labels = self.n_persons * (self.n_aug + 1)
        if len(params) < self.n_labels:
            raise InputError("not enough identity parameters for the labels")
        self.x = torch.from_numpy(s.x)
        self.p = torch.from_numpy(s.p)
        self.w = torch.from_numpy(s.w)
        self.clip = torch.from_numpy(s.clip.astype(np.int64))
        self.centres = torch.from_numpy(s.region_centres)
        self.A = torch.from_numpy(params.A[: self.n_labels])
        self.t = torch.from_numpy(params.t[: self.n_labels])
        self.blobs = torch.from_numpy(params.blob_centres[: self.n_labels])
        self.radii2 = torch.from_numpy(np.where(REGION_RADII > 0, REGION_RADII**2, np.inf).astype(np.float32))
        self.start = s.person_start[: self.n_persons]
        self.count = s.person_count[: self.n_persons]

    def sample_frames(self, rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
        """One random row of each label's person: (B,) int64."""
        person = labels // (self.n_aug + 1)
        return self.start[person] + (rng.random(len(labels)) * self.count[person]).astype(np.int64)

    def sample_labels(self, rng: np.random.Generator, n: int, avoid: np.ndarray | None = None) -> np.ndarray:
        """(n,) int64 labels, uniform; different from ``avoid`` element-wise if given."""
        lab = rng.integers(0, self.n_labels, n)
        if avoid is not None and self.n_labels > 1:
            same = lab == avoid
            while same.any():
                lab[same] = rng.integers(0, self.n_labels, int(same.sum()))
                same = lab == avoid
        return lab

    def landmarks(self, rows: np.ndarray, labels: np.ndarray):
        """(B, 478, 3) float32 pixel landmarks of ``rows`` under identities ``labels``."""
        import torch

        r = torch.from_numpy(np.asarray(rows, np.int64))
        k = torch.from_numpy(np.asarray(labels, np.int64))
        p = self.p[r]
        centres = torch.cat([self.centres[self.clip[r]], self.blobs[k]], dim=1)  # (B, K, 3)
        d = p[:, :, None, :] - centres[:, None, :, :]  # (B, N, K, 3)
        wgt = torch.exp(-(d**2).sum(-1) / self.radii2)  # (B, N, K)
        aff = torch.einsum("bnkj,bkij->bnki", d, self.A[k]) + self.t[k][:, None]
        u = (wgt[..., None] * aff).sum(2)
        return self.x[r] + torch.einsum("bnj,bji->bni", u, self.w[r])

    def vectors(self, rows: np.ndarray, labels: np.ndarray, space: str):
        """(B, D) normalised input vectors of ``rows`` under identities ``labels``."""
        return normalise_torch(self.landmarks(rows, labels), space)
