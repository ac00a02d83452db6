"""The weighted sum of the loss terms of one level, built from a resolved config and the target images.

L = Σ_t b_t w_t Σ_l a_tl L_tl over the terms t of :data:`fuchun.losses.terms.TERMS` and their layers l.
Every term is a relative error (:mod:`fuchun.losses`); a term's layers are averaged (a_tl = 1/L)
unless it is summed (content) or the config gives its layer weights, so the weights mean the
same whatever the number of layers. The content weight is multiplied by the style-strength
dial (:func:`fuchun.config.options.content_factor`, 1 at the default strength), and b_t is the
style terms' factor of the level (1 but where ``--style-pull`` caps it, :mod:`fuchun.run.balance`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from fuchun.config.options import Config, content_factor
from fuchun.controls.masks import RegionLoss, check_masks, layer_masks
from fuchun.losses.products import as_rows, exact_rows
from fuchun.losses.terms import TERMS, PixelSource, StyleSource, TemporalTarget, Term
from fuchun.net.features import VGGFeatures


class Objective(nn.Module):
    """Callable loss of one level: ``objective(image) -> (total, {term: weighted value})``."""

    def __init__(
        self,
        net: VGGFeatures,
        cfg: Config,
        *,
        content: torch.Tensor | None,
        styles: list[torch.Tensor],
        blend: list[float] | None = None,
        masks: list[torch.Tensor] | None = None,
        temporal: TemporalTarget | None = None,
        size: tuple[int, int] | None = None,
        autocast: Callable[[], AbstractContextManager] = nullcontext,
        grad_scale: float = 1.0,
        lean: bool = False,
    ) -> None:
        """``content`` (1, 3, H, W) and ``styles`` (1, 3, h, w) each, on the network's device;
        ``masks`` one (1, 1, H, W) per style; ``size`` (W, H) of the picture (default: the content's,
        a mask's or the first style's); ``grad_scale`` the fp16 loss scale (:func:`scale_grad`);
        ``lean``: no shared float32 copies of the maps (large pictures, :mod:`fuchun.run.memory`)."""
        super().__init__()
        self.net, self.cfg, self.autocast, self.grad_scale, self.lean = net, cfg, autocast, grad_scale, lean
        if masks is not None:
            check_masks(len(masks), n_styles=len(styles), blend=blend)
        self.masks = masks
        reference = masks[0] if masks else content if content is not None else styles[0] if styles else None
        if size is None and reference is not None:
            size = (reference.shape[-1], reference.shape[-2])
        self.size = size
        self.warnings: list[str] = []
        self.style_factor = 1.0  # the style terms' factor of this level (fuchun.run.balance)
        self.parts = nn.ModuleDict()  # term name -> its loss (pixels) or a ModuleDict of layer -> loss
        self.weights: dict[str, float] = {}
        self.layer_weights: dict[str, dict[str, float]] = {}
        pixels = PixelSource(self.size, temporal=temporal)
        with torch.no_grad():
            content_maps = self._maps([content] if content is not None else [], "content")
            style_maps = self._maps(styles, "style")
            for term in TERMS:
                part = self._build(term, content_maps, style_maps, blend, pixels)
                if part is not None:
                    self.parts[term.name] = part
                    self.weights[term.name] = self._weight(term, pixels)
        self.terms = {t.name: t for t in TERMS if t.name in self.parts}
        self.layers = sorted({layer for name in self.terms for layer in self._layered(name)})
        # one float32 copy of each map for the Gram and shifted-Gram statistics of its layer; none in
        # lean mode, and none with masks (the masked products weight F themselves)
        shared = {layer for t in self.terms.values() if t.rows for layer in self._layered(t.name)}
        self.rows = sorted(shared) if not lean and masks is None else []

    def features(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """The network's activations for ``image`` under this objective's precision."""
        image = scale_grad(image, 1 / self.grad_scale)  # undoes the loss scale on the image's gradient
        with self.autocast():
            return self.net(image.contiguous(memory_format=torch.channels_last), layers)

    def _maps(self, images: list[torch.Tensor], source: str) -> list[dict[str, torch.Tensor]]:
        """Each image's maps at the layers of every term on that reads ``source``, in one pass each."""
        wanted = {layer for t in TERMS if t.source == source and t.on(self.cfg) for layer in t.layers(self.cfg)}
        return [self.features(image, wanted) for image in images] if wanted else []

    def _weight(self, term: Term, pixels: PixelSource) -> float:
        """The term's weight: its option's value (times the strength dial where it follows it), or
        the weight its target carries."""
        if term.weight is None:
            return float(getattr(pixels, term.name).weight)
        weight = getattr(self.cfg, term.weight)
        return weight * content_factor(self.cfg.strength) if term.strength else weight

    def _build(self, term: Term, content_maps, style_maps, blend, pixels: PixelSource) -> nn.Module | None:
        """The loss module(s) of ``term``, or None where it is off or has nothing to match."""
        if not term.on(self.cfg):
            return None
        if term.source == "pixels":
            return term.build(self.cfg, pixels)
        maps = content_maps if term.source == "content" else style_maps
        if not maps:
            return None
        layers = term.layers(self.cfg)
        if term.source == "content":
            built = {layer: term.build(self.cfg, maps[0][layer]) for layer in layers}
        else:
            built = {layer: self._style_loss(term, layer, [m[layer] for m in maps], blend) for layer in sorted(layers)}
        built = {layer: loss for layer, loss in built.items() if loss is not None}
        if not built:
            return None
        self.layer_weights[term.name] = _layer_weights(term, self.cfg, list(built))
        return nn.ModuleDict(built)

    def _style_loss(self, term: Term, layer: str, feats: list[torch.Tensor], blend) -> nn.Module | None:
        """One style term at ``layer``: blended targets, or with masks one loss per style image
        restricted to its region (Gatys et al. 2017, arXiv 1611.07865) and weighted by the region's
        share of the picture (:class:`fuchun.controls.masks.RegionLoss`)."""
        size = _feature_size(self.net, self.size, layer)
        if self.masks is None:
            return term.build(self.cfg, StyleSource(layer, feats, blend, None, size, self.warnings))
        parts = []
        for f, mask in zip(feats, self.masks, strict=True):
            region = layer_masks(self.net, mask, [layer])[layer]
            if float(region.sum()) > 0:
                loss = term.build(self.cfg, StyleSource(layer, [f], None, region, size, self.warnings))
                if loss is not None:
                    parts.append((loss, float(region.mean())))
        return RegionLoss([p for p, _ in parts], [c for _, c in parts]) if parts else None

    def _layered(self, name: str) -> list[str]:
        part = self.parts[name]
        return list(part) if isinstance(part, nn.ModuleDict) else []

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not self.terms:
            raise ValueError("every loss weight is 0: nothing to optimise")
        feats = self.features(image, self.layers) if self.layers else {}
        rows = {layer: exact_rows(as_rows(feats[layer])) for layer in self.rows}
        values = {}
        for name, term in self.terms.items():
            part = self.parts[name]
            if not isinstance(part, nn.ModuleDict):
                value = part(image)
            elif self.layer_weights.get(name):
                weights = self.layer_weights[name]
                value = sum(weights[n] * self._apply(term, loss, feats, rows, n) for n, loss in part.items())
            else:
                value = sum(self._apply(term, loss, feats, rows, n) for n, loss in part.items()) / len(part)
            values[name] = self.weights[name] * value
        if self.style_factor != 1.0:
            values.update({n: self.style_factor * v for n, v in values.items() if self.terms[n].source == "style"})
        return scale_grad(sum(values.values()), self.grad_scale), values

    @staticmethod
    def _apply(term: Term, loss: nn.Module, feats, rows, layer: str) -> torch.Tensor:
        return loss(feats[layer], rows.get(layer)) if term.rows else loss(feats[layer])


