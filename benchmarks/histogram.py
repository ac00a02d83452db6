"""Histogram loss: Gram only vs Gram + exact histogram loss (Risser et al. 2017).

On three content/style pairs and three seeds each (noise init, so seeds matter), stylise
with Gram only and with Gram + histogram, same steps, and measure the per-channel feature
Wasserstein distance of the output to the style (fuchun.metrics), averaged over relu1_1 ..
relu5_1. Lower is better; the spread across seeds shows stability.

    python benchmarks/histogram.py [--size 128] [--steps 150]
"""

from __future__ import annotations

import argparse
import statistics

import fuchun
from common import image, network
from fuchun.config.options import Config
from fuchun.engine import Job, output_size, style_size
from fuchun.io.read import resize_image
from fuchun.metrics import wasserstein_distances

PAIRS = (
    ("content/tubingen.jpg", "style/starry-night.jpg"),
    ("content/golden-gate.jpg", "style/the-scream.jpg"),
    ("content/montreal-skyline.png", "style/fuchun-mountains.png"),
)
VARIANTS = {"Gram only": dict(preset="gatys"), "Gram + histogram": dict(preset="risser")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    net, _ = network("auto", "fp32")
    ratios = []
    for content_rel, style_rel in PAIRS:
        content, style = image(content_rel), image(style_rel)
        cfg = Config(size=args.size)
        w, h = output_size(cfg, Job(content, [style]))
        style_small = resize_image(style, size=style_size(cfg, (w, h), style))
        means = {}
        for name, options in VARIANTS.items():
            values = []
            for seed in args.seeds:
                out = fuchun.render(
                    "stylize",
                    content=content,
                    style=style,
                    size=args.size,
                    steps=args.steps,
                    seed=seed,
                    init="noise",
                    scales="none",
                    **options,
                )
                per_layer = wasserstein_distances(net, out, style_small)
                values.append(statistics.mean(per_layer.values()))
            means[name] = statistics.mean(values)
            print(
                f"{content_rel.split('/')[-1]:22s} + {style_rel.split('/')[-1]:22s} {name:18s} "
                f"W1 {means[name]:.4f} ± {statistics.pstdev(values):.4f} "
                f"(seeds: {', '.join(f'{v:.4f}' for v in values)})",
                flush=True,
            )
        ratios.append(means["Gram + histogram"] / means["Gram only"])
    print(f"W1 with histogram / W1 Gram only, per pair: {', '.join(f'{r:.3f}' for r in ratios)}")
    print(f"{statistics.mean(ratios):.3f}")


if __name__ == "__main__":
    main()
