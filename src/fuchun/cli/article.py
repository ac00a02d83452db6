"""The article's sequence of pictures as one command, ending in a captioned contact sheet.

"Montreal painted by Huang Gongwang" builds its picture step by step: what the network
keeps of the photo (content only), of the painting (style only), Gram against shifted
Gram, Gatys' combination, the histogram loss added, and everything together with the
article author's own settings (the ``article`` preset: average pooling, style at
relu1_2 ... relu5_2, shifted Gram at δ = 4, a light histogram term).
"""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
from collections.abc import Callable

import torch
from PIL import Image

from fuchun.api import picture_options, render
from fuchun.cli.interrupts import Interrupts
from fuchun.cli.options import add_config_options, config_options
from fuchun.errors import UsageError
from fuchun.io.paths import make_directory
from fuchun.io.read import read_image
from fuchun.io.write import check_writable, to_pil, write_image
from fuchun.report.bar import BarReporter
from fuchun.report.base import Reporter
from fuchun.report.plot import contact_sheet

CELL = 360  # px of each picture on the sheet

# (caption, mode, options): one row of the article's story
STEPS: tuple[tuple[str, str, dict], ...] = (
    ("content only (from noise)", "reconstruct", {}),
    ("style only: Gram (Gatys)", "texture", {"preset": "gatys"}),
    ("style only: + shifted Gram (Berger)", "texture", {"preset": "berger"}),
    ("Gatys: content + Gram", "stylize", {"preset": "gatys"}),
    ("Gatys + histogram (Risser)", "stylize", {"preset": "risser"}),
    ("all combined: the article's settings", "stylize", {"preset": "article"}),
)


def article_sheet(
    content, style, *, reporter_for: Callable[[str], Reporter] | None = None, **options
) -> tuple[Image.Image, list[torch.Tensor]]:
    """Render every step of the article; return the contact sheet and the pictures."""
    pictures = []
    for caption, mode, preset in STEPS:
        reporter = reporter_for(caption) if reporter_for else None
        kwargs = {"content": content} if mode != "texture" else {"style": style}
        if mode == "stylize":
            kwargs["style"] = style
        pictures.append(render(mode, reporter=reporter, **kwargs, **{**options, **preset}))
    tiles = [(to_pil(p), caption) for p, (caption, _, _) in zip(pictures, STEPS, strict=True)]
    sheet = contact_sheet(tiles, columns=3, cell=CELL, title="The article's pictures, step by step")
    return sheet, pictures


def add_parsers(sub) -> None:
    text = "render the article's sequence (content only, style only, Gram vs shifted Gram, ...) as one sheet"
    a = sub.add_parser("article", help=text, description=text)
    a.add_argument("content", help="the photo (the article used a Montreal skyline)")
    a.add_argument("style", help="the painting (the article used Dwelling in the Fuchun Mountains)")
    a.add_argument("-o", "--output", required=True, help="the contact sheet (.png, .jpg)")
    a.add_argument("--keep", metavar="DIR", help="also write every picture of the sheet into DIR")
    add_config_options(a)


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Render the article's sequence and write its contact sheet (and, with --keep, each picture)."""
    options = config_options(ns)
    output, inputs = pathlib.Path(ns.output), [ns.content, ns.style]
    if options.get("trace") or options.get("save_every"):
        raise UsageError("article takes neither --trace nor --save-every: it renders six pictures; use --keep DIR")
    check_writable(output, protect=inputs)
    keep = _keep_directory(ns.keep) if ns.keep else None
    quiet = options.get("quiet", False)
    content, style = read_image(ns.content), read_image(ns.style)
    sheet, pictures = article_sheet(
        content, style, reporter_for=lambda caption: BarReporter(quiet=quiet), **picture_options(options)
    )
    if keep is not None:
        for i, (picture, (caption, _, _)) in enumerate(zip(pictures, STEPS, strict=True), start=1):
            name = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")
            write_image(picture, keep / f"{i}-{name[:40]}.png", protect=inputs)
    write_image(read_image(sheet), output, protect=inputs)
    if not quiet:
        print(f"fuchun: wrote {output}", file=sys.stderr)
    return 0


def _keep_directory(name: str) -> pathlib.Path:
    """The ``--keep`` directory, created if missing; UsageError if it cannot be one."""
    keep = pathlib.Path(name)
    return make_directory(
        keep,
        error=UsageError,
        is_file=f"--keep '{keep}' is a file, not a directory; name a directory for the pictures",
        cannot=f"--keep: cannot create directory '{keep}'",
    )
