"""Every exception fuchun raises on purpose, in one place.

Each carries one clear sentence for the user. The command line turns any
:class:`FuchunError` into one ``fuchun: error: ...`` line and a non-zero exit status; the
Python API lets them propagate. :class:`Stopped` is not a failure: a run asked to stop
(a signal, the studio's Stop button) hands back its current picture with it.
"""

from __future__ import annotations

from typing import Any

import torch


def one_line(text: object) -> str:
    """``text`` with every run of white space (newlines included) folded to one space."""
    return " ".join(str(text).split())


class FuchunError(Exception):
    """Base of every user-facing fuchun error (the message is one sentence).

    ``exit_status`` is the command line's exit status for it: 2 for bad input, 1 for a run
    that failed.
    """

    exit_status = 1


class UsageError(FuchunError, ValueError):
    """A bad command line (argparse's own errors are routed here)."""

    exit_status = 2


class ConfigFileError(FuchunError, ValueError):
    """A config file that cannot be read or holds a bad option (one line, names the file)."""

    exit_status = 2


class ImageError(FuchunError, ValueError):
    """A user-facing image problem (one clear sentence, includes the path)."""

    exit_status = 2


class TraceError(FuchunError, ValueError):
    """The trace directory cannot be used or written."""

    exit_status = 2


class WeightsError(FuchunError, RuntimeError):
    """One-line user-facing weights problem (says what to run)."""


class DeviceError(FuchunError, RuntimeError):
    """The requested device or precision is not available on this machine."""

    exit_status = 2


class MemoryPlanError(FuchunError, RuntimeError):
    """The run would not fit in memory; the message says the largest size that does."""


class ResumeError(FuchunError, ValueError):
    """A checkpoint that cannot be resumed (missing, not a checkpoint, damaged, inputs gone)."""

    exit_status = 2


class NonFiniteLoss(FuchunError, RuntimeError):
    """The loss became NaN or infinite; ``image`` is the last image with a finite loss."""

    def __init__(self, step: int, image: torch.Tensor) -> None:
        super().__init__(f"the loss became non-finite at step {step}; kept the last good image")
        self.step, self.image = step, image


class ImageWarning(UserWarning):
    """An image was read with less than its full precision (the command line shows one line)."""


class Stopped(Exception):
    """A run was asked to stop (``Reporter.should_stop``) and ended early.

    ``image`` is the picture so far, (3, H, W) float in [0, 1] on the CPU, at the run's
    final output size (upsampled when the run stopped at a coarser scale); ``state`` is a
    :class:`fuchun.run.checkpoint.RunState` to resume the run from (``None`` where there is none).
    """

    def __init__(self, image: torch.Tensor, *, step: int, steps: int, state: Any = None) -> None:
        super().__init__(f"stopped at step {step} of {steps}")
        self.image, self.step, self.steps, self.state = image, step, steps, state


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) that ends the command at once: ``signum`` gives the exit status."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum
