"""Colour preservation (Gatys et al. 2017): YCbCr conversions, luminance-only transfer, colour matching."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fuchun.api import render
from fuchun.cli.options import config_options
from fuchun.cli.parser import UsageError, build_parser
from fuchun.config.options import Config
from fuchun.controls.colour import (
    COLOUR_MODES,
    colour_mode,
    grey,
    luminance,
    match_colour,
    match_luminance,
    preserve_inputs,
    preserve_output,
    recombine,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)
from fuchun.io.read import resize_image
from helpers import rand, randn


def _smooth(h: int, w: int, *, seed: int, lo: float = 0.25, hi: float = 0.75) -> torch.Tensor:
    """A smooth colourful (3, H, W) image inside [lo, hi]: upsampled coarse noise."""
    coarse = rand(1, 3, 4, 5, seed=seed)
    fine = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
    return lo + (hi - lo) * fine


def _correlated(h: int, w: int, *, seed: int, mean, mix) -> torch.Tensor:
    """(3, H, W) pixels = mean + mix · N(0, 1): a known mean and covariance, well inside [0, 1]."""
    noise = randn(3, h * w, seed=seed, dtype=torch.float64)
    pixels = torch.tensor(mean, dtype=torch.float64)[:, None] + torch.tensor(mix, dtype=torch.float64) @ noise
    return pixels.reshape(3, h, w)


def _mean_cov(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = image.reshape(3, -1).double()
    centred = x - x.mean(1, keepdim=True)
    return x.mean(1), centred @ centred.T / x.shape[1]


# ----------------------------------------------------------------------------- conversions


def test_known_ycbcr_values():
    pixels = torch.tensor([[1.0, 0.0, 0.0, 0.5], [1.0, 0.0, 1.0, 0.5], [1.0, 0.0, 0.0, 0.5]]).view(3, 1, 4)
    y, cb, cr = rgb_to_ycbcr(pixels)[:, 0]  # white, black, pure green, mid grey
    assert torch.allclose(y, torch.tensor([1.0, 0.0, 0.587, 0.5]), atol=1e-6)
    assert torch.allclose(cb[[0, 1, 3]], torch.full((3,), 0.5), atol=1e-6)  # greys have no chroma
    assert torch.allclose(cr[[0, 1, 3]], torch.full((3,), 0.5), atol=1e-6)
    assert float(cb[2]) == pytest.approx(0.5 - 0.331264, abs=1e-6)


def test_ycbcr_round_trip_and_batches():
    image = rand(2, 3, 5, 7, seed=1).double()
    assert torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(image)), image, atol=1e-12)
    assert torch.allclose(rgb_to_ycbcr(image)[1], rgb_to_ycbcr(image[1]))


def test_luminance_and_grey():
    image = rand(3, 4, 6, seed=2)
    y = luminance(image)
    assert y.shape == (1, 4, 6)
    assert torch.allclose(y[0], 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2], atol=1e-6)
    g = grey(y)
    assert g.shape == (3, 4, 6) and torch.equal(g[0], g[2])
    assert torch.allclose(rgb_to_ycbcr(g)[1:], torch.full((2, 4, 6), 0.5), atol=1e-6)  # grey: no chroma
    assert torch.allclose(luminance(g), y, atol=1e-6)


# ----------------------------------------------------------------------------- luminance only


def test_match_luminance_takes_the_reference_mean_and_std():
    y, reference = rand(1, 9, 11, seed=3) * 0.3, 0.4 + 0.2 * rand(1, 5, 6, seed=4)
    matched = match_luminance(y, reference)
    assert float(matched.mean()) == pytest.approx(float(reference.mean()), abs=1e-6)
    assert float(matched.std()) == pytest.approx(float(reference.std()), rel=1e-5)


def test_recombine_keeps_the_content_chroma_exactly():
    content, y = rand(3, 8, 10, seed=5).double(), rand(1, 8, 10, seed=6).double()
    out = recombine(y, content)  # not clamped: the chroma is exact
    ycc = rgb_to_ycbcr(out)
    assert torch.allclose(ycc[:1], y, atol=1e-12)
    assert torch.allclose(ycc[1:], rgb_to_ycbcr(content)[1:], atol=1e-12)


def test_recombine_needs_equal_sizes():
    with pytest.raises(ValueError, match="differ in size"):
        recombine(torch.rand(1, 4, 4), torch.rand(3, 4, 5))


def test_luminance_inputs_are_grey_and_styles_take_the_content_brightness():
    content, style = _smooth(20, 24, seed=7), 0.1 + 0.3 * rand(3, 16, 16, seed=8)
    shown, (shown_style,) = preserve_inputs("luminance", content, [style])
    for image in (shown, shown_style):
        assert torch.allclose(rgb_to_ycbcr(image)[1:], torch.full_like(image[1:], 0.5), atol=1e-5)
    assert torch.allclose(luminance(shown), luminance(content), atol=1e-6)
    y = luminance(shown_style)
    assert float(y.mean()) == pytest.approx(float(luminance(content).mean()), abs=1e-4)
    assert float(y.std()) == pytest.approx(float(luminance(content).std()), rel=1e-3)


def test_luminance_output_has_the_content_chroma_at_the_output_size():
    content, result = _smooth(30, 36, seed=9), _smooth(20, 24, seed=10, lo=0.3, hi=0.7)
    out = preserve_output("luminance", result, content)
    assert out.shape == result.shape
    expected = rgb_to_ycbcr(resize_image(content, size=(24, 20)))
    # nothing was clamped here (moderate luma and chroma), so chroma and luma are exact
    assert torch.allclose(rgb_to_ycbcr(out)[1:], expected[1:], atol=1e-5)
    assert torch.allclose(luminance(out), luminance(result), atol=1e-5)


# ----------------------------------------------------------------------------- colour matching


def test_match_colour_gives_the_content_mean_and_covariance():
    content = _correlated(
        40, 50, seed=11, mean=(0.55, 0.45, 0.4), mix=[[0.06, 0.01, 0.0], [0.02, 0.05, 0.0], [0.0, 0.01, 0.04]]
    )
    style = _correlated(
        30, 30, seed=12, mean=(0.3, 0.5, 0.6), mix=[[0.03, 0.0, 0.02], [0.0, 0.07, 0.0], [0.01, 0.02, 0.05]]
    )
    out = match_colour(style, content, eps=1e-12)
    assert float(out.min()) > 0 and float(out.max()) < 1  # clamping would not bite
    mean_o, cov_o = _mean_cov(out)
    mean_c, cov_c = _mean_cov(content)
    assert torch.allclose(mean_o, mean_c, atol=1e-9)
    assert torch.allclose(cov_o, cov_c, atol=1e-9)


def test_match_colour_default_eps_is_close_and_prepared_styles_are_clamped():
    content = _correlated(
        40, 50, seed=13, mean=(0.5, 0.5, 0.4), mix=[[0.05, 0.0, 0.0], [0.01, 0.05, 0.0], [0.0, 0.0, 0.05]]
    )
    style = rand(3, 24, 24, seed=14)  # uniform noise: its matched version leaves [0, 1] a little
    shown, (matched,) = preserve_inputs("match", content.float(), [style])
    assert torch.equal(shown, content.float())
    assert float(matched.min()) >= 0 and float(matched.max()) <= 1
    mean_o, cov_o = _mean_cov(match_colour(style.double(), content))
    mean_c, cov_c = _mean_cov(content)
    assert torch.allclose(mean_o, mean_c, atol=1e-6)
    assert torch.allclose(cov_o, cov_c, rtol=1e-3, atol=1e-6)


def test_match_colour_of_a_flat_style_is_finite():
    out = match_colour(torch.full((3, 8, 8), 0.3), rand(3, 8, 8, seed=15))
    assert bool(torch.isfinite(out).all())


def test_match_output_is_unchanged():
    image = rand(3, 5, 5, seed=16)
    assert preserve_output("match", image, rand(3, 9, 9, seed=17)) is image


# ----------------------------------------------------------------------------- choices and errors


def test_modes_and_config_choices_agree():
    field = next(f for f in dataclasses.fields(Config) if f.name == "preserve_colors")
    assert tuple(field.metadata["choices"]) == tuple(COLOUR_MODES)
    assert Config().preserve_colors is None


def test_unknown_mode_lists_the_valid_ones():
    with pytest.raises(ValueError, match="luminance, match"):
        colour_mode("hue")


def test_preservation_needs_a_content_image():
    with pytest.raises(ValueError, match="needs a content image"):
        preserve_inputs("luminance", None, [torch.rand(3, 8, 8)])


def test_none_changes_nothing():
    content, styles = torch.rand(3, 4, 4), [torch.rand(3, 4, 4)]
    assert preserve_inputs(None, content, styles) == (content, styles)


def test_cli_flag():
    ns = build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "o.png", "--preserve-colors", "luminance"])
    assert config_options(ns) == {"preserve_colors": "luminance"}
    with pytest.raises(UsageError, match="invalid choice"):
        build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "o.png", "--preserve-colors", "hue"])


# ----------------------------------------------------------------------------- whole runs


def test_render_luminance_keeps_the_content_chroma(tiny_net, tiny_options):
    content = _smooth(56, 72, seed=18)
    styles = [rand(3, 60, 60, seed=19), rand(3, 50, 70, seed=20)]
    options = {**tiny_options, "scales": (48, 64), "steps": 3}  # coarse to fine, two styles
    out = render("stylize", content=content, style=styles, net=tiny_net, preserve_colors="luminance", **options)
    h, w = out.shape[-2:]
    expected = rgb_to_ycbcr(resize_image(content, size=(w, h)))[1:]
    unclamped = ((out > 1e-6) & (out < 1 - 1e-6)).all(0)  # pixels where clamping changed nothing
    assert float(unclamped.float().mean()) > 0.5
    assert torch.allclose(rgb_to_ycbcr(out)[1:, unclamped], expected[:, unclamped], atol=1e-5)


def test_render_match_runs_with_several_styles(tiny_net, tiny_options):
    content = _smooth(56, 72, seed=21)
    styles = [rand(3, 60, 60, seed=22), rand(3, 50, 70, seed=23)]
    out = render(
        "stylize", content=content, style=styles, net=tiny_net, preserve_colors="match", **{**tiny_options, "steps": 2}
    )
    assert out.shape == (3, 50, 64) and float(out.min()) >= 0 and float(out.max()) <= 1
