"""Tests for the content, Gram and total-variation losses and their blend weights.

The losses raise low precisions to float32 but keep float64, so gradients are checked with
``gradcheck`` in float64 at its default tolerances and, where the gradient has a closed
form, against that formula.
"""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.losses import ContentLoss, GramLoss, TVLoss, content_loss, gram_matrix, total_variation
from fuchun.losses._common import normalised_weights
from helpers import randn


def _gradcheck(fn, x: torch.Tensor) -> bool:
    """gradcheck in float64 at the default step and tolerances."""
    x = x.detach().to(torch.float64).requires_grad_(True)
    return torch.autograd.gradcheck(fn, (x,))


def _hand_gram(f: torch.Tensor) -> torch.Tensor:
    """F Fᵀ / M for one (C, H, W) map, by explicit sums over positions, in float64."""
    c = f.shape[0]
    flat = f.reshape(c, -1).to(torch.float64)
    m = flat.shape[1]
    g = torch.zeros(c, c, dtype=torch.float64)
    for i in range(c):
        for j in range(c):
            g[i, j] = sum(flat[i, k] * flat[j, k] for k in range(m)) / m
    return g


# ----------------------------------------------------------------------------- content


def test_content_loss_known_value():
    feats = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [3.0, 2.0]]]])
    # mean sq diff = (0 + 4 + 0 + 4) / 4 = 2; mean(target²) = (1 + 0 + 9 + 4) / 4 = 3.5
    expected = 2.0 / 3.5
    assert content_loss(feats, target).item() == pytest.approx(expected, rel=1e-6)
    assert ContentLoss(target)(feats).item() == pytest.approx(expected, rel=1e-6)


def test_content_loss_zero_at_target_and_function_equals_module():
    target, feats = randn(1, 3, 4, 5, seed=1), randn(1, 3, 4, 5, seed=2)
    assert content_loss(target, target).item() == 0.0
    assert ContentLoss(target)(target.clone()).item() == 0.0
    torch.testing.assert_close(ContentLoss(target)(feats), content_loss(feats, target))


def test_content_loss_module_rejects_shape_mismatch():
    loss = ContentLoss(randn(1, 3, 4, 5))
    with pytest.raises(ValueError):
        loss(randn(1, 3, 4, 6))


def test_content_loss_function_rejects_shape_mismatch():
    with pytest.raises((ValueError, RuntimeError)):
        content_loss(randn(1, 3, 4, 5), randn(1, 3, 1, 5))


def test_content_loss_gradient():
    target = randn(1, 2, 3, 3, seed=3)
    feats = randn(1, 2, 3, 3, seed=4).requires_grad_(True)
    ContentLoss(target)(feats).backward()
    expected = 2 * (feats.detach() - target) / (feats.numel() * target.pow(2).mean())
    torch.testing.assert_close(feats.grad, expected)
    assert _gradcheck(lambda x: content_loss(x, target.double()), feats)


def test_content_loss_float64_gradcheck():
    """float64 inputs stay float64 (only lower precisions are raised to float32)."""
    target = randn(1, 2, 3, 3, seed=3, dtype=torch.float64)
    x = randn(1, 2, 3, 3, seed=4, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: content_loss(x, target), (x,))


# ----------------------------------------------------------------------------- Gram


def test_gram_matrix_equals_hand_computed():
    feats = randn(2, 3, 4, 5, seed=5)
    g = gram_matrix(feats)
    assert g.shape == (2, 3, 3) and g.dtype == torch.float32
    for b in range(2):
        torch.testing.assert_close(g[b].double(), _hand_gram(feats[b]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g, g.transpose(1, 2))


def test_gram_matrix_known_value():
    # two channels, two positions: F = [[1, 2], [3, 4]] -> F Fᵀ / 2
    feats = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 1, 2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 2
    torch.testing.assert_close(gram_matrix(feats), expected)


def test_gram_matrix_mask_of_ones_is_no_mask():
    feats = randn(1, 3, 4, 5, seed=6)
    torch.testing.assert_close(gram_matrix(feats, torch.ones(1, 1, 4, 5)), gram_matrix(feats))


def test_gram_matrix_mask_selects_region():
    feats = randn(1, 3, 4, 5, seed=7)
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., 1:3, 2:5] = 1.0
    region = feats[..., 1:3, 2:5]
    torch.testing.assert_close(gram_matrix(feats, mask), gram_matrix(region), rtol=1e-5, atol=1e-6)


