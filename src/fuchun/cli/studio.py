"""``fuchun studio``: start the browser app, print its address, serve until Ctrl-C."""

from __future__ import annotations

import argparse
import importlib.util

from fuchun.cli.interrupts import Interrupts
from fuchun.errors import UsageError

HELP = "open the studio: a local web page to paint with fuchun (needs: pip install 'fuchun[studio]')"


def add_parsers(sub) -> None:
    s = sub.add_parser("studio", help=HELP, description=HELP)
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    s.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    s.add_argument("--auth", metavar="USER:PASS", help="ask visitors for this user name and password")


def command(ns: argparse.Namespace, interrupts: Interrupts) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise UsageError('the studio needs its extra: pip install "fuchun[studio]"')
    from fuchun.studio.server import parse_auth, serve  # gradio: loaded only for the studio

    server = serve(host=ns.host, port=ns.port, auth=parse_auth(ns.auth))
    print(f"fuchun studio: {server.url}", flush=True)
    server.wait()
    return 0
