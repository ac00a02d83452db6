"""Tests for the exact (sort-based) and binned histogram losses of Risser et al.

Style quantiles are compared with numpy's ``method="hazen"``: it places the k-th of K
sorted values at level (k + ½)/K and interpolates linearly between them (clamping outside),
which is the definition in ``histogram_match``/``quantile_table``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fuchun.losses import HistogramLoss, histogram_match, quantile_table
from helpers import generator


def _distinct(c: int, h: int, w: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    """(1, C, H, W) with distinct values at least 0.01·scale apart in each channel."""
    g = generator(seed)
    m = h * w
    rows = [(torch.randperm(m, generator=g).float() + torch.rand(m, generator=g) * 0.5) / m for _ in range(c)]
    return (torch.stack(rows) * scale).reshape(1, c, h, w)


def _ranks(x: torch.Tensor) -> torch.Tensor:
    return x.argsort(-1).argsort(-1)


def _hazen(values: torch.Tensor, levels: np.ndarray) -> np.ndarray:
    return np.quantile(values.double().numpy().ravel(), levels, method="hazen")


def _levels(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


# ----------------------------------------------------------------------------- histogram_match


def test_match_equal_sizes_is_exact_and_keeps_ranks():
    feats, style = _distinct(3, 4, 5, seed=1), _distinct(3, 5, 4, seed=2, scale=7.0) - 2.0
    matched = histogram_match(feats, quantile_table([style]))
    assert matched.shape == feats.shape
    f, s, r = feats.reshape(3, -1), style.reshape(3, -1), matched.reshape(3, -1)
    assert torch.equal(r.sort(-1).values, s.sort(-1).values)
    assert torch.equal(_ranks(r), _ranks(f))


@pytest.mark.parametrize("style_shape", [(7, 5), (2, 4), (3, 4), (1, 3)])
def test_match_other_size_gives_style_quantiles(style_shape):
    feats = _distinct(2, 3, 4, seed=3)  # M = 12
    style = _distinct(2, *style_shape, seed=4, scale=3.0)  # K = 35, 8, 12, 3
    matched = histogram_match(feats, quantile_table([style])).reshape(2, -1)
    # order is kept (ties are possible where several ranks clamp to the style's extremes)
    by_rank = matched.gather(-1, feats.reshape(2, -1).argsort(-1))
    assert (by_rank.diff(dim=-1) >= 0).all()
    for c in range(2):
        expected = _hazen(style[0, c], _levels(12))
        np.testing.assert_allclose(matched[c].sort().values.double().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_match_hazen_interpolation_by_hand():
    # style sorted values 0, 10, 20, 30 at levels 1/8, 3/8, 5/8, 7/8; M = 2 asks for levels
    # 1/4 and 3/4, halfway between the first two and the last two
    style = torch.tensor([30.0, 0.0, 20.0, 10.0]).reshape(1, 1, 2, 2)
    feats = torch.tensor([5.0, -1.0]).reshape(1, 1, 1, 2)
    matched = histogram_match(feats, quantile_table([style]))
    assert matched.flatten().tolist() == pytest.approx([25.0, 5.0])
    # M = 8 asks for levels 1/16, 3/16, ..., 15/16: a quarter of the way between neighbours,
    # and levels below 1/8 or above 7/8 clamp to the extremes
    feats = torch.arange(8.0).reshape(1, 1, 2, 4)
    matched = histogram_match(feats, quantile_table([style]))
    assert matched.flatten().tolist() == pytest.approx([0.0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30.0])


def test_match_uniform_to_exponential():
    def exp_quantile(p):
        return -torch.log1p(-p)

    g = generator(5)
    k = 400
    style = exp_quantile((torch.arange(k) + 0.5) / k)[torch.randperm(k, generator=g)].reshape(1, 1, 20, 20)
    # equal sizes: the matched values are exactly the exponential's quantiles at the ranks
    feats = torch.rand(1, 1, 20, 20, generator=g)
    matched = histogram_match(feats, quantile_table([style])).flatten()
    ranks = _ranks(feats.flatten())
    torch.testing.assert_close(matched, exp_quantile((ranks + 0.5) / k))
    # other size: the quantile function up to linear interpolation (checked away from the tail)
    feats = torch.rand(1, 1, 10, 15, generator=g)
    m = feats.numel()
    matched = histogram_match(feats, quantile_table([style])).flatten()
    levels = (_ranks(feats.flatten()) + 0.5) / m
    body = levels < 0.95
    torch.testing.assert_close(matched[body], exp_quantile(levels[body]), rtol=0, atol=1e-3)


def test_match_channels_are_independent():
    scales = torch.tensor([1e-3, 1.0, 1e3]).view(1, 3, 1, 1)
    offsets = torch.tensor([5.0, -2.0, 0.0]).view(1, 3, 1, 1)
    style = _distinct(3, 4, 4, seed=6) * scales + offsets
    feats = _distinct(3, 4, 4, seed=7)
    matched = histogram_match(feats, quantile_table([style]))
    for c in range(3):
        assert torch.equal(matched[0, c].flatten().sort().values, style[0, c].flatten().sort().values)
    # swapping generated channels does not change which style channel each is matched to
    swapped = histogram_match(feats[:, [2, 0, 1]], quantile_table([style]))
    for c in range(3):
        assert torch.equal(swapped[0, c].flatten().sort().values, style[0, c].flatten().sort().values)


def test_match_batch_of_two():
    style = _distinct(2, 3, 3, seed=8)
    feats = torch.cat([_distinct(2, 4, 4, seed=9), _distinct(2, 4, 4, seed=10)])
    table = quantile_table([style])
    matched = histogram_match(feats, table)
    assert matched.shape == (2, 2, 4, 4)
    for b in range(2):
        torch.testing.assert_close(matched[b : b + 1], histogram_match(feats[b : b + 1], table))
    loss = HistogramLoss([style])
    value = loss(feats)
    assert math.isfinite(value.item()) and value.item() > 0


# ----------------------------------------------------------------------------- HistogramLoss


def test_loss_value_and_wasserstein():
    feats, style = _distinct(3, 4, 5, seed=11), _distinct(3, 5, 4, seed=12, scale=2.0) + 0.3
    loss = HistogramLoss([style])
    value = loss(feats)
    r = histogram_match(feats, quantile_table([style]))
    scale = style.pow(2).mean()
    torch.testing.assert_close(value, (feats - r).pow(2).mean() / scale)
    # equal sizes: per channel, the squared 1-D Wasserstein-2 distance of the empirical laws
    f_sorted = feats.reshape(3, -1).double().sort(-1).values
    s_sorted = style.reshape(3, -1).double().sort(-1).values
    w2_squared = (f_sorted - s_sorted).pow(2).mean(-1)
    assert value.item() == pytest.approx((w2_squared.mean() / scale.double()).item(), rel=1e-5)


def test_loss_zero_at_target_and_blind_to_position():
    style = _distinct(3, 4, 5, seed=13)
    loss = HistogramLoss([style])
    assert loss(style).item() == 0.0
    shuffled = style.reshape(3, -1)[:, torch.randperm(20, generator=generator(14))].reshape(1, 3, 4, 5)
    assert loss(shuffled).item() == 0.0
    # a style of another size with the same distribution: 2x3 tiling of the target
    assert HistogramLoss([style.repeat(1, 1, 2, 3)])(style).item() == pytest.approx(0.0, abs=1e-12)


def test_loss_gradient_treats_target_as_constant():
    style = _distinct(2, 3, 4, seed=15, scale=3.0)
    loss = HistogramLoss([style])
    feats = _distinct(2, 4, 4, seed=16).requires_grad_(True)
    target = loss.target(feats)
    assert not target.requires_grad
    loss(feats).backward()
    expected = 2 * (feats.detach() - target) / (feats.numel() * loss.scale)
    torch.testing.assert_close(feats.grad, expected)


def test_loss_gradcheck():
    # values are >= 1/16 apart, so a step of 1e-3 never changes a rank (R stays constant)
    style = _distinct(2, 3, 4, seed=17)
    loss = HistogramLoss([style])
    x = _distinct(2, 4, 4, seed=18).double().requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (x,))


@pytest.mark.parametrize("style_hw", [(64, 64), (48, 80)])
def test_binned_close_to_exact(style_hw):
    g = generator(19)
    feats = torch.randn(1, 3, 64, 64, generator=g)
    scales = torch.tensor([1.0, 3.0, 0.2]).view(1, 3, 1, 1)
    style = torch.exp(0.5 * torch.randn(1, 3, *style_hw, generator=g)) * scales
    exact = HistogramLoss([style])(feats).item()
    binned_loss = HistogramLoss([style], bins=256)
    binned = binned_loss(feats).item()
    assert exact > 0.1
    assert abs(binned / exact - 1) < 0.03
    assert binned_loss(style).item() < 1e-4


# ----------------------------------------------------------------------------- quantile_table


def test_table_one_style_is_sorted_values():
    style = _distinct(3, 4, 5, seed=20)
    expected = style.reshape(3, -1).sort(-1).values
    assert torch.equal(quantile_table([style]), expected)
    assert torch.equal(quantile_table([style], [2.5]), expected)


def test_table_weight_zero_second_style_smaller():
    # K = max M_i = M_1: the table is the first style's sorted values
    s1, s2 = _distinct(2, 5, 6, seed=21), _distinct(2, 3, 4, seed=22, scale=20.0) - 10.0
    table = quantile_table([s1, s2], [1.0, 0.0])
    assert table.shape == (2, 30)
    torch.testing.assert_close(table, s1.reshape(2, -1).sort(-1).values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fill", [9.0, -100.0])
def test_table_weight_zero_second_style_larger(fill):
    # a style of weight 0 has no mass: the table is the first style's own, whatever the other holds
    s1 = torch.tensor([0.0, 10.0, 20.0, 30.0]).reshape(1, 1, 2, 2)
    s2 = torch.full((1, 1, 2, 4), fill)
    table = quantile_table([s1, s2], [1.0, 0.0])
    assert torch.equal(table, quantile_table([s1]))


def test_table_equal_blend_is_pooled_quantiles():
    s1, s2 = _distinct(2, 4, 5, seed=25), _distinct(2, 5, 4, seed=26, scale=3.0) + 0.5
    table = quantile_table([s1, s2], [1.0, 1.0])
    assert table.shape == (2, 20)
    for c in range(2):
        pooled = torch.cat([s1[0, c].flatten(), s2[0, c].flatten()])
        np.testing.assert_allclose(table[c].double().numpy(), _hazen(pooled, _levels(20)), rtol=1e-5, atol=1e-5)
    # the loss built from both styles uses that table
    feats = _distinct(2, 4, 5, seed=27)
    loss = HistogramLoss([s1, s2], [1.0, 1.0])
    torch.testing.assert_close(loss.table, table)
    expected = (feats - histogram_match(feats, table)).pow(2).mean() / table.pow(2).mean()
    torch.testing.assert_close(loss(feats), expected)


def test_loss_bf16_channels_last_value_and_gradient():
    # bf16 features (as under autocast) in channels-last memory: value and gradient as in float32
    style = _distinct(3, 20, 20, seed=19, scale=2.0)
    loss = HistogramLoss([style])
    feats = _distinct(3, 24, 30, seed=20).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    feats.requires_grad_(True)
    value = loss(feats)
    value.backward()
    exact = feats.detach().float()
    target = loss.target(exact)
    torch.testing.assert_close(value, (exact - target).pow(2).mean() / loss.scale)
    assert feats.grad.dtype == torch.bfloat16
    assert feats.grad.is_contiguous(memory_format=torch.channels_last)
    expected = 2 * (exact - target) / (exact.numel() * loss.scale)
    torch.testing.assert_close(feats.grad.float(), expected, rtol=1e-2, atol=1e-2 * float(expected.abs().max()))


def test_loss_in_channel_chunks_equals_all_at_once(monkeypatch):
    import fuchun.losses.histogram as histogram

    style, feats = _distinct(7, 6, 6, seed=21), _distinct(7, 5, 8, seed=22).requires_grad_(True)
    loss = HistogramLoss([style])
    whole = loss(feats)
    (g_whole,) = torch.autograd.grad(whole, feats)
    monkeypatch.setattr(histogram, "CHANNEL_CHUNK", 3)  # chunks of 3, 3 and 1 channels
    chunked = loss(feats)
    (g_chunked,) = torch.autograd.grad(chunked, feats)
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(g_chunked, g_whole)
