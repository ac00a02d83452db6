"""Writing images safely: protected inputs, atomic writes, failures leave nothing behind."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

from fuchun.io import atomic
from fuchun.io import write as image_write
from fuchun.io.write import write_image
from helpers import raises_one_line


def test_protect_refuses_overwrite_and_keeps_file(tmp_path, monkeypatch):
    source = tmp_path / "input.png"
    Image.new("RGB", (4, 4), (1, 2, 3)).save(source)
    before = source.read_bytes()
    image = torch.ones(3, 4, 4)
    raises_one_line(write_image, image, source, protect=[source], match="refusing to overwrite")
    monkeypatch.chdir(tmp_path)
    raises_one_line(write_image, image, "./sub/../input.png", protect=[str(source)], match="refusing")
    (tmp_path / "sub").mkdir()
    raises_one_line(write_image, image, "sub/../input.png", protect=["input.png"], match="refusing")
    (tmp_path / "alias.png").symlink_to(source)
    raises_one_line(write_image, image, tmp_path / "alias.png", protect=[source], match="refusing")
    assert source.read_bytes() == before
    assert write_image(image, tmp_path / "other.png", protect=[source]).exists()


def test_protect_of_missing_path(tmp_path):
    target = tmp_path / "new.png"
    raises_one_line(write_image, torch.ones(3, 2, 2), target, protect=[target], match="refusing")
    assert not target.exists()


def test_unknown_suffix_and_bad_depth(tmp_path):
    image = torch.ones(3, 2, 2)
    message = raises_one_line(write_image, image, tmp_path / "out.gif", match="not supported")
    assert ".png" in message and ".jpg" in message and ".tiff" in message
    raises_one_line(write_image, image, tmp_path / "out", match="no suffix")
    raises_one_line(write_image, image, tmp_path / "out.jpg", bit_depth=16, match="16-bit")
    raises_one_line(write_image, image, tmp_path / "out.png", bit_depth=12, match="bit depth")
    raises_one_line(write_image, image, tmp_path / "out.jpg", quality=0, match="quality")
    assert not list(tmp_path.iterdir())


def test_missing_parent_directory_and_directory_target(tmp_path):
    image = torch.ones(3, 2, 2)
    raises_one_line(write_image, image, tmp_path / "no" / "out.png", match="does not exist")
    (tmp_path / "d.png").mkdir()
    raises_one_line(write_image, image, tmp_path / "d.png", match="directory")


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    existing = tmp_path / "out.png"
    write_image(torch.zeros(3, 2, 2), existing)
    before = existing.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    raises_one_line(write_image, torch.ones(3, 2, 2), existing, match="No space left")
    raises_one_line(write_image, torch.ones(3, 2, 2), tmp_path / "fresh.tif", bit_depth=16)
    monkeypatch.undo()

    def broken_fsync(fd):  # the bytes are in the temporary file when this fails
        raise RuntimeError("disk exploded")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(RuntimeError, match="exploded"):
        write_image(torch.ones(3, 2, 2), existing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    assert existing.read_bytes() == before


def test_a_longest_legal_name_can_be_written(tmp_path):
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    target = tmp_path / ("n" * (limit - 4) + ".png")
    write_image(torch.ones(3, 2, 2), target)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_encoder_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    def broken_save(self, *args, **kwargs):
        raise OSError("encoder failed")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        write_image(torch.ones(3, 2, 2), tmp_path / "out.png")
    monkeypatch.setattr(image_write, "png16_bytes", lambda samples: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_image(torch.ones(3, 2, 2), tmp_path / "out16.png", bit_depth=16)
    assert not list(tmp_path.iterdir())


def test_written_file_permissions_follow_umask(tmp_path):
    path = write_image(torch.ones(3, 2, 2), tmp_path / "perm.png")
    mask = os.umask(0o022)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
