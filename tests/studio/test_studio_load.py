"""Many visitors at once: 20 clients each submit a tiny job to one real studio server.

Each client is Gradio's own Python client on localhost (its own session, its own ticket).
While they render, a plain HTTP status request is timed; the server's memory is sampled.
All jobs must finish (one render at a time, the rest waiting their turn), the status must
answer within a second, the server must not crash or print a traceback, and its memory
must stay bounded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("gradio", reason="the studio extra: pip install 'fuchun[studio]'")
from gradio_client import Client, handle_file  # noqa: E402
from studio_support import studio_server  # noqa: E402

from fuchun.studio.settings import Settings  # noqa: E402
from helpers import EXAMPLES_DIR  # noqa: E402

pytestmark = pytest.mark.weights
CLIENTS = 20
JOB_SECONDS = 900  # every client gives up after this: the test is bounded in time


def status(url: str) -> tuple[dict, float]:
    """The studio's board over plain HTTP, and how long it took to answer."""
    t0 = time.perf_counter()
    request = urllib.request.Request(
        url + "gradio_api/run/status", data=b'{"data": []}', headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.loads(response.read())
    return body["data"][0], time.perf_counter() - t0


def one_job(url: str, index: int) -> dict:
    """A visitor: get a ticket, submit a tiny render, wait for its result; what it saw."""
    client = Client(url, verbose=False)
    client.predict(api_name="/ticket")
    settings = Settings(size=64, steps=3, seed=index)
    job = client.submit(
        handle_file(str(EXAMPLES_DIR / "tubingen.jpg")),
        [handle_file(str(EXAMPLES_DIR / "starry-night.jpg"))],
        None,
        None,
        *settings.values(),
        api_name="/render",
    )
    ranks = []
    deadline = time.monotonic() + JOB_SECONDS
    while not job.done() and time.monotonic() < deadline:
        rank = job.status().rank
        if rank is not None:
            ranks.append(rank)
        time.sleep(0.5)
    outputs = job.result(timeout=max(1.0, deadline - time.monotonic()))
    return {"notice": outputs[3], "files": outputs[4], "ranks": ranks}


def test_twenty_clients_share_one_device():
    with studio_server() as server:
        url = server.url
        answers, rss, stop = [], [], threading.Event()

        def watch() -> None:
            while not stop.is_set():
                board, seconds = status(url)
                answers.append((board, seconds))
                rss.append(server.rss_mib())
                time.sleep(0.25)

        watcher = threading.Thread(target=watch, daemon=True)
        t0 = time.perf_counter()
        watcher.start()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = list(pool.map(lambda i: one_job(url, i), range(CLIENTS)))
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join(10)
        final, _ = status(url)
        log = server.log

    done = [r for r in results if str(r["notice"]).startswith("done")]
    busy = [s for b, s in answers if b["rendering"]]
    print(
        f"\nstudio load: {len(done)}/{CLIENTS} jobs done in {wall:.1f} s; {len(answers)} status requests, "
        f"{len(busy)} while rendering, longest {max(busy, default=0):.3f} s; most renders at once "
        f"{final['most_at_once']}; most waiting {max(b['waiting'] for b, _ in answers)}; "
        f"highest queue position seen {max(max(r['ranks'], default=0) for r in results)}; "
        f"server memory {min(rss):.0f}-{max(rss):.0f} MiB"
    )
    assert len(done) == CLIENTS, [r["notice"] for r in results]
    assert all(len(r["files"]) == 4 for r in done)
    assert final["finished"] == CLIENTS and final["rendering"] == 0
    assert final["most_at_once"] == 1, "two renders ran at once on one device"
    assert max(b["waiting"] for b, _ in answers) > 0, "no job ever waited: the queue was not exercised"
    assert busy and max(busy) < 1.0, f"a status request took {max(busy):.2f} s while rendering"
    half = len(rss) // 2  # the first jobs load the network; after that memory must not keep growing
    assert max(rss[half:]) < max(rss[:half]) + 256, f"server memory grew: {max(rss[:half]):.0f} -> {max(rss):.0f} MiB"
    assert "Traceback" not in log, log[log.find("Traceback") - 2000 :][:6000]
