"""Long-range structure: texture synthesis with Gram only vs Gram + shifted Gram.

Berger & Memisevic (2016) claim the shifted Gram matrices restore long-range regularity
that a Gram matrix loses. For each exemplar, synthesise from the same noise (same seeds,
same steps) with Gram only and with Gram + shifted Gram, and measure how far the output's
luminance autocorrelation at 16-64 px offsets is from the exemplar's (lower is better).
Writes a side-by-side sheet to docs/evidence/long_range.jpg.

    python benchmarks/long_range.py [--size 256] [--steps 200] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import statistics

import fuchun
from common import ROOT, image
from fuchun.config.presets import FUCHUN_SHIFTS, SIX_SHIFTS
from fuchun.io.read import resize_image
from fuchun.io.write import to_pil, write_image
from fuchun.metrics import autocorrelation_error
from fuchun.report.plot import contact_sheet

TEXTURES = ("texture/sw-pattern.png", "texture/floral-tapestry.png")
OFFSETS = (16, 32, 48, 64)
VARIANTS = {
    "Gram only": dict(preset="gatys"),
    "+ shifted, default": dict(preset="gatys", shift_weight=5.0, shifts=FUCHUN_SHIFTS),  # relu1_1: 16, 64
    "+ shifted, 6 shifts": dict(preset="gatys", shift_weight=5.0, shifts=SIX_SHIFTS),  # relu1_1 ... relu3_1
    "+ shifted, Berger 14": dict(preset="berger"),  # Berger & Memisevic's 14 (layer, δ) pairs
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default=str(ROOT / "docs" / "evidence" / "long_range.jpg"))
    args = p.parse_args()
    tiles, summary = [], {}
    for rel in TEXTURES:
        exemplar = resize_image(image(rel), size=args.size)
        tiles.append((to_pil(exemplar), f"exemplar: {rel.split('/')[-1]}"))
        for name, options in VARIANTS.items():
            errors = []
            for seed in args.seeds:
                out = fuchun.render(
                    "texture", style=exemplar, size=args.size, steps=args.steps, seed=seed, scales="none", **options
                )
                errors.append(autocorrelation_error(out, exemplar, offsets=OFFSETS))
                if seed == args.seeds[0]:
                    tiles.append((to_pil(out), f"{name}: {errors[-1]:.3f}"))
            summary[(rel, name)] = errors
            print(
                f"{rel:30s} {name:32s} autocorrelation error {statistics.mean(errors):.4f} "
                f"(seeds: {', '.join(f'{e:.4f}' for e in errors)})",
                flush=True,
            )
    for rel in TEXTURES:
        base = statistics.mean(summary[(rel, "Gram only")])
        for name in list(VARIANTS)[1:]:
            print(f"{rel:30s} {name:32s} error / Gram-only error = {statistics.mean(summary[(rel, name)]) / base:.3f}")
    title = "Texture synthesis from noise; number: luminance autocorrelation error at 16-64 px"
    sheet = contact_sheet(tiles, columns=len(VARIANTS) + 1, cell=args.size, title=title)
    out = ROOT / args.out if not args.out.startswith("/") else args.out
    import pathlib

    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_image(fuchun.io.read.read_image(sheet), out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
