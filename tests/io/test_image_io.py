"""Tests for fuchun.io.read: tiny images built in each test, no fixtures on disk."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import odd_files
from fuchun.io import read as image_io
from fuchun.io.read import read_image
from fuchun.io.write import to_pil, write_image
from helpers import raises_one_line


def _levels(shape: tuple[int, ...], levels: int, seed: int = 0) -> torch.Tensor:
    """A random image whose values are exactly k / levels."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, levels + 1, shape, generator=gen).to(torch.float64).div(levels).to(torch.float32)


def _filter_row(row: bytes, prev: bytes, bpp: int, kind: int) -> bytes:
    """Forward PNG filter of one row (plain Python, for tiny test images)."""
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out.append((x - pred) & 0xFF)
    return bytes(out)


def _png16(samples: np.ndarray, colour: int, extra: bytes = b"") -> bytes:
    """A 16-bit PNG whose row y uses filter type y % 5."""
    height, width, channels = samples.shape
    bpp = 2 * channels
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * bpp)
    prev = bytes(width * bpp)
    raw = bytearray()
    for y in range(height):
        row = rows[y].tobytes()
        raw += bytes([y % 5]) + _filter_row(row, prev, bpp, y % 5)
        prev = row
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + odd_files.png_chunk(b"IHDR", ihdr)
        + extra
        + odd_files.png_chunk(b"IDAT", zlib.compress(bytes(raw)))
        + odd_files.png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ round trips


def test_rgb_png_round_trip_is_exact(tmp_path):
    image = _levels((3, 6, 9), 255)
    path = write_image(image, tmp_path / "out.png")
    assert path == tmp_path / "out.png"
    back = read_image(path)
    assert back.dtype == torch.float32 and back.shape == (3, 6, 9)
    assert torch.equal(back, image)


def test_jpeg_write_reads_back_close(tmp_path):
    image = torch.full((3, 16, 16), 0.5)
    image[0] = 0.8
    for suffix in (".jpg", ".JPEG"):
        path = write_image(image, tmp_path / f"out{suffix}", quality=90)
        with Image.open(path) as img:
            assert img.format == "JPEG"
        assert (read_image(path) - image).abs().max() < 0.03


def test_16bit_png_round_trip_is_exact(tmp_path):
    image = _levels((3, 5, 7), 65535, seed=1)
    path = write_image(image, tmp_path / "deep.png", bit_depth=16)
    with Image.open(path) as img:
        assert img.format == "PNG"  # a valid PNG to Pillow as well
    back = read_image(path)
    assert torch.allclose(back, image, atol=0.5 / 65535, rtol=0)
    assert torch.equal((back.double() * 65535).round(), (image.double() * 65535).round())


def test_16bit_tiff_round_trip_is_exact(tmp_path):
    image = _levels((3, 4, 6), 65535, seed=2)
    for suffix in (".tif", ".tiff"):
        path = write_image(image, tmp_path / f"deep{suffix}", bit_depth=16)
        with Image.open(path) as img:
            assert img.format == "TIFF" and img.size == (6, 4)
        back = read_image(path)
        assert torch.equal((back.double() * 65535).round(), (image.double() * 65535).round())


def test_8bit_tiff_round_trip_is_exact(tmp_path):
    image = _levels((3, 4, 5), 255, seed=3)
    assert torch.equal(read_image(write_image(image, tmp_path / "flat.tif")), image)


def test_16bit_png_with_every_filter_type(tmp_path):
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 65536, size=(7, 6, 4), dtype=np.uint16)
    rgba[..., 3] = 65535
    rgba[0, 0, 3] = 0  # one fully transparent pixel
    path = tmp_path / "filters.png"
    path.write_bytes(_png16(rgba, colour=6))
    back = read_image(path)
    expected = torch.from_numpy(rgba[..., :3].astype(np.float64) / 65535).permute(2, 0, 1).float()
    expected[:, 0, 0] = 1.0  # transparent -> white
    assert torch.allclose(back, expected, atol=1e-7, rtol=0)


def test_16bit_rgb_png_precision_beyond_8_bits(tmp_path):
    rgb = np.full((3, 4, 3), 1000, np.uint16)
    rgb[1] = 1001
    path = tmp_path / "fine.png"
    path.write_bytes(_png16(rgb, colour=2))
    back = read_image(path)
    assert abs(back[0, 0, 0].item() - 1000 / 65535) < 1e-7
    assert back[0, 1, 0] > back[0, 0, 0]


def test_16bit_png_grey_alpha_and_rgb_transparency_key(tmp_path):
    grey_alpha = np.array([[[1000, 65535], [5000, 0]]], np.uint16)
    path = tmp_path / "ga.png"
    path.write_bytes(_png16(grey_alpha, colour=4))
    back = read_image(path)
    assert torch.allclose(back[:, 0, 0], torch.full((3,), 1000 / 65535), atol=1e-7)
    assert torch.equal(back[:, 0, 1], torch.ones(3))

    rgb = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint16)
    keyed = tmp_path / "key.png"
    keyed.write_bytes(_png16(rgb, colour=2, extra=odd_files.png_chunk(b"tRNS", struct.pack(">HHH", 4, 5, 6))))
    back = read_image(keyed)
    assert torch.equal(back[:, 0, 1], torch.ones(3)) and back[0, 0, 0] < 1e-4


