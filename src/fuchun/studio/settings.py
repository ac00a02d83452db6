"""The studio's controls as one dataclass, and how they become the options of a run.

Every default here is read from :class:`fuchun.config.options.Config` and ``MODE_DEFAULTS``
(the CLI's defaults); the studio adds only what has no CLI twin: the per-style blend
sliders. Its "style strength" is the CLI's ``--strength`` dial.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from fuchun.config.options import MODE_DEFAULTS, Config
from fuchun.errors import UsageError
from fuchun.losses.terms import TERMS

MODES = tuple(MODE_DEFAULTS)
MAX_STYLES = 4  # style slots in the page: one blend slider and one brush colour each
BRUSH_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231")  # brush i paints the mask of style i
NO_COLOUR = "none"  # the colour-preservation choice that keeps the style's colours
WEIGHTS = tuple(t.weight for t in TERMS if t.weight)  # one box each under Advanced (blank: the preset's)


def default(name: str, mode: str = "stylize") -> Any:
    """The CLI's default of option ``name`` in ``mode`` (the mode's own, else Config's)."""
    if name in MODE_DEFAULTS[mode]:
        return MODE_DEFAULTS[mode][name]
    return next(f.default for f in dataclasses.fields(Config) if f.name == name)


# one field per loss term's weight (None: from the preset)
TermWeights = dataclasses.make_dataclass("TermWeights", [(w, float | None, None) for w in WEIGHTS])


@dataclass
class Settings(TermWeights):
    """What the controls of the page hold (the inputs' files are kept apart)."""

    mode: str = "stylize"
    preset: str = field(default_factory=lambda: default("preset"))
    size: int = field(default_factory=lambda: default("size"))
    steps: int = field(default_factory=lambda: default("steps"))
    strength: float = field(default_factory=lambda: default("strength"))
    preserve_colors: str = NO_COLOUR
    style_scale: float = field(default_factory=lambda: default("style_scale"))
    seed: int = field(default_factory=lambda: default("seed"))
    init: str = field(default_factory=lambda: default("init"))
    precision: str = field(default_factory=lambda: default("precision"))
    device: str = field(default_factory=lambda: default("device"))
    mask_feather: float = field(default_factory=lambda: default("mask_feather"))
    blend: tuple[float, ...] = (1.0,) * MAX_STYLES

    @classmethod
    def for_mode(cls, mode: str) -> Settings:
        """The defaults of ``mode``."""
        return cls(mode=mode, steps=default("steps", mode), init=default("init", mode))

    @classmethod
    def names(cls) -> list[str]:
        """The control names in page order (``blend`` last: it stands for MAX_STYLES sliders)."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_values(cls, values: list[Any]) -> Settings:
        """From the controls' values in :meth:`names` order, the blend sliders last."""
        names = cls.names()[:-1]
        scalar = dict(zip(names, values[: len(names)], strict=True))
        return cls(**scalar, blend=tuple(float(b) for b in values[len(names) :]))

    def values(self) -> list[Any]:
        """The controls' values in :meth:`names` order (inverse of :meth:`from_values`)."""
        return [getattr(self, n) for n in self.names()[:-1]] + list(self.blend)

    def options(self) -> dict[str, Any]:
        """The Config options of this run that differ from ``mode``'s defaults (checked by Config).

        UsageError on what the page lets through but a run cannot take (a blank seed, a
        negative weight)."""
        if self.seed is None or self.size is None or self.steps is None:
            raise UsageError("the seed, size and steps need values (whole numbers)")
        negative = [w for w in WEIGHTS if getattr(self, w) is not None and getattr(self, w) < 0]
        if negative:
            raise UsageError(f"weights cannot be negative: {', '.join(negative)}")
        wanted: dict[str, Any] = {
            "preset": self.preset,
            "size": int(self.size),
            "steps": int(self.steps),
            "style_scale": float(self.style_scale),
            "seed": int(self.seed),
            "init": self.init,
            "precision": self.precision,
            "device": self.device,
            "mask_feather": float(self.mask_feather),
            "strength": float(self.strength),
            "preserve_colors": None if self.preserve_colors == NO_COLOUR else self.preserve_colors,
        }
        wanted.update({w: float(getattr(self, w)) for w in WEIGHTS if getattr(self, w) is not None})
        base = Config().updated(**MODE_DEFAULTS[self.mode])
        return {k: v for k, v in wanted.items() if getattr(base, k) != v}
