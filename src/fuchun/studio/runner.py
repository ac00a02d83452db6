"""One studio render: the engine in a thread, its previews and progress handed to the page.

The run itself is :func:`fuchun.api.render`, exactly as on the command line (it writes the
picture and the trace into the job's folder), with a :class:`PreviewReporter` and the loss log
of the page's curve beside it. The reporter keeps only the latest
preview (memory stays flat however fast the steps come) and answers ``should_stop`` from
the job's own Stop flag, so one visitor's Stop ends only their run; the engine then raises
:class:`fuchun.errors.Stopped` with the picture so far, which becomes the result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from fuchun.api import render
from fuchun.errors import FuchunError, Stopped
from fuchun.report.base import MultiReporter, Progress, Reporter, RunInfo
from fuchun.report.trace import LossLog
from fuchun.studio.files import JobFiles

log = logging.getLogger("fuchun.studio")

PREVIEW_EVERY = 2  # steps between two previews taken from the run
PREVIEW_SIDE = 1024  # longest side of a preview (the result itself is full size)
FRAME_INTERVAL = 0.5  # seconds: the page gets at most two updates a second
PLOT_INTERVAL = 2.0  # seconds between two redraws of the loss curve
PLOT_SIZE = (640, 360)


def preview_array(image: torch.Tensor, *, max_side: int | None = None) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] on any device -> (H, W, 3) uint8 on the CPU, shrunk to ``max_side``."""
    image = image.detach().float()
    h, w = image.shape[-2:]
    if max_side is not None and max(h, w) > max_side:  # shrink on the device: less to copy and encode
        k = max_side / max(h, w)
        image = F.interpolate(image, size=(max(1, round(h * k)), max(1, round(w * k))), mode="area")
    pixels = (image[0].clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.permute(1, 2, 0).cpu().numpy()  # (3, H, W) -> (H, W, 3)


@dataclass
class Snapshot:
    """What the page shows of a run at one moment (no tensors: safe to hand across threads)."""

    step: int = 0
    steps: int = 0
    scale: int = 0
    n_scales: int = 0
    size: tuple[int, int] = (0, 0)
    loss: float = float("nan")
    terms: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    left: float | None = None  # seconds, estimated


def time_left(progress: Progress, info: RunInfo | None) -> float | None:
    """Seconds left: the mean time per pixel-step so far times the pixel-steps still to come."""
    if info is None or progress.step < 2:
        return None
    work = [w * h for (w, h), n in zip(info.sizes, info.steps, strict=True) for _ in range(n)]  # pixels of each step
    done, rest = sum(work[: progress.step]), sum(work[progress.step :])
    return progress.elapsed * rest / max(done, 1)


class PreviewReporter(Reporter):
    """Keeps the latest preview and progress of a run; stops it when its job's flag is set."""

    def __init__(self, stop: threading.Event, *, every: int = PREVIEW_EVERY, preview: bool = True) -> None:
        self.stop, self.every, self.enabled = stop, every, preview
        self.info: RunInfo | None = None
        self.snapshot = Snapshot()
        self.preview: np.ndarray | None = None
        self.warnings: list[str] = []
        self.changed = threading.Event()
        self.preview_step = 0  # the step the preview shows
        self.seconds = 0.0  # CPU time spent taking previews, on the run's own thread

    def start(self, info: RunInfo) -> None:
        self.info = info
        self.changed.set()

    def step(self, progress: Progress) -> None:
        self.snapshot = Snapshot(
            progress.step,
            progress.steps,
            progress.scale,
            progress.n_scales,
            progress.size,
            progress.loss,
            dict(progress.terms),
            progress.elapsed,
            time_left(progress, self.info),
        )
        if self.enabled and (progress.step % self.every == 0 or progress.step == 1):
            t0 = time.thread_time()
            self.preview = preview_array(progress.image, max_side=PREVIEW_SIDE)
            self.preview_step = progress.step
            self.seconds += time.thread_time() - t0
        self.changed.set()

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def should_stop(self) -> bool:
        return self.stop.is_set()


@dataclass
class Outcome:
    """How a run ended: its picture (None if it failed), and one sentence for the page."""

    image: torch.Tensor | None
    message: str
    stopped: bool = False
    failed: bool = False


@dataclass
class Frame:
    """One update of the page during a run."""

    snapshot: Snapshot
    preview: np.ndarray | None
    plot: Image.Image | None
    outcome: Outcome | None = None  # set on the last frame only
    cost: float = 0.0  # seconds spent so far on previews and loss curves (benchmarks/studio_preview.py)


class RenderJob:
    """A run of ``mode`` with ``options`` on the inputs of ``files``, on its own thread."""

    def __init__(
        self,
        mode: str,
        options: dict[str, Any],
        files: JobFiles,
        *,
        stop: threading.Event,
        blend: list[float] | None = None,
        preview: bool = True,
    ) -> None:
        self.mode, self.options, self.files, self.blend = mode, options, files, blend
        self.reporter = PreviewReporter(stop, preview=preview)
        self.losses = LossLog()  # the page's loss curve
        self.outcome: Outcome | None = None
        self.plot_seconds = 0.0  # CPU time spent drawing loss curves for the page
        self.thread = threading.Thread(target=self._run, name="fuchun-render", daemon=True)

    def start(self) -> RenderJob:
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            image = render(
                self.mode,
                content=self.files.content,
                style=self.files.styles or None,
                style_blend=self.blend,
                reporter=MultiReporter(self.reporter, self.losses),
                output=self.files.result_png,
                trace=str(self.files.trace_dir),
                **self.options,
            )
            self.outcome = Outcome(image, "done")
        except Stopped as stop:
            self.outcome = Outcome(stop.image, f"stopped at step {stop.step} of {stop.steps}", stopped=True)
        except (FuchunError, ValueError) as exc:
            self.outcome = Outcome(None, " ".join(str(exc).split()), failed=True)
        except torch.OutOfMemoryError:
            self.outcome = Outcome(None, "out of memory: try a smaller size or bf16 precision", failed=True)
        except Exception as exc:  # noqa: BLE001 - the page gets one line, the server log the traceback
            log.exception("a studio run failed")
            self.outcome = Outcome(None, f"the run failed ({type(exc).__name__}); see the server's log", failed=True)
        finally:
            self.reporter.changed.set()

    def frames(self, *, interval: float = FRAME_INTERVAL, plot_interval: float = PLOT_INTERVAL) -> Iterator[Frame]:
        """Frames while the run goes (at most one per ``interval`` s), then the last one with the outcome.

        A frame's preview and plot are None when they have not changed since the frame before."""
        last_plot, shown = 0.0, 0
        while self.thread.is_alive():
            self.reporter.changed.wait(interval)
            if not self.thread.is_alive():
                break
            self.reporter.changed.clear()
            plot = None
            if self.reporter.enabled and time.monotonic() - last_plot >= plot_interval and self.losses.records:
                plot, last_plot = self.plot(), time.monotonic()
            preview = self.reporter.preview if self.reporter.preview_step != shown else None
            shown = self.reporter.preview_step
            yield Frame(self.reporter.snapshot, preview, plot, cost=self.cost)
            time.sleep(interval)
        self.thread.join()
        plot = self.plot() if self.reporter.enabled and self.losses.records else None
        yield Frame(self.reporter.snapshot, self.reporter.preview, plot, self.outcome, cost=self.cost)

    @property
    def cost(self) -> float:
        return self.reporter.seconds + self.plot_seconds

    def plot(self) -> Image.Image:
        """The loss curve so far, small enough for the page."""
        t0 = time.thread_time()
        image = self.losses.plot(size=PLOT_SIZE)
        self.plot_seconds += time.thread_time() - t0
        return image
