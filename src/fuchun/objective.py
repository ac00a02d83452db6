"""The weighted sum of all loss terms, built from a resolved config and the target images.

L = k(strength) w_c Σ_l c_l Content_l + b (w_s Σ_l a_l Gram_l + w_cc mean_l ShiftedGram_l + w_h mean_l Hist_l
    + w_w2 mean_l W2_l) + w_tv (L/256)² TV + w_t Temporal
Every term is a relative error (see ``fuchun.losses``); the content layer weights c_l
default to 1, the Gram layer weights a_l to 1/L, and the shifted-Gram and histogram terms average over their
layers, so the weights mean the same whatever the number of layers. k(strength) is the
style-strength dial (:func:`fuchun.config.options.content_factor`, 1 at the default), and b
the style terms' factor of the scale, at most 1 (``style_factor``, set by :mod:`fuchun.run.balance`).

TV is the mean squared neighbour difference times (L/256)², L the longest side: the same
value for the same picture at every size (a smooth picture's neighbour differences shrink
as 1/L). The temporal term is there for a video's frames only (:mod:`fuchun.losses.temporal`,
:mod:`fuchun.video`), its weight w_t given with its target.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import torch
from torch import nn

from fuchun.config.options import Config, content_factor
from fuchun.controls.masks import RegionLoss, check_masks, layer_masks
from fuchun.losses import (
    ContentLoss,
    GramLoss,
    HistogramLoss,
    ShiftedGramLoss,
    TemporalLoss,
    WassersteinLoss,
    total_variation,
)
from fuchun.losses.products import as_rows, exact_rows
from fuchun.losses.shifted import fitting_shifts
from fuchun.net.features import VGGFeatures
from fuchun.run.balance import STYLE_TERMS
from fuchun.run.machine import scale_grad

TERMS = ("content", "style", "shift", "hist", "w2", "tv", "temporal")
TV_REFERENCE_SIDE = 256  # px: the size at which the TV weight is the plain mean squared difference


class Objective(nn.Module):
    """Callable loss of one scale: ``objective(image) -> (total, {term: weighted value})``."""

    def __init__(
        self,
        net: VGGFeatures,
        cfg: Config,
        *,
        content: torch.Tensor | None,
        styles: list[torch.Tensor],
        blend: list[float] | None = None,
        masks: list[torch.Tensor] | None = None,
        autocast: Callable[[], AbstractContextManager] = nullcontext,
        lean: bool = False,
        size: tuple[int, int] | None = None,
        grad_scale: float = 1.0,
        temporal: TemporalLoss | None = None,
        temporal_weight: float = 0.0,
    ) -> None:
        super().__init__()
        self.temporal, self.temporal_weight = temporal, temporal_weight  # a video frame's pull to the last one
        self.net, self.cfg, self.autocast = net, cfg, autocast
        self.grad_scale = grad_scale  # the static loss scale of fp16 (fuchun.run.machine.scale_grad)
        self.lean = lean  # no shared float32 copies of the maps (large pictures; fuchun.run.memory)
        self.masks = masks  # one (1, 1, H, W) mask per style at the output size, or None (fuchun.controls.masks)
        if masks is not None:
            check_masks(len(masks), n_styles=len(styles), blend=blend)
        self.warnings: list[str] = []
        self.style_factor = 1.0  # the style terms' factor of this scale (fuchun.run.balance)
        self.content_losses = nn.ModuleDict()
        self.gram_losses = nn.ModuleDict()
        self.shift_losses = nn.ModuleDict()
        self.hist_losses = nn.ModuleDict()
        self.w2_losses = nn.ModuleDict()
        with torch.no_grad():
            if content is not None and cfg.content_weight > 0:
                self._build_content(content)
            if styles:
                # the picture's shape decides which shifts fit: ``size`` (W, H) when given, else
                # a mask's or the content's; a style image's only as the last resort
                reference = masks[0] if masks else content if content is not None else styles[0]
                out_shape = (1, 3, size[1], size[0]) if size is not None else tuple(reference.shape)
                self._build_style(styles, blend, out_shape=out_shape)
        self.layer_weights = _layer_weights(cfg)
        self.content_weights = _content_weights(cfg)
        self.layers = sorted({*self.content_losses, *self.gram_losses, *self.shift_losses, *self.hist_losses})
        self.layers = sorted({*self.layers, *self.w2_losses})

    def features(self, image: torch.Tensor, layers) -> dict[str, torch.Tensor]:
        """The network's activations for ``image`` under this objective's precision."""
        image = scale_grad(image, 1 / self.grad_scale)  # undoes the loss scale on the image's gradient
        with self.autocast():
            return self.net(image.contiguous(memory_format=torch.channels_last), layers)

    def _build_content(self, content: torch.Tensor) -> None:
        feats = self.features(content, self.cfg.content_layers)
        for name in self.cfg.content_layers:
            self.content_losses[name] = ContentLoss(feats[name])

    def _build_style(self, styles: list[torch.Tensor], blend, *, out_shape) -> None:
        cfg = self.cfg
        wanted = set()
        if cfg.style_weight > 0:
            wanted |= set(cfg.style_layers)
        if cfg.shift_weight > 0:
            wanted |= set(cfg.shifts)
        if cfg.hist_weight > 0:
            wanted |= set(cfg.hist_layers)
        if cfg.w2_weight > 0:
            wanted |= set(cfg.w2_layers)
        if not wanted:
            return
        per_style = [self.features(s, wanted) for s in styles]
        out_sizes = _feature_sizes(self.net, out_shape, wanted)
        regions = None if self.masks is None else [layer_masks(self.net, m, wanted) for m in self.masks]
        for name in sorted(wanted):
            feats = [f[name] for f in per_style]
            if cfg.style_weight > 0 and name in cfg.style_layers:
                self.gram_losses[name] = _per_region(
                    lambda f, w, m: GramLoss.from_styles(f, w, mask=m), feats, blend, regions, name
                )
            if cfg.hist_weight > 0 and name in cfg.hist_layers:
                self.hist_losses[name] = _per_region(
                    lambda f, w, m: HistogramLoss(f, w, bins=cfg.hist_bins, mask=m), feats, blend, regions, name
                )
            if cfg.w2_weight > 0 and name in cfg.w2_layers:
                self.w2_losses[name] = _per_region(
                    lambda f, w, m: WassersteinLoss.from_styles(f, w, mask=m), feats, blend, regions, name
                )
            if cfg.shift_weight > 0 and name in cfg.shifts:
                self._build_shift(name, feats, blend, out_sizes[name], regions)

    def _build_shift(self, name: str, feats: list[torch.Tensor], blend, out_size: tuple[int, int], regions) -> None:
        wanted = self.cfg.shifts[name]
        deltas = fitting_shifts(wanted, out_size, *(tuple(f.shape[-2:]) for f in feats))
        skipped = sorted(set(wanted) - set(deltas))
        if skipped:
            self.warnings.append(
                f"shift(s) {skipped} skipped at {name}: the feature map is only {out_size[1]}x{out_size[0]}"
            )
        if deltas:
            self.shift_losses[name] = _per_region(
                lambda f, w, m: ShiftedGramLoss.from_styles(f, deltas, w, mask=m), feats, blend, regions, name
            )

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.cfg
        feats = self.features(image, self.layers) if self.layers else {}
        # one float32 copy of each map for the Gram and shifted-Gram statistics of its layer;
        # none in lean mode, and none with masks (the masked products weight F themselves)
        copies = not self.lean and self.masks is None
        x32 = {n: exact_rows(as_rows(feats[n])) if copies else None for n in {*self.gram_losses, *self.shift_losses}}
        terms = {}
        if self.content_losses:
            weight = cfg.content_weight * content_factor(cfg.strength)
            terms["content"] = weight * sum(
                self.content_weights[n] * loss(feats[n]) for n, loss in self.content_losses.items()
            )
        if self.gram_losses:
            terms["style"] = cfg.style_weight * sum(
                self.layer_weights[n] * loss(feats[n], x32[n]) for n, loss in self.gram_losses.items()
            )
        if self.shift_losses:
            terms["shift"] = cfg.shift_weight * _mean(loss(feats[n], x32[n]) for n, loss in self.shift_losses.items())
        if self.hist_losses:
            terms["hist"] = cfg.hist_weight * _mean(loss(feats[n]) for n, loss in self.hist_losses.items())
        if self.w2_losses:
            terms["w2"] = cfg.w2_weight * _mean(loss(feats[n]) for n, loss in self.w2_losses.items())
        if cfg.tv_weight > 0:
            side = max(image.shape[-2:]) / TV_REFERENCE_SIDE
            terms["tv"] = cfg.tv_weight * side * side * total_variation(image)
        if self.temporal is not None and self.temporal_weight > 0:
            terms["temporal"] = self.temporal_weight * self.temporal(image)
        if not terms:
            raise ValueError("every loss weight is 0: nothing to optimise")
        if self.style_factor != 1.0:
            terms.update({t: self.style_factor * v for t, v in terms.items() if t in STYLE_TERMS})
        return scale_grad(sum(terms.values()), self.grad_scale), terms


def _per_region(make, feats: list[torch.Tensor], blend, regions: list[dict] | None, name: str) -> nn.Module:
    """One style loss of layer ``name``: ``make(feats, blend, mask)`` with blended targets, or,
    with masks, one per style image restricted to its region (Gatys et al. 2017, arXiv 1611.07865)
    and weighted by the region's share of the picture (:class:`fuchun.controls.masks.RegionLoss`)."""
    if regions is None:
        return make(feats, blend, None)
    parts = [
        (make([f], None, r[name]), float(r[name].mean()))
        for f, r in zip(feats, regions, strict=True)
        if float(r[name].sum()) > 0
    ]
    return RegionLoss([p for p, _ in parts], [c for _, c in parts])


