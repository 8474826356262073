"""Training data of the inner-mouth painter: mouth crops, identity split, batches, loss.

Used by ``reenactor train mouth`` (:mod:`reenactor.train.mouth`), which
re-exports these names, and by the FD-GAN trainer (the identity split).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from reenactor.errors import InputError

#: Every frame with an opening above this (inner gap / mouth width) is kept.
OPEN_KEEP = 0.04
#: One closed-mouth frame in this many is kept.
CLOSED_STRIDE = 3
#: Frames whose mouth is narrower than this (video pixels) are skipped.
MIN_MOUTH_PX = 16.0
#: Opening at which the sampling weight saturates.
OPEN_SATURATE = 0.35
#: Openings below this clip-quantile count as "closed" for the appearance frame.
CLOSED_QUANTILE = 0.3
CROPS_VERSION = 1
#: Mask dilations (crop pixels) drawn in training; validation uses the run-time one.
MASK_DILATIONS = (1, 2, 2, 3, 4, 5, 6)


# -------------------------------------------------------------------- crops
def build_crops(data_dir: Path, landmark_dir: Path, cache_dir: Path, log) -> dict:
    """Mouth crops of every cached clip (decoding only clips not yet cached).

    Returns:
        dict with ``crops`` (N, 64, 80, 3) uint8 RGB, ``points`` (N, 40, 2)
        float32 crop pixels (outer then inner lip loop), ``app`` (N, 6) float32
        appearance 0..1, ``opening`` (N,) float32, ``clip`` (N,) int32 index
        into ``clips``, and ``clips``: list of dicts (name, video, identity).

    Raises:
        InputError: no landmark cache and no data to build one from.
    """
    from reenactor.train.landmark_cache import build_cache, load_cache

    try:
        records = load_cache(landmark_dir)
    except InputError:
        log(f"no landmark cache in {landmark_dir}: extracting it (slow)")
        records = build_cache(data_dir, landmark_dir, progress=lambda n: log(f"landmarks: {n}"))
    clip_dir = Path(cache_dir) / "clips"
    clip_dir.mkdir(parents=True, exist_ok=True)
    parts, clips = [], []
    for rec in records:
        if rec.found == 0:
            continue
        path = clip_dir / f"{rec.name}.npz"
        arrays = None
        if path.is_file():
            with np.load(path) as z:
                if int(z["version"]) == CROPS_VERSION:
                    arrays = {k: z[k] for k in z.files}
        if arrays is None:
            t0 = time.perf_counter()
            arrays = _clip_crops(Path(data_dir), landmark_dir, rec)
            tmp = clip_dir / f".{rec.name}.tmp.npz"
            np.savez_compressed(tmp, **arrays)
            tmp.replace(path)
            log(f"crops: {rec.name}: {len(arrays['opening'])} crops in {time.perf_counter() - t0:.1f}s")
        if len(arrays["opening"]) == 0:
            continue
        arrays["clip"] = np.full(len(arrays["opening"]), len(clips), np.int32)
        clips.append({"name": rec.name, "video": rec.video, "identity": rec.identity})
        parts.append(arrays)
    if not parts:
        raise InputError("no mouth crops could be built (empty landmark cache?)")
    keys = ("crops", "points", "app", "opening", "clip")
    data = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    data["clips"] = clips
    log(f"crops: {len(data['opening'])} from {len(clips)} clips")
    return data


def _clip_crops(data_dir: Path, landmark_dir: Path, rec) -> dict:
    from reenactor.face import topology as T
    from reenactor.render import mouth_learned as ML
    from reenactor.render.mouth import mouth_opening
    from reenactor.train.landmark_cache import frames_at, load_clip

    arr = load_clip(landmark_dir, rec)
    lms, found, index = arr["landmarks"], arr["found"], arr["frame_index"]
    want: dict[int, int] = {}
    n_closed = 0
    for k in np.flatnonzero(found):
        lm = lms[k]
        width = float(np.linalg.norm(lm[T.MOUTH_CORNERS[1], :2] - lm[T.MOUTH_CORNERS[0], :2]))
        if not np.isfinite(lm).all() or width < MIN_MOUTH_PX:
            continue
        if mouth_opening(lm) > OPEN_KEEP:
            want[int(index[k])] = int(k)
        else:
            if n_closed % CLOSED_STRIDE == 0:
                want[int(index[k])] = int(k)
            n_closed += 1
    crops, points, app, opening = [], [], [], []
    for k, frame in frames_at(data_dir / rec.video, want):
        lm = lms[k].astype(np.float64)
        m = ML.mouth_affine(lm)
        crops.append(ML.crop_mouth(frame, m))
        points.append(ML.lip_points(lm, m))
        app.append(ML.appearance(frame, lm))
        opening.append(mouth_opening(lm))
    return {
        "version": np.int32(CROPS_VERSION),
        "crops": np.asarray(crops, np.uint8).reshape(-1, ML.CROP_H, ML.CROP_W, 3),
        "points": np.asarray(points, np.float32).reshape(-1, 40, 2),
        "app": np.asarray(app, np.float32).reshape(-1, 6),
        "opening": np.asarray(opening, np.float32),
    }


# -------------------------------------------------------------------- split
def eval_videos() -> set[str]:
    """The driver videos of ``reenactor eval``'s sets (sets.tsv), as MANIFEST paths (``videos/...``)."""
    sets = Path(__file__).resolve().parent.parent / "eval" / "sets.tsv"
    videos = set()
    if sets.is_file():
        for line in sets.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) >= 4:
                videos.add(cells[3])
    return videos


