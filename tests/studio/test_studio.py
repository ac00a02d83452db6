"""The studio's parts without a browser: settings, command line, limits, painted masks, the service."""

from __future__ import annotations

import dataclasses
import shlex
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from fuchun.api import make_config
from fuchun.cli.options import config_options
from fuchun.cli.parser import build_parser
from fuchun.config.options import MODE_DEFAULTS, Config
from fuchun.errors import ImageError, UsageError
from fuchun.report.base import Progress, RunInfo
from fuchun.studio.command import command_line
from fuchun.studio.files import safe_name
from fuchun.studio.limits import Limits, check_upload
from fuchun.studio.paint import hex_rgb, labels, painted_masks
from fuchun.studio.runner import PreviewReporter, time_left
from fuchun.studio.server import parse_auth
from fuchun.studio.service import Request, Studio, Upload
from fuchun.studio.settings import BRUSH_COLOURS, Settings
from helpers import EXAMPLES_DIR


@pytest.mark.parametrize("mode", list(MODE_DEFAULTS))
def test_defaults_are_the_clis(mode):
    s = Settings.for_mode(mode)
    cfg = Config().updated(**MODE_DEFAULTS[mode])
    assert (s.size, s.steps, s.seed, s.init, s.style_scale) == (
        cfg.size,
        cfg.steps,
        cfg.seed,
        cfg.init,
        cfg.style_scale,
    )
    assert (s.precision, s.device, s.preset, s.mask_feather) == (
        cfg.precision,
        cfg.device,
        cfg.preset,
        cfg.mask_feather,
    )
    assert s.options() == {}  # nothing differs from the CLI's defaults


def test_values_round_trip():
    s = Settings(mode="texture", size=96, steps=7, strength=1.5, tv_weight=2.0, blend=(1.0, 0.5, 0.0, 1.0))
    assert Settings.from_values(s.values()) == s


def test_the_strength_slider_is_the_clis_strength_dial():
    assert Settings().strength == Config().strength  # the default is the CLI's
    options = Settings(strength=8.0, w2_weight=7.0).options()
    assert options["strength"] == 8.0
    assert options["w2_weight"] == 7.0  # an explicit weight is passed as given
    assert "content_weight" not in options and "tv_weight" not in options
    cfg = make_config("stylize", **options)
    assert (cfg.strength, cfg.w2_weight) == (8.0, 7.0)


@pytest.mark.parametrize(
    "settings",
    [
        Settings(size=96, steps=30, strength=1.5, preserve_colors="luminance", seed=3, precision="fp32"),
        Settings(mode="texture", size=128, style_scale=0.5, tv_weight=0.0),
        Settings(mode="reconstruct", size=64, init="noise", content_weight=2.0),
    ],
)
def test_the_command_line_parses_back_to_the_same_options(settings):
    content = None if settings.mode == "texture" else "photo.jpg"
    styles = [] if settings.mode == "reconstruct" else ["a b.jpg", "c.png"]
    options = {**settings.options(), **({"masks": ("mask-1.png", "mask-2.png")} if styles else {})}
    words = shlex.split(command_line(settings.mode, options=options, content=content, styles=styles))
    assert words[:2] == ["fuchun", settings.mode]
    ns = build_parser().parse_args(words[1:])
    parsed = config_options(ns)
    assert {k: tuple(v) if k == "masks" else v for k, v in parsed.items()} == options
    assert getattr(ns, "style", None) in (styles, None) and getattr(ns, "content", None) == content


def test_the_command_line_keeps_the_blend():
    line = command_line("stylize", options={}, content="p.jpg", styles=["a.jpg", "b.jpg"], blend=[3.0, 1.0])
    assert build_parser().parse_args(shlex.split(line)[1:]).style_blend == [3.0, 1.0]


