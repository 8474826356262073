"""FD-GAN training data: per-clip crop cache, identity split, frame pairs, validation set.

Numpy and OpenCV only (the batches are numpy; :mod:`reenactor.train.fdgan`
turns them into tensors).

**Crops.** Every clip of the landmark cache (:mod:`reenactor.train.landmark_cache`)
is decoded once; up to ``max_frames`` frames with a face (evenly spaced)
are cropped with :func:`reenactor.render.landmark_image.crop_affine` (each
frame by its own landmarks) and stored as ``<cache>/<region><size>/<clip>.npz``:
``crops`` (F, S, S, 3) uint8 RGB, ``points`` (F, 478, 2) float32 crop pixels,
``opening`` (F,) mouth opening (:func:`reenactor.render.mouth.mouth_opening`),
``appearance`` (F, 6) float32 0..1, the learned mouth painter's appearance
condition measured on the whole frame
(:func:`reenactor.render.mouth_learned.appearance`; for ``--cond learned``).

**Split.** Whole identities are held out with
:func:`reenactor.train.mouth.identity_split`: every identity of an evaluation
set (``reenactor/eval/sets.tsv``), then random ones up to ``n_val``.

**Pairs** (Sec. 3.2: two frames of one clip). A target frame j (for the mouth,
drawn with weight rising with the mouth opening, as in ``train mouth``) and a
source frame i != j of the same clip. The generator sees the source crop x_i,
its landmark image l_i and the target landmark image l_j; with a condition it
also sees x_i warped piecewise-affinely onto j's landmarks
(:func:`reenactor.render.landmark_image.warp_to_landmarks`). It must predict
x_j. Augmentation: the same horizontal flip of both frames (landmark indices
mirrored) and the same colour gain. With a condition, each pair also carries the
renderer's blend of the inner mouth (``blend``, ``amount``): where and how
strongly ``--mouth`` paints over the warp at run time (``--loss composite``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from reenactor.errors import InputError
from reenactor.face import topology as T
from reenactor.render import landmark_image as L
from reenactor.render.mouth_hint import no_hint, training_hint

CROPS_VERSION = 2
#: Frames whose outer eye corners are closer than this (video pixels) are skipped.
MIN_IOD_PX = 24.0
#: Validation targets of the mouth region need at least this opening.
VAL_MIN_OPENING = 0.12
#: ``closed_sources``: sources come from frames at or below this quantile of their clip's opening.
CLOSED_QUANTILE = 0.3


# -------------------------------------------------------------------- crops
def build_crops(data_dir: Path, landmark_dir: Path, cache_dir: Path, region: str, size: int, max_frames: int, log) -> dict:
    """Crops of every cached clip (decoding only the clips not cached yet).

    Returns:
        dict with ``crops`` (N, S, S, 3) uint8, ``points`` (N, 478, 2) float32,
        ``opening`` (N,) float32, ``appearance`` (N, 6) float32, ``clip`` (N,) int32 into ``clips`` (dicts with
        name, video, identity).

    Raises:
        InputError: no landmark cache and no data to build one from, or no crop.
    """
    from reenactor.train.landmark_cache import build_cache, load_cache

    try:
        records = load_cache(landmark_dir)
    except InputError:
        log(f"no landmark cache in {landmark_dir}: extracting it from {data_dir} (slow)")
        records = build_cache(data_dir, landmark_dir, progress=lambda n: log(f"landmarks: {n}"))
    folder = Path(cache_dir) / f"{region}{size}"
    folder.mkdir(parents=True, exist_ok=True)
    parts, clips = [], []
    for rec in records:
        if rec.found < 2:
            continue
        path = folder / f"{rec.name}.npz"
        arrays = _load_if_current(path, max_frames)
        if arrays is None:
            t0 = time.perf_counter()
            arrays = clip_crops(Path(data_dir), landmark_dir, rec, region, size, max_frames)
            tmp = folder / f".{rec.name}.tmp.npz"
            np.savez(tmp, **arrays)
            tmp.replace(path)
            log(f"crops: {rec.name}: {len(arrays['opening'])} in {time.perf_counter() - t0:.1f}s")
        if len(arrays["opening"]) < 2:
            continue
        arrays["clip"] = np.full(len(arrays["opening"]), len(clips), np.int32)
        clips.append({"name": rec.name, "video": rec.video, "identity": rec.identity})
        parts.append(arrays)
    if not parts:
        raise InputError("no FD-GAN crops could be built (empty landmark cache?)")
    data = {k: np.concatenate([p[k] for p in parts]) for k in ("crops", "points", "opening", "appearance", "clip")}
    data["clips"] = clips
    log(f"crops: {len(data['clip'])} frames from {len(clips)} clips ({region}, {size} px)")
    return data


def _load_if_current(path: Path, max_frames: int) -> dict | None:
    if not path.is_file():
        return None
    with np.load(path) as z:
        if int(z["version"]) != CROPS_VERSION or int(z["max_frames"]) != max_frames:
            return None
        return {k: z[k] for k in ("crops", "points", "opening", "appearance")}


def clip_crops(data_dir: Path, landmark_dir: Path, rec, region: str, size: int, max_frames: int) -> dict:
    """Crops of one clip (see the module docstring); arrays as stored in the cache."""
    from reenactor.render.mouth import mouth_opening
    from reenactor.render.mouth_learned import appearance
    from reenactor.train.landmark_cache import frames_at, load_clip

    arr = load_clip(landmark_dir, rec)
    lms, found, index = arr["landmarks"], arr["found"].astype(bool), arr["frame_index"]
    ok = [k for k in np.flatnonzero(found) if np.isfinite(lms[k]).all() and T.inter_ocular(lms[k]) >= MIN_IOD_PX]
    if len(ok) > max_frames:
        ok = [ok[i] for i in np.linspace(0, len(ok) - 1, max_frames).round().astype(int)]
    want = {int(index[k]): int(k) for k in ok}
    crops, points, opening, looks = [], [], [], []
    for k, frame in frames_at(data_dir / rec.video, want):
        m = L.crop_affine(lms[k], region, size)
        crops.append(L.crop_image(frame, m, size))
        points.append(L.to_crop(lms[k], m))
        opening.append(mouth_opening(lms[k]))
        looks.append(appearance(frame, lms[k]))
    return {
        "version": np.int32(CROPS_VERSION),
        "max_frames": np.int32(max_frames),
        "crops": np.asarray(crops, np.uint8).reshape(-1, size, size, 3),
        "points": np.asarray(points, np.float32).reshape(-1, T.N_LANDMARKS, 2),
        "opening": np.asarray(opening, np.float32),
        "appearance": np.asarray(looks, np.float32).reshape(-1, 6),
    }


def split(data: dict, n_val: int, seed: int) -> dict:
    """Identity split (see the module docstring), plus the clip names of each side."""
    from reenactor.train.mouth import identity_split

    out = identity_split(data["clips"], n_val, seed)
    for side in ("train", "val"):
        keep = set(out[side])
        out[f"{side}_clips"] = sorted(c["name"] for c in data["clips"] if c["identity"] in keep)
    return out


# -------------------------------------------------------------------- pairs
to_unit = L.to_unit


class PairSampler:
    """Frame pairs of one side of the split as network inputs (numpy).

    Args:
        data: from :func:`build_crops`.
        identities: the identities used; their order gives the class labels.
        region: ``"mouth"`` or ``"lips"`` (targets weighted by opening) or ``"face"``.
        lm_ch: landmark image channels (1 or 3).
        cond: ``None`` (no condition), ``"warp"`` or ``True`` (the warped
            source as ``cond``, and as ``warp``), ``"hole"`` (the same with the target's opening cut
            out, :func:`reenactor.render.landmark_image.mouth_condition`) or
            ``"learned"`` (the hole filled by the shipped learned painter's
            mouth, painted on the warped source with the source frame's
            appearance, as at run time) or ``"hint"`` (``"learned"`` plus the
            two channels of :mod:`reenactor.render.mouth_hint`).
        seed: RNG seed.
        closed_sources: draw each pair's source among the frames of its clip
            whose opening is at most the clip's :data:`CLOSED_QUANTILE` quantile.
    """

    def __init__(self, data: dict, identities: list[str], region: str, lm_ch: int, cond: str | bool | None, seed: int,
                 closed_sources: bool = False) -> None:
        from reenactor.config import RenderConfig
        from reenactor.train.mouth import OPEN_SATURATE

        self.data, self.region, self.lm_ch, self.cond = data, region, lm_ch, cond
        self.render_cfg = RenderConfig()  # the renderer's defaults: blend mask and paint amount
        self.label = {name: i for i, name in enumerate(identities)}
        clip_label = np.array([self.label.get(c["identity"], -1) for c in data["clips"]])
        self.rows = np.flatnonzero(clip_label[data["clip"]] >= 0)
        if len(self.rows) < 2:
            raise InputError("fewer than two frames for this side of the split")
        self.clip_label = clip_label
        self.rng = np.random.default_rng(seed)
        op = data["opening"][self.rows]
        w = 1.0 if region == "face" else 0.15 + np.clip(op, 0.0, OPEN_SATURATE) / OPEN_SATURATE
        w = np.broadcast_to(w, op.shape).astype(np.float64)
        self.p = w / w.sum()
        self.members = {int(c): self.rows[data["clip"][self.rows] == c] for c in np.unique(data["clip"][self.rows])}
        if closed_sources:  # sources from the least open 30 % of each clip
            self.sources = {c: m[data["opening"][m] <= np.quantile(data["opening"][m], CLOSED_QUANTILE)] for c, m in self.members.items()}
        else:
            self.sources = self.members

    def __len__(self) -> int:
        return len(self.rows)

    def source_for(self, j: int, rng: np.random.Generator) -> int:
        """A random other frame of target ``j``'s clip (among its closed-mouth frames with ``closed_sources``)."""
        mem = self.sources[int(self.data["clip"][j])]
        others = mem[mem != j]
        return int(others[rng.integers(len(others))]) if len(others) else j

    def pair(self, i: int, j: int, flip: bool = False, gain: np.ndarray | None = None,
             hint_rng: np.random.Generator | None = None) -> dict:
        """Inputs and target of source ``i``, target ``j`` (rows of the data); for ``cond="hint"``
        the hint is drawn with ``hint_rng`` (:func:`reenactor.render.mouth_hint.training_hint`), none without it."""
        d = self.data
        xi, xj = d["crops"][i], d["crops"][j]
        pi, pj = d["points"][i].astype(np.float64), d["points"][j].astype(np.float64)
        size = xi.shape[0]
        if flip:
            xi, xj = xi[:, ::-1], xj[:, ::-1]
            pi, pj = pi[list(T.MIRROR)], pj[list(T.MIRROR)]
            pi[:, 0], pj[:, 0] = size - 1 - pi[:, 0], size - 1 - pj[:, 0]
        if gain is not None:
            xi = np.clip(xi.astype(np.float32) * gain, 0, 255).astype(np.uint8)
            xj = np.clip(xj.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        xi, xj = np.ascontiguousarray(xi), np.ascontiguousarray(xj)
        out = {
            "src_img": to_unit(xi), "src_lm": L.landmark_image(pi, size, self.lm_ch),
            "tgt_img": to_unit(xj), "tgt_lm": L.landmark_image(pj, size, self.lm_ch),
            "ids": np.int64(self.clip_label[d["clip"][j]]),
            "mask": L.face_mask(pj, size) if self.region == "face" else L.inner_mouth_mask(pj, size),
        }
        if self.cond:
            warped = L.warp_to_landmarks(xi, pi, pj)
            fill = None
            if self.cond in L.PAINTED:  # the appearance is flip-invariant (means over both sides)
                look = d["appearance"][i] * (1.0 if gain is None else np.tile(gain, 2))
                fill = self._learned_fill(warped, pj, np.clip(look, 0.0, 1.0))
            out["cond"] = L.mouth_condition(warped, pj, self.cond in L.HOLED, fill)
            if self.cond == "hint":  # the driver's mouth layout: the target's own, misaligned, or none
                out["cond"] = np.concatenate([out["cond"], no_hint(size) if hint_rng is None else training_hint(xj, pj, hint_rng)])
            out["warp"] = to_unit(warped)
            out["blend"], out["amount"] = self._blend(pj, size, i, j)
        return out

    def _blend(self, pj: np.ndarray, size: int, i: int, j: int) -> tuple[np.ndarray, np.float32]:
        """The renderer's blend of the inner mouth for target points ``pj`` (crop px): the
        (S, S) float32 mask (:func:`reenactor.render.mouth.opening_blend`) and the paint
        amount (:func:`reenactor.render.mouth.paint_amount`, source ``i`` as the portrait)."""
        from reenactor.render.mouth import opening_blend, paint_amount

        cfg = self.render_cfg
        op = self.data["opening"]
        return opening_blend(pj, (size, size), cfg.mouth_feather), np.float32(paint_amount(float(op[j]), float(op[i]), cfg))

    def _learned_fill(self, warped: np.ndarray, tgt_pts: np.ndarray, look: np.ndarray) -> np.ndarray:
        """The shipped learned painter's mouth for the target on the warped source, given the source's appearance."""
        from reenactor.render.mouth_learned import LearnedMouthPainter, painted_in_place

        if getattr(self, "_painter", None) is None:
            self._painter = LearnedMouthPainter(look)
        self._painter.cond = np.asarray(look, np.float32)
        return painted_in_place(self._painter, warped, tgt_pts)

    def batch(self, n: int) -> dict:
        """An augmented batch of ``n`` pairs: dict of stacked arrays."""
        items = []
        for j in self.rng.choice(self.rows, size=n, p=self.p):
            i = self.source_for(int(j), self.rng)
            gain = self.rng.uniform(0.8, 1.2) * self.rng.uniform(0.92, 1.08, 3)
            items.append(self.pair(i, int(j), bool(self.rng.random() < 0.5), gain.astype(np.float32), self.rng))
        return stack(items)

    def fixed(self, n: int, seed: int) -> dict:
        """Up to ``n`` fixed, un-augmented pairs, spread over the clips (open mouths for the mouth)."""
        rng = np.random.default_rng(seed)
        cand = self.rows
        if self.region != "face":
            open_rows = cand[self.data["opening"][cand] > VAL_MIN_OPENING]
            cand = open_rows if len(open_rows) else cand
        picks = np.sort(rng.choice(cand, size=min(n, len(cand)), replace=False))
        return stack([self.pair(self.source_for(int(j), rng), int(j)) for j in picks])


def portrait_pairs(sampler: PairSampler, per_clip: int, seed: int, skip_videos: set[str] = frozenset()) -> tuple[dict, list[str]]:
    """Pairs as the self protocol runs them: each clip's first cached frame is the portrait (the source)
    and up to ``per_clip`` of its other frames with an open mouth are the targets; un-augmented.
    Clips whose video is in ``skip_videos`` are left out. Returns (the stacked pairs, the names of
    the clips they come from).

    Raises:
        InputError: no clip of the sampler has such a target.
    """
    rng = np.random.default_rng(seed)
    items, used = [], []
    for clip, members in sampler.members.items():
        if sampler.data["clips"][clip]["video"] in skip_videos:
            continue
        first, rest = int(members[0]), members[1:]
        cand = rest[sampler.data["opening"][rest] > VAL_MIN_OPENING]
        for j in np.sort(rng.choice(cand, size=min(per_clip, len(cand)), replace=False)):
            items.append(sampler.pair(first, int(j)))
        if len(cand):
            used.append(sampler.data["clips"][clip]["name"])
    if not items:
        raise InputError("no open-mouth frames to choose the strength on")
    return stack(items), sorted(used)


def stack(items: list[dict]) -> dict:
    """Stack per-pair dicts into batch arrays."""
    return {k: np.stack([it[k] for it in items]) for k in items[0]}
