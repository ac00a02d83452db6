"""Sliced Wasserstein style loss (Heitz, Vanhoey, Chambon & Belcour 2021, "A Sliced Wasserstein
Loss for Neural Texture Synthesis", arXiv 2006.07229).

A layer's activations are a cloud of C-dimensional points, one per position. Projected on a unit
direction v, a cloud becomes a 1-D distribution, and the squared 1-D Wasserstein-2 distance
between two of them is the mean squared difference of their sorted values. The loss averages it
over K directions, the rows of V (K, C):

    L = 1/K Σ_k mean_m ((V F)_km − R_k(V F)_km)²  /  mean((V S)²)

where R_k gives each projected activation the style's projected value of the same rank. With
V = I this is the exact histogram loss (:mod:`fuchun.losses.histogram`), which matches the
distribution along the channel axes only; over many directions the sliced loss matches the
whole joint distribution, and with it what the Gram matrix and the Gaussian W2 see.

Where it differs from the paper:

- the K = C directions are drawn once per level, from a generator seeded by the run's seed, the
  layer and the map's size (:func:`direction_seed`), not anew at each step: L-BFGS builds its
  curvature from one objective, and a stopped run resumes with the same directions; a
  coarse-to-fine run meets a new set at each level;
- it is divided by the mean square of the style's projections, a relative error as every
  fuchun term is;
- several style images give the mixture of their projected distributions, and a style whose
  pixel count differs from the picture's is resampled at the picture's rank levels (as the
  histogram loss does);
- with a mask only the region is matched, as :class:`fuchun.losses.histogram.HistogramLoss` does;
- the projections are ranked at the maps' own precision (a bf16 network's by a radix sort of their
  bf16 values, :mod:`fuchun.losses.ranks`) and compared in float32.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn

from fuchun.losses._common import EPS, exact, exact_dtype, flat
from fuchun.losses.histogram import masked_histogram_match, match_rows, quantile_table, resample_table

DIRECTION_CHUNK = 16  # directions projected and ranked at a time: bounds the copies of a large map


def direction_seed(seed: int, layer: str, size: tuple[int, int]) -> int:
    """The directions' seed for ``layer`` at map ``size`` = (H, W) of a run seeded ``seed``:
    the same in every process, different at each layer and level."""
    return zlib.crc32(f"{seed}/{layer}/{size[0]}x{size[1]}".encode())


def random_directions(channels: int, count: int, *, seed: int) -> torch.Tensor:
    """``count`` directions drawn uniformly on the unit sphere of R^channels: (count, channels), float64."""
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(count, channels, generator=g, dtype=torch.float64)
    return v / v.norm(dim=1, keepdim=True)


def projected(feats: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """The maps (B, C, H, W) projected on the rows of ``directions`` (K, C): (B, K, H, W) in float32/64."""
    b, _, h, w = feats.shape
    f = flat(feats)  # (B, C, M)
    return (directions.to(f.dtype) @ f).reshape(b, -1, h, w)


def sliced_wasserstein(feats: torch.Tensor, style: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """The loss of (1, C, H, W) ``feats`` against one (1, C, h, w) ``style`` along ``directions`` (K, C),
    by sorting both projections (differentiable through the sort)."""
    table = flat(projected(style, directions))[0].sort(-1).values  # (K, N)
    ours = flat(projected(feats, directions))[0].sort(-1).values  # (K, M)
    target = resample_table(table, ours.shape[-1])
    return (ours - target).pow(2).mean() / table.pow(2).mean().clamp_min(EPS)


class _SlicedDistance(torch.autograd.Function):
    """``total`` / denominator, where total = Σ (V F − R)² for a detached R was summed in float32 and
    ``diff`` = V F − R (B, K, M) is kept in F's dtype; the backward pass is Vᵀ diff · 2/denominator
    in F's dtype and layout (no autograd graph over the projections)."""

    @staticmethod
    def forward(ctx, feats, diff, directions, total, denominator: float):
        ctx.save_for_backward(diff, directions)
        ctx.denominator, ctx.shape = denominator, feats.shape
        ctx.channels_last = not feats.is_contiguous() and feats.is_contiguous(memory_format=torch.channels_last)
        return total / denominator

    @staticmethod
    def backward(ctx, grad):
        diff, directions = ctx.saved_tensors
        b, c, h, w = ctx.shape
        d = diff * (2 * grad / ctx.denominator).to(diff.dtype)  # (B, K, M)
        v = directions.to(diff.dtype)  # (K, C)
        if ctx.channels_last:
            out = (d.transpose(1, 2) @ v).reshape(b, h, w, c).permute(0, 3, 1, 2)  # (B, C, H, W), NHWC strides
        else:
            out = (v.t() @ d).reshape(b, c, h, w)
        return out, None, None, None, None


