"""Colour preservation: keep the content's colours, take only the style's texture.

Gatys, Ecker, Bethge, Hertzmann & Shechtman 2017, "Controlling Perceptual Factors in
Neural Style Transfer", arXiv 1611.07865, §5. Two ways, chosen by name (``COLOUR_MODES``):

- ``luminance``: stylise the luminance alone. The network sees grey images (Y in all
  three channels): the content's Y, and each style's Y after matching its mean and
  standard deviation to the content's Y. The result's Y is then joined with the content's
  chroma at the output size. The paper uses YIQ; we use full-range YCbCr (ITU-R BT.601,
  as in JPEG), whose Y is the same luma (0.299 R + 0.587 G + 0.114 B).
- ``match``: recolour each style image so that its pixels' mean and covariance equal the
  content's (the paper's "colour histogram matching", linear variant), then stylise as usual.

Every image here is (3, H, W) RGB in [0, 1]; every function is a pure tensor function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from fuchun.io.read import resize_image
from fuchun.numeric import sym_power

COLOUR_EPS = 1e-5  # added to the style covariance's diagonal before the inverse square root

# full-range YCbCr (ITU-R BT.601 luma, JPEG chroma): rows give Y, Cb, Cr from R, G, B
_RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)
_YCBCR_TO_RGB = torch.linalg.inv(_RGB_TO_YCBCR)
_CHROMA_OFFSET = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)  # grey has Cb = Cr = ½


def _apply(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Multiply every pixel of (..., 3, H, W) ``image`` by the 3×3 ``matrix``."""
    m = matrix.to(image.device, image.dtype)
    return torch.einsum("ij,...jhw->...ihw", m, image)


def rgb_to_ycbcr(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB -> (..., 3, H, W) Y, Cb, Cr (grey: Cb = Cr = ½)."""
    offset = _CHROMA_OFFSET.to(image.device, image.dtype).view(3, 1, 1)
    return _apply(_RGB_TO_YCBCR, image) + offset


def ycbcr_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) Y, Cb, Cr -> (..., 3, H, W) RGB, not clamped (the exact inverse)."""
    offset = _CHROMA_OFFSET.to(ycc.device, ycc.dtype).view(3, 1, 1)
    return _apply(_YCBCR_TO_RGB, ycc - offset)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB -> (..., 1, H, W) luma Y."""
    return rgb_to_ycbcr(image)[..., :1, :, :]


def grey(y: torch.Tensor) -> torch.Tensor:
    """(..., 1, H, W) luma -> (..., 3, H, W) grey RGB image (Y in every channel)."""
    return y.expand(*y.shape[:-3], 3, *y.shape[-2:]).contiguous()


def match_luminance(y: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``y`` shifted and scaled to the mean and standard deviation of ``reference`` (both luma).

    Gatys et al. 2017 (arXiv 1611.07865, §5.1) do this to the style's luminance before
    stylising, so the style's brightness range does not darken or wash out the picture.
    """
    spread = y.std().clamp_min(1e-6)
    return (y - y.mean()) * (reference.std() / spread) + reference.mean()


def recombine(y: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """RGB whose luma is ``y`` (1, H, W) and whose chroma is ``content``'s (3, H, W); not clamped.

    The second half of Gatys et al. 2017's luminance-only transfer (arXiv 1611.07865, §5.1).
    Sizes must agree: resize the content to the output first.
    """
    if y.shape[-2:] != content.shape[-2:]:
        raise ValueError(f"luma {tuple(y.shape[-2:])} and content {tuple(content.shape[-2:])} differ in size")
    chroma = rgb_to_ycbcr(content)[1:]  # (2, H, W)
    return ycbcr_to_rgb(torch.cat([y.to(chroma.dtype), chroma], 0))


def _mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3,) and covariance (3, 3) of the pixels of (3, H, W) ``image``, in float64."""
    x = image.reshape(3, -1).to(torch.float64)  # (3, H·W)
    mean = x.mean(1)
    centred = x - mean[:, None]
    return mean, centred @ centred.T / x.shape[1]


def match_colour(style: torch.Tensor, content: torch.Tensor, *, eps: float = COLOUR_EPS) -> torch.Tensor:
    """``style`` with the pixel mean and covariance of ``content``: x' = A (x − μ_s) + μ_c; not clamped.

    Gatys et al. 2017 (arXiv 1611.07865, §5.2), with A = Σ_c^½ Σ_s^−½ (symmetric square
    roots; the paper also names a Cholesky-based A, which gives the same mean and
    covariance). ``eps`` is added to Σ_s's diagonal so a flat style image stays finite.
    """
    mu_s, cov_s = _mean_cov(style)
    mu_c, cov_c = _mean_cov(content)
    a = sym_power(cov_c, 0.5, floor=1e-12) @ sym_power(
        cov_s + eps * torch.eye(3, dtype=torch.float64), -0.5, floor=1e-12
    )
    x = style.reshape(3, -1).to(torch.float64)  # (3, H·W)
    out = a @ (x - mu_s[:, None]) + mu_c[:, None]
    return out.reshape(style.shape).to(style.dtype)


# --------------------------------------------------------------------------- strategies


def _luminance_inputs(content: torch.Tensor, styles: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    y = luminance(content)
    return grey(y), [grey(match_luminance(luminance(s), y).clamp(0, 1)) for s in styles]


def _luminance_output(image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    h, w = image.shape[-2:]
    sized = resize_image(content, size=(w, h))  # the content as the engine sees it at the output size
    return recombine(luminance(image), sized).clamp(0, 1)


def _matched_inputs(content: torch.Tensor, styles: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    return content, [match_colour(s, content).clamp(0, 1) for s in styles]


def _unchanged(image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    return image


@dataclass(frozen=True)
class ColourMode:
    """A colour-preservation strategy: what the network is given, and what becomes of its result."""

    inputs: Callable[[torch.Tensor, list[torch.Tensor]], tuple[torch.Tensor, list[torch.Tensor]]]
    output: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


COLOUR_MODES = {
    "luminance": ColourMode(_luminance_inputs, _luminance_output),
    "match": ColourMode(_matched_inputs, _unchanged),
}


def colour_mode(name: str) -> ColourMode:
    """The strategy called ``name``; unknown names raise ValueError listing the valid ones."""
    if name not in COLOUR_MODES:
        raise ValueError(f"unknown colour preservation {name!r}; valid: {', '.join(COLOUR_MODES)}")
    return COLOUR_MODES[name]


def preserve_inputs(
    name: str | None, content: torch.Tensor | None, styles: list[torch.Tensor]
) -> tuple[torch.Tensor | None, list[torch.Tensor]]:
    """The content and style images the network should see under colour mode ``name`` (None: as given)."""
    if name is None:
        return content, styles
    mode = colour_mode(name)
    if content is None:
        raise ValueError(f"--preserve-colors {name} keeps the content's colours and needs a content image")
    return mode.inputs(content, styles)


def preserve_output(name: str | None, image: torch.Tensor, content: torch.Tensor | None) -> torch.Tensor:
    """The final picture under colour mode ``name``: (3, H, W) ``image`` joined with ``content``'s colours."""
    if name is None or content is None:
        return image
    return colour_mode(name).output(image, content)
