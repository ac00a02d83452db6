"""Tests for fuchun.quality.measures: known values, identity, symmetry, orderings, and ``fuchun eval``."""

from __future__ import annotations

import json
import math

import pytest
import torch

from fuchun.cli.parser import main
from fuchun.io.read import read_image, resize_image
from fuchun.io.write import write_image
from fuchun.quality import measures
from helpers import EXAMPLES_DIR, randn


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """The bundled Tübingen photo at 96 px: real structure, small."""
    return resize_image(read_image(EXAMPLES_DIR / "tubingen.jpg"), size=96)


@pytest.fixture(scope="module")
def painting() -> torch.Tensor:
    return resize_image(read_image(EXAMPLES_DIR / "starry-night.jpg"), size=96)


def _noised(image: torch.Tensor, amount: float, seed: int = 0) -> torch.Tensor:
    noise = randn(*image.shape, seed=seed)
    return (image + amount * noise).clamp(0, 1)


def _flat(rgb: tuple[float, float, float], h: int = 24, w: int = 32) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1).expand(3, h, w).clone()


# --------------------------------------------------------------------------- style distance


def test_channel_w1_known_values():
    style = torch.tensor([[-1.0, 1.0], [0.0, 4.0]])  # stds 1 and 2
    assert measures.channel_w1(torch.zeros(2, 2), style) == pytest.approx((1 + 2 / 2) / 2)
    # a shift by c is a W1 of c; unequal counts are exact
    assert measures.channel_w1(style[:1] + 3, style[:1]) == pytest.approx(3.0)
    assert measures.channel_w1(torch.zeros(1, 3), style[:1]) == pytest.approx(1.0)


def test_channel_w1_leaves_out_channels_the_style_never_uses():
    style = torch.tensor([[-1.0, 1.0], [0.0, 0.0]])  # the second channel is dead
    feats = torch.tensor([[-1.0, 1.0], [5.0, 7.0]])
    assert measures.channel_w1(feats, style) == 0.0
    assert measures.channel_w1(feats, torch.zeros(2, 2)) == 0.0


def test_style_distance_is_zero_for_the_style_and_grows_with_noise(tiny_net, photo):
    assert measures.style_distance(tiny_net, photo, photo) == 0.0
    d = [measures.style_distance(tiny_net, _noised(photo, a), photo) for a in (0.02, 0.1, 0.3)]
    assert 0 < d[0] < d[1] < d[2]


def test_style_distances_per_layer_and_mean(tiny_net, photo, painting):
    result = measures.style_distances(tiny_net, photo, painting)
    assert list(result) == [*measures.STYLE_LAYERS, "mean"]
    assert result["mean"] == pytest.approx(sum(result[layer] for layer in measures.STYLE_LAYERS) / 4)
    assert min(result.values()) > 0


# --------------------------------------------------------------------------- structure


def test_ssim_of_flat_images_has_its_closed_form():
    a, b = torch.full((20, 20), 0.2), torch.full((20, 20), 0.6)
    c1 = measures.SSIM_C1
    assert measures.ssim(a, b) == pytest.approx((2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1))
    assert measures.ssim(a, a) == pytest.approx(1.0)


def test_ssim_checks_shapes():
    with pytest.raises(ValueError, match="one size"):
        measures.ssim(torch.zeros(8, 8), torch.zeros(8, 9))


def test_structure_is_one_for_the_photo_and_symmetric(photo, painting):
    assert measures.structure_kept(photo, photo) == pytest.approx(1.0)
    other = resize_image(painting, size=(photo.shape[-1], photo.shape[-2]))
    assert measures.structure_kept(photo, other) == pytest.approx(measures.structure_kept(other, photo))


def test_structure_orders_noise_and_shifts(photo):
    noised = [measures.structure_kept(_noised(photo, a), photo) for a in (0.05, 0.2, 0.5)]
    assert 1 > noised[0] > noised[1] > noised[2]
    shifted = [measures.structure_kept(torch.roll(photo, s, dims=-1), photo) for s in (1, 4, 16)]
    assert 1 > shifted[0] > shifted[1] > shifted[2]


