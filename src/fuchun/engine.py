"""One run from start to finish: pick the machine, load the network, go coarse to fine.

This is the layer between the public API (``fuchun.api``) and the pieces: it resizes the
images for each scale, builds that scale's objective, starts from the previous scale's
result, and reports through a :class:`Reporter`. It never prints or exits.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from fuchun.config.options import Config
from fuchun.config.parse import MAX_SIDE
from fuchun.controls.masks import fit_masks, masks_at_scale
from fuchun.errors import Stopped
from fuchun.features import VGGFeatures
from fuchun.io.read import check_min_size, read_image, resize_image
from fuchun.machine import Machine, pick_machine
from fuchun.memory import MemoryPlanError, Plan, available_bytes, largest_side, plan
from fuchun.objective import Objective
from fuchun.optimize import Carry, optimise
from fuchun.report.base import Progress, Reporter, RunInfo
from fuchun.weights.sources import load_weights

SCALE_RATIO = math.sqrt(2)  # each scale has twice the pixels of the one before
MEMORY_SHARE = 0.9  # of the free memory a run may plan to use


@dataclass
class Job:
    """What to make: the content image (or None), the style images and their blend or masks."""

    content: torch.Tensor | None  # (3, H, W) in [0, 1]
    styles: list[torch.Tensor] = field(default_factory=list)
    blend: list[float] | None = None
    masks: list[torch.Tensor] | None = None  # one (1, H, W) mask per style (fuchun.controls.masks)


def output_size(cfg: Config, job: Job) -> tuple[int, int]:
    """(W, H) of the picture: the size option applied to the content's (or style's) aspect."""
    if isinstance(cfg.size, tuple):
        return cfg.size
    if not isinstance(cfg.size, int):
        raise ValueError(f"size {cfg.size!r} must be resolved to pixels before the run")
    ref = job.content if job.content is not None else job.styles[0]
    h, w = ref.shape[-2:]
    scale = cfg.size / max(h, w)
    return max(1, round(w * scale)), max(1, round(h * scale))


def scale_sizes(cfg: Config, final: tuple[int, int]) -> list[tuple[int, int]]:
    """(W, H) of every scale, smallest first, the last being ``final``."""
    longest = max(final)
    if cfg.scales == "none":
        sides = [longest]
    elif cfg.scales == "auto":
        sides = [longest]
        while sides[0] / SCALE_RATIO >= cfg.coarsest * 0.99:
            sides.insert(0, round(sides[0] / SCALE_RATIO))
    else:
        sides = [s for s in cfg.scales if s < longest] + [longest]
    return [(max(1, round(final[0] * s / longest)), max(1, round(final[1] * s / longest))) for s in sides]


def scale_steps(total: int, sizes: list[tuple[int, int]]) -> list[int]:
    """Split the step budget over the scales, summing to ``total``: each scale gets a floor of
    an eighth of the budget, and the rest goes in proportion to 1/pixels (twice as many
    steps per halving of the pixels: most work where it is cheap)."""
    n = len(sizes)
    floor = min(max(1, total // 8), total // n)
    shares = [1.0 / (w * h) for w, h in sizes]
    rest = total - floor * n
    steps = [floor + int(rest * s / sum(shares)) for s in shares]
    steps[0] += total - sum(steps)  # rounding leftovers go to the cheapest scale
    return steps


def load_network(cfg: Config, machine: Machine, reporter: Reporter) -> tuple[VGGFeatures, str]:
    """The configured pretrained network on the run's device, and its weights' SHA-256."""
    weights = load_weights(cfg.backbone, weights_file=cfg.weights, progress=reporter.message)
    net = VGGFeatures(
        weights.spec.arch, state_dict=weights.state_dict, pooling=cfg.pooling, input_format=weights.spec.input_format
    )
    return net.to(machine.device, memory_format=torch.channels_last), weights.sha256


def run(cfg: Config, job: Job, reporter: Reporter | None = None, *, net: VGGFeatures | None = None) -> torch.Tensor:
    """Make the picture of ``job`` under ``cfg``; returns (3, H, W) in [0, 1] on the CPU.

    ``net`` replaces the configured pretrained network (tests pass a tiny random one).
    """
    reporter = reporter or Reporter()
    cfg = cfg.resolved()
    machine = pick_machine(cfg.device, cfg.precision)
    if net is None:
        net, sha256 = load_network(cfg, machine, reporter)
    else:
        net, sha256 = net.to(machine.device, memory_format=torch.channels_last), "none (network given)"
    cfg, memory = fit_memory(cfg, job, net, machine)
    final = output_size(cfg, job)
    job = dataclasses.replace(job, masks=fit_masks(job.masks, final, sigma=cfg.mask_feather))
    net.checkpoint_blocks = memory.checkpoint
    sizes = scale_sizes(cfg, final)
    steps = scale_steps(cfg.steps, sizes)
    reporter.start(
        RunInfo(
            backbone=cfg.backbone,
            weights_sha256=sha256,
            device=str(machine.device),
            precision=machine.precision,
            sizes=sizes,
            steps=steps,
            config=cfg,
        )
    )
    image, warned, carry = None, set(), Carry()
    clock = Clock(sum(steps))
    try:
        for index, (size, n_steps) in enumerate(zip(sizes, steps)):
            objective = _objective(net, cfg, job, size, machine, lean=memory.checkpoint)
            for w in objective.warnings:
                if w not in warned:
                    warned.add(w)
                    reporter.warning(w)
            start = _initial(cfg, job, size, image, machine)
            image = _optimise_scale(
                objective,
                start,
                steps=n_steps,
                optimizer=cfg.optimizer,
                lr=cfg.lr,
                history=memory.history,
                on_step=clock.hook(reporter, index, len(sizes), size),
                carry=carry,
            )
    except _StopRequest as stop:
        picture = F.interpolate(stop.image.float(), size=final[::-1], mode="bicubic", align_corners=False)
        raise Stopped(picture.clamp(0, 1)[0].cpu(), step=clock.done, steps=clock.total) from None
    return image[0].float().cpu()


class _StopRequest(Exception):
    """Raised from the step callback when the reporter asks to stop; carries the image."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__("stop requested")
        self.image = image


