"""The benchmarks must keep working: their quick modes run here on the CPU (real weights), each
writes its results (into a temporary folder here), and docs/evidence.md is what the results make."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from PIL import Image

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch) -> pathlib.Path:
    """The folder the benchmarks of a test write their results to (never benchmarks/results)."""
    folder = tmp_path / "results"
    monkeypatch.setenv("FUCHUN_RESULTS", str(folder))
    return folder


def _recorded(folder: pathlib.Path, name: str, script: str = "") -> dict:
    """A benchmark's saved results, checked for what evidence.py reads."""
    record = json.loads((folder / f"{name}.json").read_text())
    assert record["command"].startswith(f"python benchmarks/{script or name}.py")
    tables = record["tables"]
    assert tables and all(t["rows"] and len(r) == len(t["columns"]) for t in tables for r in t["rows"])
    assert record["machine"]["cores"] >= 1 and record["commit"]
    return record


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args], cwd=BENCH, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.weights
def test_gpu_benchmark_runs_on_cpu_at_tiny_sizes(real_weights, results):
    out = _run("gpu.py", "--quick", "--device", "cpu")
    assert "ms/eval" in out and "end-to-end default run at 96 px" in out
    assert "needs about" in out  # planned with the default objective's own loads
    assert [row[0] for row in _recorded(results, "gpu")["tables"][0]["rows"]] == ["64x64", "96x96"]


@pytest.mark.weights
def test_speed_benchmark_quick_prints_the_ratio_last(real_weights, results):
    last = _run("speed.py", "--quick", "--device", "cpu").strip().splitlines()[-1]
    assert float(last) > 0
    assert len(_recorded(results, "speed")["tables"]) == 2  # whole runs, one evaluation
    plan = _recorded(results, "plan", "speed")
    assert plan["command"] == "python benchmarks/speed.py --plan" and len(plan["tables"][0]["rows"]) == 4


@pytest.mark.weights
def test_memory_benchmark_plans_a_whole_small_run_on_the_safe_side_within_1_3x(real_weights, results):
    # 512x384: below it the run's fixed cost (modules torch loads on the first step, allocator
    # state) varies by some 40 MiB between environments, as much as a 160 px run's own buffers
    out = _run("memory.py", "--sizes", "512", "--aspects", "4:3", "--steps", "12", "--history", "2").strip()
    lines = out.splitlines()
    assert any("measured" in line and "planned" in line for line in lines)
    smallest, largest = float(lines[-2]), float(lines[-1])  # planned / measured
    assert 1.0 <= smallest <= largest <= 1.3
    assert _recorded(results, "memory")["tables"][0]["rows"][0][0] == "512x384"


@pytest.mark.weights
def test_studio_preview_benchmark_runs_at_a_tiny_size(real_weights, results):
    out = _run("studio_preview.py", "--size", "64", "--steps", "6", "--repeats", "1", "--device", "cpu")
    lines = out.strip().splitlines()
    assert any(line.startswith("preview on") for line in lines) and any(
        line.startswith("preview off") for line in lines
    )
    assert 0 < float(lines[-1]) < 1
    _recorded(results, "studio_preview")


