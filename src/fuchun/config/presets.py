"""Presets: named settings of the loss terms, as one table of data.

A preset fills every loss option the user did not set; any flag overrides it. Weights are
for fuchun's normalised losses (each term is a relative error, see ``fuchun.losses``), so
they mean the same at every layer, size and backbone.
"""

from __future__ import annotations

from types import MappingProxyType

from fuchun.losses.terms import term_options

# several δ per layer, averaged: spans of 4-64 image px at each layer; 14 (layer, δ) pairs, each
# as costly as one Gram matrix. This table is a public reimplementation's, not Berger & Memisevic's
# own settings.
BERGER_SHIFTS = {"relu1_1": (4, 8, 16, 32, 64), "relu2_1": (4, 8, 16, 32), "relu3_1": (4, 8, 16), "relu4_1": (4, 8)}
# the fuchun preset's shifts: two long spans (16 and 64 px) at relu1_1 (benchmarks/long_range.py
# compares them with SIX_SHIFTS and BERGER_SHIFTS on statistics no variant optimises)
FUCHUN_SHIFTS = {"relu1_1": (16, 64)}
# six (layer, δ) pairs from relu1_1 to relu3_1, a comparison in benchmarks/long_range.py
SIX_SHIFTS = {"relu1_1": (16, 64), "relu2_1": (16, 32), "relu3_1": (8, 16)}
ARTICLE_STYLE = ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2")

# every loss option at its baseline (Gatys et al. 2015's losses), then the options of no term
_BASE = {**{o.name: o.base for o in term_options() if o.preset}, "style_pull": 0.0, "pooling": "max"}

# the weight of the content term against the W2 style's 5 (--strength scales it)
PAINT_CONTENT = 0.7
# the photo's edges as a second content layer: relu2_1 at 0.35 of relu4_2's weight (Gatys et al.
# 2015 reconstruct a photo almost exactly from the early layers), which keeps W2 from painting
# stroke texture over the photo's flat areas (docs/decisions.md)
PAINT_ANCHOR = {"content_layers": ("relu2_1", "relu4_2"), "content_layer_weights": (0.35, 1.0)}
_PAINT = {**_BASE, "style_weight": 0.0, "w2_weight": 5.0, "content_weight": PAINT_CONTENT, **PAINT_ANCHOR}

PRESETS = MappingProxyType(
    {
        # Gatys et al. 2015's losses: content relu4_2, Gram at relu1_1 ... relu5_1; but max pooling,
        # where the paper replaced it by average pooling (--pooling avg gives the paper's)
        "gatys": dict(_BASE),
        # + shifted Gram (Berger & Memisevic 2016) with a public reimplementation's 14-pair table
        "berger": {**_BASE, "shift_weight": 5.0, "shifts": BERGER_SHIFTS},
        # + exact histogram loss (Risser et al. 2017)
        "risser": {**_BASE, "hist_weight": 5.0},
        # every term of the article combined, with total variation
        "fuchun": {**_BASE, "shift_weight": 5.0, "shifts": FUCHUN_SHIFTS, "hist_weight": 5.0, "tv_weight": 10.0},
        # Gaussian Wasserstein-2 style (Mroueh 2019; Kalischek et al. 2021) at the Gatys layers,
        # instead of the Gram loss, with the content weight of PAINT_CONTENT: the default
        "paint": dict(_PAINT),
        # the same losses painted as crowsonkb/style-transfer-pytorch paints: Adam with iterate
        # averaging, coarse to fine from 128 px with most steps small (PRESET_SCHEDULES); painterly
        # at content weight 1, as its coarse scales paint broad strokes the photo's layout barely holds
        "w2-adam": {**_PAINT, "content_weight": 1.0, "content_layers": ("relu4_2",), "content_layer_weights": None},
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
# how a preset is optimised where it differs from the mode's defaults (fuchun.config.options.MODE_DEFAULTS)
PRESET_SCHEDULES = MappingProxyType(
    {"w2-adam": {"optimizer": "adam", "average": 0.99, "coarsest": 128, "steps": 300}},
)


def preset(name: str) -> dict:
    """The loss settings of preset ``name`` (a fresh copy)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return dict(PRESETS[name])
