"""Tests for the content, Gram and total-variation losses, and a smoke test of the Objective.

The losses raise low precisions to float32 but keep float64, so gradients are checked with
``gradcheck`` in float64 at its default tolerances and, where the gradient has a closed
form, against that formula.
"""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.config.options import Config
from fuchun.losses import ContentLoss, GramLoss, TVLoss, content_loss, gram_matrix, total_variation
from fuchun.losses._common import normalised_weights
from fuchun.net.features import VGGFeatures
from fuchun.objective import Objective

TINY_WIDTHS = (4, 4, 8, 8, 8)


def _rand(*shape: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=dtype)


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
    target, feats = _rand(1, 3, 4, 5, seed=1), _rand(1, 3, 4, 5, seed=2)
    assert content_loss(target, target).item() == 0.0
    assert ContentLoss(target)(target.clone()).item() == 0.0
    torch.testing.assert_close(ContentLoss(target)(feats), content_loss(feats, target))


def test_content_loss_module_rejects_shape_mismatch():
    loss = ContentLoss(_rand(1, 3, 4, 5))
    with pytest.raises(ValueError):
        loss(_rand(1, 3, 4, 6))


def test_content_loss_function_rejects_shape_mismatch():
    with pytest.raises((ValueError, RuntimeError)):
        content_loss(_rand(1, 3, 4, 5), _rand(1, 3, 1, 5))


def test_content_loss_gradient():
    target = _rand(1, 2, 3, 3, seed=3)
    feats = _rand(1, 2, 3, 3, seed=4).requires_grad_(True)
    ContentLoss(target)(feats).backward()
    expected = 2 * (feats.detach() - target) / (feats.numel() * target.pow(2).mean())
    torch.testing.assert_close(feats.grad, expected)
    assert _gradcheck(lambda x: content_loss(x, target.double()), feats)


def test_content_loss_float64_gradcheck():
    """float64 inputs stay float64 (only lower precisions are raised to float32)."""
    target = _rand(1, 2, 3, 3, seed=3, dtype=torch.float64)
    x = _rand(1, 2, 3, 3, seed=4, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: content_loss(x, target), (x,))


# ----------------------------------------------------------------------------- Gram


def test_gram_matrix_equals_hand_computed():
    feats = _rand(2, 3, 4, 5, seed=5)
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
    feats = _rand(1, 3, 4, 5, seed=6)
    torch.testing.assert_close(gram_matrix(feats, torch.ones(1, 1, 4, 5)), gram_matrix(feats))


def test_gram_matrix_mask_selects_region():
    feats = _rand(1, 3, 4, 5, seed=7)
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., 1:3, 2:5] = 1.0
    region = feats[..., 1:3, 2:5]
    torch.testing.assert_close(gram_matrix(feats, mask), gram_matrix(region), rtol=1e-5, atol=1e-6)


def test_gram_loss_zero_at_target_and_value():
    style, feats = _rand(1, 3, 4, 5, seed=8), _rand(1, 3, 4, 5, seed=9)
    target = gram_matrix(style)
    loss = GramLoss(target)
    assert loss(style).item() == 0.0
    assert GramLoss.from_styles([style])(style).item() == 0.0
    expected = (gram_matrix(feats) - target).pow(2).mean() / target.pow(2).mean()
    torch.testing.assert_close(loss(feats), expected)


def test_gram_loss_blend_weights():
    s1, s2 = _rand(1, 3, 4, 5, seed=10), _rand(1, 3, 6, 3, seed=11)
    feats = _rand(1, 3, 5, 5, seed=12)
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
    tile = _rand(1, 3, 3, 4, seed=13)
    style = tile.repeat(1, 1, 2, 3)  # 6x12: the same statistics as the tile
    loss = GramLoss.from_styles([style])
    assert loss(tile).item() == pytest.approx(0.0, abs=1e-6)
    other = loss(_rand(1, 3, 5, 7, seed=14))
    assert math.isfinite(other.item()) and other.item() > 0


def test_gram_loss_with_mask():
    style, feats = _rand(1, 3, 4, 5, seed=15), _rand(1, 3, 4, 5, seed=16)
    mask = torch.zeros(1, 1, 4, 5)
    mask[..., :2, :] = 1.0
    loss = GramLoss(gram_matrix(style), mask=mask)
    plain = GramLoss(gram_matrix(style))
    torch.testing.assert_close(loss(feats), plain(feats[..., :2, :]))


