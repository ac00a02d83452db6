"""VGG architectures as data: the ordered, named layers of each network.

This is the only module that knows the layer order; everything else uses names like
``relu4_2``. The order also defines torchvision's ``features.<index>`` numbering.
"""

from __future__ import annotations

from dataclasses import dataclass

# convolutions per block (Simonyan & Zisserman 2014, configurations D and E)
_BLOCKS = {
    "vgg16": (2, 2, 3, 3, 3),
    "vgg19": (2, 2, 4, 4, 4),
}
# output channels of each block
BLOCK_CHANNELS = (64, 128, 256, 512, 512)


@dataclass(frozen=True)
class Layer:
    """One step of the feature extractor: a conv, its ReLU, or a pooling layer."""

    name: str  # e.g. "conv3_1", "relu3_1", "pool3"
    kind: str  # "conv" | "relu" | "pool"
    in_channels: int = 0
    out_channels: int = 0


def layers_of(arch: str) -> tuple[Layer, ...]:
    """Return the named layers of ``arch`` ("vgg16" or "vgg19") in execution order."""
    if arch not in _BLOCKS:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(_BLOCKS)}")
    out: list[Layer] = []
    channels = 3
    for block, (n_convs, width) in enumerate(zip(_BLOCKS[arch], BLOCK_CHANNELS, strict=True), start=1):
        for i in range(1, n_convs + 1):
            out.append(Layer(f"conv{block}_{i}", "conv", channels, width))
            out.append(Layer(f"relu{block}_{i}", "relu", width, width))
            channels = width
        out.append(Layer(f"pool{block}", "pool", width, width))
    return tuple(out)


def conv_names(arch: str) -> list[str]:
    """Names of the convolution layers of ``arch`` in order (``conv1_1`` ...)."""
    return [layer.name for layer in layers_of(arch) if layer.kind == "conv"]


def torchvision_index(arch: str) -> dict[str, int]:
    """Map each conv name to its index in torchvision's ``vgg.features`` Sequential."""
    return {layer.name: i for i, layer in enumerate(layers_of(arch)) if layer.kind == "conv"}


def layer_names(arch: str) -> list[str]:
    """Every layer name of ``arch`` in order."""
    return [layer.name for layer in layers_of(arch)]
