"""One run from start to finish: pick the machine, load the network, go coarse to fine.

This is the layer between the public API (``fuchun.api``) and the pieces: it resizes the
images for each scale, builds that scale's objective, starts from the previous scale's
result, and reports through a :class:`Reporter`. It never prints or exits.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from fuchun.config.options import Config
from fuchun.config.parse import MAX_SIDE, STYLE_SCALE
from fuchun.controls.masks import fit_masks, masks_at_scale
from fuchun.errors import ImageError, MemoryPlanError, ResumeError, Stopped, UsageError
from fuchun.io.read import MIN_SIDE, check_min_size, fit_longest, read_image, resize_image
from fuchun.losses import TemporalLoss
from fuchun.net.features import VGGFeatures
from fuchun.objective import Objective
from fuchun.report.base import Reporter, RunInfo
from fuchun.run.balance import style_factor
from fuchun.run.checkpoint import RunState
from fuchun.run.machine import Machine, pick_machine
from fuchun.run.memory import Loads, Plan, available_bytes, largest_side, plan, release_freed_memory
from fuchun.run.optimise import optimise
from fuchun.run.progress import Clock, StopRequest
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
    start: torch.Tensor | None = None  # (3, H, W): the start image, in place of the configured init
    temporal: TemporalTarget | None = None  # a video frame's pull towards the previous one


@dataclass
class TemporalTarget:
    """The previous stylised frame warped to this one, where to trust it, and how hard to pull
    (Ruder et al. 2016; :mod:`fuchun.losses.temporal`, :mod:`fuchun.video.flow`)."""

    warped: torch.Tensor  # (3, H, W) in [0, 1]
    mask: torch.Tensor  # (1, H, W) in [0, 1]: 1 where forward and backward flow agree
    weight: float


def output_size(cfg: Config, job: Job) -> tuple[int, int]:
    """(W, H) of the picture: the size option applied to the content's (or style's) aspect."""
    if isinstance(cfg.size, tuple):
        return cfg.size
    if not isinstance(cfg.size, int):
        raise ValueError(f"size {cfg.size!r} must be resolved to pixels before the run")
    ref = job.content if job.content is not None else job.styles[0]
    h, w = ref.shape[-2:]
    return fit_longest((w, h), cfg.size)


def scale_sizes(cfg: Config, final: tuple[int, int]) -> list[tuple[int, int]]:
    """(W, H) of every scale, smallest first, the last being ``final``.

    'auto' stops before a scale whose short side would fall below the network's minimum
    (:data:`MIN_SIDE`); an explicit scale that would is a UsageError naming ``--scales``.
    """
    longest = max(final)

    def dims(side: int) -> tuple[int, int]:
        return fit_longest(final, side)

    if cfg.scales == "none":
        sides = [longest]
    elif cfg.scales == "auto":
        sides = [longest]
        while sides[0] / SCALE_RATIO >= cfg.coarsest * 0.99 and min(dims(round(sides[0] / SCALE_RATIO))) >= MIN_SIDE:
            sides.insert(0, round(sides[0] / SCALE_RATIO))
    else:
        sides = [s for s in cfg.scales if s < longest] + [longest]
        thin = [s for s in sides[:-1] if min(dims(s)) < MIN_SIDE]
        if thin:
            w, h = dims(thin[0])
            raise UsageError(
                f"--scales {thin[0]}: at this picture's {final[0]}x{final[1]} px that scale is {w}x{h} px, below "
                f"the network's minimum of {MIN_SIDE} px on each side; give larger scales"
            )
    return [dims(s) for s in sides]


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
    ``resume`` goes on from a stopped run's state (``Stopped.state``): the same schedule
    from the scale and step it stood at, so the steps add up to an uninterrupted run's.
    """
    reporter = reporter or Reporter()
    cfg = cfg.resolved()
    machine = pick_machine(cfg.device, cfg.precision)
    if net is None:
        net, sha256 = load_network(cfg, machine, reporter)
    else:
        net, sha256 = net.to(machine.device, memory_format=torch.channels_last), "none (network given)"
    if cfg.size != "max":  # an option out of its range is the option's fault, before any planning
        check_style_size(cfg, output_size(cfg, job))
    cfg, memory = fit_memory(cfg, job, net, machine)
    final = output_size(cfg, job)
    check_style_size(cfg, final)
    job = dataclasses.replace(job, masks=fit_masks(job.masks, final, sigma=cfg.mask_feather))
    net.checkpoint_blocks = memory.checkpoint
    sizes = scale_sizes(cfg, final)
    steps = scale_steps(cfg.steps, sizes)
    if resume is not None and (resume.sizes != sizes or resume.steps != sum(steps)):
        raise ResumeError(
            f"the checkpoint's schedule ({resume.steps} steps over {len(resume.sizes)} scales) is not this run's"
        )
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
    clock = Clock(sum(steps), cfg, sizes, every=cfg.checkpoint_every)
    image, first, mid_scale = _resumed(resume, clock, machine, steps)
    warned: set[str] = set()
    try:
        for index in range(first, len(sizes)):
            size, skip = sizes[index], clock.scale_step if index == first else 0
            objective = _built(net, cfg, job, size, machine, lean=memory.checkpoint)
            for w in objective.warnings:
                if w not in warned:
                    warned.add(w)
                    reporter.warning(w)
            start = image if index == first and mid_scale else _initial(cfg, job, size, image, machine)
            image = _optimise_scale(
                objective,
                start,
                steps=steps[index] - skip,
                optimizer=cfg.optimizer,
                lr=cfg.lr,
                history=memory.history,
                average=cfg.average,
                on_step=clock.hook(reporter, index, size, done=skip),
                carry=clock.carry,
            )
            del objective, start  # free this scale's targets before the next scale builds its own,
            release_freed_memory()  # also where the optimiser's frames hold them in a reference cycle
    except StopRequest as stop:
        state = clock.state(stop.image, stop.scale)
        raise Stopped(state.picture(), step=clock.done, steps=clock.total, state=state) from None
    return image[0].float().cpu()


