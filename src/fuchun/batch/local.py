"""A batch on this machine: in this process, or on ``workers`` worker processes.

Each worker process is started once (``spawn``: a clean interpreter, no forked threads) and
keeps its network for all its jobs (:mod:`fuchun.batch.worker`). With several workers the
CPU threads are shared out (``torch.set_num_threads``) so that they do not fight over cores,
unless ``OMP_NUM_THREADS`` says how many each should use.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import torch

from fuchun.batch.jobs import BatchJob
from fuchun.batch.worker import JobResult, execute


def _start_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _threads(workers: int) -> int:
    """CPU threads per worker: ``OMP_NUM_THREADS`` where set (as Ray sets it for its tasks), else a
    share of the cores."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    return max(1, (os.cpu_count() or 1) // workers)


def run_local(jobs: list[BatchJob], *, workers: int, on_result: Callable[[JobResult], None]) -> None:
    """Make every job, ``on_result`` called as each one ends."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_result(execute(job))
        return
    threads = _threads(workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(threads,)) as pool:
        futures = {pool.submit(execute, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                on_result(future.result())
            except BrokenProcessPool:
                on_result(JobResult(job.number, job.output, "failed", error="its worker process died"))