# ------------------------------------------------------------------ modes


def test_grayscale_and_bilevel(tmp_path):
    Image.new("L", (4, 3), 128).save(tmp_path / "g.png")
    back = read_image(tmp_path / "g.png")
    assert back.shape == (3, 3, 4) and torch.allclose(back, torch.full_like(back, 128 / 255))
    bilevel = Image.new("1", (4, 3), 1)
    assert torch.equal(read_image(bilevel), torch.ones(3, 3, 4))


def test_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png")
    back = read_image(tmp_path / "p.png")
    assert torch.equal(back[:, 0, 0], torch.tensor([1.0, 0, 0]))
    assert torch.equal(back[:, 0, 1], torch.tensor([0.0, 0, 1]))

    pal.save(tmp_path / "pt.png", transparency=0)
    with Image.open(tmp_path / "pt.png") as img:
        assert img.mode == "P" and "transparency" in img.info
    back = read_image(tmp_path / "pt.png")
    assert torch.equal(back[:, 0, 0], torch.ones(3))  # transparent red -> white
    assert torch.equal(back[:, 0, 1], torch.tensor([0.0, 0, 1]))


def test_rgba_and_la_composite_on_white(tmp_path):
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 0, 0, 255))
    rgba.save(tmp_path / "a.png")
    back = read_image(tmp_path / "a.png")
    assert torch.equal(back[:, 0, 0], torch.ones(3))  # fully transparent red reads as white
    assert torch.equal(back[:, 0, 1], torch.zeros(3))

    la = Image.new("LA", (1, 1), (0, 51))  # black at 20 % opacity over white
    la.save(tmp_path / "la.png")
    assert torch.allclose(read_image(tmp_path / "la.png"), torch.full((3, 1, 1), 0.8), atol=1e-6)
    half = read_image(Image.new("PA", (1, 1), (0, 0)))
    assert torch.equal(half, torch.ones(3, 1, 1))


