"""GPU numbers: ms per evaluation and peak memory per size, and the default run at 1024 px.

For the full default objective (bf16 autocast + channels-last where available) at
512/1024/2048/4096 px: ms per loss-and-gradient evaluation, effective TFLOP/s of the
network part, peak GPU memory next to the memory planner's estimate; then the end-to-end
default run at 1024 px. Sizes that do not fit are reported, not fatal.

    python benchmarks/gpu.py                 # on a CUDA machine
    python benchmarks/gpu.py --quick         # tiny sizes, runs on the CPU too
"""

from __future__ import annotations

import argparse

import torch

import fuchun
from fuchun.config import Config
from fuchun.engine import Job, _objective
from fuchun.memory import estimate

from common import image, network, per_eval_ms, timed

GFLOP_PER_PX = 247e9 / (512 * 512)  # VGG16 to relu5_1, forward + backward (measured count)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    sizes, e2e, steps = ((64, 96), 96, 10) if args.quick else ((512, 1024, 2048, 4096), 1024, Config.steps)
    torch.backends.cudnn.benchmark = True
    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    net, machine = network(args.device, "auto")
    cfg = Config().resolved()
    print(f"device {machine.device}, precision {machine.precision}")
    for side in sizes:
        try:
            measure(net, machine, cfg, job, side)
        except torch.OutOfMemoryError:
            print(f"{side} px: out of memory")
            torch.cuda.empty_cache()
    _, seconds = timed(fuchun.render, "stylize", content=job.content, style=job.styles, size=e2e, steps=steps,
                       device=args.device)
    print(f"end-to-end default run at {e2e} px ({steps} steps): {seconds:.1f} s")


def measure(net, machine, cfg, job, side: int) -> None:
    w, h = side, side
    if machine.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    obj = _objective(net, cfg, Job(job.content, job.styles), (w, h), machine)
    ms = per_eval_ms(obj, torch.rand(1, 3, h, w, device=machine.device))
    peak = torch.cuda.max_memory_allocated() / 2**30 if machine.device.type == "cuda" else float("nan")
    planned = estimate((w, h), arch="vgg16", deepest="relu5_1", precision=machine.precision, optimizer="lbfgs",
                       history=cfg.lbfgs_history, hist_channels=64) / 2**30
    tflops = GFLOP_PER_PX * w * h / (ms / 1000) / 1e12
    print(f"{side}x{side}: {ms:8.1f} ms/eval, {tflops:6.1f} TFLOP/s (network), peak {peak:.1f} GiB "
          f"(planned {planned:.1f} GiB incl. optimiser state)", flush=True)


if __name__ == "__main__":
    main()