def _resumed(
    resume: RunState | None, clock: Clock, machine: Machine, steps: list[int]
) -> tuple[torch.Tensor | None, int, bool]:
    """(the image to go on from, the first scale, whether that scale starts from the image as it is)
    of a run; sets ``clock`` to match."""
    if resume is None:
        return None, 0, False
    clock.done, clock.scale_step, clock.carry = resume.step, resume.scale_step, resume.carry
    image = resume.image.to(machine.device).contiguous(memory_format=torch.channels_last)
    if resume.scale_step >= steps[resume.scale]:  # stopped at the end of a scale: the next one starts from it
        clock.scale_step = 0
        return image, resume.scale + 1, False
    return image, resume.scale, True


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator failure: CUDA's, or the CPU allocator's RuntimeError."""
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "DefaultCPUAllocator: can't allocate" in str(exc)
    )


def _memory_advice(size: tuple[int, int]) -> MemoryPlanError:
    w, h = size
    return MemoryPlanError(f"ran out of memory at {w}x{h} px; try a smaller --size or --size max")


def _built(net, cfg: Config, job: Job, size, machine: Machine, *, lean: bool) -> Objective:
    """The objective of one scale, with an out-of-memory failure turned into the planner's advice."""
    try:
        objective = scale_objective(net, cfg, job, size, machine, lean=lean)
        release_freed_memory()  # what the build freed, before the steps allocate theirs
        return objective
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if _out_of_memory(exc):
            raise _memory_advice(size) from None
        raise


def _optimise_scale(objective: Objective, start: torch.Tensor, **kw) -> torch.Tensor:
    """optimise(), with an out-of-memory failure turned into the planner's advice."""
    try:
        return optimise(objective, start, **kw)
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if _out_of_memory(exc):
            raise _memory_advice(start.shape[-2:][::-1]) from None
        raise


