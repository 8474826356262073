"""Export of a trained FD-GAN: ONNX graphs, their check against PyTorch, and the card.

The whole generator goes to ``fdgan_<region>.onnx`` (inputs as
:func:`reenactor.train.fdgan_net.export_onnx`). A generator with a condition
(the inner-mouth regions) is also split into the two graphs the runtime uses
(:mod:`reenactor.render.mouth_fdgan`): ``fdgan_<region>_extractor.onnx``
(once per portrait) and ``fdgan_<region>_translator.onnx`` (once per frame),
each with a copy of the card.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from reenactor.errors import InputError


def _timed(sess, feeds: dict, runs: int = 6) -> float:
    """Median ms of ``runs - 1`` runs after a warm-up."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times[1:])), 2)


def export_parts(gen, out: Path, name: str, val: dict, cond: str = "warp") -> dict:
    """Write ``<name>_extractor.onnx`` and ``<name>_translator.onnx``; check them.

    The translator's ONNX metadata ``cond`` names the condition it was
    trained on (``--cond``), which the runtime builds the same way.

    Returns:
        dict: file names, max |ONNX - PyTorch| of the chained parts on the
        first validation pair, and the translator's onnxruntime ms per frame.
    """
    import torch

    from reenactor.train.fdgan_net import export_onnx_parts
    from reenactor.weights import onnx_session

    with tempfile.TemporaryDirectory() as tmp:
        ext_tmp, tr_tmp = export_onnx_parts(gen, tmp, int(val["src_img"].shape[-1]), {"cond": cond})
        shutil.move(ext_tmp, out / f"{name}_extractor.onnx")
        shutil.move(tr_tmp, out / f"{name}_translator.onnx")
    ext = onnx_session(out / f"{name}_extractor.onnx", threads=1)
    tr = onnx_session(out / f"{name}_translator.onnx", threads=1)
    first = {k: np.ascontiguousarray(val[k][:1]) for k in ("src_img", "src_lm", "tgt_lm", "cond")}
    dicts = ext.run(None, {"src_img": first["src_img"], "src_lm": first["src_lm"]})
    feeds = {"tgt_lm": first["tgt_lm"], "cond": first["cond"]} | {f"dict{k}": d for k, d in enumerate(dicts)}
    with torch.no_grad():
        ref = gen(*(torch.from_numpy(first[k]) for k in ("src_img", "src_lm", "tgt_lm", "cond"))).numpy()
    diff = float(np.abs(tr.run(None, feeds)[0] - ref).max())
    return {"extractor": f"{name}_extractor.onnx", "translator": f"{name}_translator.onnx",
            "onnx_parts_max_abs_diff_vs_torch": diff, "translator_cpu_ms_per_frame_onnxruntime_1_thread": _timed(tr, feeds)}


