"""Signals and resume, with real signals sent to real ``fuchun`` processes (a tiny network)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image

from fuchun.run.checkpoint import checkpoint_path, load_checkpoint
from helpers import EXAMPLES_DIR

LAUNCHER = pathlib.Path(__file__).with_name("tiny_cli.py")
STEPS = 60
PAUSE = 0.05  # seconds per forward pass: a 60-step run lasts about 3 s


def _start(tmp_path: pathlib.Path, *args: str, steps_file: str = "steps.txt", pause=PAUSE) -> subprocess.Popen:
    cmd = [sys.executable, str(LAUNCHER), str(tmp_path / steps_file), str(pause), *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env)


def _stylize_args(out: str, *extra: str) -> list[str]:
    return [
        "stylize",
        str(EXAMPLES_DIR / "tubingen.jpg"),
        str(EXAMPLES_DIR / "starry-night.jpg"),
        "-o",
        out,
        "--size",
        "96",
        "--scales",
        "64",
        "--steps",
        str(STEPS),
        "--shift",
        "relu1_1=2",
        "--device",
        "cpu",
        "--precision",
        "fp32",
        *extra,
    ]


def _wait_for(path: pathlib.Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.02)


def _steps(path: pathlib.Path) -> list[int]:
    return [int(line.split()[0]) for line in path.read_text().split("\n") if line]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_mid_run_writes_the_picture_and_a_checkpoint_and_resume_finishes(tmp_path, sig):
    proc = _start(tmp_path, *_stylize_args("out.png", "--checkpoint-every", "5", "--trace", "trace"))
    _wait_for(tmp_path / "out.png.checkpoint.safetensors", proc)  # the first periodic checkpoint: mid-run
    proc.send_signal(sig)
    err = proc.communicate(timeout=120)[1]
    lines = err.strip().splitlines()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert any(line.startswith(f"fuchun: {signal.Signals(sig).name}: stopping after this step") for line in lines)
    assert lines[-1].startswith("fuchun: stopped at step ") and "fuchun resume" in lines[-1]
    done = _steps(tmp_path / "steps.txt")
    assert done == list(range(1, len(done) + 1)) and 5 <= len(done) < STEPS
    with Image.open(tmp_path / "out.png") as picture:  # the picture so far, at the output size
        assert picture.size == (96, 72)
    assert (tmp_path / "trace" / "trace.json").is_file()  # the stopped run's trace, its last picture included
    state, record = load_checkpoint(tmp_path / "out.png.checkpoint.safetensors")
    assert state.step == len(done) and record["output"] == str(tmp_path / "out.png")

    resumed = _start(tmp_path, "resume", "out.png.checkpoint.safetensors", steps_file="resumed.txt")
    err = resumed.communicate(timeout=120)[1]
    assert resumed.returncode == 0, err
    rest = _steps(tmp_path / "resumed.txt")
    assert done + rest == list(range(1, STEPS + 1))  # every step once: as many as an uninterrupted run
    assert err.strip().splitlines()[-1].endswith(f"(steps {len(done) + 1}-{STEPS} of {STEPS}: resumed)")
    assert not (tmp_path / "out.png.checkpoint.safetensors").exists()
    with Image.open(tmp_path / "out.png") as picture:
        assert picture.size == (96, 72)


def test_a_second_signal_quits_at_once(tmp_path):
    proc = _start(tmp_path, *_stylize_args("out.png", "--checkpoint-every", "1"), pause=3.0)  # 3 s a step
    _wait_for(tmp_path / "out.png.checkpoint.safetensors", proc)
    before = (tmp_path / "out.png").read_bytes()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.5)  # two signals at once would be one: the second comes while the step goes on
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == "fuchun: error: interrupted"
    assert (tmp_path / "out.png").read_bytes() == before  # nothing more was written


def _wait_for_torch(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until ``proc`` has begun to load torch's library (a sleep would race the interpreter's own start-up)."""
    end = time.monotonic() + timeout
    maps = pathlib.Path(f"/proc/{proc.pid}/maps")
    while "libtorch" not in maps.read_text():
        assert proc.poll() is None and time.monotonic() < end, "torch was never loaded"
        time.sleep(0.005)


def test_a_signal_during_start_up_gives_one_line(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = ["-m", "fuchun.cli", *_stylize_args("out.png")]
    proc = subprocess.Popen([sys.executable, *args], cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for_torch(proc)  # fuchun's handlers are in place before torch loads
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["fuchun: error: interrupted"]
    assert not (tmp_path / "out.png").exists()


def test_resume_refuses_what_is_not_a_checkpoint(tmp_path, capsys):
    from fuchun.cli.parser import main

    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    assert main(["resume", str(tmp_path / "junk.safetensors")]) == 2
    assert main(["resume", str(tmp_path / "missing.safetensors")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("fuchun: error: ") for line in lines)
    assert "is not a fuchun checkpoint" in lines[0] and "does not exist" in lines[1]


def test_the_checkpoint_name_stays_within_name_max(tmp_path):
    long = tmp_path / ("n" * 251 + ".png")
    assert len(checkpoint_path(long).name.encode()) <= 255
    assert checkpoint_path(tmp_path / "out.png").name == "out.png.checkpoint.safetensors"


def test_a_resumed_adam_run_matches_the_uninterrupted_one(tiny_net, tiny_options, tmp_path):
    # the schedule, Adam's moments and the picture go through a checkpoint file and on
    from fuchun.api import render
    from fuchun.errors import Stopped
    from fuchun.report.base import Reporter
    from fuchun.run.checkpoint import save_checkpoint

    class StopAt(Reporter):
        def __init__(self, n):
            self.n, self.seen = n, []

        def step(self, progress):
            self.seen.append(progress.step)

        def should_stop(self):
            return bool(self.seen) and self.seen[-1] >= self.n

    content = torch.rand(3, 56, 72, generator=torch.Generator().manual_seed(0))
    style = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(1))
    options = {**tiny_options, "optimizer": "adam", "steps": 12, "scales": [48], "size": 64}
    full = render("stylize", content=content, style=style, net=tiny_net, **options)
    first = StopAt(4)
    with pytest.raises(Stopped) as stopped:
        render("stylize", content=content, style=style, net=tiny_net, reporter=first, **options)
    path = save_checkpoint(stopped.value.state, tmp_path / "run.checkpoint.safetensors")
    state, _ = load_checkpoint(path)
    assert state.carry.step == 3 and state.carry.exp_avg is not None  # 4 evaluated, 3 updates applied
    rest = StopAt(10**9)
    resumed = render("stylize", content=content, style=style, net=tiny_net, reporter=rest, resume=state, **options)
    assert first.seen + rest.seen == list(range(1, 13))
    assert resumed.shape == full.shape and torch.isfinite(resumed).all()
    assert (resumed - full).abs().mean() < 0.05  # one evaluated gradient is not applied: close, not equal
