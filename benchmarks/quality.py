"""Picture quality on a wide evaluation set: every pair, every preset, every size, three measures.

Sixteen photo/style pairs nobody tuned for (every photo twice; dense, sparse, monochrome,
colourful and geometric styles) are rendered with each preset at each size, reusing one
loaded network, and measured with :mod:`fuchun.quality.measures`:

- style distance (lower is more of the style): per-channel W1 at VGG16 relu1_2, relu2_2,
  relu3_3 and relu4_3, layers no preset optimises, in style-std units;
- structure (higher keeps more of the photo): SSIM of the blurred luminances;
- colour distance (lower is closer to the style's colours): sliced W1 in Lab (ΔE units).

It prints a markdown table per size with its command, a summary (means per preset; per
preset the pair whose structure falls furthest below ``gatys``), and writes ``results.json``,
every picture and one contact sheet per size (rows: photo, style, one column per preset)
into ``--out``.

    python benchmarks/quality.py [--presets gatys,paint] [--sizes 256,512] [--pairs tubingen+starry-night,...]
                                 [--out quality-out] [--steps N] [--reuse] [--set OPTION=VALUE ...]

A run may be a preset with options of its own, ``paint[style-pull=0;content-weight=1]``
(spelt as in a config file), so variants of the default are measured against the same
``gatys`` pictures; ``--set`` adds options to every run but ``gatys``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import torch

from common import SHARED, Results, command_line, network
from fuchun.api import make_config, render
from fuchun.config.files import options_from_mapping
from fuchun.config.options import Config
from fuchun.errors import ConfigFileError
from fuchun.io.read import read_image, resize_image
from fuchun.io.write import to_pil, write_image
from fuchun.quality.measures import POOLING, measure
from fuchun.report.plot import contact_sheet

# photo + style: every photo twice; every style at least once
PAIRS = (
    ("tubingen", "starry-night"),  # dense, colourful brush strokes
    ("tubingen", "composition-vii"),  # abstract, colourful
    ("golden-gate", "the-scream"),  # dense swirls, strong colour
    ("golden-gate", "water-lilies"),  # soft, impressionist
    ("hoover-tower-night", "fuchun-mountains"),  # a building with a sparse ink painting
    ("hoover-tower-night", "woman-with-hat"),  # fauvist colour
    ("montreal-skyline", "fuchun-mountains"),  # the article's pair
    ("montreal-skyline", "great-wave"),  # woodcut: flat colours, lines
    ("chicago-skyline", "mondrian-tableau"),  # geometric, flat
    ("chicago-skyline", "starry-night"),
    ("taj-mahal", "shipwreck"),  # dark, dramatic, dense
    ("taj-mahal", "the-scream"),
    ("lion", "woman-with-hat"),
    ("lion", "great-wave"),
    ("bamboo-forest", "water-lilies"),
    ("bamboo-forest", "mondrian-tableau"),
)
BASELINE = "gatys"  # the structure gaps are measured against this preset
CELL = 200  # px of each picture on the contact sheet
SUFFIXES = (".jpg", ".png", ".jpeg")


def find_image(folder: pathlib.Path, kind: str, name: str) -> pathlib.Path:
    """``folder/kind/name.*`` or ``folder/name.*`` (a flat folder such as the bundled examples)."""
    for place in (folder / kind, folder):
        for suffix in SUFFIXES:
            if (place / f"{name}{suffix}").is_file():
                return place / f"{name}{suffix}"
    raise SystemExit(f"quality.py: no {kind} image named {name!r} in {folder}")


def parse_pairs(text: str | None) -> list[tuple[str, str]]:
    """'photo+style,photo+style' -> [(photo, style), ...]; None: the whole set."""
    if not text:
        return list(PAIRS)
    pairs = []
    for item in text.split(","):
        photo, plus, style = item.strip().partition("+")
        if not plus or not photo or not style:
            raise SystemExit(f"quality.py: a pair is written photo+style (e.g. tubingen+starry-night), not {item!r}")
        pairs.append((photo, style))
    return pairs


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = f"{BASELINE},{Config().preset}"
    p.add_argument(
        "--presets",
        default=default,
        help=f"comma-separated presets (default {default}: gatys and the default); a preset may carry options "
        "of its own: paint[style-pull=0;content-weight=1]",
    )
    p.add_argument("--sizes", default="256,512", help="comma-separated longest sides in px")
    p.add_argument("--pairs", help="comma-separated photo+style pairs (default: all 16)")
    p.add_argument("--out", default="quality-out", help="folder for pictures, sheets and results.json")
    p.add_argument("--images", default=str(SHARED), help="folder with content/ and style/ images")
    p.add_argument("--steps", type=int, help="steps per run (default: each preset's own)")
    p.add_argument("--reuse", action="store_true", help="measure pictures already in --out instead of rendering")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help=f"an option for every preset but {BASELINE}, as in a config file, e.g. content-weight=1.4 (repeatable); "
        "those runs are labelled PRESET[OPTION=VALUE;...]",
    )
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


def _options(items: list[str], source: str) -> dict:
    """Config options from OPTION=VALUE items, as a config file spells them; one clear line if one is wrong."""
    pairs = [item.strip().partition("=") for item in items]
    bad = [a for a, eq, b in pairs if not eq or not a or not b]
    if bad:
        raise SystemExit(f"quality.py: {source} takes OPTION=VALUE (e.g. content-weight=1.4), not {bad[0]!r}")
    try:
        return options_from_mapping({a.strip(): b.strip() for a, _, b in pairs}, source=source)
    except ConfigFileError as exc:
        raise SystemExit(f"quality.py: {exc}") from None


def _split_presets(text: str) -> list[str]:
    """'gatys,paint[content-layers=relu2_1,relu4_2]' -> the runs, split at the commas outside brackets."""
    runs, depth, start = [], 0, 0
    for i, ch in enumerate(text + ","):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            runs.append(text[start:i].strip())
            start = i + 1
    return [r for r in runs if r]


def variants(args) -> dict[str, tuple[str, dict]]:
    """{label: (preset, options)} of every run per pair and size.

    A run is a preset, or a preset with options of its own, ``paint[style-pull=0;content-weight=1]``;
    --set adds options to every run but the baseline. The label names the run's pictures."""
    runs = {}
    for spec in _split_presets(args.presets):
        name, bracket, rest = spec.partition("[")
        items = [i for i in rest.removesuffix("]").split(";") if i.strip()] if bracket else []
        if name.strip() != BASELINE:
            items += args.set
        label = name.strip() + (f"[{';'.join(i.strip() for i in items)}]" if items else "")
        runs[label] = (name.strip(), _options(items, "--set" if not bracket else label))
    return runs


