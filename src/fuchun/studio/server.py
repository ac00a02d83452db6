"""Starting the studio's web server: localhost by default, offline, nothing served but its own files.

Gradio serves a file only from its upload folder, its cache and ``allowed_paths`` (none
here), and never from ``blocked_paths``; the studio also blocks fuchun's weights cache,
the user's home and the installed package outright. Uploads go to a folder of this server's
own (GRADIO_TEMP_DIR under the work folder), removed when it stops. Analytics are off, and
the page's fonts are Gradio's bundled ones, so it needs no internet.
"""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

from fuchun.errors import UsageError
from fuchun.studio.limits import Limits
from fuchun.weights.sources import cache_dir

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def parse_auth(text: str | None) -> tuple[str, str] | None:
    """'USER:PASS' -> ("USER", "PASS"); UsageError on anything else."""
    if text is None:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise UsageError("--auth must be USER:PASS")
    return user, password


@dataclass
class Server:
    """A running studio: its URL and how to stop it."""

    url: str
    blocks: object
    studio: object

    def close(self) -> None:
        self.blocks.close()
        self.studio.close()

    def wait(self) -> None:
        """Serve until interrupted (Ctrl-C), then stop."""
        try:
            self.blocks.block_thread()
        finally:
            self.close()


def blocked_paths(workdir: pathlib.Path) -> list[str]:
    """Folders never served: home, fuchun's cache, the package, the cwd (those holding ``workdir`` aside)."""
    paths = [pathlib.Path.home(), cache_dir(), pathlib.Path(__file__).parents[1], pathlib.Path.cwd()]
    work = workdir.resolve()
    return [str(p.resolve()) for p in paths if not work.is_relative_to(p.resolve())]


def serve(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    auth: tuple[str, str] | None = None,
    limits: Limits | None = None,
) -> Server:
    """Start the studio in the background; :meth:`Server.wait` serves until interrupted."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported: import it after
    from fuchun.studio.service import Studio

    studio = Studio(limits)
    os.environ["GRADIO_TEMP_DIR"] = str(studio.workdir / "gradio")  # likewise
    from fuchun.studio.app import build_app
    from fuchun.studio.layout import CSS

    blocks = build_app(studio)
    blocks.queue(max_size=studio.limits.queue, default_concurrency_limit=1)
    try:
        _app, url, _share = blocks.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            prevent_thread_lock=True,
            quiet=True,
            share=False,
            inbrowser=False,
            show_error=False,
            allowed_paths=[],
            blocked_paths=blocked_paths(studio.workdir),
            max_file_size=studio.limits.upload_bytes,
            enable_monitoring=False,
            ssr_mode=False,
            pwa=False,
            mcp_server=False,
            footer_links=[],
            css=CSS,
        )
    except OSError as exc:
        studio.close()
        raise UsageError(f"cannot start the studio on {host}:{port}: {exc}") from None
    return Server(url, blocks, studio)
