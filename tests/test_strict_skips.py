"""Under CI a skipped test fails (tests/strict_skips.py); gpu-marked skips and xfails stay as they are."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

SAMPLE = """
import pytest

def test_skips():
    pytest.skip("an image is missing")

@pytest.mark.gpu
def test_needs_cuda():
    pytest.skip("no CUDA here")

@pytest.mark.xfail(reason="known")
def test_known_failure():
    assert False

def test_passes():
    pass
"""


MODULE_SKIP = """
import pytest

pytest.importorskip("fuchun_no_such_extra")

def test_never_collected():
    pass
"""


def _pytest(tmp_path: pathlib.Path, ci: str, sample: str = SAMPLE) -> subprocess.CompletedProcess:
    (tmp_path / "test_sample.py").write_text(sample)
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(pathlib.Path(__file__).parent)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "strict_skips", "-p", "no:cacheprovider", "-m", "not nothing",
         "--rootdir", str(tmp_path), "-o", "markers=gpu", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip


def test_a_skip_fails_under_ci_unless_marked_gpu(tmp_path):
    done = _pytest(tmp_path, "true")
    summary = done.stdout.strip().splitlines()[-1]
    assert done.returncode == 1, done.stdout
    assert "1 failed" in summary and "1 passed" in summary and "1 skipped" in summary and "1 xfailed" in summary
    assert "skipped under CI" in done.stdout and "an image is missing" in done.stdout


def test_outside_ci_a_skip_is_a_skip(tmp_path):
    done = _pytest(tmp_path, "")
    assert done.returncode == 0, done.stdout
    assert "2 skipped" in done.stdout.strip().splitlines()[-1]


def test_a_module_skipped_while_collected_fails_under_ci(tmp_path):
    done = _pytest(tmp_path, "true", MODULE_SKIP)
    assert done.returncode != 0, done.stdout
    assert "skipped under CI" in done.stdout and "fuchun_no_such_extra" in done.stdout
    assert "1 error" in done.stdout.strip().splitlines()[-1]


def test_outside_ci_a_module_skip_is_a_skip(tmp_path):
    done = _pytest(tmp_path, "", MODULE_SKIP)
    assert done.returncode == 5, done.stdout  # pytest's "no tests ran": the module's one test was skipped
    assert "1 skipped" in done.stdout.strip().splitlines()[-1]
