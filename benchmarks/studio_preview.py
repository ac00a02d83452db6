"""The studio's live preview: what it costs a render, measured with the preview on and off.

Each run goes through the studio's own service (``Studio.run``: the engine on its thread,
the trace, the downloads), and the consumer does what the page's server does with every
frame: with the preview on it encodes the picture and the loss curve as PNG, as Gradio
does before sending them; with it off only the progress line goes out. Runs alternate
on/off; the fastest of each is compared.

    .venv/bin/python benchmarks/studio_preview.py [--size 192] [--steps 60] [--repeats 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import pathlib
import sys
import time

from fuchun.studio.runner import Frame
from fuchun.studio.service import Request, Studio, Upload
from fuchun.studio.settings import Settings

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "src" / "fuchun" / "examples"


def png_bytes(image) -> int:
    """Encode as PNG the way the page's server does before sending; the size in bytes."""
    from PIL import Image

    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format="PNG")
    return buffer.tell()


def one_run(studio: Studio, settings: Settings, *, preview: bool) -> tuple[float, int, str]:
    """(seconds from Start to the result, frames with a picture, the result's message)."""
    request = Request(
        settings,
        Upload(str(EXAMPLES / "tubingen.jpg"), "tubingen.jpg"),
        [Upload(str(EXAMPLES / "starry-night.jpg"), "starry-night.jpg")],
    )
    t0, pictures, message = time.perf_counter(), 0, ""
    for item in studio.run(studio.ticket(), request, preview=preview):
        if isinstance(item, Frame):
            if item.preview is not None:
                png_bytes(item.preview)
                pictures += 1
            if item.plot is not None:
                png_bytes(item.plot)
        else:
            message = item.message
    return time.perf_counter() - t0, pictures, message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    print("command:", " ".join([pathlib.Path(sys.executable).name, *sys.argv]))
    studio = Studio()
    settings = Settings(size=args.size, steps=args.steps, device=args.device)
    one_run(studio, Settings(size=64, steps=2, device=args.device), preview=False)  # warm-up: caches, first load
    times: dict[bool, list[float]] = {False: [], True: []}
    try:
        for r in range(args.repeats):
            for preview in (False, True) if r % 2 == 0 else (True, False):
                seconds, pictures, message = one_run(studio, settings, preview=preview)
                times[preview].append(seconds)
                print(f"preview {'on ' if preview else 'off'}: {seconds:7.2f} s, {pictures:3d} previews, {message}")
    finally:
        studio.close()
    off, on = min(times[False]), min(times[True])
    overhead = 100 * (on / off - 1)
    print(f"{args.size} px, {args.steps} steps: fastest off {off:.2f} s, on {on:.2f} s; overhead {overhead:+.1f} %")
    print(f"{on / off:.4f}")


if __name__ == "__main__":
    main()