def fit_memory(cfg: Config, job: Job, net: VGGFeatures, machine: Machine) -> tuple[Config, Plan]:
    """Resolve ``--size max`` and plan the final scale's memory (MemoryPlanError if it can't fit)."""
    layers = [*cfg.content_layers, *cfg.style_layers, *cfg.shifts, *cfg.hist_layers]
    layers += list(cfg.w2_layers) if cfg.w2_weight > 0 else []
    kw = dict(
        arch=net.arch,
        deepest=net.deepest(layers),
        precision=machine.precision,
        optimizer=cfg.optimizer,
        device=machine.device.type,
    )
    budget = int(available_bytes(machine.device) * MEMORY_SHARE)
    if cfg.size == "max":
        ref = output_size(dataclasses.replace(cfg, size=1024), job)
        loads = memory_loads(cfg, job, net, ref)
        cfg = dataclasses.replace(cfg, size=min(largest_side(ref, budget=budget, loads=loads, **kw), MAX_SIDE))
    final = output_size(cfg, job)
    return cfg, plan(final, budget=budget, history=cfg.lbfgs_history, loads=memory_loads(cfg, job, net, final), **kw)


def memory_loads(cfg: Config, job: Job, net: VGGFeatures, size: tuple[int, int]) -> Loads:
    """What the objective of ``cfg`` and ``job`` holds at output ``size`` = (W, H), for the planner."""

    def per_pixel(names) -> float:  # channels per input pixel, summed over the layers
        return float(sum(net.channels(n) / 4 ** (int(n[4]) - 1) for n in set(names)))

    hist = cfg.hist_layers if cfg.hist_weight > 0 else ()
    shifts = tuple(cfg.shifts) if cfg.shift_weight > 0 else ()
    w2 = tuple(cfg.w2_layers) if cfg.w2_weight > 0 else ()
    gram = {*(cfg.style_layers if cfg.style_weight > 0 else ()), *shifts}
    style = {*gram, *hist, *w2}
    style_px = sum(math.prod(style_size(cfg, size, s)) for s in job.styles)
    fixed = cfg.style_size is not None
    return Loads(
        content=per_pixel(cfg.content_layers) if job.content is not None and cfg.content_weight > 0 else 0.0,
        hist=per_pixel(hist),
        hist_widest=max((per_pixel([n]) for n in hist), default=0.0),
        style=per_pixel(style) if job.styles else 0.0,
        gram=per_pixel(gram) if job.styles else 0.0,
        w2=per_pixel(w2) if job.styles else 0.0,
        w2_widest=max((per_pixel([n]) for n in w2), default=0.0) if job.styles else 0.0,
        style_per_pixel=0.0 if fixed else style_px / math.prod(size),
        style_pixels=style_px if fixed else 0,
    )


def image_at(image: torch.Tensor, size: tuple[int, int], machine: Machine, *, name: str) -> torch.Tensor:
    """(3, H, W) -> (1, 3, h, w) on the run's device, at ``size`` = (w, h)."""
    out = resize_image(image, size=size)
    check_min_size(out, name=name)
    return out.unsqueeze(0).to(machine.device).contiguous(memory_format=torch.channels_last)


def style_size(cfg: Config, size: tuple[int, int], style: torch.Tensor, *, clamp: bool = True) -> tuple[int, int]:
    """(W, H) of a style image at this scale: its aspect, longest side = output × style_scale
    (or ``style_size``), at most :data:`MAX_SIDE`; with ``clamp``, enlarged where needed so its
    short side reaches the network's minimum (:data:`MIN_SIDE`)."""
    side = cfg.style_size if cfg.style_size is not None else max(size) * cfg.style_scale
    h, w = style.shape[-2:]
    k = min(side, MAX_SIDE) / max(h, w)
    if clamp:
        k = max(k, MIN_SIDE / min(h, w))
        if max(h, w) * k > MAX_SIDE:
            raise ImageError(
                f"style image is {w}x{h} px: too thin to reach the network's minimum of {MIN_SIDE} px "
                f"on its short side within {MAX_SIDE} px on its long side"
            )
    return fit_longest((w, h), max(w, h) * k)


