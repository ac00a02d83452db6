"""What each sub-command does once its arguments are parsed (the CLI's workers)."""

from __future__ import annotations

import argparse
import pathlib
import re
import signal
import sys

from fuchun.api import picture_options, render
from fuchun.cli.resume import CheckpointWriter, absolute_inputs, resume_namespace
from fuchun.errors import NonFiniteLoss, Stopped, UsageError
from fuchun.io.write import write_image
from fuchun.net.backbones import BACKBONES
from fuchun.report.bar import BarReporter
from fuchun.report.base import MultiReporter
from fuchun.weights.sources import cached_status, fetch_weights

# name -> (help, positionals: (name, nargs, help))
RUN_COMMANDS = {
    "stylize": (
        "repaint a photo in the style of one or more paintings",
        [("content", None, "the photo"), ("style", "+", "style image(s)")],
    ),
    "texture": ("synthesise a texture from a style image, starting from noise", [("style", "+", "style image(s)")]),
    "reconstruct": ("rebuild a photo from noise with the content loss alone", [("content", None, "the photo")]),
}


def blend_weights(text: str) -> list[float]:
    """'3,1,1' -> [3.0, 1.0, 1.0] (normalised later); each >= 0, sum > 0."""
    from fuchun.config.parse import floats

    values = list(floats(text))
    if sum(values) <= 0:
        raise ValueError("style blend weights need a positive sum")
    return values


def run_command(ns: argparse.Namespace, options: dict, *, interrupts=None, resume=None) -> int:
    """Run stylize / texture / reconstruct and write the picture (``resume``: go on from a RunState).

    ``interrupts`` (:class:`fuchun.cli.interrupts.Interrupts`) asks the run to stop on a signal;
    a stopped run writes its picture and a checkpoint and exits with 128 + the signal's number.
    """
    options = absolute_inputs(options)
    output = pathlib.Path(ns.output)
    inputs = [p for p in [getattr(ns, "content", None), *(getattr(ns, "style", None) or [])] if p]
    if "init" in options and pathlib.Path(options["init"]).exists():
        inputs.append(options["init"])
    inputs.extend(options.get("masks") or ())
    _check_output(output, inputs, ns.bit_depth)
    blend = getattr(ns, "style_blend", None)
    if blend is not None and len(blend) != len(ns.style):
        raise ValueError(f"--style-blend has {len(blend)} weights for {len(ns.style)} style images")
    reporter = BarReporter(quiet=options.get("quiet", False), snapshot=_snapshot_writer(output, inputs, options))
    trace = _trace_reporter(ns, options, blend)
    writer = CheckpointWriter(ns, inputs)
    try:
        image = render(
            ns.command,
            content=getattr(ns, "content", None),
            style=getattr(ns, "style", None),
            style_blend=blend,
            reporter=MultiReporter(*(r for r in (reporter, trace, interrupts, writer) if r is not None)),
            resume=resume,
            **picture_options(options),
        )
    except Stopped as stop:
        reporter.close()
        writer.stopped(stop)
        _trace_failed(trace, reporter, stop)
        return 128 + (interrupts.signum if interrupts is not None and interrupts.signum else signal.SIGINT)
    except NonFiniteLoss as exc:
        write_image(exc.image[0].float().cpu(), output, bit_depth=ns.bit_depth, protect=inputs)
        _trace_failed(trace, reporter, exc)
        raise
    except BaseException as exc:
        _trace_failed(trace, reporter, exc)
        raise
    finally:
        reporter.close()
    write_image(image, output, bit_depth=ns.bit_depth, protect=inputs)
    writer.finished()
    if trace is not None:
        trace.finish(image=image)
    reporter.done(output)
    return 0


def resume_command(ns: argparse.Namespace, *, interrupts=None) -> int:
    """Finish the run a checkpoint stopped, with its options, inputs and output."""
    run_ns, options, state = resume_namespace(ns.checkpoint)
    if not options.get("quiet"):
        print(
            f"fuchun: resuming {ns.checkpoint} at step {state.step} of {state.steps} "
            f"(scale {state.scale + 1} of {len(state.sizes)}), writing {run_ns.output}",
            file=sys.stderr,
        )
    return run_command(run_ns, options, interrupts=interrupts, resume=state)


def _check_output(output: pathlib.Path, inputs: list, bit_depth: int) -> None:
    """Fail before the run, not after it, on an output we could not write."""
    from fuchun.io.write import check_writable

    check_writable(output, bit_depth=bit_depth, protect=inputs)


def _trace_reporter(ns: argparse.Namespace, options: dict, blend):
    """The reporter behind ``--trace DIR`` (None without it); checks DIR before the run."""
    if not options.get("trace"):
        return None
    from fuchun.api import make_config
    from fuchun.config.options import INITS
    from fuchun.report.trace import TraceReporter

    inputs = {"content": getattr(ns, "content", None), "style": getattr(ns, "style", None)}
    if options.get("init") and options["init"] not in INITS:
        inputs["init"] = options["init"]
    extra = {"bit_depth": ns.bit_depth, "style_blend": blend, "config_file": getattr(ns, "config", None)}
    return TraceReporter(
        options["trace"],
        mode=ns.command,
        config=make_config(ns.command, **options),
        inputs=inputs,
        output=ns.output,
        extra=extra,
    )


