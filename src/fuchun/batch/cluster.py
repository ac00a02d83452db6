"""A batch on a Ray cluster (https://docs.ray.io): the same jobs, one Ray task each.

A task takes one GPU where the cluster has GPUs, else one CPU (Ray then gives it one thread).
Ray keeps its worker processes between tasks, so each keeps its network like a local worker
(:mod:`fuchun.batch.worker`). A task makes its output in a temporary folder on its own node
and returns the file's bytes; the driver writes them to the job's output, atomically, so the
outputs land where the batch names them even when the nodes share no disk. Inputs are read
by the task, at the paths the jobs give: every node must see them there (a shared folder).
A task whose worker dies (a killed process, a lost node) is run again, up to ``retries`` times.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from typing import Any

from fuchun.batch.jobs import BatchJob
from fuchun.batch.worker import JobResult, execute
from fuchun.errors import FuchunError, UsageError, one_line
from fuchun.io.atomic import write_atomic


def execute_job(job: BatchJob) -> tuple[JobResult, bytes | None]:
    """A Ray task's body: (the result, the output file's bytes when done)."""
    with tempfile.TemporaryDirectory(prefix="fuchun-job-") as folder:
        target = pathlib.Path(folder) / pathlib.Path(job.output).name
        result = execute(job, target)
        return result, target.read_bytes() if result.status == "done" else None


def connect(address: str | None) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` (None: ``RAY_ADDRESS`` or a new local one)."""
    try:
        import ray
    except ImportError:
        raise UsageError('--ray needs the cluster extra: pip install "fuchun[cluster]"') from None
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "the default address"
        raise FuchunError(f"cannot connect to the Ray cluster at {where}: {one_line(exc)}") from None
    return ray


def run_ray(jobs: list[BatchJob], *, address: str | None, retries: int, on_result: Callable[[JobResult], None]) -> None:
    """Make every job as a Ray task on the cluster at ``address``; ``on_result`` as each one ends."""
    ray = connect(address)
    try:
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        task = ray.remote(execute_job).options(
            num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1, max_retries=retries, name="fuchun-job"
        )
        pending = {task.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(done[0])
            on_result(_collect(ray, done[0], job))
    finally:
        ray.shutdown()


def _collect(ray, ref, job: BatchJob) -> JobResult:
    """The result of a finished task, its output written where the job names it."""
    try:
        result, payload = ray.get(ref)
    except ray.exceptions.RayError as exc:  # the task's worker died more often than the retries allow
        return JobResult(job.number, job.output, "failed", error=f"the Ray task failed: {one_line(exc)[:300]}")
    if payload is not None:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(job.output)), exist_ok=True)
            write_atomic(job.output, payload)
        except OSError as exc:
            return JobResult(job.number, job.output, "failed", result.seconds, f"cannot write: {exc}", result.worker)
    return result
