"""Tests for fuchun.run.engine, fuchun.run.optimise and fuchun.api on a tiny random VGG (CPU, seconds)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import fuchun.objective
from fuchun.api import make_config, render
from fuchun.config.options import Config
from fuchun.errors import UsageError
from fuchun.io.read import ImageError, read_image, resize_image
from fuchun.report.base import Reporter, RunInfo
from fuchun.run.job import Job, output_size
from fuchun.run.optimise import NonFiniteLoss
from fuchun.run.schedule import level_sizes, split_steps
from helpers import Recorder, noise_image, smooth_image


@pytest.fixture
def content() -> torch.Tensor:
    return smooth_image(60, 80, seed=1, grain=0.2)[0]  # 4:3, becomes 64x48 at size 64


@pytest.fixture
def style() -> torch.Tensor:
    return smooth_image(70, 70, seed=2, grain=0.2)[0]


def _inputs(mode: str, content, style) -> dict:
    return {
        "stylize": {"content": content, "style": style},
        "texture": {"style": style},
        "reconstruct": {"content": content},
    }[mode]


# ----------------------------------------------------------------------------- sizes and steps


def test_output_size_keeps_the_content_aspect():
    job = Job(content=torch.zeros(3, 300, 400), styles=[torch.zeros(3, 50, 50)])
    assert output_size(Config(size=64), job) == (64, 48)
    assert output_size(Config(size=100), Job(content=torch.zeros(3, 400, 200))) == (50, 100)


def test_output_size_width_x_height_is_exact():
    job = Job(content=torch.zeros(3, 300, 400))
    assert output_size(Config(size=(90, 33)), job) == (90, 33)


def test_output_size_of_a_texture_follows_the_style_aspect():
    job = Job(content=None, styles=[torch.zeros(3, 200, 100), torch.zeros(3, 50, 50)])
    assert output_size(Config(size=64), job) == (32, 64)


def test_scale_sizes_auto_grows_by_sqrt2_from_256_to_the_output():
    sizes = level_sizes(Config(scales="auto"), (1024, 768))
    assert sizes[-1] == (1024, 768)
    assert max(sizes[0]) >= 256
    assert len(sizes) >= 3
    longest = [max(s) for s in sizes]
    assert longest == sorted(set(longest))  # strictly increasing
    for small, big in itertools.pairwise(longest):
        assert big / small == pytest.approx(math.sqrt(2), rel=0.02)
    for w, h in sizes:  # every scale keeps the aspect
        assert w / h == pytest.approx(1024 / 768, rel=0.02)


def test_scale_sizes_auto_below_256_is_a_single_scale():
    assert level_sizes(Config(scales="auto"), (128, 96)) == [(128, 96)]


def test_scale_sizes_none_is_the_output_only():
    assert level_sizes(Config(scales="none"), (1024, 768)) == [(1024, 768)]


def test_scale_sizes_explicit_list_drops_sizes_not_below_the_output():
    sizes = level_sizes(Config(scales=(256, 512, 1024, 2048)), (1024, 768))
    assert sizes == [(256, 192), (512, 384), (1024, 768)]


def test_scale_steps_single_scale_gets_everything():
    assert split_steps(300, [(512, 384)]) == [300]


def test_scale_steps_two_scales_split_the_budget_coarse_first():
    steps = split_steps(100, [(256, 192), (512, 384)])
    assert sum(steps) == 100
    assert steps[0] > steps[1] >= 100 // 8


def test_scale_steps_ordering_and_floor():
    sizes = level_sizes(Config(scales="auto"), (1024, 768))
    steps = split_steps(300, sizes)
    assert len(steps) == len(sizes)
    assert steps == sorted(steps, reverse=True)  # cheaper (smaller) scales get at least as many
    assert min(steps) >= 300 // 8


def test_scale_steps_sum_is_the_budget_with_many_scales():
    sizes = level_sizes(Config(scales="auto"), (1024, 768))
    assert sum(split_steps(300, sizes)) == 300


# ----------------------------------------------------------------------------- runs


@pytest.mark.parametrize("mode", ["stylize", "texture", "reconstruct"])
def test_render_returns_a_picture_in_range(mode, tiny_net, tiny_options, content, style):
    out = render(mode, **_inputs(mode, content, style), net=tiny_net, **tiny_options)
    expected_hw = (64, 64) if mode == "texture" else (48, 64)
    assert out.shape == (3, *expected_hw)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1


def test_render_accepts_paths_and_multiple_styles(tiny_net, tiny_options, examples_dir, texture_path):
    out = render(
        "stylize",
        content=examples_dir / "tubingen.jpg",
        style=[examples_dir / "starry-night.jpg", texture_path],
        style_blend=[3, 1],
        net=tiny_net,
        **{**tiny_options, "size": 80},
    )
    assert out.shape[0] == 3 and max(out.shape[1:]) == 80


def test_make_config_applies_mode_defaults_and_user_options_win():
    assert make_config("texture").init == "noise"
    cfg = make_config("reconstruct", style_weight=2.0)
    assert cfg.init == "noise" and cfg.style_weight == 2.0 and cfg.hist_weight == 0.0
    with pytest.raises(ValueError, match="unknown mode"):
        make_config("paint")


def test_stylize_starts_at_one_coarse_scale_with_its_own_step_budget():
    stylize, texture = make_config("stylize"), make_config("texture")
    assert (stylize.coarsest, stylize.steps) == (362, 200) and (texture.coarsest, texture.steps) == (256, 300)
    assert level_sizes(stylize, (512, 384)) == [(362, 272), (512, 384)]
    assert level_sizes(texture, (512, 512)) == [(256, 256), (362, 362), (512, 512)]
    assert level_sizes(stylize, (1024, 768))[0] == (362, 272)
    assert make_config("stylize", steps=50, coarsest=256).steps == 50


@pytest.mark.parametrize("init", ["content", "noise", "style-mean", "file"])
def test_init_modes_start_from_the_right_image(init, tiny_net, tiny_options, content, style, small_rgb):
    rec = Recorder()
    value = str(small_rgb) if init == "file" else init
    out = render(
        "stylize",
        content=content,
        style=style,
        init=value,
        reporter=rec,
        net=tiny_net,
        **{**tiny_options, "steps": 2, "seed": 3},
    )
    assert out.shape == (3, 48, 64)
    first = rec.first_image
    assert first.shape == (1, 3, 48, 64)
    if init == "content":
        expected = resize_image(content, size=(64, 48))
    elif init == "noise":
        expected = noise_image(48, 64, seed=3)[0]
    elif init == "file":
        expected = resize_image(read_image(small_rgb), size=(64, 48))
    else:
        mean = style.mean((-2, -1))
        assert first[0].mean((-2, -1)) == pytest.approx(mean.tolist(), abs=0.03)
        assert 0.05 < float(first[0].std((-2, -1)).mean()) < 0.15
        return
    torch.testing.assert_close(first[0], expected)


def test_init_content_without_content_is_an_error(tiny_net, tiny_options, style):
    with pytest.raises(ValueError, match="needs a content image"):
        render("texture", style=style, init="content", net=tiny_net, **tiny_options)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("mode", ["stylize", "texture"])
def test_same_seed_gives_identical_output(mode, precision, tiny_net, tiny_options, content, style):
    options = {**tiny_options, "precision": precision, "seed": 7, "init": "noise"}
    first = render(mode, **_inputs(mode, content, style), net=tiny_net, **options)
    second = render(mode, **_inputs(mode, content, style), net=tiny_net, **options)
    assert torch.equal(first, second)


def test_different_seed_with_noise_init_gives_different_output(tiny_net, tiny_options, style):
    a = render("texture", style=style, net=tiny_net, **{**tiny_options, "seed": 1})
    b = render("texture", style=style, net=tiny_net, **{**tiny_options, "seed": 2})
    assert (a - b).abs().mean() > 0.05


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
@pytest.mark.parametrize("mode", ["texture", "reconstruct"])
def test_optimizers_lower_the_loss(mode, optimizer, tiny_net, tiny_options, content, style):
    rec = Recorder()
    render(
        mode,
        **_inputs(mode, content, style),
        optimizer=optimizer,
        lr=0.05,
        reporter=rec,
        net=tiny_net,
        **{**tiny_options, "steps": 10},
    )
    losses = rec.losses
    assert len(losses) == 10
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.7 * losses[0]


def test_unknown_optimizer_is_rejected(tiny_net, tiny_options, style):
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        render("texture", style=style, optimizer="sgd", net=tiny_net, **tiny_options)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_non_finite_loss_stops_with_the_last_finite_image(
    optimizer, monkeypatch, tiny_net, tiny_options, content, style
):
    real = fuchun.losses.tv.total_variation
    calls = {"n": 0}

    def poisoned(image):
        calls["n"] += 1
        value = real(image)
        return value * float("nan") if calls["n"] > 3 else value

    monkeypatch.setattr(fuchun.losses.tv, "total_variation", poisoned)
    rec = Recorder()
    with pytest.raises(NonFiniteLoss, match="non-finite at step 3") as info:
        render(
            "stylize",
            content=content,
            style=style,
            optimizer=optimizer,
            reporter=rec,
            net=tiny_net,
            **{**tiny_options, "steps": 10, "tv_weight": 1.0},
        )
    assert info.value.step == 3
    assert len(rec.of("step")) == 3
    image = info.value.image
    assert image.shape == (1, 3, 48, 64)
    assert torch.isfinite(image).all()


def test_a_size_below_the_networks_minimum_blames_the_option(tiny_net, tiny_options, style):
    with pytest.raises(UsageError, match="option size: 20 px is below the network's minimum of 32 px"):
        render("stylize", content=torch.rand(3, 20, 20), style=style, net=tiny_net, **{**tiny_options, "size": 20})


def test_a_thin_output_is_an_image_error(tiny_net, tiny_options, style):
    with pytest.raises(ImageError, match="needs at least 32 px"):
        render("stylize", content=torch.rand(3, 20, 200), style=style, net=tiny_net, **tiny_options)


def test_a_small_content_is_upscaled_to_the_output_size(tiny_net, tiny_options, style):
    out = render("stylize", content=torch.rand(3, 20, 20), style=style, net=tiny_net, **tiny_options)
    assert out.shape == (3, 64, 64)


# ----------------------------------------------------------------------------- reporting


def test_reporter_gets_start_then_numbered_steps(tiny_net, tiny_options, content, style):
    rec = Recorder()
    render("stylize", content=content, style=style, reporter=rec, net=tiny_net, **tiny_options)
    kinds = [k for k, _ in rec.events]
    assert kinds == ["start"] + ["step"] * 5
    (info,) = rec.of("start")
    assert (info.backbone, info.device, info.precision) == ("vgg16", "cpu", "fp32")
    assert info.sizes == [(64, 48)] and info.steps == [5]
    assert "vgg16" in info.line() and "cpu" in info.line() and "fp32" in info.line()
    steps = rec.of("step")
    assert [p.step for p in steps] == [1, 2, 3, 4, 5]
    assert all(p.steps == 5 and p.scale == 1 and p.n_scales == 1 and p.size == (64, 48) for p in steps)
    assert all(p.loss == pytest.approx(sum(p.terms.values())) for p in steps)
    assert set(steps[0].terms) == {"content", "gram", "shifted", "hist", "tv"}
    elapsed = [p.elapsed for p in steps]
    assert elapsed == sorted(elapsed)


def test_steps_are_counted_across_scales(tiny_net, tiny_options, content, style):
    rec = Recorder()
    out = render(
        "stylize",
        content=content,
        style=style,
        reporter=rec,
        net=tiny_net,
        **{**tiny_options, "size": 96, "scales": (64,), "steps": 4},
    )
    (info,) = rec.of("start")
    assert info.sizes == [(64, 48), (96, 72)]
    steps = rec.of("step")
    assert [p.step for p in steps] == list(range(1, sum(info.steps) + 1))
    assert [p.scale for p in steps] == [1] * info.steps[0] + [2] * info.steps[1]
    assert steps[-1].size == (96, 72)
    assert out.shape == (3, 72, 96)


def test_a_shift_that_does_not_fit_is_skipped_with_one_warning(tiny_net, tiny_options, content, style):
    rec = Recorder()
    out = render(
        "stylize",
        content=content,
        style=style,
        reporter=rec,
        net=tiny_net,
        **{**tiny_options, "shifts": {"relu4_1": (50,), "relu2_1": (2,)}},
    )
    warnings = rec.of("warning")
    assert len(warnings) == 1
    assert "50" in warnings[0] and "relu4_1" in warnings[0] and "skipped" in warnings[0]
    assert torch.isfinite(out).all()


def test_the_default_reporter_is_silent(tiny_net, tiny_options, content, style, capsys):
    render("stylize", content=content, style=style, net=tiny_net, **tiny_options)
    assert capsys.readouterr() == ("", "")


class _Stop(Exception):
    pass


class _StopAtStart(Reporter):
    def start(self, info: RunInfo) -> None:
        self.info = info
        raise _Stop


def test_size_max_is_resolved_to_pixels(tiny_net, tiny_options, content, style):
    reporter = _StopAtStart()
    with pytest.raises(_Stop):  # stop before any step: only the chosen size matters here
        render(
            "stylize", content=content, style=style, reporter=reporter, net=tiny_net, **{**tiny_options, "size": "max"}
        )
    w, h = reporter.info.sizes[-1]
    assert isinstance(w, int) and isinstance(h, int) and w / h == pytest.approx(4 / 3, rel=0.05)
