"""The Python API: ``stylize``, ``texture``, ``reconstruct`` and ``render``, the one way into a run.

Images may be paths, PIL images or tensors; options are the fields of
:class:`fuchun.config.options.Config` as keywords. ``stylize``, ``texture`` and ``reconstruct``
return a PIL image; ``render`` returns the float tensor (for 16-bit output) and, given ``output``,
writes the picture there. ``render`` also owns the run's trace (``trace="DIR"``): the command
line, the studio and the batches all run through it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import PIL.Image
import torch

from fuchun.config.files import checked_options
from fuchun.config.options import INITS, Config, mode_defaults
from fuchun.controls.colour import preserve_inputs, preserve_output
from fuchun.controls.masks import load_masks
from fuchun.errors import NonFiniteLoss, Stopped, UsageError
from fuchun.io.read import read_image
from fuchun.io.write import check_writable, to_pil, write_image
from fuchun.net.features import VGGFeatures
from fuchun.report.base import MultiReporter, Reporter
from fuchun.report.trace import TraceReporter
from fuchun.run.checkpoint import RunState
from fuchun.run.engine import run
from fuchun.run.job import Job

ImageLike = Any  # str | os.PathLike | PIL.Image.Image | torch.Tensor

# the command line's reporting options: it prints the bar and writes snapshots itself
CLI_REPORTING = ("quiet", "save_every")
# those the Python API refuses (it never prints and names no snapshot files), with the way instead
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


def render(
    mode: str,
    *,
    content: ImageLike | None = None,
    style: ImageLike | Sequence[ImageLike] | None = None,
    style_blend: Sequence[float] | None = None,
    reporter: Reporter | None = None,
    net: VGGFeatures | None = None,
    resume: RunState | None = None,
    output: str | os.PathLike | None = None,
    bit_depth: int = 8,
    trace_extra: dict[str, Any] | None = None,
    **options: Any,
) -> torch.Tensor:
    """Run ``mode`` and return the picture as a (3, H, W) float tensor in [0, 1].

    ``preserve_colors`` changes the images the network sees and then the result
    (:mod:`fuchun.controls.colour`); ``masks`` are read here, one per style image (:mod:`fuchun.controls.masks`).
    ``resume`` goes on from a stopped run (``Stopped.state``, or :func:`fuchun.run.checkpoint.load_checkpoint`).
    With ``output`` the picture the run ends with is written there (``bit_depth`` 8 or 16; checked
    before the run, atomically, never over an input): the finished one, a stopped run's picture
    so far, or a failed run's last good one. ``trace="DIR"`` writes the run's trace there
    (:mod:`fuchun.report.trace`), with ``trace_extra`` added to its record (its ``options`` to the
    recorded options: the command line's own). A run asked to stop
    raises :class:`fuchun.errors.Stopped` with the picture so far.
    """
    for name, instead in _CLI_ONLY.items():
        if name in options:
            raise UsageError(f"{name} is a command-line option: {instead}")
    cfg = make_config(mode, **options)
    inputs = _input_paths(content, style, cfg)
    if output is not None:
        check_writable(output, bit_depth=bit_depth, protect=_flat(inputs.values()))
    original = None if content is None else read_image(content)
    styles = [] if style is None else [read_image(s) for s in _listed(style)]
    blend = None if style_blend is None else list(style_blend)
    masks = load_masks(cfg.masks, n_styles=len(styles), blend=blend)
    shown, shown_styles = preserve_inputs(cfg.preserve_colors, original, styles)
    job = Job(content=shown, styles=shown_styles, blend=blend, masks=masks)
    extra = {"bit_depth": bit_depth, "style_blend": blend, **(trace_extra or {})}
    tracer = (
        None
        if cfg.trace is None
        else TraceReporter(cfg.trace, mode=mode, config=cfg, inputs=inputs, output=output, extra=extra)
    )
    reporter = MultiReporter(*(r for r in (reporter, tracer) if r is not None))
    try:
        image = preserve_output(cfg.preserve_colors, run(cfg, job, reporter, net=net, resume=resume), original)
    except Stopped as stop:
        stop.image = preserve_output(cfg.preserve_colors, stop.image, original)
        _end(tracer, reporter, stop.image, output, bit_depth, inputs, error=stop)
        raise
    except NonFiniteLoss as exc:
        _end(tracer, reporter, exc.image[0].float().cpu(), output, bit_depth, inputs, error=exc)
        raise
    except BaseException as exc:
        _end(tracer, reporter, None, output, bit_depth, inputs, error=exc)
        raise
    _end(tracer, reporter, image, output, bit_depth, inputs)
    return image


def picture_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` without the command line's own reporting options (quiet, save_every)."""
    return {k: v for k, v in options.items() if k not in CLI_REPORTING}


def _listed(value: Any) -> list[Any]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError("at least one style image is needed")
    return items


def _input_paths(content, style, cfg: Config) -> dict[str, Any]:
    """The input files of a run by role (images given in memory are left out): what its trace
    records and what its output may never overwrite."""

    def paths(value):
        items = value if isinstance(value, (list, tuple)) else [value]
        kept = [v for v in items if isinstance(v, (str, os.PathLike))]
        return None if not kept else kept if isinstance(value, (list, tuple)) else kept[0]

    found = {"content": paths(content), "style": paths(style), "masks": paths(list(cfg.masks or ()))}
    if cfg.init not in INITS:
        found["init"] = cfg.init
    return {role: value for role, value in found.items() if value}


def _flat(values) -> list[Any]:
    return [p for v in values for p in (v if isinstance(v, list) else [v])]


def _end(tracer, reporter: Reporter, image, output, bit_depth: int, inputs, *, error: BaseException | None = None):
    """Write the picture a run ended with to ``output`` (if any), then its trace; a failure to write
    the trace of a failed run is a warning, never hiding the run's own exception."""
    if image is not None and image.dim() == 4:
        image = image[0]  # (1, 3, H, W) -> (3, H, W)
    if output is not None and image is not None:
        write_image(image, output, bit_depth=bit_depth, protect=_flat(inputs.values()))
    if tracer is None:
        return
    if error is None:
        tracer.finish(image=image)
        return
    try:
        tracer.finish(image=image, error=error)
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
