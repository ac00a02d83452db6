"""Tests for fuchun.config.options, fuchun.config.presets and fuchun.config.parse: presets, flag overrides, parsers."""

from __future__ import annotations

import pytest

from fuchun.api import make_config
from fuchun.cli.options import config_options
from fuchun.cli.parser import UsageError, build_parser
from fuchun.config import parse
from fuchun.config.options import MODE_DEFAULTS, STRENGTH_BASE, Config, content_factor, mode_defaults
from fuchun.config.presets import ARTICLE_STYLE, PRESET_KEYS, PRESETS, preset

# ----------------------------------------------------------------------------- presets


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_resolves_to_its_table_values(name):
    cfg = Config(preset=name).resolved()
    for key in PRESET_KEYS:
        assert getattr(cfg, key) == PRESETS[name][key], key


@pytest.mark.parametrize("name", list(PRESETS))
def test_resolved_config_has_no_unset_loss_field_except_layer_weights(name):
    cfg = Config(preset=name).resolved()
    unset = {key for key in PRESET_KEYS if getattr(cfg, key) is None}
    assert unset <= {"style_layer_weights", "content_layer_weights"}  # None there means the default weights


def test_default_preset_is_paint():
    assert Config().preset == "paint"
    cfg = Config().resolved()
    assert cfg.w2_weight == PRESETS["paint"]["w2_weight"] > 0
    assert cfg.style_weight == 0.0  # the Gram loss is replaced by the Wasserstein-2 one


def test_mode_defaults_take_the_presets_schedule():
    assert mode_defaults("stylize", "gatys") == MODE_DEFAULTS["stylize"]
    painted = mode_defaults("stylize", "w2-adam")
    assert painted["optimizer"] == "adam" and painted["average"] > 0 and painted["coarsest"] == 128
    assert make_config("stylize", preset="w2-adam", steps=7).steps == 7  # the user's options win
    with pytest.raises(ValueError, match="unknown preset"):
        mode_defaults("stylize", "nope")


def test_strength_scales_only_the_content_weight():
    assert content_factor(Config().strength) == 1.0
    assert content_factor(Config().strength + 1) == pytest.approx(1 / STRENGTH_BASE)
    assert content_factor(0) > 1 > content_factor(10)


def test_article_preset_matches_the_article():
    cfg = Config(preset="article").resolved()
    assert cfg.pooling == "avg"
    assert cfg.style_layers == ("relu1_2", "relu2_2", "relu3_2", "relu4_2", "relu5_2") == ARTICLE_STYLE
    assert cfg.style_layer_weights == (0.05, 0.2, 0.2, 0.25, 0.3)
    assert cfg.content_layers == ("relu4_2",)
    assert cfg.content_weight / cfg.style_weight == pytest.approx(1 / 15)
    assert cfg.hist_weight == pytest.approx(cfg.style_weight / 100)
    assert cfg.shifts == {layer: (4,) for layer in ARTICLE_STYLE}
    assert cfg.shift_weight > 0
    assert cfg.hist_layers == ("relu1_1",)


def test_preset_returns_a_fresh_copy():
    first = preset("gatys")
    first["style_weight"] = -1.0
    assert preset("gatys")["style_weight"] == PRESETS["gatys"]["style_weight"]


def test_unknown_preset_is_rejected():
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        preset("nope")


# ----------------------------------------------------------------------------- CLI flags override presets

# For each preset-controlled field: its command-line arguments and the parsed value, two
# candidates so one always differs from the preset's own value.
FLAG_VALUES = {
    "content_layers": [
        (["--content-layers", "relu3_1"], ("relu3_1",)),
        (["--content-layers", "relu2_2,relu5_1"], ("relu2_2", "relu5_1")),
    ],
    "style_layers": [
        (["--style-layers", "relu1_1,relu3_3"], ("relu1_1", "relu3_3")),
        (["--style-layers", "relu2_1"], ("relu2_1",)),
    ],
    "style_layer_weights": [],  # one weight per layer of the preset's: _layer_weight_case
    "content_layer_weights": [],
    "content_weight": [(["--content-weight", "2.5"], 2.5), (["--content-weight", "0"], 0.0)],
    "style_weight": [(["--style-weight", "7.25"], 7.25), (["--style-weight", "0"], 0.0)],
    "shift_weight": [(["--shift-weight", "3.5"], 3.5), (["--shift-weight", "0"], 0.0)],
    "shifts": [
        (["--shift", "relu1_1=2,3", "relu2_1=5"], {"relu1_1": (2, 3), "relu2_1": (5,)}),
        (["--shift", "relu3_1=6"], {"relu3_1": (6,)}),
    ],
    "hist_weight": [(["--hist-weight", "0.75"], 0.75), (["--hist-weight", "0"], 0.0)],
    "hist_layers": [
        (["--hist-layers", "relu2_1"], ("relu2_1",)),
        (["--hist-layers", "relu3_1,relu5_1"], ("relu3_1", "relu5_1")),
    ],
    "w2_weight": [(["--w2-weight", "2.5"], 2.5), (["--w2-weight", "0"], 0.0)],
    "w2_layers": [
        (["--w2-layers", "relu2_1"], ("relu2_1",)),
        (["--w2-layers", "relu1_1,relu3_1"], ("relu1_1", "relu3_1")),
    ],
    "sliced_weight": [(["--sliced-weight", "2.5"], 2.5), (["--sliced-weight", "0"], 0.0)],
    "sliced_layers": [
        (["--sliced-layers", "relu2_1"], ("relu2_1",)),
        (["--sliced-layers", "relu1_1,relu3_1"], ("relu1_1", "relu3_1")),
    ],
    "tv_weight": [(["--tv-weight", "1.5"], 1.5), (["--tv-weight", "0"], 0.0)],
    "style_pull": [(["--style-pull", "32"], 32.0), (["--style-pull", "0"], 0.0)],
    "pooling": [(["--pooling", "avg"], "avg"), (["--pooling", "max"], "max")],
}


