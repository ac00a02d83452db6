"""Every option of fuchun with its default and help text: the single home of defaults.

The command line is generated from the fields below (their ``metadata``), and the Python
API takes the same names as keyword arguments. Each loss term's own options (its weight, its
layers, ...) are the fields of :class:`TermOptions`, made from the rows of
:data:`fuchun.losses.terms.TERMS`. Loss settings left at ``None`` come from the chosen preset
(``fuchun.config.presets``), so a flag always overrides its preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from fuchun.config import parse
from fuchun.config.presets import PRESET_KEYS, PRESET_SCHEDULES, PRESETS, preset
from fuchun.config.validate import check_config
from fuchun.losses.terms import TERMS, Option, term_options
from fuchun.net.backbones import BACKBONES

OPTIMIZERS = ("lbfgs", "adam")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda", "mps")
BACKBONE_NAMES = tuple(BACKBONES)
INITS = ("content", "noise", "style-mean")  # or a path to an image file
FLOW_METHODS = ("dis", "farneback")  # OpenCV's classical optical flow (fuchun.video.flow)
# the style-strength dial: content weight × STRENGTH_BASE ** (STRENGTH_DEFAULT − strength), so each
# step of the dial halves (or doubles) the photo's pull against the style terms
STRENGTH_DEFAULT = 5.0
STRENGTH_BASE = 2.0


def opt(default: Any, help: str, *, parse_fn=None, choices=None, group: str = "run", flag: str | None = None):
    """A config field with its CLI metadata."""
    meta = {"help": help, "parse": parse_fn, "choices": choices, "group": group, "flag": flag}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


# how the value of a loss term's option is read, and its type, by its kind (fuchun.losses.terms.OPTION_KINDS)
TERM_OPTION_KINDS: dict[str, tuple[Any, Any]] = {
    "weight": (parse.nonneg_float, float | None),
    "layers": (parse.names, tuple[str, ...] | None),
    "layer_weights": (parse.floats, tuple[float, ...] | None),
    "shifts": (parse.shifts, dict | None),
    "bins": (parse.bins, int | None),
}


def _term_field(o: Option) -> tuple[str, Any, Any]:
    parser, kind = TERM_OPTION_KINDS[o.kind]
    return (o.name, kind, opt(None, o.help, parse_fn=parser, group="loss", flag=o.flag))


# the loss terms' options, one field each (None: from the preset)
TermOptions = dataclasses.make_dataclass("TermOptions", [_term_field(o) for o in term_options()])
TermOptions.__doc__ = "Each loss term's own options (fuchun.losses.terms); None: from the preset."


@dataclass
class Config(TermOptions):
    """All settings of one run. ``None`` in a loss field means: take it from the preset."""

    # --- output and scale
    size: Any = opt(
        512, "output size: longest side in px, WxH, or 'max' (largest that fits in memory)", parse_fn=parse.size
    )
    style_size: int | None = opt(
        None,
        "longest side of the style image(s) in px (default: output side × --style-scale)",
        parse_fn=parse.side,
    )
    style_scale: float = opt(1.0, "style image size relative to the output (0.25..4)", parse_fn=parse.style_scale)
    scales: Any = opt(
        "auto", "coarse-to-fine sizes: 'auto', 'none' (single scale) or a list like 256,362,512", parse_fn=parse.scales
    )
    coarsest: int = opt(
        256,
        "smallest side of the 'auto' scales in px: they grow from it by √2 to the output",
        parse_fn=parse.side,
    )
    preserve_colors: str | None = opt(
        None,
        "keep the content's colours: 'luminance' (stylise brightness only) or "
        "'match' (recolour the style images to the content's palette)",
        choices=("luminance", "match"),
    )
    masks: tuple[str, ...] | None = opt(
        None,
        "one mask image per style image, white where that style goes; where no mask is white the content stays",
        flag="--mask",
    )
    mask_feather: float = opt(
        3.0,
        "blur of the mask edges: Gaussian sigma in output px (0: hard edges; at most 128)",
        parse_fn=parse.feather,
    )
    # --- optimisation
    steps: int = opt(
        300,
        "loss evaluations in all, split over the scales: twice as many at each smaller scale",
        parse_fn=parse.steps,
        group="optimise",
    )
    optimizer: str = opt("lbfgs", "optimiser", choices=OPTIMIZERS, group="optimise")
    lr: float = opt(
        0.02, "Adam learning rate (pixels in [0, 1]; at most 1)", parse_fn=parse.learning_rate, group="optimise"
    )
    average: float = opt(
        0.0,
        "Adam iterate averaging: decay of the running average of the pixels, which is the result (0: off; e.g. 0.99)",
        parse_fn=parse.unit_interval,
        group="optimise",
    )
    lbfgs_history: int = opt(50, "L-BFGS history size (at most 1000)", parse_fn=parse.history, group="optimise")
    init: str = opt(
        "content", "start image: content, noise, style-mean, or an image file", parse_fn=parse.init, group="optimise"
    )
    seed: int = opt(0, "random seed of the noise start image (0 to 2^64 - 1)", parse_fn=parse.seed, group="optimise")
    # --- losses (None: from the preset)
    preset: str = opt("paint", "loss preset", choices=tuple(PRESETS), group="loss")
    strength: float = opt(
        STRENGTH_DEFAULT,
        "style strength, 0 (photographic) .. 10 (painterly): scales the content weight by "
        f"{STRENGTH_BASE:g}^({STRENGTH_DEFAULT:g} − strength)",
        parse_fn=parse.strength,
        group="loss",
    )
    style_pull: float | None = opt(
        None,
        "cap on the style terms' pull at the photo at the start of each scale (gradient norm × √pixels): "
        "a style far from the photo is weakened to it, a near one left as it is (0: no cap)",
        parse_fn=parse.nonneg_float,
        group="loss",
    )
    pooling: str | None = opt(None, "pooling in the network", choices=("max", "avg"), group="loss")
    # --- network and machine
    backbone: str = opt("vgg16", "pretrained network", choices=BACKBONE_NAMES, group="machine")
    weights: str | None = opt(None, "a local .safetensors or state-dict file for the backbone", group="machine")
    device: str = opt("auto", "device", choices=DEVICES, group="machine")
    precision: str = opt(
        "auto",
        "arithmetic of the convolutions; auto: bf16 where native, fp16 on older CUDA GPUs (statistics are always fp32)",
        choices=PRECISIONS,
        group="machine",
    )
    # --- reporting
    save_every: int = opt(0, "write a snapshot every N steps (0: never)", parse_fn=parse.nonneg_int, group="report")
    checkpoint_every: int = opt(
        50,
        "keep the picture so far at -o and a checkpoint to resume from every N steps (0: never)",
        parse_fn=parse.nonneg_int,
        group="report",
    )
    quiet: bool = opt(False, "no progress bar or start line", group="report")
    trace: str | None = opt(None, "write a JSON trace, a loss plot and a snapshot sheet into DIR", group="report")

    def resolved(self) -> Config:
        """A copy with every preset-controlled field filled in; a value outside its choices, or a
        whole that cannot be run (a layer the network lacks), raises."""
        for f in dataclasses.fields(self):
            value, choices = getattr(self, f.name), f.metadata.get("choices")
            if choices and value is not None and value not in choices:
                raise ValueError(f"unknown {f.name} {value!r}; valid: {', '.join(choices)}")
        values = preset(self.preset)
        if self.style_layers is not None:  # a preset's layer weights belong to its own layers
            values["style_layer_weights"] = None
        if self.content_layers is not None:
            values["content_layer_weights"] = None
        filled = {k: (getattr(self, k) if getattr(self, k) is not None else values[k]) for k in PRESET_KEYS}
        out = dataclasses.replace(self, **filled)
        check_config(out)
        return out

    def updated(self, **options: Any) -> Config:
        """A copy with ``options`` set; unknown names raise ValueError listing the valid ones."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(options) - names
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}")
        return dataclasses.replace(self, **options)


