"""fuchun: neural style transfer by image iteration.

>>> import fuchun
>>> picture = fuchun.stylize("photo.jpg", "painting.jpg", size=512)   # doctest: +SKIP
>>> picture.save("out.png")                                           # doctest: +SKIP

The public names are loaded on first use (PEP 562), so that ``import fuchun.cli`` does not
import torch before the command line can catch a Ctrl-C.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

__all__ = ["Config", "reconstruct", "render", "stylize", "texture"]
__version__ = importlib.metadata.version("fuchun")  # pyproject.toml's

_HOMES = {
    "Config": "fuchun.config.options",
    "reconstruct": "fuchun.api",
    "render": "fuchun.api",
    "stylize": "fuchun.api",
    "texture": "fuchun.api",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors
    from fuchun.api import reconstruct, render, stylize, texture
    from fuchun.config.options import Config


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'fuchun' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
