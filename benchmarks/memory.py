"""Memory: the planner's estimate against the measured peak of a WHOLE run.

Each case is one real ``stylize`` run (Tübingen + Starry Night, the default loss preset,
two scales: half the side, then the side) in a fresh subprocess. On the CPU the peak is
the process's peak resident size (VmHWM, reset after the network is loaded) minus its
resident size at that point: the imports, the weights and the decoded images are not the
run's. On CUDA it is ``torch.cuda.max_memory_allocated`` above what was allocated before
the run. Next to it is the plan the engine made for the run (``fuchun.run.fit.fit``).
The run's last scale takes enough steps to fill L-BFGS's history (``--history``), so every
buffer the planner counts is alive. The last line is the largest planned/measured ratio;
the one before it the smallest (at least 1 is the safe side). The same run's peak varies by
up to about 15% between fresh processes (the allocator's state), so each case runs
``--repeats`` times and its largest peak is the one compared.

    python benchmarks/memory.py [--sizes 256 384 512 768] [--aspects 4:3 1:2] [--steps 12] [--history 2]
        [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys

from common import Results, command_line

HERE = pathlib.Path(__file__).resolve().parent


def _status(field: str) -> int:
    """A size field of /proc/self/status (VmRSS, VmHWM) in bytes."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> None:
    """Set VmHWM to the current resident size (Linux 4.0+)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def measure(size: tuple[int, int], *, steps: int, history: int, device: str, precision: str) -> dict:
    """One whole run at ``size`` = (W, H): {'measured': bytes, 'planned': bytes, ...}."""
    import gc

    import torch

    from common import image, network
    from fuchun.api import make_config
    from fuchun.run.engine import run
    from fuchun.run.fit import fit
    from fuchun.run.job import Job
    from fuchun.run.memory import release_freed_memory

    job = Job(image("content/tubingen.jpg"), [image("style/starry-night.jpg")])
    net, machine = network(device, precision)
    options = dict(size=size, scales=[max(size) // 2], steps=steps, lbfgs_history=history)
    cfg = make_config("stylize", device=device, precision=precision, **options)
    _, plan = fit(cfg.resolved(), job, net, machine)
    gc.collect()
    if machine.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        run(cfg, job, net=net)
        measured = torch.cuda.max_memory_allocated() - before
    else:
        release_freed_memory()  # what reading the inputs freed is not the run's to reuse: the worst case
        _reset_peak()
        before = _status("VmRSS")
        run(cfg, job, net=net)
        measured = _status("VmHWM") - before
    return {
        "size": list(size),
        "precision": machine.precision,
        "device": str(machine.device),
        "measured": measured,
        "planned": plan.peak_bytes,
        "checkpoint": plan.checkpoint,
    }


def _child(args) -> None:
    print(json.dumps(measure(tuple(args.child), steps=args.steps, history=args.history, **_machine(args))))


def _machine(args) -> dict:
    return {"device": args.device, "precision": args.precision}


def _case(side: int, aspect: str) -> tuple[int, int]:
    """(W, H) with longest side ``side`` and W:H = ``aspect``."""
    a, b = (int(x) for x in aspect.split(":"))
    return (side, round(side * b / a)) if a >= b else (round(side * a / b), side)


def _fresh_run(cmd: list[str], w: int, h: int) -> dict:
    """One case in a fresh process: its JSON record."""
    done = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"case {w}x{h} failed:\n{done.stderr[-3000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(r), file=sys.stderr)
    return r


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 384, 512, 768])
    p.add_argument("--aspects", nargs="+", default=["4:3", "1:2"])
    p.add_argument("--steps", type=int, default=12, help="in all; the last scale gets about a quarter")
    p.add_argument("--history", type=int, default=2, help="L-BFGS history (filled by the last scale's steps)")
    p.add_argument("--repeats", type=int, default=2, help="fresh runs per case; the largest peak counts")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto")
    p.add_argument("--child", type=int, nargs=2, metavar=("W", "H"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return _child(args)
    ratios, rows = [], []
    results = Results("memory", command_line("memory.py"))
    print(results.command)
    for side in args.sizes:
        for aspect in args.aspects:
            w, h = _case(side, aspect)
            cmd = [sys.executable, str(HERE / "memory.py"), "--child", str(w), str(h)]
            cmd += ["--steps", str(args.steps), "--history", str(args.history)]
            cmd += ["--device", args.device, "--precision", args.precision]
            runs = [_fresh_run(cmd, w, h) for _ in range(args.repeats)]
            r = max(runs, key=lambda x: x["measured"])
            ratio = r["planned"] / r["measured"]
            ratios.append(ratio)
            spread = f"{min(x['measured'] for x in runs) / 2**20:.0f}-{r['measured'] / 2**20:.0f}"
            rows.append([f"{w}x{h}", aspect, r["precision"], r["device"], spread, f"{r['planned'] / 2**20:.0f}",
                         f"{ratio:.2f}"])  # fmt: skip
            print(
                f"{w:4d}x{h:<4d} {aspect:>4} {r['precision']} {r['device']}  measured {r['measured'] / 2**20:7.0f} MiB"
                f"   planned {r['planned'] / 2**20:7.0f} MiB   planned/measured {ratio:.2f}",
                flush=True,
            )
    columns = ["size", "aspect", "precision", "device", f"measured MiB ({args.repeats} fresh runs)", "planned MiB",
               "planned / worst measured"]  # fmt: skip
    results.table("whole stylize runs: the planner's estimate against the measured peak", columns, rows)
    results.note(f"planned / measured from {min(ratios):.2f} to {max(ratios):.2f}")
    results.save()
    print(f"{min(ratios):.3f}")
    print(f"{max(ratios):.3f}")


if __name__ == "__main__":
    main()
