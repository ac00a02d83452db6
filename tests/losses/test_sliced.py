"""Tests for fuchun.losses.sliced: the sliced Wasserstein style loss (Heitz et al. 2021)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from fuchun.api import render
from fuchun.config.options import Config
from fuchun.losses.histogram import HistogramLoss
from fuchun.losses.sliced import SlicedWassersteinLoss, direction_seed, random_directions, sliced_wasserstein
from fuchun.run.fit import term_loads
from fuchun.run.job import Job
from helpers import Recorder, randn, smooth_image


def test_a_single_channel_gives_the_1d_wasserstein_distance_of_the_sorted_values():
    picture = torch.tensor([3.0, 0.0, 2.0, 1.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    style = torch.tensor([2.0, 4.0, 1.0, 3.0], dtype=torch.float64).reshape(1, 1, 2, 2)
    loss = SlicedWassersteinLoss([style], directions=torch.ones(1, 1, dtype=torch.float64))
    # sorted: 0 1 2 3 against 1 2 3 4, each 1 apart; the style's mean square is 7.5
    assert float(loss(picture)) == pytest.approx(1 / 7.5)


def test_zero_at_the_target_and_for_any_rearrangement_of_its_pixels():
    style = randn(1, 5, 6, 4, dtype=torch.float64)
    loss = SlicedWassersteinLoss([style], seed=1)
    assert abs(float(loss(style))) < 1e-12
    shuffled = style.flatten(2)[..., torch.randperm(24, generator=torch.Generator().manual_seed(2))].reshape(1, 5, 6, 4)
    assert abs(float(loss(shuffled))) < 1e-12  # a distribution loss: positions do not matter
    assert float(loss(randn(1, 5, 6, 4, seed=3, dtype=torch.float64))) > 0.05


def test_axis_aligned_directions_give_the_exact_histogram_loss():
    # sizes differ: the tables are resampled
    style, picture = randn(1, 6, 5, 4, dtype=torch.float64), randn(1, 6, 7, 3, seed=2, dtype=torch.float64)
    sliced = SlicedWassersteinLoss([style], directions=torch.eye(6, dtype=torch.float64))
    hist = HistogramLoss([style])
    x, y = picture.clone().requires_grad_(True), picture.clone().requires_grad_(True)
    a, b = sliced(x), hist(y)
    a.backward(), b.backward()
    assert a.item() == pytest.approx(b.item(), rel=1e-12)
    assert torch.allclose(x.grad, y.grad, rtol=1e-10, atol=1e-14)


def test_axis_aligned_directions_give_the_histogram_loss_inside_a_mask_too():
    style, picture = randn(1, 4, 6, 6, dtype=torch.float64), randn(1, 4, 6, 6, seed=7, dtype=torch.float64)
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.float64)
    mask[..., :, :4] = 1.0
    mask[..., :, 4] = 0.3  # a soft edge
    sliced = SlicedWassersteinLoss([style], directions=torch.eye(4, dtype=torch.float64), mask=mask)
    assert float(sliced(picture)) == pytest.approx(float(HistogramLoss([style], mask=mask)(picture)), rel=1e-12)
    x = picture.clone().requires_grad_(True)
    sliced(x).backward()
    assert float(x.grad[..., 5].abs().max()) == 0.0  # outside the region nothing is pulled
    assert float(x.grad[..., :4].abs().max()) > 0.0


def test_module_equals_the_sorting_function_when_sizes_differ():
    style, picture = randn(1, 6, 5, 5, dtype=torch.float64), randn(1, 6, 4, 3, seed=4, dtype=torch.float64)
    directions = random_directions(6, 9, seed=5).double()  # more directions than channels is allowed
    loss = SlicedWassersteinLoss([style], directions=directions)
    assert float(loss(picture)) == pytest.approx(float(sliced_wasserstein(picture, style, directions)), rel=1e-12)


@pytest.mark.parametrize("channels_last", [False, True])
def test_gradcheck_in_float64(channels_last):
    loss = SlicedWassersteinLoss([randn(1, 5, 4, 4, dtype=torch.float64)], seed=3)
    x = randn(1, 5, 3, 4, seed=6, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert torch.autograd.gradcheck(loss, (x.requires_grad_(True),))


def test_the_gradient_keeps_the_maps_memory_layout():
    loss = SlicedWassersteinLoss([randn(1, 5, 4, 4, dtype=torch.float32)], seed=3)
    x = randn(1, 5, 4, 4, seed=6, dtype=torch.float32).contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    loss(x).backward()
    assert x.grad.is_contiguous(memory_format=torch.channels_last)


def test_bf16_maps_give_nearly_the_float32_loss():
    style, picture = randn(1, 8, 16, 16, dtype=torch.float32), randn(1, 8, 16, 16, seed=1, dtype=torch.float32)
    loss = SlicedWassersteinLoss([style], seed=0)
    assert float(loss(picture.bfloat16())) == pytest.approx(float(loss(picture)), rel=2e-2)


def test_a_blend_weighted_one_and_zero_is_the_first_style():
    a, b = randn(1, 4, 5, 5, seed=8, dtype=torch.float64), randn(1, 4, 5, 5, seed=9, dtype=torch.float64) + 3.0
    picture = randn(1, 4, 5, 5, seed=10, dtype=torch.float64)
    blended = SlicedWassersteinLoss([a, b], [1.0, 0.0], seed=2)
    assert float(blended(picture)) == pytest.approx(float(SlicedWassersteinLoss([a], seed=2)(picture)), rel=1e-12)


def test_directions_are_unit_vectors_fixed_by_the_seed_and_new_at_each_layer_and_level():
    v = random_directions(64, 64, seed=direction_seed(0, "relu1_1", (32, 32)))
    assert torch.allclose(v.norm(dim=1), torch.ones(64, dtype=torch.float64))
    assert torch.equal(v, random_directions(64, 64, seed=direction_seed(0, "relu1_1", (32, 32))))
    assert direction_seed(0, "relu1_1", (32, 32)) == 925639990  # the same in every process (no hash())
    seeds = {direction_seed(s, layer, size) for s, layer, size in [(0, "relu1_1", (32, 32)), (0, "relu2_1", (32, 32)),
             (0, "relu1_1", (64, 64)), (1, "relu1_1", (32, 32))]}  # fmt: skip
    assert len(seeds) == 4


def test_directions_of_the_wrong_width_are_refused():
    with pytest.raises(ValueError, match=r"shape \(K, 4\)"):
        SlicedWassersteinLoss([randn(1, 4, 3, 3, dtype=torch.float64)], directions=torch.eye(3, dtype=torch.float64))


def test_a_run_with_the_sliced_term_lowers_it_and_repeats_bit_for_bit(tiny_net, tiny_options):
    options = {**tiny_options, "preset": "paint", "w2_weight": 0.0, "sliced_weight": 5.0, "steps": 8}
    content, style = smooth_image(48, 64, 1)[0], smooth_image(72, 72, 2)[0]
    rec = Recorder()
    first = render("stylize", content=content, style=style, reporter=rec, net=tiny_net, **options)
    assert set(rec.terms[0]) == {"content", "sliced"}
    assert rec.terms[-1]["sliced"] < rec.terms[0]["sliced"]
    again = render("stylize", content=content, style=style, net=tiny_net, **options)
    assert torch.equal(first, again)  # the directions come from the seed


def test_the_sliced_term_takes_masks_and_the_planner_counts_it(tiny_net, tiny_options):
    content, styles = smooth_image(48, 64, 3)[0], [smooth_image(64, 64, 4)[0], smooth_image(64, 64, 5)[0]]
    left = torch.zeros(1, 48, 64)
    left[..., :32] = 1.0
    options = {**tiny_options, "preset": "paint", "w2_weight": 0.0, "sliced_weight": 5.0, "steps": 3}
    rec = Recorder()
    render("stylize", content=content, style=styles, masks=[left, 1 - left], reporter=rec, net=tiny_net, **options)
    assert all(math.isfinite(s["sliced"]) and s["sliced"] > 0 for s in rec.terms)
    cfg = Config(**options).resolved()
    job = Job(content, styles)
    without = term_loads(dataclasses.replace(cfg, sliced_weight=0.0), job, tiny_net, (64, 48), "fp32")
    assert term_loads(cfg, job, tiny_net, (64, 48), "fp32").step > without.step
