"""Reading and resizing images (writing: :mod:`fuchun.io.write`).

Inside fuchun an image is a float32 tensor shaped (3, H, W) holding RGB values in [0, 1].
This module is the border between files or PIL images and that form:
``read_image`` accepts a path, a PIL image or a tensor and always returns that form.
Transparency is composited on white, EXIF orientation is applied, animations give their
first frame, and 16-bit files keep their full precision.

Pillow (13) has no 16-bit RGB mode, so 16-bit colour PNG and TIFF files are decoded by
:mod:`fuchun.io.codec16` (tifffile, imagecodecs); every other file goes through Pillow. A
16-bit file that still ends up decoded at 8 bits says so in one :class:`ImageWarning`.
"""

from __future__ import annotations

import io
import os
import pathlib
import struct
import warnings
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from fuchun.errors import ImageError, ImageWarning, one_line
from fuchun.io.codec16 import composite_on_white, hwc_to_tensor, read_png16, read_tiff16, source_depth
from fuchun.io.formats import ALLOWED_FORMATS, StrPath, check_image_tensor, is_positive_int
from fuchun.io.paths import not_a_file

try:  # colour management is optional in Pillow builds
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on the Pillow build
    ImageCms = None  # type: ignore[assignment]

__all__ = ["MIN_SIDE", "check_min_size", "fit_longest", "read_image", "resize_image"]

# smallest side (px) the VGG networks can use (5 poolings leave >= 1 px)
MIN_SIDE = 32

_GRAY16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_EXIF_ORIENTATION = 0x0112
# exceptions Pillow and the 16-bit readers (fuchun.io.codec16) raise for bad or hostile files
_DECODE_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
)


def read_image(source: StrPath | Image.Image | torch.Tensor) -> torch.Tensor:
    """Load ``source`` as a float32 RGB tensor (3, H, W) in [0, 1].

    ``source`` may be a file path, a PIL image or a tensor. Tensors may be (3, H, W),
    (1, H, W) grey, or the same with a leading batch dimension of 1; float tensors are
    clamped to [0, 1] and uint8 tensors divided by 255. A tensor result keeps the
    device of the input and never shares its memory.
    """
    if isinstance(source, torch.Tensor):
        return _tensor_to_image(source)
    if isinstance(source, Image.Image):
        try:
            return _pil_to_tensor(ImageOps.exif_transpose(source))
        except _DECODE_ERRORS as exc:
            raise ImageError(f"cannot use the given PIL image: {one_line(exc)}") from exc
    if isinstance(source, (str, os.PathLike)):
        return _read_path(pathlib.Path(source))
    raise ImageError(f"cannot read an image from a {type(source).__name__}; give a path, PIL image or tensor")


def _read_path(path: pathlib.Path) -> torch.Tensor:
    """Decode the image file at ``path`` (first frame, orientation applied)."""
    problem = not_a_file(path)  # only regular files: a FIFO would block the decoder forever
    if problem is not None:
        raise ImageError(f"cannot read image '{path}': {problem}")
    try:
        deep = read_tiff16(path, max_pixels=Image.MAX_IMAGE_PIXELS)
        if deep is not None:
            return _apply_orientation(*deep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on odd tags or EXIF: the pixels decide
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path, formats=sorted(ALLOWED_FORMATS))
        with img:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
                img.load()  # full decode here, so truncated files fail inside the try
                upright = ImageOps.exif_transpose(img)
            exact = read_png16(path, img)
            if exact is not None:
                return _apply_orientation(exact, orientation)
            _warn_if_reduced(path, img)  # our own warning: outside the muted block
            return _pil_to_tensor(upright)
    except _DECODE_ERRORS as exc:
        raise ImageError(f"cannot read image '{path}': {_decode_reason(exc)}") from exc


def _warn_if_reduced(path: pathlib.Path, img: Image.Image) -> None:
    """One ImageWarning when Pillow decodes a file of more than 8 bits per sample at 8 bits."""
    depth = source_depth(path, img)
    if depth > 8 and img.mode not in _GRAY16_MODES | {"I", "F"}:
        warnings.warn(
            ImageWarning(f"'{path}' has {depth}-bit samples that are read at 8 bits ({img.format} {img.mode})"),
            stacklevel=4,
        )


def _decode_reason(exc: BaseException) -> str:
    """Explain a decoding failure in a few words."""
    if isinstance(exc, UnidentifiedImageError):
        accepted = ", ".join(sorted(ALLOWED_FORMATS))
        return f"not an image file (or a format fuchun does not accept; accepted: {accepted})"
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"too many pixels, refused as a possible decompression bomb ({one_line(exc)})"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, ImageError):  # our own sentence about the decoded pixels
        return str(exc)
    detail = one_line(exc) or type(exc).__name__
    return f"the file is truncated or corrupt ({detail})"


