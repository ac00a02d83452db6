"""The studio without its page: check a visitor's request, run it, hand back the result.

:class:`Studio` is what the page's events call. It checks the uploads and settings against
the :class:`~fuchun.studio.limits.Limits`, copies the inputs into a job folder, runs the
engine through :class:`~fuchun.studio.runner.RenderJob`, writes the downloads, and keeps
the board of who is waiting, rendering and done. One render at a time is the page's queue
(``concurrency_limit=1`` on the render event); the board only counts.
"""

from __future__ import annotations

import functools
import pathlib
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from fuchun.api import make_config
from fuchun.config.parse import MAX_SIDE
from fuchun.errors import FuchunError, UsageError
from fuchun.net.backbones import BACKBONES
from fuchun.net.features import VGGFeatures
from fuchun.run.fit import fit
from fuchun.run.job import Job
from fuchun.run.machine import pick_machine
from fuchun.studio.command import command_line
from fuchun.studio.files import JobFiles
from fuchun.studio.limits import Limits, check_upload
from fuchun.studio.paint import mask_images, painted_masks
from fuchun.studio.runner import Frame, Outcome, RenderJob, preview_array
from fuchun.studio.settings import Settings

TICKET_SECONDS = 24 * 3600  # a ticket never started (its visitor left) is forgotten after this


@dataclass
class Upload:
    """A file the page received: where it lies on the server and its name on the visitor's machine."""

    path: str
    name: str


@dataclass
class Request:
    """Everything one render needs from the page."""

    settings: Settings
    content: Upload | None = None
    styles: list[Upload] = field(default_factory=list)
    init: Upload | None = None
    editor: dict[str, Any] | None = None  # the mask painter's value


@dataclass
class Result:
    """What the page shows when a run ends."""

    message: str
    picture: np.ndarray | None = None  # (H, W, 3) uint8
    files: list[pathlib.Path] = field(default_factory=list)
    command: str = ""
    settings: Settings | None = None
    failed: bool = False


@functools.lru_cache(maxsize=4)
def planning_network(backbone: str, pooling: str) -> VGGFeatures:
    """A randomly initialised network of the backbone's shape: all the memory planner reads."""
    spec = BACKBONES[backbone]
    return VGGFeatures(spec.arch, pooling=pooling, input_format=spec.input_format)


def largest_side(settings: Settings, aspect: tuple[int, int] = (1, 1)) -> int:
    """The memory planner's largest output side for ``settings`` on this machine (:func:`fuchun.run.fit.fit`)."""
    options = {k: v for k, v in settings.options().items() if k not in ("init", "masks")}
    cfg = make_config(settings.mode, **{**options, "size": "max"}).resolved()
    job = Job(content=torch.empty(3, aspect[1], aspect[0]))
    net = planning_network(cfg.backbone, cfg.pooling)
    cfg, _ = fit(cfg, job, net, pick_machine(cfg.device, cfg.precision))
    return min(int(cfg.size), MAX_SIDE)


