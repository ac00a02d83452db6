"""Balancing the style terms per pair and size: a cap on their pull at the start of each level.

How hard the style terms pull the photo depends on the pair: a style far from the photo starts
with a much larger gradient than a near one. With ``--style-pull CAP``, at the start of each
level the gradient of the style terms with respect to the pixels is taken at the photo, and its
size-independent norm, the *pull* ``‖∇ₓ S‖₂ · √(H·W)`` (every term is a mean over
positions, so the plain norm falls as 1/√pixels), is capped softly: where it exceeds the cap
the style terms are scaled by √(cap / pull) for that level; below the cap nothing changes.

This is the gradient-norm rule of multi-task balancing (Chen et al. 2018, "GradNorm",
arXiv 1711.02257) applied once per scale and one-sided: the content term's gradient at the
photo is zero, so the style pull is the only one to measure there, and capping it gives
every pair the same starting push against the content term. It costs one loss-and-gradient
evaluation per level. Every preset leaves it off (a cap of 0): docs/decisions.md says why.
"""

from __future__ import annotations

import math

import torch

from fuchun.losses.terms import STYLE_TERMS


def style_pull(objective, photo: torch.Tensor) -> float:
    """The style terms' pull at ``photo`` (1, 3, H, W): ‖∇ₓ S‖₂ · √(H·W), at a style factor of 1."""
    x = photo.detach().clone().requires_grad_(True)
    _, terms = objective(x)
    style = [terms[t] for t in STYLE_TERMS if t in terms]
    if not style:
        return 0.0
    (grad,) = torch.autograd.grad(sum(style), x)
    # the image's gradient is divided by the fp16 loss scale (fuchun.objective.scale_grad); undo it
    norm = float(grad.float().norm()) * objective.grad_scale / objective.style_factor
    return norm * math.sqrt(x.shape[-1] * x.shape[-2])


def style_factor(objective, photo: torch.Tensor | None, *, cap: float) -> float:
    """The factor of the style terms for this scale: min(1, √(cap / pull)); 1 without a cap or a photo.

    The square root halves the excess on a log scale: a hard cap (cap / pull) left the farthest
    pairs nearly photographic (Chicago + Mondrian at 256 px: style distance 0.68 against 0.20 for
    ``gatys``), no cap let them lose their layout."""
    if cap <= 0 or photo is None:
        return 1.0
    pull = style_pull(objective, photo)
    return 1.0 if pull <= cap else math.sqrt(cap / pull)
