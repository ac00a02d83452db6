"""The style-strength dial on one pair: time, style distance and structure per strength.

Renders the photo with the default preset at each ``--strengths`` value (``--strength`` of
the CLI), after one baseline run (``--baseline``, by default the previous default preset
``fuchun``) in the same process, so the times read as ratios on a shared machine. Each
picture is measured with :mod:`fuchun.quality.measures` (style distance at VGG16 layers no preset
optimises, structure = SSIM of blurred luminances, Lab colour distance), and the pictures
are put side by side on one sheet.

    python benchmarks/strength.py [--content tubingen.jpg] [--style starry-night.jpg] [--size 256]
                                  [--strengths 0,2,4,5,6,8,10] [--baseline fuchun] [--out strength-out] [--threads N]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import torch

from common import ROOT, Results, command_line, network
from fuchun.api import render
from fuchun.io.read import read_image
from fuchun.io.write import to_pil
from fuchun.quality.measures import POOLING, measure
from fuchun.report.plot import contact_sheet

EXAMPLES = ROOT / "src" / "fuchun" / "examples"


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--content", default=str(EXAMPLES / "tubingen.jpg"))
    p.add_argument("--style", default=str(EXAMPLES / "starry-night.jpg"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--strengths", default="0,2,4,5,6,8,10", help="comma-separated strengths")
    p.add_argument("--preset", default=None, help="preset of the dial runs (default: the default preset)")
    p.add_argument("--baseline", default="fuchun", help="preset of the baseline run ('' for none)")
    p.add_argument("--out", default="strength-out")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p.parse_args(argv)


def _run(label: str, net, photo, style, *, size: int, **options) -> dict:
    """Render one picture with ``options``; its time and measures."""
    t0 = time.perf_counter()
    picture = render("stylize", content=photo, style=style, size=size, **options)
    seconds = time.perf_counter() - t0
    return {"label": label, "seconds": seconds, "picture": picture, **measure(net, picture, photo=photo, style=style)}


def main(argv=None) -> int:
    args = _args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    photo, style = read_image(args.content), read_image(args.style)
    net, _ = network("cpu", "fp32", pooling=POOLING)
    extra = {} if args.preset is None else {"preset": args.preset}
    rows = []
    if args.baseline:
        rows.append(_run(f"preset {args.baseline}", net, photo, style, size=args.size, preset=args.baseline))
    for s in (float(v) for v in args.strengths.split(",")):
        rows.append(_run(f"strength {s:g}", net, photo, style, size=args.size, strength=s, **extra))
    base = rows[0]["seconds"] if args.baseline else None
    results = Results("strength", command_line("strength.py", argv))
    print(f"command: {results.command}")
    pair = f"{pathlib.Path(args.content).stem} + {pathlib.Path(args.style).stem}, {args.size} px, CPU"
    cells = [
        [r["label"], f"{r['seconds']:.1f}", f"{r['seconds'] / base:.2f}" if base else "-", f"{r['style_distance']:.3f}",
         f"{r['structure']:.3f}", f"{r['colour_distance']:.1f}"]
        for r in rows
    ]  # fmt: skip
    columns = ["run", "time s", "× baseline", "style distance", "structure", "colour ΔE"]
    print(results.table(pair, columns, cells))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tiles = [(to_pil(photo), "photo"), (to_pil(style), "style")]
    for r in rows:
        to_pil(r["picture"]).save(out / f"{r['label'].replace(' ', '-')}.png")
        tiles.append((to_pil(r["picture"]), f"{r['label']}: {r['style_distance']:.2f} / {r['structure']:.2f}"))
    sheet = contact_sheet(tiles, cell=args.size, columns=min(len(tiles), 5), title="style distance / structure")
    sheet.save(out / "strength-sheet.png")
    print(f"pictures and sheet: {out}/; results: {results.save()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
