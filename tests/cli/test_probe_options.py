"""The probe, options: impossible, out-of-range and unknown options through the real command line.

Each must give exactly one ``fuchun: error:`` line in our own words (never Python's
internal text), blame the option rather than the photo, and write nothing; the few odd
but possible ones (a small --style-scale, a wide texture) give a picture and one warning.
"""

from __future__ import annotations

import json

import pytest

import odd_files
from fuchun.cli.parser import main
from fuchun.io.read import read_image
from helpers import QUICK_FLAGS, fails_in_one_line

# Python's own texts that used to reach the user (and any other sign of an internal message)
INTERNAL = ("is not in list", "max() arg", "Overflow", "unpacking", "invalid literal", "could not convert", "Errno")

pytestmark = pytest.mark.usefixtures("tiny_pretrained")  # every run uses the tiny random network


# (options after the tiny run's, words of the error line)
BAD_OPTIONS = [
    (["--style-layers", "relu9_9"], "--style-layers: relu9_9 is not a layer of vgg16; valid: conv1_1, relu1_1"),
    (["--content-layers", "conv0_0"], "--content-layers: conv0_0 is not a layer of vgg16; valid:"),
    (["--hist-layers", "relu5_4"], "--hist-layers: relu5_4 is not a layer of vgg16"),
    (["--shift", "relu9_9=4"], "--shift: relu9_9 is not a layer of vgg16"),
    (["--w2-layers", "relu9_9"], "--w2-layers: relu9_9 is not a layer of vgg16"),
    (["--content-layer-weights", "1,2,3"], "--content-layer-weights: 3 weight(s) for"),
    (["--content-layers", ""], "needs at least one layer name"),
    (["--style-layers", ","], "needs at least one layer name"),
    (["--style-layers", "relu1_1,relu1_1"], "relu1_1 is given twice"),
    (["--hist-layers", "relu1_1,relu4_1,relu1_1"], "relu1_1 is given twice"),
    (["--style-layers", "foo"], "'foo' is not a layer name"),
    (["--content-weight", "1e308"], "1e308 is larger than the supported 1e+06"),
    (["--content-weight", "nan"], "'nan' is not a finite number"),
    (["--style-weight", "inf"], "'inf' is not a finite number"),
    (["--style-weight", "-1"], "'-1' must be 0 or more"),
    (["--hist-weight", "1e39"], "larger than the supported"),
    (["--tv-weight", "x"], "'x' is not a number"),
    (["--style-layer-weights", "1,nan"], "'nan' is not a finite number"),
    (["--seed", str(2**64)], "must be from 0 to 2^64 - 1"),
    (["--seed", "100000000000000000000000"], "must be from 0 to 2^64 - 1"),
    (["--seed", "-1"], "must be from 0 to 2^64 - 1"),
    (["--seed", "1.5"], "'1.5' is not a whole number"),
    (["--coarsest", "1"], "--coarsest: 1 px is below the network's minimum of 32 px"),
    (["--scales", "1,64"], "--scales: 1 px is below the network's minimum of 32 px"),
    (["--scales", "64,48"], "must increase"),
    (["--scales", "64,,128"], "is not a whole number"),
    (["--size", "256x64", "--scales", "64,128"], "--scales 64: at this picture's 256x64 px that scale is 64x16 px"),
    (["--style-scale", "1000"], "--style-scale: '1000' is outside 0.25..4"),
    (["--style-scale", "0.1"], "is outside 0.25..4"),
    (["--style-scale", "nan"], "is not a finite number"),
    (["--style-size", "16384"], "--style-size 16384 is more than 4 times the output's 64 px"),
    (["--style-size", "100000"], "100000 is larger than the supported 16384 px"),
    (["--style-size", "8"], "8 px is below the network's minimum"),
    (["--mask-feather", "1e9"], "1e9 is larger than the supported 128"),
    (["--mask-feather", "-3"], "must be 0 or more"),
    (["--hist-bins", "100000000"], "100000000 is larger than the supported 65536"),
    (["--hist-bins", "1"], "must be at least 2"),
    (["--size", "100000"], "100000 is larger than the supported 16384 px"),
    (["--size", "0"], "'0' must be greater than 0"),
    (["--size", "10"], "10 px is below the network's minimum of 32 px"),
    (["--size", "64x0"], "must be greater than 0"),
    (["--size", "big"], "'big' is not a whole number"),
    (["--steps", "0"], "must be greater than 0"),
    (["--steps", "10000000"], "10000000 is larger than the supported 1e+06"),
    (["--optimizer", "adam", "--lr", "0"], "must be greater than 0"),
    (["--optimizer", "adam", "--lr", "100"], "100 is larger than the supported 1"),
    (["--lbfgs-history", "0"], "must be greater than 0"),
    (["--lbfgs-history", "1000000"], "larger than the supported 1000"),
    (["--save-every", "-1"], "must be 0 or more"),
    (["--shift", "relu1_1=0"], "must be greater than 0"),
    (["--shift", "relu1_1=4,4"], "repeats an offset"),
    (["--shift", "relu1_1=4", "relu1_1=8"], "shifts for relu1_1 are given twice"),
    (["--shift", "relu1_1"], "must look like relu1_1=4,8,16"),
    (["--style-layer-weights", "1,2"], "--style-layer-weights: 2 weight(s) for 5 style layer(s)"),
    (["--preset", "nope"], "invalid choice: 'nope'"),
    (["--optimizer", "sgd"], "invalid choice: 'sgd'"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
    (["--init", "nowhere.png"], "nor an existing file"),
    (["--style-blend", "0,0"], "positive sum"),
    (["--style-blend", "1,2"], "--style-blend has 2 weights for 1 style images"),
    (["--mask", "a.png", "b.png"], "--mask has 2 mask image(s) for 1 style image(s)"),
    (["--mask", "a.png"], "/a.png': no such file"),  # named by its absolute path: checkpoints resume from anywhere
    (["--bit-depth", "12"], "invalid choice: 12"),
    (["--bit-depth", "16", "-o", "x.jpg"], "JPEG supports bit depth 8"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
]


@pytest.mark.parametrize(("extra", "words"), BAD_OPTIONS, ids=[" ".join(a) or "empty" for a, _ in BAD_OPTIONS])
def test_an_impossible_option_is_one_line_in_our_own_words(capsys, probe_folders, monkeypatch, extra, words):
    inputs, outputs = probe_folders
    monkeypatch.chdir(outputs)  # relative names in the cases land here, and must not appear
    argv = [
        "stylize",
        inputs / "photo.png",
        inputs / "painting.png",
        "-o",
        outputs / "result.png",
        *QUICK_FLAGS,
        *extra,
    ]
    line = fails_in_one_line(capsys, argv, *probe_folders, warnings=True)
    assert words in line
    assert not any(text in line for text in INTERNAL), line
    assert "content image" not in line  # an option's fault is never the photo's


COMMANDS = [
    (["eval", "{photo}", "--content", "{photo}", "--size", "100000"], "100000 is larger than the supported 16384"),
    (["eval", "{photo}", "--content", "{photo}", "--size", "4"], "4 px is below the network's minimum"),
    (["eval", "{photo}"], "eval needs --content, --style or both"),
    (["texture", "{photo}", "-o", "{out}", *QUICK_FLAGS, "--init", "content"], "init 'content' needs a content image"),
    (["reconstruct", "{photo}", "{photo}", "-o", "{out}"], "unrecognized arguments"),
    (["paint", "{photo}"], "invalid choice: 'paint'"),
    (["weights", "--fetch", "vgg99"], "unknown backbone 'vgg99'"),
    (["article", "{photo}", "{photo}", "-o", "{out}", "--trace", "{outdir}/t"], "article takes neither --trace"),
    (["article", "{photo}", "{photo}", "-o", "{out}", "--save-every", "5"], "nor --save-every"),
]


@pytest.mark.parametrize(("argv", "words"), COMMANDS, ids=[" ".join(a[:1] + a[2:4]) for a, _ in COMMANDS])
def test_an_impossible_command_is_one_line(capsys, probe_folders, argv, words):
    inputs, outputs = probe_folders
    names = {"photo": inputs / "photo.png", "out": outputs / "r.png", "outdir": outputs}
    assert words in fails_in_one_line(capsys, [a.format(**names) for a in argv], *probe_folders, warnings=True)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("style_scale = 1000\n", "style_scale: '1000' is outside 0.25..4"),
        ('content_layers = ["relu9_9"]\n', "--content-layers: relu9_9 is not a layer of vgg16"),
        ('style_layers = ["relu1_1", "relu1_1"]\n', "relu1_1 is given twice"),
        ("seed = 18446744073709551616\n", "must be from 0 to 2^64 - 1"),
        ("content_weight = nan\n", "is not a finite number"),
        ("steps = [1, 2]\n", "is not a whole number"),
        ("colour = 3\n", "unknown option(s) colour"),
        ("size = \n", "is not valid TOML"),
    ],
)
def test_an_impossible_config_file_is_one_line(capsys, probe_folders, text, words):
    inputs, outputs = probe_folders
    config = inputs / "run.toml"
    config.write_text(text)
    argv = ["stylize", inputs / "photo.png", inputs / "painting.png", "-o", outputs / "r.png", "--config", config]
    assert words in fails_in_one_line(capsys, [*argv, *QUICK_FLAGS[6:]], *probe_folders, warnings=True)


