"""Tests for fuchun.video: real clips encoded and decoded with PyAV, frame cache, resume, the CLI."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch
from PIL import Image

from fuchun.cli.parser import main
from fuchun.config.options import VideoConfig
from fuchun.errors import Stopped, UsageError
from fuchun.io.read import read_image
from fuchun.report.base import Reporter
from fuchun.video import synthetic
from fuchun.video.cache import FrameCache
from fuchun.video.frames import Selection, probe, read_frames
from fuchun.video.stylise import stylise_video
from helpers import TINY_FLAGS

TINY_FLAGS += ["--device", "cpu", "--precision", "fp32"]


@pytest.fixture
def clip(tmp_path, examples_dir) -> Path:
    """An 8-frame 12 fps pan over the bundled photo, 80x60 px, with a 440 Hz tone as AAC audio."""
    frames = synthetic.pan(read_image(examples_dir / "tubingen.jpg"), size=(80, 60), frames=8, speed=2.0)
    return synthetic.write_clip(tmp_path / "clip.mp4", frames, rate=12, tone_hz=440)


@pytest.fixture
def style(examples_dir) -> Path:
    return examples_dir / "starry-night.jpg"


def _audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [p for p in container.demux(stream) if p.pts is not None and p.size]
        return float((packets[-1].pts + packets[-1].duration - packets[0].pts) * stream.time_base)


def test_a_clip_reads_back_as_written(clip):
    info = probe(clip)
    assert (info.frames, info.rate, info.size, info.has_audio) == (8, Fraction(12), (80, 60), True)
    picked = [i for i, _ in read_frames(clip, Selection(start=1, every=3))]
    assert picked == [1, 4, 7]


def test_video_keeps_rate_size_and_audio(tmp_path, clip, style, tiny_net, tiny_options):
    out = tmp_path / "out.mkv"
    video = VideoConfig(start=1, every=2, max_frames=3)
    stylise_video(clip, [style], out, options=tiny_options, video=video, net=tiny_net)
    info = probe(out)
    assert (info.frames, info.rate, info.size, info.has_audio) == (3, Fraction(6), (64, 48), True)
    assert abs(_audio_seconds(out) - 0.5) < 0.1  # 3 frames at 6 fps: the audio of that half second
    assert not (tmp_path / "out.mkv.frames").exists()  # the frame folder goes once the video is written


class _StopAfter(Reporter):
    """Asks the run to stop after ``steps`` loss evaluations in all."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    def step(self, progress) -> None:
        self.left -= 1

    def should_stop(self) -> bool:
        return self.left <= 0


def test_a_stopped_video_goes_on_at_the_next_frame(tmp_path, clip, style, tiny_net, tiny_options):
    cache = tmp_path / "frames"
    video = VideoConfig(max_frames=4, cache=str(cache))
    with pytest.raises(Stopped):
        stylise_video(clip, [style], tmp_path / "a.mp4", options=tiny_options, video=video, net=tiny_net,
                      reporter=_StopAfter(12))  # fmt: skip
    assert sorted(p.name for p in cache.glob("*.png")) == ["000000.png", "000001.png"]
    assert not (tmp_path / "a.mp4").exists()
    seen = []
    stylise_video(clip, [style], tmp_path / "a.mp4", options=tiny_options, video=video, net=tiny_net,
                  on_frame=seen.append)  # fmt: skip
    assert [d.cached for d in seen] == [True, True, False, False]
    assert probe(tmp_path / "a.mp4").frames == 4
    # the same frames as a run never stopped
    whole = VideoConfig(max_frames=4, cache=str(tmp_path / "whole"))
    stylise_video(clip, [style], tmp_path / "b.mp4", options=tiny_options, video=whole, net=tiny_net)
    for k in range(4):
        assert torch.equal(FrameCache(cache, {}).load(k), FrameCache(tmp_path / "whole", {}).load(k)), k


def test_frames_of_another_run_are_refused(tmp_path, clip, style, tiny_net, tiny_options):
    video = VideoConfig(max_frames=2, cache=str(tmp_path / "frames"))
    stylise_video(clip, [style], tmp_path / "a.mp4", options=tiny_options, video=video, net=tiny_net)
    other = {**tiny_options, "steps": 6}
    with pytest.raises(UsageError, match="holds frames of another run .*options"):
        stylise_video(clip, [style], tmp_path / "b.mp4", options=other, video=video, net=tiny_net)