def _mean(values) -> torch.Tensor:
    values = list(values)
    return sum(values) / len(values)


def _layer_weights(cfg: Config) -> dict[str, float]:
    """a_l for each style layer: the given weights, or 1/L each."""
    layers = cfg.style_layers
    weights = cfg.style_layer_weights
    if weights is None:
        return {n: 1.0 / len(layers) for n in layers}
    if len(weights) != len(layers):
        raise ValueError(f"{len(weights)} style layer weights given for {len(layers)} style layers")
    return dict(zip(layers, weights, strict=True))


def _content_weights(cfg: Config) -> dict[str, float]:
    """The weight of each content layer: the given weights, or 1 each (the terms are summed)."""
    layers, weights = cfg.content_layers, cfg.content_layer_weights
    if weights is None:
        return dict.fromkeys(layers, 1.0)
    if len(weights) != len(layers):
        raise ValueError(f"{len(weights)} content layer weights given for {len(layers)} content layers")
    return dict(zip(layers, weights, strict=True))


def _feature_sizes(net: VGGFeatures, shape: torch.Size, layers) -> dict[str, tuple[int, int]]:
    """(H, W) of each layer's feature map for an input of ``shape`` (no forward pass)."""
    h, w = shape[-2:]
    sizes = {}
    for layer in net.layers:
        if layer.kind == "pool":
            h, w = -(-h // 2), -(-w // 2)  # ceil_mode pooling
        sizes[layer.name] = (h, w)
    return {n: sizes[n] for n in layers}
