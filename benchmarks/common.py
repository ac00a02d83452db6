"""Shared pieces of the benchmarks: images, network, timing and the fixed evaluator."""

from __future__ import annotations

import pathlib
import sys
import time

import torch

from fuchun.config.options import Config
from fuchun.io.read import read_image
from fuchun.objective import Objective
from fuchun.report.base import Reporter
from fuchun.run.engine import load_network
from fuchun.run.job import Job, image_at, output_size
from fuchun.run.machine import pick_machine
from fuchun.run.schedule import Level

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "images"
EXAMPLES = ROOT / "src" / "fuchun" / "examples"


def image(rel: str) -> torch.Tensor:
    """A test image from the shared folder (``rel`` as content/x.jpg); the bundled example of that name if the
    shared folder is missing (said in one line); a clear one-line exit if neither exists."""
    path = SHARED / rel
    if path.exists():
        return read_image(path)
    bundled = EXAMPLES / pathlib.Path(rel).name
    if not bundled.exists():
        raise SystemExit(f"this benchmark needs the shared test image {path}, which is missing")
    if bundled not in _SAID:
        _SAID.add(bundled)
        print(f"note: {path} is missing; using the bundled {bundled.name} (smaller) instead", file=sys.stderr)
    return read_image(bundled)


_SAID: set[pathlib.Path] = set()


def network(device: str = "auto", precision: str = "fp32", **cfg):
    """The real pretrained network and its machine."""
    machine = pick_machine(device, precision)
    net, _ = load_network(Config(**cfg).resolved(), machine, Reporter())
    return net, machine


def timed(fn, *args, **kw):
    """(result, seconds) of one call."""
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def gatys_score(picture: torch.Tensor, job: Job, *, size: int, device: str = "auto") -> float:
    """The fixed evaluator: the Gatys objective (content + Gram style), fp32, at ``size`` px."""
    cfg = Config(preset="gatys", size=size, precision="fp32", device=device).resolved()
    net, machine = network(device, "fp32")
    w, h = output_size(cfg, job)
    objective = Objective(
        net,
        cfg,
        content=image_at(job.content, (w, h), machine.device, name="content"),
        styles=[image_at(s, Level.at(cfg, (w, h)).style_size(s), machine.device, name="style") for s in job.styles],
    )
    with torch.no_grad():
        total, _ = objective(image_at(picture, (w, h), machine.device, name="picture"))
    return float(total)


def per_eval_ms(objective: Objective, image: torch.Tensor, *, repeats: int = 3) -> float:
    """Milliseconds of one loss-and-gradient evaluation (after one warm-up)."""
    x = image.detach().clone().requires_grad_(True)
    for i in range(repeats + 1):
        if i == 1:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        loss, _ = objective(x)
        loss.backward()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / repeats * 1000
