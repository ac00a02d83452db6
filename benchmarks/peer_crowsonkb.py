"""crowsonkb/style-transfer-pytorch beside fuchun on one pair, both on fuchun's VGG16 and measures.

The peer's code is not part of fuchun: point ``--peer`` at a checkout of
https://github.com/crowsonkb/style-transfer-pytorch (or at a bare git clone of it; its
HEAD is unpacked to a temporary folder). Its ``style_transfer.py`` is imported as it
is, with two things swapped in memory so it runs here without a model hub:

- the network: the peer asks torchvision for VGG19; it gets fuchun's Caffe VGG16 (the
  same weights every fuchun run uses) as a ``features`` Sequential numbered as
  torchvision numbers VGG16, and its layer indices are mapped from VGG19 to the same
  named layers of VGG16 (content relu4_2; style relu1_1, relu2_1, relu3_1, relu4_1,
  relu5_1). Its input normalisation becomes the Caffe one this network was trained with;
- two conversions it takes from torchvision (PIL image <-> tensor in [0, 1]).

Everything else (its Wasserstein-2 loss, scaled-MSE content loss, TV, Adam with iterate
averaging, coarse to fine from 128 px by √2, style re-sized per scale, replicate padding)
runs as the peer wrote it. Each picture is measured with :mod:`fuchun.quality.measures` (style
distance at VGG16 layers neither tool optimises, structure kept, Lab colour distance),
and fuchun runs at the given ``--strengths`` follow in the same process, so the times
read as ratios: of CPU seconds, which other jobs on the machine disturb far less than wall
seconds (run with ``--threads 1`` for CPU and wall seconds to agree on a quiet machine).
The pictures go side by side on one sheet.

    python benchmarks/peer_crowsonkb.py --peer PATH [--size 256] [--peer-iterations 100,100]
        [--strengths 5,8] [--out peer-out] [--threads N]

``--peer-iterations A,B``: iterations at the first scale and at every later scale (the
peer's defaults are 1000,500; 100,100 is its short run).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import pathlib
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import PIL.Image
import torch
from torch import nn

from common import EXAMPLES, Results, command_line, network
from fuchun.api import render
from fuchun.io.read import read_image
from fuchun.io.write import to_pil, write_image
from fuchun.net.architectures import layers_of
from fuchun.quality.measures import POOLING, measure
from fuchun.report.plot import contact_sheet

# the peer's VGG19 indices (torchvision numbering) -> the same named layers in VGG16's numbering
VGG16_INDEX = {layer.name: i for i, layer in enumerate(layers_of("vgg16"))}
PEER_CONTENT = [VGG16_INDEX["relu4_2"]]
PEER_STYLE = [VGG16_INDEX[n] for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")]


def _args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", required=True, help="checkout or bare clone of crowsonkb/style-transfer-pytorch")
    p.add_argument("--content", default=str(EXAMPLES / "tubingen.jpg"))
    p.add_argument("--style", default=str(EXAMPLES / "starry-night.jpg"))
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--peer-iterations", default="100,100", help="first scale, later scales (peer default 1000,500)")
    p.add_argument("--strengths", default="5,8", help="fuchun strengths to run after the peer ('' for none)")
    p.add_argument("--presets", default="", help="extra fuchun presets to run at the default strength")
    p.add_argument("--out", default="peer-out")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    return p.parse_args(argv)


def _source(peer: pathlib.Path, into: pathlib.Path) -> pathlib.Path:
    """The peer's ``style_transfer`` folder: as checked out, or unpacked from a bare clone's HEAD."""
    if (peer / "style_transfer" / "style_transfer.py").exists():
        return peer / "style_transfer"
    if not (peer / "HEAD").exists():
        raise SystemExit(f"{peer} is neither a checkout nor a bare clone of crowsonkb/style-transfer-pytorch")
    for name in ("style_transfer.py", "sqrtm.py"):
        text = subprocess.run(
            ["git", "--git-dir", str(peer), "show", f"HEAD:style_transfer/{name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (into / name).write_text(text)
    return into


class _CaffeInput(nn.Module):
    """Stands in for the peer's ImageNet normalisation: RGB in [0, 1] to the Caffe input of ``net``."""

    def __init__(self, net) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net.normalise(image)


def _features(net) -> nn.Sequential:
    """fuchun's VGG16 as a torchvision-numbered ``features`` Sequential (same conv modules, no copies)."""
    modules = []
    for layer in layers_of(net.arch):
        if layer.kind == "conv":
            modules.append(net.convs[layer.name])
        elif layer.kind == "relu":
            modules.append(nn.ReLU())
        else:
            modules.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*modules)


