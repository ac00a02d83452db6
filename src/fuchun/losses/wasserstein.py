"""Gaussian Wasserstein-2 style loss (Mroueh 2019, "Wasserstein Style Transfer", arXiv 1905.12828;
Kalischek, Wegner & Schindler 2021, "In the light of feature distributions: moment matching for
neural style transfer", arXiv 2103.07208).

Each layer's activations are modelled as a Gaussian N(μ, Σ) over positions, and the loss is
the squared 2-Wasserstein distance between the picture's Gaussian and the style's:

    W2² = ‖μ − μ_s‖² + tr Σ + tr Σ_s − 2 tr (Σ_s^½ Σ Σ_s^½)^½

Unlike the Gram matrix (the raw second moment), it separates the mean from the covariance
and compares covariances by their geometry, so it pulls whole feature distributions (strokes,
colour masses) instead of only their correlations. We divide it by the style's mean square
activation ``tr Σ_s + ‖μ_s‖²``, so like every fuchun term it is a relative error.

Σ_s^½ is taken once per scale from an eigendecomposition of the target. The picture's
``tr (·)^½`` is the sum of the square roots of the eigenvalues of a symmetric PSD matrix A;
its gradient is ``½ A^-½`` from the same eigendecomposition (:class:`_TraceSqrt`), so no
gradient flows through eigenvectors and repeated eigenvalues are harmless. Eigenvalues are
floored at a small share of the target's scale (``RIDGE``) to keep ``A^-½`` finite.
"""

from __future__ import annotations

import torch
from torch import nn

from fuchun.losses._common import EPS, exact, flat, normalised_weights
from fuchun.numeric import sym_power, symmetric_eigh

RIDGE = 1e-2  # floor of the eigenvalues, as a share of the style's mean variance per channel


def gaussian_moments(feats: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (B, C) and second raw moment E[f fᵀ] (B, C, C) of (B, C, H, W) features over positions.

    With ``mask`` (B, 1, H, W) of weights in [0, 1], each position counts by its weight (one region's
    statistics). Raw moments, not covariances, because blends of styles average linearly in them.
    """
    f = flat(feats)  # (B, C, M)
    if mask is None:
        return f.mean(-1), f @ f.transpose(1, 2) / f.shape[-1]
    m = flat(mask)  # (B, 1, M)
    total = m.sum(-1, keepdim=True).clamp_min(1e-8)  # (B, 1, 1)
    return (f * m).sum(-1) / total[..., 0], (f * m) @ f.transpose(1, 2) / total


def covariance(mean: torch.Tensor, moment: torch.Tensor) -> torch.Tensor:
    """Σ = E[f fᵀ] − μ μᵀ: (B, C), (B, C, C) -> (B, C, C)."""
    return moment - mean.unsqueeze(-1) * mean.unsqueeze(-2)


class _TraceSqrt(torch.autograd.Function):
    """tr(A^½) of symmetric PSD (..., C, C) -> (...), with gradient ½ A^-½ (eigenvalues floored)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, floor: float) -> torch.Tensor:
        vals, vecs = symmetric_eigh(a)
        root = vals.clamp_min(floor).sqrt()  # (..., C)
        ctx.save_for_backward(root, vecs)
        return root.sum(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        root, vecs = ctx.saved_tensors
        inv = (vecs / (2 * root).unsqueeze(-2)) @ vecs.transpose(-2, -1)  # ½ A^-½
        return grad[..., None, None] * inv, None


def trace_sqrt(a: torch.Tensor, *, floor: float = 0.0) -> torch.Tensor:
    """tr(A^½) of symmetric PSD matrices (..., C, C) -> (...), differentiable (gradient ½ A^-½)."""
    if a.dim() < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"trace_sqrt needs square matrices, got {tuple(a.shape)}")
    return _TraceSqrt.apply(a, floor)


def gaussian_w2(
    mean: torch.Tensor, cov: torch.Tensor, target_mean: torch.Tensor, target_cov: torch.Tensor, *, floor: float = 0.0
) -> torch.Tensor:
    """Squared W2 between N(mean, cov) and N(target_mean, target_cov): (B, C), (B, C, C) -> (B,)."""
    root = sym_power(target_cov, 0.5, floor=floor)
    cross = trace_sqrt(root @ cov @ root, floor=floor * floor)
    traces = cov.diagonal(dim1=-2, dim2=-1).sum(-1) + target_cov.diagonal(dim1=-2, dim2=-1).sum(-1)
    return (mean - target_mean).pow(2).sum(-1) + traces - 2 * cross


class WassersteinLoss(nn.Module):
    """W2²(picture, style) / E‖f_s‖² for one layer, the style's Gaussian fixed at construction.

    ``target`` is the pair (mean (1, C), second raw moment (1, C, C)) of :func:`gaussian_moments`.
    With ``mask`` (1, 1, H, W) at this layer's size, the picture's Gaussian is that region's only
    (as :class:`fuchun.losses.gram.GramLoss` does, after Gatys et al. 2017, arXiv 1611.07865).
    """

    def __init__(self, target: tuple[torch.Tensor, torch.Tensor], *, mask: torch.Tensor | None = None) -> None:
        super().__init__()
        mean, moment = (exact(t.detach()) for t in target)
        cov = covariance(mean, moment)
        channels = cov.shape[-1]
        self.floor = float(RIDGE * cov.diagonal(dim1=-2, dim2=-1).sum(-1).max() / channels) + EPS
        self.register_buffer("mean", mean)
        self.register_buffer("cov", cov)
        self.register_buffer("root", sym_power(cov, 0.5, floor=self.floor))
        self.register_buffer("scale", moment.diagonal(dim1=-2, dim2=-1).sum(-1).clamp_min(EPS))  # E‖f_s‖² (1,)
        self.register_buffer("mask", None if mask is None else exact(mask.detach()))

    @classmethod
    def from_styles(cls, feats: list[torch.Tensor], weights: list[float] | None = None, **kw) -> WassersteinLoss:
        """The loss whose target blends several style images' raw moments by ``weights``."""
        w = normalised_weights(weights, len(feats))
        moments = [gaussian_moments(f) for f in feats]
        mean = sum(m[0] * k for m, k in zip(moments, w, strict=True))
        moment = sum(m[1] * k for m, k in zip(moments, w, strict=True))
        return cls((mean, moment), **kw)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        f = flat(feats)  # (B, C, M)
        if self.mask is None:
            weights = torch.full_like(f[:, :1], 1.0 / f.shape[-1])  # (B, 1, M)
        else:
            m = flat(self.mask)  # (B, 1, M)
            weights = m / m.sum(-1, keepdim=True).clamp_min(1e-8)
        mean = (f * weights).sum(-1)  # (B, C)
        x = (f - mean.unsqueeze(-1)) * weights.sqrt()  # centred, weighted: Σ = x xᵀ
        y = self.root @ x  # (B, C, M): Σ_s^½ Σ Σ_s^½ = y yᵀ
        # tr (y yᵀ)^½ = tr (yᵀ y)^½: take the smaller of the two products
        product = y @ y.transpose(1, 2) if y.shape[1] <= y.shape[2] else y.transpose(1, 2) @ y
        cross = trace_sqrt(product, floor=self.floor * self.floor)
        traces = x.pow(2).sum((1, 2)) + self.cov.diagonal(dim1=-2, dim2=-1).sum(-1)
        w2 = (mean - self.mean).pow(2).sum(-1) + traces - 2 * cross
        return (w2 / self.scale).mean()
