"""What reading and writing agree on: path type, accepted formats, bit depths, tensor checks."""

from __future__ import annotations

import os

import torch

from fuchun.errors import ImageError

StrPath = str | os.PathLike

# formats Pillow may decode; everything else is refused before any decoder runs
ALLOWED_FORMATS = {"PNG", "JPEG", "TIFF", "BMP", "WEBP", "GIF"}
# output suffix -> Pillow format name
WRITE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
# bit depths each output format can hold
WRITE_DEPTHS = {"PNG": (8, 16), "JPEG": (8,), "TIFF": (8, 16)}


def is_positive_int(value: object) -> bool:
    """True for ints >= 1 (bools excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_image_tensor(image: torch.Tensor) -> None:
    """Raise ImageError unless ``image`` is a non-empty floating (3, H, W) tensor."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageError(f"expected an image tensor shaped (3, H, W), got {shape}")
    if not image.is_floating_point() or 0 in image.shape:
        raise ImageError(f"expected a non-empty floating image tensor, got {image.dtype} {list(image.shape)}")
