"""Shifted (cross-correlation) Gram loss for long-range consistency.

Berger & Memisevic 2016, "Incorporating long-range consistency in CNN-based texture
generation", arXiv 1606.01286.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fuchun.losses._common import blend, exact, flat
from fuchun.losses.products import shifted_rows


def shifted_gram(
    feats: torch.Tensor, delta: int, *, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Horizontal and vertical cross-correlations of (B, C, H, W) features at offset ``delta``.

    A_x = F[..., δ:] · F[..., :W−δ]ᵀ / (H·(W−δ)), A_y likewise over rows; both (B, C, C) and
    not symmetric. Cropped, never wrapped. Raises ValueError if δ does not fit.

    With ``mask`` (B, 1, H, W) of weights in [0, 1], each product counts by the mask at both
    of its positions and the sum is divided by the total of those weights: the shifted Gram
    of one region, in the way of Gatys et al. 2017's masked Gram (arXiv 1611.07865).
    """
    b, c, h, w = feats.shape
    if not 0 < delta < min(h, w):
        raise ValueError(f"shift {delta} does not fit a {h}x{w} feature map")
    if mask is None:
        both = shifted_rows(feats, [delta])  # copy-free (fuchun.losses.products)
        return both[:, 0], both[:, 1]
    if tuple(mask.shape[-2:]) != (h, w):
        raise ValueError(f"mask {tuple(mask.shape[-2:])} does not match the {h}x{w} feature map")
    a_x = _correlate(
        feats[:, :, :, delta:], feats[:, :, :, : w - delta], mask[:, :, :, delta:] * mask[:, :, :, : w - delta]
    )  # right · left
    a_y = _correlate(
        feats[:, :, delta:, :], feats[:, :, : h - delta, :], mask[:, :, delta:, :] * mask[:, :, : h - delta, :]
    )  # below · above
    return a_x, a_y


def _correlate(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Σ w a bᵀ / Σ w for two equally cropped (B, C, h, w) maps and (B, 1, h, w) weights."""
    fa, fb, wf = flat(a), flat(b), flat(weight)  # (B, C, N), (B, C, N), (B, 1, N)
    return (fa * wf) @ fb.transpose(1, 2) / wf.sum(-1, keepdim=True).clamp_min(1e-8)


def fitting_shifts(deltas: Sequence[int], *sizes: tuple[int, int]) -> list[int]:
    """The shifts that fit every given (H, W) feature-map size (style and output)."""
    limit = min(min(s) for s in sizes)
    return [d for d in deltas if 0 < d < limit]


class ShiftedGramLoss(nn.Module):
    """½(mean((A_x − T_x)²) + mean((A_y − T_y)²)) / energy, averaged over the shifts δ.

    As in Berger & Memisevic, one term per direction; like our Gram loss, each δ's term is
    divided by the target's energy, and several δ per layer are averaged (not summed).
    With ``mask`` (1, 1, H, W) at this layer's size, the generated image's correlations are
    those of the masked region (see :func:`shifted_gram`), as for Gatys et al. 2017's guided Gram.
    """

    def __init__(
        self, targets: dict[int, tuple[torch.Tensor, torch.Tensor]], *, mask: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        if not targets:
            raise ValueError("ShiftedGramLoss needs at least one shift")
        self.deltas = sorted(targets)
        self.register_buffer("mask", None if mask is None else exact(mask.detach()))
        stacked = [exact(t.detach()).reshape(t.shape[-2:]) for d in self.deltas for t in targets[d]]
        self.register_buffer("targets", torch.stack(stacked))  # (2K, C, C): x δ₁, y δ₁, x δ₂, ...
        energies = self.targets.pow(2).mean((1, 2))
        self.register_buffer("scales", (0.5 * (energies[0::2] + energies[1::2])).clamp_min(1e-12))  # (K,)

    def target(self, delta: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (horizontal, vertical) target correlations of shift ``delta``, each (C, C)."""
        i = self.deltas.index(delta)
        return self.targets[2 * i], self.targets[2 * i + 1]

    @classmethod
    def from_styles(
        cls, feats: list[torch.Tensor], deltas: Sequence[int], weights: list[float] | None = None, **kw
    ) -> ShiftedGramLoss:
        """Targets blended over several (whole, unmasked) style images, for each δ in ``deltas``."""
        targets = {}
        for d in deltas:
            pairs = [shifted_gram(f, d) for f in feats]
            targets[d] = (blend([p[0] for p in pairs], weights), blend([p[1] for p in pairs], weights))
        return cls(targets, **kw)

    def forward(self, feats: torch.Tensor, x32: torch.Tensor | None = None) -> torch.Tensor:
        if self.mask is None:
            a = shifted_rows(feats, self.deltas, x32)  # (B, 2K, C, C)
        else:
            a = torch.stack([torch.stack(shifted_gram(feats, d, mask=self.mask), 1) for d in self.deltas], 1).flatten(
                1, 2
            )
        err = (a - self.targets).pow(2).mean((0, 2, 3))  # (2K,)
        return (0.5 * (err[0::2] + err[1::2]) / self.scales).mean()
