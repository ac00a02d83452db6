"""The Python API: ``stylize``, ``texture`` and ``reconstruct``.

Images may be paths, PIL images or tensors; options are the fields of
:class:`fuchun.config.options.Config` as keywords. Each function returns a PIL image; ``render``
returns the float tensor (for 16-bit output).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch

from fuchun.config.files import checked_options
from fuchun.config.options import Config, mode_defaults
from fuchun.controls.colour import preserve_inputs, preserve_output
from fuchun.controls.masks import load_masks
from fuchun.errors import Stopped, UsageError
from fuchun.io.read import read_image
from fuchun.io.write import to_pil
from fuchun.net.features import VGGFeatures
from fuchun.report.base import MultiReporter, Reporter
from fuchun.run.checkpoint import RunState
from fuchun.run.engine import run
from fuchun.run.job import Job

ImageLike = Any  # str | os.PathLike | PIL.Image.Image | torch.Tensor

# the command line's reporting options: it prints the bar and writes snapshots and traces itself
CLI_REPORTING = ("quiet", "save_every", "trace")
# those the Python API refuses (it never prints and names no output file), with the way instead
_CLI_ONLY = {
    "quiet": "the Python API never prints; pass reporter= (fuchun.report.base.Reporter) to follow a run",
    "save_every": "snapshots are named after -o; in Python pass a reporter whose step() keeps progress.image",
}


def make_config(mode: str, **options: Any) -> Config:
    """The config of a run in ``mode`` with ``options`` applied over the mode's defaults."""
    options = checked_options(options)
    defaults = mode_defaults(mode, options.get("preset", Config().preset))
    cfg = Config().updated(**{**defaults, **options})
    cfg.resolved()  # an impossible whole (a layer the network lacks) fails here, before any image is read
    return cfg


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
    ``trace="DIR"`` writes the run's trace there (:mod:`fuchun.report.trace`); ``quiet`` and
    ``save_every`` belong to the command line and raise UsageError here.
    ``resume`` goes on from a stopped run (``Stopped.state``, or :func:`fuchun.run.checkpoint.load_checkpoint`).
    A run asked to stop raises :class:`fuchun.errors.Stopped` with the picture so far.
    """
    for name, instead in _CLI_ONLY.items():
        if name in options:
            raise UsageError(f"{name} is a command-line option: {instead}")
    cfg = make_config(mode, **options)
    original = None if content is None else read_image(content)
    styles = [] if style is None else _styles(style)
    blend = None if style_blend is None else list(style_blend)
    masks = load_masks(cfg.masks, n_styles=len(styles), blend=blend)
    shown, shown_styles = preserve_inputs(cfg.preserve_colors, original, styles)
    job = Job(content=shown, styles=shown_styles, blend=blend, masks=masks)
    tracer = None if cfg.trace is None else _tracer(mode, cfg, content=content, style=style, blend=blend)
    if tracer is not None:
        reporter = tracer if reporter is None else MultiReporter(reporter, tracer)
    try:
        image = preserve_output(cfg.preserve_colors, run(cfg, job, reporter, net=net, resume=resume), original)
    except Stopped as stop:
        stop.image = preserve_output(cfg.preserve_colors, stop.image, original)
        if tracer is not None:
            _trace_failure(tracer, reporter, stop)
        raise
    except BaseException as exc:
        if tracer is not None:
            _trace_failure(tracer, reporter, exc)
        raise
    if tracer is not None:
        tracer.finish(image=image)
    return image


def picture_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the command line's reporting options (it reports a run itself)."""
    return {k: v for k, v in options.items() if k not in CLI_REPORTING}


def _tracer(mode: str, cfg: Config, *, content, style, blend) -> Reporter:
    """The trace reporter of ``cfg.trace`` (its directory is made before the run)."""
    from fuchun.report.trace import TraceReporter

    def paths(value):  # a trace names input files; images given in memory are left out
        items = value if isinstance(value, (list, tuple)) else [value]
        kept = [v for v in items if isinstance(v, (str, os.PathLike))]
        return None if not kept else kept if isinstance(value, (list, tuple)) else kept[0]

    inputs = {"content": paths(content), "style": paths(style)}
    return TraceReporter(cfg.trace, mode=mode, config=cfg, inputs=inputs, extra={"style_blend": blend})


def _trace_failure(tracer, reporter: Reporter, exc: BaseException) -> None:
    """Write the trace of a failed or stopped run without hiding its own exception."""
    image = getattr(exc, "image", None)
    if image is not None and image.dim() == 4:
        image = image[0]  # (1, 3, H, W) -> (3, H, W)
    try:
        tracer.finish(image=image, error=exc)
    except Exception as err:  # noqa: BLE001 - the run's own exception matters more
        reporter.warning(f"the trace was not written: {err}")


def stylize(content: ImageLike, style: ImageLike | Sequence[ImageLike], **options: Any) -> PIL.Image.Image:
    """Repaint ``content`` in the style of ``style`` (one image or several)."""
    return to_pil(render("stylize", content=content, style=style, **options))


def texture(style: ImageLike | Sequence[ImageLike], **options: Any) -> PIL.Image.Image:
    """Synthesise a texture from ``style`` starting from noise (no content)."""
    return to_pil(render("texture", style=style, **options))


def reconstruct(content: ImageLike, **options: Any) -> PIL.Image.Image:
    """Rebuild ``content`` from noise using only the content loss."""
    return to_pil(render("reconstruct", content=content, **options))
