"""``reenactor train mouth``: train the learned inner-mouth painter.

Self-supervised on the real clips of the shared data folder: in every frame
the inner mouth (the inner-lip polygon, slightly dilated) of a mouth-aligned
crop is hidden, and the network predicts it from the surrounding lips and
skin, the lip shape, and the appearance (lip and skin colour) of a
closed-mouth frame of the same clip. Whole identities are held out for
validation, including every identity that appears in an evaluation set
(``reenactor/eval/sets.tsv``), so ``reenactor eval`` never scores clips the
model was trained on.

Steps (each resumes from its outputs when interrupted):

1. landmarks: the landmark cache of :mod:`reenactor.train.landmark_cache`
   (``--landmarks``; extracted when missing);
2. crops: every clip is decoded once more and its mouth crops, lip contours,
   appearance and opening are cached as ``<cache>/clips/<clip>.npz``;
3. training: Adam, masked L1 + image-gradient L1, mouth-opening-weighted
   sampling, checkpoints every ``--checkpoint-every`` steps in ``--out``;
4. export: ``<out>/mouth.onnx`` (opset 17) and ``<out>/mouth.json`` (the
   card: command, data split, seed, steps, loss curve, size, CPU time).

Copy both files to ``src/reenactor/weights/`` and register the sha256 to ship.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
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


# --------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``reenactor train mouth``."""
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder with MANIFEST.tsv (default ../shared/data)")
    p.add_argument("--out", type=Path, required=True, help="output folder: checkpoints, mouth.onnx, mouth.json, loss curve")
    p.add_argument("--cache", type=Path, default=Path("/work/cache/mouth"), help="mouth-crop cache folder (default /work/cache/mouth)")
    p.add_argument("--landmarks", type=Path, default=Path("/work/cache/landmarks"), help="landmark cache folder (default /work/cache/landmarks)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the sampling and the initialisation (default 0)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--minutes", type=float, default=None, help="train for this many minutes of wall clock")
    p.add_argument("--steps", type=int, default=None, help="train for this many steps (default 4000 unless --minutes)")
    p.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--widths", default="32,64,128", help="U-Net channel widths at 1/2, 1/4, 1/8 of the crop (default 32,64,128)")
    p.add_argument("--val-identities", type=int, default=14, help="identities held out for validation, at least (default 14)")
    p.add_argument("--val-samples", type=int, default=768, help="validation crops scored at each check (default 768)")
    p.add_argument("--val-every", type=int, default=250, help="steps between validation checks (default 250)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints (default 250)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.pt")
    p.add_argument("--export-only", action="store_true", help="export <out>/checkpoint.pt to ONNX without training")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Build the crop cache, train, export. Returns the exit code."""
    import torch

    torch.set_num_threads(max(1, int(args.threads)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = _Logger(out / "train.log")
    data = build_crops(args.data, args.landmarks, args.cache, log)
    split = identity_split(data["clips"], args.val_identities, args.seed)
    log(f"split: {len(split['train'])} train identities, {len(split['val'])} val identities")
    if not args.export_only:
        train(args, data, split, log)
    export(args, data, split, log)
    return 0


class _Logger:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


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
    from reenactor.io.video import iter_frames
    from reenactor.render import mouth_learned as ML
    from reenactor.render.mouth import mouth_opening
    from reenactor.train.landmark_cache import load_clip

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
    if want:
        last = max(want)
        for i, frame in enumerate(iter_frames(data_dir / rec.video)):
            if i > last:
                break
            k = want.get(i)
            if k is None:
                continue
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
def eval_identities(clips: list[dict]) -> set[str]:
    """Identities of the clips used by ``reenactor eval`` (sets.tsv drivers)."""
    sets = Path(__file__).resolve().parent.parent / "eval" / "sets.tsv"
    videos = set()
    if sets.is_file():
        for line in sets.read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) >= 4:
                videos.add(cells[3])
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


# -------------------------------------------------------------------- train
GRAD_WEIGHT = 0.5


def _widths(text: str) -> tuple[int, int, int]:
    try:
        w = tuple(int(v) for v in text.split(","))
    except ValueError:
        w = ()
    if len(w) != 3 or min(w) < 1:
        raise InputError("--widths needs three positive integers, e.g. 32,64,128")
    return w  # type: ignore[return-value]


def train(args: argparse.Namespace, data: dict, split: dict, log) -> None:
    """Train (or resume) and keep ``<out>/checkpoint.pt`` up to date."""
    import torch
    from tqdm import tqdm

    from reenactor.models.mouth import MouthNet, parameter_count

    out = Path(args.out)
    ckpt_path = out / "checkpoint.pt"
    torch.manual_seed(args.seed)
    net = MouthNet(widths=_widths(args.widths))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    tr = Sampler(data, split["train"], args.seed)
    va = Sampler(data, split["val"], args.seed + 1)
    vx, vy, _ = va.fixed(args.val_samples, args.seed + 2)
    vx_t, vy_t = torch.from_numpy(vx), torch.from_numpy(vy)
    log(f"train crops {len(tr)}, val crops {len(va)} (scored: {len(vx)}), parameters {parameter_count(net)}")
    state = {"step": 0, "history": [], "seconds": 0.0, "commands": []}
    if args.resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        tr.rng = np.random.default_rng([args.seed, state["step"]])
        log(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min)")
    state.setdefault("commands", []).append(_command_line())
    # The schedule runs on wall-clock time with --minutes (the CPU is shared,
    # so steps/s is not known in advance), on steps otherwise.
    budget = None if args.minutes is None else 60.0 * args.minutes
    total = None if budget is not None else (args.steps if args.steps is not None else 4000)

    def progress() -> float:
        return state["seconds"] / budget if budget is not None else state["step"] / total

    def lr_now() -> float:
        warm = 100
        if state["step"] < warm:
            return args.lr * (state["step"] + 1) / warm
        frac = min(1.0, progress())
        return args.lr * (0.03 + 0.97 * 0.5 * (1 + np.cos(np.pi * frac)))

    def validate() -> float:
        net.eval()
        l1s = []
        with torch.no_grad():
            for i in range(0, len(vx_t), 64):
                pred = net(vx_t[i : i + 64])
                tgt = vy_t[i : i + 64]
                mask = tgt[:, 3:4]
                l1s.append((((pred - tgt[:, :3]).abs() * mask).sum() / (mask.sum() * 3)).item() * mask.sum().item())
        net.train()
        return float(sum(l1s) / vy_t[:, 3].sum().item())

    def save() -> None:
        tmp = out / ".checkpoint.tmp.pt"
        torch.save({"model": net.state_dict(), "opt": opt.state_dict(), "state": state, "widths": net.widths}, tmp)
        tmp.replace(ckpt_path)

    if state["step"] == 0:
        v = validate()
        state["history"].append({"step": 0, "val_l1": v, "train_l1": None, "seconds": 0.0})
        log(f"step 0: val L1 {v:.4f}")
    bar = tqdm(total=total, initial=state["step"], desc="mouth", file=sys.stderr, disable=args.no_progress, dynamic_ncols=True)
    run_l1, run_n = 0.0, 0
    t_last = time.time()
    while progress() < 1.0:
        for g in opt.param_groups:
            g["lr"] = lr_now()
        x, y = tr.batch(args.batch)
        pred = net(torch.from_numpy(x))
        l1, grad = masked_losses(pred, torch.from_numpy(y))
        loss = l1 + GRAD_WEIGHT * grad
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] += 1
        run_l1 += l1.item()
        run_n += 1
        bar.update(1)
        if state["step"] % args.val_every == 0:
            v = validate()
            state["history"].append({"step": state["step"], "val_l1": v, "train_l1": run_l1 / max(run_n, 1), "seconds": round(state["seconds"], 1)})
            log(f"step {state['step']}: train L1 {run_l1 / max(run_n, 1):.4f}, val L1 {v:.4f}, lr {lr_now():.2e}, {state['seconds'] / 60:.1f} min")
            run_l1, run_n = 0.0, 0
        if state["step"] % args.checkpoint_every == 0:
            save()
        now = time.time()
        state["seconds"] += now - t_last  # validation and checkpoints count against --minutes
        t_last = now
    bar.close()
    if not state["history"] or state["history"][-1]["step"] != state["step"]:
        v = validate()
        state["history"].append({"step": state["step"], "val_l1": v, "train_l1": run_l1 / max(run_n, 1) if run_n else None, "seconds": round(state["seconds"], 1)})
        log(f"step {state['step']}: val L1 {v:.4f}")
    save()


# ------------------------------------------------------------------- export
def export_onnx(net, path: Path) -> Path:
    """Write ``net`` (a :class:`reenactor.models.mouth.MouthNet`) as ONNX opset 17.

    The graph has one input ``x`` (N, 13, 64, 80) float32 and one output ``y``
    (N, 3, 64, 80) float32, with a dynamic batch axis.
    """
    import torch

    from reenactor.render import mouth_learned as ML

    net.eval()
    x = torch.zeros(1, ML.IN_CHANNELS, ML.CROP_H, ML.CROP_W)
    torch.onnx.export(
        net, (x,), str(path), input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}},
        opset_version=17, dynamo=False,
    )
    return Path(path)


def export(args: argparse.Namespace, data: dict, split: dict, log) -> Path:
    """Export ``<out>/checkpoint.pt`` to ``<out>/mouth.onnx`` with its card and loss curve.

    Raises:
        InputError: no checkpoint.
    """
    import torch

    from reenactor.models.mouth import MouthNet, parameter_count
    from reenactor.render import mouth_learned as ML
    from reenactor.weights import onnx_session, sha256_of

    out = Path(args.out)
    ckpt_path = out / "checkpoint.pt"
    if not ckpt_path.is_file():
        raise InputError(f"no checkpoint in {out} to export")
    ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    net = MouthNet(widths=tuple(ck["widths"]))
    net.load_state_dict(ck["model"])
    net.eval()
    onnx_path = export_onnx(net, out / "mouth.onnx")
    # Parity and CPU time (onnxruntime, 1 thread, batch 1).
    sess = onnx_session(onnx_path, threads=1)
    rng = np.random.default_rng(0)
    xr = rng.normal(0, 0.5, (4, ML.IN_CHANNELS, ML.CROP_H, ML.CROP_W)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(xr)).numpy()
    got = sess.run(None, {"x": xr})[0]
    diff = float(np.abs(ref - got).max())
    x1 = xr[:1]
    for _ in range(5):
        sess.run(None, {"x": x1})
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        sess.run(None, {"x": x1})
        times.append(time.perf_counter() - t0)
    ms = float(np.median(times) * 1000)
    state = ck["state"]
    hist = state["history"]
    # The final model and two trivial fills on the validation crops of training.
    va = Sampler(data, split["val"], args.seed + 1)
    vx, vy, _ = va.fixed(args.val_samples, args.seed + 2)
    mask = vy[:, 3:4]
    with torch.no_grad():
        pred = net(torch.from_numpy(vx)).numpy()

    def masked_l1(p: np.ndarray) -> float:
        return float((np.abs(p - vy[:, :3]) * mask).sum() / (3 * mask.sum()))

    lip_fill = np.broadcast_to(vx[:, 7:10, :1, :1] + 0.5, vy[:, :3].shape)
    # The same score on training identities (un-augmented): the generalisation gap.
    tx, ty, _ = Sampler(data, split["train"], args.seed + 3).fixed(args.val_samples, args.seed + 4)
    with torch.no_grad():
        tpred = net(torch.from_numpy(tx)).numpy()
    train_same = float((np.abs(tpred - ty[:, :3]) * ty[:, 3:4]).sum() / (3 * ty[:, 3:4].sum()))
    baselines = {
        "model": masked_l1(pred),
        "model_on_training_identities_same_protocol": train_same,
        "fill_with_lip_colour": masked_l1(lip_fill),
        "fill_with_dark_lip_colour_x0.4": masked_l1(0.4 * lip_fill),
    }
    clips = data["clips"]
    card = {
        "name": "mouth",
        "description": "inner-mouth painter: U-Net on a 64x80 mouth crop (see reenactor.render.mouth_learned)",
        "command": state.get("commands", [_command_line()])[0],
        "resumed_with": state.get("commands", [])[1:],
        "seed": args.seed,
        "steps": state["step"],
        "train_seconds": round(state["seconds"], 1),
        "batch": args.batch,
        "lr": args.lr,
        "widths": list(ck["widths"]),
        "loss": f"masked L1 + {GRAD_WEIGHT} x masked image-gradient L1 (RGB 0..1)",
        "parameters": parameter_count(net),
        "onnx_bytes": onnx_path.stat().st_size,
        "opset": 17,
        "onnx_max_abs_diff_vs_torch": diff,
        "cpu_ms_per_frame_onnxruntime_1_thread": round(ms, 3),
        "val_l1_final": hist[-1]["val_l1"] if hist else None,
        "val_curve": hist,
        "val_l1_final_vs_trivial_fills": baselines,
        "val_metric": "mean absolute RGB error (0..1) inside the masked inner mouth, fixed open-mouth crops of held-out identities",
        "data": {
            "source": "../shared/data (MANIFEST.tsv), landmark cache of reenactor.train.landmark_cache",
            "crops": {"open_keep": OPEN_KEEP, "closed_stride": CLOSED_STRIDE, "min_mouth_px": MIN_MOUTH_PX},
            "train_identities": split["train"],
            "val_identities": split["val"],
            "val_identities_forced_by_eval_sets": split["forced"],
            "train_clips": sorted(c["name"] for c in clips if c["identity"] in split["train"]),
            "val_clips": sorted(c["name"] for c in clips if c["identity"] in split["val"]),
            "train_crops": int(np.isin(data["clip"], [i for i, c in enumerate(clips) if c["identity"] in split["train"]]).sum()),
            "val_crops": int(np.isin(data["clip"], [i for i, c in enumerate(clips) if c["identity"] in split["val"]]).sum()),
        },
        "sha256": sha256_of(onnx_path),
    }
    (out / "mouth.json").write_text(json.dumps(card, indent=1) + "\n")
    plot_curve(hist, out / "val_curve.png")
    log(f"exported {onnx_path} ({card['onnx_bytes']} bytes, max |onnx - torch| {diff:.2e}, {ms:.2f} ms/frame), sha256 {card['sha256']}")
    return onnx_path


def _command_line() -> str:
    argv = list(sys.argv)
    prog = "reenactor" if Path(argv[0]).name in ("reenactor", "__main__.py") else argv[0]
    return " ".join(shlex.quote(a) for a in [prog, *argv[1:]])


def plot_curve(hist: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    steps = [h["step"] for h in hist]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=110)
    ax.plot(steps, [h["val_l1"] for h in hist], "o-", label="validation (held-out identities)")
    tr = [(h["step"], h["train_l1"]) for h in hist if h.get("train_l1") is not None]
    if tr:
        ax.plot(*zip(*tr), ".--", label="training (running mean, augmented)")
    ax.set_xlabel("step (batch 32)")
    ax.set_ylabel("masked L1 (RGB 0..1)")
    ax.set_title("inner-mouth painter")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
