"""The article's sequence of pictures as one command, ending in a captioned contact sheet.

"Montreal painted by Huang Gongwang" builds its picture step by step: what the network
keeps of the photo (content only), of the painting (style only), Gram against shifted
Gram, Gatys' combination, the histogram loss added, and everything together with the
article author's own settings (the ``article`` preset: average pooling, style at
relu1_2 ... relu5_2, shifted Gram at δ = 4, a light histogram term).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

from fuchun.api import render
from fuchun.io.write import to_pil
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
