"""The optimisation loop of one level: L-BFGS or Adam on the pixels, with callbacks.

L-BFGS follows the common practice for style transfer (jcjohnson/neural-style): one
``step`` with ``max_iter`` = the step budget, no line search. Pixels are clamped to [0, 1]
after Adam steps and after L-BFGS finishes, never inside the closure.

Adam's moments (Kingma & Ba 2015, arXiv 1412.6980) go from one scale of a coarse-to-fine
run to the next (:class:`Carry`), resized with the image. Every loss term is a mean over
positions, so a pixel's gradient shrinks in proportion to the pixel count r = new/old: the
first moment is divided by r and the second by r².

With ``average`` > 0 the result of Adam is not its last iterate but the running average of
its iterates (Polyak & Juditsky 1992; an exponential average with Adam's bias correction,
as in Kingma & Ba §7.2): Adam's steps keep jittering around the optimum, and their average
is a cleaner picture. The next scale starts from it.

L-BFGS starts afresh at each level, whose targets are new statistics (docs/decisions.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from fuchun.errors import NonFiniteLoss
from fuchun.objective import Objective

StepCallback = Callable[[int, torch.Tensor, dict[str, float], torch.Tensor], None]


@dataclass
class _Tracker:
    """Counts evaluations, remembers the last finite image, reports each step."""

    objective: Objective
    steps: int
    on_step: StepCallback | None
    step: int = 0
    best: torch.Tensor | None = None

    def evaluate(self, image: torch.Tensor) -> torch.Tensor:
        total, terms = self.objective(image)
        values = torch.stack([total.detach(), *(t.detach() for t in terms.values())]).tolist()  # one sync
        if not math.isfinite(values[0]):
            raise NonFiniteLoss(self.step, self.best if self.best is not None else image.detach().clone())
        self.best = image.detach().clone()
        self.step += 1
        if self.on_step is not None:
            self.on_step(self.step, total.detach(), dict(zip(terms, values[1:], strict=True)), image.detach())
        return total


def load_optimisers() -> None:
    """Import what torch's optimisers import when the first one is made: ``torch._dynamo``, with
    sympy some 800 modules and about 70 MiB. The memory fit calls it before it reads the free
    memory, so that this is not part of a run's peak; it is not imported at the top, which would
    add a second to the start of every command."""
    import torch._dynamo  # noqa: F401


def _resize(t: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """A (1, C, h0, w0) map bilinearly resized to (h, w) (a copy)."""
    if tuple(t.shape[-2:]) == (h, w):
        return t.clone()
    return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)


@dataclass
class Carry:
    """Adam's state handed from one scale to the next (empty before the first)."""

    step: int = 0  # Adam's step count (its bias correction)
    exp_avg: torch.Tensor | None = None  # (1, 3, h, w) Adam's first moment
    exp_avg_sq: torch.Tensor | None = None  # (1, 3, h, w) Adam's second moment

    def moments_at(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Adam's (m, v) at (h, w): m / r, v / r² with r = new / old pixels."""
        if self.exp_avg is None:
            return None
        r = h * w / (self.exp_avg.shape[-2] * self.exp_avg.shape[-1])
        return _resize(self.exp_avg, h, w) / r, _resize(self.exp_avg_sq, h, w).clamp_min(0) / (r * r)


def optimise(
    objective: Objective,
    image: torch.Tensor,
    *,
    steps: int,
    optimizer: str = "lbfgs",
    lr: float = 0.02,
    history: int = 50,
    on_step: StepCallback | None = None,
    carry: Carry | None = None,
    average: float = 0.0,
) -> torch.Tensor:
    """Optimise ``image`` (1, 3, H, W) for ``steps`` loss evaluations; return it clamped.

    ``carry`` (read, then updated in place) hands the optimiser's state to the next call;
    ``average`` is the decay of Adam's iterate average (0: the last iterate is the result).
    """
    if not 0.0 <= average < 1.0:
        raise ValueError(f"average must be in [0, 1), got {average}")
    if optimizer not in _OPTIMISERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(_OPTIMISERS)}")
    pixels = image.detach().clone().contiguous().requires_grad_(True)  # L-BFGS needs plain strides
    tracker = _Tracker(objective, steps, on_step)
    result = _OPTIMISERS[optimizer](pixels, tracker, lr=lr, history=history, carry=carry, average=average)
    result = pixels if result is None else result
    if not bool(torch.isfinite(result).all()):  # Adam's last update is not evaluated either
        raise NonFiniteLoss(tracker.step, tracker.best if tracker.best is not None else image.detach().clone())
    return result.detach().clamp(0, 1)


def _run_lbfgs(
    pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int, carry: Carry | None, average: float
) -> None:
    del carry, average  # L-BFGS starts afresh at each scale and returns its last iterate (module note)
    opt = torch.optim.LBFGS(
        [pixels],
        lr=1.0,
        max_iter=tracker.steps,
        max_eval=tracker.steps,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        history_size=history,
    )

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = tracker.evaluate(pixels)
        loss.backward()
        return loss

    while tracker.step < tracker.steps:  # LBFGS may stop early on a flat loss; resume it
        before = tracker.step
        opt.param_groups[0]["max_iter"] = opt.param_groups[0]["max_eval"] = tracker.steps - before
        opt.step(closure)
        if tracker.step == before:
            break
    # with one evaluation left, torch's L-BFGS applies an update it never evaluates: a
    # blow-up there would escape the non-finite check, so only evaluated pixels are kept
    if tracker.best is not None and not torch.equal(pixels.detach(), tracker.best):
        with torch.no_grad():
            pixels.copy_(tracker.best)


class _Average:
    """Bias-corrected exponential average of the iterates: Σ d^(t−i) (1−d) x_i / (1 − d^t)."""

    def __init__(self, like: torch.Tensor, decay: float) -> None:
        self.decay, self.weight, self.sum = decay, 0.0, torch.zeros_like(like, memory_format=torch.preserve_format)

    def update(self, x: torch.Tensor) -> None:
        self.sum.mul_(self.decay).add_(x.detach(), alpha=1.0 - self.decay)
        self.weight = self.weight * self.decay + (1.0 - self.decay)

    def value(self) -> torch.Tensor:
        return self.sum / self.weight


def _run_adam(
    pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int, carry: Carry | None, average: float
) -> torch.Tensor | None:
    opt = torch.optim.Adam([pixels], lr=lr)
    mean = _Average(pixels, average) if average > 0 else None
    carried = None if carry is None else carry.moments_at(*pixels.shape[-2:])
    if carried is not None:
        exp_avg, exp_avg_sq = (t.to(pixels.device, pixels.dtype).contiguous() for t in carried)
        opt.state[pixels] = {"step": torch.tensor(float(carry.step)), "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    while tracker.step < tracker.steps:
        opt.zero_grad(set_to_none=True)
        tracker.evaluate(pixels).backward()
        opt.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)
        if mean is not None:
            mean.update(pixels)
        if carry is not None:  # the live moments (no copy), for a checkpoint taken mid-scale
            state = opt.state[pixels]
            carry.step, carry.exp_avg, carry.exp_avg_sq = int(state["step"]), state["exp_avg"], state["exp_avg_sq"]
    state = opt.state.get(pixels)
    if carry is not None and state:
        carry.step = int(state["step"])
        carry.exp_avg, carry.exp_avg_sq = state["exp_avg"].detach().clone(), state["exp_avg_sq"].detach().clone()
    return None if mean is None or mean.weight == 0 else mean.value()


_OPTIMISERS = {"lbfgs": _run_lbfgs, "adam": _run_adam}
