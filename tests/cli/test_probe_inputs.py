"""The probe, files: broken, odd and hostile inputs through the real command line.

Each bad input, in each role it can take (photo, painting, mask, start image, config, output),
must give exactly one ``fuchun: error:`` line, a non-zero status, no traceback, and leave
no file behind; each odd but legal input must give a correct picture. The CLI runs in
this process (``fuchun.cli.parser.main``) on a tiny random network; only the cases that
could hang or that need a fresh interpreter's stderr run in a subprocess.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import odd_files
from fuchun.cli.parser import main
from fuchun.io.read import read_image
from helpers import QUICK_FLAGS, fails_in_one_line

pytestmark = pytest.mark.usefixtures("tiny_pretrained")  # every run uses the tiny random network


def probe_succeeds(capsys, argv: list, output: Path) -> torch.Tensor:
    """Run ``argv``: status 0, no error line, and a readable picture at ``output``."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "error" not in err and "Traceback" not in err
    assert all(line.startswith("fuchun: warning: ") for line in err.splitlines()), err
    picture = read_image(output)
    assert torch.isfinite(picture).all()
    return picture


# ----------------------------------------------------------------------------- broken files, every role

ROLES = {  # role -> argv given the bad file, the photo, the painting and the output
    "photo": lambda bad, photo, art, out: ["stylize", bad, art, "-o", out],
    "painting": lambda bad, photo, art, out: ["stylize", photo, bad, "-o", out],
    "second painting": lambda bad, photo, art, out: ["stylize", photo, art, bad, "-o", out],
    "mask": lambda bad, photo, art, out: ["stylize", photo, art, "--mask", bad, "-o", out],
    "start image": lambda bad, photo, art, out: ["stylize", photo, art, "--init", bad, "-o", out],
    "texture source": lambda bad, photo, art, out: ["texture", bad, "-o", out],
}
# a thin mask or start image is legal: each is resized to the picture
LEGAL_IN_ROLE = {("thin 2000x1 png", "mask"), ("thin 2000x1 png", "start image")}


def _role_cases():
    for kind in odd_files.BROKEN:
        for role in ROLES:
            if (kind, role) not in LEGAL_IN_ROLE:
                yield pytest.param(kind, role, id=f"{kind} as {role}")


@pytest.mark.parametrize(("kind", "role"), list(_role_cases()))
def test_a_broken_file_in_any_role_is_one_error_line(capsys, probe_folders, kind, role):
    inputs, outputs = probe_folders
    bad = odd_files.broken(inputs, kind)
    argv = ROLES[role](bad, inputs / "photo.png", inputs / "painting.png", outputs / "result.png")
    line = fails_in_one_line(capsys, [*argv, *QUICK_FLAGS], *probe_folders, warnings=True)
    assert "cannot read image" in line or "px" in line


# ----------------------------------------------------------------------------- things that are not files


def _loop(folder: Path, name: str) -> Path:
    path = folder / name
    os.symlink(path, path)  # a link to itself
    return path


def _dangling(folder: Path, name: str) -> Path:
    path = folder / name
    os.symlink(folder / "gone.png", path)
    return path


NOT_FILES = {  # name -> (maker, a regular expression the error line matches)
    "directory": (lambda d, n: (d / n).mkdir() or d / n, "directory"),
    "symlink loop": (_loop, "symbolic link loop"),
    "dangling symlink": (_dangling, "no such file|nor an existing file"),  # the second: --init's words
    "missing file": (lambda d, n: d / n, "no such file|nor an existing file"),
    "device": (lambda d, n: Path(os.devnull), "device"),
}


@pytest.mark.parametrize("role", ["photo", "painting", "mask", "start image", "texture source"])
@pytest.mark.parametrize("kind", list(NOT_FILES))
def test_a_path_that_is_not_a_regular_file_is_one_error_line(capsys, probe_folders, kind, role):
    inputs, outputs = probe_folders
    make, words = NOT_FILES[kind]
    bad = make(inputs, "odd.png")
    argv = ROLES[role](bad, inputs / "photo.png", inputs / "painting.png", outputs / "result.png")
    assert re.search(words, fails_in_one_line(capsys, [*argv, *QUICK_FLAGS], *probe_folders, warnings=True))


@pytest.mark.parametrize("kind", ["directory", "symlink loop", "missing file"])
def test_a_config_path_that_is_not_a_file_is_one_error_line(capsys, probe_folders, kind):
    inputs, outputs = probe_folders
    make, words = NOT_FILES[kind]
    config = make(inputs, "run.toml")
    argv = ["stylize", inputs / "photo.png", inputs / "painting.png", "-o", outputs / "r.png", "--config", config]
    assert re.search(words, fails_in_one_line(capsys, argv, *probe_folders, warnings=True))


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: _loop(d, "loop.png"), "symbolic link loop"),
        (lambda d: (d / "sub.png").mkdir() or d / "sub.png", "directory"),
        (lambda d: d / "missing" / "r.png", "does not exist"),
        (lambda d: Path(os.devnull), "suffix"),
        (lambda d: d / "r.gif", "not supported"),
    ],
    ids=["symlink loop", "directory", "missing directory", "device", "unsupported suffix"],
)
def test_an_output_that_cannot_be_written_is_refused_before_the_run(capsys, probe_folders, make, words):
    inputs, outputs = probe_folders
    argv = ["stylize", inputs / "photo.png", inputs / "painting.png", "-o", make(outputs), *QUICK_FLAGS]
    assert words in fails_in_one_line(capsys, argv, *probe_folders, warnings=True)


