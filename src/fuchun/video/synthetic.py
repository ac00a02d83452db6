"""Test clips with real motion made from still pictures: pans, zooms and two-layer parallax.

Each clip is a camera moving over a picture (``pan``, ``zoom``) or a foreground cut-out
gliding over a slower background (``parallax``: the nearer layer moves farther, with
occlusion and disocclusion at its edge, which is what the temporal loss must mask out).
:func:`write_clip` encodes the frames with PyAV, optionally with a sine tone as AAC audio,
so tests and benchmarks read real files.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np
import torch
import torch.nn.functional as F

from fuchun.io.atomic import write_atomic
from fuchun.io.read import resize_image

AUDIO_RATE = 48000


def _crop(image: torch.Tensor, x: float, y: float, w: float, h: float, size: tuple[int, int]) -> torch.Tensor:
    """The (x, y, w, h) window of (3, H, W) ``image`` (sub-pixel, bilinear) resampled to ``size`` = (W, H)."""
    H, W = image.shape[-2:]
    out_w, out_h = size
    xs = (x + (torch.arange(out_w) + 0.5) * w / out_w) / W * 2 - 1
    ys = (y + (torch.arange(out_h) + 0.5) * h / out_h) / H * 2 - 1
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)[None]  # (1, out_h, out_w, 2)
    return F.grid_sample(image[None], grid, mode="bilinear", align_corners=False, padding_mode="border")[0]


def pan(image: torch.Tensor, *, size: tuple[int, int], frames: int, speed: float = 2.0) -> list[torch.Tensor]:
    """A camera moving right by ``speed`` output px per frame over ``image`` (fitted to the frame's height)."""
    W, H = size
    scaled = resize_image(image, size=(max(round(image.shape[-1] * H / image.shape[-2]), W + 1), H))
    travel = min(speed * frames, scaled.shape[-1] - W)
    return [_crop(scaled, travel * k / max(frames - 1, 1), 0, W, H, size) for k in range(frames)]


def zoom(image: torch.Tensor, *, size: tuple[int, int], frames: int, factor: float = 1.3) -> list[torch.Tensor]:
    """A camera zooming in by ``factor`` over the clip, towards the middle of ``image``."""
    W, H = size
    iw, ih = image.shape[-1], image.shape[-2]
    base = min(iw / W, ih / H)  # the widest window of the frame's aspect
    out = []
    for k in range(frames):
        s = base / factor ** (k / max(frames - 1, 1))
        out.append(_crop(image, (iw - W * s) / 2, (ih - H * s) / 2, W * s, H * s, size))
    return out


def parallax(
    back: torch.Tensor, front: torch.Tensor, *, size: tuple[int, int], frames: int, speed: float = 1.0
) -> list[torch.Tensor]:
    """A slow pan over ``back`` with an elliptic cut-out of ``front`` moving three times as fast."""
    W, H = size
    background = pan(back, size=size, frames=frames, speed=speed)
    fw, fh = W // 3, H // 2
    patch = resize_image(front, size=(fw, fh))
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, fh), torch.linspace(-1, 1, fw), indexing="ij")
    alpha = ((xs**2 + ys**2) < 1).float()[None]  # (1, fh, fw): the ellipse
    out = []
    for k, frame in enumerate(background):
        x, y = round(W // 8 + 3 * speed * k), (H - fh) // 2
        frame = frame.clone()
        x0, x1 = max(x, 0), min(x + fw, W)
        if x1 > x0:
            region = frame[:, y : y + fh, x0:x1]
            a, p = alpha[:, :, x0 - x : x1 - x], patch[:, :, x0 - x : x1 - x]
            frame[:, y : y + fh, x0:x1] = a * p + (1 - a) * region
        out.append(frame)
    return out


MOTIONS: dict[str, Callable[..., list[torch.Tensor]]] = {"pan": pan, "zoom": zoom, "parallax": parallax}


def write_clip(
    path: str | pathlib.Path, frames: list[torch.Tensor], *, rate: int = 12, tone_hz: float | None = None
) -> pathlib.Path:
    """Encode (3, H, W) ``frames`` as an H.264 .mp4 (lossless-ish, crf 10) at ``rate`` fps, with a
    sine tone of ``tone_hz`` as AAC audio over the whole clip when given."""

    def encode(stream_out) -> None:
        with av.open(stream_out, mode="w", format="mp4") as out:
            video = out.add_stream("libx264", rate=Fraction(rate), options={"crf": "10"})
            video.width, video.height = frames[0].shape[-1], frames[0].shape[-2]
            video.pix_fmt = "yuv420p"
            audio = None if tone_hz is None else out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
            for k, frame in enumerate(frames):
                pixels = (frame.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
                picture = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                picture.pts = k
                out.mux(video.encode(picture))
            out.mux(video.encode(None))
            if audio is not None:
                _tone(out, audio, seconds=len(frames) / rate, hz=tone_hz)

    return write_atomic(path, encode)


def _tone(out, stream, *, seconds: float, hz: float) -> None:
    """Encode ``seconds`` of a sine at ``hz`` into the audio ``stream``."""
    n = math.ceil(seconds * AUDIO_RATE)
    samples = (0.2 * np.sin(2 * np.pi * hz * np.arange(n) / AUDIO_RATE)).astype(np.float32)
    chunk = 1024
    for i in range(0, n, chunk):
        part = samples[None, i : i + chunk]  # (1 channel, samples)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(part), format="flt", layout="mono")
        frame.sample_rate, frame.pts = AUDIO_RATE, i
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
