"""Counting a run's steps over its schedule, asking whether to stop, handing out checkpoints.

The engine optimises one level at a time; :class:`Clock` turns each level's step callbacks
into the run's :class:`~fuchun.report.base.Progress` reports, asks the reporter whether to
stop (raising :class:`StopRequest`, which the engine turns into :class:`fuchun.errors.Stopped`),
hands out a :class:`~fuchun.run.checkpoint.RunState` every ``every`` steps, and places a
resumed run in its schedule.
"""

from __future__ import annotations

import time

import torch

from fuchun.config.options import Config
from fuchun.errors import ResumeError
from fuchun.report.base import Progress, Reporter
from fuchun.run.checkpoint import RunState
from fuchun.run.optimise import Carry
from fuchun.run.schedule import Schedule


class StopRequest(Exception):
    """Raised from the step callback when the reporter asks to stop; carries the image."""

    def __init__(self, image: torch.Tensor, scale: int) -> None:
        super().__init__("stop requested")
        self.image, self.scale = image, scale


class Clock:
    """Where a run stands in its :class:`Schedule`: steps done in all and in the current level."""

    def __init__(self, schedule: Schedule, cfg: Config, *, every: int = 0) -> None:
        self.schedule, self.cfg, self.every = schedule, cfg, every
        self.total, self.done, self.t0 = schedule.total, 0, time.perf_counter()
        self.scale_step, self.carry = 0, Carry()
        self.first, self.within = 0, False  # the first level to run, and whether it goes on mid-level

    def resume(self, state: RunState | None, device: torch.device) -> torch.Tensor | None:
        """Go on from a stopped run's ``state``: the image to start from (None for a new run).

        The same schedule from the level and step it stood at, so that the steps add up to an
        uninterrupted run's; ResumeError where the checkpoint's schedule is not this run's."""
        if state is None:
            return None
        if state.sizes != self.schedule.sizes or state.steps != self.total:
            raise ResumeError(
                f"the checkpoint's schedule ({state.steps} steps over {len(state.sizes)} scales) is not this run's"
            )
        self.done, self.scale_step, self.carry = state.step, state.scale_step, state.carry
        if state.scale_step >= self.schedule.levels[state.scale].steps:  # it stopped at a level's end
            self.first, self.within, self.scale_step = state.scale + 1, False, 0
        else:
            self.first, self.within = state.scale, True
        return state.image.to(device).contiguous(memory_format=torch.channels_last)

    def left(self, index: int) -> int:
        """Steps still to run in level ``index``."""
        return self.schedule.levels[index].steps - (self.scale_step if index == self.first else 0)

    def state(self, image: torch.Tensor, scale: int) -> RunState:
        """Where the run stands with ``image`` (1, 3, h, w) just evaluated at level ``scale``."""
        carry = self.carry
        if carry.exp_avg is not None:  # Adam's live moments: copy them off the device now
            carry = Carry(carry.step, carry.exp_avg.detach().float().cpu(), carry.exp_avg_sq.detach().float().cpu())
        picture = image.detach().float().cpu().contiguous()
        sizes = self.schedule.sizes
        return RunState(picture, scale, self.scale_step, self.done, self.total, sizes, self.cfg, carry)

    def hook(self, reporter: Reporter, scale: int):
        """The step callback of level ``scale``."""
        self.scale_step = self.scale_step if scale == self.first else 0
        size, n_scales = self.schedule.levels[scale].size, len(self.schedule.levels)

        def on_step(step, loss, terms, image):
            self.done += 1
            self.scale_step += 1
            reporter.step(
                Progress(
                    step=self.done,
                    steps=self.total,
                    scale=scale + 1,
                    n_scales=n_scales,
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
