"""Tests for fuchun.batch and ``fuchun batch``: job files, folders, failures, skips, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fuchun.batch.jobs import folder_jobs, read_jobs
from fuchun.cli.parser import main
from fuchun.errors import ConfigFileError, UsageError
from helpers import SRC, TINY_FLAGS

TINY = [*TINY_FLAGS, "--device", "cpu", "--precision", "fp32"]


@pytest.fixture
def folders(tmp_path, examples_dir) -> tuple[Path, Path]:
    """(contents, styles): two photos and a broken 'photo' (text named .jpg), two style images."""
    contents, styles = tmp_path / "photos", tmp_path / "styles"
    contents.mkdir()
    styles.mkdir()
    (contents / "a-tubingen.jpg").write_bytes((examples_dir / "tubingen.jpg").read_bytes())
    (contents / "b-mountains.jpg").write_bytes((examples_dir / "fuchun-mountains.jpg").read_bytes())
    (contents / "c-broken.jpg").write_text("not a picture")
    (styles / "starry.jpg").write_bytes((examples_dir / "starry-night.jpg").read_bytes())
    (styles / "mountains.jpg").write_bytes((examples_dir / "fuchun-mountains.jpg").read_bytes())
    return contents, styles


JOBS = [
    {"content": "photos/a-tubingen.jpg", "style": "styles/starry.jpg", "output": "out/1.png", "size": 64},
    {"content": "photos/b-mountains.jpg", "style": ["styles/starry.jpg", "styles/mountains.jpg"], "output": "out/2.png",
     "strength": 7, "preserve_colors": "luminance"},
]  # fmt: skip


def test_the_three_job_files_give_the_same_jobs(tmp_path, folders):
    toml = 'steps = 4\n[[job]]\ncontent = "photos/a-tubingen.jpg"\nstyle = "styles/starry.jpg"\noutput = "out/1.png"\n'
    toml += 'size = 64\n\n[[job]]\ncontent = "photos/b-mountains.jpg"\n'
    toml += 'style = ["styles/starry.jpg", "styles/mountains.jpg"]\noutput = "out/2.png"\nstrength = 7\n'
    toml += 'preserve_colors = "luminance"\n'
    (tmp_path / "jobs.toml").write_text(toml)
    csv = "content,style,output,size,strength,preserve-colors\nphotos/a-tubingen.jpg,styles/starry.jpg,out/1.png,64,,\n"
    csv += "photos/b-mountains.jpg,styles/starry.jpg;styles/mountains.jpg,out/2.png,,7,luminance\n"
    (tmp_path / "jobs.csv").write_text(csv)
    (tmp_path / "jobs.jsonl").write_text("\n".join(json.dumps(j) for j in JOBS) + "\n")
    found = {s: read_jobs(tmp_path / f"jobs.{s}", defaults={"steps": 4}) for s in ("toml", "csv", "jsonl")}
    assert found["toml"] == found["csv"] == found["jsonl"]
    first, second = found["toml"]
    assert first.content == str(tmp_path / "photos/a-tubingen.jpg") and first.options == {"steps": 4, "size": 64}
    assert second.styles == (str(tmp_path / "styles/starry.jpg"), str(tmp_path / "styles/mountains.jpg"))
    assert second.options == {"steps": 4, "strength": 7.0, "preserve_colors": "luminance"}


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ('{"content": "a.jpg", "style": "b.jpg"}', ConfigFileError, "job 1: no output"),
        ('{"content": "a.jpg", "style": "b.jpg", "output": "o.png", "sizes": 3}', ConfigFileError, "unknown option"),
        ('{"content": "a.jpg", "style": "b.jpg", "output": "o.png", "steps": -1}', ConfigFileError, "job 1: steps"),
        ('{"content": "a.jpg", "style": "b.jpg", "output": "o.png"}\n{"content": "c.jpg", "style": "b.jpg", '
         '"output": "o.png"}', UsageError, "jobs 1 and 2 both write"),
        ('{"content": "a.jpg", "style": "b.jpg", "output": "a.jpg"}', UsageError, "overwrite its input"),
        ("[1, 2]", ConfigFileError, "a job is a JSON object"),
    ],
)  # fmt: skip
def test_bad_job_files_are_refused_before_any_work(tmp_path, text, error, match):
    (tmp_path / "jobs.jsonl").write_text(text)
    with pytest.raises(error, match=match):
        read_jobs(tmp_path / "jobs.jsonl")


def test_folder_jobs_pair_every_or_zip(tmp_path, folders):
    contents, styles = folders
    every = folder_jobs(contents, styles, tmp_path / "out")
    assert len(every) == 6
    assert Path(every[0].output).name == "a-tubingen-mountains.png"
    with pytest.raises(UsageError, match="as many content files"):
        folder_jobs(contents, styles, tmp_path / "out", pairs="zip")
    (contents / "c-broken.jpg").unlink()
    zipped = folder_jobs(contents, styles, tmp_path / "out", pairs="zip")
    assert [Path(j.output).name for j in zipped] == ["a-tubingen-mountains.png", "b-mountains-starry.png"]


def test_batch_reports_a_broken_job_finishes_the_rest_and_resumes(capsys, tmp_path, folders, tiny_pretrained):
    contents, styles = folders
    argv = ["batch", "--content", str(contents), "--style", str(styles), "-o", str(tmp_path / "out"), *TINY]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("] done ") == 4 and err.count("] failed ") == 2
    assert "c-broken-starry.png: cannot read image" in err
    assert err.splitlines()[-1].startswith("fuchun: batch: 4 done, 0 skipped, 2 failed in ")
    assert len(list((tmp_path / "out").glob("*.png"))) == 4
    assert main(argv) == 1  # the rerun makes nothing again; the broken job fails again
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("fuchun: batch: 0 done, 4 skipped, 2 failed in ")


def test_batch_makes_a_video_job(capsys, tmp_path, examples_dir, tiny_pretrained):
    from fuchun.io.read import read_image
    from fuchun.video import synthetic
    from fuchun.video.frames import probe

    frames = synthetic.zoom(read_image(examples_dir / "tubingen.jpg"), size=(64, 48), frames=3)
    synthetic.write_clip(tmp_path / "clip.mp4", frames, rate=10)
    row = {"content": "clip.mp4", "style": str(examples_dir / "starry-night.jpg"), "output": "v.mp4", "every": 2}
    (tmp_path / "jobs.jsonl").write_text(json.dumps(row))
    assert main(["batch", str(tmp_path / "jobs.jsonl"), *TINY]) == 0, capsys.readouterr().err
    info = probe(tmp_path / "v.mp4")
    assert info.frames == 2 and info.rate == 5


@pytest.mark.weights
def test_two_worker_processes_share_the_jobs(tmp_path, folders, real_weights):
    """``--workers 2`` on real worker processes (spawned, each loading the real network once)."""
    contents, styles = folders
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "fuchun.cli", "batch", "--content", str(contents), "--style", str(styles)]
    argv += ["-o", str(tmp_path / "out"), "--workers", "2", *TINY]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    workers = {line.rsplit("(", 1)[1].rstrip(")") for line in lines if "] done " in line}
    assert len(workers) == 2, done.stderr
    assert lines[-1].startswith("fuchun: batch: 4 done, 0 skipped, 2 failed in ") and "on 2 workers" in lines[-1]


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["batch"], "give a job file, or --content DIR, --style DIR and -o OUTDIR"),
        (["batch", "jobs.xml"], "use .toml, .csv or .jsonl"),
        (["batch", "--content", ".", "--style", ".", "-o", "out"], "holds no"),
        (["batch", "missing.toml"], "cannot read job file 'missing.toml': no such file"),
        (["batch", "--workers", "0", "x.toml"], "argument --workers"),
    ],
)
def test_batch_usage_errors_are_one_line(capsys, tmp_path, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.xml").write_text("<jobs/>")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fuchun: error: ") and match in err, err
