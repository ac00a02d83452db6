"""The optimisation loop of one scale: L-BFGS or Adam on the pixels, with callbacks.

L-BFGS follows the common practice for style transfer (jcjohnson/neural-style): one
``step`` with ``max_iter`` = the step budget, no line search. Pixels are clamped to [0, 1]
after Adam steps and after L-BFGS finishes, never inside the closure (algorithms.md §7).

Adam (Kingma & Ba 2015, arXiv 1412.6980) keeps its moments across the scales of a
coarse-to-fine run (:class:`Moments`): they are resized with the image, and rescaled
because every loss term is a mean over positions, so a pixel's gradient shrinks in
proportion to the pixel count. L-BFGS' curvature pairs belong to one image size and start
afresh at each scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

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


@dataclass
class Moments:
    """Adam's state carried from one scale to the next (empty before the first scale)."""

    step: int = 0
    exp_avg: torch.Tensor | None = None  # (1, 3, h, w) first moment
    exp_avg_sq: torch.Tensor | None = None  # (1, 3, h, w) second moment

    def at_size(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The moments resized to (h, w): bilinear (the second stays ≥ 0), scaled by the
        pixel ratio r = old/new pixels (m·r, v·r², as the gradients of mean losses scale)."""
        if self.exp_avg is None:
            return None
        old = self.exp_avg.shape[-2] * self.exp_avg.shape[-1]
        r = old / (h * w)

        def resize(t: torch.Tensor) -> torch.Tensor:
            if tuple(t.shape[-2:]) == (h, w):
                return t.clone()
            return F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)

        return resize(self.exp_avg) * r, resize(self.exp_avg_sq).clamp_min(0) * r * r


def optimise(
    objective: Objective,
    image: torch.Tensor,
    *,
    steps: int,
    optimizer: str = "lbfgs",
    lr: float = 0.02,
    history: int = 50,
    on_step: StepCallback | None = None,
    moments: Moments | None = None,
) -> torch.Tensor:
    """Optimise ``image`` (1, 3, H, W) for ``steps`` loss evaluations; return it clamped.

    With Adam, ``moments`` (updated in place) carries the optimiser's state to the next call.
    """
    if optimizer not in _OPTIMISERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; valid: {', '.join(_OPTIMISERS)}")
    pixels = image.detach().clone().contiguous().requires_grad_(True)  # L-BFGS needs plain strides
    tracker = _Tracker(objective, steps, on_step)
    _OPTIMISERS[optimizer](pixels, tracker, lr=lr, history=history, moments=moments)
    return pixels.detach().clamp(0, 1)


def _run_lbfgs(pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int, moments: Moments | None) -> None:
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


def _run_adam(pixels: torch.Tensor, tracker: _Tracker, *, lr: float, history: int, moments: Moments | None) -> None:
    opt = torch.optim.Adam([pixels], lr=lr)
    carried = None if moments is None else moments.at_size(*pixels.shape[-2:])
    if carried is not None:
        exp_avg, exp_avg_sq = (t.to(pixels.device, pixels.dtype).contiguous() for t in carried)
        opt.state[pixels] = {"step": torch.tensor(float(moments.step)), "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    while tracker.step < tracker.steps:
        opt.zero_grad(set_to_none=True)
        tracker.evaluate(pixels).backward()
        opt.step()
        with torch.no_grad():
            pixels.clamp_(0, 1)
    state = opt.state.get(pixels)
    if moments is not None and state:
        moments.step = int(state["step"])
        moments.exp_avg, moments.exp_avg_sq = state["exp_avg"].detach().clone(), state["exp_avg_sq"].detach().clone()


_OPTIMISERS = {"lbfgs": _run_lbfgs, "adam": _run_adam}