def _pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """Convert a PIL image of any supported mode to (3, H, W) float32 RGB on white.

    Grey modes with more than 8 bits keep their precision: "I;16*" and "I" are read as
    0..65535 (scaled by 1/65535, clamped). Floating-point "F" images are [0, 1] by the
    convention of float image data, whatever their values: a few pixels over 1 are clamped
    (the scale comes from the type, never from the maximum, which one bright or infinite
    pixel would decide); NaN or infinite pixels are refused, as for tensors.
    """
    mode = img.mode
    if mode in _GRAY16_MODES or mode == "I":
        gray = np.asarray(img, dtype=np.float64) / 65535.0
        return _gray_to_tensor(gray)
    if mode == "F":
        gray = np.array(img, dtype=np.float32)  # a writable copy
        if not np.isfinite(gray).all():
            raise ImageError("it holds NaN or infinite pixel values")
        return _gray_to_tensor(gray)
    if mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        return composite_on_white(rgba)
    rgb = _cmyk_to_rgb(img) if mode == "CMYK" else img.convert("RGB")
    return hwc_to_tensor(np.asarray(rgb, dtype=np.float32) / 255.0)


def _cmyk_to_rgb(img: Image.Image) -> Image.Image:
    """Convert CMYK to RGB, through the embedded ICC profile when one is usable."""
    icc = img.info.get("icc_profile")
    if icc and ImageCms is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target = ImageCms.createProfile("sRGB")
            converted = ImageCms.profileToProfile(img, source, target, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unusable profile: fall back to Pillow's plain conversion
    return img.convert("RGB")


def _gray_to_tensor(gray: np.ndarray) -> torch.Tensor:
    """(H, W) float array in [0, 1] -> (3, H, W) float32 tensor."""
    plane = torch.from_numpy(np.ascontiguousarray(gray, dtype=np.float32)).clamp(0.0, 1.0)
    return plane.unsqueeze(0).expand(3, -1, -1).contiguous()  # (H, W) -> (3, H, W)


def _apply_orientation(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation (1..8) to a (3, H, W) tensor, as exif_transpose does."""
    if orientation == 2:
        image = image.flip(2)
    elif orientation == 3:
        image = image.flip(1, 2)
    elif orientation == 4:
        image = image.flip(1)
    elif orientation == 5:
        image = image.transpose(1, 2)  # (3, H, W) -> (3, W, H)
    elif orientation == 6:
        image = torch.rot90(image, k=-1, dims=(1, 2))  # clockwise
    elif orientation == 7:
        image = image.transpose(1, 2).flip(1, 2)  # (3, H, W) -> (3, W, H)
    elif orientation == 8:
        image = torch.rot90(image, k=1, dims=(1, 2))  # counter-clockwise
    return image.contiguous()


def _tensor_to_image(tensor: torch.Tensor) -> torch.Tensor:
    """Validate a tensor given as an image and normalise it to (3, H, W) float32."""
    shape = tuple(tensor.shape)
    if tensor.dim() == 4 and shape[0] == 1:
        tensor = tensor[0]  # (1, C, H, W) -> (C, H, W)
    if tensor.dim() != 3 or tensor.shape[0] not in (1, 3) or 0 in tensor.shape:
        raise ImageError(
            f"cannot use a tensor of shape {list(shape)} as an image; expected (3, H, W), (1, H, W) or (1, 3, H, W)"
        )
    if tensor.dtype == torch.uint8:
        out = tensor.detach().to(torch.float32) / 255.0
    elif tensor.is_floating_point():
        out = tensor.detach().to(torch.float32)
        if not bool(torch.isfinite(out).all()):
            raise ImageError("cannot use an image tensor that contains NaN or infinite values")
        out = out.clamp(0.0, 1.0)
    else:
        raise ImageError(f"cannot use a {tensor.dtype} tensor as an image; use float in [0, 1] or uint8")
    return out.expand(3, -1, -1).contiguous().clone()  # (1|3, H, W) -> (3, H, W)


def resize_image(image: torch.Tensor, *, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize a (3, H, W) image, antialiased bicubic, clamped to [0, 1].

    An int makes the longest side ``size`` pixels and keeps the aspect ratio (each side
    rounded, at least 1). A (W, H) tuple gives the exact output size.
    """
    check_image_tensor(image)
    height, width = image.shape[-2:]
    new_w, new_h = _target_size(width, height, size)
    if (new_w, new_h) == (width, height):
        return image.clone()
    batch = image.unsqueeze(0)  # (3, H, W) -> (1, 3, H, W)
    out = F.interpolate(batch, size=(new_h, new_w), mode="bicubic", align_corners=False, antialias=True)
    return out[0].clamp(0.0, 1.0)  # (1, 3, h, w) -> (3, h, w)


def _target_size(width: int, height: int, size: int | tuple[int, int]) -> tuple[int, int]:
    """Output (W, H) for ``resize_image``'s ``size`` argument."""
    if isinstance(size, tuple):
        if len(size) != 2 or not all(is_positive_int(s) for s in size):
            raise ImageError(f"image size must be (width, height) with positive integers, not {size!r}")
        return size[0], size[1]
    if not is_positive_int(size):
        raise ImageError(f"image size must be a positive integer, not {size!r}")
    return fit_longest((width, height), size)


def fit_longest(size: tuple[int, int], side: float) -> tuple[int, int]:
    """(W, H) of an image of ``size`` = (W, H) scaled so its longest side is ``side`` (each side rounded, >= 1)."""
    width, height = size
    scale = side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_min_size(image: torch.Tensor, *, name: str, min_side: int = MIN_SIDE) -> None:
    """Raise ImageError if either side of ``image`` is below ``min_side`` pixels."""
    height, width = image.shape[-2:]
    if min(height, width) < min_side:
        raise ImageError(f"{name} is {width}x{height} px; fuchun needs at least {min_side} px on each side")
