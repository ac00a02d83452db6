"""``fuchun stylize``, ``texture`` and ``reconstruct``: one picture, written to ``-o``.

Every ``--checkpoint-every`` steps the picture so far goes to ``-o`` and a checkpoint beside it
(``OUT.checkpoint.safetensors``), both atomically, so even a killed process leaves a picture and
a place to go on from; a finished run removes its checkpoint. A signal stops the run after its
current step (:mod:`fuchun.cli.interrupts`): the picture so far is written to ``-o`` with a
checkpoint, and ``fuchun resume`` (:mod:`fuchun.cli.resume`) finishes the run.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import sys
from typing import Any

from fuchun.api import picture_options, render
from fuchun.cli.interrupts import Interrupts
from fuchun.cli.options import add_config_options, add_style_blend, config_options
from fuchun.config.options import INITS
from fuchun.errors import ImageError, Stopped
from fuchun.io.write import write_image
from fuchun.report.bar import BarReporter
from fuchun.report.base import MultiReporter, Reporter
from fuchun.run.checkpoint import RunState, checkpoint_path, save_checkpoint

# name -> (help, positionals: (name, nargs, help))
MODES = {
    "stylize": (
        "repaint a photo in the style of one or more paintings",
        [("content", None, "the photo"), ("style", "+", "style image(s)")],
    ),
    "texture": ("synthesise a texture from a style image, starting from noise", [("style", "+", "style image(s)")]),
    "reconstruct": ("rebuild a photo from noise with the content loss alone", [("content", None, "the photo")]),
}


def add_parsers(sub) -> None:
    """The three sub-commands that make one picture."""
    for name, (help_text, positionals) in MODES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        for pos, nargs, pos_help in positionals:
            p.add_argument(pos, nargs=nargs, help=pos_help)
        p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .tif)")
        p.add_argument(
            "--bit-depth", type=int, choices=(8, 16), default=None, help="bits per channel of the output (default: 8)"
        )
        p.add_argument(
            "--config", metavar="FILE", help="read options from a TOML file or a trace.json (flags given here win)"
        )
        if name == "stylize":
            add_style_blend(p)
        add_config_options(p, name)


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    return run_command(ns, config_options(ns), interrupts=interrupts)


def run_command(
    ns: argparse.Namespace, options: dict, *, interrupts: Interrupts | None = None, resume: RunState | None = None
) -> int:
    """Make the picture of ``ns.command`` and write it (``resume``: go on from a stopped run's state).

    A stopped run writes its picture and a checkpoint and exits with 128 + the signal's number.
    """
    options = absolute_inputs(options)
    blend = getattr(ns, "style_blend", None)
    if blend is not None and len(blend) != len(ns.style):
        raise ValueError(f"--style-blend has {len(blend)} weights for {len(ns.style)} style images")
    inputs = [p for p in [getattr(ns, "content", None), *(getattr(ns, "style", None) or [])] if p]
    bar = BarReporter(quiet=options.get("quiet", False), snapshot=_snapshots(pathlib.Path(ns.output), inputs, options))
    writer = CheckpointWriter(ns, inputs)
    try:
        render(
            ns.command,
            content=getattr(ns, "content", None),
            style=getattr(ns, "style", None),
            style_blend=blend,
            reporter=MultiReporter(*(r for r in (bar, interrupts, writer) if r is not None)),
            resume=resume,
            output=ns.output,
            bit_depth=ns.bit_depth,
            trace_extra={"config_file": getattr(ns, "config", None), "options": _reporting(options)},
            **picture_options(options),
        )
    except Stopped as stop:
        bar.close()
        writer.stopped(stop)
        return 128 + (interrupts.signum if interrupts is not None and interrupts.signum else signal.SIGINT)
    finally:
        bar.close()
    writer.finished()
    bar.done(ns.output)
    return 0


def absolute_inputs(options: dict) -> dict:
    """``options`` with mask and init-image paths made absolute (a checkpoint may resume elsewhere)."""
    out = dict(options)
    if out.get("masks"):
        out["masks"] = tuple(os.path.abspath(m) for m in out["masks"])
    if out.get("init") and out["init"] not in INITS:
        out["init"] = os.path.abspath(out["init"])
    return out


def run_record(ns: argparse.Namespace) -> dict[str, Any]:
    """What a checkpoint keeps of the command line besides the engine's state."""
    content = getattr(ns, "content", None)
    return {
        "mode": ns.command,
        "content": None if content is None else os.path.abspath(content),
        "style": [os.path.abspath(s) for s in getattr(ns, "style", None) or []],
        "style_blend": getattr(ns, "style_blend", None),
        "output": os.path.abspath(ns.output),
        "bit_depth": ns.bit_depth,
    }


class CheckpointWriter(Reporter):
    """Keeps the latest picture at the output and the checkpoint beside it."""

    def __init__(self, ns: argparse.Namespace, protect: list) -> None:
        self.output, self.bit_depth, self.protect = pathlib.Path(ns.output), ns.bit_depth, protect
        self.path = checkpoint_path(self.output)
        self.record = run_record(ns)
        self.failed = False

    def checkpoint(self, state: RunState) -> None:
        if self.failed:
            return
        try:
            self.write(state, state.picture())
        except (OSError, ImageError) as exc:  # the run goes on; the final write will say what is wrong
            self.failed = True
            print(f"fuchun: warning: no more checkpoints: {' '.join(str(exc).split())}", file=sys.stderr)

    def write(self, state: RunState, picture) -> pathlib.Path:
        """The picture to the output, then the checkpoint (OSError/ImageError if either fails)."""
        write_image(picture, self.output, bit_depth=self.bit_depth, protect=self.protect)
        return save_checkpoint(state, self.path, extra=self.record)

    def stopped(self, stop: Stopped) -> None:
        """Write a stopped run's checkpoint (its picture is at the output already) and say so in one line."""
        if stop.state is None:
            print(f"fuchun: stopped at step {stop.step} of {stop.steps}; wrote {self.output}", file=sys.stderr)
            return
        path = save_checkpoint(stop.state, self.path, extra=self.record)
        print(
            f"fuchun: stopped at step {stop.step} of {stop.steps}; wrote the picture so far to {self.output} "
            f"and a checkpoint: fuchun resume {path}",
            file=sys.stderr,
            flush=True,
        )

    def finished(self) -> None:
        """The run is complete: its checkpoint is of no more use."""
        self.path.unlink(missing_ok=True)


def _reporting(options: dict) -> dict:
    """The command line's own reporting options as the trace records them."""
    return {"quiet": bool(options.get("quiet", False)), "save_every": int(options.get("save_every", 0))}


def _snapshots(output: pathlib.Path, inputs: list, options: dict):
    """``--save-every N``: write the picture every N steps beside the output (None: never)."""
    every = options.get("save_every", 0)
    if not every:
        return None

    def snapshot(progress) -> None:
        if progress.step % every == 0:
            path = output.with_name(f"{output.stem}.step{progress.step:05d}{output.suffix}")
            write_image(progress.image[0].float().clamp(0, 1).cpu(), path, protect=inputs)

    return snapshot
