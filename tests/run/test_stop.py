"""Stopping a run: ``Reporter.should_stop`` ends it with ``errors.Stopped`` carrying the picture."""

from __future__ import annotations

import pytest
import torch

from fuchun.api import render
from fuchun.errors import Stopped
from fuchun.report.base import Reporter
from helpers import noise_image


@pytest.fixture
def content() -> torch.Tensor:
    return noise_image(60, 80, seed=1)[0]  # 4:3


@pytest.fixture
def style() -> torch.Tensor:
    return noise_image(70, 70, seed=2)[0]


class _StopAfter(Reporter):
    """Asks the run to stop once ``n`` steps are done."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, 0

    def step(self, progress) -> None:
        self.seen = progress.step

    def should_stop(self) -> bool:
        return self.seen >= self.n


def test_a_stop_request_ends_the_run_with_the_picture_at_the_output_size(tiny_net, tiny_options, content, style):
    options = {**tiny_options, "size": 96, "scales": [64], "steps": 10}
    with pytest.raises(Stopped) as stopped:
        render("stylize", content=content, style=style, net=tiny_net, reporter=_StopAfter(3), **options)
    full = render("stylize", content=content, style=style, net=tiny_net, **options)
    assert (stopped.value.step, stopped.value.steps) == (3, 10)
    assert stopped.value.image.shape == full.shape  # upsampled from the coarse scale it stopped at
    assert 0 <= stopped.value.image.min() and stopped.value.image.max() <= 1


def test_a_reporter_that_never_asks_to_stop_runs_every_step(tiny_net, tiny_options, content, style):
    reporter = _StopAfter(10**9)
    render("stylize", content=content, style=style, net=tiny_net, reporter=reporter, **tiny_options)
    assert reporter.seen == tiny_options["steps"]
