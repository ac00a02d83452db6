"""Memory: the planner's estimate against the measured peak of one evaluation on the CPU.

For the full default objective at each size, in the normal mode and in the lean mode the
planner picks for large pictures (gradient checkpointing, no shared float32 copies):
the resident-memory peak of one loss-and-gradient evaluation above what the process held
before it (sampled every millisecond), next to the planner's estimate of the same run
without optimiser state. The last line is the largest measured/planned ratio (below 1 is
the safe side).

    python benchmarks/memory.py [--sizes 1024 2048]
"""

from __future__ import annotations

import argparse
import threading
import time

import torch

from common import image, network
from fuchun.config.options import Config
from fuchun.engine import Job, scale_objective
from fuchun.memory import estimate

PAGE = 4096


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class PeakSampler:
    """The highest resident size seen while the ``with`` block runs."""

    def __enter__(self):
        self.peak, self.running = rss(), True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.001)

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    p.add_argument("--precision", default="bf16")
    args = p.parse_args()
    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    net, machine = network("cpu", args.precision)
    cfg = Config().resolved()
    worst = 0.0
    for side in args.sizes:
        for lean in (False, True):
            net.checkpoint_blocks = lean
            obj = scale_objective(net, cfg, job, (side, side), machine, lean=lean)
            x = torch.rand(1, 3, side, side).contiguous(memory_format=torch.channels_last).requires_grad_(True)
            before = rss()
            with PeakSampler() as sampler:
                loss, _ = obj(x)
                loss.backward()
            del loss, obj
            measured = (sampler.peak - before) / 2**30
            planned = (
                estimate(
                    (side, side),
                    arch="vgg16",
                    deepest="relu5_1",
                    precision=machine.precision,
                    optimizer="adam",
                    history=0,
                    hist_channels=64,
                    checkpoint=lean,
                )
                / 2**30
            )
            worst = max(worst, measured / planned)
            mode = "lean (checkpointing)" if lean else "normal"
            print(
                f"{side}x{side} {machine.precision} {mode:22s} "
                f"measured {measured:6.2f} GiB   planned {planned:6.2f} GiB"
                f"   ratio {measured / planned:.2f}",
                flush=True,
            )
    print(f"{worst:.3f}")


if __name__ == "__main__":
    main()
