"""GPU numbers: ms per evaluation and peak memory per size, and the default run at 1024 px.

For the full default objective (bf16 autocast + channels-last where available) at
512/1024/2048/4096 px: ms per loss-and-gradient evaluation, effective TFLOP/s of the
network part, peak GPU memory next to the memory planner's estimate, with the savings the
planner picks for a 24 GB budget (``--budget-gib``; at 4096 px: checkpointing and lean
statistics); then the end-to-end default run at 1024 px. Sizes that do not fit are
reported, not fatal.

    python benchmarks/gpu.py                 # on a CUDA machine
    python benchmarks/gpu.py --quick         # tiny sizes, runs on the CPU too
"""

from __future__ import annotations

import argparse

import torch

import fuchun
from common import Results, command_line, image, network, per_eval_ms, timed
from fuchun.config.options import Config
from fuchun.run.engine import level_objective
from fuchun.run.fit import term_loads
from fuchun.run.job import Job
from fuchun.run.memory import MemoryPlanError, plan
from fuchun.run.schedule import Level

FLOP_PER_PX = 247e9 / (512 * 512)  # operations per pixel, VGG16 to relu5_1, forward + backward (measured count)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--budget-gib", type=float, default=24.0, help="plan each size for this much memory")
    args = p.parse_args()
    sizes, e2e, steps = ((64, 96), 96, 10) if args.quick else ((512, 1024, 2048, 4096), 1024, Config.steps)
    torch.backends.cudnn.benchmark = True
    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    net, machine = network(args.device, "auto")
    cfg = Config().resolved()
    print(f"device {machine.device}, precision {machine.precision}")
    record, rows = Results("gpu", command_line("gpu.py")), []
    for side in sizes:
        try:
            rows.append(measure(net, machine, cfg, job, side, budget=int(args.budget_gib * 2**30)))
        except torch.OutOfMemoryError:
            rows.append([f"{side}x{side}", "out of memory", "", "", ""])
            torch.cuda.empty_cache()
        print(" ".join(rows[-1]), flush=True)
    _, seconds = timed(
        fuchun.render, "stylize", content=job.content, style=job.styles, size=e2e, steps=steps, device=args.device
    )
    print(f"end-to-end default run at {e2e} px ({steps} steps): {seconds:.1f} s")
    columns = ["size", "ms/eval", "TFLOP/s (network)", "peak GiB measured + L-BFGS history", "planned"]
    record.table(f"the default objective on {machine.device}, {machine.precision}", columns, rows)
    record.note(f"end-to-end default run at {e2e} px ({steps} steps): {seconds:.1f} s")
    record.save()


def measure(net, machine, cfg, job, side: int, *, budget: int) -> list[str]:
    w, h = side, side
    loads = term_loads(cfg, job, net, (w, h), machine.precision)
    kw = dict(arch="vgg16", deepest="relu5_1", precision=machine.precision, optimizer="lbfgs", loads=loads,
              device=machine.device.type)  # fmt: skip
    try:
        chosen = plan((w, h), budget=budget, history=cfg.lbfgs_history, **kw)
    except MemoryPlanError as err:
        return [f"{side}x{side}", str(err), "", "", ""]
    net.checkpoint_blocks = chosen.checkpoint
    if machine.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    level = Level.at(cfg, (w, h))
    obj = level_objective(net, cfg, Job(job.content, job.styles), level, machine, lean=chosen.checkpoint)
    ms = per_eval_ms(obj, torch.rand(1, 3, h, w, device=machine.device))
    peak = torch.cuda.max_memory_allocated() / 2**30 if machine.device.type == "cuda" else float("nan")
    state = 2 * chosen.history * 3 * w * h * 4 / 2**30  # L-BFGS history, not allocated in this measurement
    tflops = FLOP_PER_PX * w * h / (ms / 1000) / 1e12
    net.checkpoint_blocks = False
    return [f"{side}x{side}", f"{ms:.1f} ms/eval", f"{tflops:.1f}", f"{peak:.1f} + {state:.1f} = {peak + state:.1f}",
            chosen.describe()]  # fmt: skip


if __name__ == "__main__":
    main()
