"""Measure how close a picture is to its content and style images, to compare settings.

Every image is (3, H, W) float in [0, 1]; features are taken in float32 with no gradient.
Each feature distance is relative, so it reads the same at every layer and image size:

- content: mean((F − P)²) / mean(P²) at ``relu4_2`` (fuchun's content loss);
- gram: mean((G − G_s)²) / mean(G_s²) per layer, G = F Fᵀ / M (fuchun's Gram loss);
- wasserstein: per channel, the exact 1-D Wasserstein-1 distance between the picture's and
  the style's activation distributions, averaged over channels and divided by the style
  layer's mean absolute activation;
- colour: the same W1 on the R, G and B values of the pixels, averaged (in [0, 1] units),
  and, as a second number, the Fréchet distance of Gaussians fitted to the RGB pixels.

The luminance autocorrelation at offsets of 16-64 px is evidence of long-range structure
(repeated strokes, stripes): a picture whose autocorrelation follows the exemplar's has
kept the exemplar's spatial rhythm, which Gram matrices alone do not see.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fuchun.controls.colour import luminance
from fuchun.io.read import StrPath, check_min_size, read_image, resize_image
from fuchun.losses import content_loss, gram_matrix
from fuchun.losses._common import energy
from fuchun.losses.terms import GATYS_STYLE
from fuchun.net.features import VGGFeatures

CONTENT_LAYERS = ("relu4_2",)
GRAM_LAYERS = GATYS_STYLE
WASSERSTEIN_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
AUTOCORR_OFFSETS = (16, 32, 48, 64)  # image pixels
EPS = 1e-12
_CHUNK = 1 << 24  # elements per gather in the W1 of unequal sample counts (bounds memory)


# --------------------------------------------------------------------------- features


def _check_image(image: torch.Tensor, name: str) -> None:
    """Raise ValueError unless ``image`` is a non-empty floating (3, H, W) tensor."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be a (3, H, W) tensor, got {shape}")
    if not image.is_floating_point() or image.numel() == 0:
        raise ValueError(f"{name} must be a non-empty floating tensor, got {image.dtype} {list(image.shape)}")


@torch.no_grad()
def _features(net: VGGFeatures, image: torch.Tensor, layers: Sequence[str], *, name: str) -> dict[str, torch.Tensor]:
    """``{layer: (C, H·W) float32}`` of a (3, H, W) image, computed in float32 without autocast."""
    _check_image(image, name)
    device = next(net.buffers()).device
    x = image.detach().to(device=device, dtype=torch.float32).unsqueeze(0)  # (1, 3, H, W)
    with torch.autocast(device_type=device.type, enabled=False):
        feats = net(x, layers)
    return {k: v[0].float().reshape(v.shape[1], -1) for k, v in feats.items()}  # (1, C, H, W) -> (C, M)


