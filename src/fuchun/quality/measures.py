"""Three quality measures of a stylised picture: style distance, structure kept, colour distance.

They judge settings on statistics no preset optimises, so a loss cannot score well on them
merely by minimising itself:

- :func:`style_distance` — per channel, the exact 1-D Wasserstein-1 distance between the
  picture's and the style's VGG16 activations at ``relu1_2``, ``relu2_2``, ``relu3_3`` and
  ``relu4_3`` (no preset uses these layers), in units of that style channel's standard
  deviation, averaged over channels and then layers. 0 for the style image itself; about 1
  means the distributions are a standard deviation apart. Lower is more of the style.
- :func:`structure_kept` — SSIM (Wang et al. 2004) between the blurred luminances of the
  picture and the photo. 1 for the photo itself. The blur removes the fine texture a
  style adds, so this sees whether the photo's shapes and lights survive.
- :func:`colour_distance` — sliced Wasserstein-1 distance between the picture's and the
  style's pixels in CIE L*a*b* (units of ΔE*ab): the mean over fixed directions of the
  exact W1 of the projected pixels. 0 for the same colour distribution.

The measures are written here, in torch, in float32 (the Wasserstein sums) or float64
(SSIM, Lab), with no gradient. Images are (3, H, W) float in [0, 1]. :func:`measure`
sizes the photo and style as a run does (photo at the picture's size, style at its
longest side) and returns all three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from fuchun.controls.colour import luminance
from fuchun.io.read import resize_image
from fuchun.net.features import VGGFeatures
from fuchun.quality.metrics import wasserstein1

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")  # VGG16 layers no preset optimises
POOLING = "max"  # the style distance reads VGG16 as it was trained, whatever pooling a preset renders with
BLUR_SIGMA_AT_256 = 2.0  # px of the luminance blur at a 256 px longest side; scales with size
SSIM_WINDOW = 11  # px, Gaussian window of SSIM (Wang et al. 2004)
SSIM_SIGMA = 1.5  # px, its standard deviation
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # SSIM's stabilisers for a dynamic range of 1
COLOUR_DIRECTIONS = 64  # fixed random directions of the sliced W1 in Lab
DEAD_CHANNEL = 1e-6  # style channels whose std is below this share of the layer's mean std are left out
D65_WHITE = (0.95047, 1.0, 1.08883)  # CIE XYZ of the sRGB white point
SRGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))


def _check(image: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``image`` is a non-empty floating (3, H, W) tensor."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3 or image.numel() == 0:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be a non-empty (3, H, W) tensor, got {shape}")
    if not image.is_floating_point():
        raise ValueError(f"{name} must be a floating tensor in [0, 1], got {image.dtype}")


# --------------------------------------------------------------------------- style distance


@torch.no_grad()
def _activations(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{layer: (C, H·W) float32}`` of a (3, H, W) image, without autocast, pooling by ``POOLING``."""
    device = next(net.buffers()).device
    x = image.detach().to(device=device, dtype=torch.float32).unsqueeze(0)  # (3, H, W) -> (1, 3, H, W)
    pooling, net.pooling = net.pooling, POOLING  # the network as trained, whatever a run set
    try:
        with torch.autocast(device_type=device.type, enabled=False):
            feats = net(x, layers)
    finally:
        net.pooling = pooling
    return {k: v[0].float().reshape(v.shape[1], -1) for k, v in feats.items()}  # (1, C, H, W) -> (C, H·W)


def channel_w1(feats: torch.Tensor, style: torch.Tensor) -> float:
    """Mean over channels of W1(picture channel, style channel) / std(style channel).

    ``feats`` (C, M) and ``style`` (C, N) are one layer's activations; M and N may differ (the
    W1 of :func:`fuchun.quality.metrics.wasserstein1` is exact for unequal counts, no resampling).
    Channels the style never activates (std below ``DEAD_CHANNEL`` of the layer's mean std)
    carry no style and are left out; if all are, the result is 0.
    """
    std = style.float().std(dim=1, correction=0)  # (C,)
    alive = std > DEAD_CHANNEL * std.mean().clamp_min(torch.finfo(torch.float32).tiny)
    if not bool(alive.any()):
        return 0.0
    w1 = wasserstein1(feats[alive], style[alive])  # (C_alive,)
    return float((w1 / std[alive]).mean())


