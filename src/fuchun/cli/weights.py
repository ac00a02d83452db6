"""``fuchun weights``: what is cached; fetch backbones; check the cached files against their pins."""

from __future__ import annotations

import argparse
import sys

from fuchun.cli.interrupts import Interrupts
from fuchun.errors import WeightsError
from fuchun.net.backbones import BACKBONES, backbone_spec
from fuchun.weights.sources import cached_status, fetch_weights
from fuchun.weights.verify import check_converted


def add_parsers(sub) -> None:
    w = sub.add_parser("weights", help="show cached weights; fetch them")
    w.add_argument("--fetch", nargs="*", metavar="BACKBONE", help="fetch these backbones (default: vgg16)")
    w.add_argument(
        "--force", action="store_true", help="with --fetch: convert (or download) again, repairing the cache"
    )
    w.add_argument("--verify", action="store_true", help="hash every cached file and check it against its pin")


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Fetch the requested backbones, then list what is cached (or, with --verify, check it)."""
    if ns.fetch is not None:
        for name in ns.fetch or ["vgg16"]:
            backbone_spec(name)  # an unknown name fails before anything is fetched
            fetch_weights(name, progress=lambda m: print(m, file=sys.stderr), force=ns.force)
    if ns.verify:
        return _verify()
    for name, path, present, size in cached_status():
        state = f"{size / 1e6:.0f} MB" if present else "not cached"
        print(f"{name:18} {state:>11}  {path}  ({BACKBONES[name].description})")
    return 0


def _verify() -> int:
    """Hash every cached backbone file; 1 if any does not match its pin."""
    status = 0
    for name, path, present, _ in cached_status():
        if not present:
            print(f"{name:18} not cached")
            continue
        try:
            print(f"{name:18} ok, SHA-256 {check_converted(name, path, fresh=True)}  {path}")
        except WeightsError as exc:
            print(f"fuchun: error: {exc}", file=sys.stderr)
            status = 1
    return status
