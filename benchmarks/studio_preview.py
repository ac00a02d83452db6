"""The studio's live preview: what it costs a render, measured with the preview on and off.

Each run goes through the studio's own service (``Studio.run``: the engine on its thread,
the trace, the downloads), and the consumer does what the page's server does with every
frame: with the preview on it encodes the picture and the loss curve as PNG, as Gradio
does before sending them (the picture as JPEG, the curve as PNG); with it off only the
progress line goes out. Two measures:
the fastest run with the preview against the fastest without (noisy on a shared machine),
and the preview's own work, in CPU seconds of the threads doing it (taking the pictures on
the run's thread, drawing the loss curves, encoding both), as a share of the render's
wall time; the last line is that share, worst run.

    .venv/bin/python benchmarks/studio_preview.py [--size 192] [--steps 60] [--repeats 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import pathlib
import time

from common import Results, command_line
from fuchun.studio.runner import Frame
from fuchun.studio.service import Request, Studio, Upload
from fuchun.studio.settings import Settings

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "src" / "fuchun" / "examples"


def encoded_bytes(image, fmt: str) -> int:
    """Encode the way the page's server does before sending (the picture as JPEG, the curve as PNG)."""
    from PIL import Image

    buffer = io.BytesIO()
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(buffer, format=fmt)
    return buffer.tell()


def one_run(studio: Studio, settings: Settings, *, preview: bool) -> tuple[float, float, int, str]:
    """(seconds from Start to the result, seconds of preview work, previews, the result's message).

    Preview work: CPU time taking the previews on the run's thread, drawing the loss
    curves, and encoding both (each timed where it happens)."""
    request = Request(
        settings,
        Upload(str(EXAMPLES / "tubingen.jpg"), "tubingen.jpg"),
        [Upload(str(EXAMPLES / "starry-night.jpg"), "starry-night.jpg")],
    )
    t0, pictures, message, encoding, cost = time.perf_counter(), 0, "", 0.0, 0.0
    for item in studio.run(studio.ticket(), request, preview=preview):
        if isinstance(item, Frame):
            t1 = time.thread_time()
            for image, fmt in ((item.preview, "JPEG"), (item.plot, "PNG")):
                if image is not None:
                    encoded_bytes(image, fmt)
            encoding += time.thread_time() - t1
            pictures += item.preview is not None
            cost = item.cost
        else:
            message = item.message
    return time.perf_counter() - t0, cost + encoding, pictures, message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    record = Results("studio_preview", command_line("studio_preview.py"))
    print(f"command: {record.command}")
    studio = Studio()
    settings = Settings(size=args.size, steps=args.steps, device=args.device)
    one_run(studio, Settings(size=64, steps=2, device=args.device), preview=False)  # warm-up: caches, first load
    times: dict[bool, list[float]] = {False: [], True: []}
    shares = []
    try:
        for r in range(args.repeats):
            for preview in (False, True) if r % 2 == 0 else (True, False):
                seconds, work, pictures, message = one_run(studio, settings, preview=preview)
                times[preview].append(seconds)
                if preview:
                    shares.append(work / seconds)
                print(
                    f"preview {'on ' if preview else 'off'}: {seconds:7.2f} s, {pictures:3d} previews, "
                    f"preview work {work:.3f} s, {message}"
                )
    finally:
        studio.close()
    off, on = min(times[False]), min(times[True])
    rows = [
        ["fastest render, preview off", f"{off:.2f} s"],
        ["fastest render, preview on", f"{on:.2f} s ({100 * (on / off - 1):+.1f} %)"],
        ["preview work as a share of the render, timed where it happens (worst run)", f"{100 * max(shares):.2f} %"],
    ]
    print(record.table(f"{args.size} px, {args.steps} steps, {args.repeats} runs each", ["", "measured"], rows))
    record.save()
    print(f"{max(shares):.4f}")


if __name__ == "__main__":
    main()