class Studio:
    """The studio's state: its limits, its work folder and the board of tickets."""

    def __init__(self, limits: Limits | None = None, *, workdir: pathlib.Path | None = None) -> None:
        self.limits = limits or Limits()
        self.workdir = workdir or pathlib.Path(tempfile.mkdtemp(prefix="fuchun-studio-"))
        self.lock = threading.Lock()
        self.tickets: dict[str, tuple[threading.Event, float]] = {}
        self.rendering = 0
        self.most_at_once = 0
        self.finished = 0

    def close(self) -> None:
        """Remove the work folder."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def ticket(self) -> str:
        """A new ticket: the visitor's handle on their next run (their Stop button uses it)."""
        token = uuid.uuid4().hex
        with self.lock:
            now = time.time()
            self.tickets = {k: v for k, v in self.tickets.items() if now - v[1] < TICKET_SECONDS}
            self.tickets[token] = (threading.Event(), now)
        return token

    def stop(self, token: str | None) -> bool:
        """Ask the run of ``token`` to stop (also before it starts); False if there is none."""
        with self.lock:
            entry = self.tickets.get(token or "")
        if entry is None:
            return False
        entry[0].set()
        return True

    def status(self) -> dict[str, int]:
        """The board: renders running now, tickets waiting, runs finished, most renders ever at once."""
        with self.lock:
            return {
                "rendering": self.rendering,
                "waiting": max(0, len(self.tickets) - self.rendering),
                "finished": self.finished,
                "most_at_once": self.most_at_once,
            }

    def run(self, token: str | None, request: Request, *, preview: bool = True) -> Iterator[Frame | Result]:
        """Frames while the run goes, then its :class:`Result` (a failed check gives a Result at once)."""
        with self.lock:
            stop = self.tickets.get(token or "", (None, 0))[0]
        if stop is None:
            yield Result("this run was not registered; press Start again", failed=True)
            return
        try:
            if stop.is_set():
                yield Result("stopped before it started", settings=request.settings)
                return
            try:
                job, command = self.prepare(request, stop=stop, preview=preview)
            except (FuchunError, ValueError) as exc:
                yield Result(" ".join(str(exc).split()), failed=True, settings=request.settings)
                return
            yield from self._render(job, command, request.settings)
        finally:
            with self.lock:
                self.tickets.pop(token or "", None)

    def _render(self, job: RenderJob, command: str, settings: Settings) -> Iterator[Frame | Result]:
        with self.lock:
            self.rendering += 1
            self.most_at_once = max(self.most_at_once, self.rendering)
        try:
            job.start()
            for frame in job.frames():
                yield frame
                if frame.outcome is not None:
                    yield self.finish(job, frame.outcome, command, settings)
        finally:
            if job.thread.is_alive():  # the visitor left mid-run: end it before the next one starts
                job.reporter.stop.set()
                job.thread.join()
            with self.lock:
                self.rendering -= 1
                self.finished += 1

    def finish(self, job: RenderJob, outcome: Outcome, command: str, settings: Settings) -> Result:
        """Write the downloads of a run that ended (done or stopped) and describe it."""
        if outcome.image is None:
            return Result(outcome.message, failed=True, settings=settings)
        files = job.files.write_results(outcome.image)
        files.append(job.files.write_bundle(command))
        w, h = outcome.image.shape[-1], outcome.image.shape[-2]
        message = f"{outcome.message}: {w}x{h} px" + "".join(f"; {text}" for text in job.reporter.warnings)
        picture = preview_array(outcome.image[None])
        return Result(message, picture=picture, files=files, command=command, settings=settings)

    def prepare(self, request: Request, *, stop: threading.Event, preview: bool = True) -> tuple[RenderJob, str]:
        """Check the request, copy its inputs into a job folder; the job (not started) and its command."""
        settings, limits = request.settings, self.limits
        mode = settings.mode
        _check_inputs(mode, request)
        content = None
        if request.content is not None and mode != "texture":
            content = check_upload(request.content.path, limits, role="the photo", name=request.content.name)
        styles = [] if mode == "reconstruct" else request.styles
        checked = [check_upload(s.path, limits, role=f"painting {i}", name=s.name) for i, s in enumerate(styles, 1)]
        ref = content if content is not None else checked[0]
        largest = largest_side(settings, (ref.shape[-1], ref.shape[-2]))
        limits.check_output(side=int(settings.size), steps=int(settings.steps), largest=largest)
        options = settings.options()
        if request.init is not None:
            check_upload(request.init.path, limits, role="the start image", name=request.init.name)
        files = JobFiles.create(self.workdir)
        if content is not None:
            files.content = files.add(request.content.path, request.content.name, prefix="photo")
        files.styles = [files.add(s.path, s.name, prefix=f"painting-{i}") for i, s in enumerate(styles, 1)]
        names = _add_extras(files, request, options, painted=mode == "stylize" and content is not None)
        blend = _blend(settings, len(styles), masked="masks" in options)
        job = RenderJob(mode, options, files, stop=stop, blend=blend, preview=preview)
        command = command_line(
            mode,
            options={**options, **names},
            content=None if files.content is None else files.content.name,
            styles=[p.name for p in files.styles],
            blend=blend,
        )
        return job, command


def _add_extras(files: JobFiles, request: Request, options: dict[str, Any], *, painted: bool) -> dict[str, Any]:
    """Copy the start image and save the painted masks into the job; set their options.

    Returns the same options with the files' names, for the command line."""
    names: dict[str, Any] = {}
    if request.init is not None:
        files.init = files.add(request.init.path, request.init.name, prefix="start")
        options["init"], names["init"] = str(files.init), files.init.name
    masks = painted_masks(request.editor, n_styles=len(files.styles)) if painted else None
    if masks is not None:
        paths = files.add_masks(mask_images(masks))
        options["masks"], names["masks"] = tuple(str(p) for p in paths), tuple(p.name for p in paths)
    return names


def _check_inputs(mode: str, request: Request) -> None:
    """UsageError naming what is missing for ``mode``."""
    if mode in ("stylize", "reconstruct") and request.content is None:
        raise UsageError(f"{mode} needs a photo: drop one on 'Photo' or pick an example")
    if mode in ("stylize", "texture") and not request.styles:
        raise UsageError(f"{mode} needs at least one painting: drop one on 'Paintings' or pick an example")
    if len(request.styles) > len(request.settings.blend):
        raise UsageError(f"the studio takes up to {len(request.settings.blend)} paintings")


def _blend(settings: Settings, n_styles: int, *, masked: bool) -> list[float] | None:
    """The blend weights of the styles, or None (equal weights, or masks say where each goes)."""
    if masked or n_styles < 2 or settings.mode != "stylize":
        return None
    weights = [float(b) for b in settings.blend[:n_styles]]
    if sum(weights) <= 0:
        raise UsageError("the blend sliders are all at 0: give at least one painting some weight")
    return None if len(set(weights)) == 1 else weights
