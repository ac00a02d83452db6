"""Presets: named settings of the loss terms, as one table of data.

A preset fills every loss option the user did not set; any flag overrides it. Weights are
for fuchun's normalised losses (each term is a relative error, see ``fuchun.losses``), so
they mean the same at every layer, size and backbone.
"""

from __future__ import annotations

from types import MappingProxyType

GATYS_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# several δ per layer, averaged: spans of 4-64 image px at each layer (a public reimplementation
# of Berger & Memisevic); 14 (layer, δ) pairs (benchmarks/cost.py measures what they cost)
BERGER_SHIFTS = {"relu1_1": (4, 8, 16, 32, 64), "relu2_1": (4, 8, 16, 32), "relu3_1": (4, 8, 16), "relu4_1": (4, 8)}
# fuchun's default: two long spans (16 and 64 px) at relu1_1. In benchmarks/long_range.py
# (192 px, 150 steps, 2 seeds) this matched 6 shifts over relu1_1-relu3_1 (sw-pattern 0.101
# vs 0.098, floral 0.032 vs 0.040; Gram only 0.129 and 0.069);
# shifts at relu2_1/relu3_1 alone hardly helped (0.128, 0.065).
FUCHUN_SHIFTS = {"relu1_1": (16, 64)}
# the previous default, kept for comparison in the benchmarks
SIX_SHIFTS = {"relu1_1": (16, 64), "relu2_1": (16, 32), "relu3_1": (8, 16)}
ARTICLE_STYLE = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")

_BASE = {
    "content_layers": ("relu4_2",),
    "style_layers": GATYS_STYLE,
    "style_layer_weights": None,  # None: equal weights
    "content_weight": 1.0,
    "style_weight": 5.0,
    "shift_weight": 0.0,
    "shifts": {},
    "hist_weight": 0.0,
    "hist_layers": ("relu1_1", "relu4_1"),
    "tv_weight": 0.0,
    "pooling": "max",
}

PRESETS = MappingProxyType(
    {
        # Gatys et al. 2015: content relu4_2, Gram at relu1_1 ... relu5_1
        "gatys": dict(_BASE),
        # + shifted Gram (Berger & Memisevic 2016)
        "berger": {**_BASE, "shift_weight": 5.0, "shifts": BERGER_SHIFTS},
        # + exact histogram loss (Risser et al. 2017)
        "risser": {**_BASE, "hist_weight": 5.0},
        # everything combined, with total variation: the default
        "fuchun": {**_BASE, "shift_weight": 5.0, "shifts": FUCHUN_SHIFTS, "hist_weight": 5.0, "tv_weight": 10.0},
        # the article author's own settings: VGG16, average pooling, block{1..5}_conv2 style
        "article": {
            **_BASE,
            "pooling": "avg",
            "style_layers": ARTICLE_STYLE,
            "style_layer_weights": (0.05, 0.2, 0.2, 0.25, 0.3),
            "content_weight": 1.0,
            "style_weight": 15.0,
            "shift_weight": 15.0,
            "shifts": {layer: (4,) for layer in ARTICLE_STYLE},
            "hist_weight": 0.15,
            "hist_layers": ("relu1_1",),
        },
    }
)
PRESET_KEYS = tuple(_BASE)


def preset(name: str) -> dict:
    """The loss settings of preset ``name`` (a fresh copy)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return dict(PRESETS[name])
