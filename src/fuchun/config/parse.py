"""Parsers from command-line strings to option values; each raises ValueError with a clear message."""

from __future__ import annotations

import itertools
import os
import re

MAX_SIDE = 16384  # no VGG run beyond this is sensible on any machine


def positive_int(text: str) -> int:
    """An integer > 0."""
    value = _whole_number(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than 0")
    return value


def nonneg_int(text: str) -> int:
    """An integer >= 0."""
    value = _whole_number(text)
    if value < 0:
        raise ValueError(f"{text!r} must be 0 or more")
    return value


def _whole_number(text: str) -> int:
    """``text`` as an int (ValueError saying so when it is not one)."""
    try:
        return int(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a whole number") from None


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = nonneg_float(text)
    if value <= 0:
        raise ValueError(f"{text!r} must be greater than 0")
    return value


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"{text!r} must be a finite number >= 0")
    return value


def size(text: str) -> int | tuple[int, int] | str:
    """'512' (longest side), '640x480' (width x height) or 'max'."""
    text = str(text).strip().lower()
    if text == "max":
        return "max"
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if match:
        w, h = positive_int(match[1]), positive_int(match[2])
        _check_side(max(w, h))
        return (w, h)
    side = positive_int(text)
    _check_side(side)
    return side


def _check_side(side: int) -> None:
    if side > MAX_SIDE:
        raise ValueError(f"size {side} is larger than the supported {MAX_SIDE} px")


def scales(text: str) -> str | tuple[int, ...]:
    """'auto', 'none', or increasing sizes '256,362,512'."""
    text = str(text).strip().lower()
    if text in ("auto", "none"):
        return text
    values = tuple(positive_int(t) for t in text.split(","))
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"scales {text!r} must increase")
    return values


def names(text: str) -> tuple[str, ...]:
    """Comma-separated layer names ('relu1_1,relu2_1'); may be empty ('')."""
    items = tuple(t.strip() for t in str(text).split(",") if t.strip())
    for item in items:
        if not re.fullmatch(r"(conv|relu)\d_\d|pool\d", item):
            raise ValueError(f"{item!r} is not a layer name like relu4_2, conv1_1 or pool3")
    return items


def floats(text: str) -> tuple[float, ...]:
    """Comma-separated numbers >= 0."""
    return tuple(nonneg_float(t) for t in str(text).split(","))


def shifts(text: str | list[str]) -> dict[str, tuple[int, ...]]:
    """'relu1_1=4,8,16 relu2_1=4,8' (or a list of such items) -> {layer: (δ, ...)}."""
    items = text.split() if isinstance(text, str) else list(text)
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        layer, sep, deltas = item.partition("=")
        if not sep:
            raise ValueError(f"shift {item!r} must look like relu1_1=4,8,16")
        layers = names(layer)
        if len(layers) != 1:
            raise ValueError(f"shift {item!r} must name one layer before '=', like relu1_1=4,8,16")
        name = layers[0]
        out[name] = tuple(positive_int(d) for d in deltas.split(","))
    return out


def init(text: str) -> str:
    """content | noise | style-mean | an existing image file."""
    if text in ("content", "noise", "style-mean") or os.path.exists(text):
        return text
    raise ValueError(f"init {text!r} is neither content, noise, style-mean nor an existing file")
