"""Parsers from command-line strings to option values; each raises ValueError with a clear message.

Every number is bounded here, at parse time, to what a run can use: sides between the
network's minimum and :data:`MAX_SIDE`, weights that stay finite in float32 arithmetic,
seeds that fit torch's 64-bit generator. The Python API and config files go through the
same parsers (:func:`fuchun.config.files.convert`), so each bound lives in one place.
"""

from __future__ import annotations

import itertools
import math
import re

from fuchun.io.paths import NO_SUCH_FILE, not_a_file
from fuchun.io.read import MIN_SIDE

MAX_SIDE = 16384  # no VGG run beyond this is sensible on any machine
MAX_STEPS = 1_000_000  # loss evaluations of one run
MAX_HISTORY = 1000  # L-BFGS pairs kept (each holds two copies of the picture)
MAX_WEIGHT = 1e6  # the losses are relative errors (presets use 0..15); larger drowns float32
MAX_LR = 1.0  # Adam moves pixels in [0, 1]
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 64 bits
MAX_FEATHER = 128.0  # px of Gaussian sigma for mask edges
MAX_BINS = 65536  # histogram bins (a (C, bins) table per layer)
MAX_STRENGTH = 10.0  # the style-strength dial's painterly end
STYLE_SCALE = (0.25, 4.0)  # style image side relative to the output side


def _whole(text: str) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a whole number") from None


def _number(text: str) -> float:
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _at_most(text: str, value: float, limit: float, unit: str = "") -> None:
    if value > limit:
        raise ValueError(f"{str(text).strip()} is larger than the supported {limit:g}{unit}")


def positive_int(text: str, *, limit: int = MAX_SIDE, unit: str = " px") -> int:
    """An integer from 1 to ``limit`` (a side in px unless told otherwise)."""
    value = _whole(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than 0")
    _at_most(text, value, limit, unit)
    return value


def count(text: str) -> int:
    """A count from 1 to :data:`MAX_STEPS` (frames, workers, ...)."""
    return positive_int(text, limit=MAX_STEPS, unit="")


def nonneg_int(text: str, *, limit: int = MAX_STEPS) -> int:
    """An integer from 0 to ``limit``."""
    value = _whole(text)
    if value < 0:
        raise ValueError(f"{text!r} must be 0 or more")
    _at_most(text, value, limit)
    return value


def steps(text: str) -> int:
    """A number of loss evaluations, 1 to :data:`MAX_STEPS`."""
    return positive_int(text, limit=MAX_STEPS, unit="")


def history(text: str) -> int:
    """The L-BFGS history size, 1 to :data:`MAX_HISTORY`."""
    return positive_int(text, limit=MAX_HISTORY, unit="")


def seed(text: str) -> int:
    """A random seed, 0 to 2⁶⁴ − 1."""
    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise ValueError(f"seed {text!r} must be from 0 to 2^64 - 1")
    return value


def side(text: str) -> int:
    """A side in px from the network's minimum (:data:`MIN_SIDE`) to :data:`MAX_SIDE`."""
    value = positive_int(text)
    if value < MIN_SIDE:
        raise ValueError(f"{value} px is below the network's minimum of {MIN_SIDE} px")
    return value


def positive_float(text: str, *, limit: float = MAX_WEIGHT) -> float:
    """A finite number > 0 and at most ``limit``."""
    value = nonneg_float(text, limit=limit)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than 0")
    return value


def nonneg_float(text: str, *, limit: float = MAX_WEIGHT) -> float:
    """A finite number >= 0 and at most ``limit`` (a loss weight unless told otherwise)."""
    value = _number(text)
    if value < 0:
        raise ValueError(f"{text!r} must be 0 or more")
    _at_most(text, value, limit)
    return value


def strength(text: str) -> float:
    """The style-strength dial, 0 to :data:`MAX_STRENGTH`."""
    return nonneg_float(text, limit=MAX_STRENGTH)


def unit_interval(text: str) -> float:
    """A number in [0, 1)."""
    value = nonneg_float(text, limit=1.0)
    if value >= 1:
        raise ValueError(f"{text!r} must be in [0, 1)")
    return value


def learning_rate(text: str) -> float:
    """Adam's learning rate, > 0 and at most :data:`MAX_LR`."""
    return positive_float(text, limit=MAX_LR)


def feather(text: str) -> float:
    """A mask feather sigma in px, 0 to :data:`MAX_FEATHER`."""
    return nonneg_float(text, limit=MAX_FEATHER)


def style_scale(text: str) -> float:
    """The style image's side relative to the output's, 0.25 to 4."""
    value = _number(text)
    lo, hi = STYLE_SCALE
    if not lo <= value <= hi:
        raise ValueError(f"{text!r} is outside {lo:g}..{hi:g}")
    return value


def bins(text: str) -> int:
    """Histogram bins, 2 to :data:`MAX_BINS`."""
    value = positive_int(text, limit=MAX_BINS, unit="")
    if value < 2:
        raise ValueError(f"{text!r} must be at least 2")
    return value


def size(text: str) -> int | tuple[int, int] | str:
    """'512' (longest side), '640x480' (width x height) or 'max'."""
    text = str(text).strip().lower()
    if text == "max":
        return "max"
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match:
        return (side(match[1]), side(match[2]))
    return side(text)


def scales(text: str) -> str | tuple[int, ...]:
    """'auto', 'none', or increasing sizes '256,362,512' (each at least the network's minimum)."""
    text = str(text).strip().lower()
    if text in ("auto", "none"):
        return text
    values = tuple(side(t) for t in text.split(","))
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"scales {text!r} must increase")
    return values