class SlicedWassersteinLoss(nn.Module):
    """The sliced Wasserstein loss of one layer against the style images' projected distributions.

    ``directions`` (K, C) default to C random ones drawn with ``seed``; ``weights`` blend the style
    images; ``mask`` (1, 1, H, W) at this layer's size restricts the match to one region.
    """

    def __init__(
        self,
        feats: list[torch.Tensor],
        weights: list[float] | None = None,
        *,
        seed: int = 0,
        directions: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        channels = feats[0].shape[1]
        if directions is None:
            directions = random_directions(channels, channels, seed=seed)
        if directions.dim() != 2 or directions.shape[1] != channels:
            raise ValueError(f"need directions of shape (K, {channels}), got {tuple(directions.shape)}")
        self.register_buffer("directions", directions.to(feats[0].device, exact_dtype(feats[0].dtype)))
        table = quantile_table([projected(f, self.directions) for f in feats], weights)  # (K, N) sorted
        self.register_buffer("table", table)
        self.scale_value = float(table.pow(2).mean().clamp_min(EPS))
        self.register_buffer("mask", None if mask is None else exact(mask.detach()))
        self._ranked: torch.Tensor | None = None
        self._ranked_by_size: dict[int, torch.Tensor] = {}

    def _ranked_values(self, m: int) -> torch.Tensor:
        """The table at M rank levels, cached (once per output size)."""
        if self._ranked is None or self._ranked.shape[-1] != m:
            self._ranked = resample_table(self.table, m)
        return self._ranked

    def _difference(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(V F − R(V F) (B, K, M) in F's dtype, Σ (V F − R)² in float32), DIRECTION_CHUNK at a time."""
        f = flat(feats)  # (B, C, M)
        values = self._ranked_values(f.shape[-1])
        directions = self.directions.to(f.dtype)  # (K, C)
        k = directions.shape[0]
        diff = torch.empty(f.shape[0], k, f.shape[-1], dtype=feats.dtype, device=feats.device)
        total = torch.zeros((), dtype=f.dtype, device=feats.device)
        for i in range(0, k, DIRECTION_CHUNK):
            rows = directions[i : i + DIRECTION_CHUNK] @ f  # (B, k, M), contiguous
            keys = rows.to(feats.dtype)  # ranked at the maps' precision: bf16 ranks by a radix sort
            chunk = rows.sub_(match_rows(keys, values[i : i + DIRECTION_CHUNK]))
            total += torch.vdot(chunk.view(-1), chunk.view(-1))
            diff[:, i : i + DIRECTION_CHUNK] = chunk
        return diff, total

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """The loss for (B, C, H, W) ``feats``."""
        if self.mask is None:
            with torch.no_grad():
                diff, total = self._difference(feats)
            return _SlicedDistance.apply(feats, diff, self.directions, total, diff.numel() * self.scale_value)
        p = projected(feats, self.directions)  # (B, K, H, W)
        with torch.no_grad():
            target = masked_histogram_match(p, self.table, self.mask, ranked=self._ranked_by_size)
        err = (p - target).pow(2) * self.mask
        return err.sum() / (self.mask.sum() * p.shape[1]).clamp_min(EPS) / self.scale_value
