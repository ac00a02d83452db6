"""What each sub-command does once its arguments are parsed (the CLI's workers)."""

from __future__ import annotations

import argparse
import pathlib
import sys

from .api import render
from .image_io import write_image
from .optimize import NonFiniteLoss
from .progress import BarReporter
from .weights import BACKBONES, cached_status, fetch_weights

# name -> (help, positionals: (name, nargs, help))
RUN_COMMANDS = {
    "stylize": ("repaint a photo in the style of one or more paintings",
                [("content", None, "the photo"), ("style", "+", "style image(s)")]),
    "texture": ("synthesise a texture from a style image, starting from noise",
                [("style", "+", "style image(s)")]),
    "reconstruct": ("rebuild a photo from noise with the content loss alone",
                    [("content", None, "the photo")]),
}


def blend_weights(text: str) -> list[float]:
    """'3,1,1' -> [3.0, 1.0, 1.0] (normalised later); each >= 0, sum > 0."""
    from .parse import floats

    values = list(floats(text))
    if sum(values) <= 0:
        raise ValueError("style blend weights need a positive sum")
    return values


def run_command(ns: argparse.Namespace, options: dict) -> int:
    """Run stylize / texture / reconstruct and write the picture."""
    output = pathlib.Path(ns.output)
    inputs = [p for p in [getattr(ns, "content", None), *(getattr(ns, "style", None) or [])] if p]
    if "init" in options and pathlib.Path(options["init"]).exists():
        inputs.append(options["init"])
    _check_output(output, inputs, ns.bit_depth)
    blend = getattr(ns, "style_blend", None)
    if blend is not None and len(blend) != len(ns.style):
        raise ValueError(f"--style-blend has {len(blend)} weights for {len(ns.style)} style images")
    reporter = BarReporter(quiet=options.get("quiet", False), snapshot=_snapshot_writer(output, inputs, options))
    try:
        image = render(ns.command, content=getattr(ns, "content", None), style=getattr(ns, "style", None),
                       style_blend=blend, reporter=reporter, **options)
    except NonFiniteLoss as exc:
        write_image(exc.image[0].float().cpu(), output, bit_depth=ns.bit_depth, protect=inputs)
        raise
    finally:
        reporter.close()
    write_image(image, output, bit_depth=ns.bit_depth, protect=inputs)
    reporter.done(output)
    return 0


def _check_output(output: pathlib.Path, inputs: list, bit_depth: int) -> None:
    """Fail before the run, not after it, on an output we could not write."""
    from .image_io import check_writable

    check_writable(output, bit_depth=bit_depth, protect=inputs)


def _snapshot_writer(output: pathlib.Path, inputs: list, options: dict):
    every = options.get("save_every", 0)
    if not every:
        return None

    def snapshot(progress) -> None:
        if progress.step % every == 0:
            path = output.with_name(f"{output.stem}.step{progress.step:05d}{output.suffix}")
            write_image(progress.image[0].float().clamp(0, 1).cpu(), path, protect=inputs)
    return snapshot


def eval_command(ns: argparse.Namespace) -> int:
    """Print the distances of a picture to its content and/or style image (table or JSON)."""
    import json

    from . import engine
    from .config import Config
    from .machine import pick_machine
    from .metrics import evaluate, format_table, read_images
    from .report import Reporter

    if ns.content is None and ns.style is None:
        raise ValueError("eval needs --content, --style or both")
    images = read_images(ns.output, content=ns.content, style=ns.style, size=ns.size)  # fail fast, before the network
    cfg = Config(backbone=ns.backbone, device=ns.device, precision="fp32").resolved()
    net, _ = engine.load_network(cfg, pick_machine(cfg.device, cfg.precision), Reporter())
    result = evaluate(net, **images)
    print(json.dumps(result, indent=2) if ns.json else format_table(result))
    return 0


def weights_command(ns: argparse.Namespace) -> int:
    """Fetch the requested backbones, then list what is cached."""
    if ns.fetch is not None:
        for name in ns.fetch or ["vgg16"]:
            if name not in BACKBONES:
                raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")
            fetch_weights(name, progress=lambda m: print(m, file=sys.stderr))
    for name, path, present, size in cached_status():
        state = f"{size / 1e6:.0f} MB" if present else "not cached"
        print(f"{name:18} {state:>11}  {path}  ({BACKBONES[name].description})")
    return 0
