"""Resizing images and the minimum-size check."""

from __future__ import annotations

import pytest
import torch

from fuchun.io.read import MIN_SIDE, check_min_size, resize_image
from helpers import raises_one_line


def test_resize_longest_side():
    image = torch.rand(3, 30, 60)
    out = resize_image(image, size=20)
    assert out.shape == (3, 10, 20)
    assert out.min() >= 0 and out.max() <= 1
    assert resize_image(torch.rand(3, 7, 5), size=14).shape == (3, 14, 10)  # upscaling
    assert resize_image(torch.rand(3, 1, 100), size=10).shape == (3, 1, 10)  # side stays >= 1


def test_resize_exact_and_flat_image_stays_flat():
    flat = torch.full((3, 9, 13), 0.3)
    out = resize_image(flat, size=(5, 4))
    assert out.shape == (3, 4, 5)
    assert torch.allclose(out, torch.full_like(out, 0.3), atol=1e-5)
    assert torch.equal(resize_image(flat, size=(13, 9)), flat)


@pytest.mark.parametrize("size", [0, -3, True, 2.5, (5,), (5, 0), (5.0, 4)])
def test_resize_rejects_bad_sizes(size):
    raises_one_line(resize_image, torch.rand(3, 4, 4), size=size)


def test_check_min_size():
    check_min_size(torch.zeros(3, MIN_SIDE, MIN_SIDE), name="style image")
    message = raises_one_line(check_min_size, torch.zeros(3, 14, 20), name="content image")
    assert message == "content image is 20x14 px; fuchun needs at least 32 px on each side"
    raises_one_line(check_min_size, torch.zeros(3, 64, 64), name="x", min_side=100, match="100 px")
