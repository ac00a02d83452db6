"""What the tests share: where things are, seeded pictures and feature maps, the tiny network,
one recording reporter, the options that turn every loss term on, small checks of the command line.

It imports as ``helpers`` from every test folder (``pythonpath`` in pyproject.toml's pytest
section); the fixtures that hand these out are in conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import fuchun

REPO = Path(__file__).resolve().parents[1]  # the repository's root
SRC = Path(fuchun.__file__).resolve().parents[1]  # where this fuchun is imported from (a subprocess's PYTHONPATH)
# the images bundled with the package (public domain or CC BY: see SOURCES.md there)
EXAMPLES_DIR = Path(fuchun.__file__).resolve().parent / "examples"
