"""The loss terms, one row each: the one place that says what a term is.

A :class:`Term` row gives the term's name (the key of its value in the objective, traces and
the loss plot), the config fields it owns (:class:`Option`: its weight, its layers and what else
it takes, with their values in the baseline preset), what its targets are made of, its factory,
how its layers combine, what it holds in memory (:class:`Load`), and how its value over the
picture combines from parts of the picture: a *local* term at a pixel needs only that pixel's
neighbourhood; a *statistic* is summed over every pixel before it is compared with its target.

:class:`fuchun.objective.Objective` loops over :data:`TERMS`; the config's loss options, the
presets' baseline, the layer checks, the memory planner, the style balance, the loss plot and
the studio read them from here. A new loss is one module in this package and one row below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fuchun.losses.content import ContentLoss
from fuchun.losses.gram import GramLoss
from fuchun.losses.histogram import CHANNEL_CHUNK, HistogramLoss
from fuchun.losses.shifted import ShiftedGramLoss, fitting_shifts
from fuchun.losses.sliced import SlicedWassersteinLoss, direction_seed
from fuchun.losses.temporal import TemporalLoss, TemporalTarget
from fuchun.losses.tv import TVLoss
from fuchun.losses.wasserstein import WassersteinLoss

GATYS_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # the first ReLU of each block
OPTION_KINDS = ("weight", "layers", "layer_weights", "shifts", "bins")  # how a term option's value is read


@dataclass(frozen=True)
class Option:
    """A config field a term owns; ``kind`` (one of :data:`OPTION_KINDS`) says how its value is read."""

    name: str
    kind: str
    base: Any  # its value in the baseline preset (Gatys et al. 2015's losses)
    help: str
    flag: str | None = None  # the command-line flag, where it is not --name-with-dashes
    preset: bool = True  # a preset sets it (else its default is the base)


@dataclass(frozen=True)
class Maps:
    """What a term's memory depends on: its layers' channels per input pixel (a layer of C channels
    in block k holds C / 4^(k−1) values per pixel), summed and of the widest layer, the network's
    bytes per value, and whether the style's tables are resampled to the picture's pixel count."""

    channels: float
    widest: float
    bytes: int
    resampled: bool


@dataclass(frozen=True)
class Load:
    """Bytes a term holds: per output pixel during an evaluation (``step``), per style pixel for the
    whole level (``table``) and while its target is built (``build``, a transient), and once (``fixed``)."""

    step: float = 0.0
    table: float = 0.0
    build: float = 0.0
    fixed: int = 0

    def __add__(self, other: Load) -> Load:
        """Both loads at once."""
        return Load(
            self.step + other.step, self.table + other.table, self.build + other.build, self.fixed + other.fixed
        )


@dataclass
class StyleSource:
    """What a style term's factory is given for one layer (and, with masks, one region)."""

    layer: str
    feats: list[torch.Tensor]  # (1, C, h, w) maps of the style images
    blend: list[float] | None
    mask: torch.Tensor | None  # (1, 1, H, W): the region at this layer, or None
    size: tuple[int, int]  # (H, W) of the picture's map at this layer
    warnings: list[str]


@dataclass
class PixelSource:
    """What a pixel term's factory is given: the picture's size and the job's own targets, each
    under the name of the term it is for (it carries that term's weight)."""

    size: tuple[int, int]  # (W, H)
    temporal: TemporalTarget | None = None


@dataclass(frozen=True)
class Term:
    """One loss term of the objective."""

    name: str
    source: str  # "content" (the photo's maps), "style" (the paintings' maps) or "pixels" (the picture)
    options: tuple[Option, ...]
    build: Callable[..., nn.Module | None]  # (cfg, a map, StyleSource or PixelSource) -> its loss module
    load: Callable[[Maps], Load]
    statistic: bool  # summed over all pixels before it is compared (else local)
    mean: bool = True  # its layers averaged (else summed); a layer_weights option weighs them instead
    rows: bool = False  # reads the layer's shared float32 rows (fuchun.losses.products.exact_rows)
    strength: bool = False  # its weight follows the style-strength dial

    def option(self, kind: str) -> str | None:
        """The name of this term's option of ``kind`` (None where it has none)."""
        return next((o.name for o in self.options if o.kind == kind), None)

    @property
    def weight(self) -> str | None:
        """Its weight option; None: its weight comes with its target (see :class:`PixelSource`)."""
        return self.option("weight")

    def layers(self, cfg: Any) -> tuple[str, ...]:
        """The layers it reads under ``cfg`` (none for a pixel term)."""
        name = self.option("layers") or self.option("shifts")
        return () if name is None else tuple(getattr(cfg, name) or ())

    def on(self, cfg: Any) -> bool:
        """Whether ``cfg`` weighs it above 0 (a term weighted by its target is on where it has one)."""
        return self.weight is None or getattr(cfg, self.weight) > 0


def _weight(name: str, what: str) -> Option:
    return Option(name, "weight", 0.0, f"weight of the {what}")


def _layers(name: str, base: tuple[str, ...], what: str) -> Option:
    return Option(name, "layers", base, f"{what} layers, e.g. {','.join(base[:2])}")


def _shifted(cfg: Any, s: StyleSource) -> nn.Module | None:
    wanted = cfg.shifts[s.layer]
    deltas = fitting_shifts(wanted, s.size, *(tuple(f.shape[-2:]) for f in s.feats))
    skipped = sorted(set(wanted) - set(deltas))
    if skipped:
        s.warnings.append(f"shift(s) {skipped} skipped at {s.layer}: the feature map is only {s.size[1]}x{s.size[0]}")
    return ShiftedGramLoss.from_styles(s.feats, deltas, s.blend, mask=s.mask) if deltas else None