def test_mask_folder_gives_each_frame_its_mask(tmp_path, clip, style, examples_dir, tiny_net, tiny_options):
    left, right = tmp_path / "left", tmp_path / "right"
    for folder, box in ((left, (0, 0, 40, 60)), (right, (40, 0, 80, 60))):
        folder.mkdir()
        for k in range(3):
            mask = Image.new("L", (80, 60), 0)
            mask.paste(255, box)
            mask.save(folder / f"m{k:02d}.png")
    options = {**tiny_options, "masks": (str(left), str(right))}
    styles = [style, examples_dir / "fuchun-mountains.jpg"]
    stylise_video(clip, styles, tmp_path / "m.mp4", options=options, video=VideoConfig(max_frames=3), net=tiny_net)
    assert probe(tmp_path / "m.mp4").frames == 3
    with pytest.raises(UsageError, match="has 3 masks; frame 3 needs one more"):
        stylise_video(clip, styles, tmp_path / "n.mp4", options=options, video=VideoConfig(max_frames=4), net=tiny_net)


def test_cli_video_prints_a_line_per_frame(capsys, tmp_path, clip, style, tiny_pretrained):
    out = tmp_path / "styled.mp4"
    second = style.with_name("fuchun-mountains.jpg")
    status = main(["video", str(clip), str(style), str(second), "--style-blend", "3,1", "-o", str(out), "--max-frames",
                   "3", "--preserve-colors", "luminance", *TINY_FLAGS])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 0, err
    assert "fuchun: frame 1/3 (source frame 0) in " in err
    assert "fuchun: frame 3/3 (source frame 2) in " in err and "s left" in err
    assert probe(out).frames == 3


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["-o", "out.xyz"], "cannot write video"),
        (["-o", "out.mp4", "--start", "50"], "--start 50 is past the last frame"),
        (["-o", "out.mp4", "--every", "0"], "argument --every"),
        (["-o", "out.mp4", "--flow", "learned"], "invalid choice"),
        (["-o", "out.mp4", "--style-blend", "1,2"], "--style-blend needs one weight per style image"),
    ],
)
def test_cli_video_bad_input_is_one_line(capsys, tmp_path, clip, style, tiny_pretrained, extra, match, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())
    status = main(["video", str(clip), str(style), *extra, *TINY_FLAGS])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("fuchun: error: ") and match in err, err
    assert set(tmp_path.iterdir()) == before


def test_cli_video_ctrl_c_keeps_the_frames_and_the_same_command_goes_on(capsys, tmp_path, clip, style,
                                                                         tiny_pretrained):  # fmt: skip
    import os
    import signal
    import threading
    import time

    out = tmp_path / "styled.mp4"
    argv = ["video", str(clip), str(style), "-o", str(out), "--max-frames", "6", *TINY_FLAGS, "--steps", "40"]
    frames = tmp_path / "styled.mp4.frames"

    def interrupt() -> None:  # Ctrl-C once the second frame is on disk
        deadline = time.monotonic() + 120
        while not (frames / "000001.png").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    status = main(argv)
    thread.join()
    err = capsys.readouterr().err
    assert status == 128 + signal.SIGINT, err
    assert "stopped; the finished frames are kept in" in err
    done = sorted(p.name for p in frames.glob("*.png"))
    assert 2 <= len(done) < 6 and not out.exists()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("already done") == len(done)
    assert probe(out).frames == 6 and not frames.exists()


@pytest.mark.weights
def test_cli_video_with_the_real_network(capsys, tmp_path, clip, style, real_weights):
    """The command loads the pretrained network itself once (the bug this caught: an unresolved preset)."""
    out = tmp_path / "real.webm"
    argv = ["video", str(clip), str(style), "-o", str(out), "--max-frames", "2", "--size", "64", "--steps", "3"]
    assert main([*argv, "--device", "cpu"]) == 0, capsys.readouterr().err
    assert probe(out).frames == 2 and probe(out).has_audio  # the AAC audio encoded again as Opus (WebM takes no AAC)


def test_cli_video_refuses_a_file_that_is_no_video(capsys, tmp_path, style, tiny_pretrained):
    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video")
    assert main(["video", str(fake), str(style), "-o", str(tmp_path / "out.mp4"), *TINY_FLAGS]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fuchun: error: cannot read video") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake.mp4"]
