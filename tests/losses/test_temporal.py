"""Tests for the temporal loss (fuchun.losses.temporal): the function, its module, its term in a run."""

from __future__ import annotations

import torch

from fuchun.config.options import Config
from fuchun.losses import TemporalLoss, temporal_loss
from fuchun.losses.temporal import TemporalTarget
from fuchun.objective import Objective
from fuchun.run.engine import run
from fuchun.run.job import Job


def test_temporal_loss_is_zero_at_the_target_and_where_masked():
    x = torch.rand(1, 3, 8, 10)
    ones, zeros = torch.ones(1, 1, 8, 10), torch.zeros(1, 1, 8, 10)
    assert float(temporal_loss(x, x, ones)) == 0.0
    assert float(temporal_loss(x, torch.rand(1, 3, 8, 10), zeros)) == 0.0
    y = x + 0.1
    assert abs(float(temporal_loss(y, x, ones)) - 0.01) < 1e-6  # the mean over all D = C·H·W values


def test_temporal_loss_module_matches_function_and_gradcheck():
    x, w, c = torch.rand(1, 3, 5, 6), torch.rand(1, 3, 5, 6), (torch.rand(1, 1, 5, 6) > 0.3).float()
    assert torch.equal(TemporalLoss(w, c)(x), temporal_loss(x, w, c))
    x64 = x.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda t: temporal_loss(t, w.double(), c.double()), (x64,))


def test_objective_has_a_temporal_term(tiny_net):
    cfg = Config(preset="gatys", device="cpu", precision="fp32").resolved()
    content = torch.rand(1, 3, 32, 32)
    target = torch.rand(1, 3, 32, 32)
    objective = Objective(
        tiny_net, cfg, content=content, styles=[], temporal=TemporalTarget(target, torch.ones(1, 1, 32, 32), 10.0),
    )  # fmt: skip
    _, terms = objective(target)
    assert float(terms["temporal"]) == 0.0
    _, terms = objective(content)
    assert abs(float(terms["temporal"]) - 10 * float(temporal_loss(content, target, torch.ones(1, 1, 32, 32)))) < 1e-5


def test_a_strong_temporal_pull_keeps_the_warped_frame(tiny_net, tiny_options):
    """With the temporal target and start, the run stays near the target where the mask is 1."""
    from fuchun.api import make_config

    cfg = make_config("stylize", **tiny_options)
    content, style = torch.rand(3, 48, 64), torch.rand(3, 48, 64)
    target = torch.rand(3, 48, 64)
    mask = torch.ones(1, 48, 64)
    mask[:, :, :32] = 0
    free = run(cfg, Job(content=content, styles=[style]), net=tiny_net)
    held = run(
        cfg,
        Job(content=content, styles=[style], start=target, temporal=TemporalTarget(target, mask, weight=1e4)),
        net=tiny_net,
    )
    held_err = float((held - target)[:, :, 32:].abs().mean())
    assert held_err < 0.02
    assert held_err < 0.2 * float((free - target)[:, :, 32:].abs().mean())
