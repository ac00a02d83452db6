"""The command line that makes the same picture as a studio run ("copy the command line").

It is written from the very options the studio hands to :func:`fuchun.api.render`, with
each option's flag taken from Config's metadata, so it cannot drift from the CLI. Files
are named as in the run's bundle (the unpacked zip is the folder to run it from).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Sequence
from typing import Any

from fuchun.config.options import Config

PROGRAM = "fuchun"


def flag(name: str) -> str:
    """The command-line flag of Config option ``name``."""
    meta = next(f.metadata for f in dataclasses.fields(Config) if f.name == name)
    return meta["flag"] or "--" + name.replace("_", "-")


def value_text(value: Any) -> str:
    """An option's value as the CLI parses it back: 5.0 -> 5, (a, b) -> a,b."""
    if isinstance(value, float):
        return format(value, "g") if value == float(format(value, "g")) else repr(value)
    if isinstance(value, (tuple, list)):
        return ",".join(value_text(v) for v in value)
    return str(value)


def command_line(
    mode: str,
    *,
    options: dict[str, Any],
    content: str | None = None,
    styles: Sequence[str] = (),
    blend: Sequence[float] | None = None,
    output: str = "result.png",
) -> str:
    """``fuchun MODE [content] [styles...] -o OUTPUT [--option value ...]``, shell-quoted.

    ``options`` are Config fields; ``masks`` and ``init`` hold file names.
    """
    words = [PROGRAM, mode, *([content] if content else []), *styles, "-o", output]
    order = [f.name for f in dataclasses.fields(Config)]
    for name in sorted(options, key=order.index):
        value = options[name]
        if name == "masks":
            words += [flag(name), *value]
        elif value is None:
            continue
        else:
            words += [flag(name), value_text(value)]
    if blend is not None:
        words += ["--style-blend", value_text(tuple(float(b) for b in blend))]
    return shlex.join(words)
