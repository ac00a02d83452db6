"""What the studio accepts from a visitor: upload size, pixel count, output size.

Every check raises :class:`fuchun.errors.ImageError` or :class:`fuchun.errors.UsageError`
with one sentence for the page; nothing here names a path on the server (an upload is
called by the name it had on the visitor's machine).
"""

from __future__ import annotations

import os
import pathlib
import warnings
from dataclasses import dataclass

import torch
from PIL import ExifTags, Image, UnidentifiedImageError

from fuchun.errors import ImageError, UsageError
from fuchun.io.read import ALLOWED_FORMATS, MIN_SIDE, read_image


@dataclass(frozen=True)
class Limits:
    """The studio's limits (``fuchun studio`` options may lower or raise them)."""

    upload_bytes: int = 25 * 2**20  # per file
    upload_pixels: int = 40_000_000  # per image, checked from the header before decoding
    output_side: int = 2048  # longest side of a picture, also bounded by the machine's memory
    steps: int = 2000  # per run
    queue: int = 32  # jobs waiting for the device; more are refused with a message

    def check_output(self, *, side: int, steps: int, largest: int | None) -> None:
        """UsageError unless ``side`` and ``steps`` are within the limits and the machine's memory."""
        if side < MIN_SIDE:
            raise UsageError(f"the size must be at least {MIN_SIDE} px (it is {side} px)")
        if side > self.output_side:
            raise UsageError(f"the size {side} px is over this studio's limit of {self.output_side} px")
        if largest is not None and side > largest:
            raise UsageError(f"the size {side} px does not fit in this machine's memory; the largest is {largest} px")
        if not 1 <= steps <= self.steps:
            raise UsageError(f"the steps must be between 1 and {self.steps} (they are {steps})")


def display_name(path: str | os.PathLike, name: str | None = None) -> str:
    """The name to show for an upload: its original name, never the server's path."""
    return pathlib.Path(name or path).name


def check_upload(path: str | os.PathLike, limits: Limits, *, role: str, name: str | None = None) -> torch.Tensor:
    """Read the uploaded image at ``path`` as (3, H, W), or raise ImageError with one sentence.

    Size and pixel count are checked before any pixel is decoded; ``role`` says what the
    image is for ("the photo", "painting 2") and ``name`` is its name on the visitor's machine.
    """
    shown = display_name(path, name)
    size = os.path.getsize(path)
    if size > limits.upload_bytes:
        raise ImageError(
            f"{role} '{shown}' is {size / 2**20:.1f} MB; the studio accepts images up to "
            f"{limits.upload_bytes / 2**20:.0f} MB"
        )
    _check_header(path, limits, role=role, shown=shown)
    try:
        return read_image(path)
    except ImageError as exc:
        reason = str(exc).split("': ", 1)[-1]  # drop "cannot read image '<server path>'"
        raise ImageError(f"{role} '{shown}' cannot be used: {reason}") from None


def picture_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(W, H) of an image file as it will be shown (EXIF rotation applied), from its header alone."""
    try:
        with Image.open(path, formats=sorted(ALLOWED_FORMATS)) as img:
            w, h = img.size
            rotated = img.getexif().get(ExifTags.Base.Orientation, 1) in (5, 6, 7, 8)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        return None
    return (h, w) if rotated else (w, h)


def _check_header(path: str | os.PathLike, limits: Limits, *, role: str, shown: str) -> None:
    """Refuse a file that is not an accepted image, or has too many or too few pixels, unread."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=sorted(ALLOWED_FORMATS)) as img:
                w, h = img.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, UnidentifiedImageError):
            accepted = ", ".join(sorted(ALLOWED_FORMATS))
            raise ImageError(f"{role} '{shown}' is not an image (accepted: {accepted})") from None
        raise ImageError(f"{role} '{shown}' is a damaged or truncated image") from None
    if w * h > limits.upload_pixels:
        raise ImageError(
            f"{role} '{shown}' has {w}x{h} = {w * h / 1e6:.0f} megapixels; the studio accepts up to "
            f"{limits.upload_pixels / 1e6:.0f} megapixels"
        )
    if min(w, h) < MIN_SIDE:
        raise ImageError(f"{role} '{shown}' is {w}x{h} px; images need at least {MIN_SIDE} px on each side")
