"""``fuchun batch --ray`` on a real local Ray cluster (started here: 2 CPUs, loopback only), no mocks.

The cluster is ``ray start --head --block`` in its own process group, stopped when the module's
tests end. The batch's jobs spread over two Ray worker processes; one of them is killed
(SIGKILL) while it runs a job, and Ray runs that job again; the outputs equal those of the
same batch run by ``--workers 2`` on this machine, and a rerun skips them all.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import SRC, TINY_FLAGS, free_port

RAY = Path(sys.executable).with_name("ray")
START_TIMEOUT = 240  # s: a loaded machine starts Ray slowly
STOP_TIMEOUT = 60  # s: Ray drains up to 30 s on SIGTERM
TASK_TITLE = b"ray::fuchun-job"  # the process title of a Ray worker running a batch job
TINY = [*TINY_FLAGS, "--steps", "30", "--device", "cpu", "--precision", "fp32"]  # the last --steps wins
pytestmark = pytest.mark.weights


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "OMP_NUM_THREADS": "1",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # Ray's switch for binding to the loopback address only
        "RAY_AUTH_MODE": "disabled",  # a throw-away cluster on the loopback address
        "RAY_USAGE_STATS_ENABLED": "0",
    }


@pytest.fixture(scope="module")
def ray_cluster():
    """The address of a fresh two-CPU Ray cluster on 127.0.0.1; stopped afterwards."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="fr-")  # short: Ray's socket paths must fit in 107 bytes
    log = open(os.path.join(temp, "start.log"), "w+b")  # noqa: SIM115 - closed in the finaliser
    argv = [str(RAY), "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    argv += ["--num-cpus", "2", "--num-gpus", "0", "--include-dashboard=false", "--disable-usage-stats"]
    argv += ["--object-store-memory", str(100 * 2**20), "--temp-dir", temp]
    proc = subprocess.Popen(argv, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while b"Ray runtime started" not in Path(log.name).read_bytes():
            assert proc.poll() is None, Path(log.name).read_text(errors="replace")
            assert time.monotonic() < deadline, "the Ray cluster did not start in time"
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the cluster's process group, then SIGKILL to what is left of it."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _task_workers() -> list[int]:
    """Pids of the processes whose title says they run a batch job."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(TASK_TITLE):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _killer(stop: threading.Event, killed: list[int]) -> None:
    """Kill the first Ray worker found running a job, once, after it has worked a moment."""
    while not stop.is_set():
        pids = _task_workers()
        if pids:
            time.sleep(0.5)  # inside the job, not at its start
            if pids[0] not in _task_workers():  # its job ended meanwhile: wait for the next one
                continue
            try:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            except ProcessLookupError:
                continue
            return
        time.sleep(0.05)


@pytest.fixture
def jobs(tmp_path, examples_dir) -> Path:
    """A job file: four photos x one painting and one broken job (its content is not a picture)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    source = Image.open(examples_dir / "tubingen.jpg").convert("RGB")
    lines = []
    for k in range(4):
        source.crop((k * 40, k * 20, k * 40 + 300, k * 20 + 220)).save(photos / f"p{k}.png")
        lines.append(f"photos/p{k}.png,{examples_dir / 'starry-night.jpg'},OUT/p{k}.png")
    (photos / "broken.png").write_text("no picture here")
    lines.append(f"photos/broken.png,{examples_dir / 'starry-night.jpg'},OUT/broken.png")
    (tmp_path / "jobs.csv").write_text("content,style,output\n" + "\n".join(lines) + "\n")
    return tmp_path / "jobs.csv"


def _batch(jobs: Path, out: str, *extra: str) -> subprocess.CompletedProcess:
    text = jobs.read_text().replace("OUT/", f"{out}/")
    path = jobs.with_name(f"jobs-{out}.csv")
    path.write_text(text)
    argv = [sys.executable, "-m", "fuchun.cli", "batch", str(path), *TINY, *extra]
    return subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=900)


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_ray_batch_retries_a_killed_worker_and_matches_the_local_run(ray_cluster, jobs, real_weights):
    local = _batch(jobs, "local", "--workers", "2")
    assert local.returncode == 1, local.stderr
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_killer, args=(stop, killed), daemon=True)
    killer.start()
    try:
        remote = _batch(jobs, "ray", "--ray", ray_cluster)
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen running a job"
    assert remote.returncode == 1, remote.stderr
    lines = remote.stderr.splitlines()
    assert lines[-1].startswith("fuchun: batch: 4 done, 0 skipped, 1 failed in ") and "on a Ray cluster" in lines[-1]
    assert any("broken.png: cannot read image" in line for line in lines), remote.stderr
    workers = {line.rsplit("(", 1)[1].rstrip(")") for line in lines if "] done " in line}
    assert len(workers) >= 2, remote.stderr
    assert str(killed[0]) not in {w.rsplit(":", 1)[1] for w in workers}  # its job was finished by another
    ray_out, local_out = _pixels(jobs.parent / "ray"), _pixels(jobs.parent / "local")
    assert list(ray_out) == ["p0.png", "p1.png", "p2.png", "p3.png"] == list(local_out)
    for name in ray_out:
        assert np.array_equal(ray_out[name], local_out[name]), name
    again = _batch(jobs, "ray", "--ray", ray_cluster)
    assert again.stderr.splitlines()[-1].startswith("fuchun: batch: 0 done, 4 skipped, 1 failed in "), again.stderr
