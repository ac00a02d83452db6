"""``fuchun batch``: the command line of :mod:`fuchun.batch`.

``fuchun batch JOBS.toml|.csv|.jsonl`` or ``fuchun batch --content DIR --style DIR -o OUTDIR``,
on this machine (``--workers N``) or on a Ray cluster (``--ray [ADDRESS]``). Outputs that
exist are skipped, so a rerun makes only what is missing; a failed job is reported and the
others go on. One line per job, a summary at the end; exit status 1 if any job failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

from fuchun.api import picture_options
from fuchun.batch.jobs import folder_jobs, read_jobs
from fuchun.batch.local import run_local
from fuchun.batch.worker import JobResult
from fuchun.cli.interrupts import Interrupts
from fuchun.cli.options import add_config_options, checked, config_options
from fuchun.config.options import BatchConfig
from fuchun.errors import UsageError

HELP = "stylise many pictures (or videos): jobs from a file or two folders, on worker processes or a Ray cluster"


def add_parsers(sub) -> None:
    """The ``batch`` sub-command and its options (every stylize option is a default for the jobs)."""
    b = sub.add_parser("batch", help=HELP, description=HELP)
    b.add_argument("jobs", nargs="?", help="a job file: .toml ([[job]] tables), .csv or .jsonl")
    b.add_argument("--content", metavar="DIR", help="a folder of photos (and videos) to stylise")
    b.add_argument("--style", metavar="DIR", help="a folder of style images")
    b.add_argument("-o", "--output", metavar="OUTDIR", help="with --content and --style: the output folder")
    b.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="run the jobs as Ray tasks on the cluster at ADDRESS (host:port; without it RAY_ADDRESS or a new "
        "local cluster); needs fuchun[cluster]",
    )
    b.add_argument("--config", metavar="FILE", help="read default options for every job from a TOML file")
    group = b.add_argument_group("batch options")
    for f in dataclasses.fields(BatchConfig):
        meta = f.metadata
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=f.default,
            type=checked(meta["parse"], f.name),
            choices=meta["choices"],
            help=f"{meta['help']} (default: {f.default})",
        )
    add_config_options(b, "stylize")


def _jobs(ns: argparse.Namespace, defaults: dict) -> list:
    folders = (ns.content, ns.style, ns.output)
    if ns.jobs is not None:
        if any(folders):
            raise UsageError("give a job file or --content, --style and -o, not both")
        return read_jobs(ns.jobs, defaults=defaults)
    if not all(folders):
        raise UsageError("give a job file, or --content DIR, --style DIR and -o OUTDIR")
    return folder_jobs(ns.content, ns.style, ns.output, pairs=ns.pairs, defaults=defaults)


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Run the batch; 0 when every job is done or skipped, 1 when any failed."""
    options = config_options(ns)
    if options.get("trace") or options.get("save_every"):
        raise UsageError("batch takes neither --trace nor --save-every")
    quiet = options.get("quiet", False)
    jobs = _jobs(ns, picture_options(options))
    t0, counts = time.monotonic(), dict.fromkeys(("done", "skipped", "failed"), 0)
    width = len(str(len(jobs)))

    def said(result: JobResult) -> None:
        counts[result.status] += 1
        head = f"fuchun: [{result.number:>{width}}/{len(jobs)}] {result.status} {result.output}"
        if result.status == "failed":
            print(f"{head}: {result.error}", file=sys.stderr, flush=True)
        elif not quiet and result.status == "done":
            print(f"{head} in {result.seconds:.1f} s ({result.worker})", file=sys.stderr, flush=True)

    todo = [j for j in jobs if not os.path.exists(j.output)]
    for job in jobs:
        if job not in todo:
            said(JobResult(job.number, job.output, "skipped"))
    if not quiet and len(todo) < len(jobs):
        print(f"fuchun: {len(jobs) - len(todo)} of {len(jobs)} outputs exist and are skipped", file=sys.stderr)
    for folder in {os.path.dirname(os.path.abspath(j.output)) for j in todo}:
        os.makedirs(folder, exist_ok=True)
    if todo:
        _run(todo, ns, said)
    where = "a Ray cluster" if ns.ray is not None else f"{ns.workers} worker{'s' if ns.workers > 1 else ''}"
    print(
        f"fuchun: batch: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed "
        f"in {time.monotonic() - t0:.1f} s on {where}",
        file=sys.stderr,
        flush=True,
    )
    return 1 if counts["failed"] else 0


def _run(todo: list, ns: argparse.Namespace, said) -> None:
    if ns.ray is not None:
        from fuchun.batch.cluster import run_ray

        run_ray(todo, address=ns.ray or None, retries=ns.retries, on_result=said)
    else:
        run_local(todo, workers=ns.workers, on_result=said)
