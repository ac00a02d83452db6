"""Short-term temporal loss (Ruder, Dosovitskiy & Brox 2016, "Artistic style transfer for videos",
arXiv 1604.08610, eq. 7).

The picture of frame i is pulled towards the previous stylised frame warped along the optical
flow, only where the flow is trusted: ``L = 1/D Σ c (x − ω)²`` with ω the warped previous frame,
c the per-pixel consistency weight (0 at disocclusions and motion boundaries, 1 elsewhere) and
D = C·H·W. As in the paper the sum runs over every pixel value and is divided by all of them,
so the masked-out share of the picture lowers the loss rather than being renormalised away.
Differs from the paper only in working on pixels in [0, 1] (the paper's were 0..255 with the
mean subtracted), which the weight absorbs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from fuchun.losses._common import exact


@dataclass
class TemporalTarget:
    """The previous stylised frame warped to this one, where to trust it, and how hard to pull."""

    warped: torch.Tensor  # (3, H, W) or (1, 3, H, W) in [0, 1]
    mask: torch.Tensor  # (1, H, W) or (1, 1, H, W) in [0, 1]: 1 where forward and backward flow agree
    weight: float


def temporal_loss(image: torch.Tensor, warped: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Ruder et al.'s eq. 7: mean over (B, C, H, W) of ``weight * (image - warped)²``.

    ``image`` and ``warped`` are (B, 3, H, W); ``weight`` is (B, 1, H, W) in [0, 1].
    """
    if image.shape != warped.shape:
        raise ValueError(f"image {tuple(image.shape)} != warped previous frame {tuple(warped.shape)}")
    if weight.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"consistency weight {tuple(weight.shape)} does not match image {tuple(image.shape)}")
    return (exact(weight) * (exact(image) - exact(warped)).pow(2)).mean()


class TemporalLoss(nn.Module):
    """Holds the warped previous frame and its consistency weight; forward gives :func:`temporal_loss`."""

    def __init__(self, warped: torch.Tensor, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("warped", exact(warped.detach()))  # (1, 3, H, W)
        self.register_buffer("weight", exact(weight.detach()))  # (1, 1, H, W)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return temporal_loss(image, self.warped, self.weight)
