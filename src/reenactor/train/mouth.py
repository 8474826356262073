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

Step 2, the identity split, the sampler and the loss live in
:mod:`reenactor.train.mouth_data`, step 4 in :mod:`reenactor.train.mouth_export`;
their public names are re-exported here.

Copy both files to ``src/reenactor/weights/`` and register the sha256 to ship.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from reenactor.errors import InputError
from reenactor.train.landmark_cache import CACHE_ROOT
from reenactor.train.mouth_data import (  # noqa: F401
    CLOSED_QUANTILE,
    CLOSED_STRIDE,
    CROPS_VERSION,
    GRAD_WEIGHT,
    MASK_DILATIONS,
    MIN_MOUTH_PX,
    OPEN_KEEP,
    OPEN_SATURATE,
    Sampler,
    build_crops,
    eval_identities,
    identity_split,
    masked_losses,
)
from reenactor.train.mouth_export import _command_line, export, export_onnx, plot_curve  # noqa: F401


# --------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``reenactor train mouth``."""
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder with MANIFEST.tsv (default ../shared/data)")
    p.add_argument("--out", type=Path, required=True, help="output folder: checkpoints, mouth.onnx, mouth.json, loss curve")
    p.add_argument("--cache", type=Path, default=CACHE_ROOT / "mouth", help=f"mouth-crop cache folder (default {CACHE_ROOT / 'mouth'}; $REENACTOR_CACHE sets the root)")
    p.add_argument("--landmarks", type=Path, default=CACHE_ROOT / "landmarks", help=f"landmark cache folder (default {CACHE_ROOT / 'landmarks'})")
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


# -------------------------------------------------------------------- train
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
