"""Exact 16-bit RGB image files, which Pillow reads as 8-bit and cannot write.

A small reader for non-interlaced 16-bit RGB/RGBA/grey-alpha PNG and uncompressed 16-bit
RGB TIFF, and writers for both (PNG filter type 0; baseline little-endian TIFF).
"""

from __future__ import annotations

import pathlib
import struct
import zlib

import numpy as np
import torch
from PIL import Image

from fuchun.errors import ImageError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hwc_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float array in [0, 1] -> (3, H, W) float32 tensor."""
    chw = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return chw.clamp(0.0, 1.0).contiguous()


def composite_on_white(rgba: np.ndarray) -> torch.Tensor:
    """(H, W, 4) float RGBA in [0, 1] (straight alpha) -> (3, H, W) RGB over white."""
    alpha = rgba[..., 3:4]
    return hwc_to_tensor(rgba[..., :3] * alpha + (1.0 - alpha))


def read_exact16(path: pathlib.Path, img: Image.Image) -> torch.Tensor | None:
    """Decode 16-bit RGB(A) data Pillow would reduce to 8 bits; None if not such a file."""
    if img.format == "PNG" and img.mode in ("RGB", "RGBA", "LA"):
        with open(path, "rb") as f:
            head = f.read(29)
        if len(head) == 29 and head.startswith(_PNG_SIGNATURE) and head[24] == 16:
            return _decode_png16(path.read_bytes())
    if img.format == "TIFF" and img.mode == "RGB":
        return _decode_tiff16(path, img)
    return None


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG file into (type, body) chunks up to IEND, checking every CRC."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("missing PNG signature")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError("PNG ends before its IEND chunk")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        crc = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4:
            raise ValueError("PNG chunk is cut short")
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ValueError(f"bad CRC in PNG chunk {kind.decode('latin-1')!r}")
        chunks.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            return chunks


def _decode_png16(data: bytes) -> torch.Tensor | None:
    """Exactly decode a non-interlaced 16-bit RGB, RGBA or grey+alpha PNG."""
    chunks = _png_chunks(data)
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise ValueError("PNG does not start with a valid IHDR chunk")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {2: 3, 4: 2, 6: 4}.get(colour)
    kinds = {kind for kind, _ in chunks}
    if depth != 16 or channels is None or interlace != 0 or b"acTL" in kinds:
        return None  # not a case Pillow loses precision on, or one we leave to Pillow
    bpp = 2 * channels
    expected = height * (1 + width * bpp)
    inflater = zlib.decompressobj()
    raw = inflater.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"), expected)
    if len(raw) != expected:
        raise ValueError("PNG image data is truncated")
    rows = _png_unfilter(np.frombuffer(raw, np.uint8), height=height, width=width, bpp=bpp)
    samples = rows.view(">u2").reshape(height, width, channels)  # big-endian 16-bit samples
    trns = dict(chunks).get(b"tRNS") if colour == 2 else None
    return _samples16_to_tensor(samples, transparent=trns)


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The PNG Paeth predictor, elementwise."""
    pa = np.abs(b - c)
    pb = np.abs(a - c)
    pc = np.abs(a + b - 2 * c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _png_unfilter(raw: np.ndarray, *, height: int, width: int, bpp: int) -> np.ndarray:
    """Undo PNG row filters 0-4; returns (H, W * bpp) uint8.

    Each pixel depends only on its left, upper and upper-left neighbours, so all pixels
    on one anti-diagonal (x + y = t) are reconstructed together: H + W - 1 vector steps.
    """
    rows = raw.reshape(height, 1 + width * bpp)
    kinds = rows[:, 0]
    if kinds.size and kinds.max() > 4:
        raise ValueError("unknown PNG filter type")
    filtered = rows[:, 1:].reshape(height, width, bpp).astype(np.int32)  # (H, W * bpp) -> (H, W, bpp)
    if not kinds.any():
        return rows[:, 1:].copy()
    out = np.zeros((height + 1, width + 1, bpp), np.int32)  # zero border above and left
    for t in range(height + width - 1):
        ys = np.arange(max(0, t - width + 1), min(height, t + 1))
        xs = t - ys
        a, b, c = out[ys + 1, xs], out[ys, xs + 1], out[ys, xs]
        k = kinds[ys][:, None]
        pred = np.where(k == 1, a, np.where(k == 2, b, np.where(k == 3, (a + b) >> 1, 0)))
        pred = np.where(k == 4, _paeth(a, b, c), pred)
        out[ys + 1, xs + 1] = (filtered[ys, xs] + pred) & 0xFF
    return out[1:, 1:].astype(np.uint8).reshape(height, width * bpp)  # (H, W, bpp) -> (H, W * bpp)


def _samples16_to_tensor(samples: np.ndarray, *, transparent: bytes | None = None) -> torch.Tensor:
    """(H, W, C) 16-bit samples (C = 2 grey+alpha, 3 RGB, 4 RGBA) -> (3, H, W) on white."""
    values = samples.astype(np.float64) / 65535.0
    channels = samples.shape[2]
    if channels == 2:
        values = values[..., [0, 0, 0, 1]]  # grey+alpha -> RGBA
    elif channels == 3 and transparent is not None and len(transparent) == 6:
        key = np.array(struct.unpack(">HHH", transparent), dtype=samples.dtype)
        alpha = np.where((samples == key).all(axis=2, keepdims=True), 0.0, 1.0)
        values = np.concatenate([values, alpha], axis=2)
    if values.shape[2] == 4:
        return composite_on_white(values)
    return hwc_to_tensor(values)


def _tiff_tag(img: Image.Image, tag: int, default: object = None) -> tuple:
    """One TIFF tag of ``img`` as a tuple (empty when absent and no default)."""
    value = img.tag_v2.get(tag, default)  # type: ignore[attr-defined]
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _decode_tiff16(path: pathlib.Path, img: Image.Image) -> torch.Tensor | None:
    """Exactly read an uncompressed, chunky, stripped 16-bit RGB TIFF; None otherwise."""
    wanted = {258: (16, 16, 16), 277: (3,), 259: (1,), 262: (2,), 284: (1,), 339: (1, 1, 1)}
    defaults = {259: 1, 284: 1, 339: (1, 1, 1)}
    if any(_tiff_tag(img, tag, defaults.get(tag)) not in (value, value[:1]) for tag, value in wanted.items()):
        return None
    offsets, counts = _tiff_tag(img, 273), _tiff_tag(img, 279)
    if not offsets or len(offsets) != len(counts) or _tiff_tag(img, 324):
        return None  # tiled or malformed strip layout: leave it to Pillow
    width, height = img.size
    with open(path, "rb") as f:
        order = f.read(2)
        parts = []
        for offset, count in zip(offsets, counts):
            f.seek(offset)
            parts.append(f.read(count))
    data = b"".join(parts)
    needed = width * height * 6
    if len(data) < needed or order not in (b"II", b"MM"):
        raise ValueError("TIFF image data is truncated")
    dtype = "<u2" if order == b"II" else ">u2"
    samples = np.frombuffer(data[:needed], dtype=dtype).reshape(height, width, 3)
    return _samples16_to_tensor(samples)


# --------------------------------------------------------------------------- resizing


def png16_bytes(samples: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (colour type 2, filter 0 on every row) from (H, W, 3) uint16."""
    height, width, _ = samples.shape
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * 6)  # (H, W, 3) -> (H, 6W) bytes
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter byte 0 per row
    compressed = zlib.compress(raw.tobytes(), 6)
    step = 1 << 20
    idat = [_png_chunk(b"IDAT", compressed[i : i + step]) for i in range(0, len(compressed), step)]
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
    return _PNG_SIGNATURE + header + b"".join(idat) + _png_chunk(b"IEND", b"")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def tiff16_bytes(samples: np.ndarray) -> bytes:
    """An uncompressed little-endian baseline TIFF, 16-bit RGB, one strip, from (H, W, 3) uint16."""
    height, width, _ = samples.shape
    pixels = samples.astype("<u2").tobytes()
    if len(pixels) > 0xFFFF_0000:
        raise ImageError(f"cannot write a {width}x{height} 16-bit TIFF: larger than 4 GiB")
    short, long_ = 3, 4
    entries = [  # (tag, type, count, value) sorted by tag; 258's value is set below
        (256, long_, 1, width), (257, long_, 1, height), (258, short, 3, 0), (259, short, 1, 1),
        (262, short, 1, 2), (273, long_, 1, 0), (277, short, 1, 3), (278, long_, 1, height),
        (279, long_, 1, len(pixels)), (284, short, 1, 1),
    ]  # fmt: skip
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        value = {258: bits_offset, 273: data_offset}.get(tag, value)
        packed = struct.pack("<HH", value, 0) if kind == short and count == 1 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)  # no next IFD
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<HHH", 16, 16, 16) + pixels