@dataclass
class VideoConfig:
    """A video's own settings (``fuchun video``); each frame's picture takes :class:`Config`'s."""

    # Ruder et al. 2016 weigh the temporal term 200 against content 1 on 0..255 pixels; fuchun's
    # losses are relative errors on [0, 1] pixels (benchmarks/temporal.py measures this weight)
    temporal_weight: float = opt(
        100.0,
        "weight of the temporal loss towards the previous frame warped by optical flow (0: off)",
        parse_fn=parse.nonneg_float,
        group="video",
    )
    flow: str = opt("dis", "optical flow method (OpenCV)", choices=FLOW_METHODS, group="video")
    start: int = opt(0, "first source frame to stylise (counted from 0)", parse_fn=parse.nonneg_int, group="video")
    every: int = opt(
        1,
        "stylise every N-th source frame (the output's frame rate is the source's / N)",
        parse_fn=parse.count,
        group="video",
    )
    max_frames: int | None = opt(None, "stylise at most N frames", parse_fn=parse.count, group="video")
    cache: str | None = opt(
        None,
        "folder of the finished frames, to resume from, kept afterwards (default: OUTPUT.frames beside the output, "
        "removed once the video is written)",
        group="video",
    )
    keep_frames: bool = opt(False, "keep the frame folder after the video is written", group="video")


@dataclass
class BatchConfig:
    """A batch's own settings (``fuchun batch``); each job's picture takes :class:`Config`'s."""

    workers: int = opt(
        1, "worker processes on this machine, each loading the network once", parse_fn=parse.count, group="batch"
    )
    pairs: str = opt(
        "every",
        "with --content and --style folders: every pair, or zip (the first with the first, ...)",
        choices=("every", "zip"),
        group="batch",
    )
    retries: int = opt(
        3, "with --ray: how often a task whose worker died is run again", parse_fn=parse.nonneg_int, group="batch"
    )


# What each mode changes before the user's options apply (the user's options win).
MODE_DEFAULTS = {
    # from the content image the picture's layout is there from the start: one coarse level at
    # 1/√2 of 512 px and fewer steps (benchmarks/speed.py compares it with a single level)
    "stylize": {"coarsest": 362, "steps": 200},
    # style only, from noise: texture synthesis (Gatys et al. 2015, "Texture Synthesis Using CNNs")
    "texture": {"init": "noise"},
    # content only, from noise: what the network keeps of the photo
    "reconstruct": {"init": "noise", **{t.weight: 0.0 for t in TERMS if t.source == "style"}},
}


def mode_defaults(mode: str, preset_name: str) -> dict[str, Any]:
    """What ``mode`` changes before the user's options: MODE_DEFAULTS, then the preset's own schedule."""
    if mode not in MODE_DEFAULTS:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODE_DEFAULTS)}")
    if preset_name not in PRESETS:
        raise ValueError(f"unknown preset {preset_name!r}; valid: {', '.join(PRESETS)}")
    return {**MODE_DEFAULTS[mode], **PRESET_SCHEDULES.get(preset_name, {})}


def content_factor(strength: float) -> float:
    """The factor of the content weight at style ``strength`` (1 at the default strength)."""
    return STRENGTH_BASE ** (STRENGTH_DEFAULT - strength)
