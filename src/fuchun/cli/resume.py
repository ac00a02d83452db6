"""Checkpoints on the command line: keep them while a run goes, write one when it stops,
and ``fuchun resume CHECKPOINT`` to finish the run.

The checkpoint of ``-o OUT`` is ``OUT.checkpoint.safetensors`` beside it
(:func:`fuchun.run.checkpoint.checkpoint_path`). Every ``--checkpoint-every`` steps the picture so
far goes to ``OUT`` and the checkpoint is renewed, both atomically, so even a killed
process leaves a picture and a place to go on from; a finished run removes its checkpoint.
Besides the engine's state, a checkpoint keeps what the command line needs to rebuild
the run: the mode, the absolute input paths, the output and its bit depth.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Any

from fuchun.config.options import INITS
from fuchun.errors import ImageError, ResumeError, Stopped
from fuchun.io.write import write_image
from fuchun.report.base import Reporter
from fuchun.run.checkpoint import RunState, checkpoint_path, load_checkpoint, save_checkpoint


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
        """Write the stopped run's picture and checkpoint, and say so in one line."""
        if stop.state is None:
            write_image(stop.image, self.output, bit_depth=self.bit_depth, protect=self.protect)
            print(f"fuchun: stopped at step {stop.step} of {stop.steps}; wrote {self.output}", file=sys.stderr)
            return
        path = self.write(stop.state, stop.image)
        print(
            f"fuchun: stopped at step {stop.step} of {stop.steps}; wrote the picture so far to {self.output} "
            f"and a checkpoint: fuchun resume {path}",
            file=sys.stderr,
            flush=True,
        )

    def finished(self) -> None:
        """The run is complete: its checkpoint is of no more use."""
        self.path.unlink(missing_ok=True)


def resume_namespace(path: str) -> tuple[argparse.Namespace, dict, RunState]:
    """(the command line, the options, the state) of the run a checkpoint file stopped."""
    state, record = load_checkpoint(path)
    try:
        ns = argparse.Namespace(
            command=record["mode"],
            content=record["content"],
            style=list(record["style"]) or None,
            style_blend=record["style_blend"],
            output=record["output"],
            bit_depth=int(record["bit_depth"]),
            config=None,
        )
    except (KeyError, TypeError, ValueError):
        raise ResumeError(f"checkpoint '{path}' was not written by the command line") from None
    for image in [ns.content, *(ns.style or [])]:
        if image is not None and not os.path.isfile(image):
            raise ResumeError(f"cannot resume: input image '{image}' is gone")
    options = {k: v for k, v in _options(state).items() if k != "trace"}  # a trace covers whole runs only
    return ns, options, state


def _options(state: RunState) -> dict:
    """The state's config as keyword options (every field)."""
    import dataclasses

    return {f.name: getattr(state.config, f.name) for f in dataclasses.fields(state.config)}
