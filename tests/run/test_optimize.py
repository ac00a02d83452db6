"""The optimiser's state carried across scales (fuchun.run.optimise.Carry)."""

from __future__ import annotations

import pytest
import torch

from fuchun.config.options import Config
from fuchun.errors import NonFiniteLoss
from fuchun.objective import Objective
from fuchun.run.optimise import Carry, optimise


def _objective(net, size: int) -> Objective:
    g = torch.Generator().manual_seed(size)
    content, style = torch.rand(1, 3, size, size, generator=g), torch.rand(1, 3, 48, 48, generator=g)
    cfg = Config(preset="gatys", shifts={}).resolved()
    return Objective(net, cfg, content=content, styles=[style])


def test_moments_resize_by_the_pixel_ratio():
    m = Carry(step=7, exp_avg=torch.full((1, 3, 4, 4), 2.0), exp_avg_sq=torch.full((1, 3, 4, 4), 3.0))
    exp_avg, exp_avg_sq = m.moments_at(8, 8)
    assert exp_avg.shape == exp_avg_sq.shape == (1, 3, 8, 8)
    torch.testing.assert_close(exp_avg, torch.full((1, 3, 8, 8), 2.0 / 4))
    torch.testing.assert_close(exp_avg_sq, torch.full((1, 3, 8, 8), 3.0 / 16))
    assert Carry().moments_at(8, 8) is None


def test_adam_carries_its_step_count_and_moments(tiny_net):
    moments = Carry()
    small = optimise(_objective(tiny_net, 32), torch.rand(1, 3, 32, 32), steps=3, optimizer="adam", carry=moments)
    assert moments.step == 3 and moments.exp_avg.shape == (1, 3, 32, 32)
    big = torch.nn.functional.interpolate(small, size=(48, 48), mode="bilinear")
    optimise(_objective(tiny_net, 48), big, steps=2, optimizer="adam", carry=moments)
    assert moments.step == 5 and moments.exp_avg_sq.shape == (1, 3, 48, 48)


def test_carried_moments_change_the_first_step_of_the_next_scale(tiny_net):
    # a fresh Adam's first step moves every pixel by exactly lr (m/√v = ±1); a carried one does not
    lr, start = 0.01, 0.25 + 0.5 * torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(1))
    moments = Carry()
    optimise(_objective(tiny_net, 32), torch.rand(1, 3, 32, 32), steps=4, optimizer="adam", lr=lr, carry=moments)
    fresh = optimise(_objective(tiny_net, 48), start, steps=1, optimizer="adam", lr=lr)
    carried = optimise(_objective(tiny_net, 48), start, steps=1, optimizer="adam", lr=lr, carry=moments)

    def moved_by_lr(out):  # share of pixels moved by lr (to 0.1 %)
        return float(((out - start).abs() - lr).abs().lt(lr * 1e-3).float().mean())

    assert moved_by_lr(fresh) > 0.99
    assert moved_by_lr(carried) < 0.2


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_without_moments_both_optimisers_run(tiny_net, optimizer):
    out = optimise(_objective(tiny_net, 32), torch.rand(1, 3, 32, 32), steps=2, optimizer=optimizer)
    assert out.shape == (1, 3, 32, 32) and 0 <= float(out.min()) and float(out.max()) <= 1


class _BlowUp:
    """A finite loss whose gradient is infinite: L-BFGS's next update makes every pixel NaN."""

    def __call__(self, image):
        loss = (image - 0.3).pow(2).sum() + (image - image.detach()).sqrt().sum()  # sqrt'(0) = inf
        return loss, {"blow-up": loss}


@pytest.mark.parametrize("steps", [1, 2])
def test_lbfgs_keeps_no_update_it_never_evaluated(steps):
    # with one evaluation left torch's L-BFGS still updates the pixels; that update went out unchecked
    start, seen = torch.rand(1, 3, 8, 8), []
    try:
        out = optimise(_BlowUp(), start, steps=steps, on_step=lambda s, loss, t, img: seen.append(img.clone()))
    except NonFiniteLoss as exc:  # the second evaluation sees the NaN pixels
        assert steps == 2 and torch.equal(exc.image, start)
        return
    assert steps == 1 and len(seen) == 1
    assert torch.isfinite(out).all() and torch.equal(out, start.clamp(0, 1))


def test_adam_refuses_a_last_update_that_made_the_pixels_non_finite():
    start = torch.rand(1, 3, 8, 8)
    with pytest.raises(NonFiniteLoss) as info:
        optimise(_BlowUp(), start, steps=1, optimizer="adam")
    assert torch.equal(info.value.image, start)


def test_adam_average_is_the_bias_corrected_mean_of_the_iterates(tiny_net):
    objective, start = _objective(tiny_net, 32), torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    seen = []  # the image each step evaluates: x0, x1, x2, x3
    last = optimise(
        objective,
        start,
        steps=4,
        optimizer="adam",
        lr=0.05,
        on_step=lambda step, loss, terms, image: seen.append(image.clone()),
    )
    averaged = optimise(objective, start, steps=4, optimizer="adam", lr=0.05, average=0.5)
    xs = [*seen[1:], last]  # the iterates after steps 1..4
    # decay d: x_i weighs d^(4-i) (1 - d) / (1 - d^4)
    weights = [0.5**3, 0.5**2, 0.5, 1.0]
    expected = sum(w * x for w, x in zip(weights, xs, strict=True)) * 0.5 / (1 - 0.5**4)
    torch.testing.assert_close(averaged, expected.clamp(0, 1))
    assert not torch.allclose(averaged, last)


def test_average_must_be_below_one(tiny_net):
    with pytest.raises(ValueError, match="average"):
        optimise(_objective(tiny_net, 32), torch.rand(1, 3, 32, 32), steps=1, optimizer="adam", average=1.0)