def names(text: str) -> tuple[str, ...]:
    """Comma-separated layer names ('relu1_1,relu2_1'): at least one, each once.

    Whether each name exists in the chosen network is checked with the whole config
    (:func:`fuchun.config.validate.check_layers`).
    """
    items = tuple(t.strip() for t in str(text).split(","))
    if not any(items):
        raise ValueError("needs at least one layer name, like relu4_2 (to turn a loss off, set its weight to 0)")
    for item in items:
        if not re.fullmatch(r"(conv|relu)\d+_\d+|pool\d+", item):
            raise ValueError(f"{item!r} is not a layer name like relu4_2, conv1_1 or pool3")
    doubled = sorted({n for n in items if items.count(n) > 1})
    if doubled:
        raise ValueError(f"layer {', '.join(doubled)} is given twice; name each layer once")
    return items


def floats(text: str) -> tuple[float, ...]:
    """Comma-separated numbers, each from 0 to :data:`MAX_WEIGHT`."""
    return tuple(nonneg_float(t) for t in str(text).split(","))


def shifts(text: str | list[str]) -> dict[str, tuple[int, ...]]:
    """'relu1_1=4,8,16 relu2_1=4,8' (or a list of such items) -> {layer: (δ, ...)}."""
    items = text.split() if isinstance(text, str) else list(text)
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        layer, sep, deltas = item.partition("=")
        if not sep:
            raise ValueError(f"shift {item!r} must look like relu1_1=4,8,16")
        layers = names(layer) if layer.strip() and "," not in layer else ()
        if len(layers) != 1:
            raise ValueError(f"shift {item!r} must name one layer before '=', like relu1_1=4,8,16")
        name = layers[0]
        if name in out:
            raise ValueError(f"shifts for {name} are given twice; list them once, like {name}=4,8,16")
        values = tuple(positive_int(d) for d in deltas.split(","))
        if len(set(values)) != len(values):
            raise ValueError(f"shift {item!r} repeats an offset; give each once")
        out[name] = values
    return out


def init(text: str) -> str:
    """content | noise | style-mean | an existing regular file (an image)."""
    if text in ("content", "noise", "style-mean"):
        return text
    problem = not_a_file(text)
    if problem is None:
        return text
    if problem == NO_SUCH_FILE:
        raise ValueError(f"init {text!r} is neither content, noise, style-mean nor an existing file")
    raise ValueError(f"init {text!r} cannot be used: {problem}")