def test_uploads_are_checked_with_one_sentence_and_no_server_path(tmp_path):
    limits = Limits(upload_bytes=10_000, upload_pixels=64 * 64)
    cases = {
        "notes.txt": b"hello, not a picture",
        "cut.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
        "huge.png": b"\0" * 20_000,
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    Image.new("RGB", (100, 80)).save(tmp_path / "many.png")
    Image.new("RGB", (20, 80)).save(tmp_path / "thin.png")
    truncated = tmp_path / "trunc.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 60, 3), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:-400])
    expected = {
        "notes.txt": "not an image",
        "cut.png": "image",
        "huge.png": "up to",
        "many.png": "megapixels",
        "thin.png": "at least",
        "trunc.jpg": "truncated",
    }
    for name, words in expected.items():
        with pytest.raises(ImageError) as info:
            check_upload(tmp_path / name, limits, role="the photo", name=name)
        message = str(info.value)
        assert words in message and f"'{name}'" in message and str(tmp_path) not in message, message
        assert "\n" not in message


def test_output_limits():
    limits = Limits(output_side=256, steps=100)
    limits.check_output(side=256, steps=100, largest=300)
    for side, steps, largest, words in [
        (300, 10, None, "limit of 256"),
        (200, 10, 150, "memory"),
        (64, 0, None, "steps"),
    ]:
        with pytest.raises(UsageError, match=words):
            limits.check_output(side=side, steps=steps, largest=largest)


def test_painted_layers_become_one_mask_per_brush_colour():
    layer = np.zeros((4, 6, 4), dtype=np.uint8)
    layer[:, :2] = (*hex_rgb(BRUSH_COLOURS[0]), 255)
    layer[:, 4:] = (*[max(0, c - 20) for c in hex_rgb(BRUSH_COLOURS[1])], 200)  # antialiased edge colour
    layer[0, 3] = (*hex_rgb(BRUSH_COLOURS[1]), 60)  # faint: not painted
    found = labels([layer])
    assert (found[:, :2] == 0).all() and (found[:, 4:] == 1).all() and (found[:, 2:4] == -1).all()
    masks = painted_masks({"layers": [layer]}, n_styles=2)
    assert [m.shape for m in masks] == [(1, 4, 6)] * 2
    assert masks[0].sum() == 8 and masks[1].sum() == 8
    assert painted_masks({"layers": [np.zeros((4, 6, 4), np.uint8)]}, n_styles=2) is None
    assert painted_masks(None, n_styles=1) is None


def test_safe_names_stay_in_their_folder():
    assert safe_name("../../etc/passwd", prefix="photo") == "photo-passwd"
    assert safe_name(".bashrc", prefix="painting-1") == "painting-1-bashrc"
    assert safe_name("my photo (1).JPG", prefix="photo") == "photo-my_photo_1_.JPG"


def test_auth_option():
    assert parse_auth("ada:s3cret:x") == ("ada", "s3cret:x")
    assert parse_auth(None) is None
    for bad in ("ada", ":pw", "ada:"):
        with pytest.raises(UsageError):
            parse_auth(bad)


def test_time_left_weighs_steps_by_their_pixels():
    info = RunInfo("vgg16", "x", "cpu", "fp32", sizes=[(10, 10), (20, 20)], steps=[2, 2], config=None)
    p = Progress(2, 4, 1, 2, (10, 10), 1.0, {}, 2.0, torch.zeros(1, 3, 10, 10))
    assert time_left(p, info) == pytest.approx(2.0 * 800 / 200)


def test_the_reporter_keeps_only_the_latest_preview_and_answers_stop():
    stop = threading.Event()
    r = PreviewReporter(stop, every=2)
    for step in range(1, 6):
        r.step(Progress(step, 5, 1, 1, (8, 6), 1.0, {"content": 1.0}, 0.1, torch.full((1, 3, 6, 8), step / 5)))
    assert r.preview.shape == (6, 8, 3) and r.preview[0, 0, 0] == round(4 / 5 * 255)
    assert not r.should_stop()
    stop.set()
    assert r.should_stop()


def test_requests_missing_inputs_get_a_sentence(tmp_path):
    studio = Studio(workdir=tmp_path)
    photo = tmp_path / "p.png"
    Image.new("RGB", (64, 48)).save(photo)
    cases = [
        (Request(Settings()), "needs a photo"),
        (Request(Settings(), Upload(str(photo), "p.png")), "needs at least one painting"),
        (Request(Settings(mode="texture")), "needs at least one painting"),
        (Request(Settings(size=5000), Upload(str(photo), "p.png"), [Upload(str(photo), "p.png")]), "limit"),
        (Request(Settings(seed=None), Upload(str(photo), "p.png"), [Upload(str(photo), "p.png")]), "need values"),
        (Request(Settings(tv_weight=-1.0), Upload(str(photo), "p.png"), [Upload(str(photo), "p.png")]), "negative"),
    ]
    for request, words in cases:
        (result,) = list(studio.run(studio.ticket(), request))
        assert result.failed and words in result.message, result.message
    assert studio.status()["waiting"] == 0 and studio.status()["finished"] == 0


def test_stop_before_the_start_and_unknown_tickets(tmp_path):
    studio = Studio(workdir=tmp_path)
    token = studio.ticket()
    assert studio.stop(token) and not studio.stop("someone-else")
    (result,) = list(studio.run(token, Request(Settings())))
    assert result.message == "stopped before it started"
    (result,) = list(studio.run("forged", Request(Settings())))
    assert result.failed


def test_settings_fields_cover_the_page():
    assert Settings.names()[-1] == "blend" and len(Settings().values()) == len(dataclasses.fields(Settings)) + 3


@pytest.mark.weights
@pytest.mark.parametrize("mode", ["texture", "reconstruct"])
def test_texture_and_reconstruction_through_the_studio(mode, tmp_path, real_weights):
    studio = Studio(workdir=tmp_path)
    request = Request(
        dataclasses.replace(Settings.for_mode(mode), size=64, steps=2),
        Upload(str(EXAMPLES_DIR / "tubingen.jpg"), "tubingen.jpg"),
        [Upload(str(EXAMPLES_DIR / "starry-night.jpg"), "starry-night.jpg")],
        init=Upload(str(EXAMPLES_DIR / "fuchun-mountains.jpg"), "fuchun-mountains.jpg")
        if mode == "reconstruct"
        else None,
    )
    *_frames, result = list(studio.run(studio.ticket(), request))
    assert not result.failed, result.message
    assert ("--init start-fuchun-mountains.jpg" in result.command) == (mode == "reconstruct")
    assert result.message.startswith("done") and max(result.picture.shape[:2]) == 64
    assert [p.name for p in result.files] == ["result.png", "result-16bit.png", "result.jpg", "fuchun-run.zip"]
    assert result.command.startswith(f"fuchun {mode} ")


def test_studio_without_its_extra_is_one_error_line(monkeypatch, capsys):
    from fuchun.cli.parser import main

    monkeypatch.setitem(__import__("sys").modules, "gradio", None)  # as if not installed
    assert main(["studio", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['fuchun: error: the studio needs its extra: pip install "fuchun[studio]"']


def test_studio_help_names_its_options(capsys):
    from fuchun.cli.parser import main

    with pytest.raises(SystemExit):
        main(["studio", "--help"])
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out and "--auth USER:PASS" in out