def render_one(net, args, photo: torch.Tensor, style: torch.Tensor, preset: str, size: int, extra: dict):
    """(picture as 8-bit-exact float tensor, seconds) of one stylize run."""
    options = {**extra, "preset": preset, "size": size, "device": args.device}
    if args.steps is not None:
        options["steps"] = args.steps
    net.pooling = make_config("stylize", **options).resolved().pooling  # the one network, as the preset pools
    t0 = time.perf_counter()
    try:
        picture = render("stylize", content=photo, style=style, net=net, **options)
    finally:
        net.pooling = POOLING
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return (picture * 255).round() / 255, seconds  # measured as written


def run_set(args, net, pairs, runs: dict, sizes, out: pathlib.Path, folder: pathlib.Path) -> list[dict]:
    """Render (or reuse) and measure every (size, pair, preset); results.json is rewritten after each."""
    old = _old_results(out) if args.reuse else {}
    results = []
    for size in sizes:
        for photo_name, style_name in pairs:
            photo = read_image(find_image(folder, "content", photo_name))
            style = read_image(find_image(folder, "style", style_name))
            for preset, (name, extra) in runs.items():
                key = f"{photo_name}+{style_name}"
                path = out / f"{size}" / f"{key}.{preset}.png"
                if (key, preset, size) in old and path.is_file():
                    picture, seconds = read_image(path), old[key, preset, size]["seconds"]
                else:
                    picture, seconds = render_one(net, args, photo, style, name, size, extra)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    write_image(picture, path)
                row = {"pair": key, "preset": preset, "size": size, "seconds": round(seconds, 2), "image": str(path)}
                row.update({k: round(v, 4) for k, v in measure(net, picture, photo=photo, style=style).items()})
                results.append(row)
                print(_progress_line(row), file=sys.stderr, flush=True)
                _write_json(out, args, results)
    return results


def _progress_line(row: dict) -> str:
    return (
        f"{row['size']} px {row['pair']:38s} {row['preset']:10s} {row['seconds']:7.1f} s  "
        f"style {row['style_distance']:.3f}  structure {row['structure']:.3f}  colour {row['colour_distance']:.2f}"
    )


def _old_results(out: pathlib.Path) -> dict:
    path = out / "results.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())["results"]
    return {(r["pair"], r["preset"], r["size"]): r for r in rows}


def _write_json(out: pathlib.Path, args, results: list[dict]) -> None:
    tmp = out / "results.json.tmp"
    tmp.write_text(json.dumps({"command": command_line("quality.py"), "results": results}, indent=1))
    tmp.replace(out / "results.json")


def gaps(results: list[dict]) -> dict[tuple[str, int], float]:
    """Per (pair, size): the baseline's structure (absent when the baseline was not run)."""
    return _baseline(results, "structure")


