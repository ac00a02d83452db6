"""Tests for --config (fuchun.config.files): TOML and JSON option files, checked like flags."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from fuchun.cli.options import config_options
from fuchun.cli.parser import build_parser, main
from fuchun.config.files import ConfigFileError, load_options, options_from_mapping
from fuchun.config.options import Config
from fuchun.report.trace import config_dict


def _options(*argv) -> dict:
    """The options a `fuchun stylize` command line resolves to (no run)."""
    ns = build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "out.png", *[str(a) for a in argv]])
    return config_options(ns)


def _write(tmp_path: Path, text: str, name: str = "run.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(capsys, tmp_path, config: Path) -> str:
    """Run with ``config``; assert exit status 2 and one error line, which is returned."""
    status = main(
        [
            "stylize",
            str(tmp_path / "c.png"),
            str(tmp_path / "s.png"),
            "-o",
            str(tmp_path / "out.png"),
            "--config",
            str(config),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fuchun: error: "), err
    assert not (tmp_path / "out.png").exists()
    return lines[0]


TOML = """
size = "640x480"
steps = 120
scales = [256, 362]
optimizer = "adam"
lr = 0.05
init = "noise"
style_layers = ["relu1_1", "relu3_1"]
style_layer_weights = [1, 0.5]
content_weight = 2
hist_bins = 64
quiet = true