def _temporal(target: TemporalTarget | None) -> nn.Module | None:
    return None if target is None or target.weight <= 0 else TemporalLoss(target.warped, target.mask)


SORT_BYTES = 16  # per value while a quantile table is built: float32 copy, sorted values, int64 order


def _ranked(m: Maps) -> Load:
    """A term that ranks its maps against quantile tables (fuchun.losses.histogram): the float32
    tables; while one is built, its sort; per step the kept difference F − R in the network's
    precision, one chunk's copy, int64 ranks and matched values, and the tables resampled to
    the picture's pixel count where the style's differs."""
    chunk = CHANNEL_CHUNK * (m.bytes + 8 + 4)
    step = m.channels * m.bytes + chunk + (4 * m.channels if m.resampled else 0)
    return Load(step=step, table=4 * m.channels, build=SORT_BYTES * m.widest)


TV_REFERENCE_SIDE = 256  # px: the size at which the TV term is the plain mean squared difference
# LAPACK's eigendecomposition code and workspaces, loaded on first use, and the float64 targets'
# transients (benchmarks/memory.py: whole default runs on the CPU)
EIGH_BYTES = 72 * 2**20

TERMS: tuple[Term, ...] = (
    Term(
        "content",
        "content",
        (
            Option("content_weight", "weight", 1.0, "weight of the content loss"),
            _layers("content_layers", ("relu4_2",), "content"),
            Option("content_layer_weights", "layer_weights", None, "one weight per content layer (default 1 each)"),
        ),
        build=lambda cfg, target: ContentLoss(target),
        load=lambda m: Load(step=8 * m.channels),  # the float32 target, and the difference kept for the backward
        statistic=False,
        mean=False,
        strength=True,
    ),
    Term(
        "gram",
        "style",
        (
            Option("style_weight", "weight", 5.0, "weight of the Gram style loss (Gatys et al.)"),
            _layers("style_layers", GATYS_STYLE, "Gram style"),
            Option("style_layer_weights", "layer_weights", None, "one weight per style layer (default equal)"),
        ),
        build=lambda cfg, s: GramLoss.from_styles(s.feats, s.blend, mask=s.mask),
        load=lambda m: Load(),  # its float32 rows are the layer's shared ones
        statistic=True,
        rows=True,
    ),
    Term(
        "shifted",
        "style",
        (
            _weight("shift_weight", "shifted-Gram loss (Berger & Memisevic)"),
            Option("shifts", "shifts", {}, "shifted-Gram offsets per layer: relu1_1=4,8,16 relu2_1=4,8", "--shift"),
        ),
        build=_shifted,
        load=lambda m: Load(),  # as the Gram term's
        statistic=True,
        rows=True,
    ),
    Term(
        "hist",
        "style",
        (
            _weight("hist_weight", "histogram loss (Risser et al.)"),
            _layers("hist_layers", ("relu1_1", "relu4_1"), "histogram-loss"),
            Option(
                "hist_bins",
                "bins",
                None,
                "histogram loss with N bins as in the paper, 2..65536 (default: exact)",
                preset=False,
            ),  # fmt: skip
        ),
        build=lambda cfg, s: HistogramLoss(s.feats, s.blend, bins=cfg.hist_bins, mask=s.mask),
        load=_ranked,
        statistic=True,
    ),
    Term(
        "w2",
        "style",
        (
            _weight("w2_weight", "Gaussian Wasserstein-2 style loss (Mroueh 2019; Kalischek et al. 2021)"),
            _layers("w2_layers", GATYS_STYLE, "Wasserstein-2 style"),
        ),
        build=lambda cfg, s: WassersteinLoss.from_styles(s.feats, s.blend, mask=s.mask),
        # each layer's centred float32 map and its product with Σ_s^½ kept for the backward pass,
        # and while a layer is computed its float32 copy and two transients more
        load=lambda m: Load(step=4 * (2 * m.channels + 3 * m.widest), fixed=EIGH_BYTES),
        statistic=True,
    ),
    Term(
        "sliced",
        "style",
        (
            _weight("sliced_weight", "sliced Wasserstein style loss (Heitz et al. 2021)"),
            _layers("sliced_layers", GATYS_STYLE, "sliced-Wasserstein style"),
        ),
        build=lambda cfg, s: SlicedWassersteinLoss(
            s.feats, s.blend, mask=s.mask, seed=direction_seed(cfg.seed, s.layer, s.size)
        ),
        # ranked against tables as the histogram term is, plus the float32 projections of the widest map
        load=lambda m: _ranked(m) + Load(step=4 * m.widest, build=8 * m.widest),
        statistic=True,
    ),
    Term(
        "tv",
        "pixels",
        (_weight("tv_weight", "total-variation loss"),),
        build=lambda cfg, p: TVLoss(reference_side=TV_REFERENCE_SIDE),
        load=lambda m: Load(),
        statistic=False,
    ),
    Term(
        "temporal",
        "pixels",
        (),  # a video frame's pull towards the previous one, weighted by --temporal-weight with its target
        build=lambda cfg, p: _temporal(p.temporal),
        load=lambda m: Load(step=16),  # the warped frame and its mask, float32
        statistic=False,
    ),
)
TERM_NAMES = tuple(t.name for t in TERMS)
STYLE_TERMS = tuple(t.name for t in TERMS if t.source == "style")


def term(name: str) -> Term:
    """The row of term ``name``; ValueError listing the valid names otherwise."""
    for row in TERMS:
        if row.name == name:
            return row
    raise ValueError(f"unknown loss term {name!r}; valid: {', '.join(TERM_NAMES)}")


def term_options() -> tuple[Option, ...]:
    """Every term's options, in table order."""
    return tuple(o for t in TERMS for o in t.options)