def _baseline(results: list[dict], measure: str) -> dict[tuple[str, int], float]:
    """Per (pair, size): the baseline's value of ``measure``."""
    return {(r["pair"], r["size"]): r[measure] for r in results if r["preset"] == BASELINE}


def table(results: list[dict], size: int) -> tuple[list[str], list[list[str]]]:
    """The columns and rows of one size: a row per pair and preset."""
    base = gaps(results)
    columns = ["pair", "preset", "time s", "style distance", "structure", "structure gap to gatys", "colour distance"]
    rows = []
    for r in (r for r in results if r["size"] == size):
        gap = base.get((r["pair"], size))
        gap_text = "" if gap is None or r["preset"] == BASELINE else f"{gap - r['structure']:+.3f}"
        rows.append([r["pair"], r["preset"], f"{r['seconds']:.1f}", f"{r['style_distance']:.3f}",
                     f"{r['structure']:.3f}", gap_text, f"{r['colour_distance']:.2f}"])  # fmt: skip
    return columns, rows


def summary(results: list[dict], size: int, presets: list[str]) -> tuple[list[str], list[list[str]]]:
    """Means per preset and, against the baseline, the worst structure gap, how many pairs keep
    within 0.05 of its structure and how many take more of the style."""
    structure, style = gaps(results), _baseline(results, "style_distance")
    columns = ["preset", "mean time s", "mean style distance", "mean structure", "mean colour distance",
               "worst structure gap to gatys (pair)", "pairs within 0.05 of gatys",
               "pairs with less style distance than gatys"]  # fmt: skip
    rows = []
    for preset in presets:
        chosen = [r for r in results if r["size"] == size and r["preset"] == preset]
        if not chosen:
            continue
        means = [statistics.mean(r[k] for r in chosen) for k in ("seconds", "style_distance", "structure")]
        colour = statistics.mean(r["colour_distance"] for r in chosen)
        worst, within, styled = "", "", ""
        compared = [r for r in chosen if (r["pair"], size) in structure]
        if compared and preset != BASELINE:
            gap, pair = max((structure[r["pair"], size] - r["structure"], r["pair"]) for r in compared)
            worst = f"{gap:+.3f} ({pair})"
            within = f"{sum(structure[r['pair'], size] - r['structure'] <= 0.05 for r in compared)}/{len(compared)}"
            styled = f"{sum(r['style_distance'] < style[r['pair'], size] for r in compared)}/{len(compared)}"
        row = [preset, f"{means[0]:.1f}", f"{means[1]:.3f}", f"{means[2]:.3f}", f"{colour:.2f}", worst, within, styled]
        rows.append(row)
    return columns, rows


def sheet(results: list[dict], size: int, presets: list[str], folder: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """The contact sheet of one size: a row per pair (photo, style, then each preset with its numbers)."""
    tiles = []
    rows = [r for r in results if r["size"] == size]
    for pair in dict.fromkeys(r["pair"] for r in rows):
        photo_name, style_name = pair.split("+")
        tiles.append(
            (to_pil(resize_image(read_image(find_image(folder, "content", photo_name)), size=CELL)), photo_name)
        )
        tiles.append((to_pil(resize_image(read_image(find_image(folder, "style", style_name)), size=CELL)), style_name))
        for preset in presets:
            r = next((r for r in rows if r["pair"] == pair and r["preset"] == preset), None)
            label = f"sd {r['style_distance']:.2f} st {r['structure']:.2f} col {r['colour_distance']:.0f} {preset}"
            tiles.append((to_pil(read_image(r["image"])), label))
    title = f"{size} px; sd: style distance, st: structure, col: colour distance; {command_line('quality.py')}"
    image = contact_sheet(tiles, cell=CELL, columns=2 + len(presets), title=title)
    path = out / f"sheet-{size}.png"
    image.save(path)
    return path


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    pairs, runs = parse_pairs(args.pairs), variants(args)
    presets = list(runs)
    folder = pathlib.Path(args.images)
    if not folder.is_dir():
        raise SystemExit(f"quality.py: the evaluation images are missing: {folder} (or pass --images DIR)")
    sizes = [int(s) for s in args.sizes.split(",")]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, _ = network(args.device, "fp32", pooling=POOLING)
    warm = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(0))
    render("stylize", content=warm, style=warm, net=net, size=48, steps=2, device=args.device)  # first-call costs
    results = run_set(args, net, pairs, runs, sizes, out, folder)
    record = Results("quality", command_line("quality.py", argv))
    print(f"    {record.command}\n")
    for size in sizes:
        print(f"### {size} px\n\n{record.table(f'{size} px, every pair', *table(results, size))}\n")
        print(f"{record.table(f'{size} px, means per run', *summary(results, size, presets))}\n")
        print(f"contact sheet: {sheet(results, size, presets, folder, out)}\n")
    print(f"results: {out / 'results.json'}, {record.save()}")


if __name__ == "__main__":
    main()
