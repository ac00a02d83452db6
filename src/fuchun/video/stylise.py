"""A video, frame by frame, without flicker (Ruder, Dosovitskiy & Brox 2016, arXiv 1604.08610).

Each frame after the first starts from the previous frame's picture warped along the optical
flow and is pulled towards it by the temporal loss where forward and backward flow agree
(:mod:`fuchun.video.flow`, :mod:`fuchun.losses.temporal`); the first starts from the content
as a still picture would. Every option of a still picture applies to each frame (presets,
colour preservation, masks: a mask folder gives one mask per source frame, in name order).
The network is loaded once for the whole video. Finished frames go to a :class:`FrameCache`,
so a rerun of a stopped video skips them; the file is written once every frame is done.
"""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from fuchun.api import make_config
from fuchun.config.options import Config, VideoConfig
from fuchun.controls.colour import preserve_inputs, preserve_output
from fuchun.controls.masks import load_masks
from fuchun.errors import UsageError
from fuchun.io.formats import WRITE_SUFFIXES
from fuchun.io.read import fit_longest, read_image, resize_image
from fuchun.losses.temporal import TemporalTarget
from fuchun.net.features import VGGFeatures
from fuchun.report.base import Reporter
from fuchun.run import engine
from fuchun.run.job import Job
from fuchun.run.machine import pick_machine
from fuchun.video.cache import FrameCache
from fuchun.video.flow import aligned_previous
from fuchun.video.frames import Selection, VideoInfo, container_for, probe, read_frames, write_video


@dataclass(frozen=True)
class FrameDone:
    """One frame of a video run, finished now or found in the cache."""

    number: int  # from 1
    frames: int
    source: int  # index of the frame in the source video
    seconds: float  # spent on it (0 when cached)
    left: float | None  # estimated seconds until the last frame (None before any frame was made)
    cached: bool


def even_size(cfg: Config, info: VideoInfo) -> tuple[int, int]:
    """(W, H) of the output frames: the size option on the source's aspect, rounded down to even
    sides (the 4:2:0 video codecs need them)."""
    if cfg.size == "max":
        raise UsageError("--size max is for still pictures; give a video's size in px")
    w, h = cfg.size if isinstance(cfg.size, tuple) else fit_longest(info.size, cfg.size)
    return max(2, w - w % 2), max(2, h - h % 2)


def default_cache(output: str | os.PathLike) -> pathlib.Path:
    """The frame folder of ``output`` when none is given: ``OUTPUT.frames`` beside it."""
    output = pathlib.Path(output)
    return output.with_name(output.name + ".frames")


class _Masks:
    """Each frame's masks: a mask file holds for every frame, a mask folder gives one per source frame."""

    def __init__(self, sources: Sequence[str] | None, *, n_styles: int) -> None:
        self.sources = list(sources or [])
        self.n_styles = n_styles
        self.fixed = None if not self.sources or any(os.path.isdir(s) for s in self.sources) else self._load(None)

    def _pick(self, source: str, index: int) -> str:
        if not os.path.isdir(source):
            return source
        files = sorted(f for f in os.listdir(source) if pathlib.Path(f).suffix.lower() in WRITE_SUFFIXES)
        if index >= len(files):
            raise UsageError(f"mask folder '{source}' has {len(files)} masks; frame {index} needs one more")
        return os.path.join(source, files[index])

    def _load(self, index: int | None) -> list[torch.Tensor] | None:
        picked = self.sources if index is None else [self._pick(s, index) for s in self.sources]
        return load_masks(picked, n_styles=self.n_styles)

    def at(self, index: int) -> list[torch.Tensor] | None:
        if not self.sources:
            return None
        return self.fixed if self.fixed is not None else self._load(index)


