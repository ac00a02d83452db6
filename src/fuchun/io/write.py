"""Writing images: 8-bit PNG/JPEG/TIFF or 16-bit PNG/TIFF, atomically, never over an input.

``write_image`` takes fuchun's (3, H, W) float image in [0, 1], refuses to overwrite the
protected paths (the inputs of a run), checks the suffix and bit depth before any work,
and writes through a temporary file in the target's folder that replaces the target only
when complete, so a failure leaves nothing behind. Pillow cannot write 16-bit RGB, so
16-bit files are encoded by imagecodecs (PNG) and tifffile (TIFF) in :mod:`fuchun.io.codec16`.
"""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Iterable

import numpy as np
import torch
from PIL import Image

from fuchun.errors import ImageError, one_line
from fuchun.io.atomic import check_dir_writable, write_or_raise
from fuchun.io.codec16 import png16_bytes, tiff16_bytes
from fuchun.io.formats import WRITE_DEPTHS, WRITE_SUFFIXES, StrPath, check_image_tensor, is_positive_int
from fuchun.io.paths import is_loop, resolved

__all__ = ["check_writable", "to_pil", "write_image"]


def to_pil(image: torch.Tensor) -> Image.Image:
    """Convert a (3, H, W) image in [0, 1] to an 8-bit RGB PIL image."""
    hwc = _quantize(image, levels=255).astype(np.uint8)
    return Image.fromarray(hwc)


def _quantize(image: torch.Tensor, *, levels: int) -> np.ndarray:
    """Round a (3, H, W) image to integers 0..levels, returned as (H, W, 3) int32."""
    check_image_tensor(image)
    values = image.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(values).all()):
        raise ImageError("cannot save an image that contains NaN or infinite values")
    scaled = (values.clamp(0.0, 1.0) * levels).round().to(torch.int32)
    return scaled.permute(1, 2, 0).contiguous().numpy()  # (3, H, W) -> (H, W, 3)


def write_image(
    image: torch.Tensor,
    path: StrPath,
    *,
    bit_depth: int = 8,
    protect: Iterable[StrPath] = (),
    quality: int = 95,
) -> pathlib.Path:
    """Write ``image`` to ``path`` atomically; the suffix picks the format.

    .png and .tif/.tiff take ``bit_depth`` 8 or 16, .jpg/.jpeg only 8 (``quality``
    1..100, 4:4:4 chroma). Paths in ``protect`` are never overwritten. The data goes to
    a temporary file in the same directory that replaces ``path`` only when complete.
    """
    target = pathlib.Path(path)
    fmt = check_writable(target, bit_depth=bit_depth, protect=protect, quality=quality)
    payload = _encode(image, fmt=fmt, bit_depth=bit_depth, quality=quality)
    write_or_raise(target, payload, error=ImageError)
    return target


def check_writable(path: StrPath, *, bit_depth: int = 8, protect: Iterable[StrPath] = (), quality: int = 95) -> str:
    """Raise ImageError unless ``path`` could be written (checked before a long run); return the format."""
    target = pathlib.Path(path)
    fmt = _check_write_request(target, bit_depth=bit_depth, quality=quality)
    _check_name_length(target)
    for guarded in protect:
        if _same_file(target, pathlib.Path(guarded)):
            raise ImageError(f"refusing to overwrite input image '{target}'; choose another output path")
    _check_output_location(target)
    return fmt


def _check_write_request(target: pathlib.Path, *, bit_depth: int, quality: int) -> str:
    """Validate suffix, bit depth and quality; return the Pillow format name."""
    choices = ", ".join(sorted(WRITE_SUFFIXES))
    fmt = WRITE_SUFFIXES.get(target.suffix.lower())
    if fmt is None:
        found = f"suffix '{target.suffix}'" if target.suffix else "no suffix"
        raise ImageError(f"cannot write '{target}': {found} is not supported; use one of {choices}")
    if bit_depth not in WRITE_DEPTHS[fmt]:
        depths = " or ".join(str(d) for d in WRITE_DEPTHS[fmt])
        raise ImageError(
            f"cannot write '{target}': {fmt} supports bit depth {depths}, not {bit_depth!r}; "
            "use .png or .tif/.tiff for 16-bit output"
        )
    if fmt == "JPEG" and not (is_positive_int(quality) and quality <= 100):
        raise ImageError(f"cannot write '{target}': JPEG quality must be an integer from 1 to 100, not {quality!r}")
    return fmt


def _check_name_length(target: pathlib.Path) -> None:
    """Raise ImageError if ``target``'s name is longer than its file system allows."""
    try:
        limit = os.pathconf(target.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows), no such folder, no limit
        return
    if len(os.fsencode(target.name)) > limit:
        raise ImageError(f"cannot write '{target}': the file name is longer than {limit} bytes")


def _same_file(a: pathlib.Path, b: pathlib.Path) -> bool:
    """True if ``a`` and ``b`` name the same file (inode when both exist, else resolved path)."""
    if a.exists() and b.exists():
        try:
            return os.path.samefile(a, b)
        except OSError:
            pass
    return os.path.normcase(resolved(a)) == os.path.normcase(resolved(b))


def _check_output_location(target: pathlib.Path) -> None:
    """Raise ImageError unless a file could be written at ``target``: its directory exists and
    takes new files (not read-only, not someone else's), its name is not too long for the file
    system, and it is not a directory."""
    if is_loop(target):
        raise ImageError(f"cannot write '{target}': it is a symbolic link loop")
    parent = target.parent
    if not parent.is_dir():
        raise ImageError(f"cannot write '{target}': directory '{parent}' does not exist")
    if target.is_dir():
        raise ImageError(f"cannot write '{target}': it is a directory")
    try:
        check_dir_writable(parent)
    except OSError as exc:
        raise ImageError(f"cannot write '{target}': {one_line(exc.strerror or exc)}") from None


def _encode(image: torch.Tensor, *, fmt: str, bit_depth: int, quality: int) -> bytes:
    """Encode ``image`` as the bytes of a ``fmt`` file."""
    if bit_depth == 16:
        samples = _quantize(image, levels=65535).astype(np.uint16)
        return png16_bytes(samples) if fmt == "PNG" else tiff16_bytes(samples)
    options: dict[str, object] = {}
    if fmt == "JPEG":
        options = {"quality": quality, "subsampling": 0}
    buffer = io.BytesIO()
    to_pil(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()