@pytest.mark.weights
def test_quality_benchmark_renders_measures_and_sheets_a_tiny_pair(real_weights, tmp_path, results):
    examples = BENCH.parent / "src" / "fuchun" / "examples"
    args = ["--images", str(examples), "--pairs", "tubingen+starry-night", "--sizes", "64", "--steps", "3"]
    variant = "fuchun[content-weight=3]"
    out = _run("quality.py", *args, "--presets", "gatys,fuchun", "--set", "content-weight=3", "--out", str(tmp_path))
    assert out.startswith("    python benchmarks/quality.py --images src/fuchun/examples")  # as typed at the root
    record = _recorded(results, "quality")
    assert "--out PATH" in record["command"]  # a folder of this machine is not written down
    assert [t["title"] for t in record["tables"]] == ["64 px, every pair", "64 px, means per run"]
    assert f"| tubingen+starry-night | {variant} |" in out and ("1/1" in out or "0/1" in out)
    rows = json.loads((tmp_path / "results.json").read_text())["results"]
    assert [(r["pair"], r["preset"], r["size"]) for r in rows] == [
        ("tubingen+starry-night", "gatys", 64),
        ("tubingen+starry-night", variant, 64),
    ]
    assert (tmp_path / "64" / f"tubingen+starry-night.{variant}.png").is_file()
    assert all(0 < r["structure"] <= 1 and r["style_distance"] > 0 and r["colour_distance"] > 0 for r in rows)
    with Image.open(tmp_path / "sheet-64.png") as sheet:
        assert sheet.width > 4 * 200  # photo, style and two presets side by side
    again = _run("quality.py", *args, "--presets", "gatys", "--out", str(tmp_path), "--reuse")
    assert "| tubingen+starry-night | gatys |" in again


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--images", "{tmp}/none"], "evaluation images are missing"),
        (["--set", "content-weight"], "--set takes OPTION=VALUE"),
        (["--set", "content-weight=-1"], "--set: content-weight:"),
        (["--set", "no-such-option=1"], "unknown option(s) no-such-option"),
    ],
)
def test_quality_benchmark_says_in_one_line_what_is_wrong(tmp_path, extra, words):
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    done = subprocess.run(
        [sys.executable, str(BENCH / "quality.py"), *extra, "--out", str(tmp_path)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and words in done.stderr, done.stderr


@pytest.mark.weights
def test_strength_benchmark_sweeps_the_dial_on_a_tiny_pair(real_weights, tmp_path, results):
    out = _run("strength.py", "--size", "64", "--strengths", "2,8", "--out", str(tmp_path))
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == ["preset fuchun", "strength 2", "strength 8"]
    assert out.startswith("command: python benchmarks/strength.py --size 64")
    assert (tmp_path / "strength-sheet.png").exists() and (tmp_path / "strength-8.png").exists()
    assert [row[0] for row in _recorded(results, "strength")["tables"][0]["rows"]] == [
        "preset fuchun",
        "strength 2",
        "strength 8",
    ]


def _image_folder(tmp_path: pathlib.Path, names: dict[str, str]) -> pathlib.Path:
    """A folder laid out like the benchmarks' image folder, made of the bundled examples."""
    examples = BENCH.parent / "src" / "fuchun" / "examples"
    for target, source in names.items():
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / target).write_bytes((examples / source).read_bytes())
    return tmp_path


@pytest.mark.weights
def test_temporal_benchmark_prints_its_table_and_strip(real_weights, tmp_path, results):
    images = _image_folder(
        tmp_path / "images",
        {"content/golden-gate.jpg": "tubingen.jpg", "style/starry-night.jpg": "starry-night.jpg"},
    )
    out = _run("temporal.py", "--size", "64", "--frames", "3", "--steps", "3", "--clips", "pan",
               "--images", str(images), "--out", str(tmp_path / "out"))  # fmt: skip
    assert "| pan | **ratio** |" in out
    assert (tmp_path / "out" / "pan-strip.jpg").is_file()
    _recorded(results, "temporal")


@pytest.mark.weights
def test_batch_benchmark_prints_the_estimate(real_weights, tmp_path, results):
    images = _image_folder(
        tmp_path / "images", {"content/tubingen.jpg": "tubingen.jpg", "style/starry-night.jpg": "starry-night.jpg"}
    )
    out = _run("batch.py", "--size", "64", "--pictures", "1", "--steps", "3", "--images", str(images),
               "--gpu-ms-per-eval", "40")  # fmt: skip
    assert "T(N, G) = N x t_picture / G + t_load" in out and "GPU (ASSUMED 40 ms" in out
    _recorded(results, "batch")


def test_quality_runs_are_presets_with_options_of_their_own(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import quality

    args = quality.arguments(
        ["--presets", "gatys,paint[content-layers=relu2_1,relu4_2;style-pull=64],paint", "--set", "content-weight=2"]
    )
    assert quality.variants(args) == {
        "gatys": ("gatys", {}),  # the baseline takes no --set
        "paint[content-layers=relu2_1,relu4_2;style-pull=64;content-weight=2]": (
            "paint",
            {"content_layers": ("relu2_1", "relu4_2"), "style_pull": 64.0, "content_weight": 2.0},
        ),
        "paint[content-weight=2]": ("paint", {"content_weight": 2.0}),
    }
    with pytest.raises(SystemExit, match="takes OPTION=VALUE"):
        quality.variants(quality.arguments(["--presets", "paint[style-pull]"]))


def test_the_evidence_page_is_what_the_committed_results_make(monkeypatch):
    monkeypatch.delenv("FUCHUN_RESULTS")  # the repository's own results
    done = subprocess.run(
        [sys.executable, str(BENCH / "evidence.py"), "--check"], cwd=BENCH, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_evidence_page_lays_out_saved_results_and_names_the_command_of_missing_ones(monkeypatch, results):
    monkeypatch.syspath_prepend(str(BENCH))
    import common
    import evidence

    monkeypatch.setattr(common, "RESULTS", results)
    monkeypatch.setattr(evidence, "RESULTS", results)
    record = common.Results("cost", common.command_line("cost.py", ["--size", "64", "--out", "/somewhere/else"]))
    record.table("one evaluation", ["objective", "ms"], [["gatys", 12.5]])
    record.note("a conclusion")
    record.save()
    page = evidence.document()
    cost = page[page.index("## What each objective costs") :]
    assert "    python benchmarks/cost.py --size 64 --out PATH" in cost
    assert "| objective | ms |\n|---|---|\n| gatys | 12.5 |" in cost and "- a conclusion" in cost
    assert "Not measured yet: `python benchmarks/speed.py`" in page