def check_style_size(cfg: Config, final: tuple[int, int]) -> None:
    """UsageError if ``--style-size`` leaves the documented range of ``--style-scale`` for this output."""
    hi = STYLE_SCALE[1]
    if cfg.style_size is not None and cfg.style_size > hi * max(final):
        raise UsageError(
            f"--style-size {cfg.style_size} is more than {hi:g} times the output's {max(final)} px "
            f"(the range of --style-scale); use at most {int(hi * max(final))}"
        )


def scale_objective(
    net: VGGFeatures, cfg: Config, job: Job, size: tuple[int, int], machine: Machine, *, lean: bool = False
) -> Objective:
    """The objective of one scale: the job's images at ``size`` = (W, H) (styles at their own size),
    its style terms balanced at the photo (:mod:`fuchun.run.balance`)."""
    content = None if job.content is None else image_at(job.content, size, machine, name="content image")
    styles = [image_at(s, style_size(cfg, size, s), machine, name="style image") for s in job.styles]
    masks = masks_at_scale(job.masks, size, machine.device)
    temporal = None
    if job.temporal is not None:
        warped = resize_image(job.temporal.warped, size=size).unsqueeze(0).to(machine.device)
        mask = resize_image(job.temporal.mask.expand(3, -1, -1), size=size)[:1].clamp(0, 1)
        temporal = TemporalLoss(warped, mask.unsqueeze(0).to(machine.device))
    objective = Objective(
        net,
        cfg,
        content=content,
        styles=styles,
        blend=job.blend,
        masks=masks,
        autocast=machine.autocast,
        lean=lean,
        size=size,
        grad_scale=machine.grad_scale,
        temporal=temporal,
        temporal_weight=0.0 if job.temporal is None else job.temporal.weight,
    )
    objective.style_factor = style_factor(objective, content, cap=cfg.style_pull)
    if any(style_size(cfg, size, s, clamp=False) != style_size(cfg, size, s) for s in job.styles):
        option = (
            f"--style-size {cfg.style_size}" if cfg.style_size is not None else f"--style-scale {cfg.style_scale:g}"
        )
        objective.warnings.append(
            f"{option} makes a style image smaller than the network's minimum of {MIN_SIDE} px at some scales; "
            f"it is enlarged to {MIN_SIDE} px there"
        )
    return objective


def _initial(cfg: Config, job: Job, size, previous: torch.Tensor | None, machine: Machine) -> torch.Tensor:
    """The start image of a scale: the previous result upsampled, or the configured init."""
    w, h = size
    if previous is not None:
        return F.interpolate(previous, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    gen = torch.Generator().manual_seed(cfg.seed)
    if job.start is not None:
        return image_at(job.start, size, machine, name="start image")
    if cfg.init == "content":
        if job.content is None:
            raise ValueError("init 'content' needs a content image; use --init noise")
        return image_at(job.content, size, machine, name="content image")
    if cfg.init == "noise":
        noise = torch.rand(1, 3, h, w, generator=gen)
    elif cfg.init == "style-mean":
        if not job.styles:
            raise ValueError("init 'style-mean' needs a style image")
        mean = torch.stack([s.mean((-2, -1)) for s in job.styles]).mean(0).view(1, 3, 1, 1)
        noise = (mean + 0.1 * torch.randn(1, 3, h, w, generator=gen)).clamp(0, 1)
    else:
        return image_at(read_image(cfg.init), size, machine, name="init image")
    return noise.to(machine.device).contiguous(memory_format=torch.channels_last)
