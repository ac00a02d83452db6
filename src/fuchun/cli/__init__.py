"""The command line: one module per sub-command (``stylize`` for stylize, texture and reconstruct,
``resume``, ``weights``, ``evaluate`` for eval, ``video``, ``batch``, ``article``, ``studio``), the
options made from the config (``options``), signals (``interrupts``) and the parser that
gathers them (``parser``).

:func:`main` catches the signals before it imports anything heavy, so that a Ctrl-C, a
SIGTERM or a SIGHUP while torch loads ends with one line instead of a traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fuchun`` command; returns the exit status."""
    received: list[int] = []

    def early(signum, frame) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    for sig in SIGNALS:
        signal.signal(sig, early)
    try:
        from fuchun.cli.parser import main as run
    except KeyboardInterrupt:
        print("fuchun: error: interrupted", file=sys.stderr)
        return 128 + (received[-1] if received else signal.SIGINT)
    return run(argv)


__all__ = ["main"]
