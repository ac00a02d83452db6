"""Several style images with blend weights: blended targets, the histogram's mixture, the CLI check.

Gram, shifted-Gram and Wasserstein-2 targets are weighted sums of each style's statistics
(W2: of the means and raw second moments); the histogram
target is the weighted mixture of the styles' activation distributions (a quantile table),
not an average of per-style losses.
"""

from __future__ import annotations

import pytest
import torch

from fuchun.api import render
from fuchun.cli.parser import main
from fuchun.config.options import Config
from fuchun.losses import HistogramLoss, quantile_table
from fuchun.objective import Objective
from helpers import ALL_TERM_NAMES, ALL_TERMS, noise_image


def _terms(net, styles, blend, image) -> dict[str, float]:
    cfg = Config(**ALL_TERMS).resolved()
    objective = Objective(net, cfg, content=noise_image(40, 48, 1), styles=styles, blend=blend)
    _, terms = objective(image)
    return {k: float(v) for k, v in terms.items()}


def _assert_same_terms(a: dict[str, float], b: dict[str, float]) -> None:
    assert set(a) == set(b) == set(ALL_TERM_NAMES)
    for name in a:
        assert a[name] == pytest.approx(b[name], rel=1e-5, abs=1e-7), name


def test_blend_one_zero_equals_the_first_style_alone(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    _assert_same_terms(_terms(tiny_net, [first, second], [1.0, 0.0], image), _terms(tiny_net, [first], None, image))


def test_blend_zero_one_equals_the_second_style_alone(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    _assert_same_terms(_terms(tiny_net, [first, second], [0.0, 5.0], image), _terms(tiny_net, [second], None, image))


def test_equal_blend_of_one_image_twice_equals_that_image(tiny_net):
    style, image = noise_image(44, 40, 2), noise_image(40, 48, 4)
    _assert_same_terms(_terms(tiny_net, [style, style], [1.0, 1.0], image), _terms(tiny_net, [style], None, image))


def test_blend_weights_are_normalised(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    _assert_same_terms(
        _terms(tiny_net, [first, second], [3.0, 1.0], image), _terms(tiny_net, [first, second], [0.75, 0.25], image)
    )


def test_blend_differs_from_each_style(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    mixed = _terms(tiny_net, [first, second], [1.0, 1.0], image)
    for alone in ([first], [second]):
        assert mixed["gram"] != pytest.approx(_terms(tiny_net, alone, None, image)["gram"], rel=1e-3)


def _disjoint_styles(m_low: int, m_high: int) -> list[torch.Tensor]:
    """Two 'feature maps' with values in [0, 1] and [10, 11], of different sizes."""
    gen = torch.Generator().manual_seed(5)
    low = torch.rand(1, 2, 1, m_low, generator=gen)
    high = 10 + torch.rand(1, 2, 1, m_high, generator=gen)
    return [low, high]


@pytest.mark.parametrize("m_low, m_high", [(400, 400), (300, 1200), (1000, 250)])
def test_histogram_target_of_a_blend_is_the_mixture(m_low, m_high):
    styles = _disjoint_styles(m_low, m_high)
    table = quantile_table(styles, [3.0, 1.0])  # (C, K)
    share_low = (table < 5).float().mean(-1)
    # each style's pixels carry mass w_i / M_i: 75 % of the quantiles come from the first
    # distribution whatever the pixel counts (an average of losses would give no such table)
    assert torch.allclose(share_low, torch.full_like(share_low, 0.75), atol=2.0 / table.shape[-1])
    assert bool((table[:, 1:] >= table[:, :-1]).all())


def test_histogram_loss_holds_the_mixture_table():
    styles = _disjoint_styles(300, 1200)
    loss = HistogramLoss(styles, [1.0, 3.0])
    share_low = (loss.table < 5).float().mean()
    assert float(share_low) == pytest.approx(0.25, abs=0.01)


def test_render_blend_one_zero_equals_single_style(tiny_net, tiny_options):
    content, first, second = noise_image(56, 72, 6)[0], noise_image(60, 60, 7)[0], noise_image(50, 70, 8)[0]
    blended = render(
        "stylize", content=content, style=[first, second], style_blend=[1, 0], net=tiny_net, **tiny_options
    )
    single = render("stylize", content=content, style=first, net=tiny_net, **tiny_options)
    assert torch.allclose(blended, single, atol=1e-5)


def test_cli_refuses_a_blend_of_the_wrong_length(tmp_path, small_rgb, capsys):
    out = tmp_path / "out.png"
    status = main(
        [
            "stylize",
            str(small_rgb),
            str(small_rgb),
            str(small_rgb),
            "-o",
            str(out),
            "--style-blend",
            "3,1,1",
            "--device",
            "cpu",
        ]
    )
    assert status == 2
    assert "--style-blend has 3 weights for 2 style images" in capsys.readouterr().err
    assert not out.exists()
