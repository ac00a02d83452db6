"""Shifted (cross-correlation) Gram loss for long-range consistency.

Berger & Memisevic 2016, "Incorporating long-range consistency in CNN-based texture
generation", arXiv 1606.01286.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._common import blend, exact, flat


def shifted_gram(feats: torch.Tensor, delta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical cross-correlations of (B, C, H, W) features at offset ``delta``.

    A_x = F[..., δ:] · F[..., :W−δ]ᵀ / (H·(W−δ)), A_y likewise over rows; both (B, C, C) and
    not symmetric. Cropped, never wrapped. Raises ValueError if δ does not fit.
    """
    b, c, h, w = feats.shape
    if not 0 < delta < min(h, w):
        raise ValueError(f"shift {delta} does not fit a {h}x{w} feature map")
    right, left = flat(feats[:, :, :, delta:]), flat(feats[:, :, :, : w - delta])  # (B, C, H·(W−δ))
    below, above = flat(feats[:, :, delta:, :]), flat(feats[:, :, : h - delta, :])  # (B, C, (H−δ)·W)
    a_x = right @ left.transpose(1, 2) / right.shape[-1]
    a_y = below @ above.transpose(1, 2) / below.shape[-1]
    return a_x, a_y


def fitting_shifts(deltas: Sequence[int], *sizes: tuple[int, int]) -> list[int]:
    """The shifts that fit every given (H, W) feature-map size (style and output)."""
    limit = min(min(s) for s in sizes)
    return [d for d in deltas if 0 < d < limit]


class ShiftedGramLoss(nn.Module):
    """½(mean((A_x − T_x)²) + mean((A_y − T_y)²)) / energy, averaged over the shifts δ.

    As in Berger & Memisevic, one term per direction; like our Gram loss, each δ's term is
    divided by the target's energy, and several δ per layer are averaged (not summed).
    """

    def __init__(self, targets: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        if not targets:
            raise ValueError("ShiftedGramLoss needs at least one shift")
        self.deltas = sorted(targets)
        for d in self.deltas:
            t_x, t_y = targets[d]
            self.register_buffer(f"target_x{d}", exact(t_x.detach()))
            self.register_buffer(f"target_y{d}", exact(t_y.detach()))
            scale = 0.5 * (exact(t_x).pow(2).mean() + exact(t_y).pow(2).mean())
            self.register_buffer(f"scale{d}", scale.clamp_min(1e-12))

    @classmethod
    def from_styles(
        cls, feats: list[torch.Tensor], deltas: Sequence[int], weights: list[float] | None = None
    ) -> "ShiftedGramLoss":
        """Targets blended over several style images, for each δ in ``deltas``."""
        targets = {}
        for d in deltas:
            pairs = [shifted_gram(f, d) for f in feats]
            targets[d] = (blend([p[0] for p in pairs], weights), blend([p[1] for p in pairs], weights))
        return cls(targets)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        total = feats.new_zeros((), dtype=torch.float32)
        for d in self.deltas:
            a_x, a_y = shifted_gram(feats, d)
            err = (a_x - getattr(self, f"target_x{d}")).pow(2).mean() + (a_y - getattr(self, f"target_y{d}")).pow(2).mean()
            total = total + 0.5 * err / getattr(self, f"scale{d}")
        return total / len(self.deltas)
