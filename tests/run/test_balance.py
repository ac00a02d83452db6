"""The cap on the style terms' pull (fuchun.run.balance): measured at the photo, applied per scale."""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.api import make_config, render
from fuchun.config.presets import PRESETS, preset
from fuchun.objective import Objective
from fuchun.run.balance import style_factor, style_pull
from helpers import Recorder, smooth_image


def _objective(net, **options) -> tuple[Objective, torch.Tensor]:
    cfg = make_config("stylize", preset="paint", device="cpu", precision="fp32", **options).resolved()
    photo, style = smooth_image(48, 64, seed=1), smooth_image(64, 64, seed=2)
    return Objective(net, cfg, content=photo, styles=[style], size=(64, 48)), photo


def test_the_pull_is_the_style_gradients_norm_times_the_root_of_the_pixels(tiny_net):
    objective, photo = _objective(tiny_net)
    x = photo.clone().requires_grad_(True)
    _, terms = objective(x)
    (grad,) = torch.autograd.grad(terms["w2"], x)
    assert style_pull(objective, photo) == pytest.approx(float(grad.norm()) * math.sqrt(64 * 48), rel=1e-5)


def test_a_cap_below_the_pull_scales_the_style_terms_by_the_root_of_their_ratio(tiny_net):
    objective, photo = _objective(tiny_net)
    pull = style_pull(objective, photo)
    factor = style_factor(objective, photo, cap=pull / 16)
    assert factor == pytest.approx(0.25)
    _, before = objective(photo)
    objective.style_factor = factor
    _, after = objective(photo)
    assert float(after["w2"]) == pytest.approx(0.25 * float(before["w2"]), rel=1e-6)
    assert float(after["content"]) == float(before["content"])  # only the style terms
    assert style_pull(objective, photo) == pytest.approx(pull, rel=1e-5)  # measured as at factor 1


def test_no_cap_a_cap_above_the_pull_or_no_photo_leave_the_style_as_it_is(tiny_net):
    objective, photo = _objective(tiny_net)
    pull = style_pull(objective, photo)
    assert style_factor(objective, photo, cap=0.0) == 1.0
    assert style_factor(objective, photo, cap=2 * pull) == 1.0
    assert style_factor(objective, None, cap=pull / 10) == 1.0


def test_the_cap_is_off_in_every_preset_and_on_with_the_option():
    assert all(preset(name)["style_pull"] == 0 for name in PRESETS)  # opt-in: the default anchors instead
    assert make_config("stylize", style_pull=3.0).resolved().style_pull == 3.0


def test_a_run_applies_the_cap_to_its_style_terms(tiny_net):
    photo, style = smooth_image(48, 64, seed=1)[0], smooth_image(64, 64, seed=2)[0]
    options = dict(preset="paint", size=64, steps=1, scales="none", device="cpu", precision="fp32", net=tiny_net)
    free, capped = Recorder(), Recorder()
    render("stylize", content=photo, style=style, reporter=free, style_pull=0.0, **options)
    objective, _ = _objective(tiny_net)
    cap = style_pull(objective, smooth_image(48, 64, seed=1)) / 9
    render("stylize", content=photo, style=style, reporter=capped, style_pull=cap, **options)
    assert capped.terms[0]["w2"] == pytest.approx(free.terms[0]["w2"] / 3, rel=1e-4)
