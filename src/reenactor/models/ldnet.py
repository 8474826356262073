"""LD-Net: the Landmark Disentanglement Network (Xiang et al., Sec. 3.1, App. 6).

Networks only (no I/O, no data): every module is a multi-layer perceptron
with 10 hidden layers of 512 features (App. 6), LeakyReLU(0.2) between layers
and no normalisation layers.

Shapes (``B`` = batch, ``D`` = landmark vector length, ``D = P * dims`` for
``P`` landmarks of ``dims`` coordinates each, flattened point-major, every
coordinate in the normalised frame where the landmarks' square bounding box
spans [-1, 1]; see :mod:`reenactor.motion.ldnet`):

* ``E_P``: (B, D) float32 -> (B, 64) pose/expression code;
* ``E_I``: (B, D) -> (B, 128) identity code;
* ``N_I``: (B, K) one-hot identity -> (B, 128) identity code (one linear layer);
* ``G``: ((B, 64), (B, 128)) -> (B, D) landmarks;
* ``C``: (B, D) -> (B, K) identity logits;
* ``D``: (B, D) -> (B, 1) least-squares discriminator score.

Torch is imported by this module; import it only where torch is installed.
"""

from __future__ import annotations

import torch
from torch import nn

POSE_CODE = 64
IDENTITY_CODE = 128
HIDDEN = 512
HIDDEN_LAYERS = 10


class MLP(nn.Sequential):
    """``HIDDEN_LAYERS`` Linear(·, 512) + LeakyReLU(0.2) layers, then a linear output.

    Args:
        n_in: input features.
        n_out: output features.
        hidden: width of every hidden layer.
        layers: number of hidden layers.
    """

    def __init__(self, n_in: int, n_out: int, hidden: int = HIDDEN, layers: int = HIDDEN_LAYERS) -> None:
        mods: list[nn.Module] = []
        width = n_in
        for _ in range(layers):
            lin = nn.Linear(width, hidden)
            nn.init.kaiming_normal_(lin.weight, a=0.2, nonlinearity="leaky_relu")
            nn.init.zeros_(lin.bias)
            mods += [lin, nn.LeakyReLU(0.2)]
            width = hidden
        out = nn.Linear(width, n_out)
        nn.init.xavier_uniform_(out.weight)
        nn.init.zeros_(out.bias)
        mods.append(out)
        super().__init__(*mods)


class Generator(nn.Module):
    """G: concatenated (pose code, identity code) -> landmarks (B, D)."""

    def __init__(self, dim: int, hidden: int = HIDDEN, layers: int = HIDDEN_LAYERS) -> None:
        super().__init__()
        self.net = MLP(POSE_CODE + IDENTITY_CODE, dim, hidden, layers)

    def forward(self, pose: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([pose, identity], dim=1))


class LDNet(nn.Module):
    """All LD-Net modules of both training stages.

    Args:
        dim: landmark vector length D.
        n_identities: identity classes K seen in training (N_I and C).
        hidden, layers: MLP width and depth (paper: 512, 10).
    """

    def __init__(self, dim: int, n_identities: int, hidden: int = HIDDEN, layers: int = HIDDEN_LAYERS) -> None:
        super().__init__()
        self.dim = int(dim)
        self.n_identities = int(n_identities)
        self.E_P = MLP(dim, POSE_CODE, hidden, layers)
        self.E_I = MLP(dim, IDENTITY_CODE, hidden, layers)
        self.N_I = nn.Linear(n_identities, IDENTITY_CODE, bias=False)
        nn.init.normal_(self.N_I.weight, std=1.0)
        self.G = Generator(dim, hidden, layers)
        self.C = MLP(dim, n_identities, hidden, layers)
        self.D = MLP(dim, 1, hidden, layers)

    def stage1_code(self, labels: torch.Tensor) -> torch.Tensor:
        """N_I on integer labels (B,) int64 -> (B, 128); same as one-hot @ W."""
        return self.N_I.weight.t()[labels]

    def transfer(self, driver: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """G(E_P(driver), E_I(target)): (B, D), (B, D) -> (B, D)."""
        return self.G(self.E_P(driver), self.E_I(target))


class InferenceGraph(nn.Module):
    """The exported inference graph: E_I, E_P and G of one trained LD-Net.

    Inputs ``landmarks`` (N, D), ``identity_code`` (N, 128) and
    ``identity_landmarks`` (M, D); outputs ``identity`` = E_I(identity_landmarks)
    (M, 128), ``pose`` = E_P(landmarks) (N, 64) and ``generated`` =
    G(E_P(landmarks), identity_code) (N, D). onnxruntime runs every node, so a
    caller passes an empty batch (0 rows) to the part it does not need: E_I once
    per portrait with N = 0, E_P + G per frame with M = 0.
    """

    def __init__(self, net: LDNet) -> None:
        super().__init__()
        self.E_I, self.E_P, self.G = net.E_I, net.E_P, net.G

    def forward(self, landmarks: torch.Tensor, identity_code: torch.Tensor, identity_landmarks: torch.Tensor):
        pose = self.E_P(landmarks)
        return self.E_I(identity_landmarks), pose, self.G(pose, identity_code)
