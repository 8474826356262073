"""``reenactor train fdgan``: train the FD-GAN translator (Sec. 3.2, App. 6-7) and export it.

Data (:mod:`reenactor.train.fdgan_data`): pairs of frames i, j of one clip of
the shared data, cropped around the mouth (``--region mouth``, the inner-mouth
use: the translator also sees the source crop warped onto the target
landmarks, ``--cond warp``) or around the whole face (``--region face``, the
paper's setting, no condition). Whole identities are held out for validation,
every evaluation-set identity among them.

Per step (batch 4, RMSprop 2e-5 for each network, Table 5): the
extractor-translator minimises Eq. 12 (lambda_rec 50, lambda_D 1, lambda_C 1),
then the patch discriminator and the patch identity classifier minimise
Eqs. 10 and 11 on the same batch (:mod:`reenactor.train.fdgan_loss`).

Budget: ``--steps`` is the total step count to reach (a resumed run finishes
the same schedule); ``--minutes`` is the wall clock of this invocation (a
resumed run gets that much more). Neither: ``DEFAULT_MINUTES``.

Validation, samples and curves: :mod:`reenactor.train.fdgan_validate`.

Outputs in ``--out``: ``ckpt.pt`` (every ``--checkpoint-every`` steps and at
the end; ``--resume`` continues from it with the optimiser states, the step
count and the RNG states), ``log.jsonl`` (running train losses and, at each
checkpoint, validation L1 and SSIM of the prediction against the true target
frame inside the target's inner-lip contour, or its face oval for ``face``),
``curve.png``, ``samples.png`` (source | warped source | prediction | target
of the first validation pairs), ``train.log``; with ``--export``, ``fdgan_<region>.onnx`` and
its card ``fdgan_<region>.json`` (command, data lists, seed, figures) and the
registry line to add to ``reenactor/weights/__init__.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from reenactor.errors import InputError
from reenactor.render.landmark_image import COND_CHANNELS, HOLED
from reenactor.train.fdgan_validate import _tensors, as_rendered, baselines, masked_scores, plot_curve, predict, save_samples, u8  # noqa: F401
from reenactor.train.landmark_cache import CACHE_ROOT
from reenactor.train.ldnet import _log
from reenactor.train.mouth import _command_line, _Logger

DEFAULT_MINUTES = 180.0
DEFAULT_LR = 2e-5
LAMBDAS = {"rec": 50.0, "d": 1.0, "c": 1.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``reenactor train fdgan``."""
    p.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared data folder with MANIFEST.tsv (default ../shared/data)")
    p.add_argument("--out", type=Path, required=True, help="output folder: ckpt.pt, log.jsonl, curve.png, ONNX and card")
    p.add_argument("--cache", type=Path, default=CACHE_ROOT / "fdgan", help=f"crop cache folder (default {CACHE_ROOT / 'fdgan'}; $REENACTOR_CACHE sets the root)")
    p.add_argument("--landmarks", type=Path, default=CACHE_ROOT / "landmarks", help=f"landmark cache folder (default {CACHE_ROOT / 'landmarks'}; extracted when missing)")
    p.add_argument("--variant", choices=("fdgan", "fdgan1", "adain"), default="fdgan", help="dictionary (paper), one-row dictionary, or AdaIN ablation")
    p.add_argument("--region", choices=("mouth", "lips", "face"), default="mouth", help="mouth crop, tighter lips crop (inner-mouth use) or whole face (paper ablation)")
    p.add_argument("--size", type=int, default=128, help="crop side in pixels, a multiple of 16 (default 128)")
    p.add_argument("--lm-channels", type=int, choices=(1, 3), default=1, help="landmark image channels (see reenactor.render.landmark_image)")
    p.add_argument("--residual", action="store_true", help="translator predicts a change added to the warped condition (needs --cond warp, hole, learned or hint)")
    p.add_argument("--cond", choices=("auto", "warp", "hole", "learned", "hint", "none"), default="auto", help="translator condition: the source warped onto the target landmarks; hole: the same with the target's opening cut out and a mask channel; learned: the hole filled by the shipped learned mouth painter; hint: learned plus the driver's mouth layout (reenactor.render.mouth_hint) (auto: warp for mouth and lips, none for face)")
    p.add_argument("--rec", choices=("mse", "l1"), default="mse", help="reconstruction error: mse (the paper's squared L2) or l1")
    p.add_argument("--optimizer", choices=("rmsprop", "adam"), default="rmsprop", help="rmsprop (paper) or adam (beta1 0.5)")
    p.add_argument("--inner-weight", type=float, default=0.0, help="extra reconstruction weight inside the target's inner mouth: 1 + W there, 1 elsewhere (default 0: the paper's plain error)")
    p.add_argument("--closed-sources", action="store_true", help="draw source frames from the least open 30%% of their clip (the runtime portrait's mouth is usually closed)")
    p.add_argument("--init", type=Path, default=None, help="start the networks from another run's ckpt.pt (same architecture; fresh optimisers and step count)")
    p.add_argument("--frames-per-clip", type=int, default=160, help="frames cropped per clip, evenly spaced (default 160)")
    p.add_argument("--steps", type=int, default=None, help="total training steps to reach")
    p.add_argument("--minutes", type=float, default=None, help=f"wall-clock minutes for this invocation (default {DEFAULT_MINUTES:g} when no --steps)")
    p.add_argument("--batch", type=int, default=4, help="batch size (paper: 4)")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate of every network (default {DEFAULT_LR:g}, the paper's; with --resume: the checkpoint's unless given)")
    p.add_argument("--adv-weight", type=float, default=1.0, help="multiplies the adversarial and identity-classifier terms of the generator's loss (lambda_D, lambda_C; default 1: the paper's; 0: reconstruction only, and the discriminators are not trained)")
    p.add_argument("--loss", choices=("crop", "composite"), default="crop", help="reconstruction term: crop (the whole predicted crop, default) or composite (the inner mouth as the renderer blends it over the warp, L1 + --ssim-weight x (1 - SSIM) inside the target's inner lips; needs a condition; with --adv-weight above 0 the discriminator and classifier also see real and generated mouths blended over the same warp)")
    p.add_argument("--ssim-weight", type=float, default=1.0, help="--loss composite: weight of 1 - SSIM against the L1 (0..1 scale) (default 1)")
    p.add_argument("--ema", type=float, default=None, help="keep an exponential moving average of the generator's weights with this decay per step (e.g. 0.999), validated and exported in its place (default: off; a resumed run keeps its checkpoint's average unless given 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the sampling and the initialisation")
    p.add_argument("--resume", action="store_true", help="continue from <out>/ckpt.pt")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="auto: cuda when available")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--val-identities", type=int, default=14, help="identities held out for validation, at least (default 14)")
    p.add_argument("--val-pairs", type=int, default=48, help="validation pairs scored at each checkpoint (default 48)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints and validations (default 250)")
    p.add_argument("--log-every", type=int, default=25, help="steps between training-loss records (default 25)")
    p.add_argument("--export", action="store_true", help="export ONNX + card into --out at the end")
    p.add_argument("--strength", default="1", help="residual models: the exported change (output minus condition) is this times the trained one; "
                   "'auto' picks the best of 0.25, 0.5, 0.75, 1 (SSIM as rendered) on pairs whose source is the clip's first frame, "
                   "from the validation clips that no evaluation set uses (default 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_of(args: argparse.Namespace, n_ids: int) -> dict:
    """The settings a checkpoint must share with the run that resumes it."""
    if args.size % 16:
        raise InputError("--size must be a multiple of 16")
    cond = args.cond if args.cond != "auto" else ("none" if args.region == "face" else "warp")
    if getattr(args, "residual", False) and cond not in COND_CHANNELS:
        raise InputError("--residual needs the warped condition (--cond warp, hole, learned or hint)")
    if cond in HOLED and args.region == "face":
        raise InputError(f"--cond {cond} cuts out the inner mouth: use it with --region mouth or lips")
    extra = {k: getattr(args, k) for k, default in (("rec", "mse"), ("optimizer", "rmsprop"), ("loss", "crop")) if getattr(args, k, default) != default}
    if extra.get("loss") == "composite":
        if cond == "none":
            raise InputError("--loss composite blends the output over the warped source: it needs --cond warp, hole, learned or hint")
        extra["ssim_weight"] = float(args.ssim_weight)
    return extra | {"variant": args.variant, "region": args.region, "size": args.size, "lm_ch": args.lm_channels,
            "cond": cond, "cond_ch": COND_CHANNELS.get(cond, 0), "n_ids": n_ids,
            "residual": bool(getattr(args, "residual", False)), "inner_weight": float(getattr(args, "inner_weight", 0.0)),
            "closed_sources": bool(getattr(args, "closed_sources", False))}


def build_models(cfg: dict):
    """(gen, disc, cls) for a config."""
    from reenactor.train.fdgan_net import FDGAN, PatchDiscriminator, PatchIdentityClassifier

    gen = FDGAN(cfg["variant"], lm_ch=cfg["lm_ch"], cond_ch=cfg["cond_ch"], residual=cfg.get("residual", False))
    return gen, PatchDiscriminator(lm_ch=cfg["lm_ch"]), PatchIdentityClassifier(cfg["n_ids"])


def train_step(nets, opts, b: dict, inner_weight: float = 0.0, rec: str = "mse", adv: float = 1.0,
               composite: float | None = None) -> dict[str, float]:
    """One generator step (Eq. 12) then one discriminator + classifier step (Eqs. 10-11).

    ``inner_weight`` W > 0 weighs the reconstruction error by 1 + W inside the
    target's inner-mouth mask (``b["mask"]``, (B,H,W) in [0,1]); ``rec`` is
    ``"mse"`` (the paper's) or ``"l1"``; ``adv`` multiplies lambda_D and lambda_C
    (at 0 the discriminator step is skipped and its losses logged as NaN);
    ``composite`` (the SSIM weight) replaces the reconstruction term by
    :func:`reenactor.train.fdgan_loss.composite_error`, and the discriminator
    and classifier then judge real and generated mouths as rendered
    (:func:`~reenactor.train.fdgan_loss.as_rendered`, both over the same warp),
    so only the inner mouth tells them apart.
    """
    from reenactor.train.fdgan_loss import as_rendered, composite_error
    from reenactor.train.fdgan_net import discriminator_losses, generator_losses

    gen, disc, cls = nets
    opt_g, opt_d, opt_c = opts
    weight = 1.0 + inner_weight * b["mask"].unsqueeze(1) if inner_weight > 0 else None
    rec_fn = view = None
    if composite is not None:
        rec_fn, view = (lambda fake: composite_error(fake, b, composite)), (lambda img: as_rendered(img, b))
    total, parts, fake = generator_losses(gen, disc, cls, b["src_img"], b["src_lm"], b["tgt_img"], b["tgt_lm"], b["ids"],
                                          cond=b.get("cond") if gen.cond_ch else None, lam_rec=LAMBDAS["rec"],
                                          lam_d=adv * LAMBDAS["d"], lam_c=adv * LAMBDAS["c"], rec_weight=weight, rec=rec, rec_fn=rec_fn, view=view)
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    if adv == 0:
        nan = float("nan")
        return {f"g_{k}": v for k, v in parts.items()} | {f"dc_{k}": nan for k in ("d", "d_real", "d_fake", "c", "c_real", "c_fake", "total")}
    real = b["tgt_img"] if view is None else view(b["tgt_img"])
    d_total, d_parts = discriminator_losses(disc, cls, real, b["tgt_lm"], fake if view is None else view(fake), b["ids"])
    opt_d.zero_grad(set_to_none=True)
    opt_c.zero_grad(set_to_none=True)
    d_total.backward()
    opt_d.step()
    opt_c.step()
    return {f"g_{k}": v for k, v in parts.items()} | {f"dc_{k}": v for k, v in d_parts.items()}


# -------------------------------------------------------------------- run
def _device(name: str):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA device visible to torch")
    return torch.device(name)


def run(args: argparse.Namespace) -> int:
    """Build the crops, train (or resume), validate, checkpoint, export."""
    import torch

    from reenactor.train import fdgan_data as FD

    torch.set_num_threads(max(1, int(args.threads)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = _Logger(out / "train.log")
    data = FD.build_crops(args.data, args.landmarks, args.cache, args.region, args.size, args.frames_per_clip, log)
    sp = FD.split(data, args.val_identities, args.seed)
    cfg = config_of(args, len(sp["train"]))
    if args.export:
        from reenactor.train.fdgan_export import parse_strength

        parse_strength(args.strength, cfg)  # refuse a bad --strength before training, not after
    log(f"split: {len(sp['train'])} train identities ({len(sp['train_clips'])} clips), {len(sp['val'])} val identities ({len(sp['val_clips'])} clips)")
    cond = None if cfg["cond"] == "none" else cfg["cond"]
    tr = FD.PairSampler(data, sp["train"], args.region, cfg["lm_ch"], cond, args.seed, closed_sources=cfg["closed_sources"])
    val = FD.PairSampler(data, sp["val"], args.region, cfg["lm_ch"], cond or "warp", args.seed + 1).fixed(args.val_pairs, args.seed + 2)
    device = _device(args.device)
    torch.manual_seed(args.seed)
    nets = [n.to(device) for n in build_models(cfg)]
    from reenactor.train.fdgan_net import make_optimizers

    opts = make_optimizers(*nets, lr=args.lr or DEFAULT_LR, kind=cfg.get("optimizer", "rmsprop"))
    ck_path = out / "ckpt.pt"
    state = {"step": 0, "seconds": 0.0, "commands": [], "devices": [], "history": []}
    if args.resume and ck_path.is_file():
        ck = torch.load(ck_path, map_location=device, weights_only=False)
        if {"residual": False, "inner_weight": 0.0, "closed_sources": False, **ck["config"]} != cfg:
            raise InputError(f"{ck_path} was trained with {ck['config']}, not {cfg}")
        if ck["split"]["train"] != sp["train"]:
            raise InputError(f"{ck_path} was trained on other identities (data or --seed changed)")
        for obj, key in zip([*nets, *opts], ("gen", "disc", "cls", "opt_g", "opt_d", "opt_c")):
            obj.load_state_dict(ck[key])
        if args.lr is not None:
            _set_lr(opts, args.lr, log)
        ema = _ema_from(nets[0], _resumed_decay(args.ema, ck, log), ck.get("gen_ema"), log)
        state = ck["state"]
        tr.rng.bit_generator.state = ck["rng"]
        torch.set_rng_state(ck["torch_rng"].cpu())
        log(f"resumed at step {state['step']} ({state['seconds'] / 60:.1f} min trained)")
    else:
        if (out / "log.jsonl").exists():
            (out / "log.jsonl").unlink()
        if args.init is not None:
            state["init"] = _warm_start(args.init, cfg, nets, device, log)
        ema = _ema_from(nets[0], args.ema, None, log)
    if args.steps is None or state["step"] < args.steps or not state["commands"]:  # an export-only resume is not an invocation
        state["commands"].append(_command_line())
        state["devices"].append(str(device))
        state.setdefault("lrs", []).append(opts[0].param_groups[0]["lr"])
    loop(args, cfg, sp, nets, opts, tr, val, state, device, log, ema)
    if args.export:
        from reenactor.train.fdgan_export import export, with_strength

        lambdas = {k: v * (args.adv_weight if k in ("d", "c") else 1.0) for k, v in LAMBDAS.items()}
        gen, strength = with_strength(args, cfg, sp, data, ema if ema is not None else nets[0], device, log)
        export(args, cfg, sp, gen, val, state, log, lambdas, strength)
    return 0


def _set_lr(opts, lr: float, log) -> None:
    """Set every optimiser's learning rate (a resumed run given ``--lr``)."""
    old = opts[0].param_groups[0]["lr"]
    for opt in opts:
        for group in opt.param_groups:
            group["lr"] = lr
    if old != lr:
        log(f"learning rate {old:g} -> {lr:g}")


def _resumed_decay(asked: float | None, ck: dict, log) -> float:
    """The averaging decay of a resumed run: ``--ema`` when given, else the checkpoint's."""
    had = ck.get("ema_decay") or (0.999 if ck.get("gen_ema") is not None else 0.0)  # 0.999: checkpoints before ema_decay was stored
    if asked is None:
        if had:
            log(f"keeping the checkpoint's weight average (decay {had:g}; --ema 0 drops it)")
        return had
    if had and not asked:
        log("--ema 0: the checkpoint's weight average is dropped; the raw generator is validated and exported")
    return asked


def _ema_from(gen, decay: float | None, saved: dict | None, log):
    """The generator's weight average for ``--ema`` > 0 (None when off): the
    checkpoint's average when it has one, else a copy of the generator."""
    if not decay:
        return None
    if not 0.0 < decay < 1.0:
        raise InputError(f"--ema must lie in (0, 1), got {decay:g}")
    import copy

    ema = copy.deepcopy(gen).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    if saved is not None:
        ema.load_state_dict(saved)
    else:
        log(f"weight average (decay {decay:g}) starts from the generator")
    ema.decay = decay
    return ema


def ema_update(ema, gen) -> None:
    """ema <- decay * ema + (1 - decay) * gen for the weights; buffers copied."""
    import torch

    with torch.no_grad():
        for pe, p in zip(ema.parameters(), gen.parameters()):
            pe.mul_(ema.decay).add_(p.detach(), alpha=1.0 - ema.decay)
        for be, b in zip(ema.buffers(), gen.buffers()):
            be.copy_(b)


def _warm_start(path: Path, cfg: dict, nets, device, log) -> dict:
    """Load the networks of another run's checkpoint (``--init``); its architecture must match.

    Returns its provenance for the card: path, step, commands and, nested, what it was started from."""
    import torch

    ck = torch.load(path, map_location=device, weights_only=False)
    arch = ("variant", "region", "size", "lm_ch", "cond", "cond_ch", "residual")
    theirs = {"residual": False, **ck["config"]}
    hinted = theirs.get("cond") == "learned" and cfg["cond"] == "hint"  # the hint's two inputs start at zero weight
    if any(theirs.get(k) != cfg[k] for k in arch if not (hinted and k in ("cond", "cond_ch"))):
        raise InputError(f"--init {path}: another architecture ({ {k: theirs.get(k) for k in arch} })")
    same_ids = theirs.get("n_ids") == cfg["n_ids"]
    if hinted:
        from reenactor.train.fdgan_net import widen_inputs

        ck["gen"] = widen_inputs(ck["gen"], "tr_down.levels.0.0.weight", cfg["lm_ch"] + cfg["cond_ch"])
    for obj, key in zip(nets, ("gen", "disc", "cls") if same_ids else ("gen", "disc")):
        obj.load_state_dict(ck[key])
    log(f"networks from {path} (step {ck['state']['step']})" + ("" if same_ids else
        f"; its identity classifier has {theirs.get('n_ids')} classes, not {cfg['n_ids']}: that one starts afresh"))
    st = ck["state"]
    return {"path": str(path), "step": st["step"], "config": ck["config"], "commands": st.get("commands", []), "init": st.get("init")}


def loop(args, cfg, sp, nets, opts, tr, val, state, device, log, ema=None) -> None:
    """The training loop with its checkpoints, validations and progress bar.

    With ``ema`` (see :func:`_ema_from`) the average is updated after every
    step, and it is what the validation scores."""
    import torch
    from tqdm import tqdm

    out = Path(args.out)
    minutes = args.minutes if args.minutes is not None or args.steps is not None else DEFAULT_MINUTES
    t_end = None if minutes is None else time.monotonic() + 60.0 * minutes
    target = args.steps

    def done() -> bool:
        return (target is not None and state["step"] >= target) or (t_end is not None and time.monotonic() >= t_end)

    def save() -> None:
        keys = ("gen", "disc", "cls", "opt_g", "opt_d", "opt_c")
        blob = {k: o.state_dict() for k, o in zip(keys, [*nets, *opts])}
        if ema is not None:
            blob["gen_ema"], blob["ema_decay"] = ema.state_dict(), ema.decay
        blob |= {"state": state, "config": cfg, "split": sp, "rng": tr.rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
        torch.save(blob, out / "ckpt.tmp.pt")
        (out / "ckpt.tmp.pt").replace(out / "ckpt.pt")

    def validate() -> None:
        rec = {"step": state["step"], "seconds": round(state["seconds"], 1)}
        pred = predict(ema if ema is not None else nets[0], val, device)
        rec |= {f"val_{k}": v for k, v in masked_scores(pred, val["tgt_img"], val["mask"]).items()}
        if "blend" in val and cfg["region"] != "face":  # as the renderer shows it: blended over the warp, at the pair's paint amount
            rec |= {f"val_comp_{k}": v for k, v in masked_scores(as_rendered(pred, val), val["tgt_img"], val["mask"]).items()}
        save_samples(val, pred, out / "samples.png")
        if not state["history"]:
            rec |= baselines(val)
        state["history"].append(rec)
        _log(out / "log.jsonl", {"kind": "val"} | rec)
        comp = f"; blended as rendered: L1 {rec['val_comp_l1']:.4f}, SSIM {rec['val_comp_ssim']:.4f}" if "val_comp_l1" in rec else ""
        log(f"step {rec['step']}: val L1 {rec['val_l1']:.4f}, SSIM {rec['val_ssim']:.4f}{comp} ({state['seconds'] / 60:.1f} min)")
        plot_curve(out / "log.jsonl", out / "curve.png", cfg)

    if not state["history"]:
        validate()
    bar = tqdm(total=target, initial=state["step"], desc=f"FD-GAN {cfg['region']}", unit="step", disable=args.no_progress, dynamic_ncols=True)
    acc: dict[str, float] = {}
    n_acc, t_acc = 0, 0.0
    while not done():
        t0 = time.monotonic()
        parts = train_step(nets, opts, _tensors(tr.batch(args.batch), device), cfg.get("inner_weight", 0.0), cfg.get("rec", "mse"),
                           args.adv_weight, cfg.get("ssim_weight") if cfg.get("loss") == "composite" else None)
        if ema is not None:
            ema_update(ema, nets[0])
        state["step"] += 1
        dt = time.monotonic() - t0
        state["seconds"] += dt
        n_acc, t_acc = n_acc + 1, t_acc + dt
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        bar.update(1)
        if state["step"] % args.log_every == 0:
            rec = {"kind": "train", "step": state["step"], "seconds": round(state["seconds"], 1), "sec_per_step": round(t_acc / n_acc, 4)}
            _log(out / "log.jsonl", rec | {k: v / n_acc for k, v in acc.items()})
            bar.set_postfix(rec=f"{acc['g_rec'] / n_acc:.4f}", d=f"{acc['dc_d'] / n_acc:.3f}", s=f"{t_acc / n_acc:.2f}")
            acc, n_acc, t_acc = {}, 0, 0.0
        if state["step"] % args.checkpoint_every == 0:
            validate()
            save()
    bar.close()
    if state["history"][-1]["step"] != state["step"]:
        validate()
    save()
    log(f"stopped at step {state['step']} ({state['seconds'] / 60:.1f} min of training steps)")
