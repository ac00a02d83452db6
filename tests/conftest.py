"""Shared fixtures: the project's test images, a tiny random VGG, tiny run options, real weights."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fuchun.features import VGGFeatures

# /work/<checkout>/tests/conftest.py -> /work/shared/data/images
IMAGES_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "images"
TINY_WIDTHS = (4, 4, 8, 8, 8)

# On a machine with two or fewer cores shared with other jobs, two intra-op threads stall
# on each other (a 96 px run measured 86 s with two threads, 11 s with one). OMP_NUM_THREADS
# set by the caller wins.
if (os.cpu_count() or 1) <= 2 and "OMP_NUM_THREADS" not in os.environ:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def images_dir() -> Path:
    """The shared test images (content/, style/, texture/); skips when they are absent."""
    if not IMAGES_DIR.is_dir():
        pytest.skip(f"shared test images not found at {IMAGES_DIR}")
    return IMAGES_DIR


@pytest.fixture
def tiny_net() -> VGGFeatures:
    """A VGG16-shaped network with 4-8 channels per block and seeded random weights."""
    torch.manual_seed(0)
    return VGGFeatures("vgg16", widths=TINY_WIDTHS)


@pytest.fixture
def tiny_options() -> dict:
    """Run options for tiny images on the CPU: few steps, one shift that fits at 64 px."""
    return {
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
