"""Helpers shared by the loss modules."""

from __future__ import annotations

import torch

EPS = 1e-12  # keeps a normalisation finite for an all-zero target


def energy(target: torch.Tensor) -> torch.Tensor:
    """Mean square of a target statistic: the scale a relative error is measured against."""
    return exact(target).pow(2).mean().clamp_min(EPS)


def exact_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype statistics of ``dtype`` values are taken in: float64 stays, all else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def exact(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 if it already is (statistics are never taken in bf16)."""
    return x.to(exact_dtype(x.dtype))


def flat(feats: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H*W) in float32 (float64 stays float64)."""
    b, c, h, w = feats.shape
    f = exact(feats)
    if f.is_contiguous(memory_format=torch.channels_last) and not f.is_contiguous():
        return f.permute(0, 2, 3, 1).reshape(b, h * w, c).transpose(1, 2)  # a view: no copy
    return f.reshape(b, c, h * w)


def normalised_weights(weights: list[float] | None, n: int) -> list[float]:
    """Blend weights for ``n`` style images, checked and scaled to sum to 1."""
    if weights is None:
        weights = [1.0] * n
    if len(weights) != n or n == 0:
        raise ValueError(f"need one blend weight per style image ({n}), got {len(weights)}")
    total = float(sum(weights))
    if total <= 0 or min(weights) < 0:
        raise ValueError("style blend weights must be >= 0 with a positive sum")
    return [float(w) / total for w in weights]


def blend(stats: list[torch.Tensor], weights: list[float] | None) -> torch.Tensor:
    """Weighted sum of per-style statistics (weights normalised to sum to 1)."""
    return sum(s * w for s, w in zip(stats, normalised_weights(weights, len(stats)), strict=True))
