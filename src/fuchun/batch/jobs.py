"""The jobs of a batch: from a file (TOML, CSV, JSONL) or from two folders.

A job names its ``content`` (a photo, or a video: then the job makes a video), its ``style``
image(s), its ``output`` and any option of ``stylize`` (or of ``video``), spelled as in a
config file (:mod:`fuchun.config.files`). Relative paths in a file are relative to the file's
folder. The batch's own options (flags) hold for every job unless the job gives its own.

- TOML: ``[[job]]`` tables; other top-level keys are options for every job of the file.
- CSV: a header row; ``content``, ``style``, ``output`` and option columns; several styles
  or masks are separated by ``;``; empty cells are left out.
- JSONL: one JSON object per line.
- Folders: ``--content DIR --style DIR -o OUTDIR``: every (content, style) pair, or with
  ``--pairs zip`` the first content with the first style and so on (sorted by name);
  outputs are ``OUTDIR/CONTENT-STYLE.png`` (``.mp4`` for a video).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

from fuchun.config.files import options_from_mapping, tomllib
from fuchun.config.options import VideoConfig
from fuchun.errors import ConfigFileError, UsageError
from fuchun.io.paths import not_a_file

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ogv", ".gif")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
VIDEO_KEYS = tuple(f.name for f in dataclasses.fields(VideoConfig) if f.name not in ("cache", "keep_frames"))
LIST_SEPARATOR = ";"  # between several styles or masks in a CSV cell
PAIRINGS = ("every", "zip")


@dataclass(frozen=True)
class BatchJob:
    """One output to make."""

    number: int  # from 1, in the list's order
    content: str
    styles: tuple[str, ...]
    output: str
    options: dict[str, Any] = field(default_factory=dict)  # Config options
    video: dict[str, Any] = field(default_factory=dict)  # VideoConfig options (video jobs)

    @property
    def is_video(self) -> bool:
        return pathlib.Path(self.content).suffix.lower() in VIDEO_SUFFIXES


def read_jobs(path: str | os.PathLike, *, defaults: dict[str, Any] | None = None) -> list[BatchJob]:
    """The jobs of a TOML, CSV or JSONL file, ``defaults`` under each job's own options."""
    source = os.fspath(path)
    problem = not_a_file(source)
    if problem is not None:
        raise UsageError(f"cannot read job file '{source}': {problem}")
    suffix = pathlib.Path(source).suffix.lower()
    readers = {".toml": _toml_rows, ".csv": _csv_rows, ".jsonl": _jsonl_rows}
    if suffix not in readers:
        raise UsageError(f"job file '{source}': use .toml, .csv or .jsonl")
    try:
        text = pathlib.Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read job file '{source}': {exc}") from None
    shared, rows = readers[suffix](text, source)
    base = pathlib.Path(source).resolve().parent
    common = {**(defaults or {}), **_options(shared, f"{source}: shared options")[0]}
    jobs = [_job(i, row, base=base, shared=common, source=source) for i, row in enumerate(rows, start=1)]
    return checked(jobs)


