"""FD-GAN (Section 3.2 and Appendix 6-7 of the one-shot identity-preserving
portrait reenactment paper): torch modules and ONNX export.

Training-side only: imports torch and is never imported by the runtime
package. Losses and optimisers live in :mod:`reenactor.train.fdgan_loss` and
are re-exported here.

Conventions (every public function and module):

* images: (B, 3, H, W) float32 in [-1, 1];
* landmark images: (B, lm_ch, H, W) float32 in [0, 1];
* conditioning (translator only, e.g. the warped portrait for the inner
  mouth): (B, cond_ch, H, W) float32, any range the caller chooses (the
  warped portrait would be in [-1, 1] like the images);
* H = W, a multiple of 16 (four stride-2 levels); 128 by default;
* dictionaries: a list, one per U-Net level from the finest (H/2, ``widths[0]``
  features) to the coarsest (H/16, ``widths[3]``), each (B, rows_k, widths[k])
  float32; ``rows_k`` is 1 for the ``fdgan1`` and ``adain`` variants.

Architecture (see docs/fdgan.md for every choice the paper leaves open):
down level k = 4x4 stride-2 conv + 3x3 conv; up level k = dictionary
writer (extractor) or reader (translator), 3x3 conv, 4x4 stride-2 transposed
conv; U-Net skips are added (not concatenated) so the reader's residual add
and the row length both equal the level's feature count. LeakyReLU(0.2),
no normalisation layers (outside the AdaIN ablation), tanh output.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

VARIANTS = ("fdgan", "fdgan1", "adain")
SLOPE = 0.2


def _act() -> nn.Module:
    return nn.LeakyReLU(SLOPE)


class DownPath(nn.Module):
    """The U-Net down path (also the body of the discriminator and classifier).

    ``forward(x)`` takes (B, in_ch, H, W) and returns the four level outputs
    [(B, widths[k], H / 2**(k+1), W / 2**(k+1)) for k in 0..3].
    """

    def __init__(self, in_ch: int, widths=(32, 64, 128, 256)):
        super().__init__()
        levels, prev = [], in_ch
        for w in widths:
            levels.append(nn.Sequential(nn.Conv2d(prev, w, 4, 2, 1), _act(), nn.Conv2d(w, w, 3, 1, 1), _act()))
            prev = w
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for level in self.levels:
            x = level(x)
            outs.append(x)
        return outs


def widen_inputs(state: dict, key: str, in_ch: int) -> dict:
    """A copy of a state dict whose convolution ``key`` ((out, k, kh, kw)) takes ``in_ch`` >= k inputs,
    the new trailing inputs at zero weight, so the widened network computes what the old one did."""
    w = state[key]
    extra = torch.zeros(w.shape[0], in_ch - w.shape[1], *w.shape[2:], dtype=w.dtype, device=w.device)
    return {**state, key: torch.cat([w, extra], dim=1)}


class DictWriter(nn.Module):
    """Dictionary writer, Eq. 8: v_i = sum_n x_n exp(t_i . p_n) / sum_n exp(t_i . p_n).

    Write keys p (``tag`` long) and write values x (``width`` long) are 1x1
    convolutions of the input; t (rows, tag) are learnable write tags. With
    ``mean=True`` (FD-GAN-1 / AdaIN ablations) the single row is the plain
    mean of the write values over the locations (no keys, no tags).
    ``forward(feat)`` takes (B, width, h, w) and returns (B, rows, width).
    """

    def __init__(self, width: int, rows: int, tag: int, mean: bool = False):
        super().__init__()
        self.mean = mean
        self.value = nn.Conv2d(width, width, 1)
        if not mean:
            self.key = nn.Conv2d(width, tag, 1)
            self.tags = nn.Parameter(torch.randn(rows, tag))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        x = self.value(feat).flatten(2)  # (B, C, N)
        if self.mean:
            return x.mean(dim=2).unsqueeze(1)  # (B, 1, C)
        p = self.key(feat).flatten(2)  # (B, T, N)
        w = torch.softmax(torch.matmul(self.tags, p), dim=2)  # (B, R, N): softmax over locations
        return torch.matmul(w, x.transpose(1, 2))  # (B, R, C)


class DictReader(nn.Module):
    """Dictionary reader, Eq. 9: y_j = sum_k v_k exp(u_k . q_j) / sum_k exp(u_k . q_j), then feat + y.

    Read keys q (``tag`` long) are a 1x1 convolution of the input; u (rows,
    tag) are learnable read tags. With ``rows == 1`` the softmax is 1 and y is
    the single row everywhere (FD-GAN-1). ``forward(feat, dic)``: feat
    (B, width, h, w), dic (B, rows, width) -> (B, width, h, w).
    """

    def __init__(self, width: int, rows: int, tag: int):
        super().__init__()
        self.rows = rows
        if rows > 1:
            self.key = nn.Conv2d(width, tag, 1)
            self.tags = nn.Parameter(torch.randn(rows, tag))

    def lookup(self, feat: torch.Tensor, dic: torch.Tensor) -> torch.Tensor:
        """The read value y of Eq. 9, (B, width, h, w)."""
        b, c, h, w = feat.shape
        if self.rows == 1:
            return dic.transpose(1, 2).reshape(b, c, 1, 1).expand(b, c, h, w)
        # locations first, rows last: the softmax runs over the last axis (onnxruntime: 2.4x
        # faster than a softmax over axis 1, which it wraps in transposes)
        q = self.key(feat).flatten(2).transpose(1, 2)  # (B, N, T)
        a = torch.softmax(torch.matmul(q, self.tags.t()), dim=2)  # (B, N, R): softmax over rows
        return torch.matmul(a, dic).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, feat: torch.Tensor, dic: torch.Tensor) -> torch.Tensor:
        return feat + self.lookup(feat, dic)


class AdaINReader(nn.Module):
    """AdaIN ablation reader: IN(feat) * (1 + gamma(v)) + beta(v), v the one-row dictionary.

    ``forward(feat, dic)``: feat (B, width, h, w), dic (B, 1, width) -> (B, width, h, w).
    """

    def __init__(self, width: int):
        super().__init__()
        self.affine = nn.Linear(width, 2 * width)

    def forward(self, feat: torch.Tensor, dic: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(dic[:, 0]).chunk(2, dim=1)
        return F.instance_norm(feat) * (1 + gamma[..., None, None]) + beta[..., None, None]


def _up_convs(widths, out_ch: int) -> tuple[nn.ModuleList, nn.ModuleList]:
    """Per level k (finest first): the 3x3 conv and the 4x4 stride-2 transposed conv to level k-1."""
    flat = nn.ModuleList(nn.Sequential(nn.Conv2d(w, w, 3, 1, 1), _act()) for w in widths)
    ups = []
    for k, w in enumerate(widths):
        to = widths[k - 1] if k > 0 else out_ch
        ups.append(nn.ConvTranspose2d(w, to, 4, 2, 1))
    return flat, nn.ModuleList(ups)


class FDGAN(nn.Module):
    """Extractor and translator U-Nets joined by dictionary writers and readers.

    ``variant``: ``"fdgan"`` (the paper's, ``rows`` rows per level),
    ``"fdgan1"`` (one row per level holding the mean write value, read by a
    residual add) or ``"adain"`` (the same one-row mean driving adaptive
    instance normalisation). ``lm_ch``: landmark image channels; ``cond_ch``:
    extra translator conditioning channels (0 = none). ``residual``: the
    translator's last layer (zero at initialisation) is added to the first
    three conditioning channels instead of passing through tanh, so an
    untrained network returns the condition (clipped to [-1, 1]); it needs
    ``cond_ch`` >= 3 (a deviation from the paper, for the inner mouth, where
    the condition is the warped portrait).
    """

    def __init__(self, variant: str = "fdgan", lm_ch: int = 1, cond_ch: int = 0, widths=(32, 64, 128, 256),
                 rows=(512, 256, 128, 64), tag: int = 32, residual: bool = False):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        if residual and cond_ch < 3:
            raise ValueError("a residual FDGAN needs an image condition (cond_ch >= 3)")
        if len(widths) != len(rows):
            raise ValueError("widths and rows need one entry per level")
        self.variant, self.lm_ch, self.cond_ch = variant, lm_ch, cond_ch
        self.widths = tuple(widths)
        self.rows = tuple(rows) if variant == "fdgan" else (1,) * len(widths)
        self.tag = tag
        one = variant != "fdgan"
        # extractor: down path on (image, landmarks); up path writes at every level
        self.ex_down = DownPath(3 + lm_ch, widths)
        self.writers = nn.ModuleList(DictWriter(w, r, tag, mean=one) for w, r in zip(widths, self.rows))
        # the extractor's finest level only writes: its 3x3 conv and up-conv would feed nothing
        ex_flat, ex_up = _up_convs(widths, 3)
        self.ex_flat, self.ex_up = ex_flat[1:], ex_up[1:]
        # translator: down path on (target landmarks, conditioning); up path reads at every level
        self.tr_down = DownPath(lm_ch + cond_ch, widths)
        if variant == "adain":
            self.readers = nn.ModuleList(AdaINReader(w) for w in widths)
        else:
            self.readers = nn.ModuleList(DictReader(w, r, tag) for w, r in zip(widths, self.rows))
        self.tr_flat, self.tr_up = _up_convs(widths, 3)
        self.residual = bool(residual)
        if self.residual:
            nn.init.zeros_(self.tr_up[0].weight)
            nn.init.zeros_(self.tr_up[0].bias)

    def write(self, src_img: torch.Tensor, src_lm: torch.Tensor) -> list[torch.Tensor]:
        """Extractor: src_img (B,3,H,W) in [-1,1], src_lm (B,lm_ch,H,W) in [0,1] ->
        dictionaries [(B, rows_k, widths[k]) for each level, finest first]."""
        skips = self.ex_down(torch.cat([src_img, src_lm], dim=1))
        dicts = [None] * len(skips)
        x = skips[-1]
        for k in range(len(skips) - 1, -1, -1):
            if k < len(skips) - 1:
                x = x + skips[k]
            dicts[k] = self.writers[k](x)
            if k > 0:
                x = F.leaky_relu(self.ex_up[k - 1](self.ex_flat[k - 1](x)), SLOPE)
        return dicts

    def read(self, tgt_lm: torch.Tensor, dicts: list, cond: torch.Tensor | None = None) -> torch.Tensor:
        """Translator: tgt_lm (B,lm_ch,H,W) in [0,1], ``dicts`` from :meth:`write`, cond
        (B,cond_ch,H,W) when ``cond_ch`` > 0 -> image (B,3,H,W) in [-1,1] (tanh, or
        with ``residual`` the condition's first three channels plus the last layer, clipped)."""
        if (cond is None) != (self.cond_ch == 0):
            raise ValueError(f"this FDGAN takes {self.cond_ch} conditioning channels; cond is {'missing' if cond is None else 'unexpected'}")
        inp = tgt_lm if cond is None else torch.cat([tgt_lm, cond], dim=1)
        skips = self.tr_down(inp)
        x = skips[-1]
        for k in range(len(skips) - 1, -1, -1):
            if k < len(skips) - 1:
                x = x + skips[k]
            x = self.tr_flat[k](self.readers[k](x, dicts[k]))
            x = self.tr_up[k](x)
            if k > 0:
                x = F.leaky_relu(x, SLOPE)
        if self.residual:
            return torch.clamp(cond[:, :3] + x, -1.0, 1.0)
        return torch.tanh(x)

    def forward(self, src_img, src_lm, tgt_lm, cond=None) -> torch.Tensor:
        """``read(tgt_lm, write(src_img, src_lm), cond)``: (B,3,H,W) in [-1,1]."""
        return self.read(tgt_lm, self.write(src_img, src_lm), cond)


class PatchDiscriminator(nn.Module):
    """Conditional patch discriminator: the down path on (image, landmarks) and a 1x1 head.

    ``forward(img, lm)``: img (B,3,H,W) in [-1,1], lm (B,lm_ch,H,W) in [0,1]
    -> (B, 1, H/16, W/16) float32 logits (least-squares targets +1 real, -1 fake).
    """

    def __init__(self, lm_ch: int = 1, widths=(32, 64, 128, 256)):
        super().__init__()
        self.down = DownPath(3 + lm_ch, widths)
        self.head = nn.Conv2d(widths[-1], 1, 1)

    def forward(self, img: torch.Tensor, lm: torch.Tensor) -> torch.Tensor:
        return self.head(self.down(torch.cat([img, lm], dim=1))[-1])


class PatchIdentityClassifier(nn.Module):
    """Patch identity classifier: the down path on the image and a 1x1 head.

    ``forward(img)``: img (B,3,H,W) in [-1,1] -> (B, n_ids, H/16, W/16)
    float32 logits (a softmax over identities at every patch).
    """

    def __init__(self, n_ids: int, widths=(32, 64, 128, 256)):
        super().__init__()
        self.down = DownPath(3, widths)
        self.head = nn.Conv2d(widths[-1], n_ids, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        return self.head(self.down(img)[-1])


# ------------------------------------------------------------------- export
class _Translator(nn.Module):
    """The translator alone, dictionaries as inputs (for the per-frame runtime graph)."""

    def __init__(self, gen: FDGAN):
        super().__init__()
        self.gen = gen

    def forward(self, tgt_lm, *rest):
        n = len(self.gen.widths)
        dicts, cond = list(rest[:n]), (rest[n] if len(rest) > n else None)
        return self.gen.read(tgt_lm, dicts, cond)


class _Extractor(nn.Module):
    def __init__(self, gen: FDGAN):
        super().__init__()
        self.gen = gen

    def forward(self, src_img, src_lm):
        return tuple(self.gen.write(src_img, src_lm))


def _example(gen: FDGAN, size: int) -> dict:
    ex = {"src_img": torch.zeros(1, 3, size, size), "src_lm": torch.zeros(1, gen.lm_ch, size, size),
          "tgt_lm": torch.zeros(1, gen.lm_ch, size, size)}
    if gen.cond_ch:
        ex["cond"] = torch.zeros(1, gen.cond_ch, size, size)
    return ex


def export_onnx(gen: FDGAN, path, size: int = 128) -> Path:
    """Write the whole generator as ONNX (opset 17, fixed batch 1).

    Inputs ``src_img`` (1,3,S,S) in [-1,1], ``src_lm`` (1,lm_ch,S,S) in [0,1],
    ``tgt_lm`` (1,lm_ch,S,S) in [0,1] and, when ``gen.cond_ch`` > 0, ``cond``
    (1,cond_ch,S,S); output ``img`` (1,3,S,S) in [-1,1]. All float32.
    """
    gen.eval()
    ex = _example(gen, size)
    with torch.no_grad():
        torch.onnx.export(gen, tuple(ex.values()), str(path), input_names=list(ex), output_names=["img"],
                          opset_version=17, dynamo=False)
    return Path(path)


def export_onnx_parts(gen: FDGAN, folder, size: int = 128, metadata: dict[str, str] | None = None) -> tuple[Path, Path]:
    """Write the extractor and the translator as two ONNX graphs (opset 17, batch 1).

    ``extractor.onnx``: ``src_img``, ``src_lm`` -> ``dict0`` .. ``dict3``
    ((1, rows_k, widths[k]) float32), run once per portrait.
    ``translator.onnx``: ``tgt_lm``, ``dict0`` .. ``dict3`` [, ``cond``] ->
    ``img`` (1,3,S,S) in [-1,1], run once per frame. ``metadata`` (str -> str)
    goes into the translator's ``metadata_props`` (onnxruntime:
    ``get_modelmeta().custom_metadata_map``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    gen.eval()
    ex = _example(gen, size)
    names = [f"dict{k}" for k in range(len(gen.widths))]
    with torch.no_grad():
        dicts = gen.write(ex["src_img"], ex["src_lm"])
        torch.onnx.export(_Extractor(gen), (ex["src_img"], ex["src_lm"]), str(folder / "extractor.onnx"),
                          input_names=["src_img", "src_lm"], output_names=names, opset_version=17, dynamo=False)
        args = (ex["tgt_lm"], *dicts) + ((ex["cond"],) if gen.cond_ch else ())
        inputs = ["tgt_lm", *names] + (["cond"] if gen.cond_ch else [])
        torch.onnx.export(_Translator(gen), args, str(folder / "translator.onnx"), input_names=inputs,
                          output_names=["img"], opset_version=17, dynamo=False)
    if metadata:
        import onnx

        model = onnx.load(str(folder / "translator.onnx"))
        onnx.helper.set_model_props(model, {str(k): str(v) for k, v in metadata.items()})
        onnx.save(model, str(folder / "translator.onnx"))
    return folder / "extractor.onnx", folder / "translator.onnx"


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


from reenactor.train.fdgan_loss import discriminator_losses, generator_losses, make_optimizers  # noqa: E402

__all__ = ["VARIANTS", "FDGAN", "PatchDiscriminator", "PatchIdentityClassifier", "DictWriter", "DictReader",
           "AdaINReader", "DownPath", "generator_losses", "discriminator_losses", "make_optimizers", "export_onnx",
           "export_onnx_parts", "count_parameters"]