def style_distances(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = STYLE_LAYERS
) -> dict[str, float]:
    """Per layer, :func:`channel_w1` of the picture's and the style's activations, plus ``"mean"``.

    ``net`` should be the pretrained VGG16 (``fuchun.run.engine.load_network``) for numbers that
    compare with the README; the style image is used at the size given (see :func:`measure`).
    """
    _check(image, "image")
    _check(style, "style")
    f, s = _activations(net, image, layers), _activations(net, style, layers)
    values = {layer: channel_w1(f[layer], s[layer]) for layer in layers}
    return {**values, "mean": sum(values.values()) / len(values)}


def style_distance(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = STYLE_LAYERS
) -> float:
    """The style distance: per-channel W1 in style-std units at unoptimised layers, averaged (lower is closer)."""
    return style_distances(net, image, style, layers=layers)["mean"]


# --------------------------------------------------------------------------- structure kept


def _gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    """A normalised 1-D Gaussian of ``2·radius + 1`` taps, float64."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _separable(x: torch.Tensor, kernel: torch.Tensor, *, padding: str | None) -> torch.Tensor:
    """(1, 1, H, W) filtered by ``kernel`` along both axes; reflect-padded or 'valid' (``padding=None``)."""
    r = len(kernel) // 2
    if padding is not None:
        x = F.pad(x, (r, r, r, r), mode=padding)
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))


def blurred_luminance(image: torch.Tensor, *, sigma: float | None = None) -> torch.Tensor:
    """(3, H, W) RGB -> (H, W) float64 BT.601 luminance, Gaussian-blurred (reflect padding).

    ``sigma`` defaults to ``BLUR_SIGMA_AT_256`` px scaled by the longest side / 256 (2 px at
    256 px, 4 px at 512 px), so the blur removes the same share of the picture at every size.
    """
    _check(image, "image")
    h, w = image.shape[-2:]
    sigma = BLUR_SIGMA_AT_256 * max(h, w) / 256 if sigma is None else sigma
    y = luminance(image.detach().double().cpu())[0]
    radius = min(math.ceil(3 * sigma), h - 1, w - 1)
    if sigma <= 0 or radius < 1:
        return y
    return _separable(y[None, None], _gaussian_kernel(sigma, radius), padding="reflect")[0, 0]


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (H, W) images in [0, 1] (Wang et al. 2004): 11-px Gaussian window, σ 1.5,
    C1 = 0.01², C2 = 0.03², over the positions where the window fits (no padding); 1 iff equal.

    Images smaller than the window use a window as large as they allow.
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"ssim needs two (H, W) images of one size, got {list(a.shape)} and {list(b.shape)}")
    radius = min(SSIM_WINDOW // 2, (min(a.shape) - 1) // 2)
    x, y = a.double()[None, None], b.double()[None, None]  # (H, W) -> (1, 1, H, W)
    k = _gaussian_kernel(SSIM_SIGMA, radius)
    mx, my = _separable(x, k, padding=None), _separable(y, k, padding=None)
    vx = _separable(x * x, k, padding=None) - mx**2
    vy = _separable(y * y, k, padding=None) - my**2
    cxy = _separable(x * y, k, padding=None) - mx * my
    index = ((2 * mx * my + SSIM_C1) * (2 * cxy + SSIM_C2)) / ((mx**2 + my**2 + SSIM_C1) * (vx + vy + SSIM_C2))
    return float(index.mean())


def structure_kept(image: torch.Tensor, photo: torch.Tensor, *, sigma: float | None = None) -> float:
    """SSIM between the blurred luminances of ``image`` and ``photo`` (resized to the image): 1 is the photo.

    Blur: Gaussian, σ = 2 px × longest side / 256 (see :func:`blurred_luminance`); SSIM: 11-px
    Gaussian window with σ 1.5 px (see :func:`ssim`). Symmetric in its two images when they
    have the same size.
    """
    _check(image, "image")
    _check(photo, "photo")
    photo = resize_image(photo.float().cpu(), size=(image.shape[-1], image.shape[-2]))
    return ssim(blurred_luminance(image, sigma=sigma), blurred_luminance(photo, sigma=sigma))


# --------------------------------------------------------------------------- colour distance


def srgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) sRGB in [0, 1] -> (3, H, W) float64 CIE L*a*b* (D65): L in [0, 100]."""
    _check(image, "image")
    c = image.detach().double().cpu().clamp(0, 1)
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,jhw->ihw", torch.tensor(SRGB_TO_XYZ, dtype=torch.float64), linear)
    t = xyz / torch.tensor(D65_WHITE, dtype=torch.float64).view(3, 1, 1)
    delta = 6 / 29
    f = torch.where(t > delta**3, t.clamp_min(0) ** (1 / 3), t / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _directions(count: int) -> torch.Tensor:
    """(count, 3) fixed unit vectors: the three Lab axes, then seeded random directions."""
    gen = torch.Generator().manual_seed(0)
    extra = torch.randn(max(0, count - 3), 3, generator=gen, dtype=torch.float64)
    d = torch.cat([torch.eye(3, dtype=torch.float64), extra])[:count]
    return d / d.norm(dim=1, keepdim=True)


def colour_distance(image: torch.Tensor, style: torch.Tensor, *, directions: int = COLOUR_DIRECTIONS) -> float:
    """Sliced W1 between the two images' pixels in Lab (ΔE*ab units; 0: same colour distribution).

    The pixels are projected on ``directions`` fixed unit vectors (the L, a, b axes first, the
    rest seeded random), and the exact 1-D W1 of each projection is averaged (Rabin et al.
    2011). Symmetric; the images may differ in size.
    """
    _check(style, "style")
    if directions < 1:
        raise ValueError(f"colour_distance needs at least one direction, got {directions}")
    d = _directions(directions)  # (D, 3)
    a = d @ srgb_to_lab(image).reshape(3, -1)  # (3, M) -> (D, M)
    b = d @ srgb_to_lab(style).reshape(3, -1)  # (3, N) -> (D, N)
    return float(wasserstein1(a.float(), b.float()).mean())


# --------------------------------------------------------------------------- all three


def measure(
    net: VGGFeatures,
    image: torch.Tensor,
    *,
    photo: torch.Tensor | None = None,
    style: torch.Tensor | None = None,
    style_side: int | None = None,
) -> dict[str, float]:
    """The three measures of a picture, sized as a run sizes its inputs, in one dict.

    Keys: ``structure`` (with a photo, resized to the picture), ``style_distance`` and
    ``colour_distance`` (with a style image, resized to a longest side of ``style_side``,
    by default the picture's longest side).
    """
    _check(image, "image")
    if photo is None and style is None:
        raise ValueError("measure needs a photo, a style image or both")
    result: dict[str, float] = {}
    if photo is not None:
        result["structure"] = structure_kept(image, photo)
    if style is not None:
        _check(style, "style")
        side = style_side if style_side is not None else max(image.shape[-2:])
        style = resize_image(style.float().cpu(), size=side)
        result["style_distance"] = style_distance(net, image, style)
        result["colour_distance"] = colour_distance(image, style)
    return result


def quality(
    net: VGGFeatures, image: torch.Tensor, *, content: torch.Tensor | None = None, style: torch.Tensor | None = None
) -> dict:
    """The measures in ``fuchun eval``'s layout, images at the sizes given (``read_images``).

    Keys: ``structure`` (with content), ``style_distance`` ({layer: value, "mean": value}) and
    ``colour_lab`` (with a style image).
    """
    _check(image, "image")
    result: dict = {}
    if content is not None:
        result["structure"] = structure_kept(image, content)
    if style is not None:
        result["style_distance"] = style_distances(net, image, style)
        result["colour_lab"] = colour_distance(image, style)
    return result
