"""Histogram loss: Gram only vs Gram + exact histogram loss (Risser et al. 2017), judged on held-out statistics.

On three content/style pairs and a few seeds each (noise init, so seeds matter), stylise
with Gram only (``gatys``) and with Gram + histogram (``risser``: histogram at relu1_1 and
relu4_1), same steps, and measure with :mod:`fuchun.quality.measures`:

- per layer, the per-channel W1 to the style in style-std units at the layers the loss
  optimises (relu1_1, relu4_1: what it is bound to improve) and at layers it does not
  (relu1_2, relu2_2, relu3_3, relu4_3: the style distance);
- the colour distance to the style (sliced W1 in Lab, ΔE units);
- the structure kept of the photo (SSIM of blurred luminances: the cost, if any).

Prints one markdown table per pair (mean ± spread over seeds, ratio) with the command.

    python benchmarks/histogram.py [--size 128] [--steps 120] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys

import torch

import fuchun
from common import Results, command_line, image, network
from fuchun.config.options import Config
from fuchun.io.read import resize_image
from fuchun.quality.measures import STYLE_LAYERS, colour_distance, structure_kept, style_distances
from fuchun.run.job import Job, output_size
from fuchun.run.schedule import Level

PAIRS = (
    ("content/tubingen.jpg", "style/starry-night.jpg"),
    ("content/golden-gate.jpg", "style/the-scream.jpg"),
    ("content/montreal-skyline.png", "style/fuchun-mountains.png"),
)
VARIANTS = {"Gram only": dict(preset="gatys"), "Gram + histogram": dict(preset="risser")}
OPTIMISED_LAYERS = ("relu1_1", "relu4_1")  # the risser preset's histogram layers


def statistics_of(net, picture: torch.Tensor, photo: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
    """Every statistic of one picture (style already at the run's size)."""
    optimised = style_distances(net, picture, style, layers=OPTIMISED_LAYERS)
    held_out = style_distances(net, picture, style)
    return {
        **{f"W1 {layer} (optimised)": optimised[layer] for layer in OPTIMISED_LAYERS},
        **{f"W1 {layer}": held_out[layer] for layer in STYLE_LAYERS},
        "style distance (mean of the four)": held_out["mean"],
        "colour distance (Lab)": colour_distance(picture, style),
        "structure kept (higher is more photo)": structure_kept(picture, photo),
    }


def run_pair(args, net, content_rel: str, style_rel: str) -> dict[str, dict[str, list[float]]]:
    """{variant: {statistic: [value per seed]}} of one pair."""
    content, style = image(content_rel), image(style_rel)
    cfg = Config(size=args.size)
    w, h = output_size(cfg, Job(content, [style]))
    style_small = resize_image(style, size=Level.at(cfg, (w, h)).style_size(style))
    out = {}
    for name, options in VARIANTS.items():
        per_seed = []
        for seed in args.seeds:
            picture = fuchun.render(
                "stylize",
                content=content,
                style=style,
                size=args.size,
                steps=args.steps,
                seed=seed,
                init="noise",
                scales="none",
                net=net,
                **options,
            )
            per_seed.append(statistics_of(net, picture, content, style_small))
        out[name] = {k: [s[k] for s in per_seed] for k in per_seed[0]}
        print(f"{content_rel} + {style_rel}: {name} done", file=sys.stderr, flush=True)
    return out


def pair_table(values: dict[str, dict[str, list[float]]], title: str, record: Results) -> str:
    """A row per statistic, Gram only and + histogram as mean ± spread, and their ratio."""
    a, b = (values[name] for name in VARIANTS)
    rows = []
    for key in a:
        ma, mb = statistics.mean(a[key]), statistics.mean(b[key])
        sa, sb = statistics.pstdev(a[key]), statistics.pstdev(b[key])
        rows.append([key, f"{ma:.3f} ± {sa:.3f}", f"{mb:.3f} ± {sb:.3f}", f"{mb / ma:.2f}"])
    return record.table(title, ["statistic", *VARIANTS, "ratio"], rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    net, _ = network("auto", "fp32")  # both presets pool by max, as the measures do
    results = {pair: run_pair(args, net, *pair) for pair in PAIRS}
    record = Results("histogram", command_line("histogram.py"))
    print(f"    {record.command}\n")
    ratios = []
    for (content_rel, style_rel), values in results.items():
        title = f"{pathlib.Path(content_rel).stem} + {pathlib.Path(style_rel).stem}"
        print(f"**{title}**\n\n{pair_table(values, title, record)}\n")
        key = "style distance (mean of the four)"
        ratios.append(statistics.mean(values["Gram + histogram"][key]) / statistics.mean(values["Gram only"][key]))
    print(record.note(
        f"held-out style distance, with histogram / Gram only, per pair: {', '.join(f'{r:.3f}' for r in ratios)}"
    ))  # fmt: skip
    record.save()
    print(f"{statistics.mean(ratios):.3f}")


if __name__ == "__main__":
    main()
