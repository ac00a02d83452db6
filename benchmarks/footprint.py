"""What the libraries fuchun uses instead of hand-made parts cost: install size and import time.

Install size is the sum of each distribution's installed files (its RECORD), in this
environment. Import time is the CPU time (user + sys, steady under a loaded machine) that
importing the library adds to a fresh interpreter that has already imported numpy, Pillow
and torch, the minimum over ``--repeats`` runs. The last line is the CPU time that
``import fuchun`` (with its command-line and trace modules) takes in the same way.

    .venv/bin/python benchmarks/footprint.py --repeats 5
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys

from common import Results, command_line

SWAPS = {  # what replaced a hand-made part -> (its distributions, the import a run does)
    "loss plot: matplotlib": (
        (
            "matplotlib",
            "contourpy",
            "cycler",
            "fonttools",
            "kiwisolver",
            "pyparsing",
            "python-dateutil",
            "tzdata",
            "packaging",
        ),
        "import matplotlib.figure, matplotlib.backends.backend_agg",
    ),
    "16-bit TIFF and PNG: tifffile + imagecodecs": (("tifffile", "imagecodecs"), "import tifffile, imagecodecs"),
    "cache folder: platformdirs": (("platformdirs",), "import platformdirs"),
}
FOR_SCALE = ("torch", "numpy", "pillow")
PROBE = """
import resource, numpy, PIL.Image, torch
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start = cpu()
{statement}
print(cpu() - start)
"""


def installed_mb(name: str) -> float:
    """Megabytes of the installed files of distribution ``name`` (0 if it is not installed)."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return 0.0
    paths = (dist.locate_file(f) for f in dist.files or [])
    return sum(os.path.getsize(p) for p in paths if os.path.isfile(p)) / 1e6


def import_ms(statement: str, repeats: int) -> float:
    """Least CPU milliseconds ``statement`` takes in a fresh interpreter (numpy, Pillow, torch loaded)."""
    runs = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", PROBE.format(statement=statement)], capture_output=True, text=True, check=True
        )
        runs.append(float(done.stdout) * 1000)
    return min(runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5, help="fresh interpreters per import measurement")
    args = p.parse_args()
    record = Results("footprint", command_line("footprint.py"))
    print(record.command)
    rows = []
    for label, (dists, statement) in SWAPS.items():
        sizes = {d: installed_mb(d) for d in dists}
        parts = ", ".join(f"{d} {mb:.1f}" for d, mb in sizes.items()) if len(dists) > 1 else ""
        rows.append([label, f"{sum(sizes.values()):.1f}", parts, f"{import_ms(statement, args.repeats):.0f}"])
    fuchun_ms = import_ms("import fuchun, fuchun.cli.parser, fuchun.report.trace", args.repeats)
    rows.append(["fuchun itself (its command line and trace modules)", "", "", f"{fuchun_ms:.0f}"])
    columns = ["library", "installed MB", "of which", "import CPU ms"]
    print(record.table("libraries in place of hand-made parts", columns, rows))
    print(record.note("for scale: " + ", ".join(f"{d} {installed_mb(d):.0f} MB" for d in FOR_SCALE)))
    record.save()
    print(f"import fuchun (CLI and trace modules, matplotlib not among them): {fuchun_ms:.0f} ms")


if __name__ == "__main__":
    main()