@pytest.mark.parametrize(
    ("record", "words"),
    [({"bit_depth": 12}, "bit_depth: 12 is not 8 or 16"), ({"style_blend": [0, 0]}, "positive sum")],
)
def test_a_trace_with_impossible_settings_is_one_line(capsys, probe_folders, record, words):
    inputs, outputs = probe_folders
    trace = inputs / "trace.json"
    trace.write_text(json.dumps({"options": {"steps": 2}, **record}))
    argv = [
        "stylize",
        inputs / "photo.png",
        inputs / "painting.png",
        "-o",
        outputs / "r.png",
        "--config",
        trace,
        *QUICK_FLAGS,
    ]
    assert words in fails_in_one_line(capsys, argv, *probe_folders, warnings=True)


# ----------------------------------------------------------------------------- odd but possible


def test_a_small_style_scale_enlarges_the_style_with_one_warning(capsys, probe_folders):
    inputs, outputs = probe_folders
    out = outputs / "r.png"
    argv = ["stylize", inputs / "photo.png", inputs / "painting.png", "-o", out, *QUICK_FLAGS, "--size", "96"]
    status = main([str(a) for a in [*argv, "--style-scale", "0.5", "--scales", "64,96"]])
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if "--style-scale" in line)
    assert status == 0
    assert err == (
        "fuchun: warning: --style-scale 0.5 makes a style image smaller than the network's minimum of 32 px "
        "at some scales; it is enlarged to 32 px there"
    )
    assert read_image(out).shape == (3, 72, 96)


def test_a_wide_texture_skips_the_shifts_that_do_not_fit_it(capsys, probe_folders):
    inputs, outputs = probe_folders
    square = odd_files.png(inputs, "pebbles.png", seed=2, size=(64, 64))
    out = outputs / "wide.png"
    argv = ["texture", square, "-o", out, *QUICK_FLAGS, "--size", "256x64", "--scales", "128,256", "--preset", "fuchun"]
    argv += ["--shift", "relu1_1=48"]
    assert main([str(a) for a in argv]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "fuchun: warning: shift(s) [48] skipped at relu1_1: the feature map is only 128x32"
    ]
    assert read_image(out).shape == (3, 64, 256)
