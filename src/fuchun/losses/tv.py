"""Total variation (Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them")."""

from __future__ import annotations

import torch
from torch import nn

from fuchun.losses._common import exact


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of vertical plus horizontal neighbours of a (B, 3, H, W) image."""
    dy = image[:, :, 1:, :] - image[:, :, :-1, :]
    dx = image[:, :, :, 1:] - image[:, :, :, :-1]
    return exact(dy).pow(2).mean() + exact(dx).pow(2).mean()


class TVLoss(nn.Module):
    """Module twin of :func:`total_variation` (it acts on pixels, not features).

    With ``reference_side`` the value is multiplied by (L / reference_side)², L the image's
    longest side: a smooth picture's neighbour differences shrink as 1/L, so the same picture
    then scores the same at every size.
    """

    def __init__(self, reference_side: int | None = None) -> None:
        super().__init__()
        self.reference_side = reference_side

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.reference_side is None:
            return total_variation(image)
        side = max(image.shape[-2:]) / self.reference_side
        return side * side * total_variation(image)
