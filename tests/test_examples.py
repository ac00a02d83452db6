"""The bundled example images: each one small, readable, and listed with its licence and author."""

from __future__ import annotations

from importlib import resources

from fuchun.io.read import read_image
from helpers import REPO


def test_every_bundled_image_has_a_licence_and_an_author():
    examples = resources.files("fuchun") / "examples"
    sources = (examples / "SOURCES.md").read_text(encoding="utf-8")
    images = sorted(p.name for p in examples.iterdir() if p.name.endswith((".jpg", ".png")))
    assert images == ["fuchun-mountains.jpg", "starry-night.jpg", "tubingen.jpg"]
    rows = {line.split("|")[1].strip(): line for line in sources.splitlines() if line.startswith("| ")}
    for name in images:
        row = rows[name]
        assert "public domain" in row or "CC BY" in row, name
        assert max(read_image(examples / name).shape[1:]) == 512
    assert "Andreas Praefcke" in rows["tubingen.jpg"] and "commons.wikimedia.org" in rows["tubingen.jpg"]


def test_sources_ship_inside_the_package():
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    package_data = pyproject.split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert '"examples/SOURCES.md"' in package_data
