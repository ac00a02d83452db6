"""``fuchun resume CHECKPOINT``: finish the run a checkpoint stopped, with its options, inputs and output.

The checkpoint of ``-o OUT`` is ``OUT.checkpoint.safetensors`` beside it
(:func:`fuchun.run.checkpoint.checkpoint_path`, kept by :class:`fuchun.cli.stylize.CheckpointWriter`).
Besides the engine's state it keeps what the command line needs to rebuild the run: the mode,
the absolute input paths, the output and its bit depth.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from fuchun.cli.interrupts import Interrupts
from fuchun.cli.stylize import run_command
from fuchun.errors import ResumeError
from fuchun.run.checkpoint import RunState, load_checkpoint


def add_parsers(sub) -> None:
    r = sub.add_parser("resume", help="finish a run that was stopped, from its checkpoint")
    r.add_argument("checkpoint", help="the OUTPUT.checkpoint.safetensors file a stopped run left beside its output")


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Finish the run a checkpoint stopped, with its options, inputs and output."""
    run_ns, options, state = resume_namespace(ns.checkpoint)
    if not options.get("quiet"):
        print(
            f"fuchun: resuming {ns.checkpoint} at step {state.step} of {state.steps} "
            f"(scale {state.scale + 1} of {len(state.sizes)}), writing {run_ns.output}",
            file=sys.stderr,
        )
    return run_command(run_ns, options, interrupts=interrupts, resume=state)


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
    return {f.name: getattr(state.config, f.name) for f in dataclasses.fields(state.config)}
