"""Region masks painted in the browser: each brush colour is one style's mask.

The page's image editor hands back its paint layers as RGBA arrays over the photo. A
painted pixel (alpha over one half) belongs to the style whose brush colour is nearest
to it; later layers paint over earlier ones. The masks then go to the engine exactly as
``--mask`` files would (:mod:`fuchun.controls.masks`: resized, feathered, guided Grams).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from fuchun.io.write import to_pil
from fuchun.studio.settings import BRUSH_COLOURS


def hex_rgb(colour: str) -> tuple[int, int, int]:
    """'#e6194b' -> (230, 25, 75)."""
    text = colour.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def labels(layers: Sequence[np.ndarray], colours: Sequence[str] = BRUSH_COLOURS) -> np.ndarray | None:
    """(H, W) int array: the index of the brush colour painted at each pixel, -1 where none.

    None when nothing was painted. Each layer is (H, W, 4) uint8 RGBA.
    """
    palette = np.array([hex_rgb(c) for c in colours], dtype=np.float32)  # (K, 3)
    out: np.ndarray | None = None
    for layer in layers:
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[2] != 4:
            continue
        painted = layer[..., 3] > 127
        if not painted.any():
            continue
        if out is None:
            out = np.full(layer.shape[:2], -1, dtype=np.int64)
        if out.shape != painted.shape:
            continue  # a layer of another size than the first painted one cannot be placed
        rgb = layer[..., :3][painted].astype(np.float32)  # (N, 3): the painted pixels only
        distance = ((rgb[:, None, :] - palette[None]) ** 2).sum(-1)  # (N, K)
        out[painted] = distance.argmin(-1)
    return out


def painted_masks(editor: dict[str, Any] | None, *, n_styles: int) -> list[torch.Tensor] | None:
    """One (1, H, W) float mask per style from the editor's value, or None if nothing is painted."""
    if not editor or not editor.get("layers"):
        return None
    found = labels(editor["layers"])
    if found is None:
        return None
    return [torch.from_numpy((found == i).astype(np.float32))[None] for i in range(n_styles)]


def mask_images(masks: list[torch.Tensor]) -> list[Image.Image]:
    """The masks as grey PIL images, for the trace and the command line's ``--mask`` files."""
    return [to_pil(m.expand(3, -1, -1)).convert("L") for m in masks]
