"""16-bit files: every TIFF layout and 16-bit PNG read at full precision, or a warning."""

from __future__ import annotations

import warnings

import imagecodecs
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, UnidentifiedImageError

from fuchun.errors import ImageWarning
from fuchun.io.read import read_image
from fuchun.io.write import write_image


def _deep(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random 16-bit samples whose low byte matters (none is a multiple of 257)."""
    values = np.random.default_rng(seed).integers(0, 65535, shape).astype(np.uint16)
    return values | 1  # odd, so no value is an exact 8-bit level (k * 257 with k even is excluded too)


def _as_tensor(samples: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint16 -> the (3, H, W) float the reader should return."""
    return torch.from_numpy(samples.astype(np.float32) / 65535).permute(2, 0, 1)


def _levels(image: torch.Tensor) -> torch.Tensor:
    return (image.double() * 65535).round()


@pytest.mark.parametrize(
    "options",
    [
        {"compression": "lzw"},
        {"compression": "zlib"},
        {"compression": "zlib", "tile": (16, 16)},
        {"compression": "lzw", "predictor": True},
        {"compression": "packbits"},
        {"planarconfig": "separate"},
        {"compression": None},
    ],
    ids=["lzw", "deflate", "tiled-deflate", "lzw-predictor", "packbits", "planar", "uncompressed"],
)
def test_16bit_rgb_tiff_every_layout_is_exact(tmp_path, options):
    samples = _deep((40, 36, 3))
    path = tmp_path / "deep.tif"
    planar = options.get("planarconfig") == "separate"
    data = np.moveaxis(samples, -1, 0) if planar else samples  # planar files take (3, H, W)
    tifffile.imwrite(path, data, photometric="rgb", **options)
    try:
        with Image.open(path) as img:
            assert img.mode == "RGB"  # what Pillow alone gives: 8 bits per channel
    except UnidentifiedImageError:
        assert options.get("planarconfig") == "separate"  # a layout Pillow cannot open at all
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImageWarning)
        image = read_image(path)
    assert torch.equal(_levels(image), _levels(_as_tensor(samples)))


def test_16bit_tiff_with_alpha_is_composited_on_white(tmp_path):
    rgba = _deep((8, 8, 4), seed=1)
    rgba[..., 3] = 65535
    rgba[0, 0, 3] = 0
    path = tmp_path / "alpha.tif"
    tifffile.imwrite(path, rgba, photometric="rgb", extrasamples=[2], compression="lzw")
    image = read_image(path)
    assert torch.equal(image[:, 0, 0], torch.ones(3))
    assert torch.equal(_levels(image[:, 1:, 1:]), _levels(_as_tensor(rgba[1:, 1:, :3])))


def test_16bit_grey_tiff_lzw_keeps_precision(tmp_path):
    grey = _deep((6, 5), seed=2)
    path = tmp_path / "grey.tif"
    tifffile.imwrite(path, grey, photometric="minisblack", compression="lzw")
    image = read_image(path)
    assert torch.equal(_levels(image[0]), torch.from_numpy(grey.astype(np.float64)))
    assert torch.equal(image[0], image[2])


def test_16bit_png_from_libpng_is_exact(tmp_path):
    samples = _deep((9, 11, 3), seed=3)
    path = tmp_path / "deep.png"
    path.write_bytes(imagecodecs.png_encode(samples))
    assert torch.equal(_levels(read_image(path)), _levels(_as_tensor(samples)))


def test_written_16bit_files_hold_every_level(tmp_path):
    image = _as_tensor(_deep((7, 5, 3), seed=4))
    for suffix in (".png", ".tif"):
        path = write_image(image, tmp_path / f"out{suffix}", bit_depth=16)
        samples = imagecodecs.png_decode(path.read_bytes()) if suffix == ".png" else tifffile.imread(path)
        assert samples.dtype == np.uint16
        assert torch.equal(_levels(_as_tensor(samples)), _levels(image))


def test_16bit_file_read_at_8_bits_says_so_once(tmp_path):
    path = tmp_path / "cmyk16.tif"
    tifffile.imwrite(path, _deep((8, 8, 4), seed=5), photometric="separated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_image(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, ImageWarning)]
    assert len(messages) == 1 and "16-bit" in messages[0] and "8 bits" in messages[0]


def test_cli_shows_the_8_bit_warning_as_one_line(tmp_path, capsys):
    from fuchun.cli import main

    path = tmp_path / "cmyk16.tif"  # 16 px: read (with its warning), then refused as too small
    tifffile.imwrite(path, _deep((16, 16, 4), seed=6), photometric="separated")
    assert main(["eval", str(path), "--style", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("fuchun: warning: ") and "read at 8 bits" in err[0]
    assert err[-1].startswith("fuchun: error: ") and "at least 32 px" in err[-1]


def test_16bit_tiff_bomb_and_truncation_are_one_line_errors(tmp_path, monkeypatch):
    from fuchun.errors import ImageError

    path = tmp_path / "big.tif"
    tifffile.imwrite(path, _deep((64, 64, 3), seed=7), photometric="rgb", compression="lzw")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="big.tif.*decompression bomb"):
        read_image(path)
    monkeypatch.undo()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(path.read_bytes()[:-400])
    with pytest.raises(ImageError, match="cut.tif") as info:
        read_image(cut)
    assert "\n" not in str(info.value)


def _patched_tiff(path, samples, *, tag: int, at: int, value: int) -> None:
    """A TIFF of ``samples`` whose first-IFD entry ``tag`` has the 4 bytes at ``at`` (0: its tag and
    type, 4: its count, 8: its value) set to ``value``."""
    tifffile.imwrite(path, samples, photometric="rgb" if samples.ndim == 3 else "minisblack")
    data = bytearray(path.read_bytes())
    ifd = int.from_bytes(data[4:8], "little")
    for k in range(int.from_bytes(data[ifd : ifd + 2], "little")):
        entry = ifd + 2 + 12 * k
        if int.from_bytes(data[entry : entry + 2], "little") == tag:
            data[entry + at : entry + at + 4] = value.to_bytes(4, "little")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("shape", "tag", "at", "value"),
    [
        ((8, 8, 3), 257, 4, 2),  # ImageLength given as two numbers: tifffile compares a tuple with an int
        ((8, 8), 259, 0, 322 | 3 << 16),  # Compression's entry turned TileWidth: a tile length of 0 divides
    ],
)
def test_fuzzed_tiffs_that_break_tifffile_are_one_line_errors(tmp_path, shape, tag, at, value):
    # found by the fuzz test: tifffile raised TypeError and ZeroDivisionError, which the reader
    # must turn into its one-line error as it does any other library error
    from fuchun.errors import ImageError

    path = tmp_path / "odd.tif"
    _patched_tiff(path, _deep(shape, seed=3), tag=tag, at=at, value=value)
    with pytest.raises(ImageError, match="odd.tif") as info:
        read_image(path)
    assert "\n" not in str(info.value)
