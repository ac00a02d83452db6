"""Temporal error of stylised video: independent frames against fuchun's video mode.

Clips with real motion are made from still photos (a pan, a two-layer parallax, a zoom:
:mod:`fuchun.video.synthetic`) and encoded with PyAV. Each is stylised twice with the same
network, options and steps: every frame on its own from the content (the baseline), and by
``fuchun.video.stylise_video`` (each frame from the previous one warped, plus the temporal
loss; Ruder et al. 2016). The temporal error of a result is the mean squared difference
between each output frame and the previous output frame warped onto it, over the pixels
where forward and backward flow agree; the flow here is Farneback's on the source frames,
not the DIS flow the video mode itself uses, so the measure is not the loss it optimised.
The mean absolute difference is printed too. Style distance (fuchun.quality.measures, lower is more
style) and structure kept (SSIM of blurred luminance, higher keeps more of the photo) show
that both modes paint as strongly. Writes a frame strip (source / independent / video)
per clip into --out.

    python benchmarks/temporal.py [--size 192] [--frames 8] [--steps 100] [--clips pan,parallax]
                                  [--style starry-night] [--temporal-weight 100] [--out temporal-out]
                                  [--images ../shared/data/images]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import torch

import common
from common import Results, command_line, image, network
from fuchun.api import make_config
from fuchun.config.options import VideoConfig
from fuchun.io.read import read_image, resize_image
from fuchun.io.write import to_pil, write_image
from fuchun.quality.measures import POOLING, structure_kept, style_distance
from fuchun.report.plot import contact_sheet
from fuchun.run import engine
from fuchun.run.job import Job
from fuchun.video import synthetic
from fuchun.video.cache import FrameCache
from fuchun.video.flow import consistency, optical_flow, warp
from fuchun.video.frames import Selection, read_frames
from fuchun.video.stylise import stylise_video

CLIPS = {  # name -> how to make its frames at (W, H)
    "pan": lambda size, n: synthetic.pan(image("content/golden-gate.jpg"), size=size, frames=n, speed=3.0),
    "parallax": lambda size, n: synthetic.parallax(
        image("content/chicago-skyline.jpg"), image("content/lion.jpg"), size=size, frames=n, speed=1.5
    ),
    "zoom": lambda size, n: synthetic.zoom(image("content/taj-mahal.jpg"), size=size, frames=n, factor=1.25),
}


def temporal_error(frames: list[torch.Tensor], sources: list[torch.Tensor]) -> tuple[float, float]:
    """(mean squared, mean absolute) warped difference of consecutive ``frames`` on the consistent pixels."""
    sq = ab = weight = 0.0
    for k in range(1, len(frames)):
        backward = optical_flow(sources[k], sources[k - 1], method="farneback")
        forward = optical_flow(sources[k - 1], sources[k], method="farneback")
        mask = consistency(forward, backward)  # (1, H, W)
        diff = frames[k] - warp(frames[k - 1], backward)
        sq += float((mask * diff.pow(2)).sum() / 3)
        ab += float((mask * diff.abs()).sum() / 3)
        weight += float(mask.sum())
    return sq / weight, ab / weight


def independent(clip: pathlib.Path, style: torch.Tensor, options: dict, net) -> list[torch.Tensor]:
    """Every frame stylised on its own from its content, 8-bit like the video mode's frames."""
    cfg = make_config("stylize", **options)
    out = []
    for _, frame in read_frames(clip, Selection()):
        picture = engine.run(cfg, Job(content=frame, styles=[style]), net=net)
        out.append((picture * 255).round() / 255)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--clips", default="pan,parallax")
    p.add_argument("--style", default="starry-night")
    p.add_argument("--temporal-weight", type=float, default=VideoConfig().temporal_weight)
    p.add_argument("--out", default="temporal-out")
    p.add_argument("--images", default=str(common.SHARED), help="folder with content/ and style/ test images")
    args = p.parse_args(argv)
    common.SHARED = pathlib.Path(args.images)
    record = Results("temporal", command_line("temporal.py", argv))
    print(f"command: {record.command}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    net, machine = network("cpu", "fp32")
    measure_net, _ = network("cpu", "fp32", pooling=POOLING)
    style_path = out / f"{args.style}.png"
    write_image(image(f"style/{args.style}.jpg"), style_path)
    style = resize_image(image(f"style/{args.style}.jpg"), size=args.size)
    size = (args.size, args.size * 3 // 4)
    options = dict(size=size, steps=args.steps, device="cpu", precision="fp32")
    setting = (
        f"{size[0]}x{size[1]} px, {args.frames} frames, {args.steps} steps per frame, temporal weight "
        f"{args.temporal_weight:g}, style {args.style}, preset {make_config('stylize').preset}"
    )
    print(f"{setting}\n")
    rows = []
    for name in args.clips.split(","):
        rows.append(_clip(name, args, out, size, style_path, style, options, net, measure_net))
    cells = []
    for name, results in rows:
        for mode, (mse, mad, sd, ssim, spf) in results.items():
            cells.append([name, mode, f"{mse:.5f}", f"{mad:.4f}", f"{sd:.3f}", f"{ssim:.3f}", f"{spf:.1f}"])
        ratio = results["independent"][0] / results["video"][0]
        lower = results["independent"][1] / results["video"][1]
        cells.append([name, "**ratio**", f"**{ratio:.1f}x lower**", f"{lower:.1f}x", "", "", ""])
    columns = ["clip", "mode", "temporal error (MSE)", "mean abs. diff", "style distance", "structure", "s/frame"]
    print(record.table(setting, columns, cells))
    record.save()
    return 0


def _clip(name, args, out, size, style_path, style, options, net, measure_net):
    clip = synthetic.write_clip(out / f"{name}.mp4", CLIPS[name](size, args.frames), rate=12)
    sources = [f for _, f in read_frames(clip, Selection())]
    t0 = time.perf_counter()
    base = independent(clip, read_image(style_path), options, net)
    t_base = (time.perf_counter() - t0) / len(base)
    cache = out / f"{name}.frames"
    video = VideoConfig(temporal_weight=args.temporal_weight, cache=str(cache))
    t0 = time.perf_counter()
    stylise_video(clip, [style_path], out / f"{name}-styled.mp4", options=options, video=video, net=net)
    t_video = (time.perf_counter() - t0) / len(sources)
    frames = [FrameCache(cache, {}).load(k) for k in range(len(sources))]
    results = {}
    for mode, pics, spf in (("independent", base, t_base), ("video", frames, t_video)):
        mse, mad = temporal_error(pics, sources)
        sd = sum(style_distance(measure_net, p, style) for p in pics) / len(pics)
        ssim = sum(structure_kept(p, s) for p, s in zip(pics, sources, strict=True)) / len(pics)
        results[mode] = (mse, mad, sd, ssim, spf)
    shown = list(range(min(5, len(sources))))
    tiles = [(to_pil(sources[k]), f"source {k}") for k in shown]
    tiles += [(to_pil(base[k]), f"independent {k}") for k in shown]
    tiles += [(to_pil(frames[k]), f"video mode {k}") for k in shown]
    sheet = contact_sheet(tiles, cell=size[0], columns=len(shown), title=f"{name}: source / independent / video")
    sheet.save(out / f"{name}-strip.jpg", quality=85)
    return name, results


if __name__ == "__main__":
    raise SystemExit(main())
