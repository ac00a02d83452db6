"""Batch throughput: seconds per picture with the network kept, against loading it per picture,
and the estimate for a large batch on N machines.

Runs ``--pictures`` stylize jobs at ``--size`` through :func:`fuchun.batch.worker.execute` in
this process, as one batch worker does (the network loaded once, timed apart), and prints
the per-picture time, the baseline of one ``fuchun stylize`` process for the first picture
(start-up, imports, network and picture), and T(N pictures, G workers) = N × t_picture / G + t_load. For GPUs pass
``--gpu-ms-per-eval`` (an assumption unless measured): t_picture = steps × ms × the share of
a full-size evaluation the coarse-to-fine schedule costs (measured here on this machine).

    python benchmarks/batch.py [--size 512] [--pictures 2] [--steps 200] [--total 10000]
                               [--gpus 1,4,8] [--gpu-ms-per-eval 40] [--images ../shared/data/images]
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import time

import common
from common import Results, command_line
from fuchun.api import make_config
from fuchun.batch import worker
from fuchun.batch.jobs import BatchJob
from fuchun.run.schedule import Schedule

CONTENTS = ("tubingen.jpg", "golden-gate.jpg", "lion.jpg", "taj-mahal.jpg")


def schedule_share(size: int, steps: int) -> float:
    """The coarse-to-fine schedule's cost in full-size evaluations per step (pixels as the cost)."""
    cfg = make_config("stylize", size=size, steps=steps).resolved()
    schedule = Schedule.of(cfg, (size, size * 3 // 4))
    sizes, per_scale = schedule.sizes, schedule.steps
    full = sizes[-1][0] * sizes[-1][1]
    return sum(n * w * h / full for n, (w, h) in zip(per_scale, sizes, strict=True)) / steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--pictures", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--total", type=int, default=10_000)
    p.add_argument("--gpus", default="1,4,8")
    p.add_argument("--gpu-ms-per-eval", type=float, default=None)
    p.add_argument("--images", default=str(common.SHARED))
    args = p.parse_args(argv)
    record = Results("batch", command_line("batch.py", argv))
    print(f"command: {record.command}")
    images = pathlib.Path(args.images)
    options = {"size": args.size, "steps": args.steps}
    t0 = time.perf_counter()
    worker.network_for(options)
    load = time.perf_counter() - t0
    times = []
    with tempfile.TemporaryDirectory() as out:
        for k in range(args.pictures):
            content = images / "content" / CONTENTS[k % len(CONTENTS)]
            job = BatchJob(
                k + 1, str(content), (str(images / "style" / "starry-night.jpg"),), f"{out}/{k}.png", options
            )
            result = worker.execute(job)
            if result.status != "done":
                raise SystemExit(f"job {k + 1} failed: {result.error}")
            times.append(result.seconds)
            print(f"picture {k + 1}: {result.seconds:.1f} s")
        first = images / "content" / CONTENTS[0]
        argv = [sys.executable, "-m", "fuchun.cli", "stylize", str(first), str(images / "style" / "starry-night.jpg")]
        argv += ["-o", f"{out}/alone.png", "--size", str(args.size), "--steps", str(args.steps), "--quiet"]
        t0 = time.perf_counter()
        subprocess.run(argv, check=True)
        alone = time.perf_counter() - t0
    pic = sum(times) / len(times)
    gpus = [int(g) for g in args.gpus.split(",")]
    share = schedule_share(args.size, args.steps)
    rows = [
        ["network load (once per worker)", f"{load:.1f} s"],
        [f"per picture at {args.size} px, {args.steps} steps, CPU (mean of {len(times)})", f"{pic:.1f} s"],
        ["one `fuchun stylize` process for picture 1 (start, imports, network, picture)",
         f"{alone:.1f} s = {alone / times[0]:.2f}x the batch's {times[0]:.1f} s"],
        *([f"T({args.total}, {g}) = N x t_picture / G + t_load on {g} CPU workers like this one",
           f"{(args.total * pic / g + load) / 3600:.1f} h"] for g in gpus),
        ["coarse-to-fine schedule: full-size evaluations per step", f"{share:.3f}"],
    ]  # fmt: skip
    if args.gpu_ms_per_eval is not None:
        t_gpu = args.steps * share * args.gpu_ms_per_eval / 1000
        assumed = f"GPU (ASSUMED {args.gpu_ms_per_eval:g} ms per full-size evaluation, not measured)"
        for g in gpus:
            hours = args.total * t_gpu / g / 3600
            rows.append([f"{assumed}: T({args.total}, {g})", f"t_picture = {t_gpu:.1f} s; {hours:.2f} h"])
    print("\nT(N, G) = N x t_picture / G + t_load")
    print(record.table("a batch worker's pictures, and a large batch's time", ["", "measured"], rows))
    record.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
