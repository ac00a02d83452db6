"""Shared fixtures: the bundled example images, a tiny random VGG, tiny run options, real weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fuchun
import fuchun.run.engine
import odd_files
from fuchun.net.features import VGGFeatures
from helpers import EXAMPLES_DIR, tiny_vgg
from strict_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401  (CI: a skip fails unless marked gpu)

# On a machine with two or fewer cores shared with other jobs, two intra-op threads stall
# on each other (a 96 px run measured 86 s with two threads, 11 s with one). OMP_NUM_THREADS
# set by the caller wins.
if (os.cpu_count() or 1) <= 2 and "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The bundled example images: tubingen.jpg (photo), starry-night.jpg and fuchun-mountains.jpg (paintings)."""
    return EXAMPLES_DIR


@pytest.fixture(scope="session")
def texture_path(tmp_path_factory) -> Path:
    """A 256 px texture: the swirling sky of the bundled Starry Night (right half, top), as PNG."""
    path = tmp_path_factory.mktemp("texture") / "starry-sky.png"
    with Image.open(EXAMPLES_DIR / "starry-night.jpg") as painting:
        painting.crop((256, 0, 512, 256)).save(path)
    return path


@pytest.fixture
def tiny_net() -> VGGFeatures:
    """A VGG16-shaped network with 4-8 channels per block and seeded random weights."""
    return tiny_vgg()


@pytest.fixture
def tiny_options() -> dict:
    """Run options for tiny images on the CPU: few steps, one shift that fits at 64 px, and the
    ``fuchun`` preset, whose Gram, shifted-Gram, histogram and TV terms exercise every code path
    of the article's losses (the default ``paint`` preset has its own tests)."""
    return {
        "preset": "fuchun",
        "size": 64,
        "steps": 5,
        "scales": "none",
        "shifts": {"relu2_1": (2,)},
        "device": "cpu",
        "precision": "fp32",
    }


@pytest.fixture
def small_rgb(tmp_path) -> Path:
    """A 72x56 random RGB PNG (large enough for tiny runs at 64 px)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "small.png"
    Image.fromarray(rng.integers(0, 256, (56, 72, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def real_weights():
    """The pretrained VGG16 weights (fetched into the cache when missing; deselect with -m "not weights")."""
    from fuchun.weights.sources import load_weights

    return load_weights("vgg16")


@pytest.fixture
def tiny_pretrained(monkeypatch, tiny_net) -> None:
    """The engine's pretrained network replaced by the tiny random one (no weights are read)."""

    def load(cfg, machine, reporter):
        return tiny_net.to(machine.device, memory_format=torch.channels_last), "tiny"

    monkeypatch.setattr(fuchun.run.engine, "load_network", load)


@pytest.fixture
def probe_folders(tmp_path) -> tuple[Path, Path]:
    """(inputs, outputs): a photo and a painting in the first, nothing in the second."""
    inputs, outputs = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    outputs.mkdir()
    odd_files.png(inputs, "photo.png", seed=0)
    odd_files.png(inputs, "painting.png", seed=1)
    return inputs, outputs
