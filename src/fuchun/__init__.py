"""fuchun: neural style transfer by image iteration.

>>> import fuchun
>>> picture = fuchun.stylize("photo.jpg", "painting.jpg", size=512)   # doctest: +SKIP
>>> picture.save("out.png")                                           # doctest: +SKIP
"""

from fuchun.api import reconstruct, render, stylize, texture
from fuchun.config.options import Config

__all__ = ["Config", "reconstruct", "render", "stylize", "texture"]
__version__ = "0.1.0"
