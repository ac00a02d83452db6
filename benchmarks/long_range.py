"""Long-range structure: texture synthesis with Gram only vs Gram + shifted Gram, judged on held-out statistics.

Berger & Memisevic (2016) claim the shifted Gram matrices restore long-range regularity
that a Gram matrix loses. For each exemplar, synthesise from the same noise (same seeds,
same steps) with Gram only and with Gram + shifted Gram, and measure the output against the
exemplar with statistics no variant optimises:

- the luminance autocorrelation error at offsets no variant uses (12, 24, 40, 48, 56 px;
  the shift sets hold only powers of two), next to the error at the default's own 16 and 64 px;
- per layer, the relative shifted-Gram error mean((A − T)²) / mean(T²) at VGG layers no
  variant uses (relu1_2, relu2_2, relu3_3, relu4_3), at a 24 px image offset (24, 12, 6, 3
  feature px), horizontal and vertical averaged.

Lower is better everywhere. Prints markdown tables with the command; writes a side-by-side
sheet (seed 0) to docs/evidence/long_range.jpg.

    python benchmarks/long_range.py [--size 160] [--steps 150] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys

import torch

import fuchun
from common import ROOT, Results, command_line, image, network
from fuchun.config.presets import FUCHUN_SHIFTS, SIX_SHIFTS
from fuchun.io.read import read_image, resize_image
from fuchun.io.write import to_pil, write_image
from fuchun.losses import shifted_gram
from fuchun.quality.measures import autocorrelation_error
from fuchun.report.plot import contact_sheet

TEXTURES = ("texture/sw-pattern.png", "texture/floral-tapestry.png")
OPTIMISED_OFFSETS = (16, 64)  # image px the default's shifts (relu1_1) use
HELD_OUT_OFFSETS = (12, 24, 40, 48, 56)  # image px no variant's shifts use
HELD_OUT_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
HELD_OUT_SHIFT = 24  # image px: 24, 12, 6, 3 feature px at the held-out layers
VARIANTS = {
    "Gram only": dict(preset="gatys"),
    "+ shifted, default": dict(preset="gatys", shift_weight=5.0, shifts=FUCHUN_SHIFTS),  # relu1_1: 16, 64
    "+ shifted, 6 shifts": dict(preset="gatys", shift_weight=5.0, shifts=SIX_SHIFTS),  # relu1_1 ... relu3_1
    "+ shifted, 14-pair table": dict(preset="berger"),  # a public reimplementation's 14 (layer, δ) pairs
}


def shifted_gram_errors(net, picture: torch.Tensor, exemplar: torch.Tensor) -> dict[str, float]:
    """Per held-out layer: ½ Σ_{x,y} mean((A − T)²) / mean(T²) at the held-out offset."""
    with torch.no_grad():
        f = net(picture[None].float(), HELD_OUT_LAYERS)
        t = net(exemplar[None].float(), HELD_OUT_LAYERS)
    out = {}
    for layer in HELD_OUT_LAYERS:
        stride = picture.shape[-1] // f[layer].shape[-1]  # image px per feature px
        delta = max(1, HELD_OUT_SHIFT // stride)
        pairs = zip(shifted_gram(f[layer], delta), shifted_gram(t[layer], delta), strict=True)
        out[layer] = statistics.mean(float((a - b).pow(2).mean() / b.pow(2).mean()) for a, b in pairs)
    return out


def measure(net, picture: torch.Tensor, exemplar: torch.Tensor) -> dict[str, float]:
    """The held-out statistics of one synthesised texture."""
    return {
        "optimised offsets": autocorrelation_error(picture, exemplar, offsets=OPTIMISED_OFFSETS),
        "held-out offsets": autocorrelation_error(picture, exemplar, offsets=HELD_OUT_OFFSETS),
        **shifted_gram_errors(net, picture, exemplar),
    }


def synthesise(args, net, exemplar: torch.Tensor, options: dict, seed: int) -> torch.Tensor:
    """One texture from noise, single scale, on the one loaded network (every variant pools by max)."""
    return fuchun.render(
        "texture", style=exemplar, size=args.size, steps=args.steps, seed=seed, scales="none", net=net, **options
    )


def run(args, net) -> tuple[dict, list]:
    """{(texture, variant): {statistic: [value per seed]}} and the sheet's tiles."""
    results, tiles = {}, []
    for rel in TEXTURES:
        exemplar = resize_image(image(rel), size=args.size)
        tiles.append((to_pil(exemplar), f"exemplar: {rel.split('/')[-1]}"))
        for name, options in VARIANTS.items():
            per_seed = []
            for seed in args.seeds:
                out = synthesise(args, net, exemplar, options, seed)
                per_seed.append(measure(net, out, exemplar))
                if seed == args.seeds[0]:
                    tiles.append((to_pil(out), f"{name}: {per_seed[-1]['held-out offsets']:.3f}"))
            results[rel, name] = {k: [m[k] for m in per_seed] for k in per_seed[0]}
            print(f"{rel:30s} {name:26s} {_means(results[rel, name])}", file=sys.stderr, flush=True)
    return results, tiles


def _means(values: dict[str, list[float]]) -> str:
    return "  ".join(f"{k} {statistics.mean(v):.4f}" for k, v in values.items())


def tables(results: dict, record: Results) -> str:
    """One table per statistic group: rows textures, columns variants (mean over seeds, change against Gram only)."""
    groups = {
        "luminance autocorrelation error at the default's own offsets (16, 64 px)": "optimised offsets",
        "luminance autocorrelation error at held-out offsets (12, 24, 40, 48, 56 px)": "held-out offsets",
        **{f"shifted-Gram error at held-out layer {layer}, 24 px": layer for layer in HELD_OUT_LAYERS},
    }
    blocks = []
    for title, key in groups.items():
        rows = []
        for rel in TEXTURES:
            base = statistics.mean(results[rel, "Gram only"][key])
            cells = [pathlib.Path(rel).stem]
            for name in VARIANTS:
                v = statistics.mean(results[rel, name][key])
                cells.append(f"{v:.3f}" if name == "Gram only" else f"{v:.3f} ({v / base - 1:+.0%})")
            rows.append(cells)
        blocks.append(f"**{title}**\n\n" + record.table(title, ["exemplar", *VARIANTS], rows))
    return "\n\n".join(blocks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default=str(ROOT / "docs" / "evidence" / "long_range.jpg"))
    args = p.parse_args()
    net, _ = network("auto", "fp32")
    results, tiles = run(args, net)
    record = Results("long_range", command_line("long_range.py"))
    print(f"    {record.command}\n")
    print(tables(results, record))
    record.save()
    title = "Texture synthesis from noise; number: luminance autocorrelation error at held-out offsets 12-56 px"
    sheet = contact_sheet(tiles, columns=len(VARIANTS) + 1, cell=args.size, title=title)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_image(read_image(sheet), out)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
