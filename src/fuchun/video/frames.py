"""Reading and writing video files with PyAV: frames as tensors, frame rate and audio kept.

Reading picks frames ``start, start + every, ...`` (at most ``max_frames``). Writing encodes
the frames at the source's rate divided by ``every`` and copies the source's audio packets
of the same span (re-timed, not re-encoded) into the new file, which is written atomically
(:func:`fuchun.io.atomic.write_atomic`). The container follows the output's suffix.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch

from fuchun.errors import ImageError, UsageError
from fuchun.io.atomic import write_atomic
from fuchun.io.paths import not_a_file

# FFmpeg's name of a container's default audio codec -> the encoder to use for it
ENCODERS = {"opus": "libopus", "mp3": "libmp3lame"}
# suffix -> (container format, video codec, codec options)
CONTAINERS = {
    ".mp4": ("mp4", "libx264", {"crf": "17", "preset": "medium"}),
    ".mov": ("mov", "libx264", {"crf": "17", "preset": "medium"}),
    ".mkv": ("matroska", "libx264", {"crf": "17", "preset": "medium"}),
    ".webm": ("webm", "libvpx-vp9", {"crf": "24", "b": "0"}),
    ".avi": ("avi", "mpeg4", {"qscale": "2"}),
}


@dataclass(frozen=True)
class Selection:
    """Which source frames a video run takes: ``start``, then every ``every``-th, at most ``max_frames``."""

    start: int = 0
    every: int = 1
    max_frames: int | None = None

    def indices(self, total: int) -> range:
        """The source frame indices chosen out of ``total``."""
        chosen = range(self.start, total, self.every)
        return chosen if self.max_frames is None else chosen[: self.max_frames]


@dataclass(frozen=True)
class VideoInfo:
    """What a run needs to know of a source video."""

    frames: int
    rate: Fraction  # frames per second
    size: tuple[int, int]  # (W, H)
    has_audio: bool


def _open(path: str | pathlib.Path):
    problem = not_a_file(path)
    if problem is not None:
        raise ImageError(f"cannot read video '{path}': {problem}")
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise ImageError(f"cannot read video '{path}': {exc}") from None
    if not container.streams.video:
        container.close()
        raise ImageError(f"'{path}' holds no video stream")
    return container


def probe(path: str | pathlib.Path) -> VideoInfo:
    """Frame count (counted by decoding where the file does not say), rate, size, audio."""
    with _open(path) as container:
        stream = container.streams.video[0]
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        size = (stream.codec_context.width, stream.codec_context.height)
        count = stream.frames or sum(1 for _ in container.decode(stream))
        return VideoInfo(frames=count, rate=rate, size=size, has_audio=bool(container.streams.audio))


def read_frames(path: str | pathlib.Path, selection: Selection) -> Iterator[tuple[int, torch.Tensor]]:
    """(source index, (3, H, W) float in [0, 1]) of each selected frame, in order."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        wanted = selection.indices(10**12)
        last = wanted[-1] if len(wanted) else -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if index > last:
                    break
                if index in wanted:
                    pixels = torch.from_numpy(frame.to_ndarray(format="rgb24"))  # (H, W, 3) uint8
                    yield index, pixels.permute(2, 0, 1).float().div(255)  # -> (3, H, W)
        except av.FFmpegError as exc:
            raise ImageError(f"cannot decode video '{path}': {exc}") from None


def container_for(path: str | pathlib.Path) -> tuple[str, str, dict]:
    """(format, codec, options) for an output path; UsageError for an unknown suffix."""
    suffix = pathlib.Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        raise UsageError(f"cannot write video '{path}': use one of {', '.join(CONTAINERS)}")
    return CONTAINERS[suffix]


def write_video(
    target: str | pathlib.Path,
    frames: Iterable[torch.Tensor],
    *,
    rate: Fraction,
    audio_from: str | pathlib.Path | None = None,
    span: tuple[float, float] | None = None,
) -> pathlib.Path:
    """Encode (3, H, W) frames at ``rate`` into ``target`` atomically, with the audio of
    ``audio_from`` between ``span`` = (start, end) seconds copied in, starting at 0."""
    fmt, codec, options = container_for(target)

    def encode(stream_out) -> None:
        with av.open(stream_out, mode="w", format=fmt) as out:
            video = None
            audio = _audio_copier(out, audio_from, span)
            for k, frame in enumerate(frames):
                pixels = (frame.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, 3)
                if video is None:
                    video = _video_stream(out, codec, options, rate, pixels.shape[1], pixels.shape[0])
                picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
                picture.pts = k
                out.mux(video.encode(picture))
            if video is None:
                raise ImageError(f"no frames to write to '{target}'")
            out.mux(video.encode(None))
            if audio is not None:
                audio()

    return write_atomic(target, encode)


def _video_stream(out, codec: str, options: dict, rate: Fraction, width: int, height: int):
    stream = out.add_stream(codec, rate=rate, options=dict(options))
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    stream.codec_context.time_base = Fraction(1) / rate
    return stream


def _audio_copier(out, source, span):
    """A function copying ``source``'s first audio stream within ``span`` into ``out`` (None where
    there is no audio); the stream is added now, before the first packet is written. The packets
    are copied as they are where the container takes the codec, else decoded and encoded again
    with the container's own audio codec (AAC into WebM becomes Opus)."""
    if source is None:
        return None
    container = av.open(str(source))
    if not container.streams.audio:
        container.close()
        return None
    audio_in = container.streams.audio[0]
    start, end = span if span is not None else (0.0, math.inf)
    if audio_in.codec_context.name in out.supported_codecs:
        return _remux(container, audio_in, out.add_stream_from_template(audio_in), out, start, end)
    codec = ENCODERS.get(out.default_audio_codec, out.default_audio_codec)
    rate = audio_in.codec_context.sample_rate
    audio_out = out.add_stream(codec, rate=48000 if codec == "libopus" else rate, layout=audio_in.layout.name)
    return _transcode(container, audio_in, audio_out, out, start, end)


def _remux(container, audio_in, audio_out, out, start: float, end: float):
    def copy() -> None:
        with container:
            offset = None
            for packet in container.demux(audio_in):
                if packet.pts is None or packet.size == 0:
                    continue
                t = float(packet.pts * audio_in.time_base)
                if t < start or t >= end:
                    continue
                offset = packet.pts if offset is None else offset
                packet.pts -= offset
                packet.dts = None if packet.dts is None else packet.pts
                packet.stream = audio_out
                out.mux(packet)

    return copy


def _transcode(container, audio_in, audio_out, out, start: float, end: float):
    def copy() -> None:
        with container:
            for frame in container.decode(audio_in):
                if frame.time is None or frame.time < start or frame.time >= end:
                    continue
                frame.pts = None  # the encoder numbers the samples from 0
                out.mux(audio_out.encode(frame))
            out.mux(audio_out.encode(None))

    return copy
