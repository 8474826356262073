"""Export of the inner-mouth painter: ONNX graph, weight card and validation curve.

The last step of ``reenactor train mouth`` (:mod:`reenactor.train.mouth`,
which re-exports these names).
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
from reenactor.train.mouth_data import CLOSED_STRIDE, GRAD_WEIGHT, MIN_MOUTH_PX, OPEN_KEEP, Sampler


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
