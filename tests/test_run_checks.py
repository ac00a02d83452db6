"""Options that used to be dropped or ignored, and checks made before a run starts.

``--config trace.json`` keeps the run's ``--bit-depth`` and ``--style-blend``; the Python
API writes a trace with ``trace=`` and refuses ``quiet`` and ``save_every`` (command-line
options) instead of ignoring them; its other options pass the command line's own bounds;
coarse-to-fine scales respect the network's minimum.
"""

from __future__ import annotations

import json

import pytest
import torch

import odd_files
from fuchun import stylize
from fuchun.api import render
from fuchun.cli.parser import main
from fuchun.config.options import Config
from fuchun.errors import ImageError, UsageError
from fuchun.io.read import read_image
from fuchun.run.schedule import Level, level_sizes
from helpers import QUICK_FLAGS, png_header


def test_a_trace_given_as_config_keeps_bit_depth_and_style_blend(tmp_path, capsys, tiny_pretrained):
    photo = odd_files.png(tmp_path, "photo.png")
    styles = [odd_files.png(tmp_path, "a.png", seed=1), odd_files.png(tmp_path, "b.png", seed=2)]
    first = ["stylize", photo, *styles, "-o", tmp_path / "first.png", "--bit-depth", "16", "--style-blend", "3,1"]
    assert main([str(a) for a in [*first, *QUICK_FLAGS, "--trace", tmp_path / "t1"]]) == 0
    record = json.loads((tmp_path / "t1" / "trace.json").read_text())
    assert (record["bit_depth"], record["style_blend"], record["options"]["quiet"]) == (16, [3.0, 1.0], True)

    again = ["stylize", photo, *styles, "-o", tmp_path / "again.png", "--config", tmp_path / "t1" / "trace.json"]
    assert main([str(a) for a in [*again, "--trace", tmp_path / "t2"]]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if not line.startswith("fuchun: warning: ")] == []  # quiet came back: no start line
    assert png_header(tmp_path / "again.png")[2] == 16
    assert json.loads((tmp_path / "t2" / "trace.json").read_text())["style_blend"] == [3.0, 1.0]
    assert torch.equal(read_image(tmp_path / "again.png"), read_image(tmp_path / "first.png"))

    flags_win = ["stylize", photo, *styles, "-o", tmp_path / "eight.png", "--config", tmp_path / "t1" / "trace.json"]
    assert main([str(a) for a in [*flags_win, "--bit-depth", "8"]]) == 0
    assert png_header(tmp_path / "eight.png")[2] == 8


def test_the_python_api_writes_a_trace(tmp_path, tiny_net, tiny_options):
    photo, art = odd_files.png(tmp_path, "photo.png"), odd_files.png(tmp_path, "art.png", seed=1)
    image = render("stylize", content=photo, style=[art], net=tiny_net, trace=str(tmp_path / "t"), **tiny_options)
    record = json.loads((tmp_path / "t" / "trace.json").read_text())
    assert record["mode"] == "stylize" and len(record["steps"]) == tiny_options["steps"]
    assert record["inputs"]["content"]["path"] == str(photo) and record["inputs"]["style"][0]["path"] == str(art)
    assert (tmp_path / "t" / "losses.png").is_file() and (tmp_path / "t" / "snapshots.png").is_file()
    assert image.shape == (3, 48, 64)


def test_the_python_api_traces_images_given_in_memory_without_inputs(tmp_path, tiny_net, tiny_options):
    content, style = torch.rand(3, 48, 64), torch.rand(3, 48, 64)
    render("stylize", content=content, style=style, net=tiny_net, trace=str(tmp_path / "t"), **tiny_options)
    assert json.loads((tmp_path / "t" / "trace.json").read_text())["inputs"] == {}


@pytest.mark.parametrize(("name", "value"), [("quiet", True), ("quiet", False), ("save_every", 5)])
def test_the_python_api_refuses_command_line_only_options(tiny_net, tiny_options, name, value):
    with pytest.raises(UsageError, match=f"{name} is a command-line option"):
        render("texture", style=torch.rand(3, 48, 64), net=tiny_net, **{**tiny_options, name: value})


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"style_scale": 1000}, "option style_scale: '1000' is outside 0.25..4"),
        ({"content_weight": float("nan")}, "option content_weight: 'nan' is not a finite number"),
        ({"content_weight": 1e308}, "is larger than the supported 1e+06"),
        ({"seed": 2**64}, "must be from 0 to 2^64 - 1"),
        ({"style_layers": ["relu1_1", "relu1_1"]}, "relu1_1 is given twice"),
        ({"content_layers": ()}, "needs at least one layer name"),
        ({"style_layers": ("relu9_9",)}, "relu9_9 is not a layer of vgg16"),
        ({"size": 10}, "10 px is below the network's minimum of 32 px"),
        ({"steps": True}, "true is not a valid value here"),
    ],
)
def test_the_python_api_checks_options_like_the_command_line(options, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace("+", r"\+").replace("^", r"\^")):
        stylize(torch.rand(3, 48, 64), torch.rand(3, 48, 64), **options)


def test_auto_scales_stop_at_the_networks_minimum_side():
    sizes = level_sizes(Config(scales="auto", coarsest=32), (512, 64))
    assert min(min(s) for s in sizes) >= 32
    assert sizes[-1] == (512, 64)


def test_explicit_scales_below_the_minimum_blame_the_option():
    with pytest.raises(UsageError, match="--scales 64: at this picture's 512x64 px that scale is 64x8 px"):
        level_sizes(Config(scales=(64, 256)), (512, 64))


def test_a_small_style_is_enlarged_to_the_minimum_and_a_thin_one_refused():
    style = torch.rand(3, 30, 48)
    cfg = Config(style_scale=0.25)
    assert Level.at(cfg, (64, 48)).style_size(style, clamp=False) == (16, 10)
    assert Level.at(cfg, (64, 48)).style_size(style) == (51, 32)
    with pytest.raises(ImageError, match="too thin to reach the network's minimum"):
        Level.at(cfg, (64, 48)).style_size(torch.rand(3, 1, 2000))


def test_style_size_beyond_four_times_the_output_is_an_error(tiny_net, tiny_options):
    style = torch.rand(3, 48, 64)
    with pytest.raises(UsageError, match="--style-size 300 is more than 4 times the output's 64 px"):
        render("texture", style=style, net=tiny_net, style_size=300, **tiny_options)


def test_the_python_api_takes_numpy_numbers_and_paths(tmp_path):
    import numpy as np

    from fuchun.api import make_config

    photo = odd_files.png(tmp_path, "photo.png")
    cfg = make_config("stylize", seed=np.int64(7), style_scale=np.float32(0.5), init=photo, steps=np.uint16(3))
    assert (cfg.seed, cfg.style_scale, cfg.init, cfg.steps) == (7, 0.5, str(photo), 3)