def _trace_failed(trace, reporter, exc: BaseException) -> None:
    """Write the trace of a failed run without hiding the failure itself."""
    if trace is None:
        return
    image = getattr(exc, "image", None)  # (1, 3, H, W) of NonFiniteLoss, (3, H, W) of Stopped
    try:
        trace.finish(image=None if image is None else image.reshape(-1, *image.shape[-2:]), error=exc)
    except Exception as err:  # noqa: BLE001 - the run's own error matters more
        reporter.warning(f"the trace was not written: {err}")


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

    from fuchun.config.options import Config
    from fuchun.quality.measures import quality
    from fuchun.quality.metrics import evaluate, format_table, read_images
    from fuchun.report.base import Reporter
    from fuchun.run import engine
    from fuchun.run.machine import pick_machine

    if ns.content is None and ns.style is None:
        raise ValueError("eval needs --content, --style or both")
    images = read_images(ns.output, content=ns.content, style=ns.style, size=ns.size)  # fail fast, before the network
    cfg = Config(backbone=ns.backbone, device=ns.device, precision="fp32").resolved()
    net, _ = engine.load_network(cfg, pick_machine(cfg.device, cfg.precision), Reporter())
    result = {**evaluate(net, **images), **quality(net, **images)}
    print(json.dumps(result, indent=2) if ns.json else format_table(result))
    return 0


def weights_command(ns: argparse.Namespace) -> int:
    """Fetch the requested backbones, then list what is cached."""
    if ns.fetch is not None:
        for name in ns.fetch or ["vgg16"]:
            if name not in BACKBONES:
                raise ValueError(f"unknown backbone {name!r}; valid: {', '.join(BACKBONES)}")
            fetch_weights(name, progress=lambda m: print(m, file=sys.stderr), force=ns.force)
    if ns.verify:
        return _verify_weights()
    for name, path, present, size in cached_status():
        state = f"{size / 1e6:.0f} MB" if present else "not cached"
        print(f"{name:18} {state:>11}  {path}  ({BACKBONES[name].description})")
    return 0


def _keep_directory(name: str) -> pathlib.Path:
    """The ``--keep`` directory, created if missing; UsageError if it cannot be one."""
    from fuchun.io.paths import make_directory

    keep = pathlib.Path(name)
    return make_directory(
        keep,
        error=UsageError,
        is_file=f"--keep '{keep}' is a file, not a directory; name a directory for the pictures",
        cannot=f"--keep: cannot create directory '{keep}'",
    )


def _verify_weights() -> int:
    """Hash every cached backbone file; 1 if any does not match its pin."""
    from fuchun.errors import WeightsError
    from fuchun.weights.verify import check_converted

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


def article_command(ns: argparse.Namespace, options: dict) -> int:
    """Render the article's sequence and write its contact sheet (and, with --keep, each picture)."""
    from fuchun.cli.article import STEPS, article_sheet
    from fuchun.io.read import read_image
    from fuchun.io.write import check_writable
    from fuchun.report.bar import BarReporter

    output, inputs = pathlib.Path(ns.output), [ns.content, ns.style]
    if options.get("trace") or options.get("save_every"):
        raise UsageError("article takes neither --trace nor --save-every: it renders six pictures; use --keep DIR")
    check_writable(output, protect=inputs)
    keep = _keep_directory(ns.keep) if ns.keep else None
    quiet = options.get("quiet", False)
    content, style = read_image(ns.content), read_image(ns.style)

    def reporter_for(caption: str) -> BarReporter:
        return BarReporter(quiet=quiet)

    sheet, pictures = article_sheet(content, style, reporter_for=reporter_for, **picture_options(options))
    if keep is not None:
        for i, (picture, (caption, _, _)) in enumerate(zip(pictures, STEPS, strict=True), start=1):
            name = re.sub(r"[^a-z0-9]+", "-", caption.lower()).strip("-")
            write_image(picture, keep / f"{i}-{name[:40]}.png", protect=inputs)
    write_image(read_image(sheet), output, protect=inputs)
    if not quiet:
        print(f"fuchun: wrote {output}", file=sys.stderr)
    return 0


def studio_command(ns: argparse.Namespace) -> int:
    """Start the studio, print its URL, serve until Ctrl-C."""
    import importlib.util

    from fuchun.errors import UsageError

    if importlib.util.find_spec("gradio") is None:  # the optional extra (not imported here: serve() sets it up)
        raise UsageError('the studio needs its extra: pip install "fuchun[studio]"')
    from fuchun.studio.server import parse_auth, serve

    server = serve(host=ns.host, port=ns.port, auth=parse_auth(ns.auth))
    print(f"fuchun studio: {server.url}", flush=True)
    server.wait()
    return 0
