"""What a run makes: the photo, the paintings and the controls of one picture, and its size."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fuchun.config.options import Config
from fuchun.io.read import check_min_size, fit_longest, resize_image
from fuchun.losses.temporal import TemporalTarget


@dataclass
class Job:
    """What to make: the content image (or None), the style images and their blend or masks."""

    content: torch.Tensor | None  # (3, H, W) in [0, 1]
    styles: list[torch.Tensor] = field(default_factory=list)
    blend: list[float] | None = None
    masks: list[torch.Tensor] | None = None  # one (1, H, W) mask per style (fuchun.controls.masks)
    start: torch.Tensor | None = None  # (3, H, W): the start image, in place of the configured init
    temporal: TemporalTarget | None = None  # a video frame's pull towards the previous one, at the frame's size


def output_size(cfg: Config, job: Job) -> tuple[int, int]:
    """(W, H) of the picture: the size option applied to the content's (or first style's) aspect."""
    if isinstance(cfg.size, tuple):
        return cfg.size
    if not isinstance(cfg.size, int):
        raise ValueError(f"size {cfg.size!r} must be resolved to pixels before the run")
    ref = job.content if job.content is not None else job.styles[0]
    h, w = ref.shape[-2:]
    return fit_longest((w, h), cfg.size)


def image_at(image: torch.Tensor, size: tuple[int, int], device: torch.device, *, name: str) -> torch.Tensor:
    """(3, H, W) -> (1, 3, h, w) channels-last on ``device``, at ``size`` = (w, h)."""
    out = resize_image(image, size=size)
    check_min_size(out, name=name)
    return out.unsqueeze(0).to(device).contiguous(memory_format=torch.channels_last)
