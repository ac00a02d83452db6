"""Options from a file: TOML (``run.toml``) or JSON (a plain object, or a run's ``trace.json``).

Keys are the fields of :class:`fuchun.config.options.Config`, spelled as in Python
(``style_weight``) or as on the command line (``style-weight``, ``shift``). Values go
through the same parsers as the command line's, so a file accepts what a flag accepts:
``size = 512`` or ``size = "640x480"``, ``style_layers = ["relu1_1", "relu2_1"]`` or
``"relu1_1,relu2_1"``, ``[shifts]`` with ``relu2_1 = [4, 8]``.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import sys
from typing import Any

from fuchun.config import parse
from fuchun.config.options import Config
from fuchun.errors import ConfigFileError, UsageError
from fuchun.io.paths import not_a_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FIELDS = {f.name: f for f in dataclasses.fields(Config)}
# options of a trace file that describe where that run kept its record, not the picture
TRACE_ONLY = ("trace",)


def _aliases() -> dict[str, str]:
    """Every accepted spelling of a key -> its field name."""
    out = {}
    for name, f in FIELDS.items():
        for alias in (name, name.replace("_", "-"), (f.metadata["flag"] or "").lstrip("-")):
            if alias:
                out[alias] = name
    return out


def load_options(path: str | os.PathLike) -> dict[str, Any]:
    """The options in the file at ``path``, parsed and checked like command-line values."""
    return options_from_mapping(read_file(path), source=os.fspath(path))


def run_settings(path: str | os.PathLike) -> dict[str, Any]:
    """The command-line settings beside the options of a trace.json: ``bit_depth`` and ``style_blend``.

    Empty for a TOML file or a plain JSON table. Values are checked as their flags check them.
    """
    source = os.fspath(path)
    if not source.lower().endswith(".json"):
        return {}
    data = _read_table(source, whole=True)
    if not (isinstance(data, dict) and isinstance(data.get("options"), dict)):
        return {}
    out: dict[str, Any] = {}
    depth, blend = data.get("bit_depth"), data.get("style_blend")
    if depth is not None:
        if depth not in (8, 16) or isinstance(depth, bool):
            raise ConfigFileError(f"{source}: bit_depth: {depth!r} is not 8 or 16")
        out["bit_depth"] = depth
    if blend is not None:
        try:
            out["style_blend"] = list(parse.floats(_as_text("style_blend", blend)))
            if sum(out["style_blend"]) <= 0:
                raise ValueError("style blend weights need a positive sum")
        except ValueError as exc:
            raise ConfigFileError(f"{source}: style_blend: {exc}") from None
    return out


def read_file(path: str | os.PathLike) -> dict[str, Any]:
    """The raw key/value table of a .toml or .json file (a trace's ``options`` object)."""
    return _read_table(os.fspath(path), whole=False)


def _read_table(source: str, *, whole: bool) -> Any:
    """The parsed file; a trace.json's ``options`` object unless ``whole``."""
    problem = not_a_file(source)  # a FIFO would block the read forever
    if problem is not None:
        raise ConfigFileError(f"cannot read config file '{source}': {problem}")
    try:
        with open(source, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file '{source}': {exc.strerror or exc}") from exc
    if source.lower().endswith(".json"):
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"config file '{source}' is not valid JSON: {exc}") from exc
        if whole:
            return data
        if isinstance(data, dict) and isinstance(data.get("options"), dict):  # a trace.json
            data = {k: v for k, v in data["options"].items() if k not in TRACE_ONLY}
    else:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigFileError(f"config file '{source}' is not valid TOML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file '{source}' must hold a table of options, not {type(data).__name__}")
    return data


def options_from_mapping(data: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Config options from ``data``'s keys and values; ConfigFileError names any bad one."""
    aliases, out, keys = _aliases(), {}, {}
    unknown = sorted(str(k) for k in data if k not in aliases)
    if unknown:
        raise ConfigFileError(f"{source}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}")
    for key, value in data.items():
        name = aliases[key]
        if name in keys:
            raise ConfigFileError(f"{source}: option {name} is given twice (as {keys[name]} and {key})")
        keys[name] = key
        try:
            out[name] = convert(name, value)
        except ValueError as exc:
            raise ConfigFileError(f"{source}: {key}: {exc}") from None
    return out


def checked_options(options: dict[str, Any]) -> dict[str, Any]:
    """The Python API's keyword options checked by the command line's own parsers.

    Values with a parser (numbers, sizes, layer lists, shifts, init) go through it, so a
    bound holds whichever way an option arrives; paths, switches and choices pass as given
    (choices are checked by :meth:`Config.resolved`). Unknown names pass through to
    :meth:`Config.updated`, which lists the valid ones.
    """
    out = dict(options)
    for name, value in options.items():
        f = FIELDS.get(name)
        if f is None or value is None or f.metadata["parse"] is None:
            continue
        try:
            out[name] = convert(name, value)
        except ValueError as exc:
            raise UsageError(f"option {name}: {exc}") from None
    return out


def convert(name: str, value: Any) -> Any:
    """A file's value for field ``name`` as the command line would have parsed it."""
    f = FIELDS[name]
    meta = f.metadata
    if value is None:
        if f.default is None:
            return None
        raise ValueError("needs a value")
    if f.type in ("bool", bool):
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not true or false")
    if meta["choices"]:
        if isinstance(value, str) and value in meta["choices"]:
            return value
        raise ValueError(f"invalid choice {value!r}; valid: {', '.join(meta['choices'])}")
    if meta["parse"] is None:  # a plain string such as a path, or a list of them
        many = str(f.type).startswith("tuple")
        items = value if many and isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, str) for v in items):
            raise ValueError(f"{value!r} is not {'a list of strings' if many else 'a string'}")
        return tuple(items) if many else value
    return meta["parse"](_as_text(name, value))


def _as_text(name: str, value: Any) -> str:
    """The command-line spelling of a TOML/JSON value: lists join with ',', sizes with 'x'."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if name != "shifts":
            raise ValueError("a table is not a valid value here")
        return " ".join(f"{layer}={_scalars(deltas, ',')}" for layer, deltas in value.items())
    if isinstance(value, (list, tuple)):
        return _scalars(value, {"size": "x", "shifts": " "}.get(name, ","))
    return _scalar(value)


def _scalars(value: Any, sep: str) -> str:
    items = value if isinstance(value, (list, tuple)) else [value]
    return sep.join(_scalar(v) for v in items)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):  # a start image given as a Path (Python API)
        return os.fspath(value)
    if isinstance(value, bool):
        raise ValueError(f"{str(value).lower()} is not a valid value here")
    if not isinstance(value, numbers.Real):  # numpy's numbers too
        raise ValueError(f"{value!r} is not a valid value here")
    return str(value)