def _toml_rows(text: str, source: str) -> tuple[dict, list[dict]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"job file '{source}' is not valid TOML: {exc}") from None
    rows = data.pop("job", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigFileError(f"job file '{source}': jobs are [[job]] tables")
    return data, rows


def _csv_rows(text: str, source: str) -> tuple[dict, list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for row in reader:
        if None in row:
            raise ConfigFileError(f"job file '{source}', line {reader.line_num}: more cells than the header names")
        cells = {k.strip(): v.strip() for k, v in row.items() if v is not None and v.strip()}
        for key in ("style", "styles", "masks", "mask"):
            if key in cells:
                cells[key] = [s.strip() for s in cells[key].split(LIST_SEPARATOR) if s.strip()]
        rows.append(cells)
    return {}, rows


def _jsonl_rows(text: str, source: str) -> tuple[dict, list[dict]]:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ConfigFileError(f"job file '{source}', line {n}: not JSON: {exc}") from None
        if not isinstance(row, dict):
            raise ConfigFileError(f"job file '{source}', line {n}: a job is a JSON object")
        rows.append(row)
    return {}, rows


def _options(data: dict, where: str) -> tuple[dict, dict]:
    """(Config options, VideoConfig options) of ``data``, checked as a config file's are."""
    video_keys = {k for k in data if k.replace("-", "_") in VIDEO_KEYS}
    video = {}
    for key in video_keys:
        name = key.replace("-", "_")
        f = next(f for f in dataclasses.fields(VideoConfig) if f.name == name)
        try:
            video[name] = f.metadata["parse"](str(data[key])) if f.metadata["parse"] else data[key]
        except ValueError as exc:
            raise ConfigFileError(f"{where}: {key}: {exc}") from None
        if f.metadata["choices"] and video[name] not in f.metadata["choices"]:
            raise ConfigFileError(f"{where}: {key}: invalid choice {video[name]!r}")
    rest = {k: v for k, v in data.items() if k not in video_keys}
    return options_from_mapping(rest, source=where), video


def _job(number: int, row: dict, *, base: pathlib.Path, shared: dict, source: str) -> BatchJob:
    where = f"{source}: job {number}"
    row = dict(row)
    if "styles" in row and "style" not in row:  # either spelling
        row["style"] = row.pop("styles")
    missing = [k for k in ("content", "style", "output") if not row.get(k)]
    if missing:
        raise ConfigFileError(f"{where}: no {', '.join(missing)}")
    content, style, output = row.pop("content"), row.pop("style"), row.pop("output")
    styles = style if isinstance(style, list) else [style]
    if not all(isinstance(s, str) for s in [content, output, *styles]):
        raise ConfigFileError(f"{where}: content, style and output are file names")
    options, video = _options(row, where)
    if options.get("masks"):
        options["masks"] = tuple(str(base / m) for m in options["masks"])
    return BatchJob(
        number=number,
        content=str(base / content),
        styles=tuple(str(base / s) for s in styles),
        output=str(base / output),
        options={**shared, **options},
        video=video,
    )


def folder_jobs(
    content: str | os.PathLike,
    style: str | os.PathLike,
    output: str | os.PathLike,
    *,
    pairs: str = "every",
    defaults: dict[str, Any] | None = None,
) -> list[BatchJob]:
    """Jobs pairing the pictures (and videos) of ``content`` with the style images of ``style``."""
    if pairs not in PAIRINGS:
        raise ValueError(f"unknown pairing {pairs!r}; valid: {', '.join(PAIRINGS)}")
    contents = _listing(content, IMAGE_SUFFIXES + VIDEO_SUFFIXES, "--content")
    styles = _listing(style, IMAGE_SUFFIXES, "--style")
    if pairs == "zip" and len(contents) != len(styles):
        raise UsageError(f"--pairs zip needs as many content files ({len(contents)}) as style images ({len(styles)})")
    chosen = zip(contents, styles, strict=True) if pairs == "zip" else itertools.product(contents, styles)
    out = pathlib.Path(output)
    jobs = []
    for number, (c, s) in enumerate(chosen, start=1):
        suffix = ".mp4" if c.suffix.lower() in VIDEO_SUFFIXES else ".png"
        target = out / f"{c.stem}-{s.stem}{suffix}"
        jobs.append(BatchJob(number, str(c), (str(s),), str(target), dict(defaults or {})))
    return checked(jobs)


def _listing(folder, suffixes: tuple[str, ...], flag: str) -> list[pathlib.Path]:
    path = pathlib.Path(folder)
    if not path.is_dir():
        raise UsageError(f"{flag} '{folder}' is not a folder")
    found = sorted(p for p in path.iterdir() if p.suffix.lower() in suffixes and p.is_file())
    if not found:
        raise UsageError(f"{flag} '{folder}' holds no {'/'.join(suffixes[:4])}... files")
    return found


def checked(jobs: list[BatchJob]) -> list[BatchJob]:
    """``jobs``, or UsageError if there are none or two write the same output or overwrite an input."""
    if not jobs:
        raise UsageError("the batch has no jobs")
    seen: dict[str, int] = {}
    inputs = {os.path.abspath(p) for j in jobs for p in (j.content, *j.styles)}
    for job in jobs:
        target = os.path.abspath(job.output)
        if target in seen:
            raise UsageError(f"jobs {seen[target]} and {job.number} both write '{job.output}'")
        if target in inputs:
            raise UsageError(f"job {job.number} would overwrite its input '{job.output}'")
        seen[target] = job.number
    return jobs
