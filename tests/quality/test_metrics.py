"""Tests of fuchun.quality.measures: its report and distances, zero at identity, known values, ``fuchun eval``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from fuchun.cli.parser import main
from fuchun.losses.terms import GATYS_STYLE
from fuchun.quality import measures as metrics
from helpers import noise_image


def _save(tensor: torch.Tensor, path) -> str:
    Image.fromarray((tensor.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(path)
    return str(path)


def _stripes(h: int, w: int, *, period: int, vertical_lines: bool = True) -> torch.Tensor:
    """A grey sine pattern repeating every ``period`` px along x (or along y)."""
    x = torch.arange(w if vertical_lines else h, dtype=torch.float64)
    wave = 0.5 + 0.4 * torch.cos(2 * torch.pi * x / period)
    grid = wave.expand(h, w) if vertical_lines else wave[:, None].expand(h, w)
    return grid.float().expand(3, h, w).clone()


# --------------------------------------------------------------------------- feature distances


def test_identical_images_give_zero(tiny_net):
    image = noise_image(40, 48, 0)[0]
    result = metrics.evaluate(tiny_net, image, content=image, style=image)
    assert result["content"] == 0.0 and result["structure"] == pytest.approx(1.0)
    assert all(v == 0.0 for v in result["gram"].values())
    assert all(v == 0.0 for v in result["style_distance"].values())
    assert result["colour_distance"] == 0.0
    assert metrics.autocorrelation_error(image, image, offsets=(4, 8)) == 0.0


def test_different_images_give_positive_distances(tiny_net):
    image, other = noise_image(40, 48, 0)[0], noise_image(40, 48, 1)[0] * 0.5
    result = metrics.evaluate(tiny_net, image, content=other, style=other)
    assert result["content"] > 0 and result["structure"] < 1
    assert min(result["gram"].values()) > 0 and min(result["style_distance"].values()) > 0
    assert result["colour_distance"] > 0
    assert metrics.autocorrelation_error(image, _stripes(40, 48, period=8), offsets=(4, 8)) == pytest.approx(
        0.5, abs=0.05
    )  # noise ≈ 0; stripes 0 and 1


def test_evaluate_keys_and_means(tiny_net):
    image = noise_image(36, 36, 0)[0]
    result = metrics.evaluate(tiny_net, image, style=noise_image(40, 52, 1)[0])
    assert set(result) == {"gram", "style_distance", "colour_distance"}
    assert list(result["gram"]) == [*GATYS_STYLE, "mean"]
    assert result["style_distance"]["mean"] == pytest.approx(
        np.mean([result["style_distance"][layer] for layer in metrics.STYLE_LAYERS])
    )
    assert set(metrics.evaluate(tiny_net, image, content=image)) == {"content", "structure"}
    with pytest.raises(ValueError, match="content image, a style image"):
        metrics.evaluate(tiny_net, image)


def test_functions_agree_with_evaluate(tiny_net):
    image, content, style = noise_image(36, 40, 0)[0], noise_image(50, 44, 1)[0], noise_image(44, 60, 2)[0]
    result = metrics.evaluate(tiny_net, image, content=content, style=style)
    assert metrics.style_distances(tiny_net, image, style) == pytest.approx(result["style_distance"], rel=1e-6)
    assert metrics.structure_kept(image, content) == pytest.approx(result["structure"])
    assert metrics.colour_distance(image, style) == pytest.approx(result["colour_distance"])


def test_content_is_resized_to_the_image(tiny_net):
    content = noise_image(32, 40, 3)[0]
    big = torch.nn.functional.interpolate(content[None], scale_factor=2, mode="nearest")[0]
    near = metrics.evaluate(tiny_net, content, content=big)["content"]
    assert near < metrics.evaluate(tiny_net, content, content=noise_image(64, 80, 4)[0])["content"]


# --------------------------------------------------------------------------- Wasserstein-1


def test_w1_equal_sizes_is_mean_gap_of_sorted_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 37)), rng.normal(1.0, 2.0, size=(5, 37))
    expected = np.abs(np.sort(a, -1) - np.sort(b, -1)).mean(-1)
    got = metrics.wasserstein1(torch.tensor(a), torch.tensor(b))
    assert got.numpy() == pytest.approx(expected, rel=1e-5)


def test_w1_unequal_sizes_is_exact():
    # {0, 1} against {0, 0, 1, 1, 1}: the quantile functions differ on t in [2/5, 1/2): W1 = 0.1
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    assert metrics.wasserstein1(a, b).item() == pytest.approx(0.1)
    # a sample against itself repeated three times has the same distribution
    x = torch.randn(4, 11, generator=torch.Generator().manual_seed(0))
    assert metrics.wasserstein1(x, x.repeat(1, 3)).abs().max().item() < 1e-6
    # a shift by c moves every quantile by c
    assert metrics.wasserstein1(x, (x + 0.3)[:, :7]).shape == (4,)
    assert metrics.wasserstein1(x, x.repeat(1, 2) + 0.3).numpy() == pytest.approx(0.3, rel=1e-5)


def test_w1_against_numpy_cdf_integral():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=13), rng.exponential(size=8)
    grid = np.sort(np.concatenate([a, b]))
    cdf_a = np.searchsorted(np.sort(a), grid[:-1], side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), grid[:-1], side="right") / b.size
    expected = np.sum(np.abs(cdf_a - cdf_b) * np.diff(grid))  # W1 = ∫ |F_a − F_b| dx
    got = metrics.wasserstein1(torch.tensor(a)[None], torch.tensor(b)[None]).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_unequal_pixel_counts_work(tiny_net):
    image, style = noise_image(36, 44, 0)[0], noise_image(52, 60, 1)[0]
    distances = metrics.style_distances(tiny_net, image, style)
    assert set(distances) == {*metrics.STYLE_LAYERS, "mean"} and all(v > 0 for v in distances.values())
    tiled = style.repeat(1, 2, 2)  # same distributions at four times the pixels: W1 unchanged
    assert metrics.colour_distance(image, tiled) == pytest.approx(metrics.colour_distance(image, style), rel=1e-5)
    assert metrics.colour_distance(style, tiled) < 1e-6


def test_bad_image_shape_raises(tiny_net):
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        metrics.colour_distance(torch.rand(1, 3, 8, 8), torch.rand(3, 8, 8))


# --------------------------------------------------------------------------- autocorrelation


def test_autocorrelation_of_stripes():
    ac = metrics.luminance_autocorrelation(_stripes(256, 256, period=32), offsets=(0, 16, 32))
    # along x the cosine gives cos(2πδ/32); along y the rows are equal (1): average ½(cos + 1)
    assert ac[0] == pytest.approx(1.0)
    assert ac[32] == pytest.approx(1.0, abs=1e-6)
    assert ac[16] == pytest.approx(0.0, abs=1e-6)


def test_autocorrelation_of_diagonal_stripes_is_plus_minus_one():
    # stripes cos(2π(x + y)/32) repeat every 32 px along both x and y, and flip at 16 px
    x = torch.arange(128, dtype=torch.float64)
    image = (0.5 + 0.4 * torch.cos(2 * torch.pi * (x[:, None] + x[None, :]) / 32)).float().expand(3, 128, 128)
    ac = metrics.luminance_autocorrelation(image)
    assert ac[32] == pytest.approx(1.0, abs=1e-6) and ac[64] == pytest.approx(1.0, abs=1e-6)
    assert ac[16] == pytest.approx(-1.0, abs=1e-6) and ac[48] == pytest.approx(-1.0, abs=1e-6)


def test_autocorrelation_matches_direct_sums_and_rejects_large_offsets():
    image = noise_image(24, 30, 5)[0]
    r, g, b = image.double()
    y = 0.299 * r + 0.587 * g + 0.114 * b
    y = y - y.mean()
    d = 5
    across = sum(float(y[i, j] * y[i, j + d]) for i in range(24) for j in range(30 - d)) / (24 * (30 - d))
    down = sum(float(y[i, j] * y[i + d, j]) for i in range(24 - d) for j in range(30)) / ((24 - d) * 30)
    expected = (across + down) / 2 / float(y.pow(2).mean())
    assert metrics.luminance_autocorrelation(image, offsets=(d,))[d] == pytest.approx(expected, rel=1e-9)
    assert metrics.luminance_autocorrelation(torch.full((3, 8, 8), 0.5), offsets=(2,)) == {2: 0.0}
    with pytest.raises(ValueError, match="does not fit"):
        metrics.luminance_autocorrelation(image, offsets=(24,))


def test_autocorrelation_error_of_a_phase_shift():
    a = _stripes(96, 96, period=32)
    shifted = a.roll(8, dims=2)  # same rhythm, other phase: same autocorrelation
    assert metrics.autocorrelation_error(a, shifted) == pytest.approx(0.0, abs=1e-6)
    assert metrics.autocorrelation_error(a, _stripes(96, 96, period=24)) > 0.2


# --------------------------------------------------------------------------- the eval command


def test_eval_prints_json(tmp_path, tiny_pretrained, capsys):
    out = _save(noise_image(40, 56, 0)[0], tmp_path / "out.png")
    content = _save(noise_image(60, 80, 1)[0], tmp_path / "content.png")
    style = _save(noise_image(70, 50, 2)[0], tmp_path / "style.png")
    assert main(["eval", out, "--content", content, "--style", style, "--json", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"content", "structure", "gram", "style_distance", "colour_distance"}
    assert set(result["gram"]) == {*GATYS_STYLE, "mean"}


def test_eval_prints_a_table(tmp_path, tiny_pretrained, capsys):
    out = _save(noise_image(40, 56, 0)[0], tmp_path / "out.png")
    assert main(["eval", out, "--style", out, "--size", "48", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["measure", "layer", "value"]
    assert any(line.split()[:2] == ["style_distance", "mean"] and float(line.split()[2]) == 0 for line in lines)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--style", "missing.png"], "no such file"),
        ([], "needs --content, --style or both"),
    ],
)
def test_eval_errors_are_one_line(tmp_path, tiny_pretrained, capsys, args, message):
    out = _save(noise_image(40, 40, 0)[0], tmp_path / "out.png")
    args = [str(tmp_path / a) if a.endswith(".png") else a for a in args]
    assert main(["eval", out, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fuchun: error:") and message in err and err.count("\n") == 1


def test_eval_missing_output(tmp_path, tiny_pretrained, capsys):
    assert main(["eval", str(tmp_path / "nope.png"), "--content", str(tmp_path / "nope.png")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.weights
def test_eval_with_real_weights(tmp_path, examples_dir, capsys, real_weights):
    out = examples_dir / "tubingen.jpg"
    style = examples_dir / "starry-night.jpg"
    args = ["eval", str(out), "--content", str(out), "--style", str(style), "--size", "64", "--json", "--device", "cpu"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["content"] == pytest.approx(0.0, abs=1e-3)  # the photo against itself (resize only)
    assert 0 < result["style_distance"]["mean"] and 0 < result["gram"]["mean"] and 0 < result["colour_distance"]
