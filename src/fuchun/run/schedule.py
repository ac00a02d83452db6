"""The coarse-to-fine schedule of a run: its levels, each with its size, its steps and its style size.

A run optimises the picture at a few sizes, smallest first, each level starting from the one
before upsampled; the targets are recomputed at every level. :class:`Schedule` is made once
from the resolved config and the picture's final size; the engine walks it, the memory planner
reads its last level, progress reports and checkpoints count their steps in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fuchun.config.options import Config
from fuchun.config.parse import MAX_SIDE, STYLE_SCALE
from fuchun.errors import ImageError, UsageError
from fuchun.io.read import MIN_SIDE, fit_longest

SCALE_RATIO = math.sqrt(2)  # each level has twice the pixels of the one before


@dataclass(frozen=True)
class Level:
    """One size of the picture, the steps spent at it and the style images' size there."""

    size: tuple[int, int]  # (W, H) of the picture
    steps: int
    style_side: float  # the style images' longest side (at most MAX_SIDE)

    @classmethod
    def at(cls, cfg: Config, size: tuple[int, int], steps: int = 0) -> Level:
        """The level of ``cfg`` at ``size`` = (W, H)."""
        return cls(size, steps, style_side(cfg, size))

    def style_size(self, style: torch.Tensor, *, clamp: bool = True) -> tuple[int, int]:
        """(W, H) of a (3, h, w) style image at this level: its aspect, longest side ``style_side``;
        with ``clamp``, enlarged where needed so that its short side reaches the network's minimum."""
        h, w = style.shape[-2:]
        k = self.style_side / max(h, w)
        if clamp:
            k = max(k, MIN_SIDE / min(h, w))
            if max(h, w) * k > MAX_SIDE:
                raise ImageError(
                    f"style image is {w}x{h} px: too thin to reach the network's minimum of {MIN_SIDE} px "
                    f"on its short side within {MAX_SIDE} px on its long side"
                )
        return fit_longest((w, h), max(w, h) * k)


@dataclass(frozen=True)
class Schedule:
    """The levels of a run, smallest first; the last one is the picture's final size."""

    levels: tuple[Level, ...]

    @classmethod
    def of(cls, cfg: Config, final: tuple[int, int]) -> Schedule:
        """The schedule of a resolved config for a picture of ``final`` = (W, H) px."""
        check_style_size(cfg, final)
        sizes = level_sizes(cfg, final)
        steps = split_steps(cfg.steps, sizes)
        return cls(tuple(Level.at(cfg, s, n) for s, n in zip(sizes, steps, strict=True)))

    @property
    def final(self) -> Level:
        return self.levels[-1]

    @property
    def sizes(self) -> list[tuple[int, int]]:
        return [level.size for level in self.levels]

    @property
    def steps(self) -> list[int]:
        return [level.steps for level in self.levels]

    @property
    def total(self) -> int:
        return sum(self.steps)


def level_sizes(cfg: Config, final: tuple[int, int]) -> list[tuple[int, int]]:
    """(W, H) of every level, smallest first, the last being ``final``.

    ``--scales auto`` grows by √2 from ``--coarsest`` and leaves out a level whose short side
    would fall below the network's minimum (:data:`MIN_SIDE`); an explicit level that would is a
    UsageError naming ``--scales``.
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


def split_steps(total: int, sizes: list[tuple[int, int]]) -> list[int]:
    """The step budget split over the levels, summing to ``total``: each level gets a floor of an
    eighth of the budget, and the rest goes in proportion to 1/pixels (twice as many steps per
    halving of the pixels: most work where it is cheap)."""
    n = len(sizes)
    floor = min(max(1, total // 8), total // n)
    shares = [1.0 / (w * h) for w, h in sizes]
    rest = total - floor * n
    steps = [floor + int(rest * s / sum(shares)) for s in shares]
    steps[0] += total - sum(steps)  # rounding leftovers go to the cheapest level
    return steps


def style_side(cfg: Config, size: tuple[int, int]) -> float:
    """The style images' longest side at a level of ``size`` = (W, H): the picture's times
    ``--style-scale``, or ``--style-size``; at most :data:`MAX_SIDE`."""
    side = cfg.style_size if cfg.style_size is not None else max(size) * cfg.style_scale
    return min(side, MAX_SIDE)


def check_style_size(cfg: Config, final: tuple[int, int]) -> None:
    """UsageError if ``--style-size`` leaves the range of ``--style-scale`` for this picture."""
    hi = STYLE_SCALE[1]
    if cfg.style_size is not None and cfg.style_size > hi * max(final):
        raise UsageError(
            f"--style-size {cfg.style_size} is more than {hi:g} times the output's {max(final)} px "
            f"(the range of --style-scale); use at most {int(hi * max(final))}"
        )
