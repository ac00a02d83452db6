"""The Python API: ``stylize``, ``texture`` and ``reconstruct``.

Images may be paths, PIL images or tensors; options are the fields of
:class:`fuchun.config.options.Config` as keywords. Each function returns a PIL image; ``render``
returns the float tensor (for 16-bit output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch

from fuchun.config.options import MODE_DEFAULTS, Config
from fuchun.controls.colour import preserve_inputs, preserve_output
from fuchun.controls.masks import load_masks
from fuchun.engine import Job, run
from fuchun.errors import Stopped
from fuchun.features import VGGFeatures
from fuchun.io.read import read_image
from fuchun.io.write import to_pil
from fuchun.report.base import Reporter
from fuchun.resume import RunState

ImageLike = Any  # str | os.PathLike | PIL.Image.Image | torch.Tensor


def make_config(mode: str, **options: Any) -> Config:
    """The config of a run in ``mode`` with ``options`` applied over the mode's defaults."""
    if mode not in MODE_DEFAULTS:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODE_DEFAULTS)}")
    return Config().updated(**{**MODE_DEFAULTS[mode], **options})


def _styles(style: ImageLike | Sequence[ImageLike]) -> list[torch.Tensor]:
    items = list(style) if isinstance(style, (list, tuple)) else [style]
    if not items:
        raise ValueError("at least one style image is needed")
    return [read_image(s) for s in items]


def render(
    mode: str,
    *,
    content: ImageLike | None = None,
    style: ImageLike | Sequence[ImageLike] | None = None,
    style_blend: Sequence[float] | None = None,
    reporter: Reporter | None = None,
    net: VGGFeatures | None = None,
    resume: RunState | None = None,
    **options: Any,
) -> torch.Tensor:
    """Run ``mode`` and return the picture as a (3, H, W) float tensor in [0, 1].

    ``preserve_colors`` changes the images the network sees and then the result
    (:mod:`fuchun.controls.colour`); ``masks`` are read here, one per style image (:mod:`fuchun.controls.masks`).
    ``resume`` goes on from a stopped run (``Stopped.state``, or :func:`fuchun.resume.load_checkpoint`).
    A run asked to stop raises :class:`fuchun.errors.Stopped` with the picture so far.
    """
    cfg = make_config(mode, **options)
    original = None if content is None else read_image(content)
    styles = [] if style is None else _styles(style)
    blend = None if style_blend is None else list(style_blend)
    masks = load_masks(cfg.masks, n_styles=len(styles), blend=blend)
    shown, shown_styles = preserve_inputs(cfg.preserve_colors, original, styles)
    job = Job(content=shown, styles=shown_styles, blend=blend, masks=masks)
    try:
        picture = run(cfg, job, reporter, net=net, resume=resume)
    except Stopped as stop:
        stop.image = preserve_output(cfg.preserve_colors, stop.image, original)
        raise
    return preserve_output(cfg.preserve_colors, picture, original)


def stylize(content: ImageLike, style: ImageLike | Sequence[ImageLike], **options: Any) -> PIL.Image.Image:
    """Repaint ``content`` in the style of ``style`` (one image or several)."""
    return to_pil(render("stylize", content=content, style=style, **options))


def texture(style: ImageLike | Sequence[ImageLike], **options: Any) -> PIL.Image.Image:
    """Synthesise a texture from ``style`` starting from noise (no content)."""
    return to_pil(render("texture", style=style, **options))


def reconstruct(content: ImageLike, **options: Any) -> PIL.Image.Image:
    """Rebuild ``content`` from noise using only the content loss."""
    return to_pil(render("reconstruct", content=content, **options))
