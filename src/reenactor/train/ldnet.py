"""``reenactor train ldnet``: train LD-Net on the cached landmarks and export it.

Two stages as in the paper (Sec. 3.1, App. 7; choices in ``docs/ldnet.md``):

* Stage 1, modules E_P, N_I (one linear layer on the one-hot identity), G
  and C. Per step, with a batch of identity labels ``k`` (S1), a frame
  ``l`` of that identity (S2) and other labels ``k_T``:
  ``l' = G(E_P(l), N_I(k))``, ``l'_T = G(E_P(l), N_I(k_T))``;
  C minimises ``-log P(k | l'_T)`` (Eq. 1);
  E_P, N_I, G minimise ``1000 |l - l'|^2 + 0.1 log P(k | l'_T)`` (Eq. 2).
  Adam, lr 1e-4.
* Stage 2, E_P frozen, E_I (new) replaces N_I, G continues, new C and D.
  Two frames ``l_S1, l_S2`` of identity ``k`` and a frame ``l_T`` of
  ``k_T``: ``l'_S2 = G(E_P(l_S2), E_I(l_S1))``, ``l'_T = G(E_P(l_S2), E_I(l_T))``.
  D minimises ``(D(l_S2) - 1)^2 + (D(l'_T) + 1)^2`` (Eq. 3); C minimises
  ``-log P(k_T | l_T) - log(1 - P(k_T | l'_T))`` (Eq. 4); E_I and G minimise
  ``1000 |l_S2 - l'_S2|^2 + 0.01 |E_P(l_S2) - E_P(l'_T)|^2 + 0.1 D(l'_T)^2
  - 0.1 log P(k_T | l'_T)`` (Eqs. 5-7). Adam, lr 5e-5.

``|a - b|^2`` is the per-point squared Euclidean distance averaged over the
478 points and the batch. Identities are the training split's people, each
with ``--augment`` synthetic variants (:mod:`reenactor.train.ldnet_data`).

Outputs in ``--out``: ``ckpt.pt`` (resumable), ``log.jsonl`` (losses and
validation), ``ldnet.onnx`` + ``ldnet.json`` (the exported inference graph
and its card). Torch is imported inside functions only. The validation and
the ONNX export are in :mod:`reenactor.train.ldnet_export`, whose public names
are re-exported here.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from reenactor.errors import InputError
from reenactor.train.landmark_cache import CACHE_ROOT
from reenactor.train.ldnet_export import TorchLDNet, export_onnx, val_pairs, validate  # noqa: F401

STAGE1_LR = 1e-4
STAGE2_LR = 5e-5
LAMBDA_REC = 1000.0
LAMBDA_C = 0.1
LAMBDA_CONT = 0.01
LAMBDA_D = 0.1
DEFAULT_CACHE = CACHE_ROOT / "landmarks"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``reenactor train ldnet``."""
    p.add_argument("--data", type=Path, default=None, help="shared data folder (MANIFEST.tsv, videos/): clips missing from the cache are extracted first (resumable)")
    p.add_argument("--cache", type=Path, default=None, help=f"landmark cache folder (default {DEFAULT_CACHE})")
    p.add_argument("--out", type=Path, required=True, help="output folder (checkpoint, log, ONNX, card)")
    p.add_argument("--resume", action="store_true", help="continue from --out/ckpt.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock budget for both stages (split by --stage1-share)")
    p.add_argument("--stage1-share", type=float, default=0.3, help="fraction of --minutes given to stage 1 (default 0.3)")
    p.add_argument("--steps1", type=int, default=None, help="stage-1 steps (paper: 400000)")
    p.add_argument("--steps2", type=int, default=None, help="stage-2 steps (paper: 1000000)")
    p.add_argument("--batch", type=int, default=32, help="batch size (paper: 32)")
    p.add_argument("--space", choices=("3d", "2d"), default="3d", help="landmark representation (see docs/ldnet.md)")
    p.add_argument("--augment", type=int, default=8, help="synthetic identities per real person (0 = none)")
    p.add_argument("--max-persons", type=int, default=None, help="use only the first N training people (identity-count curve)")
    p.add_argument("--max-frames", type=int, default=600, help="frames kept per clip (evenly spaced)")
    p.add_argument("--val-every", type=int, default=500, help="stage-2 steps between validations")
    p.add_argument("--ckpt-every", type=float, default=120.0, help="seconds between checkpoints")
    p.add_argument("--hidden", type=int, default=512, help=argparse.SUPPRESS)
    p.add_argument("--layers", type=int, default=10, help=argparse.SUPPRESS)
    p.add_argument("--no-export", action="store_true", help="skip the ONNX export at the end")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