def test_the_output_over_an_input_is_refused_and_the_input_kept(capsys, probe_folders):
    inputs, _ = probe_folders
    photo = inputs / "photo.png"
    argv = ["stylize", photo, inputs / "painting.png", "-o", photo, *QUICK_FLAGS]
    assert "refusing to overwrite input image" in fails_in_one_line(capsys, argv, *probe_folders, warnings=True)


def test_article_keep_naming_an_existing_file_is_one_line(capsys, probe_folders):
    inputs, outputs = probe_folders
    keep = outputs / "pictures"
    keep.write_bytes(b"mine")
    argv = ["article", inputs / "photo.png", inputs / "painting.png", "-o", outputs / "sheet.png", "--keep", keep]
    assert "is a file, not a directory" in fails_in_one_line(
        capsys, [*argv, *QUICK_FLAGS], *probe_folders, warnings=True
    )
    assert keep.read_bytes() == b"mine"


# ----------------------------------------------------------------------------- odd but legal files


@pytest.mark.parametrize("kind", list(odd_files.LEGAL))
def test_an_odd_but_legal_photo_gives_a_correct_picture(capsys, probe_folders, kind):
    inputs, outputs = probe_folders
    photo = odd_files.LEGAL[kind](inputs)
    expected = read_image(photo)
    out = outputs / "result.png"
    picture = probe_succeeds(capsys, ["reconstruct", photo, "-o", out, "--init", "content", *QUICK_FLAGS], out)
    h, w = expected.shape[-2:]
    assert max(picture.shape[-2:]) == 64
    assert (picture.shape[-1] >= picture.shape[-2]) == (w >= h)  # the orientation the file asks for
    if min(h, w) > 1:  # the picture still looks like its photo (the start image is the photo)
        assert abs(picture.mean().item() - expected.mean().item()) < 0.1


@pytest.mark.parametrize("kind", ["cmyk jpeg", "16-bit rgb png", "rgba png", "animated gif", "exif-rotated jpeg"])
def test_an_odd_but_legal_painting_is_used(capsys, probe_folders, kind):
    inputs, outputs = probe_folders
    out = outputs / "result.png"
    argv = ["stylize", inputs / "photo.png", odd_files.LEGAL[kind](inputs), "-o", out, *QUICK_FLAGS]
    assert probe_succeeds(capsys, argv, out).shape == (3, 48, 64)


# ----------------------------------------------------------------------------- in a fresh interpreter


def _cli(args: list, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fuchun.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,  # a FIFO opened by mistake would block here until killed
        env={**os.environ, "COLUMNS": "80"},
    )


def _one_line(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fuchun: error: "), proc.stderr
    assert words in lines[0], lines[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_as_weights_is_refused_without_blocking(tmp_path):
    photo, art = odd_files.png(tmp_path, "photo.png"), odd_files.png(tmp_path, "art.png", seed=1)
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    argv = ["stylize", photo, art, "-o", tmp_path / "a.png", "--weights", fifo, *QUICK_FLAGS]
    _one_line(_cli(argv, timeout=60), "named pipe (FIFO)")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_as_photo_or_config_is_refused_without_blocking(tmp_path):
    photo, art = odd_files.png(tmp_path, "photo.png"), odd_files.png(tmp_path, "art.png", seed=1)
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    _one_line(_cli(["stylize", fifo, art, "-o", tmp_path / "a.png", *QUICK_FLAGS], timeout=60), "named pipe (FIFO)")
    config = tmp_path / "pipe.toml"
    os.mkfifo(config)
    argv = ["stylize", photo, art, "-o", tmp_path / "b.png", "--config", config, *QUICK_FLAGS]
    _one_line(_cli(argv, timeout=60), "named pipe (FIFO)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art.png", "photo.png", "pipe.png", "pipe.toml"]


def test_an_endless_device_as_photo_is_refused_without_reading_it(tmp_path):
    art = odd_files.png(tmp_path, "art.png", seed=1)
    _one_line(_cli(["stylize", "/dev/zero", art, "-o", tmp_path / "a.png", *QUICK_FLAGS], timeout=60), "device")


def test_a_raw_pickle_as_weights_is_one_line_without_torchs_warning(tmp_path):
    import pickle

    photo, art = odd_files.png(tmp_path, "photo.png"), odd_files.png(tmp_path, "art.png", seed=1)
    weights = tmp_path / "model.pth"
    weights.write_bytes(pickle.dumps({"conv1_1.weight": {1, 2, 3}}, protocol=4))  # a set: not a plain tensor file
    proc = _cli(["stylize", photo, art, "-o", tmp_path / "a.png", "--weights", weights, *QUICK_FLAGS])
    _one_line(proc, "is not a plain tensor file (refusing to unpickle objects)")