def test_structure_blur_hides_fine_texture(photo):
    """The blur is the point: fine noise costs far less structure than the same noise coarse."""
    fine = _noised(photo, 0.2)
    coarse_noise = randn(3, 12, 12, seed=0)
    coarse = (photo + 0.2 * torch.nn.functional.interpolate(coarse_noise[None], size=photo.shape[-2:])[0]).clamp(0, 1)
    assert measures.structure_kept(fine, photo) > measures.structure_kept(coarse, photo)


def test_structure_resizes_the_photo_and_scales_the_blur(photo):
    big = resize_image(photo, size=192)
    assert measures.structure_kept(photo, big) > 0.98
    y = measures.blurred_luminance(_flat((0.5, 0.5, 0.5), 40, 40))
    assert torch.allclose(y, torch.full_like(y, 0.5))


# --------------------------------------------------------------------------- colour


def test_lab_of_known_colours():
    lab = measures.srgb_to_lab(
        torch.tensor([[[1.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])
    )  # white, black, red
    assert lab[:, 0, 0].tolist() == pytest.approx([100.0, 0.0, 0.0], abs=1e-3)
    assert lab[:, 0, 1].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    assert lab[:, 0, 2].tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.02)


def test_colour_distance_known_values_and_symmetry(photo, painting):
    black, white = _flat((0, 0, 0)), _flat((1, 1, 1), 10, 50)
    assert measures.colour_distance(black, white, directions=1) == pytest.approx(100.0, abs=1e-3)  # the L axis
    assert measures.colour_distance(black, white, directions=3) == pytest.approx(100.0 / 3, abs=1e-3)  # L, a, b
    assert 0 < measures.colour_distance(black, white) < 100
    assert measures.colour_distance(photo, photo) == 0.0
    assert measures.colour_distance(photo, painting) == pytest.approx(measures.colour_distance(painting, photo))
    assert measures.colour_distance(photo, _noised(photo, 0.02)) < measures.colour_distance(photo, _noised(photo, 0.2))


def test_colour_distance_rejects_no_directions(photo):
    with pytest.raises(ValueError, match="direction"):
        measures.colour_distance(photo, photo, directions=0)


# --------------------------------------------------------------------------- together


def test_measure_sizes_inputs_as_a_run_does(tiny_net, photo, painting):
    small = resize_image(photo, size=48)
    result = measures.measure(tiny_net, small, photo=photo, style=painting)
    assert set(result) == {"structure", "style_distance", "colour_distance"}
    assert result["structure"] > 0.95  # the photo, resized
    same = measures.measure(tiny_net, small, style=resize_image(painting, size=48))
    assert same["style_distance"] == pytest.approx(result["style_distance"])
    with pytest.raises(ValueError, match="photo, a style image or both"):
        measures.measure(tiny_net, small)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        measures.measure(tiny_net, small[:1], photo=photo)


def test_eval_prints_the_measures(tmp_path, tiny_pretrained, photo, painting, capsys):
    out, content, style = tmp_path / "out.png", tmp_path / "content.png", tmp_path / "style.png"
    write_image(photo, out), write_image(photo, content), write_image(painting, style)
    assert main(["eval", str(out), "--content", str(content), "--style", str(style), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["structure"] == pytest.approx(1.0)
    assert set(result["style_distance"]) == {*measures.STYLE_LAYERS, "mean"} and result["style_distance"]["mean"] > 0
    assert result["colour_distance"] > 0 and math.isfinite(result["colour_distance"])
    assert main(["eval", str(out), "--content", str(content), "--style", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["structure", "luma", "1"] for line in lines)
    assert any(line.split() == ["colour_distance", "lab", "0"] for line in lines)
    assert any(line.split() == ["style_distance", "mean", "0"] for line in lines)


def test_style_distance_reads_the_network_with_max_pooling_and_leaves_it_as_it_was(tiny_net, photo, painting):
    expected = measures.style_distance(tiny_net, photo, painting)
    tiny_net.pooling = "avg"
    assert measures.style_distance(tiny_net, photo, painting) == expected
    assert tiny_net.pooling == "avg"
