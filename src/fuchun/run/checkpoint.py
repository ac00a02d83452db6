"""Resumable checkpoints: where a run stands, written to one safetensors file and read back.

A :class:`RunState` is what the engine hands out when a run stops (``Stopped.state``) and
every ``checkpoint_every`` steps (``Reporter.checkpoint``): the picture at the current
scale, the scale and the steps done, the resolved config and Adam's moments (L-BFGS
starts afresh at each scale and when a run resumes, so it has none to keep).

A checkpoint file is one safetensors file, written atomically (:mod:`fuchun.io.atomic`):
the tensors ``image`` (1, 3, h, w) and, for Adam, ``adam.exp_avg`` and ``adam.exp_avg_sq``;
its metadata ``fuchun.checkpoint`` holds a JSON object with the run's place in its schedule,
its options and whatever the caller adds (the command line keeps the input paths, the
output path and its own flags there). No pickles: tensors and JSON only.
"""

from __future__ import annotations

import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from fuchun.config.files import options_from_mapping
from fuchun.config.options import Config
from fuchun.errors import ConfigFileError, ResumeError
from fuchun.io.atomic import write_atomic
from fuchun.report.trace import config_dict
from fuchun.run.optimise import Carry

FORMAT = 1
KEY = "fuchun.checkpoint"
SUFFIX = ".checkpoint.safetensors"
NAME_MAX = 255


@dataclass
class RunState:
    """A run's place in its schedule, enough to go on from it."""

    image: torch.Tensor  # (1, 3, h, w) float32 on the CPU, at the current scale
    scale: int  # index of the scale it stands in
    scale_step: int  # steps done in that scale
    step: int  # steps done in all
    steps: int  # steps of the whole run
    sizes: list[tuple[int, int]]  # (W, H) of every scale
    config: Config  # resolved, the size in pixels
    carry: Carry = field(default_factory=Carry)  # Adam's moments (empty for L-BFGS)

    def picture(self) -> torch.Tensor:
        """The picture so far at the run's output size: (3, H, W) in [0, 1] on the CPU."""
        w, h = self.sizes[-1]
        out = F.interpolate(self.image.float(), size=(h, w), mode="bicubic", align_corners=False)
        return out.clamp(0, 1)[0]


def checkpoint_path(output: str | os.PathLike) -> pathlib.Path:
    """Where the checkpoint of a run writing ``output`` lives: beside it, named after it
    (shortened so that the name stays within the file system's 255-byte limit)."""
    out = pathlib.Path(output)
    name = out.name.encode()[: NAME_MAX - len(SUFFIX)].decode(errors="ignore")
    return out.with_name(name + SUFFIX)


def save_checkpoint(state: RunState, path: str | os.PathLike, *, extra: dict[str, Any] | None = None) -> pathlib.Path:
    """Write ``state`` (and the JSON-able ``extra``) to ``path`` atomically; OSError on failure."""
    tensors = {"image": state.image.detach().float().cpu().contiguous()}
    if state.carry.exp_avg is not None:
        tensors["adam.exp_avg"] = state.carry.exp_avg.detach().float().cpu().contiguous()
        tensors["adam.exp_avg_sq"] = state.carry.exp_avg_sq.detach().float().cpu().contiguous()
    record = {
        "format": FORMAT,
        "scale": state.scale,
        "scale_step": state.scale_step,
        "step": state.step,
        "steps": state.steps,
        "sizes": [list(s) for s in state.sizes],
        "adam_step": state.carry.step,
        "options": config_dict(state.config),
        **(extra or {}),
    }
    return write_atomic(path, save(tensors, metadata={KEY: json.dumps(record)}))


def load_checkpoint(path: str | os.PathLike) -> tuple[RunState, dict[str, Any]]:
    """(the RunState, the whole JSON record) of a checkpoint file; ResumeError if it is not one."""
    source = os.fspath(path)
    try:
        with safe_open(source, framework="pt") as handle:
            record = json.loads((handle.metadata() or {})[KEY])
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118 - not a dict
    except FileNotFoundError:
        raise ResumeError(f"checkpoint '{source}' does not exist") from None
    except (SafetensorError, OSError, KeyError, ValueError, TypeError) as exc:
        raise ResumeError(f"'{source}' is not a fuchun checkpoint ({str(exc).splitlines()[0]})") from None
    try:
        return _state(record, tensors, source), record
    except (KeyError, TypeError, ValueError, ConfigFileError) as exc:
        raise ResumeError(f"checkpoint '{source}' is damaged: {exc}") from None


def _state(record: dict[str, Any], tensors: dict[str, torch.Tensor], source: str) -> RunState:
    if record.get("format") != FORMAT:
        raise ValueError(f"unknown format {record.get('format')!r} (this fuchun reads format {FORMAT})")
    image = tensors["image"]
    if image.dim() != 4 or image.shape[:2] != (1, 3) or not bool(torch.isfinite(image).all()):
        raise ValueError(f"its image has shape {tuple(image.shape)} or holds non-finite values")
    carry = Carry(step=int(record["adam_step"]), exp_avg=tensors.get("adam.exp_avg"))
    carry.exp_avg_sq = tensors.get("adam.exp_avg_sq")
    config = Config().updated(**options_from_mapping(record["options"], source=source))
    sizes = [(int(w), int(h)) for w, h in record["sizes"]]
    scale, scale_step, step, steps = (int(record[k]) for k in ("scale", "scale_step", "step", "steps"))
    if not (0 <= scale < len(sizes) and 0 <= step <= steps and 0 <= scale_step <= step):
        raise ValueError(f"scale {scale} of {len(sizes)}, step {step} of {steps}")
    return RunState(image, scale, scale_step, step, steps, sizes, config, carry)