[shifts]
relu2_1 = [4, 8]
relu3_1 = 4
"""


def test_toml_values_are_parsed_like_flags(tmp_path):
    options = _options("--config", _write(tmp_path, TOML))
    assert options == {
        "size": (640, 480),
        "steps": 120,
        "scales": (256, 362),
        "optimizer": "adam",
        "lr": 0.05,
        "init": "noise",
        "style_layers": ("relu1_1", "relu3_1"),
        "style_layer_weights": (1.0, 0.5),
        "content_weight": 2.0,
        "hist_bins": 64,
        "quiet": True,
        "shifts": {"relu2_1": (4, 8), "relu3_1": (4,)},
    }
    assert Config().updated(**options).steps == 120


def test_flags_override_the_file(tmp_path):
    options = _options("--config", _write(tmp_path, TOML), "--steps", "7", "--shift", "relu1_1=2", "--size", "300")
    assert options["steps"] == 7 and options["size"] == 300 and options["shifts"] == {"relu1_1": (2,)}
    assert options["lr"] == 0.05  # the rest still comes from the file


def test_command_line_spellings_are_accepted(tmp_path):
    path = _write(
        tmp_path, 'style-weight = 3\nlbfgs-history = 10\nshift = "relu2_1=4,8 relu3_1=2"\ncontent-layers = "relu4_2"\n'
    )
    assert load_options(path) == {
        "style_weight": 3.0,
        "lbfgs_history": 10,
        "content_layers": ("relu4_2",),
        "shifts": {"relu2_1": (4, 8), "relu3_1": (2,)},
    }


def test_unknown_keys_are_one_error_listing_the_valid_ones(capsys, tmp_path):
    line = _error(capsys, tmp_path, _write(tmp_path, "steps = 3\nstyle_wieght = 2\nbogus = 1\n"))
    assert "run.toml: unknown option(s) bogus, style_wieght; valid: " in line
    assert all(f.name in line for f in dataclasses.fields(Config))


@pytest.mark.parametrize(
    "text, expected",
    [
        ('steps = "many"', "steps: 'many' is not a whole number"),
        ("steps = 1.5", "steps: '1.5' is not a whole number"),
        ("steps = 0", "steps: '0' must be greater than 0"),
        ("steps = true", "steps: true is not a valid value here"),
        ('optimizer = "sgd"', "optimizer: invalid choice 'sgd'; valid: lbfgs, adam"),
        ("quiet = 1", "quiet: 1 is not true or false"),
        ('style_layers = ["relu9"]', "style_layers: 'relu9' is not a layer name"),
        ("size = [1, 2, 3]", "size: '1x2x3' is not a whole number"),
        ("lr = -1", "lr: '-1' must be 0 or more"),
        ("weights = 5", "weights: 5 is not a string"),
        ("[steps]\nn = 3", "steps: a table is not a valid value here"),
        ('init = "missing.png"', "init: init 'missing.png' is neither content, noise, style-mean nor an existing file"),
    ],
)
def test_bad_values_are_one_error_line(capsys, tmp_path, text, expected):
    line = _error(capsys, tmp_path, _write(tmp_path, text + "\n"))
    assert line.startswith(f"fuchun: error: {tmp_path / 'run.toml'}: {expected}")


def test_a_key_given_twice_is_an_error(tmp_path):
    with pytest.raises(ConfigFileError, match="option style_weight is given twice"):
        load_options(_write(tmp_path, "style_weight = 1\nstyle-weight = 2\n"))


def test_broken_or_missing_files_are_one_error_line(capsys, tmp_path):
    assert "is not valid TOML" in _error(capsys, tmp_path, _write(tmp_path, "steps = = 3\n"))
    assert "is not valid JSON" in _error(capsys, tmp_path, _write(tmp_path, "{steps: 3", "run.json"))
    assert "must hold a table of options, not list" in _error(capsys, tmp_path, _write(tmp_path, "[3]", "run.json"))
    assert "cannot read config file" in _error(capsys, tmp_path, tmp_path / "absent.toml")


def test_json_plain_object_and_trace_file_are_accepted(tmp_path):
    plain = _write(tmp_path, json.dumps({"steps": 9, "size": [320, 200], "style-weight": 4}), "plain.json")
    assert load_options(plain) == {"steps": 9, "size": (320, 200), "style_weight": 4.0}
    trace = {
        "fuchun": "0.1.0",
        "mode": "stylize",
        "options": {"steps": 9, "trace": "old/run", "tv_weight": 1.5},
        "steps": [{"step": 1}],
    }
    path = _write(tmp_path, json.dumps(trace), "trace.json")
    # the trace directory of the old run is not taken over: a new run must not overwrite that record
    assert load_options(path) == {"steps": 9, "tv_weight": 1.5}


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "size": (640, 480),
            "scales": (256, 362),
            "style_layer_weights": (1.0, 0.5, 1.0, 1.0, 2.0),
            "content_layer_weights": (0.5,),
            "hist_bins": 32,
            "init": "noise",
            "shifts": {"relu1_1": (4, 8)},
            "preset": "article",
            "optimizer": "adam",
            "quiet": True,
            "style_size": 300,
            "weights": "my.safetensors",
            "pooling": "avg",
        },
    ],
)
def test_every_option_survives_a_trip_through_the_trace(options):
    cfg = Config().updated(**options).resolved()
    assert Config().updated(**options_from_mapping(config_dict(cfg))) == cfg


def test_trace_options_read_back_through_the_command_line(tmp_path):
    cfg = Config().updated(steps=11, size=(320, 200), shifts={"relu2_1": (4,)}, content_layers=("relu3_1",)).resolved()
    path = _write(tmp_path, json.dumps({"options": config_dict(cfg)}), "trace.json")
    assert Config().updated(**_options("--config", path)) == cfg


def test_a_run_takes_its_options_from_the_toml_file(tiny_pretrained, tmp_path, small_rgb):
    config = _write(
        tmp_path,
        'size = 64\nsteps = 4\nscales = "none"\ndevice = "cpu"\nprecision = "fp32"\n'
        "quiet = true\ntv-weight = 0.5\n[shifts]\nrelu2_1 = [2]\n",
    )
    status = main(
        [
            "texture",
            str(small_rgb),
            "-o",
            str(tmp_path / "out.png"),
            "--config",
            str(config),
            "--steps",
            "3",
            "--trace",
            str(tmp_path / "t"),
        ]
    )
    assert status == 0
    trace = json.loads((tmp_path / "t" / "trace.json").read_text())
    assert trace["config_file"] == str(config)
    assert {k: trace["options"][k] for k in ("size", "steps", "scales", "tv_weight", "shifts")} == {
        "size": 64,
        "steps": 3,
        "scales": "none",
        "tv_weight": 0.5,
        "shifts": {"relu2_1": [2]},
    }
    assert len(trace["steps"]) == 3