def eval_identities(clips: list[dict]) -> set[str]:
    """Identities of the clips used by ``reenactor eval`` (sets.tsv drivers)."""
    videos = eval_videos()
    return {c["identity"] for c in clips if c["video"] in videos}


def identity_split(clips: list[dict], n_val: int, seed: int) -> dict:
    """Hold out whole identities: all evaluation identities, then random ones up to ``n_val``.

    Returns:
        {"train": sorted identities, "val": sorted identities, "forced": the
        evaluation identities among "val"}.
    """
    ids = sorted({c["identity"] for c in clips})
    forced = sorted(eval_identities(clips))
    rest = [i for i in ids if i not in forced]
    rng = np.random.default_rng(seed)
    extra = max(0, n_val - len(forced))
    pick = sorted(rng.choice(rest, size=min(extra, len(rest)), replace=False).tolist()) if extra and rest else []
    val = sorted(set(forced) | set(pick))
    return {"train": [i for i in ids if i not in val], "val": val, "forced": forced}


# ----------------------------------------------------------------- batches
class Sampler:
    """Draws augmented training batches / fixed validation batches.

    Args:
        data: from :func:`build_crops`.
        identities: identities whose clips are used.
        seed: RNG seed.
    """

    def __init__(self, data: dict, identities: list[str], seed: int) -> None:
        keep_clip = np.array([c["identity"] in set(identities) for c in data["clips"]])
        self.idx = np.flatnonzero(keep_clip[data["clip"]])
        self.data = data
        self.rng = np.random.default_rng(seed)
        op = data["opening"][self.idx]
        w = 0.15 + np.clip(op, 0.0, OPEN_SATURATE) / OPEN_SATURATE
        self.p = w / w.sum()
        # Per clip: indices of its closed-ish frames (appearance references).
        self.refs: dict[int, np.ndarray] = {}
        clip_of = data["clip"][self.idx]
        for c in np.unique(clip_of):
            members = self.idx[clip_of == c]
            ops = data["opening"][members]
            self.refs[int(c)] = members[ops <= np.quantile(ops, CLOSED_QUANTILE)]

    def __len__(self) -> int:
        return len(self.idx)

    def reference_app(self, i: int, rng: np.random.Generator | None) -> np.ndarray:
        refs = self.refs[int(self.data["clip"][i])]
        if rng is None:
            return np.median(self.data["app"][refs], 0)
        return self.data["app"][refs[rng.integers(len(refs))]]

    def sample(self, i: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(13, 64, 80) input and (4, 64, 80) target (RGB 0..1, then the mask) of crop ``i``."""
        import cv2

        from reenactor.render import mouth_learned as ML

        crop = self.data["crops"][i]
        pts = self.data["points"][i].astype(np.float64)
        cond = self.reference_app(i, rng).astype(np.float64)
        if rng is not None:
            # Small similarity jitter: landmarks of rendered targets are not those of real frames.
            s = rng.uniform(0.92, 1.08)
            a = np.deg2rad(rng.uniform(-5, 5))
            t = rng.uniform(-2, 2, 2)
            c = np.array([ML.CROP_W / 2.0, ML.CROP_H / 2.0])
            rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
            m = np.hstack([rot, (c - rot @ c + t)[:, None]])
            crop = cv2.warpAffine(crop, m, (ML.CROP_W, ML.CROP_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            pts = pts @ m[:, :2].T + m[:, 2]
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
                pts[:, 0] = ML.CROP_W - 1 - pts[:, 0]
            gain = rng.uniform(0.7, 1.3) * rng.uniform(0.88, 1.12, 3)
            crop = np.clip(crop.astype(np.float32) * gain, 0, 255).astype(np.uint8)
            cond = np.clip(cond * np.tile(gain, 2) + rng.normal(0, 0.015, 6), 0, 1)
        # A wider mask now and then hides the lips too: the lip colour must then
        # come from the condition and the lip ring, as on thin-lipped portraits.
        shape = ML.shape_channels(pts, ML.MASK_DILATE if rng is None else int(rng.choice(MASK_DILATIONS)))
        x = ML.net_input(np.ascontiguousarray(crop), shape, cond)
        y = np.concatenate([crop.astype(np.float32).transpose(2, 0, 1) / 255.0, shape[:1]], 0)
        return x, y

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """An augmented batch of ``n``: (n, 13, 64, 80) inputs, (n, 4, 64, 80) targets."""
        picks = self.rng.choice(self.idx, size=n, p=self.p)
        xs, ys = zip(*(self.sample(int(i), self.rng) for i in picks))
        return np.stack(xs), np.stack(ys)

    def fixed(self, n: int, seed: int, min_opening: float = 0.12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A fixed, un-augmented set of up to ``n`` open-mouth crops (inputs, targets, indices)."""
        rng = np.random.default_rng(seed)
        cand = self.idx[self.data["opening"][self.idx] > min_opening]
        picks = np.sort(rng.choice(cand, size=min(n, len(cand)), replace=False))
        xs, ys = zip(*(self.sample(int(i), None) for i in picks))
        return np.stack(xs), np.stack(ys), picks


def masked_losses(pred, target):
    """(L1, gradient L1) inside the mask; tensors (N, 3, H, W) and (N, 4, H, W)."""
    import torch

    rgb, mask = target[:, :3], target[:, 3:4]
    comp = pred * mask + rgb * (1 - mask)
    area = mask.sum().clamp_min(1.0) * 3
    l1 = ((pred - rgb).abs() * mask).sum() / area
    gx = ((comp[..., :, 1:] - comp[..., :, :-1]) - (rgb[..., :, 1:] - rgb[..., :, :-1])).abs()
    gy = ((comp[..., 1:, :] - comp[..., :-1, :]) - (rgb[..., 1:, :] - rgb[..., :-1, :])).abs()
    mx = torch.maximum(mask[..., :, 1:], mask[..., :, :-1])
    my = torch.maximum(mask[..., 1:, :], mask[..., :-1, :])
    grad = ((gx * mx).sum() + (gy * my).sum()) / (2 * area)
    return l1, grad


#: Weight of the image-gradient L1 in the training loss (:func:`masked_losses`).
GRAD_WEIGHT = 0.5
