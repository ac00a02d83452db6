"""Fuzzing with Hypothesis: the image reader and the option parsers let only our own errors out.

The reader gets random bytes and valid PNG/JPEG/TIFF files with bytes flipped, inserted or
cut off; every parser of :mod:`fuchun.config.parse` and the command-line parser get random
text. Each must return a value or raise one of fuchun's own exceptions with a one-line
message (for the parsers: a ValueError raised by our code, never Python's own). The budget
is bounded (a few hundred examples per test, no deadline) so CI stays fast.
"""

from __future__ import annotations

import io
import tempfile
import traceback
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import odd_files
from fuchun.cli.options import config_options
from fuchun.cli.parser import build_parser
from fuchun.config import parse
from fuchun.errors import FuchunError, ImageError
from fuchun.io.read import read_image

BUDGET = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _png16() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        return odd_files.png16(Path(folder)).read_bytes()


def _small(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(odd_files.pixels(size=(40, 36))).save(buf, fmt, **kw)
    return buf.getvalue()


SEEDS = {
    "png": _small("PNG"),
    "jpeg": _small("JPEG", quality=80),
    "tiff": _small("TIFF"),
    "tiff deflate": _small("TIFF", compression="tiff_adobe_deflate"),
    "gif": _small("GIF"),
    "png16": _png16(),
}


def _read_bytes(data: bytes) -> None:
    """Write ``data`` to a file and read it: a valid image or one ImageError line."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.img"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                image = read_image(path)
            assert not caught, [str(w.message) for w in caught]  # nothing printed beside our line
        except ImageError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"cannot read image '{path}'")
            return
    assert image.dtype == torch.float32 and image.dim() == 3 and image.shape[0] == 3
    assert torch.isfinite(image).all() and 0 <= image.min() and image.max() <= 1


@BUDGET
@given(st.binary(max_size=2048))
def test_random_bytes_are_an_image_or_one_error_line(data):
    _read_bytes(data)


@st.composite
def mutated(draw) -> bytes:
    """A valid small image file with a few bytes flipped in its first kilobyte, some inserted, or its end cut."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    head = min(len(data), 1024)
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, head - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        at = draw(st.integers(0, head))
        data[at:at] = draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@BUDGET
@given(mutated())
def test_mutated_png_jpeg_tiff_files_are_an_image_or_one_error_line(data):
    _read_bytes(data)


# ----------------------------------------------------------------------------- option parsers

PARSERS = [
    parse.positive_int,
    parse.nonneg_int,
    parse.steps,
    parse.history,
    parse.seed,
    parse.side,
    parse.positive_float,
    parse.nonneg_float,
    parse.learning_rate,
    parse.feather,
    parse.style_scale,
    parse.bins,
    parse.size,
    parse.scales,
    parse.names,
    parse.floats,
    parse.shifts,
    parse.init,
]
# text that looks like option values, mixed with anything at all
VALUEISH = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.,x=-+e_ reluconvpoolinfnaINFNaN", max_size=40),
    st.integers().map(str),
    st.floats().map(str),
    st.lists(st.integers(-(2**70), 2**70).map(str), max_size=5).map(",".join),
)


def _raised_by_us(exc: BaseException) -> bool:
    """True if the innermost frame that raised ``exc`` is fuchun's code (not Python's own)."""
    return "/fuchun/" in traceback.extract_tb(exc.__traceback__)[-1].filename


@BUDGET
@given(st.sampled_from(PARSERS), VALUEISH)
def test_every_parser_returns_or_raises_our_own_value_error(parser, text):
    try:
        parser(text)
    except ValueError as exc:
        assert _raised_by_us(exc), f"{parser.__name__}({text!r}): {exc!r}"
        assert str(exc) and "\n" not in str(exc)


def _flags() -> list[str]:
    """Every long flag of every sub-command (help left out: it exits)."""
    sub = next(a for a in build_parser()._actions if a.choices and "stylize" in a.choices)
    flags = {s for p in sub.choices.values() for a in p._actions for s in a.option_strings if s.startswith("--")}
    return sorted(flags - {"--help", "--fetch"})


FLAGS = _flags()
COMMANDS = ["stylize", "texture", "reconstruct", "eval", "article"]


@BUDGET
@given(st.sampled_from(COMMANDS), st.lists(st.one_of(st.sampled_from(FLAGS), VALUEISH), max_size=8))
def test_the_command_line_parser_raises_only_our_errors(command, args):
    """Random flags and values after a command: parsed, or a FuchunError (argparse's own exits are routed)."""
    argv = [command, *args]
    if any(a.startswith(("-h", "--h")) for a in args):  # argparse's help (and its abbreviations) exits
        return
    try:
        ns = build_parser().parse_args(argv)
        if command != "eval":
            from fuchun.api import make_config

            make_config("stylize" if command == "article" else command, **config_options(ns)).resolved()
    except FuchunError as exc:
        assert str(exc).strip()
    except ValueError as exc:  # a few checks are plain ValueErrors raised by our code
        assert _raised_by_us(exc), repr(exc)


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_every_seed_file_is_a_valid_image(kind):
    """The fuzzers start from valid files (else the mutations would test nothing new)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"seed.{kind.split()[0]}"
        path.write_bytes(SEEDS[kind])
        assert read_image(path).shape == ((3, 60, 80) if kind == "png16" else (3, 36, 40))
