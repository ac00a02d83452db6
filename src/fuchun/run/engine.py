"""One run from start to finish: pick the machine, load the network, fit the memory, go coarse to fine.

For each level of the :class:`~fuchun.run.schedule.Schedule` the engine builds that level's
objective from the job's images at the level's sizes, starts from the previous level's picture
upsampled (or the configured start image), optimises, and reports through a :class:`Reporter`.
It never prints or exits.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from fuchun.config.options import Config
from fuchun.controls.masks import fit_masks, masks_at_scale
from fuchun.errors import MemoryPlanError, Stopped
from fuchun.io.read import MIN_SIDE, read_image, resize_image
from fuchun.losses.temporal import TemporalTarget
from fuchun.net.features import VGGFeatures
from fuchun.objective import Objective
from fuchun.report.base import Reporter, RunInfo
from fuchun.run.balance import style_factor
from fuchun.run.checkpoint import RunState
from fuchun.run.fit import fit
from fuchun.run.job import Job, image_at, output_size
from fuchun.run.machine import Machine, pick_machine
from fuchun.run.memory import release_freed_memory
from fuchun.run.optimise import optimise
from fuchun.run.progress import Clock, StopRequest
from fuchun.run.schedule import Level, Schedule, check_style_size
from fuchun.weights.sources import load_weights


def run(
    cfg: Config,
    job: Job,
    reporter: Reporter | None = None,
    *,
    net: VGGFeatures | None = None,
    resume: RunState | None = None,
) -> torch.Tensor:
    """Make the picture of ``job`` under ``cfg``; returns (3, H, W) in [0, 1] on the CPU.

    ``net`` replaces the configured pretrained network (tests pass a tiny random one).
    ``resume`` goes on from a stopped run's state (``Stopped.state``).
    """
    reporter = reporter or Reporter()
    cfg = cfg.resolved()
    machine = pick_machine(cfg.device, cfg.precision)
    net, sha256 = _network(cfg, machine, reporter, net)
    if cfg.size != "max":  # an option out of its range is the option's fault, before any planning
        check_style_size(cfg, output_size(cfg, job))
    cfg, memory = fit(cfg, job, net, machine)
    schedule = Schedule.of(cfg, output_size(cfg, job))
    job = dataclasses.replace(job, masks=fit_masks(job.masks, schedule.final.size, sigma=cfg.mask_feather))
    net.checkpoint_blocks = memory.checkpoint
    clock = Clock(schedule, cfg, every=cfg.checkpoint_every)
    image = clock.resume(resume, machine.device)
    info = RunInfo(cfg.backbone, sha256, str(machine.device), machine.precision, schedule.sizes, schedule.steps, cfg)
    reporter.start(info)
    warned: set[str] = set()
    try:
        for index in range(clock.first, len(schedule.levels)):
            level = schedule.levels[index]
            objective = _guarded(level, level_objective, net, cfg, job, level, machine, lean=memory.checkpoint)
            release_freed_memory()  # what the build freed, before the steps allocate theirs
            for w in dict.fromkeys(objective.warnings):
                if w not in warned:
                    warned.add(w)
                    reporter.warning(w)
            within = index == clock.first and clock.within
            start = image if within else start_image(cfg, job, level, image, machine)
            on_step = clock.hook(reporter, index)
            steps, history = clock.left(index), memory.history
            image = _guarded(
                level, optimise, objective, start, steps=steps, optimizer=cfg.optimizer, lr=cfg.lr,
                history=history, average=cfg.average, on_step=on_step, carry=clock.carry,
            )  # fmt: skip
            del objective, start  # free this level's targets before the next level builds its own,
            release_freed_memory()  # also where the optimiser's frames hold them in a reference cycle
    except StopRequest as stop:
        state = clock.state(stop.image, stop.scale)
        raise Stopped(state.picture(), step=clock.done, steps=clock.total, state=state) from None
    return image[0].float().cpu()


def load_network(cfg: Config, machine: Machine, reporter: Reporter) -> tuple[VGGFeatures, str]:
    """The configured pretrained network on the run's device, and its weights' SHA-256."""
    weights = load_weights(cfg.backbone, weights_file=cfg.weights, progress=reporter.message)
    net = VGGFeatures(
        weights.spec.arch, state_dict=weights.state_dict, pooling=cfg.pooling, input_format=weights.spec.input_format
    )
    return net.to(machine.device, memory_format=torch.channels_last), weights.sha256


def _network(cfg: Config, machine: Machine, reporter: Reporter, net: VGGFeatures | None) -> tuple[VGGFeatures, str]:
    if net is None:
        return load_network(cfg, machine, reporter)
    return net.to(machine.device, memory_format=torch.channels_last), "none (network given)"


def level_objective(
    net: VGGFeatures, cfg: Config, job: Job, level: Level, machine: Machine, *, lean: bool = False
) -> Objective:
    """The objective of one level: the job's images at its sizes, its style terms balanced at the
    photo (:mod:`fuchun.run.balance`)."""
    device = machine.device
    content = None if job.content is None else image_at(job.content, level.size, device, name="content image")
    styles = [image_at(s, level.style_size(s), device, name="style image") for s in job.styles]
    objective = Objective(
        net,
        cfg,
        content=content,
        styles=styles,
        blend=job.blend,
        masks=masks_at_scale(job.masks, level.size, device),
        temporal=_temporal_at(job.temporal, level.size, device),
        size=level.size,
        autocast=machine.autocast,
        grad_scale=machine.grad_scale,
        lean=lean,
    )
    objective.style_factor = style_factor(objective, content, cap=cfg.style_pull)
    if any(level.style_size(s, clamp=False) != level.style_size(s) for s in job.styles):
        option = (
            f"--style-size {cfg.style_size}" if cfg.style_size is not None else f"--style-scale {cfg.style_scale:g}"
        )
        objective.warnings.append(
            f"{option} makes a style image smaller than the network's minimum of {MIN_SIDE} px at some scales; "
            f"it is enlarged to {MIN_SIDE} px there"
        )
    return objective


def _temporal_at(target: TemporalTarget | None, size: tuple[int, int], device) -> TemporalTarget | None:
    """A video frame's temporal target resized to a level: (1, 3, h, w) and (1, 1, h, w) on ``device``."""
    if target is None:
        return None
    warped = resize_image(target.warped, size=size).unsqueeze(0).to(device)
    mask = resize_image(target.mask.expand(3, -1, -1), size=size)[:1].clamp(0, 1)
    return TemporalTarget(warped, mask.unsqueeze(0).to(device), target.weight)


