"""Tests for fuchun.losses.wasserstein: the Gaussian Wasserstein-2 style loss and its matrix square roots."""

from __future__ import annotations

import pytest
import torch

from fuchun.losses import WassersteinLoss, gaussian_moments, gaussian_w2, trace_sqrt
from fuchun.losses.wasserstein import covariance
from fuchun.numeric import sym_power
from helpers import randn


def _spd(n: int, seed: int = 0) -> torch.Tensor:
    x = randn(n, 2 * n, seed=seed, dtype=torch.float64)
    return x @ x.T / (2 * n) + 0.1 * torch.eye(n, dtype=torch.float64)


def test_sqrtm_squares_back():
    a = _spd(6)
    root = sym_power(a, 0.5)
    assert torch.allclose(root @ root, a, atol=1e-10)
    assert torch.allclose(root, root.T)


def test_trace_sqrt_is_the_sum_of_root_eigenvalues_and_passes_gradcheck():
    a = _spd(5, seed=1)
    assert float(trace_sqrt(a)) == pytest.approx(float(torch.linalg.eigvalsh(a).sqrt().sum()))
    x = a.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m: trace_sqrt((m + m.T) / 2), (x,))


def test_trace_sqrt_rejects_non_square():
    with pytest.raises(ValueError, match="square"):
        trace_sqrt(torch.zeros(3, 4))


def test_gaussian_w2_of_known_gaussians():
    # diagonal covariances: W2² = ‖μ1 − μ2‖² + Σ (σ1 − σ2)²
    m1, m2 = torch.tensor([[0.0, 1.0]]), torch.tensor([[3.0, 1.0]])
    c1, c2 = torch.diag(torch.tensor([4.0, 1.0]))[None], torch.diag(torch.tensor([1.0, 9.0]))[None]
    assert float(gaussian_w2(m1, c1, m2, c2)) == pytest.approx(9.0 + (2 - 1) ** 2 + (1 - 3) ** 2, rel=1e-5)


def test_loss_is_zero_at_the_target_and_positive_elsewhere():
    style = randn(1, 6, 5, 4, dtype=torch.float64)
    loss = WassersteinLoss(gaussian_moments(style))
    assert abs(float(loss(style))) < 1e-10
    assert float(loss(randn(1, 6, 5, 4, seed=3, dtype=torch.float64))) > 0.01


def test_loss_is_the_normalised_closed_form():
    # different sizes are fine
    style, picture = randn(1, 6, 5, 4, dtype=torch.float64), randn(1, 6, 7, 3, seed=2, dtype=torch.float64)
    ms, ss = gaussian_moments(style)
    mp, sp = gaussian_moments(picture)
    expected = gaussian_w2(mp, covariance(mp, sp), ms, covariance(ms, ss)) / ss.diagonal(dim1=-2, dim2=-1).sum(-1)
    assert float(WassersteinLoss((ms, ss))(picture)) == pytest.approx(float(expected), rel=1e-9)


@pytest.mark.parametrize("shape", [(1, 6, 5, 4), (1, 6, 2, 2)])  # more positions than channels, and fewer
def test_loss_gradcheck_in_float64(shape):
    loss = WassersteinLoss(gaussian_moments(randn(1, 6, 5, 4, dtype=torch.float64)))
    x = randn(*shape, seed=4, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(loss, (x,))


def test_blend_of_styles_averages_raw_moments():
    a, b = randn(1, 4, 6, 6, seed=5, dtype=torch.float64), randn(1, 4, 6, 6, seed=6, dtype=torch.float64) + 2.0
    blended = WassersteinLoss.from_styles([a, b], [3.0, 1.0])
    ma, sa = gaussian_moments(a)
    mb, sb = gaussian_moments(b)
    assert torch.allclose(blended.mean, 0.75 * ma + 0.25 * mb)
    assert torch.allclose(blended.cov, covariance(0.75 * ma + 0.25 * mb, 0.75 * sa + 0.25 * sb))


def test_mask_restricts_the_statistics_to_the_region():
    style = randn(1, 4, 6, 6, dtype=torch.float64)
    inside, outside = randn(1, 4, 6, 3, seed=7, dtype=torch.float64), randn(1, 4, 6, 3, seed=8, dtype=torch.float64) * 5
    picture = torch.cat([inside, outside], dim=-1)  # (1, 4, 6, 6)
    mask = torch.cat([torch.ones(1, 1, 6, 3), torch.zeros(1, 1, 6, 3)], dim=-1).double()
    masked = WassersteinLoss(gaussian_moments(style), mask=mask)
    assert float(masked(picture)) == pytest.approx(float(WassersteinLoss(gaussian_moments(style))(inside)), rel=1e-9)


def test_float32_features_and_a_rank_deficient_style():
    style = torch.zeros(1, 8, 4, 4)
    style[:, :2] = randn(1, 2, 4, 4, dtype=torch.float32).abs()  # six dead channels
    loss = WassersteinLoss(gaussian_moments(style))
    x = randn(1, 8, 4, 4, seed=9, dtype=torch.float32).abs().requires_grad_(True)
    value = loss(x)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(x.grad).all()
