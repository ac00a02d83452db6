"""The command line's options, made from the config: one flag per :class:`Config` field.

Defaults stay in :class:`fuchun.config.options.Config` (argparse's default is a sentinel), so
:func:`config_options` hands on only the options the user gave, over a ``--config`` file's.
"""

from __future__ import annotations

import argparse
import dataclasses

from fuchun.config import parse
from fuchun.config.files import load_options, run_settings
from fuchun.config.options import MODE_DEFAULTS, Config, TermOptions, mode_defaults
from fuchun.config.presets import PRESET_KEYS

NO_DEFAULT = object()
CONFIG_GROUPS = ("run", "optimise", "loss", "machine", "report")  # the help's order of Config's option groups
LISTS = {"shifts": "LAYER=D,..", "masks": "MASK"}  # options that take several words


def checked(parse_fn, name: str):
    """``parse_fn`` as an argparse type: its ValueError becomes argparse's 'invalid value' with our text."""
    if parse_fn is None:
        return str

    def convert(text: str):
        try:
            return parse_fn(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = name
    return convert


def blend_weights(text: str) -> list[float]:
    """'3,1,1' -> [3.0, 1.0, 1.0] (normalised later); each >= 0, sum > 0."""
    values = list(parse.floats(text))
    if sum(values) <= 0:
        raise ValueError("style blend weights need a positive sum")
    return values


def add_style_blend(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--style-blend",
        type=checked(blend_weights, "style_blend"),
        help="blend weights of several style images, e.g. 3,1,1",
    )


def add_config_options(parser: argparse.ArgumentParser, mode: str | None = None) -> None:
    """One flag per Config field, in groups; the loss terms' own options after the preset and the dial.

    The help shows the default of ``mode`` under the default preset (Config's, with the mode's
    own and the preset's schedule, :func:`fuchun.config.options.mode_defaults`).
    """
    groups = {name: parser.add_argument_group(f"{name} options") for name in CONFIG_GROUPS}
    defaults = mode_defaults(mode, Config().preset) if mode in MODE_DEFAULTS else {}
    terms = {f.name for f in dataclasses.fields(TermOptions)}
    for f in sorted(dataclasses.fields(Config), key=lambda f: f.name in terms):
        meta, group = f.metadata, groups[f.metadata["group"]]
        flag = meta["flag"] or "--" + f.name.replace("_", "-")
        default = defaults.get(f.name, f.default if f.default is not dataclasses.MISSING else None)
        shown = default if default is not None else "from --preset" if f.name in PRESET_KEYS else None
        help_text = meta["help"] if shown is None else f"{meta['help']} (default: {shown})"
        if f.type in ("bool", bool):
            group.add_argument(flag, dest=f.name, action="store_true", default=NO_DEFAULT, help=meta["help"])
        elif f.name in LISTS:
            group.add_argument(
                flag, dest=f.name, nargs="+", default=NO_DEFAULT, type=str, metavar=LISTS[f.name], help=help_text
            )
        else:
            group.add_argument(
                flag,
                dest=f.name,
                default=NO_DEFAULT,
                type=checked(meta["parse"], f.name),
                choices=meta["choices"],
                metavar="DIR" if f.name == "trace" else None,
                help=help_text,
            )


def config_options(ns: argparse.Namespace) -> dict:
    """The Config fields the user gave on the command line, over those of ``--config FILE``."""
    names = {f.name for f in dataclasses.fields(Config)}
    out = {k: v for k, v in vars(ns).items() if k in names and v is not NO_DEFAULT}
    if "shifts" in out:
        out["shifts"] = parse.shifts(out["shifts"])
    if getattr(ns, "config", None):
        out = {**load_options(ns.config), **out}
        for key, value in run_settings(ns.config).items():  # a trace's --bit-depth, --style-blend
            if getattr(ns, key, 0) is None:
                setattr(ns, key, value)
    if getattr(ns, "bit_depth", 0) is None:
        ns.bit_depth = 8
    return out
