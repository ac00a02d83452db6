"""Bad and odd input files for the probe tests, each made from code in a temporary folder.

Every maker takes the folder and returns the path it made. The legal ones (CMYK, 16-bit,
alpha, EXIF-rotated, animated...) are small pictures fuchun must read correctly; the
others (zero bytes, truncated, text named .jpg, huge declared sizes...) must each give
one error line.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

W, H = 80, 60  # the size of every legal picture below (landscape)


def pixels(seed: int = 0, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A smooth colour gradient with some noise: (H, W, 3) uint8."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / max(1, w - 1), y * 255 / max(1, h - 1), (x + y) * 127 / max(1, w + h - 2)], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def png(folder: Path, name: str = "photo.png", seed: int = 0, size: tuple[int, int] = (W, H)) -> Path:
    path = folder / name
    Image.fromarray(pixels(seed, size)).save(path)
    return path


def jpeg_bytes(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels(seed)).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels(seed)).save(buf, "PNG")
    return buf.getvalue()


def tiff_bytes(seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels(seed)).save(buf, "TIFF")
    return buf.getvalue()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` RGB pixels and holds one row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\0" + b"\x80" * 3 * min(width, 64))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", row) + png_chunk(b"IEND", b"")


# ----------------------------------------------------------------------------- broken files


def broken(folder: Path, kind: str) -> Path:
    """One of the broken files by name (see BROKEN)."""
    return BROKEN[kind](folder)


BROKEN = {
    "zero-byte png": lambda d: write(d, "empty.png", b""),
    "zero-byte jpg": lambda d: write(d, "empty.jpg", b""),
    "truncated png": lambda d: write(d, "cut.png", png_bytes()[:200]),
    "truncated jpeg": lambda d: write(d, "cut.jpg", jpeg_bytes()[: len(jpeg_bytes()) // 2]),
    "png header only": lambda d: write(d, "head.png", png_bytes()[:8]),
    "png with a bad checksum": lambda d: write(d, "crc.png", png_bytes()[:29] + b"\0\0\0\0" + png_bytes()[33:]),
    "text named jpg": lambda d: write(d, "notes.jpg", b"this is not a picture\n" * 20),
    "html named png": lambda d: write(d, "page.png", b"<!doctype html><html><body>404</body></html>"),
    "zip named png": lambda d: write(d, "archive.png", b"PK\x03\x04" + os.urandom(200)),
    "random bytes": lambda d: write(d, "noise.tif", np.random.default_rng(1).bytes(4096)),
    "huge declared png": lambda d: write(d, "bomb.png", png_declaring(100_000, 100_000)),
    "zero-width png": lambda d: write(d, "flat.png", png_declaring(0, 10)),
    "ppm named png": lambda d: _saved(d, "portable.png", "PPM"),
    "ico named png": lambda d: _saved(d, "icon.png", "ICO"),
    "float tiff with inf": lambda d: float_tiff(d, "inf.tif", bad=np.inf),
    "float tiff with nan": lambda d: float_tiff(d, "nan.tif", bad=np.nan),
    "thin 2000x1 png": lambda d: png(d, "thin.png", size=(2000, 1)),
}


def _saved(folder: Path, name: str, fmt: str) -> Path:
    path = folder / name
    Image.fromarray(pixels()).save(path, fmt)
    return path


def float_tiff(folder: Path, name: str, *, bad: float | None = None, over: float | None = None) -> Path:
    """A float32 grey TIFF in [0, 1]: 0.5 everywhere, one ``bad`` pixel, a few at ``over``."""
    values = np.full((H, W), 0.5, np.float32)
    values[:, : W // 2] = 0.25
    if bad is not None:
        values[5, 5] = bad
    if over is not None:
        values[0, :5] = over
    path = folder / name
    Image.fromarray(values, mode="F").save(path)
    return path


# ----------------------------------------------------------------------------- odd but legal files


def cmyk_jpeg(folder: Path) -> Path:
    path = folder / "cmyk.jpg"
    Image.fromarray(pixels()).convert("CMYK").save(path, quality=95)
    return path


def png16(folder: Path) -> Path:
    """A 16-bit RGB PNG (written by fuchun's own exact writer)."""
    import torch

    from fuchun.io.write import write_image

    image = torch.from_numpy(pixels().astype(np.float32) / 255).permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    return write_image(image, folder / "deep.png", bit_depth=16)


def grey16(folder: Path) -> Path:
    path = folder / "grey16.png"
    Image.fromarray(pixels()[..., 0].astype(np.uint16) * 257).save(path)
    return path


def alpha_png(folder: Path) -> Path:
    rgba = np.concatenate([pixels(), np.full((H, W, 1), 128, np.uint8)], -1)
    rgba[: H // 2, :, 3] = 0  # the top half fully transparent
    path = folder / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def palette_png(folder: Path) -> Path:
    path = folder / "palette.png"
    Image.fromarray(pixels()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(path, transparency=0)
    return path


def grey_png(folder: Path) -> Path:
    path = folder / "grey.png"
    Image.fromarray(pixels()).convert("L").save(path)
    return path


def animated_gif(folder: Path) -> Path:
    frames = [Image.fromarray(pixels(seed)).convert("P") for seed in range(3)]
    path = folder / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def exif_rotated_jpeg(folder: Path) -> Path:
    """A landscape JPEG whose EXIF says: turn it 90° (orientation 6), so it is seen as portrait."""
    img = Image.fromarray(pixels())
    exif = Image.Exif()
    exif[0x0112] = 6
    path = folder / "rotated.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    return path


def float_tiff_over_one(folder: Path) -> Path:
    return float_tiff(folder, "over.tif", over=1.02)


def tiny_1x1(folder: Path) -> Path:
    return png(folder, "dot.png", size=(1, 1))


LEGAL = {
    "cmyk jpeg": cmyk_jpeg,
    "16-bit rgb png": png16,
    "16-bit grey png": grey16,
    "rgba png": alpha_png,
    "palette png with transparency": palette_png,
    "grey png": grey_png,
    "animated gif": animated_gif,
    "exif-rotated jpeg": exif_rotated_jpeg,
    "float tiff slightly over 1": float_tiff_over_one,
    "1x1 png": tiny_1x1,
}