def test_gram_loss_zero_at_target_and_value():
    style, feats = randn(1, 3, 4, 5, seed=8), randn(1, 3, 4, 5, seed=9)
    target = gram_matrix(style)
    loss = GramLoss(target)
    assert loss(style).item() == 0.0
    assert GramLoss.from_styles([style])(style).item() == 0.0
    expected = (gram_matrix(feats) - target).pow(2).mean() / target.pow(2).mean()
    torch.testing.assert_close(loss(feats), expected)


def test_gram_loss_blend_weights():
    s1, s2 = randn(1, 3, 4, 5, seed=10), randn(1, 3, 6, 3, seed=11)
    feats = randn(1, 3, 5, 5, seed=12)
    single = GramLoss.from_styles([s1])
    first_only = GramLoss.from_styles([s1, s2], [1.0, 0.0])
    torch.testing.assert_close(first_only.target, single.target)
    torch.testing.assert_close(first_only(feats), single(feats))
    both = GramLoss.from_styles([s1, s2], [1.0, 1.0])
    torch.testing.assert_close(both.target, (gram_matrix(s1) + gram_matrix(s2)) / 2)
    # default weights are equal
    torch.testing.assert_close(GramLoss.from_styles([s1, s2]).target, both.target)
    # weights are normalised: [2, 6] is [0.25, 0.75]
    torch.testing.assert_close(
        GramLoss.from_styles([s1, s2], [2.0, 6.0]).target, 0.25 * gram_matrix(s1) + 0.75 * gram_matrix(s2)
    )


def test_gram_loss_style_of_another_size():
    tile = randn(1, 3, 3, 4, seed=13)
    style = tile.repeat(1, 1, 2, 3)  # 6x12: the same statistics as the tile
    loss = GramLoss.from_styles([style])
    assert loss(tile).item() == pytest.approx(0.0, abs=1e-6)
    other = loss(randn(1, 3, 5, 7, seed=14))
    assert math.isfinite(other.item()) and other.item() > 0


def test_gram_loss_with_mask():
    style, feats = randn(1, 3, 4, 5, seed=15), randn(1, 3, 4, 5, seed=16)
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., :2, :] = 1.0
    loss = GramLoss(gram_matrix(style), mask=mask)
    plain = GramLoss(gram_matrix(style))
    torch.testing.assert_close(loss(feats), plain(feats[..., :2, :]))


def test_gram_loss_gradients():
    style = randn(1, 2, 3, 3, seed=17)
    loss = GramLoss(gram_matrix(style))
    assert _gradcheck(loss, randn(1, 2, 3, 3, seed=18))
    assert _gradcheck(lambda x: gram_matrix(x).sum(), randn(1, 2, 2, 3, seed=19))


# ----------------------------------------------------------------------------- TV


def test_total_variation_known_value():
    image = torch.zeros(1, 3, 2, 3)
    image[0, 0] = torch.tensor([[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]])
    # dy (channel 0): [2, 1, -1] -> 6; dx: [1, 2], [0, 0] -> 5; other channels zero
    # mean over 1*3*1*3 = 9 dy values and 1*3*2*2 = 12 dx values
    expected = 6 / 9 + 5 / 12
    assert total_variation(image).item() == pytest.approx(expected, rel=1e-6)
    assert TVLoss()(image).item() == pytest.approx(expected, rel=1e-6)


def test_total_variation_zero_on_flat_image_and_gradients():
    assert total_variation(torch.full((2, 3, 4, 5), 0.3)).item() == 0.0
    image = randn(1, 3, 4, 5, seed=20)
    torch.testing.assert_close(TVLoss()(image), total_variation(image))
    assert _gradcheck(total_variation, randn(1, 3, 3, 4, seed=21))


# ----------------------------------------------------------------------------- blend weights


def test_normalised_weights():
    assert normalised_weights(None, 2) == [0.5, 0.5]
    assert normalised_weights([1.0, 3.0], 2) == [0.25, 0.75]
    assert normalised_weights([2.0, 0.0], 2) == [1.0, 0.0]


@pytest.mark.parametrize(
    ("weights", "n"),
    [([1.0, -0.5], 2), ([0.0, 0.0], 2), ([1.0], 2), ([1.0, 1.0, 1.0], 2), ([], 0), (None, 0)],
)
def test_normalised_weights_errors(weights, n):
    with pytest.raises(ValueError):
        normalised_weights(weights, n)