# ------------------------------------------------------------------- data
def prepare_data(args: argparse.Namespace):
    """(splits, train LandmarkSet, val LandmarkSet) from the cache (built if empty)."""
    from reenactor.train.landmark_cache import build_cache, load_cache
    from reenactor.train.ldnet_data import load_set, split_identities

    cache = Path(args.cache) if args.cache else DEFAULT_CACHE
    if args.data is not None:
        # Extracts the clips not cached yet (resumes an interrupted extraction; instant when complete).
        from tqdm import tqdm

        with tqdm(desc="landmark cache", unit="clip", disable=args.quiet) as bar:
            build_cache(args.data, cache, progress=lambda _n: bar.update(1))
    elif not (cache / "index.json").is_file():
        raise InputError(f"{cache} holds no landmark cache: give --data to build it")
    records = load_cache(cache)
    splits = split_identities(records, seed=0)
    train = load_set(cache, splits["train"], args.max_frames)
    val = load_set(cache, splits["val"], args.max_frames)
    return cache, splits, train, val


def label_params(n_persons: int, n_aug: int, seed: int):
    """Identity parameters for ``n_persons * (n_aug + 1)`` labels; label ``p * (n_aug + 1)`` is person p unchanged."""
    from reenactor.train.ldnet_data import sample_identity_params

    params = sample_identity_params(np.random.default_rng(seed + 1000), n_persons * (n_aug + 1))
    real = np.arange(0, len(params), n_aug + 1)
    params.A[real] = 0.0
    params.t[real] = 0.0
    return params


