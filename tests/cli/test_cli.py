"""Tests for the command line (fuchun.cli.parser): one-line errors, no stray output files, real tiny runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fuchun.cli.parser import main
from fuchun.io.read import read_image
from helpers import fails_in_one_line, png_header


@pytest.fixture
def content(examples_dir) -> Path:
    return examples_dir / "tubingen.jpg"


@pytest.fixture
def style(examples_dir) -> Path:
    return examples_dir / "starry-night.jpg"


def _files(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# ----------------------------------------------------------------------------- bad inputs


def test_corrupt_png_is_an_error(capsys, tmp_path, style):
    bad = tmp_path / "noise.png"
    bad.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    line = fails_in_one_line(capsys, ["stylize", bad, style, "-o", tmp_path / "out.png"], tmp_path, match="noise.png")
    assert "cannot read image" in line


def test_text_file_named_jpg_is_an_error(capsys, tmp_path, style):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a picture\n" * 10)
    fails_in_one_line(capsys, ["stylize", bad, style, "-o", tmp_path / "out.png"], tmp_path, match="notes.jpg")


def test_truncated_jpeg_is_an_error(capsys, tmp_path, content, style):
    data = content.read_bytes()
    bad = tmp_path / "cut.jpg"
    bad.write_bytes(data[: len(data) // 2])
    fails_in_one_line(capsys, ["stylize", bad, style, "-o", tmp_path / "out.png"], tmp_path, match="cut.jpg")


def test_truncated_style_is_an_error_too(capsys, tmp_path, content, style):
    data = style.read_bytes()
    bad = tmp_path / "cut-style.jpg"
    bad.write_bytes(data[: len(data) // 3])
    fails_in_one_line(capsys, ["stylize", content, bad, "-o", tmp_path / "out.png"], tmp_path, match="cut-style.jpg")


def test_missing_file_is_an_error(capsys, tmp_path, style):
    fails_in_one_line(
        capsys, ["stylize", tmp_path / "nope.jpg", style, "-o", tmp_path / "out.png"], tmp_path, match="no such file"
    )


def test_missing_texture_source_is_an_error(capsys, tmp_path):
    fails_in_one_line(
        capsys, ["texture", tmp_path / "nope.jpg", "-o", tmp_path / "out.png"], tmp_path, match="nope.jpg"
    )


@pytest.mark.parametrize(
    "args, match",
    [
        (["--size", "0"], "--size"),
        (["--size", "-5"], "--size"),
        (["--size", "12x"], "--size"),
        (["--steps", "abc"], "--steps"),
        (["--steps", "0"], "--steps"),
        (["--optimizer", "sgd"], "--optimizer"),
        (["--precision", "fp8"], "--precision"),
        (["--content-weight", "-1"], "--content-weight"),
        (["--style-layers", "foo"], "--style-layers"),
        (["--no-such-flag"], "unrecognized arguments"),
        (["--init", "nosuchfile"], "nosuchfile"),
        (["--bit-depth", "12"], "--bit-depth"),
    ],
)
def test_bad_flags_are_errors(capsys, tmp_path, content, style, args, match):
    fails_in_one_line(capsys, ["stylize", content, style, "-o", tmp_path / "out.png", *args], tmp_path, match=match)


def test_missing_output_flag_is_an_error(capsys, tmp_path, content, style):
    fails_in_one_line(capsys, ["stylize", content, style], tmp_path, match="-o/--output")


def test_missing_command_is_an_error(capsys, tmp_path):
    fails_in_one_line(capsys, [], tmp_path)


@pytest.mark.parametrize("name", ["out.gif", "out.webp", "out"])
def test_unsupported_output_suffix_is_an_error(capsys, tmp_path, content, style, name):
    fails_in_one_line(capsys, ["stylize", content, style, "-o", tmp_path / name], tmp_path, match="not supported")


def test_16_bit_jpeg_output_is_an_error(capsys, tmp_path, content, style):
    fails_in_one_line(
        capsys, ["stylize", content, style, "-o", tmp_path / "out.jpg", "--bit-depth", "16"], tmp_path, match="16-bit"
    )


@pytest.mark.parametrize("which", ["content", "style", "init"])
def test_output_equal_to_an_input_is_refused_and_the_input_kept(capsys, tmp_path, content, style, which):
    copies = {"content": tmp_path / "c.png", "style": tmp_path / "s.png", "init": tmp_path / "i.png"}
    Image.open(content).convert("RGB").resize((80, 60)).save(copies["content"])
    Image.open(style).convert("RGB").resize((80, 60)).save(copies["style"])
    Image.open(style).convert("RGB").resize((40, 30)).save(copies["init"])
    before = {k: p.read_bytes() for k, p in copies.items()}
    target = copies[which]
    argv = ["stylize", copies["content"], copies["style"], "-o", target, "--init", copies["init"]]
    fails_in_one_line(capsys, argv, tmp_path, match="refusing to overwrite input image")
    assert {k: p.read_bytes() for k, p in copies.items()} == before


def test_output_equal_to_an_input_through_another_spelling_is_refused(capsys, tmp_path, content, style, monkeypatch):
    local = tmp_path / "photo.jpg"
    shutil.copyfile(content, local)
    monkeypatch.chdir(tmp_path)
    before = local.read_bytes()
    fails_in_one_line(capsys, ["reconstruct", "photo.jpg", "-o", "./sub/../photo.jpg"], tmp_path, match="refusing")
    assert local.read_bytes() == before


def test_style_blend_count_must_match_the_styles(capsys, tmp_path, content, style):
    fails_in_one_line(
        capsys,
        ["stylize", content, style, "-o", tmp_path / "out.png", "--style-blend", "1,2"],
        tmp_path,
        match="--style-blend has 2 weights for 1 style images",
    )


@pytest.mark.parametrize("blend", ["0,0", "1,-1", "a"])
def test_style_blend_values_are_checked(capsys, tmp_path, content, style, blend):
    fails_in_one_line(
        capsys,
        ["stylize", content, style, style, "-o", tmp_path / "out.png", "--style-blend", blend],
        tmp_path,
        match="--style-blend",
    )


def test_output_directory_must_exist(capsys, tmp_path, content, style):
    fails_in_one_line(
        capsys, ["stylize", content, style, "-o", tmp_path / "missing" / "out.png"], tmp_path, match="does not exist"
    )


def test_output_that_is_a_directory_is_an_error(capsys, tmp_path, content, style):
    (tmp_path / "out.png").mkdir()
    fails_in_one_line(capsys, ["stylize", content, style, "-o", tmp_path / "out.png"], tmp_path, match="is a directory")


@pytest.mark.gpu  # runs where CUDA is absent
def test_unavailable_device_is_an_error(capsys, tmp_path, content, style):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    fails_in_one_line(
        capsys, ["stylize", content, style, "-o", tmp_path / "out.png", "--device", "cuda"], tmp_path, match="cuda"
    )


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path, style):
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuchun.cli",
            "stylize",
            str(tmp_path / "missing.jpg"),
            str(style),
            "-o",
            str(tmp_path / "out.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("fuchun: error: cannot read image"), proc.stderr
    assert not (tmp_path / "out.png").exists()


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("fuchun")
    assert script.exists(), f"no console script at {script}: install the package (pip install -e .)"
    proc = subprocess.run([str(script), "--size", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("fuchun: error:")


# ----------------------------------------------------------------------------- real runs (pretrained weights)


@pytest.mark.weights
def test_quiet_tiny_stylize_writes_a_png_and_nothing_else(capsys, tmp_path, content, style, real_weights):
    out = tmp_path / "out.png"
    # shifts that fit a 64 px picture, so there is nothing to warn about
    status = main(
        [
            "stylize",
            str(content),
            str(style),
            "-o",
            str(out),
            "--size",
            "64",
            "--steps",
            "3",
            "--quiet",
            "--shift",
            "relu2_1=8",
            "relu3_1=4",
        ]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert captured.err == "" and captured.out == ""
    assert _files(tmp_path) == {"out.png"}
    with Image.open(out) as img:
        assert img.format == "PNG" and img.mode == "RGB"
        assert max(img.size) == 64 and img.size == (64, 48)  # tubingen is 4:3


@pytest.mark.weights
def test_start_line_names_backbone_device_and_precision(capsys, tmp_path, content, style, real_weights):
    out = tmp_path / "out.png"
    status = main(
        [
            "stylize",
            str(content),
            str(style),
            "-o",
            str(out),
            "--size",
            "64",
            "--steps",
            "2",
            "--device",
            "cpu",
            "--precision",
            "fp32",
            "--preset",
            "fuchun",
        ]
    )
    err = capsys.readouterr().err
    assert status == 0, err
    lines = err.splitlines()
    start = lines[0]
    assert start.startswith("fuchun: vgg16 ")
    assert "cpu" in start and "fp32" in start and "64x48" in start
    assert real_weights.sha256[:12] in start
    assert lines[-1].startswith(f"fuchun: wrote {out}")
    assert "Traceback" not in err and "error" not in err
    # the fuchun preset's longest shifts do not fit the small maps at 64 px: each layer said once, then skipped
    warnings = [line for line in lines if line.startswith("fuchun: warning:")]
    layers = [w.split(" skipped at ")[1].split(":")[0] for w in warnings]
    assert sorted(layers) == sorted(set(layers)) and "relu1_1" in layers


@pytest.mark.weights
def test_save_every_writes_snapshots(capsys, tmp_path, content, style, real_weights):
    out = tmp_path / "out.png"
    status = main(
        ["texture", str(style), "-o", str(out), "--size", "64", "--steps", "4", "--save-every", "2", "--quiet"]
    )
    assert status == 0, capsys.readouterr().err
    assert _files(tmp_path) == {"out.png", "out.step00002.png", "out.step00004.png"}
    for name in _files(tmp_path):
        assert png_header(tmp_path / name)[:2] == (64, 40)


@pytest.mark.weights
def test_bit_depth_16_writes_a_16_bit_png(capsys, tmp_path, content, real_weights):
    out = tmp_path / "out.png"
    status = main(
        ["reconstruct", str(content), "-o", str(out), "--size", "64", "--steps", "3", "--bit-depth", "16", "--quiet"]
    )
    assert status == 0, capsys.readouterr().err
    width, height, depth, colour = png_header(out)
    assert (width, height, depth, colour) == (64, 48, 16, 2)
    pixels = read_image(out)
    assert pixels.shape == (3, 48, 64)
    inner = (pixels > 0) & (pixels < 1)  # early L-BFGS steps clip many pixels to 0 or 1
    assert inner.float().mean() > 0.1
    off_grid = (pixels * 255 - (pixels * 255).round()).abs() > 1e-3  # values between the 8-bit levels
    assert off_grid[inner].float().mean() > 0.9


@pytest.mark.weights
def test_weights_command_lists_vgg16_as_cached(capsys, real_weights):
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    (line,) = [row for row in out.splitlines() if row.split()[0] == "vgg16"]
    assert "not cached" not in line
    assert str(real_weights.path) in line


def test_output_over_a_mask_file_is_refused(capsys, tmp_path, small_rgb):
    mask = tmp_path / "mask.png"
    mask.write_bytes(small_rgb.read_bytes())
    before = mask.read_bytes()
    status = main(["stylize", str(small_rgb), str(small_rgb), "--mask", str(mask), "-o", str(mask)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0 and len(err) == 1 and err[0].startswith("fuchun: error:")
    assert mask.read_bytes() == before


def test_help_shows_each_commands_own_defaults():
    from fuchun.cli.parser import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices
    stylize, texture = sub["stylize"].format_help(), sub["texture"].format_help()
    squash = lambda text: " ".join(text.split())  # noqa: E731  (argparse wraps lines)
    assert "(default: 200)" in squash(stylize) and "(default: 300)" in squash(texture)
    assert "(default: noise)" in squash(texture) and "(default: content)" in squash(stylize)
