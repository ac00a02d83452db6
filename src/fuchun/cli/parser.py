"""The ``fuchun`` command line: argparse built from Config, and ``main(argv) -> int``.

The sub-commands and their options come from :data:`fuchun.cli.commands.RUN_COMMANDS`, the
parsers below and :class:`fuchun.config.options.Config`, so ``fuchun --help`` is the list;
this module only parses and dispatches. Any :class:`fuchun.errors.FuchunError` becomes one
``fuchun: error: ...`` line and its ``exit_status`` (2 bad input, 1 the run failed), and a
warning one ``fuchun: warning: ...`` line.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from collections.abc import Sequence

import torch

from fuchun.cli import commands
from fuchun.cli.interrupts import Interrupts
from fuchun.config.options import MODE_DEFAULTS, Config, TermOptions, mode_defaults
from fuchun.config.presets import PRESET_KEYS
from fuchun.errors import FuchunError, Interrupted, UsageError, one_line

_NO_DEFAULT = object()
CONFIG_GROUPS = ("run", "optimise", "loss", "machine", "report")  # the help's order of Config's option groups


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump, exit status 2 via main()
        raise UsageError(message)


def _add_config_options(parser: argparse.ArgumentParser, mode: str | None = None) -> None:
    """One flag per Config field; defaults stay in Config (argparse default is a sentinel).

    The help shows the default of ``mode`` under the default preset (Config's, with the mode's
    own and the preset's schedule, :func:`fuchun.config.options.mode_defaults`).
    """
    groups = {name: parser.add_argument_group(f"{name} options") for name in CONFIG_GROUPS}
    defaults = mode_defaults(mode, Config().preset) if mode in MODE_DEFAULTS else {}
    own = {f.name for f in dataclasses.fields(TermOptions)}  # the terms' options after the preset and the dial
    for f in sorted(dataclasses.fields(Config), key=lambda f: f.name in own):
        meta = f.metadata
        group = groups[meta["group"]]
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        default = defaults.get(f.name, f.default if f.default is not dataclasses.MISSING else None)
        shown = default if default is not None else "from --preset" if f.name in PRESET_KEYS else None
        help_text = meta["help"] if shown is None else f"{meta['help']} (default: {shown})"
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action="store_true", default=_NO_DEFAULT, help=meta["help"])
        elif f.name == "shifts":
            group.add_argument(
                flag, dest=f.name, nargs="+", default=_NO_DEFAULT, type=str, metavar="LAYER=D,..", help=help_text
            )
        elif f.name == "masks":
            group.add_argument(
                flag, dest=f.name, nargs="+", default=_NO_DEFAULT, type=str, metavar="MASK", help=help_text
            )
        else:
            group.add_argument(
                flag,
                dest=f.name,
                default=_NO_DEFAULT,
                type=_checked(meta["parse"], f.name),
                choices=meta["choices"],
                metavar="DIR" if f.name == "trace" else None,
                help=help_text,
            )


def _checked(parse, name: str):
    """Wrap a parser so its ValueError becomes argparse's 'invalid value' with our text."""
    if parse is None:
        return str

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def config_options(ns: argparse.Namespace) -> dict:
    """The Config fields the user actually gave on the command line."""
    names = {f.name for f in dataclasses.fields(Config)}
    out = {k: v for k, v in vars(ns).items() if k in names and v is not _NO_DEFAULT}
    if "shifts" in out:
        from fuchun.config.parse import shifts

        out["shifts"] = shifts(out["shifts"])
    if getattr(ns, "config", None):  # a file's options, overridden by the flags given
        from fuchun.config.files import load_options, run_settings

        out = {**load_options(ns.config), **out}
        for key, value in run_settings(ns.config).items():  # a trace's --bit-depth, --style-blend
            if getattr(ns, key, 0) is None:
                setattr(ns, key, value)
    if getattr(ns, "bit_depth", 0) is None:
        ns.bit_depth = 8
    return out


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with its sub-commands."""
    parser = _Parser(prog="fuchun", description="Neural style transfer by image iteration on a pretrained VGG.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (help_text, positionals) in commands.RUN_COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        for pos, nargs, pos_help in positionals:
            p.add_argument(pos, nargs=nargs, help=pos_help)
        p.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, .tif)")
        p.add_argument(
            "--bit-depth", type=int, choices=(8, 16), default=None, help="bits per channel of the output (default: 8)"
        )
        p.add_argument(
            "--config", metavar="FILE", help="read options from a TOML file or a trace.json (flags given here win)"
        )
        if name == "stylize":
            p.add_argument(
                "--style-blend",
                type=_checked(commands.blend_weights, "style_blend"),
                help="blend weights of several style images, e.g. 3,1,1",
            )
        _add_config_options(p, name)
    r = sub.add_parser("resume", help="finish a run that was stopped, from its checkpoint")
    r.add_argument("checkpoint", help="the OUTPUT.checkpoint.safetensors file a stopped run left beside its output")
    w = sub.add_parser("weights", help="show cached weights; fetch them")
    w.add_argument("--fetch", nargs="*", metavar="BACKBONE", help="fetch these backbones (default: vgg16)")
    w.add_argument(
        "--force", action="store_true", help="with --fetch: convert (or download) again, repairing the cache"
    )
    w.add_argument("--verify", action="store_true", help="hash every cached file and check it against its pin")
    _add_eval_parser(sub)
    _add_video_parser(sub)
    _add_batch_parser(sub)
    _add_article_parser(sub)
    _add_studio_parser(sub)
    return parser


def _add_video_parser(sub) -> None:
    """The ``video`` sub-command: a stylised video, frame by frame (:mod:`fuchun.cli.video`)."""
    from fuchun.cli.video import HELP, add_video_options

    v = sub.add_parser("video", help=HELP, description=HELP)
    v.add_argument("input", help="the video (any container FFmpeg reads)")
    v.add_argument("style", nargs="+", help="style image(s)")
    v.add_argument("-o", "--output", required=True, help="output video (.mp4, .mkv, .mov, .webm, .avi)")
    v.add_argument("--config", metavar="FILE", help="read options from a TOML file (flags given here win)")
    v.add_argument(
        "--style-blend",
        type=_checked(commands.blend_weights, "style_blend"),
        help="blend weights of several style images, e.g. 3,1,1",
    )
    add_video_options(v, _checked)
    _add_config_options(v, "stylize")


def _add_batch_parser(sub) -> None:
    """The ``batch`` sub-command: many pictures, the network loaded once per worker (:mod:`fuchun.cli.batch`)."""
    from fuchun.cli.batch import add_batch_parser

    add_batch_parser(sub, add_config_options=_add_config_options, checked=_checked)


def _add_studio_parser(sub) -> None:
    """The ``studio`` sub-command: the browser app (needs the studio extra)."""
    text = "open the studio: a local web page to paint with fuchun (needs: pip install 'fuchun[studio]')"
    s = sub.add_parser("studio", help=text, description=text)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    s.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    s.add_argument("--auth", metavar="USER:PASS", help="ask visitors for this user name and password")


def _add_article_parser(sub) -> None:
    """The ``article`` sub-command: the article's pictures step by step, as a contact sheet."""
    text = "render the article's sequence (content only, style only, Gram vs shifted Gram, ...) as one sheet"
    a = sub.add_parser("article", help=text, description=text)
    a.add_argument("content", help="the photo (the article used a Montreal skyline)")
    a.add_argument("style", help="the painting (the article used Dwelling in the Fuchun Mountains)")
    a.add_argument("-o", "--output", required=True, help="the contact sheet (.png, .jpg)")
    a.add_argument("--keep", metavar="DIR", help="also write every picture of the sheet into DIR")
    _add_config_options(a)


def _add_eval_parser(sub) -> None:
    """The ``eval`` sub-command: distances of a picture to its content and style images."""
    from fuchun.config.options import BACKBONE_NAMES, DEVICES
    from fuchun.config.parse import side

    text = "measure a picture against its content and/or style image (see fuchun.quality)"
    e = sub.add_parser("eval", help=text, description=text)
    e.add_argument("output", help="the picture to measure")
    e.add_argument("--content", help="its content image (resized to the picture)")
    e.add_argument("--style", help="its style image (resized to the picture's longest side)")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.add_argument("--size", type=_checked(side, "size"), help="resize the picture to this longest side first")
    e.add_argument("--backbone", choices=BACKBONE_NAMES, default=Config.backbone, help="pretrained network")
    e.add_argument("--device", choices=DEVICES, default=Config.device, help="device")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fuchun`` command; returns the exit status."""
    with warnings.catch_warnings():
        warnings.showwarning = _warn
        try:
            interrupts = Interrupts().install()
            return _dispatch(build_parser().parse_args(argv), interrupts)
        except Interrupted as exc:
            return _fail("interrupted", 128 + exc.signum)
        except FuchunError as exc:
            return _fail(str(exc), exc.exit_status)
        except ValueError as exc:  # an option value checked outside the parser
            return _fail(str(exc), 2)
        except torch.OutOfMemoryError:
            return _fail("out of memory: try a smaller --size, --precision bf16 or --device cpu", 1)
        except KeyboardInterrupt:
            return _fail("interrupted", 130)
        except OSError as exc:  # a file system failure no check above foresaw: one line, not a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            return _fail(f"{exc.strerror or exc}{where}", 1)


def _dispatch(ns: argparse.Namespace, interrupts) -> int:
    """Run the sub-command of ``ns``; returns the exit status."""
    if ns.command == "resume":
        return commands.resume_command(ns, interrupts=interrupts)
    if ns.command == "weights":
        return commands.weights_command(ns)
    if ns.command == "eval":
        return commands.eval_command(ns)
    if ns.command == "studio":
        return commands.studio_command(ns)
    if ns.command == "video":
        from fuchun.cli.video import video_command

        return video_command(ns, config_options(ns), interrupts=interrupts)
    if ns.command == "batch":
        from fuchun.cli.batch import batch_command

        return batch_command(ns, config_options(ns))
    if ns.command == "article":
        return commands.article_command(ns, config_options(ns))
    return commands.run_command(ns, config_options(ns), interrupts=interrupts)


def _warn(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001 - warnings' signature
    """Show a warning as one ``fuchun: warning: ...`` line."""
    print(f"fuchun: warning: {one_line(message)}", file=sys.stderr)


def _fail(message: str, status: int) -> int:
    print(f"fuchun: error: {one_line(message)}", file=sys.stderr)
    return status
