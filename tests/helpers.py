"""What the tests share: where things are, seeded pictures and feature maps, the tiny network,
one recording reporter, the options that turn every loss term on, small checks of the command line.

It imports as ``helpers`` from every test folder (``pythonpath`` in pyproject.toml's pytest
section); conftest.py's fixtures (tiny_net, examples_dir...) are made from it.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from pathlib import Path

import pytest
import torch

import fuchun
from fuchun.cli.parser import main
from fuchun.errors import ImageError
from fuchun.net.features import VGGFeatures
from fuchun.report.base import Progress, Reporter, RunInfo

REPO = Path(__file__).resolve().parents[1]  # the repository's root
SRC = Path(fuchun.__file__).resolve().parents[1]  # where this fuchun is imported from (a subprocess's PYTHONPATH)
# the images bundled with the package (public domain or CC BY: see SOURCES.md there)
EXAMPLES_DIR = Path(fuchun.__file__).resolve().parent / "examples"

# ----------------------------------------------------------------------------- numbers and pictures


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: the same numbers on every machine and every run."""
    return torch.Generator().manual_seed(seed)


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``torch.rand`` fixed by ``seed``: values uniform in [0, 1) of any shape."""
    return torch.rand(*shape, generator=generator(seed), dtype=dtype)


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``torch.randn`` fixed by ``seed``: standard normal values, e.g. a feature map (B, C, H, W)."""
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)


def noise_image(h: int, w: int, seed: int) -> torch.Tensor:
    """A (1, 3, H, W) picture of independent uniform pixels in [0, 1), detail at every scale:
    the engine's noise start for seed ``seed``."""
    return rand(1, 3, h, w, seed=seed)


def smooth_image(h: int, w: int, seed: int, *, grain: float = 0.0) -> torch.Tensor:
    """A smooth (1, 3, H, W) picture in [0, 1]: coarse noise (one value per 8 px) upsampled
    bilinearly, mixed with a share ``grain`` of fine uniform noise (seed + 1)."""
    coarse = rand(1, 3, max(2, h // 8), max(2, w // 8), seed=seed)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    if not grain:
        return smooth
    return ((1 - grain) * smooth + grain * rand(1, 3, h, w, seed=seed + 1)).clamp(0, 1)


# ----------------------------------------------------------------------------- the tiny network

TINY_WIDTHS = (4, 4, 8, 8, 8)  # channels per block: a VGG's shape at a few kilobytes


def tiny_vgg(arch: str = "vgg16", *, seed: int = 0, **kw) -> VGGFeatures:
    """A VGG-shaped network with 4-8 channels per block and random weights fixed by ``seed``."""
    torch.manual_seed(seed)
    return VGGFeatures(arch, widths=kw.pop("widths", TINY_WIDTHS), **kw)


# ----------------------------------------------------------------------------- runs

# every loss term of fuchun.losses.terms on (but the temporal one, which comes with a video
# frame's target), with layers and shifts that fit 40-px pictures in the tiny network
ALL_TERMS = {
    "content_weight": 1.0,
    "style_weight": 1.0,
    "shift_weight": 1.0,
    "hist_weight": 1.0,
    "w2_weight": 1.0,
    "sliced_weight": 1.0,
    "tv_weight": 1.0,
    "style_layers": ("relu1_1", "relu2_1", "relu3_1"),
    "hist_layers": ("relu1_1", "relu3_1"),
    "w2_layers": ("relu1_1", "relu3_1"),
    "sliced_layers": ("relu1_1", "relu2_1"),
    "shifts": {"relu1_1": (2, 4), "relu2_1": (2,)},
}
ALL_TERM_NAMES = ("content", "gram", "shifted", "hist", "w2", "sliced", "tv")  # the terms ALL_TERMS turns on


class Recorder(Reporter):
    """A reporter that keeps every event it hears, in order, as (kind, payload) pairs in
    ``events``: start, step, warning, message. ``first_image`` is a copy of the first step's
    picture (the engine passes its live tensor). Recorders given one ``log`` list also add
    (name, kind, payload) to it, which shows the order in which several of them heard each event."""

    def __init__(self, name: str = "", log: list | None = None) -> None:
        self.name, self.log = name, log
        self.events: list[tuple[str, object]] = []
        self.first_image: torch.Tensor | None = None

    def _record(self, kind: str, payload: object) -> None:
        self.events.append((kind, payload))
        if self.log is not None:
            self.log.append((self.name, kind, payload))

    def start(self, info: RunInfo) -> None:
        self._record("start", info)

    def step(self, progress: Progress) -> None:
        if self.first_image is None and isinstance(progress, Progress):
            self.first_image = progress.image.detach().clone()
        self._record("step", progress)

    def warning(self, message: str) -> None:
        self._record("warning", message)

    def message(self, text: str) -> None:
        self._record("message", text)

    def of(self, kind: str) -> list:
        """The payloads of the events of ``kind``, in order."""
        return [payload for k, payload in self.events if k == kind]

    @property
    def starts(self) -> list[RunInfo]:
        return self.of("start")

    @property
    def steps(self) -> list[Progress]:
        return self.of("step")

    @property
    def terms(self) -> list[dict[str, float]]:
        """Each step's loss terms."""
        return [p.terms for p in self.steps]

    @property
    def losses(self) -> list[float]:
        """Each step's total loss."""
        return [p.loss for p in self.steps]


# the command line's twin of conftest's tiny_options (device and precision as the machine picks)
TINY_FLAGS = ["--preset", "fuchun", "--size", "64", "--steps", "5", "--scales", "none", "--shift", "relu2_1=2"]
# a quick run of the default preset on the CPU: 64 px, 2 steps, one scale, fp32, quiet (warnings and errors only)
QUICK_FLAGS = ["--size", "64", "--steps", "2", "--scales", "none", "--device", "cpu", "--precision", "fp32", "--quiet"]


# ----------------------------------------------------------------------------- the command line and files


def snapshot(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every regular file in ``folder``, "special" for anything else
    (to see that nothing was written, overwritten or left behind)."""
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.is_symlink():
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[p.name] = "special"
    return out


def fails_in_one_line(capsys, argv: list, *folders: Path, match: str = "", warnings: bool = False) -> str:
    """Run the command line ``argv``: a non-zero status, nothing on stdout, one ``fuchun: error:``
    line (after any ``fuchun: warning:`` lines where ``warnings``), no traceback, and every file in
    ``folders`` as it was. Returns the error line."""
    before = [snapshot(f) for f in folders]
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if not (warnings and line.startswith("fuchun: warning: "))]
    assert status != 0, err
    assert "Traceback" not in err and out == "", (out, err)
    assert len(lines) == 1 and lines[0].startswith("fuchun: error: "), err
    assert match in lines[0], (match, lines[0])
    after = [snapshot(f) for f in folders]
    assert after == before, (before, after)  # nothing written, nothing overwritten
    return lines[0]


def raises_one_line(call, *args, match: str | None = None, **kwargs) -> str:
    """Assert ``call(*args, **kwargs)`` raises ImageError with a one-line message; return it."""
    with pytest.raises(ImageError, match=match) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message.strip(), message
    return message


def png_header(path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR chunk."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is no PNG"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, depth, colour


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
