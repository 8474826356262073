"""The inner-mouth painter network (PyTorch; no I/O).

A small U-Net over the 64 x 80 mouth crop described in
:mod:`reenactor.render.mouth_learned`: input (N, 13, 64, 80) float32 (masked
RGB, mask, lip shape, appearance condition), output (N, 3, 64, 80) float32 RGB
in 0..1.

The first convolution has stride 2 and the last one predicts 2 x 2 pixel
blocks (pixel shuffle), so nothing runs at the full crop resolution; three
stride-2 levels (down to 8 x 10, with a dilated convolution there) give the
bottleneck a receptive field covering the whole mouth, so the cavity, teeth
and tongue are laid out from the lip shape while colours come from the
condition and the surrounding lips and skin. Skips are additive (1x1
projection of the upsampled features plus the encoder features).

Only convolutions, ReLU, nearest-neighbour upsampling, additions, a
depth-to-space and a sigmoid are used, so the ONNX export (opset 17) matches
PyTorch and runs in a few milliseconds in onnxruntime on one CPU thread.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reenactor.render.mouth_learned import IN_CHANNELS

#: Channel widths at 32x40, 16x20 and 8x10.
DEFAULT_WIDTHS = (32, 64, 128)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation)


class MouthNet(nn.Module):
    """U-Net inner-mouth painter.

    Args:
        in_channels: input channels (13, see :mod:`reenactor.render.mouth_learned`).
        widths: channels at the three resolutions (1/2, 1/4, 1/8 of the crop).
    """

    def __init__(self, in_channels: int = IN_CHANNELS, widths: tuple[int, int, int] = DEFAULT_WIDTHS) -> None:
        super().__init__()
        c1, c2, c3 = widths
        self.widths = tuple(int(w) for w in widths)
        self.e1a, self.e1b = _conv(in_channels, c1, 2), _conv(c1, c1)
        self.e2a, self.e2b = _conv(c1, c2, 2), _conv(c2, c2)
        self.e3a, self.e3b, self.e3c = _conv(c2, c3, 2), _conv(c3, c3, dilation=2), _conv(c3, c3)
        self.p2, self.d2 = nn.Conv2d(c3, c2, 1), _conv(c2, c2)
        self.p1, self.d1 = nn.Conv2d(c2, c1, 1), _conv(c1, c1)
        self.head = _conv(c1, 12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 13, 64, 80) float32 -> (N, 3, 64, 80) float32 RGB in 0..1."""
        r = F.relu
        x1 = r(self.e1b(r(self.e1a(x))))
        x2 = r(self.e2b(r(self.e2a(x1))))
        x3 = r(self.e3c(r(self.e3b(r(self.e3a(x2))))))
        y = r(self.d2(r(self.p2(F.interpolate(x3, scale_factor=2.0, mode="nearest")) + x2)))
        y = r(self.d1(r(self.p1(F.interpolate(y, scale_factor=2.0, mode="nearest")) + x1)))
        return torch.sigmoid(F.pixel_shuffle(self.head(y), 2))


def parameter_count(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
