"""Counting a run's steps across its scales.

The engine optimises one scale at a time; :class:`Clock` turns each scale's step callbacks
into the run's :class:`~fuchun.report.base.Progress` reports, asks the reporter whether to
stop (raising :class:`StopRequest`, which the engine turns into :class:`fuchun.errors.Stopped`)
and hands out a :class:`~fuchun.run.checkpoint.RunState` every ``every`` steps.
"""

from __future__ import annotations

import time

import torch

from fuchun.config.options import Config
from fuchun.report.base import Progress, Reporter
from fuchun.run.checkpoint import RunState
from fuchun.run.optimise import Carry


class StopRequest(Exception):
    """Raised from the step callback when the reporter asks to stop; carries the image."""

    def __init__(self, image: torch.Tensor, scale: int) -> None:
        super().__init__("stop requested")
        self.image, self.scale = image, scale


class Clock:
    """Turns per-scale step callbacks into global :class:`Progress` reports, asks whether to
    stop, and hands out a :class:`RunState` every ``every`` steps (0: never)."""

    def __init__(self, total: int, cfg: Config, sizes: list[tuple[int, int]], *, every: int = 0) -> None:
        self.total, self.done, self.t0 = total, 0, time.perf_counter()
        self.cfg, self.sizes, self.every = cfg, sizes, every
        self.scale_step, self.carry = 0, Carry()

    def state(self, image: torch.Tensor, scale: int) -> RunState:
        """Where the run stands with ``image`` (1, 3, h, w) just evaluated at scale ``scale``."""
        carry = self.carry
        if carry.exp_avg is not None:  # Adam's live moments: copy them off the device now
            carry = Carry(carry.step, carry.exp_avg.detach().float().cpu(), carry.exp_avg_sq.detach().float().cpu())
        picture = image.detach().float().cpu().contiguous()
        return RunState(picture, scale, self.scale_step, self.done, self.total, self.sizes, self.cfg, carry)

    def hook(self, reporter: Reporter, scale: int, size: tuple[int, int], *, done: int = 0):
        self.scale_step = done

        def on_step(step, loss, terms, image):
            self.done += 1
            self.scale_step += 1
            reporter.step(
                Progress(
                    step=self.done,
                    steps=self.total,
                    scale=scale + 1,
                    n_scales=len(self.sizes),
                    size=size,
                    loss=float(sum(terms.values())),
                    terms=terms,
                    elapsed=time.perf_counter() - self.t0,
                    image=image,
                )
            )
            if self.done >= self.total:
                return
            if reporter.should_stop():
                raise StopRequest(image.detach().clamp(0, 1), scale)
            if self.every and self.done % self.every == 0:
                reporter.checkpoint(self.state(image.clamp(0, 1), scale))

        return on_step
