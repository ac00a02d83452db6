"""Cost: one evaluation of the full combined objective against Gram only, same process.

Prints ms per loss-and-gradient evaluation at 512 px (or --size) for Gatys (content +
Gram), + shifted Gram, + histogram, and the full default, in fp32 and bf16, and the ratio
of the full default to Gram only. The last line is that ratio in the run's default precision.

    python benchmarks/cost.py [--size 512] [--device auto]
"""

from __future__ import annotations

import argparse

import torch

from common import image, network, per_eval_ms
from fuchun.config.options import Config
from fuchun.run.engine import level_objective
from fuchun.run.job import Job
from fuchun.run.machine import pick_machine
from fuchun.run.schedule import Level

VARIANTS = {
    "gatys (content + Gram)": dict(preset="gatys"),
    "+ shifted Gram": dict(preset="fuchun", hist_weight=0.0, tv_weight=0.0),
    "+ histogram": dict(preset="fuchun", shift_weight=0.0, tv_weight=0.0),
    "fuchun default (all + TV)": dict(preset="fuchun"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    w, h = args.size, round(args.size * 0.75)
    ratios = {}
    for precision in ("fp32", "bf16"):
        net, machine = network(args.device, precision)
        x = torch.rand(1, 3, h, w, device=machine.device)
        ms = {}
        for name, options in VARIANTS.items():
            cfg = Config(**options).resolved()
            obj = level_objective(net, cfg, job, Level.at(cfg, (w, h)), machine)
            ms[name] = per_eval_ms(obj, x, repeats=args.repeats)
            print(f"{precision} {w}x{h} {name:28s} {ms[name]:8.1f} ms", flush=True)
        base = ms["gatys (content + Gram)"]
        ratios[precision] = ms["fuchun default (all + TV)"] / base
        print(f"{precision}: full / Gram only = {ratios[precision]:.3f}")
    print(f"{ratios[pick_machine(args.device, 'auto').precision]:.3f}")


if __name__ == "__main__":
    main()
