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

The field's regions, its parameters and its numpy evaluation are in
:mod:`reenactor.train.ldnet_augment`; its public names are re-exported here.
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
from reenactor.train.ldnet_augment import (  # noqa: F401
    BLOB_RADIUS,
    JAW_POINTS,
    N_BLOBS,
    N_FIELD,
    NOSE_POINTS,
    REGION_RADII,
    REGIONS,
    AugmentConfig,
    IdentityParams,
    field_numpy,
    sample_identity_params,
)


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
