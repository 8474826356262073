"""Validation of ``reenactor train fdgan``: scores inside the mouth (or face
oval), the fixed pairs' predictions, the sample grid and the training curve.

Images of the validation pairs are (N, 3, S, S) float32 in [-1, 1]; masks
(N, S, S) 0/1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _tensors(batch: dict, device) -> dict:
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in batch.items()}


def u8(x: np.ndarray) -> np.ndarray:
    """(3, S, S) float in [-1, 1] -> (S, S, 3) uint8 RGB."""
    return np.clip(np.round((x.transpose(1, 2, 0) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def masked_scores(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Mean L1 (0..1 scale) and SSIM (7x7 window) inside ``mask`` over a batch.

    Args:
        pred, target: (N, 3, S, S) float32 in [-1, 1]; mask: (N, S, S) 0/1.
    """
    from skimage.metrics import structural_similarity

    l1s, ssims, weights = [], [], []
    for p, t, m in zip(pred, target, mask):
        area = float(m.sum())
        if area < 1:
            continue
        l1s.append(float((np.abs(p - t).mean(0) * m).sum() / area / 2.0))
        _, smap = structural_similarity(u8(p), u8(t), channel_axis=2, data_range=255, win_size=7, full=True)
        ssims.append(float((smap.mean(2) * m).sum() / area))
        weights.append(area)
    if not weights:
        return {"l1": float("nan"), "ssim": float("nan")}
    w = np.asarray(weights)
    return {"l1": float(np.average(l1s, weights=w)), "ssim": float(np.average(ssims, weights=w))}


def predict(gen, val: dict, device, chunk: int = 8) -> np.ndarray:
    """Generator output (N, 3, S, S) float32 on the fixed validation pairs."""
    import torch

    was_training = gen.training
    gen.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(val["ids"]), chunk):
            b = _tensors({k: v[s:s + chunk] for k, v in val.items()}, device)
            outs.append(gen(b["src_img"], b["src_lm"], b["tgt_lm"], b["cond"] if gen.cond_ch else None).cpu().numpy())
    gen.train(was_training)
    return np.concatenate(outs)


#: Strengths ``--strength auto`` chooses among.
STRENGTHS = (0.25, 0.5, 0.75, 1.0)


def scaled(gen, strength: float):
    """A copy of a residual generator whose change (output minus condition) is ``strength`` times
    the original's: its last transposed convolution scaled (exact before the clip to [-1, 1])."""
    import copy

    if not getattr(gen, "residual", False):
        raise ValueError("only a residual generator's change can be scaled")
    out = copy.deepcopy(gen).eval()
    out.tr_up[0].weight.data.mul_(strength)
    out.tr_up[0].bias.data.mul_(strength)
    return out


def as_rendered(pred: np.ndarray, val: dict) -> np.ndarray:
    """Predictions blended over the warped source as the renderer does: its opening mask times the
    pair's paint amount (``val["blend"]``, ``val["amount"]``); (N, 3, S, S) in [-1, 1]."""
    a = (val["blend"] * val["amount"][:, None, None])[:, None]
    return val["warp"] * (1.0 - a) + pred * a


def choose_strength(gen, pairs: dict, device) -> tuple[float, list[dict]]:
    """The strength of :data:`STRENGTHS` whose change scores the best SSIM as rendered on ``pairs``
    (ties: the smaller L1), and every strength's scores, with the condition alone (strength 0) first."""
    rows = [{"strength": 0.0} | masked_scores(as_rendered(pairs["cond"][:, :3], pairs), pairs["tgt_img"], pairs["mask"])]
    for s in STRENGTHS:
        pred = predict(scaled(gen, s), pairs, device)
        rows.append({"strength": s} | masked_scores(as_rendered(pred, pairs), pairs["tgt_img"], pairs["mask"]))
    best = max(rows[1:], key=lambda r: (round(r["ssim"], 4), -r["l1"]))
    return best["strength"], rows


def save_samples(val: dict, pred: np.ndarray, path: Path, rows: int = 6) -> None:
    """A PNG of the first validation pairs, one per row: source | warped source | prediction | target."""
    import cv2

    grid = [np.hstack([u8(val["src_img"][r]), u8(val["warp"][r]), u8(pred[r]), u8(val["tgt_img"][r])]) for r in range(min(rows, len(pred)))]
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(grid), cv2.COLOR_RGB2BGR))


def baselines(val: dict) -> dict:
    """Scores of two trivial predictions: the source frame as it is, and the source warped onto the target."""
    return {f"{name}_{k}": v for name, pred in (("source", val["src_img"]), ("warp", val["warp"]))
            for k, v in masked_scores(pred, val["tgt_img"], val["mask"]).items()}


def plot_curve(log_path: Path, png: Path, cfg: dict) -> None:
    """Training reconstruction loss and validation L1 / SSIM against steps."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    recs = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    tr = [r for r in recs if r["kind"] == "train"]
    va = [r for r in recs if r["kind"] == "val"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    if tr:
        a.plot([r["step"] for r in tr], [r["g_rec"] for r in tr], label=f"train {'L1' if cfg.get('rec') == 'l1' else 'MSE'} ([-1,1] pixels)")
        a.plot([r["step"] for r in tr], [r["dc_d"] / 10 for r in tr], alpha=0.6, label="D loss / 10")
        a.set_yscale("log")
        a.legend()
    a.set_xlabel("step")
    a.grid(alpha=0.3)
    where = "face oval" if cfg["region"] == "face" else "inner mouth"
    if va:
        steps = [r["step"] for r in va]
        b.plot(steps, [r["val_l1"] for r in va], "o-", label="val L1")
        b.plot(steps, [1 - r["val_ssim"] for r in va], "s-", label="val 1 - SSIM")
        for key, style in (("warp", ":"), ("source", "--")):
            if f"{key}_l1" in va[0]:
                b.axhline(va[0][f"{key}_l1"], ls=style, color="C0", alpha=0.6, label=f"{key} L1")
                b.axhline(1 - va[0][f"{key}_ssim"], ls=style, color="C1", alpha=0.6, label=f"{key} 1 - SSIM")
    b.set_xlabel("step")
    b.set_title(f"held-out identities, inside the {where}")
    b.legend(fontsize=7)
    b.grid(alpha=0.3)
    fig.suptitle(f"FD-GAN {cfg['variant']} {cfg['region']} {cfg['size']} px, cond {cfg['cond']}")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
