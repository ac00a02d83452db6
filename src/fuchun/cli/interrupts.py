"""SIGINT, SIGTERM and SIGHUP on the command line: keep the picture, then stop.

Before a run's first step a signal ends the command at once (one line, exit status
128 + the signal's number). Once the run has started, the first signal asks it to stop
after the current step (:meth:`Interrupts.should_stop`, the engine's one way to stop):
the command then writes the picture so far and a checkpoint to resume from. A second
signal ends the command at once, writing nothing more.
"""

from __future__ import annotations

import signal
import sys

from fuchun.cli import SIGNALS
from fuchun.errors import Interrupted
from fuchun.report.base import Reporter, RunInfo


class Interrupts(Reporter):
    """A reporter whose ``should_stop`` turns True on the first signal during the run."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.running = False

    def install(self) -> Interrupts:
        """Handle SIGINT, SIGTERM and SIGHUP from now on."""
        for sig in SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def start(self, info: RunInfo) -> None:
        self.running = True

    def should_stop(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame) -> None:
        if not self.running or self.signum is not None:
            raise Interrupted(signum)
        self.signum = signum
        again = "Ctrl-C" if signum == signal.SIGINT else "a second signal"
        print(
            f"fuchun: {signal.Signals(signum).name}: stopping after this step ({again} quits at once)",
            file=sys.stderr,
            flush=True,
        )
