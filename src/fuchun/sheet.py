"""Contact sheets: pictures in a grid with a caption under each, drawn with Pillow."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

PAD = 12
CAPTION = 34  # px under each picture for up to two caption lines
BACKGROUND, INK = (250, 250, 247), (30, 30, 30)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def contact_sheet(
    tiles: Sequence[tuple[Image.Image, str]], *, columns: int = 3, title: str | None = None, tile_width: int = 320
) -> Image.Image:
    """A grid of ``(picture, caption)`` tiles, each scaled to ``tile_width``, with an optional title."""
    if not tiles:
        raise ValueError("a contact sheet needs at least one picture")
    scaled = [(im.convert("RGB").resize((tile_width, max(1, round(im.height * tile_width / im.width))),
                                        Image.LANCZOS), text) for im, text in tiles]
    columns = max(1, min(columns, len(scaled)))
    rows = -(-len(scaled) // columns)
    cell_h = max(im.height for im, _ in scaled) + CAPTION
    top = 40 if title else 0
    sheet = Image.new("RGB", (PAD + columns * (tile_width + PAD), top + PAD + rows * (cell_h + PAD)), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((PAD, PAD), title, fill=INK, font=_font(20))
    for i, (im, text) in enumerate(scaled):
        x = PAD + (i % columns) * (tile_width + PAD)
        y = top + PAD + (i // columns) * (cell_h + PAD)
        sheet.paste(im, (x, y))
        for j, line in enumerate(text.split("\n")[:2]):
            draw.text((x, y + im.height + 4 + 15 * j), line, fill=INK, font=_font(13))
    return sheet
