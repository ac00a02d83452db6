"""Gram-matrix style loss (Gatys, Ecker & Bethge 2015, arXiv 1508.06576)."""

from __future__ import annotations

import torch
from torch import nn

from fuchun.losses._common import blend, energy, exact, flat
from fuchun.losses.products import gram_rows


def gram_matrix(
    feats: torch.Tensor, mask: torch.Tensor | None = None, *, x32: torch.Tensor | None = None
) -> torch.Tensor:
    """G = F Fᵀ / M for (B, C, H, W) features -> (B, C, C), in float32.

    With ``mask`` (B, 1, H, W) of weights in [0, 1], each position counts by its weight and
    the sum is divided by the total weight: the Gram matrix of one region (Gatys et al. 2017).
    ``x32`` may pass the layer's shared float32 rows (:func:`fuchun.losses.products.exact_rows`).
    """
    if mask is None:
        return gram_rows(feats, x32)
    f = flat(feats)  # (B, C, M)
    m = flat(mask)  # (B, 1, M)
    return (f * m) @ f.transpose(1, 2) / m.sum(-1, keepdim=True).clamp_min(1e-8)


class GramLoss(nn.Module):
    """mean((G(F) − G_target)²) / mean(G_target²) for one layer.

    Gatys et al. normalise by 4C²M²; we normalise G by M (so style and output sizes may
    differ) and the loss by the target's energy (so layers weigh alike). With ``mask``
    (1, 1, H, W) at this layer's size, G(F) is the Gram matrix of the masked region only
    (Gatys et al. 2017, arXiv 1611.07865, §4); the target stays the whole style image's.
    """

    def __init__(self, target: torch.Tensor, *, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("target", exact(target.detach()))
        self.register_buffer("scale", energy(target))
        self.register_buffer("mask", None if mask is None else exact(mask.detach()))

    @classmethod
    def from_styles(cls, feats: list[torch.Tensor], weights: list[float] | None = None, **kw) -> GramLoss:
        """The loss whose target is the weighted blend of several style images' Grams."""
        return cls(blend([gram_matrix(f) for f in feats], weights), **kw)

    def forward(self, feats: torch.Tensor, x32: torch.Tensor | None = None) -> torch.Tensor:
        return (gram_matrix(feats, self.mask, x32=x32) - self.target).pow(2).mean() / self.scale