def export(args, cfg, sp, gen, val, state, log, lambdas: dict, strength: dict | None = None) -> Path:
    """Write ``fdgan_<region>.onnx`` and its card into ``--out``; print the registry line.

    ``strength``: how the generator's change was scaled before export (``--strength``), for the card."""
    import torch

    from reenactor.train.fdgan_net import count_parameters, export_onnx
    from reenactor.weights import onnx_session, sha256_of

    out = Path(args.out)
    name = f"fdgan_{cfg['region']}"
    gen = gen.cpu().eval()
    path = export_onnx(gen, out / f"{name}.onnx", cfg["size"])
    sess = onnx_session(path, threads=1)
    feeds = {i.name: np.ascontiguousarray(val[i.name][:1]) for i in sess.get_inputs()}
    with torch.no_grad():
        ref = gen(*(torch.from_numpy(feeds[k]) for k in feeds)).numpy()
    diff = float(np.abs(sess.run(None, feeds)[0] - ref).max())
    parts = export_parts(gen, out, name, val, cfg["cond"]) if cfg["cond_ch"] else {}
    final = state["history"][-1]
    card = {
        "name": name,
        "description": f"FD-GAN translator ({cfg['variant']}) on a {cfg['size']} px {cfg['region']} crop (reenactor train fdgan; crops, landmark image and warp: reenactor.render.landmark_image)",
        "command": state["commands"][0], "resumed_with": state["commands"][1:], "devices": state["devices"], "init": state.get("init"),
        "seed": args.seed, "steps": state["step"], "train_seconds": round(state["seconds"], 1),
        "config": cfg, "batch": args.batch, "lr": state.get("lrs", [args.lr])[-1], "lr_per_invocation": state.get("lrs"), "ema_decay": getattr(gen, "decay", None), "optimizer": "Adam (betas 0.5, 0.999)" if cfg.get("optimizer") == "adam" else "RMSprop (torch defaults otherwise)",
        "lambdas": lambdas, "strength": strength or {"strength": 1.0}, "parameters": count_parameters(gen),
        "onnx_inputs": {i.name: i.shape for i in sess.get_inputs()}, "opset": 17,
        "onnx_max_abs_diff_vs_torch": diff, "cpu_ms_per_frame_onnxruntime_1_thread": _timed(sess, feeds), "parts": parts,
        "validation": {"final": final, "baselines": {k: v for k, v in state["history"][0].items() if k.startswith(("source_", "warp_"))},
                       "curve": state["history"], "pairs": int(len(val["ids"])),
                       "metric": "L1 (0..1) and SSIM (7x7) of prediction vs true target frame inside the target's " + ("face oval" if cfg["region"] == "face" else "inner-lip contour")},
        "data": {"source": str(args.data), "frames_per_clip": args.frames_per_clip,
                 "train_identities": sp["train"], "val_identities": sp["val"], "val_identities_forced_by_eval_sets": sp["forced"],
                 "train_clips": sp["train_clips"], "val_clips": sp["val_clips"]},
        "sha256": sha256_of(path),
    }
    (out / f"{name}.json").write_text(json.dumps(card, indent=1) + "\n")
    log(f"exported {path} (max |onnx - torch| {diff:.2e}); to ship, copy {name}.onnx and {name}.json to src/reenactor/weights/ and add to _MODELS:")
    print(f'    ("{name}", "{card["sha256"]}",\n     "{card["description"]}"),')
    for part in ("extractor", "translator") if parts else ():
        stem = f"{name}_{part}"
        part_card = card | {"name": stem, "description": f"FD-GAN {part} ({cfg['variant']}, {cfg['size']} px {cfg['region']} crop; reenactor.render.mouth_fdgan)",
                            "sha256": sha256_of(out / f"{stem}.onnx"), "whole_graph_sha256": card["sha256"]}
        (out / f"{stem}.json").write_text(json.dumps(part_card, indent=1) + "\n")
        print(f'    ("{stem}", "{part_card["sha256"]}",\n     "{part_card["description"]}"),')
    return path


def with_strength(args, cfg: dict, sp: dict, data: dict, gen, device, log):
    """(generator to export, {"strength", "chosen_on"}) for ``--strength`` (see ``reenactor train fdgan --help``)."""
    from reenactor.train import fdgan_data as FD
    from reenactor.train.fdgan_validate import choose_strength, scaled

    if args.strength == "auto":
        from reenactor.train.mouth_data import eval_videos

        parse_strength(args.strength, cfg)
        judged = eval_videos()
        pairs, clips = FD.portrait_pairs(FD.PairSampler(data, sp["val"], cfg["region"], cfg["lm_ch"], cfg["cond"], args.seed + 3), 12, args.seed + 4, judged)
        value, rows = choose_strength(gen, pairs, device)
        log(f"strength as rendered, first frame as the portrait, {len(pairs['ids'])} pairs of {len(clips)} validation clips no evaluation set uses: "
            + ", ".join(f"{r['strength']:g}: SSIM {r['ssim']:.4f} L1 {r['l1']:.4f}" for r in rows) + f" -> {value:g}")
        return scaled(gen, value), {"strength": value, "chosen_on": {"clips": clips, "pairs": int(len(pairs["ids"])), "scores": rows}}
    value = parse_strength(args.strength, cfg)
    return (gen, {"strength": 1.0}) if value == 1.0 else (scaled(gen, value), {"strength": value})


def parse_strength(text: str, cfg: dict) -> float | str:
    """``--strength`` as a float, or ``"auto"``.

    Raises:
        InputError: not a number above 0 or 'auto', or other than 1 for a model that is not residual.
    """
    if text == "auto":
        value = "auto"
    else:
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"--strength must be a number or 'auto', got {text!r}") from None
        if not value > 0:
            raise InputError(f"--strength must be above 0, got {text}")
    if value != 1.0 and not cfg.get("residual"):
        raise InputError("--strength other than 1 needs a residual model (--residual)")
    return value
