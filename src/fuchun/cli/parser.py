"""The ``fuchun`` command line: the parser of every sub-command, and ``main(argv) -> int``.

Each sub-command is one module of this package with ``add_parsers(sub)`` and
``command(ns, interrupts) -> int``; the run options come from :class:`fuchun.config.options.Config`
(:mod:`fuchun.cli.options`), so ``fuchun --help`` is the list. Any
:class:`fuchun.errors.FuchunError` becomes one ``fuchun: error: ...`` line and its
``exit_status`` (2 bad input, 1 the run failed), and a warning one ``fuchun: warning: ...`` line.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import torch

from fuchun.cli import article, batch, evaluate, resume, studio, stylize, video, weights
from fuchun.cli.interrupts import Interrupts
from fuchun.errors import FuchunError, Interrupted, UsageError, one_line

COMMANDS = (stylize, resume, weights, evaluate, video, batch, article, studio)  # in the help's order


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump, exit status 2 via main()
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with its sub-commands; each sets ``ns.run`` to its command."""
    parser = _Parser(prog="fuchun", description="Neural style transfer by image iteration on a pretrained VGG.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMANDS:
        before = set(sub.choices)
        module.add_parsers(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(run=module.command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fuchun`` command; returns the exit status."""
    with warnings.catch_warnings():
        warnings.showwarning = _warn
        try:
            interrupts = Interrupts().install()
            ns = build_parser().parse_args(argv)
            return ns.run(ns, interrupts)
        except Interrupted as exc:
            return _fail("interrupted", 128 + exc.signum)
        except FuchunError as exc:
            return _fail(str(exc), exc.exit_status)
        except ValueError as exc:  # an option value checked outside the parser
            return _fail(str(exc), 2)
        except torch.OutOfMemoryError:
            return _fail("out of memory: try a smaller --size, --precision bf16 or --device cpu", 1)
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except OSError as exc:  # a file system failure no check above foresaw: one line, not a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}", 1)


def _warn(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001 - warnings' signature
    """Show a warning as one ``fuchun: warning: ...`` line."""
    print(f"fuchun: warning: {one_line(message)}", file=sys.stderr)


def _fail(message: str, status: int) -> int:
    print(f"fuchun: error: {one_line(message)}", file=sys.stderr)
    return status
