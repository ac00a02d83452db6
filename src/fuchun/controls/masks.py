"""Spatial control: one mask per style image says where that style goes.

Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling Perceptual Factors in
Neural Style Transfer", arXiv 1611.07865, §4 ("guided" Gram matrices). Mask i is a grey
image, white where style i should be. How fuchun uses it:

- Masks are read as luma, resized to the output size (antialiased) and feathered by a
  Gaussian blur; at each style layer they are average-pooled with the network's pooling
  geometry (2×2, stride 2, ceil mode), so edges become soft weights deeper down.
- Each region has its own Gram matrix, shifted Gram and histogram term (see the losses'
  ``mask`` options); style i's targets come from the whole style image i.
- Regions are combined by their share of the picture: L_l = Σ_i c_i L_l(region i), with
  c_i the mean of mask i at layer l. A mask of all white is then exactly the unmasked
  loss, and each pixel weighs the same against the content loss as without masks.
- Where the masks add up to less than 1 the style terms cover the pixels less (or not at
  all): the picture keeps its content there. Nothing is added for "no style".
- Masks and ``--style-blend`` are not combined: each mask already names its one style.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fuchun.controls.colour import luminance
from fuchun.io.read import read_image
from fuchun.net.features import VGGFeatures
from fuchun.numeric import blur, gaussian_kernel


def read_mask(source: Any) -> torch.Tensor:
    """A mask image (path, PIL image or tensor) as (1, H, W) luma in [0, 1]."""
    return luminance(read_image(source)).clamp(0, 1)


def load_masks(
    sources: Sequence[Any] | None, *, n_styles: int, blend: Sequence[float] | None = None
) -> list[torch.Tensor] | None:
    """Read one mask per style image; ValueError on a wrong count or together with a blend."""
    if sources is None:
        return None
    sources = list(sources)
    check_masks(len(sources), n_styles=n_styles, blend=blend)
    return [read_mask(s) for s in sources]


def check_masks(n_masks: int, *, n_styles: int, blend: Sequence[float] | None = None) -> None:
    """ValueError unless there is one mask per style image and no blend weights."""
    if n_masks != n_styles:
        raise ValueError(f"--mask has {n_masks} mask image(s) for {n_styles} style image(s): give one mask per style")
    if blend is not None:
        raise ValueError("--mask and --style-blend cannot be combined: each mask already says where its style goes")


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(1, H, W) mask -> (1, h, w) at ``size`` = (w, h), bilinear with antialiasing (area-like down)."""
    w, h = size
    if tuple(mask.shape[-2:]) == (h, w):
        return mask.clone()
    out = F.interpolate(mask[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return out[0].clamp(0, 1)  # (1, 1, h, w) -> (1, h, w)


def feather(mask: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """(1, H, W) mask blurred by a Gaussian of ``sigma`` px, normalised at the borders.

    Normalised convolution (blur(m) / blur(1)): the border is not darkened, and an all-white
    mask stays exactly 1.
    """
    if sigma <= 0:
        return mask.clone()
    kernel = gaussian_kernel(sigma, max(1, math.ceil(3 * sigma)), dtype=mask.dtype, device=mask.device)
    blurred = blur(mask[None], kernel, padding="zeros")
    return (blurred / blur(torch.ones_like(mask[None]), kernel, padding="zeros"))[0].clamp(0, 1)


def fit_masks(masks: list[torch.Tensor] | None, size: tuple[int, int], *, sigma: float) -> list[torch.Tensor] | None:
    """Each (1, H, W) mask resized to the output ``size`` = (W, H) and feathered by ``sigma`` px."""
    if masks is None:
        return None
    return [feather(resize_mask(m, size), sigma=sigma) for m in masks]


def masks_at_scale(
    masks: list[torch.Tensor] | None, size: tuple[int, int], device: torch.device | str
) -> list[torch.Tensor] | None:
    """The output-size masks resized to one coarse-to-fine scale: (1, 1, h, w) each on ``device``."""
    if masks is None:
        return None
    return [resize_mask(m, size)[None].to(device) for m in masks]


def layer_masks(net: VGGFeatures, mask: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
    """The (1, 1, H, W) image mask carried to each of ``layers``' resolution by average pooling.

    Convolutions keep the size (padding 1); each pooling layer halves it with the network's
    geometry (2×2, stride 2, ceil mode), so mask i at layer l has that layer's (h, w).
    """
    wanted = set(layers)
    out, m = {}, mask
    for layer in net.layers:
        if not wanted - set(out):
            break
        if layer.kind == "pool":
            m = F.avg_pool2d(m, kernel_size=2, stride=2, ceil_mode=True)
        if layer.name in wanted:
            out[layer.name] = m
    return out


class RegionLoss(nn.Module):
    """Σ_i c_i L_i(F): one masked loss per region, each weighted by its share c_i of the picture.

    The combination of Gatys et al. 2017's guided losses (arXiv 1611.07865, §4); they sum
    the regions' losses, we weight each by its area so masks do not change the balance
    between style and content.
    """

    def __init__(self, losses: Sequence[nn.Module], coverages: Sequence[float]) -> None:
        super().__init__()
        if len(losses) != len(coverages):
            raise ValueError(f"{len(losses)} region losses for {len(coverages)} coverages")
        self.losses = nn.ModuleList(losses)
        self.coverages = [float(c) for c in coverages]

    def forward(self, feats: torch.Tensor, *rows: torch.Tensor | None) -> torch.Tensor:
        """Σ_i c_i L_i(feats); ``rows`` go on to each region's loss (a Gram term's shared float32 rows)."""
        total = feats.new_zeros((), dtype=torch.float32)
        for loss, share in zip(self.losses, self.coverages, strict=True):
            total = total + share * loss(feats, *rows)
        return total
