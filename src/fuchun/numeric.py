"""Numeric helpers shared by the losses, the controls and the measures: each written once here.

- :func:`sym_power`: a power of symmetric positive semi-definite matrices through their
  eigendecomposition (Wasserstein-2's Σ^½, colour matching's Σ^½ and Σ^-½);
- :func:`gaussian_kernel` and :func:`blur`: a separable Gaussian blur of single-channel images
  (the masks' feathered edges, the structure measure's smoothing and SSIM's window).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def symmetric_eigh(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of the symmetric part of ``a`` (..., C, C); in float64 where
    ``a``'s own dtype fails to converge, returned in ``a``'s dtype."""
    sym = (a + a.transpose(-2, -1)) / 2
    try:
        return torch.linalg.eigh(sym)
    except torch.linalg.LinAlgError:
        vals, vecs = torch.linalg.eigh(sym.double())
        return vals.to(a.dtype), vecs.to(a.dtype)


def sym_power(a: torch.Tensor, power: float, *, floor: float = 0.0) -> torch.Tensor:
    """``a`` ** ``power`` for symmetric PSD matrices (..., C, C), eigenvalues floored at ``floor``.

    Taken in float64 and returned in ``a``'s dtype; the symmetric square root for ``power`` ½.
    """
    vals, vecs = symmetric_eigh(a.double())
    vals = vals.clamp_min(floor)
    scaled = vals.sqrt() if power == 0.5 else vals.pow(power)
    return ((vecs * scaled.unsqueeze(-2)) @ vecs.transpose(-2, -1)).to(a.dtype)


def gaussian_kernel(sigma: float, radius: int, *, dtype: torch.dtype = torch.float64, device=None) -> torch.Tensor:
    """A normalised 1-D Gaussian of standard deviation ``sigma`` and ``2·radius + 1`` taps."""
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor, *, padding: str | None) -> torch.Tensor:
    """(N, 1, H, W) filtered by the 1-D ``kernel`` along both axes; ``padding`` "zeros" or
    "reflect" keeps the size, None keeps only the positions where the kernel fits."""
    r = len(kernel) // 2
    if padding is not None:
        x = F.pad(x, (r, r, r, r), mode="constant" if padding == "zeros" else padding)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))
