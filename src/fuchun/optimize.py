"""The optimisation loop of one scale: L-BFGS or Adam on the pixels, with callbacks.

L-BFGS follows the common practice for style transfer (jcjohnson/neural-style): one
``step`` with ``max_iter`` = the step budget, no line search. Pixels are clamped to [0, 1]
after Adam steps and after L-BFGS finishes, never inside the closure (algorithms.md §7).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .objective import Objective

StepCallback = Callable[[int, torch.Tensor, dict[str, float], torch.Tensor], None]


class NonFiniteLoss(RuntimeError):
    """The loss became NaN or infinite; ``image`` is the last image with a finite loss."""

    def __init__(self, step: int, image: torch.Tensor) -> None:
        super().__init__(f"the loss became non-finite at step {step}; kept the last good image")
        self.step, self.image = step, image


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
            self.on_step(self.step, total.detach(), dict(zip(terms, values[1:])), image.detach())
        return total


def optimise(
    objective: Objective,
    image: torch.Tensor,
    *,
    steps: int,
    optimizer: str = "lbfgs",
    lr: float = 0.02,
    history: int = 50,
    on_step: StepCallback | None = None,
) -> torch.Tensor:
    """Optimise ``image`` (1, 3, H, W) for ``steps`` loss evaluations; return it clamped."""
    if optimizer not in _OPTIMISERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(_OPTIMISERS)}")
    pixels = image.detach().clone().contiguous().requires_grad_(True)  # L-BFGS needs plain strides
    tracker = _Tracker(objective, steps, on_step)
    _OPTIMISERS[optimizer](pixels, tracker, lr=lr, history=history)
    return pixels.detach().clamp(0, 1)


def _run_lbfgs(pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int) -> None:
    opt = torch.optim.LBFGS(
        [pixels], lr=1.0, max_iter=tracker.steps, max_eval=tracker.steps,
        tolerance_grad=0.0, tolerance_change=0.0, history_size=history,
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


def _run_adam(pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int) -> None:
    opt = torch.optim.Adam([pixels], lr=lr)
    while tracker.step < tracker.steps:
        opt.zero_grad(set_to_none=True)
        tracker.evaluate(pixels).backward()
        opt.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)


_OPTIMISERS = {"lbfgs": _run_lbfgs, "adam": _run_adam}
