"""FD-GAN ablation (issue 16, the paper's Table 3): FD-GAN vs FD-GAN-1 vs AdaIN on held-out identities.

Checkpoints of ``reenactor train fdgan`` (``<run>/ckpt.pt``; runs with other
splits, regions, crop sizes or crop caches are refused) are scored on the same
``N`` fixed self-reenactment pairs (source frame i, target frame j of one clip)
of their held-out identities (``split["val"]``), drawn as the trainer's
validation set (:meth:`~reenactor.train.fdgan_data.PairSampler.fixed`, seeds
``seed + 1`` / ``seed + 2``). Rows: each variant and two trivial references,
"source" (the source frame as prediction) and "target" (the true target).

* **SSIM** (skimage, 7x7, uint8 RGB) and **L1** (0..1) of prediction vs true
  target over the target's face oval (area-weighted) and the whole crop.
* **Identity**: dlib 128-D descriptors (crops upscaled to :data:`UPSCALE` px,
  bicubic); distance prediction <-> *source* frame (lower is better), cosine,
  share under dlib's 0.6 threshold; over pairs where dlib finds both faces.
* **FD-dlib**: Frechet distance of Gaussians fitted to the predictions' and the
  true targets' descriptors (:func:`frechet_distance`). ~200 samples in 128
  dims: noisy covariances, biased upwards, comparable only between rows on the
  same pairs. The "source" row (real vs real) is the practical floor;
  ``fd_floor_halves`` (two disjoint target halves, n/2 each) is also reported.

The paper's Table 3 (ISIM: VGGFace2 cosine, FID: Inception, 256 px VoxCeleb)
is quoted for orientation only: other metrics, other data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reenactor.errors import InputError, OutputError
from reenactor.train.fdgan_validate import masked_scores, u8

#: Side (px) the 128 px crops are upscaled to before dlib measures them.
UPSCALE = 256
#: dlib's same-person threshold on the descriptor distance.
ID_THRESHOLD = 0.6
#: The paper's Table 3 (one-shot-identity-preserving-portrait-reenactment.txt, line ~223), verbatim.
PAPER_TABLE3 = {
    "Pix2PixHD": {"cross": {"ISIM": 0.514, "SSIM": None, "FID": 99.34}, "self": {"ISIM": 0.41, "SSIM": 0.49, "FID": 98.36}},
    "AdaIN": {"cross": {"ISIM": 0.650, "SSIM": None, "FID": 86.69}, "self": {"ISIM": 0.51, "SSIM": 0.56, "FID": 90.70}},
    "FD-GAN-1": {"cross": {"ISIM": 0.6232, "SSIM": None, "FID": 71.11}, "self": {"ISIM": 0.49, "SSIM": 0.56, "FID": 70.34}},
    "FD-GAN (Ours)": {"cross": {"ISIM": 0.7726, "SSIM": None, "FID": 67.68}, "self": {"ISIM": 0.63, "SSIM": 0.63, "FID": 55.19}},
}
_SPLIT_KEYS = ("train", "val", "train_clips", "val_clips")


# ----------------------------------------------------------------- Frechet
def frechet_distance(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray, eps: float = 1e-6) -> float:
    """``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 sqrtm(S1 S2))`` (real part of sqrtm).

    Args:
        mu1, mu2: (D,) means; s1, s2: (D, D) covariances. When the product's
            square root is not finite (singular covariances), ``eps * I`` is
            added to both, as pytorch-fid does.
    """
    from scipy import linalg

    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(s1).astype(np.float64), np.atleast_2d(s2).astype(np.float64)
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        off = eps * np.eye(len(s1))
        covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(np.real(covmean)))


def descriptor_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance of the Gaussians fitted to samples ``a`` (N, D) and ``b`` (M, D); NaN rows dropped."""
    a, b = a[np.isfinite(a).all(1)], b[np.isfinite(b).all(1)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


# ------------------------------------------------------------ checkpoints
def load_run(path: Path) -> dict:
    """``{"name", "path", "ck"}`` of a run folder (or a ``ckpt.pt`` file).

    Raises:
        InputError: missing, unreadable or not an FD-GAN checkpoint.
    """
    import torch

    path = Path(path)
    ck_path = path / "ckpt.pt" if path.is_dir() else path
    if not ck_path.is_file():
        raise InputError(f"{path}: no FD-GAN checkpoint (ckpt.pt) there")
    try:
        ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise InputError(f"{ck_path}: not a readable torch checkpoint ({type(exc).__name__})") from None
    if not isinstance(ck, dict) or not {"config", "gen", "split", "state"} <= set(ck):
        raise InputError(f"{ck_path}: not an FD-GAN checkpoint (needs config, gen, split, state)")
    return {"name": ck["config"]["variant"], "path": str(ck_path.parent if path.is_dir() else ck_path), "ck": ck}


def check_same_split(runs: list[dict]) -> dict:
    """The split all runs share; names made unique (variant, else run folder).

    Args:
        runs: from :func:`load_run` (only ``name``, ``path`` and ``ck["config"|"split"]`` are read).

    Raises:
        InputError: no run, or runs differing in split, region or crop size.
    """
    if not runs:
        raise InputError("no run given")
    ref = runs[0]
    for r in runs[1:]:
        for key in _SPLIT_KEYS:
            if list(r["ck"]["split"].get(key, [])) != list(ref["ck"]["split"].get(key, [])):
                raise InputError(f"{r['path']} and {ref['path']} were trained on different splits ({key} differs): not comparable")
        for key in ("region", "size"):
            if r["ck"]["config"][key] != ref["ck"]["config"][key]:
                raise InputError(f"{r['path']} and {ref['path']} differ in {key} ({r['ck']['config'][key]} vs {ref['ck']['config'][key]})")
    names = [r["name"] for r in runs]
    for k, r in enumerate(runs):
        if names.count(r["name"]) > 1:
            r["name"] = f"{r['name']}:{Path(r['path']).name}#{k + 1}"
    return ref["ck"]["split"]


# ------------------------------------------------------------------ pairs
def eval_pairs(data: dict, split: dict, cfg: dict, n: int, seed: int, cond: bool) -> dict:
    """N fixed pairs of held-out identities as in :meth:`PairSampler.fixed`.

    Returns:
        dict of stacked arrays: src_img, tgt_img (N, 3, S, S) float32 in [-1, 1],
        src_lm, tgt_lm (N, C, S, S) in [0, 1], ids (N,), mask (N, S, S) 0/1
        face oval of the target, cond (N, 3, S, S) with ``cond``.

    Raises:
        InputError: the crop cache holds other held-out clips than the runs saw.
    """
    from reenactor.train import fdgan_data as FD

    keep = set(split["val"])
    have = sorted(c["name"] for c in data["clips"] if c["identity"] in keep)
    if have != sorted(split["val_clips"]):
        raise InputError(f"the crop cache has {len(have)} held-out clips, the runs {len(split['val_clips'])}: other data or --frames-per-clip")
    return FD.PairSampler(data, split["val"], cfg["region"], cfg["lm_ch"], cond, seed + 1).fixed(n, seed + 2)


def predict_run(run: dict, pairs: dict, device) -> np.ndarray:
    """The run's generator output (N, 3, S, S) float32 in ~[-1, 1] on ``pairs``."""
    from reenactor.train.fdgan import build_models
    from reenactor.train.fdgan_validate import predict

    gen = build_models(run["ck"]["config"])[0]
    gen.load_state_dict(run["ck"]["gen"])
    return predict(gen.to(device), pairs, device)


# ---------------------------------------------------------------- metrics
def descriptors(face, images: np.ndarray, upscale: int = UPSCALE) -> np.ndarray:
    """dlib descriptors (N, 128) float64 of (N, 3, S, S) [-1, 1] images; NaN rows where no face is found."""
    import cv2

    out = np.full((len(images), 128), np.nan)
    for k, im in enumerate(images):
        rgb = cv2.resize(u8(im), (upscale, upscale), interpolation=cv2.INTER_CUBIC) if upscale else u8(im)
        m = face.measure(rgb, descriptor=True)
        if m.found and m.descriptor is not None:
            out[k] = m.descriptor
    return out


def identity_scores(pred_desc: np.ndarray, src_desc: np.ndarray) -> dict:
    """Distance / cosine of prediction vs source descriptors (N, 128), over pairs where both exist."""
    ok = np.isfinite(pred_desc).all(1) & np.isfinite(src_desc).all(1)
    if not ok.any():
        return {"id_dist": float("nan"), "id_cos": float("nan"), "id_under_0.6": float("nan"), "id_pairs": 0}
    p, s = pred_desc[ok], src_desc[ok]
    dist = np.linalg.norm(p - s, axis=1)
    cos = (p * s).sum(1) / (np.linalg.norm(p, axis=1) * np.linalg.norm(s, axis=1) + 1e-12)
    return {"id_dist": float(dist.mean()), "id_cos": float(cos.mean()),
            "id_under_0.6": float((dist < ID_THRESHOLD).mean()), "id_pairs": int(ok.sum())}


def score(pred: np.ndarray, pairs: dict, pred_desc: np.ndarray | None, desc: dict | None) -> dict:
    """All metrics of one prediction set (N, 3, S, S) in [-1, 1] against ``pairs``.

    ``desc``: descriptors of the pairs' ``src`` and ``tgt`` (or None without dlib).
    """
    oval = masked_scores(pred, pairs["tgt_img"], pairs["mask"])
    crop = masked_scores(pred, pairs["tgt_img"], np.ones_like(pairs["mask"]))
    out = {"ssim_oval": oval["ssim"], "ssim_crop": crop["ssim"], "l1_oval": oval["l1"], "l1_crop": crop["l1"]}
    if desc is not None and pred_desc is not None:
        out |= identity_scores(pred_desc, desc["src"])
        out["fd_dlib"] = descriptor_fd(pred_desc, desc["tgt"])
        out["dlib_found"] = float(np.isfinite(pred_desc).all(1).mean())
    return out


# -------------------------------------------------------------- evaluate
def evaluate(run_paths: list[Path], data_dir: Path, landmark_dir: Path, cache_dir: Path, n_pairs: int = 200,
             seed: int = 0, frames_per_clip: int = 160, device: str = "auto", use_dlib: bool = True, log=print) -> tuple[dict, dict]:
    """Score every run on the same pairs.

    Returns:
        ``(result, images)``: ``result`` is the JSON-ready report (see
        :func:`markdown`); ``images`` holds ``pairs`` and ``preds`` (name -> array) for :func:`save_figure`.
    """
    from reenactor.train import fdgan_data as FD
    from reenactor.train.fdgan import _device

    runs = [load_run(p) for p in run_paths]
    split = check_same_split(runs)
    cfg0 = runs[0]["ck"]["config"]
    log(f"{len(runs)} runs ({', '.join(r['name'] for r in runs)}): {len(split['val'])} held-out identities, {len(split['val_clips'])} clips")
    data = FD.build_crops(data_dir, landmark_dir, cache_dir, cfg0["region"], cfg0["size"], frames_per_clip, log)
    cond = any(r["ck"]["config"]["cond_ch"] for r in runs)
    by_lm = {lm: eval_pairs(data, split, cfg0 | {"lm_ch": lm}, n_pairs, seed, cond) for lm in {r["ck"]["config"]["lm_ch"] for r in runs}}
    pairs = by_lm[cfg0["lm_ch"]]
    dev = _device(device)
    log(f"{len(pairs['ids'])} pairs; predicting on {dev}")
    preds = {r["name"]: predict_run(r, by_lm[r["ck"]["config"]["lm_ch"]], dev) for r in runs}
    face = desc = None
    if use_dlib:
        from reenactor.eval.dlibface import DlibFace

        face = DlibFace()
        desc = {k: descriptors(face, pairs[f"{k}_img"]) for k in ("src", "tgt")}
        log("dlib: sources and targets measured")
    refs = {"source": pairs["src_img"], "target": pairs["tgt_img"]}
    result = {"pairs": int(len(pairs["ids"])), "seed": seed, "frames_per_clip": frames_per_clip, "dlib_upscale": UPSCALE if use_dlib else None,
              "held_out_identities": len(split["val"]), "held_out_clips": len(split["val_clips"]), "variants": {}, "references": {}}
    for name, pred in {**preds, **refs}.items():
        pd = None if face is None else (desc["src"] if name == "source" else desc["tgt"] if name == "target" else descriptors(face, pred))
        metrics = score(pred, pairs, pd, desc)
        if name in refs:
            result["references"][name] = metrics
        else:
            r, st = next((r, r["ck"]["state"]) for r in runs if r["name"] == name)
            result["variants"][name] = {"run": r["path"], "config": r["ck"]["config"], "steps": int(st["step"]),
                                        "train_seconds": round(float(st["seconds"]), 1), "metrics": metrics}
        log(f"{name}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
    if desc is not None:
        tgt = desc["tgt"][np.isfinite(desc["tgt"]).all(1)]
        perm = np.random.default_rng(seed).permutation(len(tgt))
        result["fd_floor_halves"] = descriptor_fd(tgt[perm[: len(tgt) // 2]], tgt[perm[len(tgt) // 2:]])
    result["paper_table3"] = PAPER_TABLE3
    return result, {"pairs": pairs, "preds": preds}


# ---------------------------------------------------------------- outputs
def _f(v, digits: int = 3) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def markdown(result: dict) -> str:
    """The report as a markdown table: variants, references, then the paper's Table 3 rows (self-reenactment)."""
    head = ("| method | steps | train min | SSIM oval ↑ | SSIM crop ↑ | L1 oval ↓ | ID dist to source ↓ | ID cos ↑ "
            "| ID < 0.6 ↑ | FD-dlib ↓ | dlib found |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    rows = [(n, v["steps"], v["train_seconds"] / 60, v["metrics"]) for n, v in result["variants"].items()]
    rows += [(f"reference: {n}", None, None, m) for n, m in result["references"].items()]
    for name, steps, mins, m in rows:
        halves = name == "reference: target" and "fd_floor_halves" in result
        fd_s = f"{_f(result['fd_floor_halves'], 4)} (halves)" if halves else _f(m.get("fd_dlib"), 4)
        lines.append(f"| {name} | {steps if steps is not None else '-'} | {_f(mins, 1)} | {_f(m['ssim_oval'])} | {_f(m['ssim_crop'])} "
                     f"| {_f(m['l1_oval'], 4)} | {_f(m.get('id_dist'))} | {_f(m.get('id_cos'))} | {_f(m.get('id_under_0.6'), 2)} "
                     f"| {fd_s} | {_f(m.get('dlib_found'), 2)} |")
    for name, t in result["paper_table3"].items():
        s = t["self"]
        lines.append(f"| paper: {name} | - | - | - | SSIM {s['SSIM']} | - | - | ISIM {s['ISIM']} | - | FID {s['FID']} | - |")
    notes = [
        "",
        f"{result['pairs']} self-reenactment pairs (source and target frame of one clip) of {result['held_out_identities']} held-out "
        f"identities ({result['held_out_clips']} clips), seed {result['seed']}, the same pairs for every row.",
        "SSIM: skimage 7x7 on uint8 RGB, mean over the target's face oval / the whole 128 px crop; L1 on a 0..1 scale.",
        f"ID: dlib 128-D descriptors of the crops upscaled to {result['dlib_upscale']} px; distance and cosine of prediction vs source frame, "
        "share of pairs under dlib's 0.6 threshold. FD-dlib: Frechet distance of Gaussians fitted to the descriptors of the "
        "predictions and of the true targets; ~200 samples in 128 dims, so noisy and biased upwards, comparable only between rows "
        "on these pairs; the source row is the real-vs-real floor, '(halves)' the FD between two disjoint halves of the targets (n/2 each).",
        "Paper rows: Table 3, self-reenactment (ISIM = VGGFace2 cosine, FID = Inception, 256 px VoxCeleb): other metrics, for orientation only. "
        "Cross-subject: " + "; ".join(f"{n} ISIM {t['cross']['ISIM']}, FID {t['cross']['FID']}" for n, t in result["paper_table3"].items()) + ".",
    ]
    return "\n".join(lines + notes) + "\n"


def save_figure(pairs: dict, preds: dict, path: Path, rows: int = 6) -> None:
    """PNG grid, one pair per row: source | target | each prediction; a label band on top.

    Raises:
        OutputError: the file cannot be written.
    """
    import cv2

    n = min(rows, len(pairs["ids"]))
    pick = np.linspace(0, len(pairs["ids"]) - 1, n).round().astype(int)
    names = ["source", "target", *preds]
    grid = np.vstack([np.hstack([u8(pairs["src_img"][r]), u8(pairs["tgt_img"][r]), *(u8(p[r]) for p in preds.values())]) for r in pick])
    side = pairs["src_img"].shape[-1]
    band = np.full((22, grid.shape[1], 3), 255, np.uint8)
    for k, name in enumerate(names):
        cv2.putText(band, name[:18], (k * side + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    if not cv2.imwrite(str(path), cv2.cvtColor(np.vstack([band, grid]), cv2.COLOR_RGB2BGR)):
        raise OutputError(f"cannot write the figure {path}")
