"""FD-GAN losses (Eqs. 10-12) and optimisers (Table 5); re-exported by :mod:`reenactor.train.fdgan_net`.

Training-side only (imports torch). Shapes and ranges as in ``fdgan_net``:
images (B,3,H,W) float32 in [-1,1], landmark images (B,lm_ch,H,W) float32 in
[0,1], ``ids`` (B,) int64 identity labels in [0, n_ids). Every patch loss is
averaged over the patches (and the batch), as the paper says.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def _patch_ids(ids: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """ids (B,) broadcast to the classifier's patch grid: (B, h, w) int64."""
    b, _, h, w = logits.shape
    return ids.view(b, 1, 1).expand(b, h, w)


def identity_nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """E[-log P(k | C(x))] over batch and patches; logits (B,n_ids,h,w), ids (B,)."""
    return F.cross_entropy(logits, _patch_ids(ids, logits))


def identity_not_nll(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """E[-log(1 - P(k | C(x)))] over batch and patches, computed stably as
    logsumexp(all logits) - logsumexp(logits without k)."""
    k = _patch_ids(ids, logits).unsqueeze(1)  # (B,1,h,w)
    others = logits.scatter(1, k, float("-inf"))
    return (torch.logsumexp(logits, dim=1) - torch.logsumexp(others, dim=1)).mean()


def masked_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, win: int = 7) -> torch.Tensor:
    """Mean SSIM inside ``mask``, differentiable; the map of the evaluation's skimage call.

    x, y: (B,3,H,W) in [-1,1]; mask (B,H,W) weights. Per channel, a ``win`` x
    ``win`` uniform window (reflected at the border), sample covariances and
    the constants for a data range of 2 (skimage's ``structural_similarity``
    with ``win_size=7``); the channels' maps are averaged, then weighted by
    ``mask`` over the batch. Returns a scalar tensor.
    """
    pad = win // 2
    n = win * win
    c1, c2 = (0.01 * 2.0) ** 2, (0.03 * 2.0) ** 2

    def mean(t):
        return F.avg_pool2d(F.pad(t, (pad,) * 4, mode="reflect"), win, stride=1)

    mx, my = mean(x), mean(y)
    cov = n / (n - 1.0)
    vx, vy, vxy = cov * (mean(x * x) - mx * mx), cov * (mean(y * y) - my * my), cov * (mean(x * y) - mx * my)
    smap = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return (smap.mean(1) * mask).sum() / mask.sum().clamp_min(1.0)


def as_rendered(img: torch.Tensor, b: dict) -> torch.Tensor:
    """``img`` (B,3,H,W) in [-1,1] blended over the warped source (``b["warp"]``) by the renderer's
    opening mask at full amount (``b["blend"]`` (B,H,W), 0..1): the inner mouth as the renderer shows it."""
    a = b["blend"].unsqueeze(1)
    return b["warp"] * (1.0 - a) + img * a


def composite_error(fake: torch.Tensor, b: dict, ssim_weight: float = 1.0) -> torch.Tensor:
    """The reconstruction error of the inner mouth as the renderer shows it (``--loss composite``).

    The output is blended over the warped source with the renderer's opening
    mask at full amount (``b["warp"]`` (B,3,H,W), ``b["blend"]`` (B,H,W)), and
    scored against ``b["tgt_img"]`` inside the target's inner lips
    (``b["mask"]`` (B,H,W)), the region the self protocol scores: mean L1
    (0..1 scale) plus ``ssim_weight`` * (1 - SSIM).
    """
    comp = as_rendered(fake, b)
    m = b["mask"]
    l1 = ((comp - b["tgt_img"]).abs().mean(1) * m).sum() / m.sum().clamp_min(1.0) / 2.0
    return l1 + ssim_weight * (1.0 - masked_ssim(comp, b["tgt_img"], m))


