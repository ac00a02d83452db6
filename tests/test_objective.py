"""Tests for fuchun.objective: the weighted sum of the term table's losses on a tiny random VGG."""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.config.options import Config
from fuchun.losses.terms import TERMS
from fuchun.objective import Objective, scale_grad
from helpers import ALL_TERM_NAMES, ALL_TERMS, noise_image


def test_the_all_terms_options_turn_on_every_term_of_the_table():
    assert set(ALL_TERM_NAMES) == {t.name for t in TERMS} - {"temporal"}  # temporal: a video frame's own target
    assert {t.weight for t in TERMS if t.name in ALL_TERM_NAMES} <= set(ALL_TERMS)


def test_objective_all_terms_finite(tiny_net):
    content, style = noise_image(40, 48, 1), noise_image(36, 52, 2)
    objective = Objective(tiny_net, Config(**ALL_TERMS).resolved(), content=content, styles=[style])
    image = content.clone().requires_grad_(True)
    total, terms = objective(image)
    assert set(terms) == set(ALL_TERM_NAMES)
    assert math.isfinite(total.item())
    assert all(math.isfinite(v.item()) for v in terms.values())
    torch.testing.assert_close(total, sum(terms.values()))
    total.backward()
    assert image.grad is not None and torch.isfinite(image.grad).all()
    assert objective.warnings == []


def test_objective_zero_at_target(tiny_net):
    image = noise_image(40, 48, 3)
    objective = Objective(tiny_net, Config(**ALL_TERMS).resolved(), content=image, styles=[image.clone()])
    _, terms = objective(image)
    for name in ("content", "gram", "shifted", "w2"):
        assert abs(terms[name].item()) < 1e-5, name
    for name in ("hist", "sliced"):
        assert terms[name].item() == pytest.approx(0.0, abs=1e-7), name
    assert terms["tv"].item() > 0


def test_objective_skips_shift_too_large_with_warning(tiny_net):
    content, style = noise_image(40, 48, 4), noise_image(36, 52, 5)
    # relu3_1 is 10x12 for the output and 9x13 for the style: 20 does not fit;
    # relu4_1 is 5x6 / 5x7: none of its shifts fit, so it gets no loss at all
    cfg = Config(preset="fuchun", shifts={"relu1_1": (1, 2), "relu3_1": (2, 20), "relu4_1": (50,)}).resolved()
    objective = Objective(tiny_net, cfg, content=content, styles=[style])
    total, terms = objective(content)
    assert math.isfinite(total.item()) and "shifted" in terms
    assert set(objective.parts["shifted"]) == {"relu1_1", "relu3_1"}
    assert objective.parts["shifted"]["relu3_1"].deltas == [2]
    assert any("relu3_1" in w and "20" in w for w in objective.warnings)
    assert any("relu4_1" in w and "50" in w for w in objective.warnings)
    assert len(objective.warnings) == 2


def test_objective_all_weights_zero_raises(tiny_net):
    image = noise_image(40, 48, 6)
    cfg = Config(**{**ALL_TERMS, **{k: 0.0 for k in ALL_TERMS if k.endswith("_weight")}}).resolved()
    with pytest.raises(ValueError):
        Objective(tiny_net, cfg, content=image, styles=[image])(image)


def test_content_layer_weights_weight_each_layers_relative_error(tiny_net):
    content, image = noise_image(40, 48, 6), noise_image(40, 48, 7)

    def content_term(**options) -> float:
        cfg = Config(preset="gatys", style_weight=0.0, **options).resolved()
        return Objective(tiny_net, cfg, content=content, styles=[])(image)[1]["content"].item()

    shallow, deep = content_term(content_layers=("relu2_1",)), content_term(content_layers=("relu4_2",))
    both = content_term(content_layers=("relu2_1", "relu4_2"))
    weighted = content_term(content_layers=("relu2_1", "relu4_2"), content_layer_weights=(0.35, 1.0))
    assert both == pytest.approx(shallow + deep, rel=1e-5)  # default: 1 each, summed
    assert weighted == pytest.approx(0.35 * shallow + deep, rel=1e-5)
    assert Config().resolved().content_layers == ("relu2_1", "relu4_2")  # the default anchors the photo's edges


def test_scale_grad_leaves_values_and_scales_only_the_gradient():
    x = torch.rand(5, requires_grad=True)
    y = scale_grad(x, 8.0)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full((5,), 8.0))
