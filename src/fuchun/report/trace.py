"""A reporter that keeps a record of a run: ``trace.json``, ``losses.png``, ``snapshots.png``.

``trace.json`` holds every option (the resolved config, readable back with ``--config``),
the inputs with their SHA-256, the machine, the scales and one record per step. It is
written when the run ends, also when it fails (then with an ``error`` field).
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib.metadata
import io
import json
import math
import os
import pathlib
import time
from typing import Any

import torch
from PIL import Image

from fuchun.config.options import Config
from fuchun.errors import TraceError, one_line
from fuchun.io.atomic import write_or_raise
from fuchun.io.paths import make_directory
from fuchun.io.write import to_pil
from fuchun.report.base import Progress, Reporter, RunInfo
from fuchun.report.plot import contact_sheet, loss_plot
from fuchun.weights.files import sha256_file

TRACE_FILE, PLOT_FILE, SHEET_FILE = "trace.json", "losses.png", "snapshots.png"
SNAPSHOTS = 8  # evenly spaced over the run, plus the final image
THUMBNAIL = 224  # longest side of a snapshot on the sheet


def prepare_directory(path: str | os.PathLike) -> pathlib.Path:
    """Create the trace directory if missing (checked before a run, not after it)."""
    directory = pathlib.Path(path)
    return make_directory(
        directory,
        error=TraceError,
        is_file=f"cannot write a trace into '{directory}': it is a file, not a directory",
        cannot=f"cannot create trace directory '{directory}'",
    )


def snapshot_steps(total: int, count: int = SNAPSHOTS) -> set[int]:
    """Up to ``count`` steps evenly spaced from the first; the last is left to the final image."""
    return {max(1, round(k * total / count)) for k in range(count)} - ({total} if total > 1 else set())


def config_dict(cfg: Config) -> dict[str, Any]:
    """Every option of ``cfg`` in JSON's types (tuples become lists)."""
    return _jsonable(dataclasses.asdict(cfg))


class LossLog(Reporter):
    """The loss of every step of a run, term by term, and their plot (safe to draw while the run goes on)."""

    def __init__(self) -> None:
        self.info: RunInfo | None = None
        self.records: list[dict[str, Any]] = []
        self.heading = "fuchun"  # the plot's title, before its step count

    def start(self, info: RunInfo) -> None:
        self.info = info

    def step(self, progress: Progress) -> None:
        self.records.append(
            {
                "step": progress.step,
                "scale": progress.scale,
                "size": list(progress.size),
                "loss": _number(progress.loss),
                "terms": {k: _number(v) for k, v in progress.terms.items()},
                "elapsed": round(progress.elapsed, 6),
            }
        )

    def plot(self, *, size: tuple[int, int] = (960, 540)) -> Image.Image:
        """The loss curves of the recorded steps."""
        records = list(self.records)  # the run may append to it meanwhile
        names = list(dict.fromkeys(k for r in records for k in r["terms"]))
        curves = {n: [r["terms"].get(n) for r in records] for n in names}
        curves["total"] = [r["loss"] for r in records]
        breaks, seen = [], set()
        for r in records:
            if r["scale"] not in seen:
                seen.add(r["scale"])
                breaks.append((r["step"], f"scale {r['scale']} · {r['size'][0]}x{r['size'][1]}"))
        title = f"{self.heading} · {len(records)} steps"
        return loss_plot([r["step"] for r in records], curves, breaks=breaks, title=title, size=size)