def _stand_in_torchvision(net) -> dict[str, types.ModuleType]:
    """The three torchvision names the peer imports, answered by fuchun's network and PIL."""
    tv = types.ModuleType("torchvision")
    models = types.ModuleType("torchvision.models")
    transforms = types.ModuleType("torchvision.transforms")
    functional = types.ModuleType("torchvision.transforms.functional")
    models.VGG19_Weights = types.SimpleNamespace(IMAGENET1K_V1=None)
    models.vgg19 = lambda weights=None: types.SimpleNamespace(features=_features(net))
    transforms.Normalize = lambda mean, std: _CaffeInput(net)

    def to_tensor(image: PIL.Image.Image) -> torch.Tensor:
        return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)

    functional.to_tensor = to_tensor
    functional.to_pil_image = to_pil
    transforms.functional = functional
    tv.models, tv.transforms = models, transforms
    return {
        "torchvision": tv,
        "torchvision.models": models,
        "torchvision.transforms": transforms,
        "torchvision.transforms.functional": functional,
    }


def _import_peer(folder: pathlib.Path, net):
    """The peer's style_transfer module, imported with the stand-ins (its package __init__ is skipped)."""
    package = types.ModuleType("peer_style_transfer")
    package.__path__ = [str(folder)]
    sys.modules["peer_style_transfer"] = package
    sys.modules.update(_stand_in_torchvision(net))
    spec = importlib.util.spec_from_file_location(
        "peer_style_transfer.style_transfer", folder / "style_transfer.py", submodule_search_locations=None
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _peer_run(module, photo: PIL.Image.Image, style: PIL.Image.Image, *, size: int, iterations: tuple[int, int]):
    st = module.StyleTransfer(devices=["cpu"])
    st.content_layers, st.style_layers = PEER_CONTENT, PEER_STYLE  # VGG16's own relu4_2, relu1_1 .. relu5_1
    st.model = module.VGGFeatures(st.style_layers + st.content_layers)
    st.model.distribute_layers({0: torch.device("cpu")})
    with contextlib.redirect_stdout(sys.stderr):  # the peer prints each scale
        out = st.stylize(photo, [style], end_scale=size, initial_iterations=iterations[0], iterations=iterations[1])
    return read_image(out)


def _clock() -> tuple[float, float]:
    """(wall, CPU) seconds of this process so far."""
    return time.perf_counter(), time.process_time()


def _row(net, label: str, t0: tuple[float, float], picture: torch.Tensor, *, photo, style) -> dict:
    """One run's row, measured at once and said on stderr (a long run's numbers survive a later failure)."""
    (wall, cpu), (wall0, cpu0) = _clock(), t0
    seconds, cpu = wall - wall0, cpu - cpu0
    m = measure(net, picture, photo=photo, style=style)
    print(f"{label}: {seconds:.1f} s, CPU {cpu:.1f} s, {m}", file=sys.stderr, flush=True)
    return {"label": label, "seconds": seconds, "cpu": cpu, "picture": picture, "measures": m}


def main(argv=None) -> int:
    args = _args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net, _ = network("cpu", "fp32", pooling=POOLING)
    photo_pil = PIL.Image.open(args.content).convert("RGB")
    style_pil = PIL.Image.open(args.style).convert("RGB")
    photo, style = read_image(args.content), read_image(args.style)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        module = _import_peer(_source(pathlib.Path(args.peer), pathlib.Path(tmp)), net)
        iterations = tuple(int(x) for x in args.peer_iterations.split(","))
        t0 = _clock()
        picture = _peer_run(module, photo_pil, style_pil, size=args.size, iterations=iterations)
        label = f"crowsonkb {iterations[0]}/{iterations[1]} it"
        rows.append(_row(net, label, t0, picture, photo=photo, style=style))
    runs = [(f"fuchun strength {s}", {"strength": float(s)}) for s in filter(None, args.strengths.split(","))]
    runs += [(f"fuchun --preset {p}", {"preset": p}) for p in filter(None, args.presets.split(","))]
    for label, options in runs:
        t0 = _clock()
        picture = render("stylize", content=photo, style=style, size=args.size, **options)
        rows.append(_row(net, label, t0, picture, photo=photo, style=style))
    baseline = rows[0]["cpu"]
    results = Results("peer_crowsonkb", command_line("peer_crowsonkb.py", argv))
    print(f"command: {results.command}\n")
    cells = []
    for i, row in enumerate(rows):
        m = row["measures"]
        cells.append(
            [row["label"], f"{row['seconds']:.1f}", f"{row['cpu']:.1f}", f"{row['cpu'] / baseline:.2f}",
             f"{m['style_distance']:.3f}", f"{m['structure']:.3f}", f"{m['colour_distance']:.1f}"]
        )  # fmt: skip
        write_image(row["picture"], out / f"{i}-{row['label'].replace(' ', '-').replace('/', '-')}.png")
    columns = ["run", "wall s", "CPU s", "CPU × peer", "style distance", "structure", "colour ΔE"]
    pair = f"{pathlib.Path(args.content).stem} + {pathlib.Path(args.style).stem}, {args.size} px, CPU"
    print(results.table(pair, columns, cells))
    results.save()
    sheet = contact_sheet([(to_pil(r["picture"]), r["label"]) for r in rows])
    sheet.save(out / "peer-sheet.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