def _resized_like(content: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """``content`` at the (W, H) of ``image``."""
    _check_image(content, "content")
    return resize_image(content.float(), size=(image.shape[-1], image.shape[-2]))


# --------------------------------------------------------------------------- distances


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


def _wasserstein_layer(f: torch.Tensor, s: torch.Tensor) -> float:
    """Channel-mean W1 of (C, M) and (C, M_s) features, divided by the style's mean |activation|."""
    return float(wasserstein1(f, s).mean() / s.abs().mean().clamp_min(EPS))


def _gram_layer(f: torch.Tensor, s: torch.Tensor) -> float:
    """mean((G − G_s)²) / mean(G_s²) of (C, M) and (C, M_s) features."""
    g, gs = gram_matrix(f[None, :, :, None]), gram_matrix(s[None, :, :, None])  # (C, M) -> (1, C, M, 1)
    return float((g - gs).pow(2).mean() / energy(gs))


def _with_mean(values: dict[str, float]) -> dict[str, float]:
    """The per-layer values plus their mean under the key ``"mean"``."""
    return {**values, "mean": sum(values.values()) / len(values)}


def content_distance(
    net: VGGFeatures, image: torch.Tensor, content: torch.Tensor, *, layers: Sequence[str] = CONTENT_LAYERS
) -> float:
    """Relative feature error of ``image`` to ``content`` (resized to the image), as the content loss.

    Several layers are averaged.
    """
    f = _features(net, image, layers, name="image")
    p = _features(net, _resized_like(content, image), layers, name="content")
    return sum(float(content_loss(f[layer], p[layer])) for layer in layers) / len(layers)


def gram_distances(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = GRAM_LAYERS
) -> dict[str, float]:
    """Per layer, mean((G − G_s)²) / mean(G_s²); the style image is used at the size given."""
    f, s = _features(net, image, layers, name="image"), _features(net, style, layers, name="style")
    return {layer: _gram_layer(f[layer], s[layer]) for layer in layers}


def wasserstein_distances(
    net: VGGFeatures, image: torch.Tensor, style: torch.Tensor, *, layers: Sequence[str] = WASSERSTEIN_LAYERS
) -> dict[str, float]:
    """Per layer, the channel-mean exact W1 between activation distributions.

    Each is relative to the style layer's mean |activation|.
    """
    f, s = _features(net, image, layers, name="image"), _features(net, style, layers, name="style")
    return {layer: _wasserstein_layer(f[layer], s[layer]) for layer in layers}


def colour_distance(image: torch.Tensor, style: torch.Tensor) -> float:
    """Mean over R, G, B of the exact W1 between the two images' pixel values (0: same colours)."""
    _check_image(image, "image")
    _check_image(style, "style")
    return float(wasserstein1(image.reshape(3, -1), style.reshape(3, -1).to(image.device)).mean())


def colour_frechet(image: torch.Tensor, style: torch.Tensor) -> float:
    """Fréchet distance of Gaussians fitted to the RGB pixels: |μ − μ_s|² + tr(Σ + Σ_s − 2(Σ^½ Σ_s Σ^½)^½).

    It sees only the colour mean and covariance (what fuchun's colour transfer matches);
    :func:`colour_distance` sees the whole per-channel distributions.
    """
    _check_image(image, "image")
    _check_image(style, "style")
    x, y = image.reshape(3, -1).double().cpu(), style.reshape(3, -1).double().cpu()  # (3, M) pixels
    mx, my = x.mean(1), y.mean(1)
    cx, cy = torch.cov(x, correction=0), torch.cov(y, correction=0)
    root = _psd_sqrt(cx)
    cross = _psd_sqrt(root @ cy @ root)
    return float((mx - my).pow(2).sum() + torch.trace(cx + cy - 2 * cross))


def _psd_sqrt(matrix: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


# --------------------------------------------------------------------------- all together


def evaluate(
    net: VGGFeatures, image: torch.Tensor, *, content: torch.Tensor | None = None, style: torch.Tensor | None = None
) -> dict:
    """All distances of ``image`` to the given content and/or style image, in one dict.

    Keys: ``content`` (float, content resized to the image), and with a style image (used at
    the size given) ``gram`` and ``wasserstein`` ({layer: value, "mean": value}), ``colour``
    and ``colour_frechet`` (floats). Each network pass is made once.
    """
    if content is None and style is None:
        raise ValueError("evaluate needs a content image, a style image or both")
    style_layers = tuple(dict.fromkeys((*GRAM_LAYERS, *WASSERSTEIN_LAYERS)))
    wanted = (CONTENT_LAYERS if content is not None else ()) + (style_layers if style is not None else ())
    f = _features(net, image, wanted, name="image")
    result: dict = {}
    if content is not None:
        p = _features(net, _resized_like(content, image), CONTENT_LAYERS, name="content")
        result["content"] = sum(float(content_loss(f[layer], p[layer])) for layer in CONTENT_LAYERS) / len(
            CONTENT_LAYERS
        )
    if style is not None:
        s = _features(net, style, style_layers, name="style")
        result["gram"] = _with_mean({layer: _gram_layer(f[layer], s[layer]) for layer in GRAM_LAYERS})
        result["wasserstein"] = _with_mean(
            {layer: _wasserstein_layer(f[layer], s[layer]) for layer in WASSERSTEIN_LAYERS}
        )
        result["colour"] = colour_distance(image, style)
        result["colour_frechet"] = colour_frechet(image, style)
    return result


def read_images(
    output: StrPath | torch.Tensor,
    *,
    content: StrPath | torch.Tensor | None = None,
    style: StrPath | torch.Tensor | None = None,
    size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Load a picture and its content/style images sized as a run sizes them, for :func:`evaluate`.

    Returns ``{"image": ..., "content": ..., "style": ...}`` (absent ones left out). The
    picture keeps its own size (longest side ``size`` if given); the content image is resized
    to the picture's size and the style image to its longest side (fuchun's default style
    size). Unreadable or too small images raise ImageError.
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


_TABLE_LAYER = {"content": CONTENT_LAYERS[0], "structure": "luma", "colour_lab": "lab"}  # what a single number reads


def format_table(result: dict) -> str:
    """A small aligned text table of an :func:`evaluate` result: metric, layer, value."""
    rows = []
    for metric, value in result.items():
        if isinstance(value, dict):
            rows += [(metric, layer, v) for layer, v in value.items()]
        else:
            rows.append((metric, _TABLE_LAYER.get(metric, "rgb"), value))
    width = max(len(r[0]) for r in rows)
    lines = [f"{'metric':{width}}  {'layer':8}  value"]
    lines += [f"{m:{width}}  {layer:8}  {v:.6g}" for m, layer, v in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- long-range structure


def _luminance(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB -> (H, W) float64 luminance Y with its mean removed."""
    _check_image(image, "image")
    y = luminance(image.double())[0]  # (1, H, W) -> (H, W)
    return y - y.mean()


def luminance_autocorrelation(image: torch.Tensor, *, offsets: Sequence[int] = AUTOCORR_OFFSETS) -> dict[int, float]:
    """Normalised autocorrelation of the luminance at each offset δ (px), horizontal and vertical averaged.

    ac(δ) = ½ (mean(Y[:, δ:] · Y[:, :W−δ]) + mean(Y[δ:, :] · Y[:H−δ, :])) / var(Y), with Y the
    mean-removed luminance; the products are taken over the overlap only (no wrap-around).
    1 at δ = 0; about 1 for a pattern repeating every δ px, about −1 at half its period. A flat
    image gives 0. Each δ must be smaller than both sides.
    """
    y = _luminance(image)
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