def test_every_preset_key_has_a_flag_case():
    assert set(FLAG_VALUES) == set(PRESET_KEYS)


def _options(args: list[str]) -> dict:
    ns = build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "out.png", *args])
    return config_options(ns)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("key", PRESET_KEYS)
def test_every_flag_overrides_every_preset(key, name):
    cases = FLAG_VALUES[key] or _layer_weight_case(key, name)
    args, value = next((a, v) for a, v in cases if v != PRESETS[name][key])
    options = _options(["--preset", name, *args])
    assert options[key] == value
    cfg = Config(**options).resolved()
    assert getattr(cfg, key) == value
    for other in PRESET_KEYS:  # the rest still come from the preset
        if other.endswith("_layer_weights") and key == other.replace("_weights", "s"):
            assert getattr(cfg, other) is None  # the preset's weights were for its own layers
        elif other != key:
            assert getattr(cfg, other) == PRESETS[name][other], other


def _layer_weight_case(key: str, name: str) -> list:
    """Flags setting one weight per layer of preset ``name``'s layers of ``key``'s kind, two ways."""
    count = len(PRESETS[name][key.replace("_weights", "s")])
    flag = "--" + key.replace("_", "-")
    return [([flag, ",".join(["0.5"] * count)], (0.5,) * count), ([flag, ",".join(["2"] * count)], (2.0,) * count)]


def test_a_presets_layer_weights_do_not_outlive_its_layers():
    cfg = Config(preset="article", style_layers=("relu2_1",)).resolved()
    assert cfg.style_layer_weights is None
    kept = Config(preset="article", style_layers=("relu2_1",), style_layer_weights=(2.0,)).resolved()
    assert kept.style_layer_weights == (2.0,)
    assert PRESETS["paint"]["content_layer_weights"] is not None
    assert Config(content_layers=("relu3_1",)).resolved().content_layer_weights is None


@pytest.mark.parametrize("kind", ["content", "style"])
def test_layer_weights_must_match_the_layers_before_the_run(kind):
    with pytest.raises(UsageError, match=f"--{kind}-layer-weights: 3 weight\\(s\\) for 1 {kind} layer"):
        Config(**{f"{kind}_layers": ("relu2_1",), f"{kind}_layer_weights": (1.0, 1.0, 1.0)}).resolved()


def test_flags_not_given_are_not_options():
    options = _options([])
    assert options == {}
    assert Config(**options) == Config()


def test_quiet_is_a_switch():
    assert _options(["--quiet"]) == {"quiet": True}


def test_bad_flag_value_raises_usage_error_with_the_parser_message():
    with pytest.raises(UsageError, match="must be greater than 0"):
        build_parser().parse_args(["stylize", "c.png", "s.png", "-o", "o.png", "--steps", "0"])


# ----------------------------------------------------------------------------- Config.updated


def test_updated_sets_known_fields_and_keeps_the_original():
    base = Config()
    new = base.updated(size=128, preset="gatys")
    assert (new.size, new.preset) == (128, "gatys")
    assert (base.size, base.preset) == (512, "paint")


def test_updated_rejects_unknown_names_and_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['colour', 'sizes'\]; valid: .*size"):
        Config().updated(sizes=5, colour="red")


# ----------------------------------------------------------------------------- parse