def start_image(cfg: Config, job: Job, level: Level, previous: torch.Tensor | None, machine: Machine) -> torch.Tensor:
    """The start image of a level: the previous level's picture upsampled, or the configured init."""
    w, h = level.size
    if previous is not None:
        return F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    device = machine.device
    gen = torch.Generator().manual_seed(cfg.seed)
    if job.start is not None:
        return image_at(job.start, level.size, device, name="start image")
    if cfg.init == "content":
        if job.content is None:
            raise ValueError("init 'content' needs a content image; use --init noise")
        return image_at(job.content, level.size, device, name="content image")
    if cfg.init == "noise":
        noise = torch.rand(1, 3, h, w, generator=gen)
    elif cfg.init == "style-mean":
        if not job.styles:
            raise ValueError("init 'style-mean' needs a style image")
        mean = torch.stack([s.mean((-2, -1)) for s in job.styles]).mean(0).view(1, 3, 1, 1)
        noise = (mean + 0.1 * torch.randn(1, 3, h, w, generator=gen)).clamp(0, 1)
    else:
        return image_at(read_image(cfg.init), level.size, device, name="init image")
    return noise.to(device).contiguous(memory_format=torch.channels_last)


def _guarded(level: Level, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, with an allocator's failure (CUDA's, or the CPU allocator's
    RuntimeError) turned into the planner's advice."""
    try:
        return fn(*args, **kwargs)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if isinstance(exc, torch.OutOfMemoryError) or "DefaultCPUAllocator: can't allocate" in str(exc):
            w, h = level.size
            raise MemoryPlanError(f"ran out of memory at {w}x{h} px; try a smaller --size or --size max") from None
        raise
