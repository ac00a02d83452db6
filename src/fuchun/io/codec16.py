"""16-bit image files, which Pillow reads at 8 bits and cannot write.

Pillow 13 has no 16-bit RGB mode: it reduces 16-bit RGB(A) and grey+alpha PNG and TIFF files
to 8 bits and cannot write them. Those files go through two well-kept libraries instead:

- TIFF: ``tifffile`` reads every 16-bit layout (strips or tiles, chunky or planar,
  uncompressed, LZW, deflate, PackBits: what Lightroom and darktable export), with
  ``imagecodecs`` for the compressions, and writes deflate-compressed 16-bit RGB.
- PNG: ``imagecodecs``' libpng binding reads (every filter, interlaced, tRNS colour key)
  and writes 16-bit PNG: libpng is C and covers every file, and imagecodecs is installed
  anyway for TIFF's LZW (imageio reads PNG through Pillow, at 8 bits again; pypng is pure
  Python; OpenCV would be a second large binary wheel doing the same).

TIFFs are read here before Pillow sees them (Pillow cannot even open some layouts, planar
16-bit RGB for one); grey 16-bit PNGs stay with Pillow, which reads them exactly ("I;16").
:func:`source_depth` tells the reader how deep a file is, so that a 16-bit file that is
still decoded at 8 bits (a 16-bit CMYK TIFF, say) can say so.
"""

from __future__ import annotations

import io
import pathlib

import imagecodecs
import numpy as np
import tifffile
import torch
from PIL import Image

from fuchun.errors import ImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF, both byte orders
_TIFF_BITS, _TIFF_ORIENTATION = 258, 274
_TIFF_COLOURS = (1, 2)  # photometric interpretations read here: grey (black is zero) and RGB
_ASSOCIATED_ALPHA, _UNASSOCIATED_ALPHA = 1, 2  # TIFF ExtraSamples values
# what the libraries raise for corrupt or truncated data (turned into ValueError for the reader)
_LIBRARY_ERRORS = (
    RuntimeError,
    ValueError,
    TypeError,
    ArithmeticError,
    OSError,
    KeyError,
    IndexError,
    EOFError,
    tifffile.TiffFileError,
)


def hwc_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float array in [0, 1] -> (3, H, W) float32 tensor."""
    chw = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return chw.clamp(0.0, 1.0).contiguous()


def composite_on_white(rgba: np.ndarray, *, premultiplied: bool = False) -> torch.Tensor:
    """(H, W, 4) float RGBA in [0, 1] -> (3, H, W) RGB over white (straight alpha unless ``premultiplied``)."""
    alpha = rgba[..., 3:4]
    colour = rgba[..., :3] if premultiplied else rgba[..., :3] * alpha
    return hwc_to_tensor(colour + (1.0 - alpha))


def source_depth(path: pathlib.Path, img: Image.Image) -> int:
    """Bits per sample stored in the PNG or TIFF file at ``path`` (8 for other formats)."""
    if img.format == "PNG":
        with open(path, "rb") as f:
            head = f.read(25)
        return head[24] if len(head) == 25 and head.startswith(_PNG_SIGNATURE) else 8
    if img.format == "TIFF":
        return max(_tiff_tag(img, _TIFF_BITS, 1), default=8)
    return 8


def _tiff_tag(img: Image.Image, tag: int, default: object) -> tuple:
    """One TIFF tag of ``img`` as a tuple."""
    value = img.tag_v2.get(tag, default)  # type: ignore[attr-defined]
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def read_png16(path: pathlib.Path, img: Image.Image) -> torch.Tensor | None:
    """Decode a 16-bit colour or grey+alpha PNG Pillow opened as ``img`` at 8 bits; None for other files."""
    if img.format != "PNG" or img.mode not in ("RGB", "RGBA", "LA") or source_depth(path, img) != 16:
        return None
    try:
        return _samples16_to_tensor(imagecodecs.png_decode(path.read_bytes()))
    except _LIBRARY_ERRORS as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc


def read_tiff16(path: pathlib.Path, *, max_pixels: int | None) -> tuple[torch.Tensor, int] | None:
    """The first image of a 16-bit grey or RGB TIFF (any layout) and its EXIF orientation; None for other files.

    Refuses (DecompressionBombError) images of more than ``max_pixels`` pixels before decoding them.
    """
    with open(path, "rb") as f:
        if f.read(4) not in _TIFF_MAGIC:
            return None
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages.first
            if page.bitspersample != 16 or page.sampleformat != 1 or page.photometric not in _TIFF_COLOURS:
                return None
            pixels = page.imagewidth * page.imagelength
            if max_pixels is not None and pixels > max_pixels:
                raise Image.DecompressionBombError(f"{pixels} pixels is more than the limit of {max_pixels}")
            samples, extras = page.asarray(), tuple(page.extrasamples)
            planar = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
            orientation = page.tags.valueof(_TIFF_ORIENTATION, 1)
    except _LIBRARY_ERRORS as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    if planar and samples.ndim == 3:
        samples = np.moveaxis(samples, 0, -1)  # (S, H, W) -> (H, W, S)
    if samples.ndim == 2:
        samples = samples[..., None]  # (H, W) -> (H, W, 1)
    colours = samples.shape[2] - len(extras)
    alpha = extras[:1] in ((_ASSOCIATED_ALPHA,), (_UNASSOCIATED_ALPHA,))
    samples = samples[..., : colours + alpha]  # drop extra samples that are not alpha
    image = _samples16_to_tensor(samples, premultiplied=extras[:1] == (_ASSOCIATED_ALPHA,))
    return image, int(orientation)


def _samples16_to_tensor(samples: np.ndarray, *, premultiplied: bool = False) -> torch.Tensor:
    """(H, W) or (H, W, C) 16-bit samples (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) -> (3, H, W) on white."""
    if samples.dtype != np.uint16:
        raise ValueError(f"expected 16-bit samples, found {samples.dtype}")
    values = samples.astype(np.float64) / 65535.0
    if values.ndim == 2:
        values = values[..., None]  # (H, W) -> (H, W, 1)
    if values.shape[2] in (1, 2):
        values = values[..., [0, 0, 0, *range(1, values.shape[2])]]  # grey(+alpha) -> RGB(A)
    if values.shape[2] == 4:
        return composite_on_white(values, premultiplied=premultiplied)
    return hwc_to_tensor(values)


def png16_bytes(samples: np.ndarray) -> bytes:
    """A 16-bit RGB PNG from (H, W, 3) uint16 samples."""
    return bytes(imagecodecs.png_encode(np.ascontiguousarray(samples, dtype=np.uint16)))


def tiff16_bytes(samples: np.ndarray) -> bytes:
    """A deflate-compressed 16-bit RGB TIFF from (H, W, 3) uint16 samples."""
    height, width, _ = samples.shape
    if samples.nbytes > 0xFFFF_0000:
        raise ImageError(f"cannot write a {width}x{height} 16-bit TIFF: larger than 4 GiB")
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, samples.astype(np.uint16), photometric="rgb", compression="zlib")
    return buffer.getvalue()
