"""Tests for the shifted (cross-correlation) Gram loss of Berger & Memisevic.

Gradients are checked with a float64 ``gradcheck`` at its default tolerances.
"""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.losses import ShiftedGramLoss, shifted_gram
from fuchun.losses.shifted import fitting_shifts
from helpers import randn


def _hand_shifted(f: torch.Tensor, delta: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A_x and A_y of one (C, H, W) map by a loop over positions (crop, no wrap), float64."""
    c, h, w = f.shape
    f = f.to(torch.float64)
    a_x = torch.zeros(c, c, dtype=torch.float64)
    a_y = torch.zeros(c, c, dtype=torch.float64)
    for i in range(c):
        for j in range(c):
            sx = sum(f[i, y, x + delta] * f[j, y, x] for y in range(h) for x in range(w - delta))
            sy = sum(f[i, y + delta, x] * f[j, y, x] for y in range(h - delta) for x in range(w))
            a_x[i, j] = sx / (h * (w - delta))
            a_y[i, j] = sy / ((h - delta) * w)
    return a_x, a_y


def _hand_loss(feats: torch.Tensor, style: torch.Tensor, delta: int) -> torch.Tensor:
    f_x, f_y = shifted_gram(feats, delta)
    t_x, t_y = shifted_gram(style, delta)
    err = 0.5 * ((f_x - t_x).pow(2).mean() + (f_y - t_y).pow(2).mean())
    return err / (0.5 * (t_x.pow(2).mean() + t_y.pow(2).mean()))


@pytest.mark.parametrize("delta", [1, 2])
def test_shifted_gram_equals_hand_loop(delta):
    feats = randn(2, 3, 4, 5, seed=delta)
    a_x, a_y = shifted_gram(feats, delta)
    assert a_x.shape == a_y.shape == (2, 3, 3)
    for b in range(2):
        h_x, h_y = _hand_shifted(feats[b], delta)
        torch.testing.assert_close(a_x[b].double(), h_x, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a_y[b].double(), h_y, rtol=1e-5, atol=1e-6)


def test_shifted_gram_directions_are_distinct():
    # a map that varies only along x: vertical correlation at any δ is the plain Gram,
    # horizontal correlation is not
    row = torch.tensor([1.0, -2.0, 3.0, 0.5, -1.0])
    feats = row.expand(1, 1, 4, 5).clone()
    a_x, a_y = shifted_gram(feats, 1)
    assert a_y.item() == pytest.approx(row.pow(2).mean().item(), rel=1e-6)
    assert a_x.item() == pytest.approx((row[1:] * row[:-1]).mean().item(), rel=1e-6)


def test_shifted_gram_not_symmetric():
    a_x, a_y = shifted_gram(randn(1, 3, 5, 6, seed=3), 1)
    assert not torch.allclose(a_x, a_x.transpose(1, 2))
    assert not torch.allclose(a_y, a_y.transpose(1, 2))


@pytest.mark.parametrize(("h", "w", "delta"), [(4, 6, 4), (4, 6, 5), (6, 3, 3), (5, 5, 9), (4, 4, 0)])
def test_shifted_gram_rejects_shift_that_does_not_fit(h, w, delta):
    with pytest.raises(ValueError):
        shifted_gram(randn(1, 2, h, w), delta)


def test_shifted_gram_largest_fitting_shift():
    a_x, a_y = shifted_gram(randn(1, 2, 4, 6, seed=4), 3)
    assert torch.isfinite(a_x).all() and torch.isfinite(a_y).all()


def test_fitting_shifts():
    assert fitting_shifts([1, 2, 4, 8], (5, 9), (7, 4)) == [1, 2]
    assert fitting_shifts([4, 8, 16], (32, 40)) == [4, 8, 16]
    assert fitting_shifts([4, 8], (3, 3)) == []
    assert fitting_shifts([0, 3], (10, 10)) == [3]


def test_shifted_loss_zero_at_target_and_value():
    style, feats = randn(1, 3, 5, 6, seed=5), randn(1, 3, 5, 6, seed=6)
    loss = ShiftedGramLoss.from_styles([style], [2])
    assert loss(style).item() == 0.0
    torch.testing.assert_close(loss(feats), _hand_loss(feats, style, 2))


def test_shifted_loss_module_from_targets_equals_from_styles():
    style, feats = randn(1, 3, 5, 6, seed=7), randn(1, 3, 5, 6, seed=8)
    direct = ShiftedGramLoss({1: shifted_gram(style, 1), 2: shifted_gram(style, 2)})
    torch.testing.assert_close(direct(feats), ShiftedGramLoss.from_styles([style], [2, 1])(feats))


def test_shifted_loss_averages_over_shifts():
    style, feats = randn(1, 3, 5, 6, seed=9), randn(1, 3, 5, 6, seed=10)
    one = ShiftedGramLoss.from_styles([style], [1])(feats)
    two = ShiftedGramLoss.from_styles([style], [2])(feats)
    both = ShiftedGramLoss.from_styles([style], [1, 2])(feats)
    torch.testing.assert_close(both, (one + two) / 2)


def test_shifted_loss_blend():
    s1, s2 = randn(1, 3, 5, 6, seed=11), randn(1, 3, 7, 4, seed=12)
    feats = randn(1, 3, 6, 6, seed=13)
    single = ShiftedGramLoss.from_styles([s1], [1, 2])
    first_only = ShiftedGramLoss.from_styles([s1, s2], [1, 2], [1.0, 0.0])
    torch.testing.assert_close(first_only(feats), single(feats))
    both = ShiftedGramLoss.from_styles([s1, s2], [1], [1.0, 1.0])
    (x1, y1), (x2, y2) = shifted_gram(s1, 1), shifted_gram(s2, 1)
    torch.testing.assert_close(both.target(1)[0], ((x1 + x2) / 2)[0])
    torch.testing.assert_close(both.target(1)[1], ((y1 + y2) / 2)[0])


def test_shifted_loss_style_of_another_size():
    loss = ShiftedGramLoss.from_styles([randn(1, 3, 9, 11, seed=14)], [1, 3])
    value = loss(randn(1, 3, 5, 6, seed=15))
    assert math.isfinite(value.item()) and value.item() > 0


def test_shifted_loss_needs_a_shift():
    with pytest.raises(ValueError):
        ShiftedGramLoss({})


def test_shifted_loss_gradients():
    loss = ShiftedGramLoss.from_styles([randn(1, 2, 4, 4, seed=16)], [1, 2])
    feats = randn(1, 2, 4, 4, seed=17).requires_grad_(True)
    loss(feats).backward()
    assert torch.isfinite(feats.grad).all() and feats.grad.abs().sum() > 0
    x = randn(1, 2, 4, 4, seed=18).double().requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (x,))