# ------------------------------------------------------------------ model
class Trainer:
    """Both training stages of one LD-Net (see the module docstring)."""

    def __init__(self, dim: int, n_labels: int, hidden: int = 512, layers: int = 10, seed: int = 0) -> None:
        import torch

        from reenactor.models.ldnet import LDNet

        torch.manual_seed(seed)
        self.net = LDNet(dim, n_labels, hidden, layers)
        n = self.net
        self.opt1_g = torch.optim.Adam(list(n.E_P.parameters()) + list(n.N_I.parameters()) + list(n.G.parameters()), lr=STAGE1_LR)
        self.opt1_c = torch.optim.Adam(n.C.parameters(), lr=STAGE1_LR)
        self.opt2_g = self.opt2_c = self.opt2_d = None
        self.stage = 1
        self.mean = None

    def init_from_data(self, mean) -> None:
        """Data-dependent initialisation (before the first step; see docs/ldnet.md).

        G's output layer starts at the mean training landmark vector (its bias,
        with its weights scaled by 0.1), and the first layer of every encoder,
        C and D subtracts that mean (bias -= W @ mean). Without it the plain
        10-layer MLPs at the published learning rate stay above the error of
        the mean face for hundreds of steps.

        Args:
            mean: (D,) float32 tensor, mean normalised landmark vector.
        """
        import torch

        self.mean = mean.detach().clone().float()
        n = self.net
        with torch.no_grad():
            last = n.G.net[-1]
            last.weight.mul_(0.1)
            last.bias.copy_(self.mean)
            for mlp in (n.E_P, n.E_I, n.C, n.D):
                self._centre(mlp)

    def _centre(self, mlp) -> None:
        import torch

        if self.mean is not None:
            with torch.no_grad():
                mlp[0].bias.sub_(mlp[0].weight @ self.mean)

    def start_stage2(self) -> None:
        """Freeze E_P, re-initialise C and D, make the stage-2 optimisers."""
        import torch

        from reenactor.models.ldnet import MLP

        n = self.net
        n.C = MLP(n.dim, n.n_identities, n.C[0].out_features, len(n.C) // 2)
        n.D = MLP(n.dim, 1, n.D[0].out_features, len(n.D) // 2)
        self._centre(n.C)
        self._centre(n.D)
        for prm in n.E_P.parameters():
            prm.requires_grad_(False)
        self.opt2_g = torch.optim.Adam(list(n.E_I.parameters()) + list(n.G.parameters()), lr=STAGE2_LR)
        self.opt2_c = torch.optim.Adam(n.C.parameters(), lr=STAGE2_LR)
        self.opt2_d = torch.optim.Adam(n.D.parameters(), lr=STAGE2_LR)
        self.stage = 2

    @staticmethod
    def point_mse(a, b, dims: int):
        """Per-point squared Euclidean distance, mean over points and batch."""
        return ((a - b) ** 2).reshape(len(a), -1, dims).sum(-1).mean()

    def stage1_step(self, l, k, k_t, dims: int) -> dict[str, float]:
        """One stage-1 step. l: (B, D) float32; k, k_t: (B,) int64 tensors."""
        import torch.nn.functional as F

        n = self.net
        pose = n.E_P(l)
        rec = n.G(pose, n.stage1_code(k))
        fake = n.G(pose, n.stage1_code(k_t))
        l_rec = self.point_mse(rec, l, dims)
        logp = F.log_softmax(n.C(fake), dim=1).gather(1, k[:, None]).mean()
        loss_g = LAMBDA_REC * l_rec + LAMBDA_C * logp
        self.opt1_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt1_g.step()
        loss_c = F.cross_entropy(n.C(fake.detach()), k)
        self.opt1_c.zero_grad(set_to_none=True)
        loss_c.backward()
        self.opt1_c.step()
        return {"rec": l_rec.item(), "logp_S1": logp.item(), "C": loss_c.item(), "G": loss_g.item()}

    def stage2_step(self, l_s1, l_s2, l_t, k_t, dims: int) -> dict[str, float]:
        """One stage-2 step. l_*: (B, D) float32; k_t: (B,) int64 labels of l_t."""
        import torch
        import torch.nn.functional as F

        n = self.net
        with torch.no_grad():
            pose = n.E_P(l_s2)
        rec = n.G(pose, n.E_I(l_s1))
        fake = n.G(pose, n.E_I(l_t))
        l_rec = self.point_mse(rec, l_s2, dims)
        l_cont = ((n.E_P(fake) - pose) ** 2).sum(1).mean()
        l_adv = (n.D(fake) ** 2).mean()
        l_cls = F.cross_entropy(n.C(fake), k_t)
        loss_g = LAMBDA_REC * l_rec + LAMBDA_CONT * l_cont + LAMBDA_D * l_adv + LAMBDA_C * l_cls
        self.opt2_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt2_g.step()
        fake = fake.detach()
        loss_d = ((n.D(l_s2) - 1) ** 2 + (n.D(fake) + 1) ** 2).mean()
        self.opt2_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt2_d.step()
        logits_f = n.C(fake)
        others = logits_f.scatter(1, k_t[:, None], float("-inf"))
        log_not_k = torch.logsumexp(others, 1) - torch.logsumexp(logits_f, 1)  # log(1 - P(k_t | l'_T))
        loss_c = F.cross_entropy(n.C(l_t), k_t) - log_not_k.mean()
        self.opt2_c.zero_grad(set_to_none=True)
        loss_c.backward()
        self.opt2_c.step()
        return {k: v.item() for k, v in (("rec", l_rec), ("cont", l_cont), ("adv", l_adv), ("cls", l_cls), ("D", loss_d), ("C", loss_c), ("G", loss_g))}

    def state(self) -> dict:
        opts = {k: getattr(self, k) for k in ("opt1_g", "opt1_c", "opt2_g", "opt2_c", "opt2_d")}
        return {"net": self.net.state_dict(), "stage": self.stage, "mean": self.mean, "opts": {k: o.state_dict() for k, o in opts.items() if o is not None}}

    def load(self, state: dict) -> None:
        self.mean = state.get("mean")
        if state["stage"] == 2:
            self.start_stage2()
        self.net.load_state_dict(state["net"])
        for k, s in state["opts"].items():
            getattr(self, k).load_state_dict(s)


# -------------------------------------------------------------------- run
def _log(path: Path, rec: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")


def run(args: argparse.Namespace) -> int:
    """Train (or resume), validate and export; see the module docstring."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(max(1, int(args.threads)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.minutes is None and (args.steps1 is None or args.steps2 is None):
        raise InputError("give --minutes, or both --steps1 and --steps2")
    from reenactor.train.ldnet_data import TorchSet

    cache, splits, train_set, val_set = prepare_data(args)
    dims = 3 if args.space == "3d" else 2
    dim = 478 * dims
    n_persons = len(train_set.persons) if args.max_persons is None else min(args.max_persons, len(train_set.persons))
    params = label_params(n_persons, args.augment, args.seed)
    ts = TorchSet(train_set, params, args.augment, n_persons)
    pairs = val_pairs(val_set)
    trainer = Trainer(dim, ts.n_labels, args.hidden, args.layers, args.seed)
    ckpt = out / "ckpt.pt"
    log_path = out / "log.jsonl"
    state = {"step1": 0, "step2": 0, "time1": 0.0, "time2": 0.0, "rng": None}
    rng = np.random.default_rng(args.seed)
    if args.resume and ckpt.is_file():
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        trainer.load(saved["trainer"])
        state = saved["state"]
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(saved["torch_rng"])
    else:
        if log_path.exists():
            log_path.unlink()
        sample = ts.vectors(np.arange(0, len(train_set), 7), np.zeros(len(range(0, len(train_set), 7)), np.int64), args.space)
        trainer.init_from_data(sample.mean(0))
    budget1 = budget2 = math.inf
    if args.minutes is not None:
        budget1 = 60.0 * args.minutes * args.stage1_share
        budget2 = 60.0 * args.minutes - budget1
    steps1 = args.steps1 if args.steps1 is not None else 10**9
    steps2 = args.steps2 if args.steps2 is not None else 10**9

    def save() -> None:
        state["rng"] = rng.bit_generator.state
        tmp = out / "ckpt.tmp.pt"
        torch.save({"trainer": trainer.state(), "state": state, "torch_rng": torch.get_rng_state(), "args": vars(args) | {"out": str(args.out), "data": str(args.data), "cache": str(cache)}}, tmp)
        tmp.replace(ckpt)

    last_save = time.monotonic()
    B = args.batch
    for stage in (1, 2):
        key_s, key_t = f"step{stage}", f"time{stage}"
        limit_steps, limit_time = (steps1, budget1) if stage == 1 else (steps2, budget2)
        if stage == 2 and trainer.stage == 1:
            trainer.start_stage2()
            save()
        if stage == 1 and trainer.stage == 2:
            continue
        bar = tqdm(total=None if limit_steps >= 10**9 else limit_steps, initial=state[key_s], desc=f"LD-Net stage {stage}", unit="step", disable=args.quiet, dynamic_ncols=True)
        acc: dict[str, float] = {}
        while state[key_s] < limit_steps and state[key_t] < limit_time:
            t0 = time.monotonic()
            k = ts.sample_labels(rng, B)
            k_t = ts.sample_labels(rng, B, avoid=k)
            if stage == 1:
                l = ts.vectors(ts.sample_frames(rng, k), k, args.space)
                losses = trainer.stage1_step(l, torch.from_numpy(k), torch.from_numpy(k_t), dims)
            else:
                l_s1 = ts.vectors(ts.sample_frames(rng, k), k, args.space)
                l_s2 = ts.vectors(ts.sample_frames(rng, k), k, args.space)
                l_t = ts.vectors(ts.sample_frames(rng, k_t), k_t, args.space)
                losses = trainer.stage2_step(l_s1, l_s2, l_t, torch.from_numpy(k_t), dims)
            state[key_s] += 1
            state[key_t] += time.monotonic() - t0
            for name, v in losses.items():
                acc[name] = acc.get(name, 0.0) + v
            bar.update(1)
            if state[key_s] % 50 == 0:
                rec = {"stage": stage, "step": state[key_s], "time": round(state[key_t], 1)} | {n: v / 50 for n, v in acc.items()}
                acc = {}
                if stage == 2 and state[key_s] % args.val_every == 0:
                    rec |= validate(trainer.net, val_set, pairs, args.space)
                _log(log_path, rec)
                bar.set_postfix(rec=f"{rec['rec']:.2e}", val=f"{rec.get('val_ldnet', float('nan')):.3f}")
            if time.monotonic() - last_save > args.ckpt_every:
                save()
                last_save = time.monotonic()
        bar.close()
        save()
    final = validate(trainer.net, val_set, pairs, args.space)
    _log(log_path, {"stage": 2, "step": state["step2"], "time": round(state["time2"], 1), "final": True} | final)
    card = {
        "model": "ldnet",
        "description": "LD-Net (Xiang et al. 2020): identity / pose-expression disentanglement of 478 mediapipe landmarks",
        "command": "reenactor train ldnet " + " ".join(shlex.quote(a) for a in sys.argv[3:]) if len(sys.argv) > 3 else " ".join(sys.argv),
        "seed": args.seed,
        "space": args.space,
        "augment": args.augment,
        "persons": n_persons,
        "labels": ts.n_labels,
        "batch": B,
        "steps": {"stage1": state["step1"], "stage2": state["step2"]},
        "train_seconds": {"stage1": round(state["time1"], 1), "stage2": round(state["time2"], 1)},
        "threads": args.threads,
        "learning_rates": {"stage1": STAGE1_LR, "stage2": STAGE2_LR},
        "lambdas": {"rec": LAMBDA_REC, "C": LAMBDA_C, "cont": LAMBDA_CONT, "D": LAMBDA_D},
        "split_seed": 0,
        "data": {k: [r.name for r in v] for k, v in splits.items()},
        "train_persons_used": train_set.persons[:n_persons],
        "figures": {"validation": final},
    }
    (out / "ldnet.json").write_text(json.dumps(card, indent=1) + "\n")
    if not args.no_export:
        export_onnx(trainer.net, out / "ldnet.onnx", args.space, extra_meta={"seed": args.seed, "steps": f"{state['step1']}+{state['step2']}"})
    return 0
