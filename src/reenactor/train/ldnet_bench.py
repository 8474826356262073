"""Ground-truth landmark benchmark for retargeting (the paper's LMTest idea) and Table 1.

**Transfer benchmark.** For each held-out clip, two different identity
changes T_B and T_C (:func:`reenactor.train.ldnet_data.sample_identity_params`,
drawn with a seed the training never uses) are applied to the same real,
expressive landmark sequence. "Portrait" = B at the clip's neutral frame,
"driver" = C's whole sequence with C's neutral frame as reference. The
ground truth of frame t is B_t. Error = mean over the 478 points of the
image-plane (x, y) distance to B_t, divided by B_t's inter-ocular distance
(outer eye corners 33-263), averaged over frames and clips. Methods:

* ``driver``: the driver's landmarks as they are after the similarity that
  takes C's reference onto B's (``Retargeter`` in ``absolute`` mode);
* ``geometric``: :class:`reenactor.motion.retarget.Retargeter` (relative);
* ``ldnet``: :class:`reenactor.motion.ldnet.LDNetRetargeter` (relative);
* ``ldnet_absolute``: the same with G's output used as it is (paper's use).

Caveat: T_B and T_C come from the same family of changes the training
augmentation uses (other random draws, held-out people).

**Table 1.** Codes of E_I and E_P for held-out frames under several identity
changes, reduced by PCA (fitted separately per encoder on all codes) to 8
dimensions; mean Euclidean distance over random pairs with the same identity
(same person and change, different frame), the same pose/expression (same
frame, different change) and both different.
"""

from __future__ import annotations

import numpy as np

from reenactor.config import RetargetConfig
from reenactor.motion.ldnet import LDNetRetargeter, normalise
from reenactor.motion.retarget import Retargeter
from reenactor.train.ldnet_data import LandmarkSet, deform_numpy, sample_identity_params

BENCH_SEED = 2024


def clip_rows(s: LandmarkSet, ci: int, n_frames: int) -> np.ndarray:
    """Up to ``n_frames`` evenly spaced rows of clip ``ci``."""
    idx = np.flatnonzero(s.clip == ci)
    return idx[np.linspace(0, len(idx) - 1, min(n_frames, len(idx))).round().astype(int)]


def _iod(lm: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lm[..., 263, :2] - lm[..., 33, :2], axis=-1)


def _identity_pairs(s, n_frames: int, pairs_per_clip: int, rng: np.random.Generator):
    """Yield ``(clip index, frame rows, reference row (1,), identity params)`` for every clip with frames.

    Each clip gets ``pairs_per_clip`` draws of two synthetic identities
    (:func:`sample_identity_params`), in clip order; ``rng`` is used for
    nothing else, so the draws are the same wherever this is iterated.
    """
    for ci in range(len(s.clips)):
        if not (s.clip == ci).any():
            continue
        rows = clip_rows(s, ci, n_frames)
        ref = np.array([s.reference[ci]])
        for _ in range(pairs_per_clip):
            yield ci, rows, ref, sample_identity_params(rng, 2)