def _layer_weights(term: Term, cfg: Config, layers: list[str]) -> dict[str, float]:
    """Each layer's weight where the term weighs its layers (a layer_weights option, or summed
    layers); an empty dict where it averages them."""
    option = term.option("layer_weights")
    given = getattr(cfg, option) if option else None
    if given is not None:
        named = dict(zip(term.layers(cfg), given, strict=True))  # counts checked with the config
        return {layer: named[layer] for layer in layers}
    if option is None and term.mean:
        return {}
    share = 1.0 / len(term.layers(cfg)) if term.mean else 1.0
    return dict.fromkeys(layers, share)


def _feature_size(net: VGGFeatures, size: tuple[int, int], layer: str) -> tuple[int, int]:
    """(H, W) of ``layer``'s map for a picture of ``size`` = (W, H) (no forward pass)."""
    w, h = size
    for step in net.layers:
        if step.kind == "pool":
            h, w = -(-h // 2), -(-w // 2)  # ceil_mode pooling
        if step.name == layer:
            return (h, w)
    raise ValueError(f"unknown layer {layer!r}")


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times ``scale`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.scale, None


def scale_grad(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``x`` unchanged, its gradient multiplied by ``scale`` in the backward pass: the static loss
    scale of fp16 (Micikevicius et al. 2018, arXiv 1710.03740; :mod:`fuchun.run.machine`)."""
    return x if scale == 1.0 else _ScaleGrad.apply(x, scale)
