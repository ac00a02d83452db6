"""Tests for --trace (fuchun.report.trace, fuchun.report.plot, MultiReporter) and for same seed -> same picture."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fuchun.objective
import fuchun.run.engine
from fuchun import __version__
from fuchun.api import render
from fuchun.cli.parser import main
from fuchun.report.base import MultiReporter
from fuchun.report.plot import TERM_COLOURS, contact_sheet, loss_plot
from fuchun.report.trace import TRACE_FILE, snapshot_steps
from helpers import Recorder

TRACE_FLAGS = [  # a tiny run of the fuchun preset: every Gram-family term and TV appear in the trace
    "--preset",
    "fuchun",
    "--size",
    "64",
    "--steps",
    "6",
    "--scales",
    "48,64",
    "--shift",
    "relu2_1=2",
    "--device",
    "cpu",
    "--precision",
    "fp32",
    "--quiet",
]
TRACE_KEYS = {
    "fuchun",
    "torch",
    "mode",
    "options",
    "inputs",
    "output",
    "output_sha256",
    "backbone",
    "weights_sha256",
    "device",
    "precision",
    "scales",
    "steps",
    "total_time",
    "bit_depth",
    "style_blend",
    "warnings",
}


@pytest.fixture
def style_rgb(tmp_path) -> Path:
    """A 64x64 random RGB PNG used as the style image."""
    path = tmp_path / "style.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    return path


def _run(*argv) -> int:
    return main([str(a) for a in argv])


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- the trace of a CLI run


def test_trace_writes_json_plot_and_sheet(tiny_pretrained, tmp_path, small_rgb, style_rgb, capsys):
    trace_dir = tmp_path / "runs" / "first"  # created, parents too
    out = tmp_path / "out.png"
    assert _run("stylize", small_rgb, style_rgb, "-o", out, *TRACE_FLAGS, "--trace", trace_dir) == 0
    assert {p.name for p in trace_dir.iterdir()} == {"trace.json", "losses.png", "snapshots.png"}

    trace = json.loads((trace_dir / TRACE_FILE).read_text())
    assert TRACE_KEYS <= set(trace) and "error" not in trace
    assert trace["mode"] == "stylize" and trace["fuchun"] == __version__ and trace["torch"] == torch.__version__
    assert (trace["backbone"], trace["weights_sha256"], trace["device"], trace["precision"]) == (
        "vgg16",
        "tiny",
        "cpu",
        "fp32",
    )
    assert trace["inputs"]["content"] == {"path": str(small_rgb), "sha256": _sha(small_rgb)}
    assert trace["inputs"]["style"] == [{"path": str(style_rgb), "sha256": _sha(style_rgb)}]
    assert trace["output"] == str(out) and trace["output_sha256"] == _sha(out)

    options = trace["options"]
    assert options["steps"] == 6 and options["scales"] == [48, 64] and options["shifts"] == {"relu2_1": [2]}
    assert options["style_weight"] is not None  # resolved: preset values filled in
    assert options["trace"] == str(trace_dir)

    assert [s["size"] for s in trace["scales"]] == [[48, 38], [64, 50]]
    steps = trace["steps"]
    assert len(steps) == sum(s["steps"] for s in trace["scales"])
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    assert [s["scale"] for s in steps] == sorted(s["scale"] for s in steps) and steps[-1]["scale"] == 2
    for record in steps:
        assert set(record) == {"step", "scale", "size", "loss", "terms", "elapsed"}
        assert set(record["terms"]) == {"content", "gram", "shifted", "hist", "tv"}
        assert record["loss"] == pytest.approx(sum(record["terms"].values()))
    assert trace["total_time"] >= steps[-1]["elapsed"] >= steps[0]["elapsed"] >= 0


def test_trace_pictures_are_pngs_of_sensible_size(tiny_pretrained, tmp_path, small_rgb, style_rgb):
    assert _run("stylize", small_rgb, style_rgb, "-o", tmp_path / "out.png", *TRACE_FLAGS, "--trace", tmp_path) == 0
    with Image.open(tmp_path / "losses.png") as plot:
        assert plot.format == "PNG" and plot.size == (960, 540)
        plot.load()
        colours = np.asarray(plot.convert("RGB")).reshape(-1, 3)
        assert len(np.unique(colours, axis=0)) > 50  # lines, text, legend: not a blank page
    with Image.open(tmp_path / "snapshots.png") as sheet:
        assert sheet.format == "PNG"
        # 6 steps: snapshots at steps 1..5 plus the final image, 3 per row, 224 px wide cells
        assert 3 * 224 < sheet.width < 3 * 224 + 100 and 2 * 150 < sheet.height < 2 * 224 + 150


def test_texture_trace_has_no_content_input(tiny_pretrained, tmp_path, style_rgb):
    assert _run("texture", style_rgb, "-o", tmp_path / "tex.png", *TRACE_FLAGS, "--trace", tmp_path / "t") == 0
    trace = json.loads((tmp_path / "t" / TRACE_FILE).read_text())
    assert trace["mode"] == "texture" and "content" not in trace["inputs"]
    assert trace["options"]["init"] == "noise"


def test_trace_into_an_existing_file_is_refused_before_the_run(tiny_pretrained, tmp_path, small_rgb, style_rgb, capsys):
    blocker = tmp_path / "taken"
    blocker.write_text("not a directory")
    status = _run("stylize", small_rgb, style_rgb, "-o", tmp_path / "out.png", *TRACE_FLAGS, "--trace", blocker)
    err = capsys.readouterr().err
    assert status == 2
    assert err.splitlines() == [f"fuchun: error: cannot write a trace into '{blocker}': it is a file, not a directory"]
    assert not (tmp_path / "out.png").exists()


def test_failed_run_still_writes_its_trace_with_the_error(
    tiny_pretrained, tmp_path, small_rgb, style_rgb, monkeypatch, capsys
):
    real, calls = fuchun.losses.tv.total_variation, {"n": 0}

    def poisoned(image):
        calls["n"] += 1
        return real(image) * (float("nan") if calls["n"] > 3 else 1.0)

    monkeypatch.setattr(fuchun.losses.tv, "total_variation", poisoned)
    status = _run("stylize", small_rgb, style_rgb, "-o", tmp_path / "out.png", *TRACE_FLAGS, "--trace", tmp_path / "t")
    assert status == 1
    assert "non-finite" in capsys.readouterr().err
    trace = json.loads((tmp_path / "t" / TRACE_FILE).read_text())
    assert "non-finite at step 3" in trace["error"]
    assert len(trace["steps"]) == 3 and "output_sha256" not in trace
    assert (tmp_path / "t" / "losses.png").is_file() and (tmp_path / "t" / "snapshots.png").is_file()


def test_trace_fed_back_as_config_reproduces_the_run(tiny_pretrained, tmp_path, small_rgb, style_rgb):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    flags = [*TRACE_FLAGS, "--init", "noise", "--seed", "7", "--style-weight", "3", "--optimizer", "adam"]
    assert _run("stylize", small_rgb, style_rgb, "-o", first, *flags, "--trace", tmp_path / "a") == 0
    assert (
        _run(
            "stylize",
            small_rgb,
            style_rgb,
            "-o",
            second,
            "--config",
            tmp_path / "a" / TRACE_FILE,
            "--trace",
            tmp_path / "b",
        )
        == 0
    )
    a = json.loads((tmp_path / "a" / TRACE_FILE).read_text())
    b = json.loads((tmp_path / "b" / TRACE_FILE).read_text())
    assert {**a["options"], "trace": None} == {**b["options"], "trace": None}
    assert b["config_file"] == str(tmp_path / "a" / TRACE_FILE)
    assert first.read_bytes() == second.read_bytes()  # fp32 on the CPU: the identical picture
    assert [s["loss"] for s in a["steps"]] == [s["loss"] for s in b["steps"]]


# ----------------------------------------------------------------------------- reporters and pictures


def test_multi_reporter_passes_every_event_to_each_in_order():
    log: list = []
    multi = MultiReporter(Recorder("a", log), Recorder("b", log))
    multi.start("info")
    multi.step("progress")
    multi.warning("careful")
    multi.message("hello")
    assert log == [
        (n, e, v)
        for e, v in [("start", "info"), ("step", "progress"), ("warning", "careful"), ("message", "hello")]
        for n in "ab"
    ]


def test_snapshot_steps_are_evenly_spaced_from_the_first():
    assert snapshot_steps(80) == {1, 10, 20, 30, 40, 50, 60, 70}
    assert snapshot_steps(3) == {1, 2}
    assert snapshot_steps(1) == {1}


def test_loss_plot_draws_every_curve_in_its_colour_on_a_log_axis():
    from matplotlib.colors import to_rgb

    steps = list(range(1, 41))
    curves = {"content": [10.0 / s for s in steps], "gram": [1e3 / s**2 + 0.5 for s in steps]}
    curves["total"] = [a + b for a, b in zip(curves["content"], curves["gram"], strict=True)]
    image = loss_plot(steps, curves, breaks=[(1, "scale 1 · 48x36"), (21, "scale 2 · 64x48")], title="a run")
    assert image.size == (960, 540) and image.mode == "RGB"
    pixels = np.asarray(image).reshape(-1, 3).astype(int)
    for name in ("content", "gram"):
        colour = np.array([round(255 * c) for c in to_rgb(TERM_COLOURS[name])])
        assert (np.abs(pixels - colour).sum(1) < 12).sum() > 100, name  # its line is there
    assert (pixels.sum(1) < 80).sum() > 500  # the dark total, the frame and the text


def test_matplotlib_is_imported_only_for_a_plot():
    code = "import sys, fuchun, fuchun.report.trace, fuchun.cli.parser; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "curves",
    [
        {"total": [1.0]},  # a single step
        {"total": [0.0, 0.0], "tv": [None, None]},  # nothing positive to draw
        {"total": [5.0, 5.0, 5.0], "style": [0.0, 1e-9, float("inf")]},  # flat, zeros and a non-finite value
    ],
)
def test_loss_plot_copes_with_degenerate_curves(curves):
    steps = list(range(1, len(curves["total"]) + 1))
    image = loss_plot(steps, curves, breaks=[(1, "scale 1")], title="t")
    assert image.size == (960, 540) and image.mode == "RGB"


def test_contact_sheet_lays_out_a_grid_and_fits_labels():
    tiles = [(Image.new("RGB", (40, 30), (255, 0, 0)), "a very long label " * 10) for _ in range(5)]
    sheet = contact_sheet(tiles, cell=120)
    assert sheet.size == (12 + 3 * (120 + 12), 12 + 2 * (90 + 24 + 12))
    with pytest.raises(ValueError, match="at least one image"):
        contact_sheet([])


# ----------------------------------------------------------------------------- same seed, same picture


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("init", ["noise", "content"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_same_seed_gives_the_identical_picture(
    tiny_net, tiny_options, small_rgb, style_rgb, precision, init, optimizer
):
    options = {
        **tiny_options,
        "scales": (48, 64),
        "precision": precision,
        "init": init,
        "optimizer": optimizer,
        "seed": 3,
    }
    first = render("stylize", content=small_rgb, style=style_rgb, net=tiny_net, **options)
    second = render("stylize", content=small_rgb, style=style_rgb, net=tiny_net, **options)
    assert torch.equal(first, second)


def test_another_seed_gives_another_noise_start(tiny_net, tiny_options, style_rgb):
    options = {**tiny_options, "steps": 1, "init": "noise"}
    a = render("texture", style=style_rgb, net=tiny_net, seed=1, **options)
    b = render("texture", style=style_rgb, net=tiny_net, seed=2, **options)
    assert not torch.equal(a, b)
