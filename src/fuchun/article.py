"""The article's sequence of pictures as one command, ending in a captioned contact sheet.

"Montreal painted by Huang Gongwang" builds its picture step by step: what the network
keeps of the photo (content only), of the painting (style only), Gram against shifted
Gram, Gatys' combination, the histogram loss added, and everything together.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from PIL import Image

from .api import render
from .image_io import to_pil
from .report import Reporter
from .sheet import contact_sheet

# (caption, mode, options): one row of the article's story
STEPS: tuple[tuple[str, str, dict], ...] = (
    ("content only (from noise)", "reconstruct", {}),
    ("style only: Gram (Gatys)", "texture", {"preset": "gatys"}),
    ("style only: Gram + shifted Gram\n(Berger & Memisevic)", "texture", {"preset": "berger"}),
    ("Gatys: content + Gram", "stylize", {"preset": "gatys"}),
    ("+ histogram loss (Risser et al.)", "stylize", {"preset": "risser"}),
    ("all combined + TV (fuchun default)", "stylize", {"preset": "fuchun"}),
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
    tiles = [(to_pil(p), caption) for p, (caption, _, _) in zip(pictures, STEPS)]
    sheet = contact_sheet(tiles, columns=3, title="fuchun: the article's pictures, step by step")
    return sheet, pictures
