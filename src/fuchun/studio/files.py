"""The files of one studio job: its inputs (under safe names), trace, results and bundle.

Each job has its own directory in the studio's work folder. Inputs are copied in under
names made from the visitor's file names, so the trace and the command line name them as
the visitor knows them; the downloadable bundle holds the trace, the inputs and the
command line, and reproduces the run on the command line from inside the unpacked folder.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field

import torch
from PIL import Image

from fuchun.io.write import write_image

RESULT_FILES = {"result.png": 8, "result-16bit.png": 16, "result.jpg": 8}  # name -> bit depth
BUNDLE = "fuchun-run.zip"
COMMAND_FILE = "command.txt"
KEEP_SECONDS = 6 * 3600  # job folders older than this are removed when a new job starts


def safe_name(name: str, *, prefix: str) -> str:
    """``prefix-name`` with only letters, digits, '.', '-' and '_' left (no folders, no dot files)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", pathlib.Path(name).name).strip("._") or "image"
    return f"{prefix}-{base[-80:]}"


@dataclass
class JobFiles:
    """The folder of one job and what is in it."""

    root: pathlib.Path
    content: pathlib.Path | None = None
    styles: list[pathlib.Path] = field(default_factory=list)
    init: pathlib.Path | None = None
    masks: list[pathlib.Path] = field(default_factory=list)

    @classmethod
    def create(cls, workdir: pathlib.Path) -> JobFiles:
        """A fresh job folder in ``workdir`` (old ones are cleared away first)."""
        prune(workdir)
        root = workdir / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
        (root / "inputs").mkdir(parents=True)
        (root / "out").mkdir()
        return cls(root)

    @property
    def trace_dir(self) -> pathlib.Path:
        return self.root / "trace"

    @property
    def result_png(self) -> pathlib.Path:
        return self.root / "out" / "result.png"

    def add(self, source: str | os.PathLike, name: str, *, prefix: str) -> pathlib.Path:
        """Copy an (already checked) upload in as ``prefix-name``."""
        target = self.root / "inputs" / safe_name(name, prefix=prefix)
        shutil.copyfile(source, target)
        return target

    def add_masks(self, images: list[Image.Image]) -> list[pathlib.Path]:
        """Save painted masks as mask-1.png, mask-2.png, ..."""
        self.masks = []
        for i, image in enumerate(images, 1):
            path = self.root / "inputs" / f"mask-{i}.png"
            image.save(path)
            self.masks.append(path)
        return self.masks

    def write_results(self, image: torch.Tensor) -> list[pathlib.Path]:
        """The picture as PNG (the run wrote it), 16-bit PNG and JPEG (through fuchun's one image writer)."""
        out = self.result_png.parent
        return [
            path if path == self.result_png else write_image(image, path, bit_depth=depth)
            for path, depth in ((out / name, depth) for name, depth in RESULT_FILES.items())
        ]

    def write_bundle(self, command: str) -> pathlib.Path:
        """A zip of the trace, the inputs and the command line that reproduces the run."""
        path = self.result_png.parent / BUNDLE
        path.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr(COMMAND_FILE, command + "\n")
            for folder in (self.trace_dir, self.root / "inputs"):
                for item in sorted(folder.glob("*")) if folder.is_dir() else []:
                    bundle.write(item, item.name)
        return path


def prune(workdir: pathlib.Path, *, keep: float = KEEP_SECONDS) -> None:
    """Remove the job folders in ``workdir`` older than ``keep`` seconds."""
    cutoff = time.time() - keep
    for folder in workdir.glob("*-*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue
