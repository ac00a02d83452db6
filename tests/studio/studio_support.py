"""Helpers of the studio's tests: a real ``fuchun studio`` server and the system Chromium.

The server is the command itself (``python -m fuchun.cli studio``) on 127.0.0.1 at a free
port, with the real pretrained VGG16; its output is collected so tests can check that it
never printed a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time

from helpers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class StudioProcess:
    """``fuchun studio`` in a subprocess; ``url`` once it listens, ``log`` its output so far."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if (os.cpu_count() or 1) <= 2:  # as in conftest: two threads stall each other on two shared cores
            env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuchun.cli", "studio", "--port", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.url = ""
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            match = re.match(r"fuchun studio: (http://\S+)", line)
            if match:
                self.url = match[1]
                self.ready.set()

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the studio did not start:\n{self.log}")
        return self.url

    def rss_mib(self) -> float:
        """The server's resident memory now."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return kb / 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def studio_server(*args: str):
    server = StudioProcess(*args)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
