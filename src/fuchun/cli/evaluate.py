"""``fuchun eval``: measure a picture against its photo and/or its painting (:mod:`fuchun.quality`)."""

from __future__ import annotations

import argparse
import json

from fuchun.cli.interrupts import Interrupts
from fuchun.cli.options import checked
from fuchun.config.options import BACKBONE_NAMES, DEVICES, Config
from fuchun.config.parse import side
from fuchun.quality.measures import evaluate, format_table, read_images
from fuchun.report.base import Reporter
from fuchun.run.engine import load_network
from fuchun.run.machine import pick_machine


def add_parsers(sub) -> None:
    text = "measure a picture against its content and/or style image (see fuchun.quality)"
    e = sub.add_parser("eval", help=text, description=text)
    e.add_argument("output", help="the picture to measure")
    e.add_argument("--content", help="its content image (resized to the picture)")
    e.add_argument("--style", help="its style image (resized to the picture's longest side)")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument("--size", type=checked(side, "size"), help="resize the picture to this longest side first")
    e.add_argument("--backbone", choices=BACKBONE_NAMES, default=Config.backbone, help="pretrained network")
    e.add_argument("--device", choices=DEVICES, default=Config.device, help="device")


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Print the measures of a picture against its content and/or style image (table or JSON)."""
    if ns.content is None and ns.style is None:
        raise ValueError("eval needs --content, --style or both")
    images = read_images(ns.output, content=ns.content, style=ns.style, size=ns.size)  # fail fast, before the network
    cfg = Config(backbone=ns.backbone, device=ns.device, precision="fp32").resolved()
    net, _ = load_network(cfg, pick_machine(cfg.device, cfg.precision), Reporter())
    result = evaluate(net, **images)
    print(json.dumps(result, indent=2) if ns.json else format_table(result))
    return 0
