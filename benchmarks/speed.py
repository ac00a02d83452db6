"""Speed: fuchun's default against the way peers run (plain fp32, single scale, L-BFGS).

In one process, on the same images and weights:
1. baseline: Gatys losses, fp32, one scale, 300 L-BFGS steps at 512 px;
2. fuchun's defaults (coarse to fine, bf16 where fast, its own step budget) on the same
   Gatys objective;
3. fuchun's default (the full combined objective, same path);
all scored by one evaluator (the Gatys objective in fp32 at 512 px). Then per-evaluation
times at 256/512 px in fp32 and bf16, and the memory planner's estimate per size.
The last line is the time ratio fuchun default / baseline.

    python benchmarks/speed.py            # the full measurement (about 15 minutes on 2 cores)
    python benchmarks/speed.py --quick    # a tiny version that only shows it works
    python benchmarks/speed.py --plan     # only the memory planner's table for the default
"""

from __future__ import annotations

import argparse
import pathlib

import torch

import fuchun
from common import Results, command_line, gatys_score, image, network, per_eval_ms, timed
from fuchun.config.options import Config
from fuchun.io.write import write_image
from fuchun.run.engine import level_objective
from fuchun.run.fit import active_terms, term_loads
from fuchun.run.job import Job
from fuchun.run.memory import Loads, estimate
from fuchun.run.schedule import Level

CONTENT, STYLE = "content/tubingen.jpg", "style/starry-night.jpg"


def main() -> None:
    args = parse_args()
    if args.plan:
        memory_table(args)
        return
    job = Job(image(CONTENT), [image(STYLE)])
    fuchun_steps = {"steps": args.steps} if args.quick else {}  # fuchun's own default otherwise
    runs = {
        "baseline (gatys, fp32, single scale)": dict(preset="gatys", precision="fp32", scales="none", steps=args.steps),
        "fuchun path, gatys objective": dict(preset="gatys", **fuchun_steps),
        "fuchun default (full objective)": dict(fuchun_steps),
    }
    measured = {}
    for name, options in runs.items():
        picture, seconds = timed(
            fuchun.render,
            "stylize",
            content=job.content,
            style=job.styles,
            size=args.size,
            device=args.device,
            **options,
        )
        score = gatys_score(picture, job, size=args.size, device=args.device)
        measured[name] = (seconds, score)
        if args.out:
            pathlib.Path(args.out).mkdir(parents=True, exist_ok=True)
            write_image(
                picture, pathlib.Path(args.out) / (name.split(" (")[0].replace(" ", "-").replace(",", "") + ".png")
            )
        print(f"{name:40s} {seconds:8.1f} s   Gatys score {score:.4f}", flush=True)
    base_t, base_s = measured["baseline (gatys, fp32, single scale)"]
    results = Results("speed", command_line("speed.py"))
    rows = [[n, f"{t:.1f}", f"{t / base_t:.3f}", f"{s:.4f}", f"{s / base_s:.3f}"] for n, (t, s) in measured.items()]
    columns = ["run", "time s", "× baseline", "Gatys score (fp32 evaluator)", "score × baseline"]
    print(results.table(f"whole runs at {args.size} px, Tübingen + The Starry Night", columns, rows))
    print(eval_times(job, args, results))
    results.save()
    memory_table(args)
    print(f"{measured['fuchun default (full objective)'][0] / base_t:.3f}")


def eval_times(job: Job, args, results: Results) -> str:
    """ms per evaluation of the Gatys and the default objective, fp32 vs bf16."""
    rows = []
    for size in args.eval_sizes:
        for preset in ("gatys", "paint"):
            ms = {}
            for precision in ("fp32", "bf16"):
                net, machine = network(args.device, precision)
                cfg = Config(preset=preset, size=size).resolved()
                w, h = size, round(size * 0.75)
                obj = level_objective(net, cfg, job, Level.at(cfg, (w, h)), machine)
                ms[precision] = per_eval_ms(obj, torch.rand(1, 3, h, w, device=machine.device))
            rows.append([f"{size}", preset, f"{ms['fp32']:.0f}", f"{ms['bf16']:.0f}", f"{ms['bf16'] / ms['fp32']:.2f}"])
    columns = ["size px", "preset", "fp32 ms", "bf16 ms", "bf16 / fp32"]
    return results.table("one loss-and-gradient evaluation (4:3)", columns, rows)


def default_loads(net, side: int) -> tuple[Loads, str]:
    """What the default objective holds at side x side (style as large as the output), and its deepest layer."""
    cfg = Config().resolved()
    square = torch.zeros(3, side, side)
    job = Job(square, [square])
    layers = [layer for term in active_terms(cfg, job) for layer in term.layers(cfg)]
    return term_loads(cfg, job, net, (side, side), "bf16"), net.deepest(layers)


def memory_table(args) -> None:
    """The planner's estimate of the default run's peak at each size, bf16, on the CPU and on CUDA
    (results/plan.json)."""
    net, _ = network(args.device, "fp32")
    results = Results("plan", command_line("speed.py", ["--plan"]))
    rows = []
    for side in (512, 1024, 2048, 4096):
        loads, deepest = default_loads(net, side)
        kw = dict(arch="vgg16", deepest=deepest, optimizer="lbfgs", loads=loads)
        cells = [f"{side}x{side}"]
        for device in ("cpu", "cuda"):
            full = estimate((side, side), precision="bf16", history=50, device=device, **kw) / 2**30
            saved = estimate((side, side), precision="bf16", history=5, checkpoint=True, device=device, **kw) / 2**30
            cells += [f"{full:.1f}", f"{saved:.1f}"]
        cells.append(f"{estimate((side, side), precision='fp32', history=50, device='cpu', **kw) / 2**30:.1f}")
        rows.append(cells)
    columns = ["size", "CPU bf16 GiB", "checkpointed, history 5", "CUDA bf16 GiB", "checkpointed, history 5",
               "CPU fp32 GiB"]  # fmt: skip
    print(results.table("the planner's estimate of the default run's peak (not measured)", columns, rows))
    results.save()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes and steps (a smoke run)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", help="also write the three pictures into this folder, to look at")
    p.add_argument("--plan", action="store_true", help="only the memory planner's table (no runs)")
    args = p.parse_args()
    args.size, args.steps, args.eval_sizes = (96, 6, (64,)) if args.quick else (512, 300, (256, 512))
    return args


if __name__ == "__main__":
    main()
