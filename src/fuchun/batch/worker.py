"""One job of a batch, made in a process that keeps its network between jobs.

The network is loaded on a worker's first job and kept for the next ones (one per backbone,
weights file, pooling and device: jobs with other options still share it). A job's failure
is caught here and returned as a :class:`JobResult`, so one bad job never ends a worker.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from fuchun.api import make_config, render
from fuchun.batch.jobs import BatchJob
from fuchun.config.options import VideoConfig
from fuchun.errors import one_line
from fuchun.net.features import VGGFeatures
from fuchun.report.base import Reporter
from fuchun.run import engine
from fuchun.run.machine import pick_machine

STATUSES = ("done", "skipped", "failed")
_NETWORKS: dict[tuple, VGGFeatures] = {}  # this process's networks, loaded once each


@dataclass(frozen=True)
class JobResult:
    """What became of one job."""

    number: int
    output: str
    status: str  # one of STATUSES
    seconds: float = 0.0
    error: str | None = None
    worker: str = ""  # host:pid of the process that made it


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def network_for(options: dict[str, Any]) -> VGGFeatures:
    """This process's network for a job's options, loaded on first use."""
    cfg = make_config("stylize", **options).resolved()
    key = (cfg.backbone, cfg.weights, cfg.pooling, cfg.device, cfg.precision)
    if key not in _NETWORKS:
        _NETWORKS[key], _ = engine.load_network(cfg, pick_machine(cfg.device, cfg.precision), Reporter())
    return _NETWORKS[key]


def make_output(job: BatchJob, target: str | os.PathLike) -> None:
    """Make ``job``'s picture or video and write it (atomically) to ``target``."""
    net = network_for(job.options)
    if job.is_video:
        from fuchun.video.stylise import stylise_video  # PyAV and OpenCV: the video extra, for videos only

        # the frames wait beside the output (a rerun resumes them) and go once it is written
        video = VideoConfig(**job.video)
        stylise_video(job.content, list(job.styles), target, options=job.options, video=video, net=net)
        return
    render("stylize", content=job.content, style=list(job.styles), net=net, output=target, **job.options)


def execute(job: BatchJob, target: str | os.PathLike | None = None) -> JobResult:
    """Make ``job`` into ``target`` (its own output by default); failures are returned, not raised."""
    t0 = time.monotonic()
    try:
        make_output(job, target if target is not None else job.output)
    except Exception as exc:  # noqa: BLE001 - any failure of one job is that job's result
        return JobResult(job.number, job.output, "failed", time.monotonic() - t0, _reason(exc), worker_name())
    return JobResult(job.number, job.output, "done", time.monotonic() - t0, None, worker_name())


def _reason(exc: BaseException) -> str:
    """One line for a failed job: the message of our own errors, with the type for anything else."""
    text = one_line(str(exc)) or type(exc).__name__
    ours = isinstance(exc, (ValueError, OSError)) or type(exc).__module__.startswith("fuchun")
    return text if ours else f"{type(exc).__name__}: {text}"