def test_gram_loss_gradients():
    style = _rand(1, 2, 3, 3, seed=17)
    loss = GramLoss(gram_matrix(style))
    assert _gradcheck(loss, _rand(1, 2, 3, 3, seed=18))
    assert _gradcheck(lambda x: gram_matrix(x).sum(), _rand(1, 2, 2, 3, seed=19))


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
    image = _rand(1, 3, 4, 5, seed=20)
    torch.testing.assert_close(TVLoss()(image), total_variation(image))
    assert _gradcheck(total_variation, _rand(1, 3, 3, 4, seed=21))


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


# ----------------------------------------------------------------------------- Objective


def _tiny_net() -> VGGFeatures:
    torch.manual_seed(0)
    return VGGFeatures("vgg16", widths=TINY_WIDTHS)


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=gen)


def _config(**options) -> Config:
    options.setdefault("shifts", {"relu1_1": (1, 2)})
    return Config(preset="fuchun", **options).resolved()


def test_objective_all_terms_finite():
    net = _tiny_net()
    content, style = _image(40, 48, 1), _image(36, 52, 2)
    objective = Objective(net, _config(), content=content, styles=[style])
    image = content.clone().requires_grad_(True)
    total, terms = objective(image)
    assert set(terms) == {"content", "gram", "shifted", "hist", "tv"}
    assert math.isfinite(total.item())
    assert all(math.isfinite(v.item()) for v in terms.values())
    torch.testing.assert_close(total, sum(terms.values()))
    total.backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
    assert objective.warnings == []


def test_objective_zero_at_target():
    net = _tiny_net()
    image = _image(40, 48, 3)
    objective = Objective(net, _config(), content=image, styles=[image.clone()])
    _, terms = objective(image)
    for name in ("content", "gram", "shifted"):
        assert abs(terms[name].item()) < 1e-5, name
    assert terms["hist"].item() == pytest.approx(0.0, abs=1e-7)
    assert terms["tv"].item() > 0


def test_objective_skips_shift_too_large_with_warning():
    net = _tiny_net()
    content, style = _image(40, 48, 4), _image(36, 52, 5)
    # relu3_1 is 10x12 for the output and 9x13 for the style: 20 does not fit;
    # relu4_1 is 5x6 / 5x7: none of its shifts fit, so it gets no loss at all
    cfg = _config(shifts={"relu1_1": (1, 2), "relu3_1": (2, 20), "relu4_1": (50,)})
    objective = Objective(net, cfg, content=content, styles=[style])
    total, terms = objective(content)
    assert math.isfinite(total.item()) and "shifted" in terms
    assert set(objective.parts["shifted"]) == {"relu1_1", "relu3_1"}
    assert objective.parts["shifted"]["relu3_1"].deltas == [2]
    assert any("relu3_1" in w and "20" in w for w in objective.warnings)
    assert any("relu4_1" in w and "50" in w for w in objective.warnings)
    assert len(objective.warnings) == 2


def test_objective_all_weights_zero_raises():
    net = _tiny_net()
    image = _image(40, 48, 6)
    cfg = _config(content_weight=0.0, style_weight=0.0, shift_weight=0.0, hist_weight=0.0, tv_weight=0.0)
    with pytest.raises(ValueError):
        Objective(net, cfg, content=image, styles=[image])(image)


def test_content_layer_weights_weight_each_layers_relative_error():
    net = _tiny_net()
    content, image = _image(40, 48, 6), _image(40, 48, 7)

    def content_term(**options) -> float:
        cfg = Config(preset="gatys", style_weight=0.0, **options).resolved()
        return Objective(net, cfg, content=content, styles=[])(image)[1]["content"].item()

    shallow, deep = content_term(content_layers=("relu2_1",)), content_term(content_layers=("relu4_2",))
    both = content_term(content_layers=("relu2_1", "relu4_2"))
    weighted = content_term(content_layers=("relu2_1", "relu4_2"), content_layer_weights=(0.35, 1.0))
    assert both == pytest.approx(shallow + deep, rel=1e-5)  # default: 1 each, summed
    assert weighted == pytest.approx(0.35 * shallow + deep, rel=1e-5)
    assert Config().resolved().content_layers == ("relu2_1", "relu4_2")  # the default anchors the photo's edges