def stylise_video(
    source: str | os.PathLike,
    style: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    options: dict[str, Any],
    video: VideoConfig | None = None,
    reporter: Reporter | None = None,
    on_frame: Callable[[FrameDone], None] | None = None,
    net: VGGFeatures | None = None,
    blend: Sequence[float] | None = None,
) -> pathlib.Path:
    """Stylise ``source`` with the ``style`` images into the video file ``output``; returns its path.

    ``options`` are :class:`Config`'s (as for ``stylize``), ``video`` the video's own settings,
    ``blend`` the weights of several style images.
    Raises :class:`fuchun.errors.Stopped` when ``reporter`` asks a frame to stop (the frames
    finished so far stay in the cache).
    """
    video = video or VideoConfig()
    reporter = reporter or Reporter()
    container_for(output)  # an unknown suffix fails before any work
    info = probe(source)
    selection = Selection(start=video.start, every=video.every, max_frames=video.max_frames)
    chosen = selection.indices(info.frames)
    if not chosen:
        raise UsageError(f"--start {video.start} is past the last frame of '{source}' ({info.frames} frames)")
    size = even_size(make_config("stylize", **options), info)
    cfg = make_config("stylize", **{**options, "size": size, "masks": None})
    styles = [read_image(s) for s in style]
    masks = _Masks(options.get("masks"), n_styles=len(styles))
    if blend is not None and (len(blend) != len(styles) or options.get("masks")):
        raise UsageError(f"--style-blend needs one weight per style image ({len(styles)}) and no masks")
    if net is None:
        full = cfg.resolved()  # the preset's pooling and layers filled in
        net, _ = engine.load_network(full, pick_machine(full.device, full.precision), reporter)
    cache = FrameCache(
        video.cache or default_cache(output), _record(source, style, cfg, video, blend, options.get("masks"))
    ).open()
    _stylise_frames(
        read_frames(source, selection), len(chosen), cfg=cfg, video=video, styles=styles, masks=masks,
        cache=cache, net=net, reporter=reporter, on_frame=on_frame, blend=blend,
    )  # fmt: skip
    written = _write(source, output, info=info, selection=selection, cfg=cfg, cache=cache)
    if not video.keep_frames and video.cache is None:
        cache.remove()
    return written


def _write(source, output, *, info: VideoInfo, selection: Selection, cfg: Config, cache: FrameCache) -> pathlib.Path:
    """Encode the cached frames (colour preservation applied) with the source's audio of their span."""
    chosen = selection.indices(info.frames)
    rate = info.rate / selection.every
    start = chosen[0] / info.rate
    pictures = (
        preserve_output(cfg.preserve_colors, cache.load(k), resize_image(frame, size=cfg.size))
        for k, (_, frame) in enumerate(read_frames(source, selection))
    )
    audio = source if info.has_audio else None
    return write_video(output, pictures, rate=rate, audio_from=audio, span=(start, start + len(chosen) / rate))


def _stylise_frames(
    frames: Iterator[tuple[int, torch.Tensor]],
    total: int,
    *,
    cfg: Config,
    video: VideoConfig,
    styles: list[torch.Tensor],
    masks: _Masks,
    cache: FrameCache,
    net: VGGFeatures,
    reporter: Reporter,
    on_frame: Callable[[FrameDone], None] | None,
    blend: Sequence[float] | None,
) -> None:
    """Make every frame not yet in ``cache``, each from the one before."""
    previous = before = None
    began, made = time.monotonic(), 0
    for k, (index, frame) in enumerate(frames):
        frame = resize_image(frame, size=cfg.size)
        if cache.has(k):
            previous, before = cache.load(k), frame
            _report(on_frame, k, total, index, 0.0, None, cached=True)
            continue
        t0 = time.monotonic()
        shown, shown_styles = preserve_inputs(cfg.preserve_colors, frame, styles)
        job = Job(
            content=shown, styles=shown_styles, blend=None if blend is None else list(blend), masks=masks.at(index)
        )
        if previous is not None:
            warped, weight = aligned_previous(previous, before, frame, method=video.flow)
            job.start = warped
            job.temporal = TemporalTarget(warped=warped, mask=weight, weight=video.temporal_weight)
        previous, before = cache.save(k, engine.run(cfg, job, reporter, net=net)), frame
        made += 1
        per_frame = (time.monotonic() - began) / made
        _report(on_frame, k, total, index, time.monotonic() - t0, per_frame * (total - k - 1), cached=False)


def _report(on_frame, k: int, total: int, index: int, seconds: float, left, *, cached: bool) -> None:
    if on_frame is not None:
        on_frame(FrameDone(number=k + 1, frames=total, source=index, seconds=seconds, left=left, cached=cached))


def _record(source, style, cfg: Config, video: VideoConfig, blend, masks) -> dict[str, Any]:
    """What made a video's frames: a cache holding frames of anything else is refused."""
    stat = os.stat(source)
    settings = {k: v for k, v in asdict(video).items() if k not in ("max_frames", "cache", "keep_frames")}
    return {
        "source": [os.path.abspath(source), stat.st_size, stat.st_mtime_ns],
        "styles": [os.path.abspath(s) for s in style],
        "options": asdict(cfg),
        "video": settings,
        "blend": None if blend is None else list(blend),
        "masks": None if masks is None else [os.path.abspath(m) for m in masks],
    }