class TraceReporter(LossLog):
    """Records a run's steps and snapshots; :meth:`finish` writes the three trace files."""

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        mode: str,
        config: Config,
        inputs: dict[str, Any],
        output: str | os.PathLike | None = None,
        extra: dict[str, Any] | None = None,
        snapshots: int = SNAPSHOTS,
    ) -> None:
        super().__init__()
        self.directory = prepare_directory(directory)
        self.mode, self.config, self.output, self.extra = mode, config, output, dict(extra or {})
        self.inputs = {role: _describe(paths) for role, paths in inputs.items() if paths}
        self.snapshots = snapshots
        self.tiles: list[tuple[Image.Image, str]] = []
        self.warnings: list[str] = []
        self.snap_at: set[int] = set()
        self.started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.t0 = time.perf_counter()
        self.heading = f"fuchun {mode}"

    def start(self, info: RunInfo) -> None:
        super().start(info)
        self.snap_at = snapshot_steps(sum(info.steps), self.snapshots)
        self.heading = f"fuchun {self.mode} · {info.backbone} on {info.device}, {info.precision}"

    def step(self, progress: Progress) -> None:
        super().step(progress)
        if progress.step in self.snap_at:
            label = f"step {progress.step} · scale {progress.scale} ({progress.size[0]}x{progress.size[1]})"
            self.tiles.append((_thumbnail(progress.image[0]), label))

    def warning(self, message: str) -> None:
        self.warnings.append(message)

    def finish(self, *, image: torch.Tensor | None = None, error: BaseException | None = None) -> None:
        """Write the trace files; ``image`` (3, H, W) is the final (or last good) picture."""
        tiles = list(self.tiles)
        if image is not None:
            h, w = image.shape[-2:]
            tiles.append((_thumbnail(image), f"{'last good' if error else 'final'} · {w}x{h}"))
        record = self.record(error=error)
        title = f"{self.heading} · {len(self.records)} steps"
        if self.records:
            write_or_raise(self.directory / PLOT_FILE, _png(self.plot()), error=TraceError)
        if tiles:
            sheet = contact_sheet(tiles, cell=THUMBNAIL, title=title)
            write_or_raise(self.directory / SHEET_FILE, _png(sheet), error=TraceError)
        write_or_raise(self.directory / TRACE_FILE, dumps(record).encode(), error=TraceError)

    def record(self, *, error: BaseException | None = None) -> dict[str, Any]:
        """The content of ``trace.json``."""
        info = self.info
        cfg = info.config if info is not None else self.config.resolved()
        out: dict[str, Any] = {
            "fuchun": importlib.metadata.version("fuchun"),
            "torch": torch.__version__,
            "started": self.started,
            "mode": self.mode,
            # the engine never sees the command line's reporting options: they come with the extra record
            "options": {**config_dict(cfg), "trace": self.config.trace, **self.extra.get("options", {})},
            **{k: v for k, v in self.extra.items() if k != "options"},
            "inputs": self.inputs,
            "output": None if self.output is None else str(self.output),
        }
        if error is None and self.output is not None and os.path.isfile(self.output):
            out["output_sha256"] = sha256_file(self.output)
        if info is not None:
            out.update(
                backbone=info.backbone,
                weights_sha256=info.weights_sha256,
                device=info.device,
                precision=info.precision,
                scales=[{"size": list(s), "steps": n} for s, n in zip(info.sizes, info.steps, strict=True)],
            )
        out.update(warnings=self.warnings, steps=self.records, total_time=round(time.perf_counter() - self.t0, 3))
        if error is not None:
            out["error"] = one_line(error) or type(error).__name__
        return out


def dumps(record: dict[str, Any]) -> str:
    """JSON text of a trace: nested tables indented, lists of numbers and each step on one line."""
    return _pretty(record, "") + "\n"


def _pretty(value: Any, indent: str, *, flat_items: bool = False) -> str:
    inner = indent + " "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_pretty(v, inner, flat_items=k == 'steps')}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        show = (
            (lambda v: json.dumps(v, ensure_ascii=False, allow_nan=False))
            if flat_items
            else (lambda v: _pretty(v, inner))
        )
        return "[\n" + ",\n".join(inner + show(v) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _describe(paths: Any) -> Any:
    """{"path", "sha256"} of one input file, or a list of them."""
    if isinstance(paths, (list, tuple)):
        return [_describe(p) for p in paths]
    return {"path": str(paths), "sha256": sha256_file(paths)}


def _thumbnail(image: torch.Tensor) -> Image.Image:
    """A (3, H, W) image as a PIL image no larger than the sheet's cells."""
    pil = to_pil(image.detach().float().clamp(0, 1).cpu())
    pil.thumbnail((THUMBNAIL, THUMBNAIL), Image.Resampling.LANCZOS)
    return pil


def _number(value: float) -> float | None:
    """A float JSON can hold (non-finite values become null)."""
    value = float(value)
    return value if math.isfinite(value) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return _number(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
