"""Cost: one evaluation of each objective against Gram only, same process.

Prints ms per loss-and-gradient evaluation at 512 px (or --size) of Gatys (content + Gram),
+ shifted Gram, + histogram, the ``fuchun`` preset (all the article's terms and TV), the
default ``paint`` (content + Gaussian W2) and the default with the sliced Wasserstein style
term in W2's place, in fp32 and bf16, each as a ratio to Gram only. The last line is the
``fuchun`` preset's ratio in the run's default precision.

    python benchmarks/cost.py [--size 512] [--device auto]
"""

from __future__ import annotations

import argparse

import torch

from common import Results, command_line, image, network, per_eval_ms
from fuchun.config.options import Config
from fuchun.run.engine import level_objective
from fuchun.run.job import Job
from fuchun.run.machine import pick_machine
from fuchun.run.schedule import Level

BASE = "gatys (content + Gram)"
VARIANTS = {
    BASE: dict(preset="gatys"),
    "+ shifted Gram": dict(preset="fuchun", hist_weight=0.0, tv_weight=0.0),
    "+ histogram": dict(preset="fuchun", shift_weight=0.0, tv_weight=0.0),
    "fuchun (all the article's terms + TV)": dict(preset="fuchun"),
    "paint, the default (content + W2)": dict(preset="paint"),
    "paint with sliced Wasserstein for W2": dict(preset="paint", w2_weight=0.0, sliced_weight=20.0),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    results = Results("cost", command_line("cost.py"))
    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    w, h = args.size, round(args.size * 0.75)
    ms: dict[str, dict[str, float]] = {name: {} for name in VARIANTS}
    for precision in ("fp32", "bf16"):
        net, machine = network(args.device, precision)
        x = torch.rand(1, 3, h, w, device=machine.device)
        for name, options in VARIANTS.items():
            cfg = Config(**options).resolved()
            obj = level_objective(net, cfg, job, Level.at(cfg, (w, h)), machine)
            ms[name][precision] = per_eval_ms(obj, x, repeats=args.repeats)
            print(f"{precision} {w}x{h} {name:40s} {ms[name][precision]:8.1f} ms", flush=True)
    rows = [
        [name, f"{t['fp32']:.0f}", f"{t['fp32'] / ms[BASE]['fp32']:.2f}", f"{t['bf16']:.0f}",
         f"{t['bf16'] / ms[BASE]['bf16']:.2f}"]
        for name, t in ms.items()
    ]  # fmt: skip
    columns = ["objective", "fp32 ms", "fp32 × Gram only", "bf16 ms", "bf16 × Gram only"]
    print(results.table(f"one evaluation at {w}x{h} px, {pick_machine(args.device, 'auto').device}", columns, rows))
    results.save()
    full = ms["fuchun (all the article's terms + TV)"]
    precision = pick_machine(args.device, "auto").precision
    print(f"{full[precision] / ms[BASE][precision]:.3f}")


if __name__ == "__main__":
    main()
