"""VGG feature extractor: an image in, a dict of named layer outputs out.

The network is built from :mod:`fuchun.net.architectures` (architecture as data) and the
canonical state dict of :mod:`fuchun.weights.sources`. It runs only as deep as the deepest layer
a caller asks for, and applies the backbone's input normalisation itself, so callers
always pass RGB pixels in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from fuchun.net.architectures import BLOCK_CHANNELS, Layer, layer_names, layers_of

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # Caffe VGG's training mean, BGR, 0-255
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = {"max": F.max_pool2d, "avg": F.avg_pool2d}
INPUT_FORMATS = ("caffe", "imagenet")


class VGGFeatures(nn.Module):
    """A frozen VGG16/VGG19 whose forward returns the requested named activations."""

    def __init__(
        self,
        arch: str = "vgg16",
        *,
        state_dict: Mapping[str, torch.Tensor] | None = None,
        pooling: str = "max",
        input_format: str = "caffe",
        widths: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        if input_format not in INPUT_FORMATS:
            raise ValueError(f"unknown input format {input_format!r}; valid: {', '.join(INPUT_FORMATS)}")
        self.arch, self.pooling, self.input_format = arch, pooling, input_format
        self.layers: tuple[Layer, ...] = _scaled_layers(arch, widths)
        self.convs = nn.ModuleDict(
            {
                layer.name: nn.Conv2d(layer.in_channels, layer.out_channels, 3, padding=1)
                for layer in self.layers
                if layer.kind == "conv"
            }
        )
        if state_dict is not None:
            self.convs.load_state_dict(dict(state_dict), strict=True)
        self.requires_grad_(False).eval()
        self.checkpoint_blocks = False  # recompute each block in backward (saves memory)
        self._register_normalisation()

    def _register_normalisation(self) -> None:
        if self.input_format == "caffe":
            scale = torch.full((3,), 255.0)
            shift = torch.tensor(CAFFE_MEAN_BGR[::-1])  # RGB order; channels flipped after
        else:
            scale = 1.0 / torch.tensor(IMAGENET_STD)
            shift = torch.tensor(IMAGENET_MEAN) / torch.tensor(IMAGENET_STD)
        self.register_buffer("_scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("_shift", shift.view(1, 3, 1, 1), persistent=False)

    def normalise(self, image: torch.Tensor) -> torch.Tensor:
        """Map RGB pixels in [0, 1] to the network's input space."""
        x = image * self._scale.to(image.dtype) - self._shift.to(image.dtype)
        return x.flip(1) if self.input_format == "caffe" else x  # Caffe wants BGR

    def channels(self, name: str) -> int:
        """Number of channels of layer ``name``."""
        return next(layer.out_channels for layer in self.layers if layer.name == name)

    def forward(self, image: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        """Return ``{name: activation}`` for each requested layer; image is (B,3,H,W) in [0,1]."""
        wanted = set(layers)
        unknown = wanted - set(layer_names(self.arch))
        if unknown:
            raise ValueError(f"unknown layer(s) {sorted(unknown)} for {self.arch}; e.g. relu4_2, conv1_1, pool3")
        feats: dict[str, torch.Tensor] = {}
        x = self.normalise(image)
        for block in _blocks(self.layers, wanted):
            if self.checkpoint_blocks and x.requires_grad:
                x, out = checkpoint(self._run_block, x, block, wanted, use_reentrant=False)
            else:
                x, out = self._run_block(x, block, wanted)
            feats.update(out)
        return feats

    def _run_block(self, x: torch.Tensor, block: tuple[Layer, ...], wanted: set[str]):
        out = {}
        for layer in block:
            if layer.kind == "conv":
                x = self.convs[layer.name](x)
            elif layer.kind == "relu":
                x = F.relu(x)
            else:
                x = POOLINGS[self.pooling](x, kernel_size=2, stride=2, ceil_mode=True)
            if layer.name in wanted:
                out[layer.name] = x
        return x, out

    def deepest(self, layers: Iterable[str]) -> str:
        """The deepest of ``layers`` (the point where a forward pass may stop)."""
        order = layer_names(self.arch)
        return max(layers, key=order.index)


def _scaled_layers(arch: str, widths: Sequence[int] | None) -> tuple[Layer, ...]:
    """The architecture's layers, with block widths replaced (tiny test networks)."""
    layers = layers_of(arch)
    if widths is None:
        return layers
    if len(widths) != len(BLOCK_CHANNELS):
        raise ValueError(f"widths needs {len(BLOCK_CHANNELS)} entries, one per block")
    out, channels = [], 3
    for layer in layers:
        width = widths[int(layer.name[4]) - 1]  # "conv3_1", "relu3_1", "pool3": block digit
        if layer.kind == "conv":
            out.append(Layer(layer.name, "conv", channels, width))
            channels = width
        else:
            out.append(Layer(layer.name, layer.kind, channels, channels))
    return tuple(out)


def _blocks(layers: tuple[Layer, ...], wanted: set[str]) -> list[tuple[Layer, ...]]:
    """Split the layers into pooling-delimited blocks, stopping at the deepest wanted one."""
    last = max(i for i, layer in enumerate(layers) if layer.name in wanted)
    blocks, current = [], []
    for layer in layers[: last + 1]:
        current.append(layer)
        if layer.kind == "pool":
            blocks.append(tuple(current))
            current = []
    if current:
        blocks.append(tuple(current))
    return blocks
