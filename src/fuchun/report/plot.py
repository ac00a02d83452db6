"""Pictures of a run drawn with Pillow alone: a loss-curve plot and a sheet of snapshots.

Both are drawn ``SUPERSAMPLE`` times larger and then reduced, which smooths the lines
(Pillow draws them without antialiasing). Coordinates below are in output pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

SUPERSAMPLE = 3
BACKGROUND = (255, 255, 255)
INK = (33, 33, 33)
GRID = (228, 228, 228)
MINOR_GRID = (243, 243, 243)
BREAK = (150, 150, 150)
TOTAL_COLOUR = (20, 20, 20)
# one fixed colour per known loss term, so plots of different runs compare at a glance
TERM_COLOURS = {
    "content": (31, 119, 180),
    "style": (255, 127, 14),
    "shift": (44, 160, 44),
    "hist": (214, 39, 40),
    "tv": (148, 103, 189),
}
SPARE_COLOURS = [(140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
# plot frame: space left for tick labels, legend, title and axis labels
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 78, 150, 58, 56


@cache
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` px (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


class _Canvas:
    """An RGB image drawn at SUPERSAMPLE× size, addressed in output pixels."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self.image = Image.new("RGB", (size[0] * SUPERSAMPLE, size[1] * SUPERSAMPLE), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)

    def line(self, points: Sequence[tuple[float, float]], colour, width: float = 1.0) -> None:
        scaled = [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in points]
        self.draw.line(scaled, fill=colour, width=max(1, round(width * SUPERSAMPLE)), joint="curve")

    def dashed(self, a: tuple[float, float], b: tuple[float, float], colour, *, dash: float = 5.0) -> None:
        length = math.dist(a, b)
        for start in range(0, max(1, int(length / dash)), 2):
            t0, t1 = start * dash / length, min(1.0, (start + 1) * dash / length)
            self.line(
                [
                    (a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0),
                    (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1),
                ],
                colour,
            )

    def rect(self, box: tuple[float, float, float, float], *, fill=None, outline=None) -> None:
        self.draw.rectangle(
            [v * SUPERSAMPLE for v in box], fill=fill, outline=outline, width=SUPERSAMPLE if outline is not None else 0
        )

    def clear_outside(self, box: tuple[float, float, float, float]) -> None:
        """Paint everything outside ``box`` with the background."""
        w, h = self.size
        left, top, right, bottom = box
        for part in ((0, 0, w, top), (0, bottom, w, h), (0, 0, left, h), (right, 0, w, h)):
            self.draw.rectangle([v * SUPERSAMPLE for v in part], fill=BACKGROUND)

    def text(self, xy: tuple[float, float], text: str, *, size: int = 12, anchor: str = "la", colour=INK) -> None:
        self.draw.text(
            (xy[0] * SUPERSAMPLE, xy[1] * SUPERSAMPLE), text, fill=colour, font=font(size * SUPERSAMPLE), anchor=anchor
        )

    def text_width(self, text: str, *, size: int = 12) -> float:
        return self.draw.textlength(text, font=font(size * SUPERSAMPLE)) / SUPERSAMPLE

    def result(self) -> Image.Image:
        return self.image.resize(self.size, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class _Axes:
    """Maps steps (x) and loss values (y, log scale) into the plot frame."""

    box: tuple[float, float, float, float]  # left, top, right, bottom
    x_range: tuple[float, float]
    log_range: tuple[float, float]  # log10 of the y limits

    def x(self, step: float) -> float:
        left, _, right, _ = self.box
        x0, x1 = self.x_range
        return left + (step - x0) / (x1 - x0) * (right - left)

    def y(self, value: float) -> float:
        _, top, _, bottom = self.box
        lo, hi = self.log_range
        return bottom - (math.log10(value) - lo) / (hi - lo) * (bottom - top)


def nice_ticks(lo: float, hi: float, *, count: int = 8) -> list[float]:
    """Round tick positions (1, 2 or 5 × 10^k apart) covering [lo, hi]."""
    raw = max((hi - lo) / count, 1e-12)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [i * step for i in range(first, math.floor(hi / step + 1e-9) + 1)]


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Major and minor tick values for a log axis from 10**lo to 10**hi."""
    span = hi - lo
    mantissas = (1, 2, 3, 4, 5, 6, 7, 8, 9) if span <= 0.8 else (1, 2, 5) if span <= 2.2 else (1,)
    every = max(1, math.ceil(span / 8))
    major, minor = [], []
    for decade in range(math.floor(lo) - 1, math.ceil(hi) + 1):
        for m in range(1, 10):
            value = m * 10.0**decade
            if not lo - 1e-9 <= math.log10(value) <= hi + 1e-9:
                continue
            if m in mantissas and (m != 1 or decade % every == 0):
                major.append(value)
            elif span <= 3:
                minor.append(value)
    return major, minor


def format_value(value: float) -> str:
    """A short tick label: 0, 0.05, 200, 3e6, 1e-4."""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _colours(names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    spare = iter(SPARE_COLOURS * (1 + len(names) // len(SPARE_COLOURS)))
    return {n: TERM_COLOURS.get(n) or next(spare) for n in names}


def loss_plot(
    steps: Sequence[int],
    curves: dict[str, Sequence[float | None]],
    *,
    total: str = "total",
    breaks: Sequence[tuple[int, str]] = (),
    title: str = "",
    size: tuple[int, int] = (960, 540),
) -> Image.Image:
    """A log-scale plot of loss curves over ``steps``.

    ``curves[name][i]`` is the value at ``steps[i]`` (None or <= 0: not drawn); the curve
    named ``total`` is drawn thick and dark. ``breaks`` are (first step, label) of each
    scale: a dashed line before every scale after the first, its label above the plot,
    and no curve joins across it.
    """
    canvas = _Canvas(size)
    box = (MARGIN_LEFT, MARGIN_TOP, size[0] - MARGIN_RIGHT, size[1] - MARGIN_BOTTOM)
    positive = [v for values in curves.values() for v in values if _drawable(v)]
    if not steps or not positive:
        canvas.text((box[0], 16), title, size=15)
        canvas.rect(box, outline=INK)
        canvas.text(((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), "no positive loss values", anchor="mm")
        return canvas.result()
    lo, hi = _log_limits(curves.values(), positive)
    axes = _Axes(box, (0.0, float(max(max(steps), 1))), (lo, hi))
    _draw_grid(canvas, axes)
    _draw_breaks(canvas, axes, breaks)
    colours = _colours([n for n in curves if n != total])
    colours[total] = TOTAL_COLOUR
    starts = {step for step, _ in breaks}
    order = [n for n in curves if n != total] + ([total] if total in curves else [])
    for name in order:
        width = 2.2 if name == total else 1.6
        _draw_curve(canvas, axes, steps, curves[name], colours[name], width, starts)
    canvas.clear_outside(box)  # curves leaving the y range stop at the frame
    canvas.rect(box, outline=INK)
    _draw_ticks(canvas, axes)
    _label_scales(canvas, axes, breaks)
    canvas.text((box[0], 16), title, size=15)
    _draw_legend(canvas, box, [(n, colours[n], 2.2 if n == total else 1.6) for n in [*order[-1:], *order[:-1]]])
    canvas.text(((box[0] + box[2]) / 2, size[1] - 12), "step", size=13, anchor="md")
    _vertical_label(canvas, (14, (box[1] + box[3]) / 2), "loss (log scale)")
    return canvas.result()


def _drawable(value: float | None) -> bool:
    return value is not None and value > 0 and math.isfinite(value)


def _log_limits(curves, positive: list[float]) -> tuple[float, float]:
    """log10 of the y limits: every value but the lowest 1 % (a start near 0 would
    flatten the rest), though never above the last value of a curve."""
    ordered = sorted(positive)
    low = ordered[int(0.01 * (len(ordered) - 1))]
    lasts = [next((v for v in reversed(list(values)) if _drawable(v)), None) for values in curves]
    lo = math.log10(min([low, *(v for v in lasts if v is not None)]))
    hi = math.log10(ordered[-1])
    if hi - lo < 0.5:  # a flat curve: give it half a decade of room
        lo, hi = (lo + hi) / 2 - 0.25, (lo + hi) / 2 + 0.25
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def _draw_grid(canvas: _Canvas, axes: _Axes) -> None:
    """Grid lines inside the frame: log decades (and minor steps) in y, round steps in x."""
    left, top, right, bottom = axes.box
    major, minor = log_ticks(*axes.log_range)
    for value in minor:
        canvas.line([(left, axes.y(value)), (right, axes.y(value))], MINOR_GRID)
    for value in major:
        canvas.line([(left, axes.y(value)), (right, axes.y(value))], GRID)
    for step in nice_ticks(*axes.x_range):
        canvas.line([(axes.x(step), top), (axes.x(step), bottom)], GRID)


def _draw_ticks(canvas: _Canvas, axes: _Axes) -> None:
    """Tick marks and their labels outside the frame."""
    left, _, _, bottom = axes.box
    for value in log_ticks(*axes.log_range)[0]:
        y = axes.y(value)
        canvas.line([(left - 4, y), (left, y)], INK)
        canvas.text((left - 7, y), format_value(value), anchor="rm")
    for step in nice_ticks(*axes.x_range):
        x = axes.x(step)
        canvas.line([(x, bottom), (x, bottom + 4)], INK)
        canvas.text((x, bottom + 7), format_value(step), anchor="ma")


def _scale_edges(axes: _Axes, breaks: Sequence[tuple[int, str]]) -> list[float]:
    left, _, right, _ = axes.box
    return [axes.x(step - 0.5) if i else left for i, (step, _) in enumerate(breaks)] + [right]


def _draw_breaks(canvas: _Canvas, axes: _Axes, breaks: Sequence[tuple[int, str]]) -> None:
    """Dashed lines between scales."""
    _, top, _, bottom = axes.box
    for x in _scale_edges(axes, breaks)[1:-1]:
        canvas.dashed((x, top), (x, bottom), BREAK)


def _label_scales(canvas: _Canvas, axes: _Axes, breaks: Sequence[tuple[int, str]]) -> None:
    """Each scale's label centred above its stretch of steps, where it fits."""
    edges = _scale_edges(axes, breaks)
    for i, (_, label) in enumerate(breaks):
        if canvas.text_width(label, size=11) < edges[i + 1] - edges[i] - 4:
            canvas.text(
                ((edges[i] + edges[i + 1]) / 2, axes.box[1] - 5), label, size=11, anchor="md", colour=(90, 90, 90)
            )


def _draw_curve(canvas, axes: _Axes, steps, values, colour, width: float, starts: set[int]) -> None:
    """Polylines through the positive values, broken at gaps and scale starts."""
    run: list[tuple[float, float]] = []
    for step, value in zip(steps, values):
        if step in starts or not _drawable(value):
            _flush(canvas, run, colour, width)
            run = []
        if _drawable(value):
            run.append((axes.x(step), axes.y(value)))
    _flush(canvas, run, colour, width)


def _flush(canvas: _Canvas, points: list[tuple[float, float]], colour, width: float) -> None:
    if len(points) == 1:  # a lone point: a short dash so it stays visible
        x, y = points[0]
        points = [(x - 1.5, y), (x + 1.5, y)]
    if points:
        canvas.line(points, colour, width)


def _draw_legend(canvas: _Canvas, box, entries: Sequence[tuple[str, tuple[int, int, int], float]]) -> None:
    x, y = box[2] + 14, box[1] + 4
    height = 20 * len(entries) + 10
    canvas.rect((x - 6, y - 6, x + 118, y - 6 + height), fill=(250, 250, 250), outline=GRID)
    for i, (name, colour, width) in enumerate(entries):
        cy = y + 8 + 20 * i
        canvas.line([(x, cy), (x + 26, cy)], colour, width + 0.6)
        canvas.text((x + 34, cy), name, size=13, anchor="lm")


def _vertical_label(canvas: _Canvas, centre: tuple[float, float], text: str, *, size: int = 13) -> None:
    """Text rotated 90° (reading upwards) centred at ``centre``."""
    f = font(size * SUPERSAMPLE)
    left, top, right, bottom = f.getbbox(text)
    strip = Image.new("RGBA", (right - left + 4, bottom - top + 4), (0, 0, 0, 0))
    ImageDraw.Draw(strip).text((2 - left, 2 - top), text, fill=INK, font=f)
    strip = strip.rotate(90, expand=True)
    cx, cy = centre[0] * SUPERSAMPLE, centre[1] * SUPERSAMPLE
    canvas.image.paste(strip, (round(cx - strip.width / 2), round(cy - strip.height / 2)), strip)


def contact_sheet(
    tiles: Sequence[tuple[Image.Image, str]],
    *,
    cell: int = 224,
    columns: int | None = None,
    title: str = "",
) -> Image.Image:
    """Images in a grid, each fitted into a ``cell``-px box with its label below.

    The boxes are as wide as ``cell`` and as tall as the tallest fitted image, so a sheet
    of landscape pictures has no empty bands.
    """
    if not tiles:
        raise ValueError("a contact sheet needs at least one image")
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    thumbs = [_fit(image.convert("RGB"), cell) for image, _ in tiles]
    cell_w, cell_h = max(t.width for t in thumbs), max(t.height for t in thumbs)
    gap, label_h, title_h = 12, 24, 30 if title else 0
    sheet = Image.new(
        "RGB", (gap + columns * (cell_w + gap), title_h + gap + rows * (cell_h + label_h + gap)), (246, 246, 246)
    )
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap + 2), _shorten(draw, title, sheet.width - 2 * gap), fill=INK, font=font(15))
    for i, (thumb, (_, label)) in enumerate(zip(thumbs, tiles)):
        row, col = divmod(i, columns)
        x0, y0 = gap + col * (cell_w + gap), title_h + gap + row * (cell_h + label_h + gap)
        sheet.paste(thumb, (x0 + (cell_w - thumb.width) // 2, y0 + (cell_h - thumb.height) // 2))
        draw.text(
            (x0 + cell_w / 2, y0 + cell_h + 6), _shorten(draw, label, cell_w), fill=INK, font=font(12), anchor="ma"
        )
    return sheet


def _fit(image: Image.Image, cell: int) -> Image.Image:
    """``image`` scaled so its longest side is ``cell`` (pixels stay sharp when enlarged)."""
    k = cell / max(image.size)
    size = (max(1, round(image.width * k)), max(1, round(image.height * k)))
    if k > 1 and float(k).is_integer():
        return image.resize(size, Image.Resampling.NEAREST)
    return image.resize(size, Image.Resampling.LANCZOS if k < 1 else Image.Resampling.BICUBIC)


def _shorten(draw: ImageDraw.ImageDraw, label: str, width: int) -> str:
    """``label`` cut with an ellipsis to fit ``width`` px."""
    while len(label) > 1 and draw.textlength(label, font=font(12)) > width:
        label = label[:-2] + "…"
    return label