def transfer_benchmark(s: LandmarkSet, model, n_frames: int = 60, pairs_per_clip: int = 2, seed: int = BENCH_SEED, methods: tuple[str, ...] = ("driver", "geometric", "ldnet", "ldnet_absolute")) -> dict:
    """Mean landmark error (IOD units) of each method; see the module docstring.

    Args:
        s: held-out clips.
        model: LD-Net with ``identity/pose/generate`` and ``space`` (ONNX or torch wrapper);
            None skips the LD-Net methods.

    Returns:
        ``{"methods": {name: mean error}, "per_clip": {clip: {name: error}}, "frames": int}``
    """
    rng = np.random.default_rng(seed)
    per_clip: dict[str, dict[str, list[float]]] = {}
    total: dict[str, list[float]] = {m: [] for m in methods if model is not None or not m.startswith("ldnet")}
    frames = 0
    for ci, rows, ref, params in _identity_pairs(s, n_frames, pairs_per_clip, rng):
        rec = s.clips[ci]
        b = np.zeros(len(rows), int)
        c = np.ones(len(rows), int)
        gt = deform_numpy(s, rows, params, b)
        drv = deform_numpy(s, rows, params, c)
        portrait = deform_numpy(s, ref, params, np.array([0]))[0]
        drv_ref = deform_numpy(s, ref, params, np.array([1]))[0]
        iod = _iod(gt)
        rts = {}
        for m in total:
            if m == "driver":
                rts[m] = Retargeter(portrait, drv_ref, RetargetConfig(mode="absolute"))
            elif m == "geometric":
                rts[m] = Retargeter(portrait, drv_ref, RetargetConfig())
            else:
                rts[m] = LDNetRetargeter(portrait, drv_ref, RetargetConfig(), model=model, relative=(m == "ldnet"))
        for m, rt in rts.items():
            pred = np.stack([rt(d) for d in drv])
            err = np.linalg.norm(pred[..., :2] - gt[..., :2], axis=-1).mean(1) / iod
            total[m].extend(err.tolist())
            per_clip.setdefault(rec.name, {}).setdefault(m, []).extend(err.tolist())
        frames += len(rows)
    return {
        "methods": {m: float(np.mean(v)) for m, v in total.items()},
        "per_clip": {c: {m: float(np.mean(v)) for m, v in d.items()} for c, d in per_clip.items()},
        "frames": frames,
    }


def _pca(x: np.ndarray, k: int) -> np.ndarray:
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return x @ vt[:k].T


def latent_table(s: LandmarkSet, model, n_changes: int = 6, n_frames: int = 40, n_pairs: int = 200_000, seed: int = BENCH_SEED + 1, dims: int = 8, within_clip: bool = False) -> dict:
    """Table 1: mean distances in E_I's and E_P's PCA-8 spaces for three pair kinds.

    Identities are (person, change) with change 0 the real face; a "frame" is
    a row of ``s``. With ``within_clip`` both members of every pair come from
    the same real sequence (as in LMTest, where all subjects perform one
    video), so identity differs only by the change T; otherwise "same
    identity" pairs are any two frames of one person and "both different"
    pairs any frames of two identities.

    Returns:
        ``{"same identity": (d_I, d_P, pairs), "same pose/exp": ..., "both different": ...}``.
    """
    rng = np.random.default_rng(seed)
    params = sample_identity_params(rng, n_changes, identity_first=True)
    rows = np.concatenate([clip_rows(s, ci, n_frames) for ci in range(len(s.clips)) if (s.clip == ci).any()])
    vecs, ident, frame = [], [], []
    for j in range(n_changes):
        lm = deform_numpy(s, rows, params, np.full(len(rows), j))
        vecs.append(np.stack([normalise(x, model.space)[0] for x in lm]))
        ident.append(s.person[rows] * n_changes + j)
        frame.append(rows)
    v = np.concatenate(vecs)
    ident = np.concatenate(ident)
    frame = np.concatenate(frame)
    zi = _pca(model.identity(v).astype(np.float64), dims)
    zp = _pca(model.pose(v).astype(np.float64), dims)
    n = len(v)
    out = {}
    n_rows = len(rows)
    # same pose/exp: the same frame under two different changes
    r = rng.integers(0, n_rows, n_pairs)
    j1 = rng.integers(0, n_changes, n_pairs)
    j2 = (j1 + rng.integers(1, n_changes, n_pairs)) % n_changes
    same_pe = (j1 * n_rows + r, j2 * n_rows + r)
    # same identity: the same change of the same person, another frame
    j = rng.integers(0, n_changes, n_pairs)
    r1 = rng.integers(0, n_rows, n_pairs)
    pers = s.clip[rows] if within_clip else s.person[rows]
    cand = {p: np.flatnonzero(pers == p) for p in np.unique(pers)}
    r2 = np.array([cand[pers[x]][rng.integers(0, len(cand[pers[x]]))] for x in r1])
    keep = r2 != r1
    same_id = (j[keep] * n_rows + r1[keep], j[keep] * n_rows + r2[keep])
    # both different: random pairs with another identity and another frame
    if within_clip:
        j1 = rng.integers(0, n_changes, n_pairs)
        j2 = (j1 + rng.integers(1, n_changes, n_pairs)) % n_changes
        r1 = rng.integers(0, n_rows, n_pairs)
        r2 = np.array([cand[pers[x]][rng.integers(0, len(cand[pers[x]]))] for x in r1])
        keep = r2 != r1
        both = (j1[keep] * n_rows + r1[keep], j2[keep] * n_rows + r2[keep])
    else:
        a = rng.integers(0, n, 2 * n_pairs)
        b = rng.integers(0, n, 2 * n_pairs)
        ok = (ident[a] != ident[b]) & (frame[a] != frame[b])
        both = (a[ok][:n_pairs], b[ok][:n_pairs])
    for name, (i1, i2) in (("same identity", same_id), ("same pose/exp", same_pe), ("both different", both)):
        out[name] = (float(np.linalg.norm(zi[i1] - zi[i2], axis=1).mean()), float(np.linalg.norm(zp[i1] - zp[i2], axis=1).mean()), int(len(i1)))
    return out


