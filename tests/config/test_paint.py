"""The default paint preset end to end on the tiny network: its terms, the w2-adam schedule, the strength dial."""

from __future__ import annotations

import math

import pytest
import torch

from fuchun.api import render
from fuchun.io.read import resize_image
from helpers import Recorder, smooth_image


@pytest.fixture
def content() -> torch.Tensor:
    return smooth_image(60, 80, seed=1)[0]  # 4:3, becomes 64x48 at size 64


@pytest.fixture
def style() -> torch.Tensor:
    return smooth_image(70, 70, seed=2)[0]


def test_default_preset_runs_content_and_wasserstein_terms(tiny_net, tiny_options, content, style):
    rec = Recorder()
    options = {**tiny_options, "preset": "paint"}
    render("stylize", content=content, style=style, reporter=rec, net=tiny_net, **options)
    steps = rec.steps
    assert set(steps[0].terms) == {"content", "w2"}
    assert all(math.isfinite(p.loss) for p in steps)
    assert steps[-1].terms["w2"] < steps[0].terms["w2"]


def test_w2_adam_preset_paints_coarse_to_fine_with_averaging(tiny_net, content, style):
    rec = Recorder()
    options = {"preset": "w2-adam", "size": 96, "coarsest": 48, "steps": 12, "device": "cpu", "precision": "fp32"}
    out = render("stylize", content=content, style=style, reporter=rec, net=tiny_net, **options)
    (info,) = rec.starts
    assert info.config.optimizer == "adam" and info.config.average > 0
    assert len(info.sizes) == 3 and info.steps[0] > info.steps[-1]  # most steps at the small scales
    assert out.shape[0] == 3 and torch.isfinite(out).all()


def test_strength_moves_the_picture_away_from_the_photo(tiny_net, tiny_options, content, style):
    options = {**tiny_options, "preset": "paint", "steps": 8}
    photo = resize_image(content, size=(64, 48))
    mild = render("stylize", content=content, style=style, net=tiny_net, strength=0, **options)
    bold = render("stylize", content=content, style=style, net=tiny_net, strength=10, **options)
    assert float((bold - photo).abs().mean()) > float((mild - photo).abs().mean())
