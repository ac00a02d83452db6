"""The folder of a video's finished frames: what lets an interrupted video go on at the next frame.

Frame k of the run is ``k.png`` (8-bit, written atomically), the engine's picture before
colour preservation; ``run.json`` records what made them (source, styles, options), and a
folder made by another run is refused rather than mixed in. The number of frames is not
part of the record, so a rerun with a larger ``--max-frames`` reuses the frames done.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import Any

import torch

from fuchun.errors import UsageError
from fuchun.io.atomic import write_atomic
from fuchun.io.paths import make_directory
from fuchun.io.read import read_image
from fuchun.io.write import write_image

RECORD = "run.json"


class FrameCache:
    """Finished frames on disk, checked against the run that made them."""

    def __init__(self, folder: str | os.PathLike, record: dict[str, Any]) -> None:
        self.folder = pathlib.Path(folder)
        self.record = json.loads(json.dumps(record, default=str))  # as it reads back from the file

    def open(self) -> FrameCache:
        """Create the folder, or check that its frames are this run's (UsageError if not)."""
        make_directory(
            self.folder,
            error=UsageError,
            is_file=f"frame folder '{self.folder}' is a file; give --cache a folder",
            cannot=f"cannot create frame folder '{self.folder}'",
        )
        path = self.folder / RECORD
        if path.exists():
            try:
                found = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read '{path}': {exc}; remove the folder to start again") from None
            differ = sorted(k for k in {*found, *self.record} if found.get(k) != self.record.get(k))
            if differ:
                raise UsageError(
                    f"frame folder '{self.folder}' holds frames of another run (its {', '.join(differ)} differ); "
                    "remove it or give --cache another folder"
                )
        else:
            write_atomic(path, json.dumps(self.record, indent=1).encode())
        return self

    def path(self, k: int) -> pathlib.Path:
        return self.folder / f"{k:06d}.png"

    def has(self, k: int) -> bool:
        return self.path(k).is_file()

    def load(self, k: int) -> torch.Tensor:
        """Frame k as (3, H, W) in [0, 1]."""
        return read_image(self.path(k))

    def save(self, k: int, image: torch.Tensor) -> torch.Tensor:
        """Write frame k; returns it as read back (8-bit), so a resumed run continues from the same pixels."""
        write_image(image, self.path(k))
        return self.load(k)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