def generator_losses(gen, disc, cls, src_img, src_lm, tgt_img, tgt_lm, ids, cond=None,
                     lam_rec: float = 50.0, lam_d: float = 1.0, lam_c: float = 1.0, rec_weight=None, rec: str = "mse",
                     rec_fn=None, view=None):
    """Eq. 12 for the extractor-translator.

    src_img / tgt_img: frames i and j of one clip, (B,3,H,W) in [-1,1];
    src_lm / tgt_lm: their landmark images (B,lm_ch,H,W) in [0,1]; ids (B,)
    int64; cond (B,cond_ch,H,W) or None. The reconstruction term is the mean
    squared error per pixel and channel (the paper's squared L2 norm, scaled
    by 1/(3HW) so lambda_rec = 50 weighs it against the unit-scale GAN terms).
    ``rec_weight`` (B,1,H,W), optional: per-pixel weights of that error,
    normalised by their mean (weights of 1 give the paper's term).
    ``rec="l1"`` uses the absolute error instead of the squared one.
    ``rec_fn``, optional: a function of ``fake`` giving the reconstruction
    term instead (e.g. :func:`composite_error`). ``view``, optional: what the
    discriminator and classifier are shown instead of ``fake`` (e.g.
    :func:`as_rendered`). With ``lam_d`` and ``lam_c``
    both 0 the adversarial terms are not computed (logged as 0).

    Returns (total, {"rec", "adv_d", "adv_c", "total"} as floats, fake) where
    ``fake`` (B,3,H,W) keeps its graph; detach it for the discriminator step.
    """
    fake = gen(src_img, src_lm, tgt_lm, cond)
    if rec_fn is not None:
        rec = rec_fn(fake)
    else:
        err = (fake - tgt_img).abs() if rec == "l1" else (fake - tgt_img).pow(2)
        rec = err.mean() if rec_weight is None else (err * rec_weight).mean() / rec_weight.mean()
    if lam_d == 0 and lam_c == 0:
        adv_d = adv_c = torch.zeros((), device=fake.device)
    else:
        seen = fake if view is None else view(fake)
        adv_d = disc(seen, tgt_lm).pow(2).mean()  # least squares towards 0, Eq. 12
        adv_c = identity_nll(cls(seen), ids)
    total = lam_rec * rec + lam_d * adv_d + lam_c * adv_c
    parts = {"rec": rec.item(), "adv_d": adv_d.item(), "adv_c": adv_c.item(), "total": total.item()}
    return total, parts, fake


def discriminator_losses(disc, cls, tgt_img, tgt_lm, fake, ids):
    """Eq. 10 (discriminator) + Eq. 11 (classifier), summed (their parameters are disjoint).

    The real sample is the target frame with its own landmarks (tgt_img,
    tgt_lm), the fake is the generator's output for the same landmarks;
    ``fake`` is detached here. Returns (total, {"d", "d_real", "d_fake", "c",
    "c_real", "c_fake", "total"} as floats).
    """
    fake = fake.detach()
    d_real = (disc(tgt_img, tgt_lm) - 1).pow(2).mean()
    d_fake = (disc(fake, tgt_lm) + 1).pow(2).mean()
    c_real = identity_nll(cls(tgt_img), ids)
    c_fake = identity_not_nll(cls(fake), ids)
    d, c = d_real + d_fake, c_real + c_fake
    total = d + c
    parts = {"d": d.item(), "d_real": d_real.item(), "d_fake": d_fake.item(), "c": c.item(),
             "c_real": c_real.item(), "c_fake": c_fake.item(), "total": total.item()}
    return total, parts


def make_optimizers(gen, disc, cls, lr: float = 2e-5, kind: str = "rmsprop"):
    """RMSprop at ``lr`` (Table 5: 2e-5, batch 4) for each network: (opt_gen, opt_disc, opt_cls).

    torch's RMSprop defaults otherwise (alpha 0.99, eps 1e-8, no momentum):
    the paper names only the algorithm and the rate. ``kind="adam"`` gives
    Adam with betas (0.5, 0.999), the usual GAN setting, instead.
    """
    if kind == "adam":
        return tuple(torch.optim.Adam(net.parameters(), lr=lr, betas=(0.5, 0.999)) for net in (gen, disc, cls))
    if kind != "rmsprop":
        raise ValueError(f"unknown optimizer {kind!r}")
    return tuple(torch.optim.RMSprop(net.parameters(), lr=lr) for net in (gen, disc, cls))