def test_cmyk_jpeg_and_unusable_icc_profile(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red
    cmyk.save(tmp_path / "c.jpg", quality=95)
    back = read_image(tmp_path / "c.jpg")
    assert back[0].mean() > 0.9 and back[1].mean() < 0.1 and back[2].mean() < 0.1
    cmyk.info["icc_profile"] = b"not a profile"
    assert torch.equal(read_image(cmyk)[:, 0, 0], torch.tensor([1.0, 0, 0]))


def test_other_colour_modes():
    red = Image.new("RGB", (2, 2), (255, 0, 0))
    for mode in ("YCbCr", "HSV", "LAB"):
        back = read_image(red.convert(mode))
        assert back.shape == (3, 2, 2)
        assert back[0, 0, 0] > 0.9 and back[1, 0, 0] < 0.1, mode


def test_16bit_grayscale_keeps_precision(tmp_path):
    arr = np.array([[1000, 1001, 65535]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    for source in (tmp_path / "g16.png", Image.fromarray(arr)):
        back = read_image(source)
        assert abs(back[0, 0, 0].item() - 1000 / 65535) < 1e-7
        assert back[0, 0, 1] > back[0, 0, 0]  # not quantised to 8 bits
        assert back[:, 0, 2].tolist() == [1.0, 1.0, 1.0]
    big_endian = Image.fromarray(arr).convert("I").convert("I;16B")
    assert abs(read_image(big_endian)[1, 0, 0].item() - 1000 / 65535) < 1e-7


def test_int32_and_float_modes():
    ints = Image.fromarray(np.array([[0, 32768, 70000]], np.int32))
    back = read_image(ints)
    assert back[0, 0].tolist() == pytest.approx([0.0, 32768 / 65535, 1.0])
    unit = Image.fromarray(np.array([[0.25, 1.0]], np.float32))
    assert read_image(unit)[0, 0].tolist() == pytest.approx([0.25, 1.0])
    over = Image.fromarray(np.array([[0.5, 1.02, 255.0]], np.float32))
    assert read_image(over)[0, 0].tolist() == pytest.approx([0.5, 1.0, 1.0])  # float means [0, 1]: clamped


def _float_tiff(tmp_path, values: np.ndarray):
    path = tmp_path / "float.tif"
    Image.fromarray(values.astype(np.float32), mode="F").save(path)
    return path


def test_a_float_tiff_slightly_over_one_keeps_its_brightness(tmp_path):
    values = np.full((40, 40), 0.5, np.float32)
    values[0, :4] = 1.02  # a few out-of-gamut pixels used to turn the scale to 0..255 (almost black)
    image = read_image(_float_tiff(tmp_path, values))
    assert image[:, 1:].mean().item() == pytest.approx(0.5)
    assert image.max().item() == 1.0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_float_tiff_with_a_non_finite_pixel_is_refused(tmp_path, bad):
    values = np.full((40, 40), 0.5, np.float32)
    values[3, 3] = bad
    raises_one_line(read_image, _float_tiff(tmp_path, values), match="NaN or infinite pixel values")


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (10, 200, 30))
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "rot.jpg", exif=exif)
    back = read_image(tmp_path / "rot.jpg")
    assert back.shape == (3, 40, 20)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_tensor_orientation_matches_pillow(orientation):
    arr = np.arange(3 * 4 * 3, dtype=np.uint8).reshape(3, 4, 3) * 7
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    expected = torch.from_numpy(np.array(ImageOps.exif_transpose(img))).permute(2, 0, 1)
    tensor = torch.from_numpy(arr).permute(2, 0, 1)
    assert torch.equal(image_io._apply_orientation(tensor, orientation), expected)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    with Image.open(tmp_path / "anim.gif") as img:
        assert img.n_frames == 2
    back = read_image(tmp_path / "anim.gif")
    assert torch.equal(back[:, 0, 0], torch.tensor([1.0, 0, 0]))


# ------------------------------------------------------------------ bad inputs


def test_missing_path_and_directory(tmp_path):
    message = raises_one_line(read_image, tmp_path / "nope.png", match="no such file")
    assert "nope.png" in message
    raises_one_line(read_image, tmp_path, match="directory")


def test_random_bytes_and_text_named_jpg(tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(os.urandom(300))
    assert "junk.png" in raises_one_line(read_image, junk, match="cannot read image")
    text = tmp_path / "notes.jpg"
    text.write_text("hello\nworld\n")
    assert "notes.jpg" in raises_one_line(read_image, text, match="not an image file")


def test_truncated_files(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)
    Image.fromarray(noise).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    raises_one_line(read_image, tmp_path / "cut.png", match="cut.png")

    deep = write_image(_levels((3, 40, 40), 65535), tmp_path / "deep.png", bit_depth=16).read_bytes()
    (tmp_path / "cut16.png").write_bytes(deep[: len(deep) // 2])
    raises_one_line(read_image, tmp_path / "cut16.png", match="cut16.png")

    tiff = write_image(_levels((3, 8, 8), 65535), tmp_path / "deep.tif", bit_depth=16).read_bytes()
    (tmp_path / "cut16.tif").write_bytes(tiff[: len(tiff) - 50])
    raises_one_line(read_image, tmp_path / "cut16.tif", match="cut16.tif")


def test_format_not_accepted(tmp_path):
    Image.new("RGB", (4, 4)).save(tmp_path / "pic.ppm")
    raises_one_line(read_image, tmp_path / "pic.ppm", match="does not accept")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    Image.new("RGB", (20, 20)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # warning above 100, error above 200
    raises_one_line(read_image, tmp_path / "big.png", match="decompression bomb")
    Image.new("RGB", (12, 12)).save(tmp_path / "warn.png")  # 144 px: only Pillow's warning
    raises_one_line(read_image, tmp_path / "warn.png", match="decompression bomb")


def test_unsupported_source_type():
    raises_one_line(read_image, 42, match="int")


# ------------------------------------------------------------------ tensors


def test_tensor_inputs():
    image = torch.rand(3, 4, 5)
    assert torch.equal(read_image(image), image)
    assert read_image(image) is not image
    assert torch.equal(read_image(image.unsqueeze(0)), image)
    grey = read_image(torch.full((1, 4, 5), 0.25))
    assert grey.shape == (3, 4, 5) and torch.equal(grey, torch.full((3, 4, 5), 0.25))
    assert torch.equal(read_image(torch.full((3, 2, 2), 255, dtype=torch.uint8)), torch.ones(3, 2, 2))
    assert read_image(torch.full((3, 2, 2), 2.0, dtype=torch.float64)).dtype == torch.float32
    assert read_image(torch.full((3, 2, 2), 2.0)).max() == 1.0
    assert read_image(torch.full((3, 2, 2), -1.0)).min() == 0.0


@pytest.mark.parametrize(
    "bad",
    [
        torch.rand(4, 4, 4),
        torch.rand(2, 3, 4, 4),
        torch.rand(4, 4),
        torch.zeros(3, 0, 4),
        torch.zeros(3, 2, 2, dtype=torch.int64),
    ],
)
def test_bad_tensor_inputs(bad):
    raises_one_line(read_image, bad)


def test_non_finite_tensor_is_refused(tmp_path):
    image = torch.zeros(3, 2, 2)
    image[0, 0, 0] = float("nan")
    raises_one_line(read_image, image, match="NaN")
    raises_one_line(write_image, image, tmp_path / "nan.png", match="NaN")
    assert not list(tmp_path.iterdir())


def test_to_pil():
    image = torch.zeros(3, 2, 3)
    image[1] = 1.0
    img = to_pil(image)
    assert img.mode == "RGB" and img.size == (3, 2)
    assert img.getpixel((0, 0)) == (0, 255, 0)
    raises_one_line(to_pil, torch.zeros(2, 2))
