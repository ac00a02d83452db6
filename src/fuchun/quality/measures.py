"""Measures of a stylised picture against its photo and its painting, on statistics no preset optimises.

Images are (3, H, W) float in [0, 1]; every measure is taken without gradient, features in
float32 from the network as it was trained (max pooling), whatever pooling a run used.

- :func:`style_distance`: per channel, the exact 1-D Wasserstein-1 distance between the picture's
  and the style's VGG16 activations at ``relu1_2``, ``relu2_2``, ``relu3_3`` and ``relu4_3`` (no
  preset uses these layers), in units of that style channel's standard deviation, averaged over
  channels and then layers. 0 for the style image itself; lower is more of the style.
- :func:`structure_kept`: SSIM (Wang et al. 2004) between the blurred luminances of picture and
  photo. 1 for the photo itself; the blur removes the fine texture a style adds, so it sees
  whether the photo's shapes and lights survive.
- :func:`colour_distance`: sliced Wasserstein-1 distance between the pixels in CIE L*a*b*
  (ΔE*ab units): the mean over fixed directions of the exact W1 of the projected pixels.
- :func:`autocorrelation_error`: how far the luminance autocorrelation at 16-64 px offsets is
  from the exemplar's: long-range structure (repeated strokes, stripes) Gram matrices do not see.

:func:`measure` sizes the photo and style as a run does and returns the first three;
:func:`evaluate` is ``fuchun eval``'s report, which adds the content and Gram losses' own values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from fuchun.controls.colour import luminance
from fuchun.io.formats import StrPath, check_image_tensor
from fuchun.io.read import check_min_size, read_image, resize_image
from fuchun.losses import content_loss, gram_matrix
from fuchun.losses._common import energy
from fuchun.losses.sliced import random_directions
from fuchun.losses.terms import GATYS_STYLE
from fuchun.net.features import VGGFeatures
from fuchun.numeric import blur, gaussian_kernel

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")  # VGG16 layers no preset optimises
CONTENT_LAYER = "relu4_2"  # the content loss's layer, for eval's report
POOLING = "max"  # the measures read VGG16 as it was trained, whatever pooling a preset renders with
BLUR_SIGMA_AT_256 = 2.0  # px of the luminance blur at a 256 px longest side; scales with size
SSIM_WINDOW = 11  # px, Gaussian window of SSIM (Wang et al. 2004)
SSIM_SIGMA = 1.5  # px, its standard deviation
SSIM_C1, SSIM_C2 = 0.01**2, 0.03**2  # SSIM's stabilisers for a dynamic range of 1
COLOUR_DIRECTIONS = 64  # fixed random directions of the sliced W1 in Lab
DEAD_CHANNEL = 1e-6  # style channels whose std is below this share of the layer's mean std are left out
D65_WHITE = (0.95047, 1.0, 1.08883)  # CIE XYZ of the sRGB white point
SRGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
AUTOCORR_OFFSETS = (16, 32, 48, 64)  # image pixels
EPS = 1e-12
_CHUNK = 1 << 24  # elements per gather in the W1 of unequal sample counts (bounds memory)


# --------------------------------------------------------------------------- the feature pass


@torch.no_grad()
def features(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """``{layer: (C, H·W) float32}`` of a (3, H, W) image: no autocast, pooling by :data:`POOLING`."""
    check_image_tensor(image)
    device = next(net.buffers()).device
    x = image.detach().to(device=device, dtype=torch.float32).unsqueeze(0)  # (3, H, W) -> (1, 3, H, W)
    pooling, net.pooling = net.pooling, POOLING
    try:
        with torch.autocast(device_type=device.type, enabled=False):
            feats = net(x, layers)
    finally:
        net.pooling = pooling
    return {k: v[0].float().reshape(v.shape[1], -1) for k, v in feats.items()}  # (1, C, H, W) -> (C, H·W)


# --------------------------------------------------------------------------- style distance


def wasserstein1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact 1-D Wasserstein-1 distance between the values of each row: a (C, M), b (C, N) -> (C,).

    W1 = ∫₀¹ |Q_a(t) − Q_b(t)| dt with the step quantile functions of the two samples. With
    M = N this is mean(|sort(a) − sort(b)|). Otherwise both steps change only at i/M and j/N;
    on each piece between consecutive breakpoints both quantiles are constant, so the
    integral is an exact weighted sum over at most M + N − 1 pieces.
    """
    a, b = a.float().sort(-1).values, b.float().sort(-1).values
    m, n = a.shape[-1], b.shape[-1]
    if m == n:
        return (a - b).abs().mean(-1)
    # breakpoints in units of 1/(M·N), exact in int64: i/M = i·N, j/N = j·M
    cuts = torch.cat([torch.arange(m + 1) * n, torch.arange(n + 1) * m]).unique()  # sorted, 0 .. M·N
    start, width = cuts[:-1], cuts.diff().double() / (m * n)
    ia, ib = (start // n).to(a.device), (start // m).to(a.device)  # the rank of each sample on a piece
    width = width.to(device=a.device, dtype=torch.float32)
    rows = max(1, _CHUNK // len(start))
    parts = [((a[r : r + rows, ia] - b[r : r + rows, ib]).abs() * width).sum(-1) for r in range(0, len(a), rows)]
    return torch.cat(parts)


def channel_w1(feats: torch.Tensor, style: torch.Tensor) -> float:
    """Mean over channels of W1(picture channel, style channel) / std(style channel).

    ``feats`` (C, M) and ``style`` (C, N) are one layer's activations; M and N may differ.
    Channels the style never activates (std below ``DEAD_CHANNEL`` of the layer's mean std)
    carry no style and are left out; if all are, the result is 0.
    """
    std = style.float().std(dim=1, correction=0)  # (C,)
    alive = std > DEAD_CHANNEL * std.mean().clamp_min(torch.finfo(torch.float32).tiny)
    if not bool(alive.any()):
        return 0.0
    return float((wasserstein1(feats[alive], style[alive]) / std[alive]).mean())


def style_distances(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = STYLE_LAYERS
) -> dict[str, float]:
    """Per layer, :func:`channel_w1` of the picture's and the style's activations, plus ``"mean"``.

    ``net`` should be the pretrained VGG16 for numbers that compare with the evidence; the style
    image is used at the size given (see :func:`measure`)."""
    f, s = features(net, image, layers), features(net, style, layers)
    return _with_mean({layer: channel_w1(f[layer], s[layer]) for layer in layers})


def style_distance(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = STYLE_LAYERS
) -> float:
    """The style distance: per-channel W1 in style-std units at unoptimised layers, averaged (lower is closer)."""
    return style_distances(net, image, style, layers=layers)["mean"]


def _with_mean(values: dict[str, float]) -> dict[str, float]:
    return {**values, "mean": sum(values.values()) / len(values)}


# --------------------------------------------------------------------------- structure kept


def blurred_luminance(image: torch.Tensor, *, sigma: float | None = None) -> torch.Tensor:
    """(3, H, W) RGB -> (H, W) float64 BT.601 luminance, Gaussian-blurred (reflect padding).

    ``sigma`` defaults to ``BLUR_SIGMA_AT_256`` px scaled by the longest side / 256 (2 px at
    256 px, 4 px at 512 px), so the blur removes the same share of the picture at every size.
    """
    check_image_tensor(image)
    h, w = image.shape[-2:]
    sigma = BLUR_SIGMA_AT_256 * max(h, w) / 256 if sigma is None else sigma
    y = luminance(image.detach().double().cpu())[0]
    radius = min(math.ceil(3 * sigma), h - 1, w - 1)
    if sigma <= 0 or radius < 1:
        return y
    return blur(y[None, None], gaussian_kernel(sigma, radius), padding="reflect")[0, 0]


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (H, W) images in [0, 1] (Wang et al. 2004): 11-px Gaussian window, σ 1.5,
    C1 = 0.01², C2 = 0.03², over the positions where the window fits (no padding); 1 iff equal.

    Images smaller than the window use a window as large as they allow.
    """
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"ssim needs two (H, W) images of one size, got {list(a.shape)} and {list(b.shape)}")
    k = gaussian_kernel(SSIM_SIGMA, min(SSIM_WINDOW // 2, (min(a.shape) - 1) // 2))
    x, y = a.double()[None, None], b.double()[None, None]  # (H, W) -> (1, 1, H, W)
    mx, my = blur(x, k, padding=None), blur(y, k, padding=None)
    vx = blur(x * x, k, padding=None) - mx**2
    vy = blur(y * y, k, padding=None) - my**2
    cxy = blur(x * y, k, padding=None) - mx * my
    index = ((2 * mx * my + SSIM_C1) * (2 * cxy + SSIM_C2)) / ((mx**2 + my**2 + SSIM_C1) * (vx + vy + SSIM_C2))
    return float(index.mean())


def structure_kept(image: torch.Tensor, photo: torch.Tensor, *, sigma: float | None = None) -> float:
    """SSIM between the blurred luminances of ``image`` and ``photo`` (resized to the image): 1 is the photo.

    Symmetric in its two images when they have the same size."""
    check_image_tensor(image)
    check_image_tensor(photo)
    photo = resize_image(photo.float().cpu(), size=(image.shape[-1], image.shape[-2]))
    return ssim(blurred_luminance(image, sigma=sigma), blurred_luminance(photo, sigma=sigma))


# --------------------------------------------------------------------------- colour distance


def srgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) sRGB in [0, 1] -> (3, H, W) float64 CIE L*a*b* (D65): L in [0, 100]."""
    check_image_tensor(image)
    c = image.detach().double().cpu().clamp(0, 1)
    linear = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,jhw->ihw", torch.tensor(SRGB_TO_XYZ, dtype=torch.float64), linear)
    t = xyz / torch.tensor(D65_WHITE, dtype=torch.float64).view(3, 1, 1)
    delta = 6 / 29
    f = torch.where(t > delta**3, t.clamp_min(0) ** (1 / 3), t / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _directions(count: int) -> torch.Tensor:
    """(count, 3) fixed unit vectors: the three Lab axes, then seeded random directions."""
    return torch.cat([torch.eye(3, dtype=torch.float64), random_directions(3, max(0, count - 3), seed=0)])[:count]


def colour_distance(image: torch.Tensor, style: torch.Tensor, *, directions: int = COLOUR_DIRECTIONS) -> float:
    """Sliced W1 between the two images' pixels in Lab (ΔE*ab units; 0: the same colour distribution).

    The pixels are projected on ``directions`` fixed unit vectors (the L, a, b axes first, the
    rest seeded random), and the exact 1-D W1 of each projection is averaged (Rabin et al.
    2011). Symmetric; the images may differ in size.
    """
    if directions < 1:
        raise ValueError(f"colour_distance needs at least one direction, got {directions}")
    d = _directions(directions)  # (D, 3)
    a = d @ srgb_to_lab(image).reshape(3, -1)  # (3, M) -> (D, M)
    b = d @ srgb_to_lab(style).reshape(3, -1)  # (3, N) -> (D, N)
    return float(wasserstein1(a.float(), b.float()).mean())


# --------------------------------------------------------------------------- long-range structure


def luminance_autocorrelation(image: torch.Tensor, *, offsets: Sequence[int] = AUTOCORR_OFFSETS) -> dict[int, float]:
    """Normalised autocorrelation of the luminance at each offset δ (px), horizontal and vertical averaged.

    ac(δ) = ½ (mean(Y[:, δ:] · Y[:, :W−δ]) + mean(Y[δ:, :] · Y[:H−δ, :])) / var(Y), with Y the
    mean-removed luminance; the products are taken over the overlap only (no wrap-around).
    1 at δ = 0; about 1 for a pattern repeating every δ px, about −1 at half its period. A flat
    image gives 0. Each δ must be smaller than both sides.
    """
    check_image_tensor(image)
    y = luminance(image.double())[0]  # (1, H, W) -> (H, W)
    y = y - y.mean()
    h, w = y.shape
    var = y.pow(2).mean()
    out = {}
    for d in offsets:
        if not 0 <= d < min(h, w):
            raise ValueError(
                f"autocorrelation offset {d} px does not fit a {w}x{h} image (need 0 <= offset < {min(h, w)})"
            )
        across = (y[:, d:] * y[:, : w - d]).mean()  # (H, W−δ) overlap
        down = (y[d:, :] * y[: h - d, :]).mean()  # (H−δ, W) overlap
        out[int(d)] = float((across + down) / 2 / var) if var > EPS else 0.0
    return out


def autocorrelation_error(
    image: torch.Tensor, exemplar: torch.Tensor, *, offsets: Sequence[int] = AUTOCORR_OFFSETS
) -> float:
    """Mean over offsets of |ac_image(δ) − ac_exemplar(δ)| (see :func:`luminance_autocorrelation`)."""
    if not offsets:
        raise ValueError("autocorrelation_error needs at least one offset")
    a = luminance_autocorrelation(image, offsets=offsets)
    b = luminance_autocorrelation(exemplar, offsets=offsets)
    return sum(abs(a[d] - b[d]) for d in a) / len(a)


# --------------------------------------------------------------------------- all together


def measure(
    net: VGGFeatures,
    image: torch.Tensor,
    *,
    photo: torch.Tensor | None = None,
    style: torch.Tensor | None = None,
    style_side: int | None = None,
) -> dict[str, float]:
    """The three measures of a picture, its inputs sized as a run sizes them, in one dict.

    Keys: ``structure`` (with a photo, resized to the picture), ``style_distance`` and
    ``colour_distance`` (with a style image, resized to a longest side of ``style_side``,
    by default the picture's longest side).
    """
    check_image_tensor(image)
    if photo is None and style is None:
        raise ValueError("measure needs a photo, a style image or both")
    result: dict[str, float] = {}
    if photo is not None:
        result["structure"] = structure_kept(image, photo)
    if style is not None:
        check_image_tensor(style)
        side = style_side if style_side is not None else max(image.shape[-2:])
        style = resize_image(style.float().cpu(), size=side)
        result["style_distance"] = style_distance(net, image, style)
        result["colour_distance"] = colour_distance(image, style)
    return result


def evaluate(
    net: VGGFeatures, image: torch.Tensor, *, content: torch.Tensor | None = None, style: torch.Tensor | None = None
) -> dict:
    """``fuchun eval``'s report of a picture; its images at the sizes given (see :func:`read_images`).

    With ``content``: ``content`` (the content loss's value at relu4_2) and ``structure``; with
    ``style``: ``gram`` (the Gram loss's value per Gatys layer, and their mean), ``style_distance``
    (per held-out layer, and their mean) and ``colour_distance``. One network pass per image.
    """
    if content is None and style is None:
        raise ValueError("evaluate needs a content image, a style image or both")
    wanted = ((CONTENT_LAYER,) if content is not None else ()) + (
        (*GATYS_STYLE, *STYLE_LAYERS) if style is not None else ()
    )
    f = features(net, image, wanted)
    result: dict = {}
    if content is not None:
        p = features(net, resize_image(content.float(), size=(image.shape[-1], image.shape[-2])), [CONTENT_LAYER])
        result["content"] = float(content_loss(f[CONTENT_LAYER], p[CONTENT_LAYER]))
        result["structure"] = structure_kept(image, content)
    if style is not None:
        s = features(net, style, (*GATYS_STYLE, *STYLE_LAYERS))
        result["gram"] = _with_mean({layer: _gram_error(f[layer], s[layer]) for layer in GATYS_STYLE})
        result["style_distance"] = _with_mean({layer: channel_w1(f[layer], s[layer]) for layer in STYLE_LAYERS})
        result["colour_distance"] = colour_distance(image, style)
    return result


def _gram_error(f: torch.Tensor, s: torch.Tensor) -> float:
    """mean((G − G_s)²) / mean(G_s²) of (C, M) and (C, M_s) features: the Gram loss's value."""
    g, gs = gram_matrix(f[None, :, :, None]), gram_matrix(s[None, :, :, None])  # (C, M) -> (1, C, M, 1)
    return float((g - gs).pow(2).mean() / energy(gs))


def read_images(
    output: StrPath | torch.Tensor,
    *,
    content: StrPath | torch.Tensor | None = None,
    style: StrPath | torch.Tensor | None = None,
    size: int | None = None,
) -> dict[str, torch.Tensor]:
    """A picture and its content and style images sized as a run sizes them, for :func:`evaluate`.

    Returns ``{"image": ..., "content": ..., "style": ...}`` (absent ones left out). The picture
    keeps its own size (longest side ``size`` if given); the content image is resized to the
    picture's size and the style image to its longest side. Unreadable or too small images
    raise ImageError.
    """
    image = read_image(output)
    if size is not None:
        image = resize_image(image, size=size)
    check_min_size(image, name="output image")
    h, w = image.shape[-2:]
    images = {"image": image}
    for name, source, target in (("content", content, (w, h)), ("style", style, max(h, w))):
        if source is not None:
            images[name] = resize_image(read_image(source), size=target)
            check_min_size(images[name], name=f"{name} image")
    return images


_TABLE_LAYER = {"content": CONTENT_LAYER, "structure": "luma", "colour_distance": "lab"}  # what a single number reads


def format_table(result: dict) -> str:
    """A small aligned text table of an :func:`evaluate` result: measure, layer, value."""
    rows = []
    for name, value in result.items():
        if isinstance(value, dict):
            rows += [(name, layer, v) for layer, v in value.items()]
        else:
            rows.append((name, _TABLE_LAYER.get(name, ""), value))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':{width}}  {'layer':8}  value"]
    lines += [f"{m:{width}}  {layer:8}  {v:.6g}" for m, layer, v in rows]
    return "\n".join(lines)