def _optimise_scale(objective: Objective, start: torch.Tensor, **kw) -> torch.Tensor:
    """optimise(), with an out-of-memory failure turned into the planner's advice."""
    try:
        return optimise(objective, start, **kw)
    except torch.OutOfMemoryError:
        h, w = start.shape[-2:]
        raise MemoryPlanError(f"ran out of memory at {w}x{h} px; try a smaller --size or --size max") from None


def fit_memory(cfg: Config, job: Job, net: VGGFeatures, machine: Machine) -> tuple[Config, Plan]:
    """Resolve ``--size max`` and plan the final scale's memory (MemoryPlanError if it can't fit)."""
    layers = [*cfg.content_layers, *cfg.style_layers, *cfg.shifts, *cfg.hist_layers]
    hist = [net.channels(n) / 4 ** (int(n[4]) - 1) for n in cfg.hist_layers] if cfg.hist_weight > 0 else []
    kw = dict(
        arch=net.arch,
        deepest=net.deepest(layers),
        precision=machine.precision,
        optimizer=cfg.optimizer,
        hist_channels=int(max(hist, default=0)),
    )
    budget = int(available_bytes(machine.device) * MEMORY_SHARE)
    if cfg.size == "max":
        ref = output_size(dataclasses.replace(cfg, size=1024), job)
        cfg = dataclasses.replace(cfg, size=min(largest_side(ref, budget=budget, **kw), MAX_SIDE))
    return cfg, plan(output_size(cfg, job), budget=budget, history=cfg.lbfgs_history, **kw)


class Clock:
    """Turns per-scale step callbacks into global :class:`Progress` reports."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.t0 = total, 0, time.perf_counter()

    def hook(self, reporter: Reporter, scale: int, n_scales: int, size: tuple[int, int]):
        def on_step(step, loss, terms, image):
            self.done += 1
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
            if self.done < self.total and reporter.should_stop():
                raise _StopRequest(image.detach().clamp(0, 1))

        return on_step


def _to_scale(image: torch.Tensor, size: tuple[int, int], machine: Machine, *, name: str) -> torch.Tensor:
    """(3, H, W) -> (1, 3, h, w) on the run's device, at ``size`` = (w, h)."""
    out = resize_image(image, size=size)
    check_min_size(out, name=name)
    return out.unsqueeze(0).to(machine.device).contiguous(memory_format=torch.channels_last)


def style_size(cfg: Config, size: tuple[int, int], style: torch.Tensor) -> tuple[int, int]:
    """(W, H) of a style image at this scale: its aspect, longest side = output × style_scale."""
    side = cfg.style_size if cfg.style_size is not None else max(size) * cfg.style_scale
    h, w = style.shape[-2:]
    k = side / max(h, w)
    return max(1, round(w * k)), max(1, round(h * k))


def _objective(net, cfg: Config, job: Job, size, machine: Machine, *, lean: bool = False) -> Objective:
    content = None if job.content is None else _to_scale(job.content, size, machine, name="content image")
    styles = [_to_scale(s, style_size(cfg, size, s), machine, name="style image") for s in job.styles]
    masks = masks_at_scale(job.masks, size, machine.device)
    return Objective(
        net,
        cfg,
        content=content,
        styles=styles,
        blend=job.blend,
        masks=masks,
        autocast=machine.autocast,
        lean=lean,
        grad_scale=machine.grad_scale,
    )


def _initial(cfg: Config, job: Job, size, previous: torch.Tensor | None, machine: Machine) -> torch.Tensor:
    """The start image of a scale: the previous result upsampled, or the configured init."""
    w, h = size
    if previous is not None:
        return F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    gen = torch.Generator().manual_seed(cfg.seed)
    if cfg.init == "content":
        if job.content is None:
            raise ValueError("init 'content' needs a content image; use --init noise")
        return _to_scale(job.content, size, machine, name="content image")
    if cfg.init == "noise":
        noise = torch.rand(1, 3, h, w, generator=gen)
    elif cfg.init == "style-mean":
        if not job.styles:
            raise ValueError("init 'style-mean' needs a style image")
        mean = torch.stack([s.mean((-2, -1)) for s in job.styles]).mean(0).view(1, 3, 1, 1)
        noise = (mean + 0.1 * torch.randn(1, 3, h, w, generator=gen)).clamp(0, 1)
    else:
        return _to_scale(read_image(cfg.init), size, machine, name="init image")
    return noise.to(machine.device).contiguous(memory_format=torch.channels_last)
