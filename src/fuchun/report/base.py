"""What a run tells the outside world: a start line, progress, warnings, messages.

The engine calls a :class:`Reporter`; the CLI's reporter draws a progress bar, the API's
default one stays silent, a trace reporter records everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class RunInfo:
    """Facts about a run known before its first step."""

    backbone: str
    weights_sha256: str
    device: str
    precision: str
    sizes: list[tuple[int, int]]  # (W, H) of each scale
    steps: list[int]  # steps of each scale
    config: Any

    def line(self) -> str:
        """The one start line: backbone, device, precision, scales."""
        scales = " → ".join(f"{w}x{h}" for w, h in self.sizes)
        return (
            f"fuchun: {self.backbone} (weights {self.weights_sha256[:12]}) on {self.device}, "
            f"{self.precision}, {scales}, {sum(self.steps)} steps"
        )


@dataclass(frozen=True)
class Progress:
    """One optimisation step of a run."""

    step: int  # counted over all scales, from 1
    steps: int  # total over all scales
    scale: int  # from 1
    n_scales: int
    size: tuple[int, int]  # (W, H) of this scale
    loss: float
    terms: dict[str, float]  # weighted value of each loss term
    elapsed: float  # seconds since the first scale started
    image: torch.Tensor  # (1, 3, H, W), detached, on the run's device


class Reporter:
    """Receives a run's events; the base class ignores them all."""

    def start(self, info: RunInfo) -> None:
        """Called once before the first step."""

    def step(self, progress: Progress) -> None:
        """Called after every loss evaluation."""

    def warning(self, message: str) -> None:
        """Called once per distinct warning."""

    def should_stop(self) -> bool:
        """Asked after every step: True ends the run early with its current picture
        (the engine raises :class:`fuchun.errors.Stopped` carrying it)."""
        return False

    def message(self, text: str) -> None:
        """Informational text, e.g. while fetching weights."""

    def checkpoint(self, state: Any) -> None:
        """Called every ``checkpoint_every`` steps with a :class:`fuchun.run.checkpoint.RunState`
        (the picture so far and what it takes to resume the run from it)."""


class MultiReporter(Reporter):
    """Passes every event on to several reporters, in the order given."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def start(self, info: RunInfo) -> None:
        for reporter in self.reporters:
            reporter.start(info)

    def step(self, progress: Progress) -> None:
        for reporter in self.reporters:
            reporter.step(progress)

    def warning(self, message: str) -> None:
        for reporter in self.reporters:
            reporter.warning(message)

    def message(self, text: str) -> None:
        for reporter in self.reporters:
            reporter.message(text)

    def should_stop(self) -> bool:
        return any(reporter.should_stop() for reporter in self.reporters)

    def checkpoint(self, state: Any) -> None:
        for reporter in self.reporters:
            reporter.checkpoint(state)
