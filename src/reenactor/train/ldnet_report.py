"""Regenerate ``docs/ldnet.md``: benchmark, Table 1, identity curve, losses, choices.

::

    python -m reenactor.train.ldnet_report --cache ~/.cache/reenactor/landmarks --out docs/ldnet.md \\
        [--model ldnet] [--curve-runs RUN_DIR ...] [--space-runs RUN_3D RUN_2D] [--eval EVAL_DIR]

Everything measured is recomputed from the shipped model (or ``--model``)
and the landmark cache. Results of training runs that are not shipped (the
identity-count curve, the 2D/3D comparison) and of ``reenactor eval`` are
read from their folders when given and kept in ``docs/ldnet/*.json``, so a
later regeneration without those folders reuses them.

The measuring is done here, the page's text in :mod:`reenactor.train.ldnet_report_md`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reenactor.train.landmark_cache import load_cache
from reenactor.train.ldnet_report_md import PAPER_TABLE1, _document  # noqa: F401


def _load_torch_run(run: Path):
    """(TorchLDNet, card dict, log records) of a training run folder (needs torch)."""
    import torch

    from reenactor.train.ldnet import Trainer, TorchLDNet

    saved = torch.load(run / "ckpt.pt", map_location="cpu", weights_only=False)
    a = saved["args"]
    net_state = saved["trainer"]["net"]
    dim = net_state["E_P.0.weight"].shape[1]
    n_labels = net_state["N_I.weight"].shape[1]
    tr = Trainer(dim, n_labels, a.get("hidden", 512), a.get("layers", 10))
    tr.load(saved["trainer"])
    tr.net.eval()
    card = json.loads((run / "ldnet.json").read_text()) if (run / "ldnet.json").is_file() else {}
    return TorchLDNet(tr.net, a.get("space", "3d")), card, _read_log(run / "log.jsonl")


def _read_log(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _plot_losses(log: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    s1 = [r for r in log if r["stage"] == 1 and "rec" in r]
    s2 = [r for r in log if r["stage"] == 2 and "rec" in r]
    ax = axes[0]
    ax.semilogy([r["step"] for r in s1], [r["rec"] for r in s1], label="stage 1 rec")
    ax.semilogy([r["step"] for r in s2], [r["rec"] for r in s2], label="stage 2 rec")
    ax.set_xlabel("step")
    ax.set_title("reconstruction (per-point squared distance)")
    ax.legend()
    ax = axes[1]
    for key, lab in (("C", "C loss"), ("D", "D loss"), ("adv", "G: D(l'_T)^2"), ("cls", "G: -log P(k|l'_T)")):
        pts = [(r["step"], r[key]) for r in s2 if key in r]
        if pts:
            ax.plot(*zip(*pts), label=lab)
    ax.set_xlabel("stage-2 step")
    ax.set_title("stage 2 adversarial terms")
    ax.legend(fontsize=8)
    ax = axes[2]
    v = [(r["step"], r["val_ldnet"], r["val_driver"]) for r in log if "val_ldnet" in r]
    if v:
        st, vl, vd = zip(*v)
        ax.plot(st, vl, "o-", label="LD-Net (held-out people)")
        ax.plot(st, vd, "--", label="driver as it is")
    ax.set_xlabel("stage-2 step")
    ax.set_title("validation: absolute transfer error (IOD)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_curve(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for aug, style in ((False, "o-"), (True, "s-")):
        pts = sorted((p["labels"], p["test_ldnet"]) for p in points if (p["augment"] > 0) == aug)
        if pts:
            ax.plot(*zip(*pts), style, label="real + synthetic identities" if aug else "real identities only")
    base = [p["test_geometric"] for p in points if "test_geometric" in p]
    if base:
        ax.axhline(base[0], color="gray", ls="--", label="geometric retargeting")
    ax.set_xscale("log")
    ax.set_xlabel("training identities (labels)")
    ax.set_ylabel("held-out transfer error (IOD)")
    ax.set_title("LD-Net vs number of training identities (equal short budgets)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m reenactor.train.ldnet_report", description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", type=Path, required=True, help="landmark cache folder")
    p.add_argument("--model", default="ldnet", help="registry name or .onnx path (default: the shipped ldnet)")
    p.add_argument("--out", type=Path, default=Path("docs/ldnet.md"))
    p.add_argument("--curve-runs", type=Path, nargs="*", default=[], help="training run folders for the identity curve")
    p.add_argument("--space-runs", type=Path, nargs="*", default=[], help="run folders trained in 3d and 2d with the same budget")
    p.add_argument("--eval", type=Path, default=None, help="output folder of `reenactor eval --protocol cross --methods reenactor,reenactor-ldnet`")
    p.add_argument("--train-log", type=Path, default=None, help="log.jsonl of the shipped model's training (copied to docs/ldnet/)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--update-card", action="store_true", help="also record the measured figures in the model's JSON card")
    args = p.parse_args(argv)

    from reenactor.motion.ldnet import LDNetModel, LDNetRetargeter, normalise
    from reenactor.train.ldnet_bench import identity_separation, latent_table, space_measurement, transfer_benchmark
    from reenactor.train.ldnet_data import load_set
    from reenactor.weights import REGISTRY, WEIGHTS_DIR, sha256_of

    assets = args.out.parent / "ldnet"
    assets.mkdir(parents=True, exist_ok=True)
    model = LDNetModel(args.model, threads=args.threads)
    onnx_path = Path(args.model) if str(args.model).endswith(".onnx") else WEIGHTS_DIR / REGISTRY[str(args.model)].filename
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    records = {r.name: r for r in load_cache(args.cache)}
    test = load_set(args.cache, [records[n] for n in card["data"]["test"] if n in records])
    val = load_set(args.cache, [records[n] for n in card["data"]["val"] if n in records])

    figures: dict = {}
    bench = transfer_benchmark(test, model)
    figures["benchmark"] = bench
    figures["table1"] = latent_table(test, model, within_clip=True)
    figures["table1_across_clips"] = latent_table(test, model, within_clip=False)
    figures["identity_separation"] = identity_separation(test, model)
    figures["space_measurement_val"] = space_measurement(val)
    # Speed: one retargeter call per driver frame (E_P + G + placement), 1 thread.
    rows = np.flatnonzero(test.clip == 0)[:100]
    rt = LDNetRetargeter(test.x[rows[0]], test.x[rows[0]], model=model)
    for x in test.x[rows[:5]]:
        rt(x)
    t0 = time.perf_counter()
    for x in test.x[rows]:
        rt(x)
    figures["ms_per_frame"] = 1000 * (time.perf_counter() - t0) / len(rows)
    vecs = [normalise(x, model.space)[0][None] for x in test.x[rows[:50]]]
    t0 = time.perf_counter()
    for v in vecs:
        model.generate(v, rt.code)
    figures["ms_network_only"] = 1000 * (time.perf_counter() - t0) / 50
    figures["onnx_bytes"] = onnx_path.stat().st_size
    figures["onnx_sha256"] = sha256_of(onnx_path)

    # Training log of the shipped model.
    log_copy = assets / "train_log.jsonl"
    if args.train_log is not None:
        log_copy.write_text(Path(args.train_log).read_text())
    log = _read_log(log_copy)
    if log:
        _plot_losses(log, assets / "losses.png")

    # Identity-count curve.
    curve_json = assets / "curve.json"
    if args.curve_runs:
        points = []
        for run in args.curve_runs:
            net, rcard, rlog = _load_torch_run(run)
            b = transfer_benchmark(test, net, methods=("geometric", "ldnet", "ldnet_absolute"))
            final = [r for r in rlog if r.get("final")]
            points.append({
                "run": run.name, "persons": rcard["persons"], "augment": rcard["augment"], "labels": rcard["labels"],
                "steps": rcard["steps"], "test_ldnet": b["methods"]["ldnet"], "test_ldnet_absolute": b["methods"]["ldnet_absolute"],
                "test_geometric": b["methods"]["geometric"], "val_ldnet_normalised": final[-1]["val_ldnet"] if final else None,
            })
        curve_json.write_text(json.dumps(points, indent=1) + "\n")
    points = json.loads(curve_json.read_text()) if curve_json.is_file() else []
    if points:
        _plot_curve(points, assets / "identity_curve.png")

    space_json = assets / "space_runs.json"
    if args.space_runs:
        res = []
        for run in args.space_runs:
            net, rcard, _ = _load_torch_run(run)
            b = transfer_benchmark(val, net, methods=("ldnet", "ldnet_absolute"))
            res.append({"run": run.name, "space": rcard["space"], "steps": rcard["steps"], "val_ldnet": b["methods"]["ldnet"], "val_ldnet_absolute": b["methods"]["ldnet_absolute"]})
        space_json.write_text(json.dumps(res, indent=1) + "\n")
    space_runs = json.loads(space_json.read_text()) if space_json.is_file() else []

    eval_json = assets / "eval_cross.json"
    if args.eval is not None:
        doc = json.loads((args.eval / "results.json").read_text())
        eval_json.write_text(json.dumps(doc.get("summary", {}), indent=1) + "\n")
    eval_summary = json.loads(eval_json.read_text()) if eval_json.is_file() else {}

    (assets / "figures.json").write_text(json.dumps({k: v for k, v in figures.items() if k != "benchmark"} | {"benchmark": bench["methods"], "benchmark_frames": bench["frames"]}, indent=1) + "\n")
    args.out.write_text(_document(card, figures, points, space_runs, eval_summary, log), encoding="utf-8")
    if args.update_card:
        card.setdefault("figures", {})
        card["figures"].update({
            "benchmark_test_iod": bench["methods"], "benchmark_frames": bench["frames"],
            "table1_pca8": {k: {"E_I": v[0], "E_P": v[1]} for k, v in figures["table1"].items()},
            "identity_separation": figures["identity_separation"],
            "ms_per_frame_retargeter": round(figures["ms_per_frame"], 3), "ms_per_frame_network": round(figures["ms_network_only"], 3),
        })
        onnx_path.with_suffix(".json").write_text(json.dumps(card, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
