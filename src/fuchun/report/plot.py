"""Pictures of a run: the loss curves (matplotlib) and a sheet of snapshots (Pillow).

matplotlib draws the plot (log axis, ticks, legend, text) through its Agg canvas, without
pyplot, so no global backend is chosen; it is imported only when a plot is asked for
(``--trace``), which keeps it out of every other run's start-up. The contact sheet is a
grid of pasted thumbnails with captions, which Pillow does directly.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from fuchun.io.read import fit_longest
from fuchun.losses.terms import TERM_NAMES

INK = (33, 33, 33)
SHEET_BACKGROUND = (246, 246, 246)
# one fixed colour per loss term, in the terms' table order, so plots of different runs compare at a glance
PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:brown", "tab:pink", "tab:purple", "tab:cyan")
TERM_COLOURS = dict(zip(TERM_NAMES, PALETTE, strict=False))
SPARE_COLOURS = ["tab:gray", "tab:olive"]
TOTAL_COLOUR = "#141414"
DPI = 100


@cache
def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's built-in font at ``size`` px (its bitmap font where FreeType is missing)."""
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError, TypeError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def loss_plot(
    steps: Sequence[int],
    curves: dict[str, Sequence[float | None]],
    *,
    total: str = "total",
    breaks: Sequence[tuple[int, str]] = (),
    title: str = "",
    size: tuple[int, int] = (960, 540),
) -> Image.Image:
    """A log-scale plot of loss curves over ``steps``, as an RGB image of ``size`` px.

    ``curves[name][i]`` is the value at ``steps[i]`` (None, <= 0 or non-finite: not drawn);
    the curve named ``total`` is drawn thick and dark. ``breaks`` are (first step, label) of
    each scale: a dashed line before every scale after the first, its label above the plot,
    and no curve joins across it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.09, right=0.83, top=0.86, bottom=0.11)
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11, pad=22)
    positive = [v for values in curves.values() for v in values if _drawable(v)]
    if not steps or not positive:
        ax.text(0.5, 0.5, "no positive loss values", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return _to_image(fig)
    handles = _draw_curves(ax, steps, curves, total=total, starts={step for step, _ in breaks})
    lo, hi = _log_limits(curves.values(), positive)
    ax.set_yscale("log")
    ax.set_ylim(10**lo, 10**hi)
    ax.set_xlim(0, max(max(steps), 1))
    _draw_breaks(ax, breaks, last=max(max(steps), 1))
    ax.grid(True, which="major", color="#e4e4e4")
    ax.grid(True, which="minor", color="#f3f3f3")
    ax.set_axisbelow(True)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (log scale)")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=True, fontsize=10)
    return _to_image(fig)


def _drawable(value: float | None) -> bool:
    return value is not None and value > 0 and math.isfinite(value)


def _draw_curves(ax, steps: Sequence[int], curves: dict, *, total: str, starts: set[int]) -> list:
    """Each curve as a line broken at gaps and scale starts, the total on top; legend handles, total first."""
    spare = iter(SPARE_COLOURS * (1 + len(curves) // len(SPARE_COLOURS)))
    order = [n for n in curves if n != total] + ([total] if total in curves else [])
    handles = []
    for name in order:
        xs, ys = _with_breaks(steps, curves[name], starts)
        colour = TOTAL_COLOUR if name == total else TERM_COLOURS.get(name) or next(spare)
        (line,) = ax.plot(xs, ys, color=colour, lw=2.2 if name == total else 1.6, label=name)
        lone = [(x, y) for i, (x, y) in enumerate(zip(xs, ys, strict=True)) if _isolated(ys, i)]
        if lone:  # a point with no neighbour draws no line: mark it
            ax.plot(*zip(*lone, strict=True), ls="none", marker="_", ms=6, mew=2, color=colour)
        handles.append(line)
    return handles[-1:] + handles[:-1] if total in curves else handles


def _with_breaks(steps: Sequence[int], values: Sequence[float | None], starts: set[int]) -> tuple[list, list]:
    """x and y with NaN where a value is not drawable and before each scale start (matplotlib breaks lines at NaN)."""
    xs: list[float] = []
    ys: list[float] = []
    for step, value in zip(steps, values, strict=True):
        if step in starts and xs:
            xs.append(step - 0.5)
            ys.append(math.nan)
        xs.append(step)
        ys.append(value if _drawable(value) else math.nan)
    return xs, ys


def _isolated(ys: list[float], i: int) -> bool:
    """True when ys[i] is a number and both neighbours are NaN or absent."""

    def gap(j: int) -> bool:
        return not 0 <= j < len(ys) or math.isnan(ys[j])

    return not math.isnan(ys[i]) and gap(i - 1) and gap(i + 1)


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


def _draw_breaks(ax, breaks: Sequence[tuple[int, str]], *, last: float) -> None:
    """A dashed line before every scale after the first; each scale's label above its stretch."""
    edges = [0.0] + [step - 0.5 for step, _ in breaks[1:]] + [float(last)]
    for x in edges[1:-1]:
        ax.axvline(x, color="#969696", ls="--", lw=1)
    for (_, label), left, right in zip(breaks, edges, edges[1:], strict=False):
        ax.text((left + right) / 2, 1.01, label, transform=ax.get_xaxis_transform(), ha="center", va="bottom",
                fontsize=8, color="#5a5a5a", clip_on=False)  # fmt: skip


def _to_image(fig) -> Image.Image:
    """The figure rendered by Agg, as an RGB PIL image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("RGB")


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
        "RGB", (gap + columns * (cell_w + gap), title_h + gap + rows * (cell_h + label_h + gap)), SHEET_BACKGROUND
    )
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((gap, gap + 2), _shorten(draw, title, sheet.width - 2 * gap), fill=INK, font=font(15))
    for i, (thumb, (_, label)) in enumerate(zip(thumbs, tiles, strict=True)):
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
    size = fit_longest(image.size, cell)
    if k > 1 and float(k).is_integer():
        return image.resize(size, Image.Resampling.NEAREST)
    return image.resize(size, Image.Resampling.LANCZOS if k < 1 else Image.Resampling.BICUBIC)


def _shorten(draw: ImageDraw.ImageDraw, label: str, width: int) -> str:
    """``label`` cut with an ellipsis to fit ``width`` px."""
    while len(label) > 1 and draw.textlength(label, font=font(12)) > width:
        label = label[:-2] + "…"
    return label
