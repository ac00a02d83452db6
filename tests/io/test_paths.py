"""Tests for fuchun.io.paths: what a user's path names, said before anything opens it."""

from __future__ import annotations

import os
import socket

import pytest

from fuchun.io.paths import NO_SUCH_FILE, is_loop, not_a_file, resolved


def test_a_regular_file_and_a_link_to_it_are_files(tmp_path):
    target = tmp_path / "a.png"
    target.write_bytes(b"x")
    os.symlink(target, tmp_path / "link.png")
    assert not_a_file(target) is None and not_a_file(tmp_path / "link.png") is None


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d, "it is a directory, not a file"),
        (lambda d: d / "missing.png", NO_SUCH_FILE),
        (lambda d: os.devnull, "it is a device, not a regular file"),
        (lambda d: "bad\0name.png", "the name contains a NUL byte"),
        (lambda d: d / ("x" * 300 + ".png"), "the name is too long"),
    ],
)
def test_what_is_not_a_regular_file_is_named(tmp_path, make, words):
    assert not_a_file(make(tmp_path)) == words


def test_a_fifo_is_named_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert not_a_file(fifo) == "it is a named pipe (FIFO), not a regular file"


def test_a_socket_is_named(tmp_path):
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        assert not_a_file(path) == "it is a socket, not a regular file"


def test_a_file_below_a_file_is_named(tmp_path):
    (tmp_path / "plain").write_bytes(b"x")
    assert not_a_file(tmp_path / "plain" / "a.png") == "a part of the path is not a directory"


def test_loops_are_named_and_resolve_without_raising(tmp_path):
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    assert not_a_file(loop) == "it is a symbolic link loop"
    assert is_loop(loop) and not is_loop(tmp_path)
    assert resolved(loop) == loop  # made absolute only: Path.resolve would raise here
    assert resolved(tmp_path / "x" / ".." / "y.png") == (tmp_path / "y.png").resolve()
