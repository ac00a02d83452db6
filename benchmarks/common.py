"""Shared pieces of the benchmarks: images, network, timing, the fixed evaluator, and the results
each benchmark writes (``benchmarks/results/<name>.json``, read by ``evidence.py``)."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

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
# where the results go; the tests point it at a temporary folder
RESULTS = pathlib.Path(os.environ.get("FUCHUN_RESULTS", ROOT / "benchmarks" / "results"))


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


def command_line(script: str, argv: list[str] | None = None) -> str:
    """The command that ran, as it is typed from the repository's root; paths outside the
    repository are written PATH (they name folders of one machine)."""
    words = []
    for arg in sys.argv[1:] if argv is None else argv:
        path = pathlib.Path(arg)
        if path.is_absolute():
            arg = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else "PATH"
        words.append(shlex.quote(arg))
    return " ".join(["python", f"benchmarks/{script}", *words])


def machine() -> dict:
    """What ran the benchmark: processor, cores, torch, and the commit of the code."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _lines("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    info = {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _lines(path: str) -> list[str]:
    try:
        with open(path) as handle:
            return handle.readlines()
    except OSError:
        return []


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip()


@dataclass
class Table:
    """One table of a benchmark's results: a title, column names and rows of formatted cells."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def markdown(self) -> str:
        """The table in markdown."""
        lines = [f"| {' | '.join(self.columns)} |", "|" + "---|" * len(self.columns)]
        return "\n".join(lines + [f"| {' | '.join(map(str, row))} |" for row in self.rows])


@dataclass
class Results:
    """What one benchmark measured: tables and notes, saved as ``RESULTS/<name>.json`` with the
    command, the date, the machine and the commit, for ``evidence.py``."""

    name: str
    command: str
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def table(self, title: str, columns: list[str], rows: list[list]) -> str:
        """Add a table; its markdown, to print."""
        self.tables.append(Table(title, list(columns), [[str(c) for c in row] for row in rows]))
        return self.tables[-1].markdown()

    def note(self, text: str) -> str:
        """Add a sentence the benchmark concludes from its numbers; the sentence, to print."""
        self.notes.append(text)
        return text

    def save(self) -> pathlib.Path:
        """Write the results (atomically); their path."""
        record = {
            "name": self.name,
            "command": self.command,
            "date": datetime.date.today().isoformat(),
            "commit": _git("rev-parse", "--short", "HEAD"),
            "changed": bool(_git("status", "--porcelain", "--untracked-files=no", "--", "src", "benchmarks")),
            "machine": machine(),
            "tables": [asdict(t) for t in self.tables],
            "notes": self.notes,
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
        tmp.replace(path)
        return path
