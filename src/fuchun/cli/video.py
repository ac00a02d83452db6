"""``fuchun video IN STYLE... -o OUT``: the command line of :mod:`fuchun.video`.

Every option of ``stylize`` applies to each frame; the video's own options come from
:class:`fuchun.config.options.VideoConfig`. One line per frame says how long it took and
about how long the rest will take. A signal stops the frame in progress: the finished
frames stay in the frame folder and the same command goes on from the next one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys

from fuchun.api import picture_options
from fuchun.cli.interrupts import Interrupts
from fuchun.cli.options import add_config_options, add_style_blend, checked, config_options
from fuchun.config.options import VideoConfig
from fuchun.errors import Stopped, UsageError
from fuchun.report.bar import BarReporter
from fuchun.report.base import MultiReporter

HELP = "stylise a video without flicker: each frame from the previous one warped by optical flow (needs fuchun[video])"


def add_parsers(sub) -> None:
    v = sub.add_parser("video", help=HELP, description=HELP)
    v.add_argument("input", help="the video (any container FFmpeg reads)")
    v.add_argument("style", nargs="+", help="style image(s)")
    v.add_argument("-o", "--output", required=True, help="output video (.mp4, .mkv, .mov, .webm, .avi)")
    v.add_argument("--config", metavar="FILE", help="read options from a TOML file (flags given here win)")
    add_style_blend(v)
    add_video_options(v)
    add_config_options(v, "stylize")


def add_video_options(parser: argparse.ArgumentParser) -> None:
    """One flag per :class:`VideoConfig` field (``checked`` wraps a value parser for argparse)."""
    group = parser.add_argument_group("video options")
    for f in dataclasses.fields(VideoConfig):
        meta, flag = f.metadata, "--" + f.name.replace("_", "-")
        text = meta["help"] if f.default is None else f"{meta['help']} (default: {f.default})"
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action="store_true", help=meta["help"])
        else:
            kind = checked(meta["parse"], f.name)
            group.add_argument(flag, dest=f.name, default=f.default, type=kind, choices=meta["choices"], help=text)


def video_settings(ns: argparse.Namespace) -> VideoConfig:
    """The video's own settings from the parsed command line."""
    return VideoConfig(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(VideoConfig)})


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    """Stylise ``ns.input`` into ``ns.output``, one progress line per frame."""
    try:  # PyAV and OpenCV: the video extra, loaded only for a video
        from fuchun.video.stylise import default_cache, stylise_video
    except ImportError as exc:
        raise UsageError(f'video needs its extra: pip install "fuchun[video]" ({exc})') from None
    options = config_options(ns)

    if os.path.abspath(ns.output) in {os.path.abspath(p) for p in [ns.input, *ns.style]}:
        raise UsageError(f"output '{ns.output}' is one of the inputs; name a new file")
    if options.get("trace") or options.get("save_every"):
        raise UsageError("video takes neither --trace nor --save-every: its frames are kept in the frame folder")
    video = video_settings(ns)
    quiet = options.get("quiet", False)
    bar = BarReporter(quiet=True)
    reporter = MultiReporter(*(r for r in (bar, interrupts) if r is not None))

    def said(done) -> None:
        if quiet:
            return
        where = f"frame {done.number}/{done.frames} (source frame {done.source})"
        if done.cached:
            print(f"fuchun: {where} already done", file=sys.stderr, flush=True)
        else:
            left = "" if done.left is None else f", about {done.left:.0f} s left"
            print(f"fuchun: {where} in {done.seconds:.1f} s{left}", file=sys.stderr, flush=True)

    try:
        written = stylise_video(
            ns.input,
            ns.style,
            ns.output,
            options=picture_options(options),
            video=video,
            reporter=reporter,
            on_frame=said,
            blend=ns.style_blend,
        )
    except Stopped:
        folder = video.cache or default_cache(ns.output)
        print(
            f"fuchun: stopped; the finished frames are kept in {folder}: run the same command to go on",
            file=sys.stderr,
            flush=True,
        )
        return 128 + (interrupts.signum if interrupts is not None and interrupts.signum else signal.SIGINT)
    if not quiet:
        print(f"fuchun: wrote {written}", file=sys.stderr)
    return 0