@pytest.mark.parametrize(
    "text, expected",
    [
        ("512", 512),
        (" 256 ", 256),
        ("640x480", (640, 480)),
        ("640X480", (640, 480)),
        ("max", "max"),
        ("MAX", "max"),
        (str(parse.MAX_SIDE), parse.MAX_SIDE),
    ],
)
def test_size_accepts(text, expected):
    assert parse.size(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "greater than 0"),
        ("-3", "greater than 0"),
        ("abc", "not a whole number"),
        ("", "not a whole number"),
        ("1.5", "not a whole number"),
        ("0x480", "greater than 0"),
        ("640x", "not a whole number"),
        ("99999999", "larger than the supported"),
        (f"{parse.MAX_SIDE + 1}x10", "larger than the supported"),
    ],
)
def test_size_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse.size(text)


@pytest.mark.parametrize(
    "text, expected",
    [("auto", "auto"), ("None", "none"), ("256", (256,)), ("256,362,512", (256, 362, 512))],
)
def test_scales_accepts(text, expected):
    assert parse.scales(text) == expected


@pytest.mark.parametrize("text", ["512,256", "256,,512", "0,256", "a,b", "-256"])
def test_scales_rejects(text):
    with pytest.raises(ValueError):
        parse.scales(text)


def test_shifts_parses_layers_and_deltas():
    assert parse.shifts("relu1_1=4,8 relu2_1=4") == {"relu1_1": (4, 8), "relu2_1": (4,)}
    assert parse.shifts(["relu3_1=16"]) == {"relu3_1": (16,)}
    assert parse.shifts("") == {}


@pytest.mark.parametrize("text", ["relu1_1", "relu1_1=0", "relu1_1=-4", "relu1_1=a", "foo=4", "relu1_1="])
def test_shifts_rejects(text):
    with pytest.raises(ValueError):
        parse.shifts(text)


def test_names():
    assert parse.names("relu1_1, relu2_1") == ("relu1_1", "relu2_1")
    assert parse.names("conv3_2,pool4") == ("conv3_2", "pool4")


@pytest.mark.parametrize("text", ["", " , ", ","])
def test_names_rejects_an_empty_list(text):
    with pytest.raises(ValueError, match="needs at least one layer name"):
        parse.names(text)


def test_names_rejects_a_layer_given_twice():
    with pytest.raises(ValueError, match="relu1_1 is given twice"):
        parse.names("relu1_1,relu2_1,relu1_1")


@pytest.mark.parametrize("text", ["foo", "relu1", "relu1_1,foo", "RELU1_1x"])
def test_names_rejects(text):
    with pytest.raises(ValueError, match="is not a layer name"):
        parse.names(text)


def test_floats():
    assert parse.floats("0.05,.2,1") == (0.05, 0.2, 1.0)
    assert parse.floats("0") == (0.0,)


@pytest.mark.parametrize("text", ["-1", "1,-0.5", "nan", "inf", "x", "1,,2"])
def test_floats_rejects(text):
    with pytest.raises(ValueError):
        parse.floats(text)


@pytest.mark.parametrize(
    "fn, text, expected",
    [
        (parse.positive_int, "7", 7),
        (parse.nonneg_int, "0", 0),
        (parse.nonneg_int, "3", 3),
        (parse.positive_float, "0.5", 0.5),
        (parse.nonneg_float, "0", 0.0),
        (parse.nonneg_float, "1e3", 1000.0),
    ],
)
def test_number_parsers_accept(fn, text, expected):
    assert fn(text) == expected


@pytest.mark.parametrize(
    "fn, text",
    [
        (parse.positive_int, "0"),
        (parse.positive_int, "-1"),
        (parse.positive_int, "2.0"),
        (parse.nonneg_int, "-1"),
        (parse.positive_float, "0"),
        (parse.positive_float, "-0.1"),
        (parse.nonneg_float, "-1"),
        (parse.nonneg_float, "nan"),
        (parse.nonneg_float, "inf"),
    ],
)
def test_number_parsers_reject(fn, text):
    with pytest.raises(ValueError):
        fn(text)


def test_init_accepts_keywords_and_existing_files(small_rgb):
    for word in ("content", "noise", "style-mean"):
        assert parse.init(word) == word
    assert parse.init(str(small_rgb)) == str(small_rgb)
    with pytest.raises(ValueError, match="neither content, noise, style-mean nor an existing file"):
        parse.init(str(small_rgb.with_name("missing.png")))


def test_nonneg_int_accepts_any_spelling_of_zero():
    assert parse.nonneg_int("00") == 0


@pytest.mark.parametrize("text", ["relu1_1,relu2_1=4", "=4"])
def test_shifts_rejects_a_bad_layer_part_with_a_clear_message(text):
    with pytest.raises(ValueError, match="relu1_1=4,8,16"):
        parse.shifts(text)
