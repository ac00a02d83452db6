"""Content loss (Gatys, Ecker & Bethge 2015, "A Neural Algorithm of Artistic Style", arXiv 1508.06576)."""

from __future__ import annotations

import torch
from torch import nn

from fuchun.losses._common import energy, exact


def content_loss(feats: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference, divided by the target's mean square.

    Gatys et al. use the plain (summed) squared error; dividing by the target's energy makes
    the value a relative error comparable across layers and image sizes.
    """
    if feats.shape != target.shape:
        raise ValueError(f"content features {tuple(feats.shape)} != target {tuple(target.shape)}")
    return (exact(feats) - exact(target)).pow(2).mean() / energy(target)


class ContentLoss(nn.Module):
    """Holds the content image's features of one layer; forward gives :func:`content_loss`."""

    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("target", exact(target.detach()))
        self.register_buffer("scale", energy(target))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return content_loss(feats, self.target)