def identity_separation(s: LandmarkSet, model, n_frames: int = 20) -> dict:
    """Mean E_I code distance between frames of one real person vs of two different people.

    Returns ``{"same": float, "different": float}`` (raw 128-d Euclidean distances).
    """
    rows = np.concatenate([clip_rows(s, ci, n_frames) for ci in range(len(s.clips)) if (s.clip == ci).any()])
    v = np.stack([normalise(x, model.space)[0] for x in s.x[rows]])
    z = model.identity(v).astype(np.float64)
    p = s.person[rows]
    d = np.linalg.norm(z[:, None] - z[None], axis=-1)
    same = (p[:, None] == p[None]) & ~np.eye(len(p), dtype=bool)
    diff = p[:, None] != p[None]
    return {"same": float(d[same].mean()), "different": float(d[diff].mean())}


def space_measurement(s: LandmarkSet, n_frames: int = 40, pairs_per_clip: int = 3, seed: int = BENCH_SEED + 2) -> dict:
    """How separable identity and pose/expression are in each representation, without training.

    For pairs of identity changes (B, C) of held-out clips, compares in each
    space's normalised frame: ``as_is`` = |n(C_t) - n(B_t)| (identity
    difference seen by a network) and ``additive`` = |n(B_ref) + n(C_t) - n(C_ref) - n(B_t)|
    (error of adding C's change to B: what remains entangled). Mean point
    distance (x, y) in units of n(B_t)'s inter-ocular distance.

    Returns:
        ``{space: {"as_is": float, "additive": float}}``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for space in ("3d", "2d"):
        dims = 3 if space == "3d" else 2
        as_is, add = [], []
        rng = np.random.default_rng(seed)
        for _, rows, ref, params in _identity_pairs(s, n_frames, pairs_per_clip, rng):

            def vec(r, j):
                lm = deform_numpy(s, r, params, np.full(len(r), j))
                return np.stack([normalise(x, space)[0] for x in lm]).reshape(len(r), -1, dims)

            bt, ct, br, cr = vec(rows, 0), vec(rows, 1), vec(ref, 0), vec(ref, 1)
            iod = _iod(bt)
            as_is.append(np.linalg.norm((ct - bt)[..., :2], axis=-1).mean(1) / iod)
            add.append(np.linalg.norm((br + ct - cr - bt)[..., :2], axis=-1).mean(1) / iod)
        out[space] = {"as_is": float(np.concatenate(as_is).mean()), "additive": float(np.concatenate(add).mean())}
    return out
