"""Tests for the optical flow of fuchun.video.flow: a pan found, frames warped, what comes into view masked."""

from __future__ import annotations

import torch

from fuchun.io.read import read_image, resize_image
from fuchun.video import synthetic
from fuchun.video.flow import aligned_previous, consistency, optical_flow, warp


def _shifted(examples_dir, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
    image = resize_image(read_image(examples_dir / "tubingen.jpg"), size=(120, 90))
    return image[:, 10:74, 20:100], image[:, 10:74, 20 + dx : 100 + dx]  # (3, 64, 80) each


def test_flow_finds_a_pan_and_warping_aligns_the_frames(examples_dir):
    a, b = _shifted(examples_dir, 3)  # b is a moved 3 px left: b(x) = a(x + 3)
    for method in ("dis", "farneback"):
        flow = optical_flow(b, a, method=method)  # b(x) ≈ a(x + flow)
        inner = flow[8:-8, 8:-8]
        assert abs(float(inner[..., 0].mean()) - 3) < 0.5, method
        assert abs(float(inner[..., 1].mean())) < 0.5, method
        aligned = warp(a, flow)
        assert float((aligned - b)[:, 8:-8, 8:-8].abs().mean()) < 0.5 * float((a - b)[:, 8:-8, 8:-8].abs().mean())


def test_consistency_masks_what_comes_into_view(examples_dir):
    """The parallax clip's foreground uncovers background: those pixels and the picture's
    new right-hand edge are masked out, most of the picture is kept."""
    image = read_image(examples_dir / "tubingen.jpg")
    front = read_image(examples_dir / "starry-night.jpg")
    frames = synthetic.parallax(image, front, size=(96, 72), frames=3, speed=2.0)
    warped, weight = aligned_previous(frames[0], frames[0], frames[1], method="dis")
    assert weight.shape == (1, 72, 96)
    share = float(weight.mean())
    assert 0.5 < share < 1.0
    assert (
        float(
            consistency(
                optical_flow(frames[0], frames[1], method="dis"), optical_flow(frames[1], frames[0], method="dis")
            ).mean()
        )
        < 1.0
    )
    assert warped.shape == frames[1].shape
