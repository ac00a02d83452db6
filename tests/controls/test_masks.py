"""Spatial control with masks (Gatys et al. 2017): reading, fitting, pooling, regional losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fuchun.api import render
from fuchun.cli.options import config_options
from fuchun.cli.parser import build_parser, main
from fuchun.config.options import Config
from fuchun.controls.masks import (
    RegionLoss,
    feather,
    fit_masks,
    layer_masks,
    load_masks,
    masks_at_scale,
    read_mask,
    resize_mask,
)
from fuchun.losses import GramLoss, HistogramLoss, ShiftedGramLoss, histogram_match, shifted_gram
from fuchun.losses.histogram import masked_histogram_match, quantile_table
from fuchun.objective import Objective
from helpers import ALL_TERM_NAMES, ALL_TERMS, noise_image

STYLE_TERMS = tuple(name for name in ALL_TERM_NAMES if name not in ("content", "tv"))


def _objective(net, styles, masks=None, blend=None, **options) -> Objective:
    cfg = Config(**{**ALL_TERMS, **options}).resolved()
    return Objective(net, cfg, content=noise_image(40, 48, 1), styles=styles, blend=blend, masks=masks)


def _terms(objective: Objective, image: torch.Tensor) -> dict[str, float]:
    return {k: float(v) for k, v in objective(image)[1].items()}


def _halves(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    left = torch.zeros(1, 1, h, w)
    left[..., : w // 2] = 1
    return left, 1 - left


# ----------------------------------------------------------------------------- reading and fitting


def test_read_mask_is_one_channel_luma(tmp_path):
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    rgb[:, :4] = 255
    rgb[:, 4:, 0] = 255  # pure red: luma 0.299
    Image.fromarray(rgb).save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.shape == (1, 6, 8)
    assert torch.allclose(mask[0, :, :4], torch.ones(6, 4), atol=1e-6)
    assert torch.allclose(mask[0, :, 4:], torch.full((6, 4), 0.299), atol=1e-6)
    assert read_mask(Image.new("L", (5, 3), 128)).shape == (1, 3, 5)


def test_wrong_size_masks_are_resized_to_the_output():
    mask = torch.zeros(1, 7, 10)
    mask[:, :, :5] = 1
    (fitted,) = fit_masks([mask], (48, 40), sigma=0)
    assert fitted.shape == (1, 40, 48)
    assert float(fitted[0, :, :20].min()) == pytest.approx(1.0) and float(fitted[0, :, 28:].max()) == pytest.approx(0.0)
    assert float(fitted.min()) >= 0 and float(fitted.max()) <= 1
    assert masks_at_scale([fitted], (24, 20), "cpu")[0].shape == (1, 1, 20, 24)
    assert fit_masks(None, (4, 4), sigma=1) is None and masks_at_scale(None, (4, 4), "cpu") is None


def test_resize_keeps_a_mask_of_the_right_size():
    mask = torch.rand(1, 5, 6)
    assert torch.equal(resize_mask(mask, (6, 5)), mask)


def test_feather_softens_edges_keeps_white_white():
    left = _halves(20, 30)[0][0]
    soft = feather(left, sigma=2.0)
    assert torch.equal(feather(torch.ones(1, 9, 9), sigma=3.0), torch.ones(1, 9, 9))  # exactly 1 at the borders too
    assert torch.equal(feather(left, sigma=0), left)
    edge = soft[0, 10, 13:17]
    assert bool((edge > 0.01).all() and (edge < 0.99).all())
    assert bool((edge[1:] < edge[:-1]).all())
    assert float(soft[0, :, :5].min()) == pytest.approx(1.0, abs=1e-4)


def test_layer_masks_follow_the_network_pooling(tiny_net):
    mask = torch.ones(1, 1, 37, 45)  # odd sizes: ceil-mode pooling
    feats = tiny_net(noise_image(37, 45, 2), ["relu1_1", "relu2_1", "relu3_1", "relu5_1"])
    pooled = layer_masks(tiny_net, mask, feats)
    for name, f in feats.items():
        assert pooled[name].shape[-2:] == f.shape[-2:], name
        assert torch.equal(pooled[name], torch.ones_like(pooled[name])), name  # white stays white
    left, _ = _halves(8, 8)
    soft = layer_masks(tiny_net, feather(left[0], sigma=1.0)[None], ["relu2_1"])["relu2_1"]
    assert soft.shape == (1, 1, 4, 4) and 0 < float(soft[0, 0, 0, 2]) < float(soft[0, 0, 0, 1]) < 1


# ----------------------------------------------------------------------------- masked losses


def test_full_masks_equal_the_unmasked_losses():
    f, s = noise_image(9, 11, 3) * 2, noise_image(8, 12, 4)
    ones = torch.ones(1, 1, 9, 11)
    assert torch.allclose(GramLoss.from_styles([s], mask=ones)(f), GramLoss.from_styles([s])(f), rtol=1e-6)
    for d in (1, 3):
        for a, b in zip(shifted_gram(f, d, mask=ones), shifted_gram(f, d), strict=True):
            assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
    assert torch.allclose(
        ShiftedGramLoss.from_styles([s], [1, 2], mask=ones)(f), ShiftedGramLoss.from_styles([s], [1, 2])(f), rtol=1e-6
    )
    table = quantile_table([s])
    assert torch.equal(masked_histogram_match(f, table, ones), histogram_match(f, table))
    assert torch.allclose(HistogramLoss([s], mask=ones)(f), HistogramLoss([s])(f), rtol=1e-6)


def test_masked_shifted_gram_by_hand():
    f = noise_image(4, 5, 5).double()
    mask = noise_image(4, 5, 6)[:, :1].double()
    a_x, _ = shifted_gram(f, 2, mask=mask)
    w = mask[0, 0, :, 2:] * mask[0, 0, :, :3]  # weight of each (p, p + δ) pair
    expected = torch.einsum("hw,ihw,jhw->ij", w, f[0, :, :, 2:], f[0, :, :, :3]) / w.sum()
    assert torch.allclose(a_x[0], expected, atol=1e-12)


def test_masked_histogram_gives_the_region_the_style_quantiles():
    f = noise_image(6, 8, 7)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :3, :] = 1  # 24 region pixels
    mask[..., 3, :] = 0.3  # soft edge
    style = noise_image(4, 6, 8)  # 24 pixels: exactly one value per region pixel
    r = masked_histogram_match(f, quantile_table([style]), mask)
    region = r[..., :3, :].reshape(3, -1)
    assert torch.equal(region.sort(-1).values, style.reshape(3, -1).sort(-1).values)
    inside = f[..., :3, :].reshape(3, -1)
    assert torch.equal(region.argsort(-1), inside.argsort(-1))  # ranks kept
    assert torch.equal(r[..., 4:, :], f[..., 4:, :])  # weight 0: untouched
    edge = r[..., 3, :]
    assert bool(
        (edge >= style.amin((-2, -1))[..., None] - 1e-6).all()
        and (edge <= style.amax((-2, -1))[..., None] + 1e-6).all()
    )


def test_masked_losses_send_no_gradient_outside_the_mask():
    s = noise_image(8, 12, 9)
    left, _ = _halves(10, 12)
    for loss in (
        GramLoss.from_styles([s], mask=left),
        ShiftedGramLoss.from_styles([s], [1, 2], mask=left),
        HistogramLoss([s], mask=left),
    ):
        f = (noise_image(10, 12, 10) * 2).requires_grad_(True)
        loss(f).backward()
        assert float(f.grad[..., 6:].abs().max()) == 0.0, type(loss).__name__
        assert float(f.grad[..., :6].abs().max()) > 0.0, type(loss).__name__


def test_binned_histogram_refuses_masks():
    with pytest.raises(ValueError, match="hist-bins"):
        HistogramLoss([noise_image(4, 4, 1)], bins=16, mask=torch.ones(1, 1, 4, 4))


def test_region_loss_weights_by_coverage():
    f = noise_image(4, 4, 11)
    losses = [GramLoss.from_styles([noise_image(4, 4, 12)]), GramLoss.from_styles([noise_image(4, 4, 13)])]
    region = RegionLoss(losses, [0.25, 0.5])
    assert torch.allclose(region(f), 0.25 * losses[0](f) + 0.5 * losses[1](f))
    assert float(RegionLoss([], [])(f)) == 0.0


# ----------------------------------------------------------------------------- the objective


def test_one_style_whole_picture_mask_equals_unmasked(tiny_net):
    style, image = noise_image(44, 40, 2), noise_image(40, 48, 4)
    masked = _terms(_objective(tiny_net, [style], masks=[torch.ones(1, 1, 40, 48)]), image)
    plain = _terms(_objective(tiny_net, [style]), image)
    assert set(masked) == set(plain) == set(ALL_TERM_NAMES)
    for name in plain:
        assert masked[name] == pytest.approx(plain[name], rel=1e-5), name


def test_two_styles_whole_picture_to_the_first_equals_the_first_alone(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    ones = torch.ones(1, 1, 40, 48)
    masked = _terms(_objective(tiny_net, [first, second], masks=[ones, torch.zeros_like(ones)]), image)
    plain = _terms(_objective(tiny_net, [first]), image)
    for name in plain:
        assert masked[name] == pytest.approx(plain[name], rel=1e-5), name


def test_two_half_masks_are_the_sum_of_each_region(tiny_net):
    first, second, image = noise_image(44, 40, 2), noise_image(36, 52, 3), noise_image(40, 48, 4)
    left, right = _halves(40, 48)
    both = _terms(_objective(tiny_net, [first, second], masks=[left, right]), image)
    only_left = _terms(_objective(tiny_net, [first], masks=[left]), image)
    only_right = _terms(_objective(tiny_net, [second], masks=[right]), image)
    for name in STYLE_TERMS:
        assert both[name] == pytest.approx(only_left[name] + only_right[name], rel=1e-5), name
    # each region sees only its own style: swapping the masks changes the loss
    swapped = _terms(_objective(tiny_net, [first, second], masks=[right, left]), image)
    assert swapped["gram"] != pytest.approx(both["gram"], rel=1e-3)


def test_style_gradient_stays_inside_the_mask(tiny_net):
    # the style terms alone, at shallow layers: relu2_1 sees 10 px around a pixel, so 16 px beyond the mask get nothing
    left, _ = _halves(40, 48)
    objective = _objective(
        tiny_net,
        [noise_image(44, 40, 2)],
        masks=[left],
        content_weight=0.0,
        tv_weight=0.0,
        style_layers=("relu1_1", "relu2_1"),
        hist_layers=("relu1_1",),
        w2_layers=("relu1_1", "relu2_1"),
        sliced_layers=("relu1_1", "relu2_1"),
        shifts={"relu2_1": (2,)},
    )
    image = noise_image(40, 48, 4).requires_grad_(True)
    objective(image)[0].backward()
    assert float(image.grad[..., 40:].abs().max()) == 0.0
    assert float(image.grad[..., :24].abs().max()) > 0.0


def test_mask_count_and_blend_are_checked(tiny_net, tmp_path):
    styles = [noise_image(44, 40, 2), noise_image(36, 52, 3)]
    with pytest.raises(ValueError, match="1 mask image"):
        _objective(tiny_net, styles, masks=[torch.ones(1, 1, 40, 48)])
    with pytest.raises(ValueError, match="cannot be combined"):
        _objective(tiny_net, styles, masks=[torch.ones(1, 1, 40, 48)] * 2, blend=[1.0, 1.0])
    with pytest.raises(ValueError, match="3 mask image"):
        load_masks([torch.ones(1, 4, 4)] * 3, n_styles=2)
    with pytest.raises(ValueError, match="style-blend"):
        load_masks([torch.ones(1, 4, 4)] * 2, n_styles=2, blend=[1.0, 2.0])
    assert load_masks(None, n_styles=2) is None


# ----------------------------------------------------------------------------- runs and the CLI


def _save_halves(tmp_path) -> list[str]:
    left = np.zeros((30, 20), dtype=np.uint8)  # not the output size: resized
    left[:, :10] = 255
    paths = [tmp_path / "left.png", tmp_path / "right.png"]
    Image.fromarray(left).save(paths[0])
    Image.fromarray(255 - left).save(paths[1])
    return [str(p) for p in paths]


def test_render_with_masks_coarse_to_fine(tiny_net, tiny_options, tmp_path):
    styles = [noise_image(60, 60, 5)[0], noise_image(50, 70, 6)[0]]
    out = render(
        "stylize",
        content=noise_image(56, 72, 7)[0],
        style=styles,
        net=tiny_net,
        masks=_save_halves(tmp_path),
        **{**tiny_options, "scales": (48, 64), "steps": 3},
    )
    assert out.shape == (3, 50, 64) and bool(torch.isfinite(out).all())


def test_cli_mask_flag(tmp_path, small_rgb, capsys):
    ns = build_parser().parse_args(
        ["stylize", "c.png", "s1.png", "s2.png", "--mask", "a.png", "b.png", "--mask-feather", "0", "-o", "o.png"]
    )
    assert config_options(ns) == {"masks": ["a.png", "b.png"], "mask_feather": 0.0}
    out = tmp_path / "out.png"
    masks = _save_halves(tmp_path)
    status = main(
        [
            "stylize",
            str(small_rgb),
            str(small_rgb),
            str(small_rgb),
            "-o",
            str(out),
            "--mask",
            masks[0],
            "--device",
            "cpu",
        ]
    )
    assert status == 2
    assert "1 mask image(s) for 2 style image(s)" in capsys.readouterr().err
    status = main(
        [
            "stylize",
            str(small_rgb),
            str(small_rgb),
            str(small_rgb),
            "-o",
            str(out),
            "--mask",
            *masks,
            "--style-blend",
            "1,1",
            "--device",
            "cpu",
        ]
    )
    assert status == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert not out.exists()
