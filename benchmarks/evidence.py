"""docs/evidence.md from the benchmarks' results: every table under the command that measured it.

Each benchmark writes ``benchmarks/results/<name>.json`` (its command, date, machine, commit and
tables; :class:`common.Results`). This script lays them out in the order below, each section
with a few lines on what is measured and how to read it; the numbers come only from the JSON.
A section whose results are missing says which command would make them.

    python benchmarks/evidence.py            # write docs/evidence.md
    python benchmarks/evidence.py --check    # exit 1 if docs/evidence.md is not what the results make
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass

from common import RESULTS, ROOT, Table

OUT = ROOT / "docs" / "evidence.md"


@dataclass(frozen=True)
class Section:
    """One section of the evidence: its heading, what it measures, the results it shows, pictures."""

    heading: str
    text: str
    results: tuple[str, ...]
    pictures: tuple[tuple[str, str], ...] = ()  # (path under docs/, caption)
    missing: str = ""  # the command that makes the results, said where they are missing


MEASURES = (
    "*Style distance* (lower is more of the style): per channel, the exact Wasserstein-1 distance "
    "between the picture's and the style's VGG16 activations at relu1_2, relu2_2, relu3_3 and "
    "relu4_3, layers no preset optimises, in units of the style channel's standard deviation, "
    "averaged. *Structure* (higher keeps more of the photo): SSIM of the luminances of picture and "
    "photo, both blurred. *Colour distance* (lower is closer to the painting's colours): sliced "
    "Wasserstein-1 distance of the pixels in CIE Lab, in ΔE units (`fuchun.quality.measures`; "
    "`fuchun eval` prints the same numbers)."
)

SECTIONS = (
    Section(
        "The evaluation set",
        "Sixteen photo and painting pairs no setting was tuned on: every photo twice; dense (*The "
        "Starry Night*, *The Scream*, *Shipwreck*), sparse and monochrome (the Fuchun Mountains ink "
        "scroll), colourful (*Woman with a Hat*, *Composition VII*), flat or geometric (*The Great "
        "Wave*, Mondrian) styles. Every pair is painted by Gatys et al.'s losses (`gatys`), by the "
        "default (`paint`: Gaussian Wasserstein-2 style) and by the default with the sliced "
        "Wasserstein style loss in W2's place (`paint[w2-weight=0;sliced-weight=20]`: the weight at "
        "which it paints as much of the style as W2 on a pair outside the set, the lion with *The "
        "Starry Night*), on one loaded network. " + MEASURES + " The default's promise: more of the "
        "style than `gatys` on every pair, while its structure stays within 0.05 of what `gatys` keeps.",
        ("quality",),
        (("evidence/quality-256.jpg", "every pair at 256 px: photo, painting, then each run"),),
        'python benchmarks/quality.py --presets "gatys,paint,paint[w2-weight=0;sliced-weight=20]" --sizes 256',
    ),
    Section(
        "What each objective costs",
        "One loss-and-gradient evaluation of each objective on the same picture, in one process, as "
        "a multiple of Gram only: the article's terms one by one, the default, and the default with "
        "the sliced Wasserstein term. The sliced loss sorts as many projections per layer as the "
        "layer has channels, at every layer; the histogram loss sorts the channels of two layers.",
        ("cost",),
        missing="python benchmarks/cost.py",
    ),
    Section(
        "Style strength",
        "`--strength` from photographic (0) to painterly (10) on one pair, after one run of the "
        "`fuchun` preset in the same process as a yardstick of time. " + MEASURES,
        ("strength",),
        (("strength-sheet.jpg", "the photo, the painting, the yardstick, then each strength"),),
        "python benchmarks/strength.py --strengths 2,5,8 --threads 1",
    ),
    Section(
        "Beside the best peer",
        "crowsonkb/style-transfer-pytorch paints with a Gaussian Wasserstein-2 loss, Adam with "
        "iterate averaging and a coarse-to-fine schedule from 128 px. `peer_crowsonkb.py` runs its "
        "own code (from a checkout of it; nothing of it is in fuchun) on fuchun's VGG16 with its "
        "layers mapped to the same named layers, then fuchun at several strengths in the same "
        "process; every picture is measured the same way. CPU seconds, which other jobs on the "
        "machine disturb far less than wall seconds, with one thread each.",
        ("peer_crowsonkb",),
        (("evidence/peer-crowsonkb.jpg", "the peer's short run, then fuchun at each strength"),),
        "python benchmarks/peer_crowsonkb.py --peer PATH --strengths 5,8,10 --threads 1",
    ),
    Section(
        "Long-range structure: the shifted Gram matrices",
        "Berger & Memisevic (2016) claim that Gram matrices of a map against itself shifted restore "
        "the long-range regularity a Gram matrix loses. Texture synthesis from the same noise with "
        "Gram only and with shifted Gram terms added, judged on statistics no variant optimises: "
        "the luminance autocorrelation at offsets no shift uses, and shifted-Gram errors at layers "
        "no variant uses. Lower is better; the change is against Gram only.",
        ("long_range",),
        (("evidence/long_range.jpg", "exemplar, then each variant (seed 0)"),),
        "python benchmarks/long_range.py --size 160 --steps 120 --seeds 0 1",
    ),
    Section(
        "The histogram loss",
        "Risser et al. (2017) add a histogram loss to the Gram loss to match each channel's whole "
        "distribution. Gram only against Gram + the exact histogram loss on three pairs, from noise, "
        "mean ± spread over seeds; the optimised layers are listed apart from the held-out ones.",
        ("histogram",),
        missing="python benchmarks/histogram.py --size 128 --steps 120 --seeds 0",
    ),
    Section(
        "Speed",
        "The default against the way the peers run (Gatys' losses, fp32, one scale, 300 L-BFGS "
        "steps), every picture scored by one fixed evaluator (the Gatys objective in fp32), and one "
        "evaluation in fp32 against bf16.",
        ("speed",),
        missing="python benchmarks/speed.py",
    ),
    Section(
        "Memory",
        "The planner's estimate of a whole run's peak against the measured peak of whole `stylize` "
        "runs, each in a fresh process: the resident peak above what the process held once the "
        "network was loaded, the worst of several runs (the same run's peak varies between fresh "
        "processes with the allocator's state). Then the planner's estimate for sizes too large to "
        "measure here.",
        ("memory", "plan"),
        missing="python benchmarks/memory.py",
    ),
    Section(
        "Video",
        "Clips with real motion (a pan, two-layer parallax, a zoom) made from the photos, painted "
        "frame by frame on their own and by `fuchun video` (each frame from the previous one warped "
        "along the optical flow, with a temporal loss; Ruder et al. 2016). Temporal error: the "
        "difference of consecutive frames after warping, on the pixels where the flow is consistent.",
        ("temporal",),
        missing="python benchmarks/temporal.py --size 192 --frames 6 --steps 100",
    ),
    Section(
        "Batches",
        "A batch worker loads the network once; one `fuchun stylize` process per picture pays the "
        "start, the imports and the network every time. T(N, G) estimates a large batch on G workers.",
        ("batch",),
        missing="python benchmarks/batch.py --size 512 --pictures 2",
    ),
    Section(
        "The studio's live preview",
        "The same render through the studio's own service with the live preview on and off.",
        ("studio_preview",),
        missing="python benchmarks/studio_preview.py",
    ),
    Section(
        "Install size and start-up",
        "What the libraries that replaced hand-made parts cost to install and import, and what `import fuchun` costs.",
        ("footprint",),
        missing="python benchmarks/footprint.py --repeats 5",
    ),
    Section(
        "On a CUDA machine",
        "Milliseconds per evaluation, TFLOP/s and peak memory from 512 to 4096 px, with the savings "
        "the planner picks for 24 GB, and the 1024 px default run.",
        ("gpu",),
        missing="python benchmarks/gpu.py (on a CUDA machine)",
    ),
)


def _provenance(record: dict) -> str:
    machine = record["machine"]
    where = f"{machine['cpu']}, {machine['cores']} cores, {machine['threads']} torch threads"
    if "gpu" in machine:
        where += f", {machine['gpu']}"
    changed = " with uncommitted changes" if record["changed"] else ""
    return f"run on {record['date']} at commit {record['commit']}{changed}; {where}; torch {machine['torch']}"


def _results(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def section(s: Section) -> str:
    """The markdown of one section."""
    parts = [f"## {s.heading}", s.text]
    records = {name: _results(name) for name in s.results}
    if not any(records.values()):
        parts.append(f"Not measured yet: `{s.missing}`.")
    for record in filter(None, records.values()):
        parts.append(f"    {record['command']}")
        parts.append(f"*{_provenance(record)}*")
        for t in record["tables"]:
            parts += [f"**{t['title']}**", Table(**t).markdown()]
        parts += [f"- {n}" for n in record["notes"]]
    parts += [f"![{caption}]({path})\n\n*{caption}*" for path, caption in s.pictures if (OUT.parent / path).is_file()]
    return "\n\n".join(parts)


def document() -> str:
    """The whole of docs/evidence.md."""
    head = (
        "# Evidence\n\n"
        "Every table here is a benchmark's output, made by the command above it on the commit and machine "
        "below it, and laid out by `python benchmarks/evidence.py` from `benchmarks/results/*.json`; "
        "nothing here is typed by hand but the words between the tables. The benchmarks are described "
        "in `benchmarks/README.md`. On a shared machine wall seconds swing with its load, so the tables "
        "compare times within one process (ratios) or in CPU seconds."
    )
    return "\n\n".join([head, *(section(s) for s in SECTIONS)]) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only check that docs/evidence.md is up to date")
    args = p.parse_args(argv)
    text = document()
    if args.check:
        if not OUT.is_file() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is not what the results make: run python benchmarks/evidence.py")
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
