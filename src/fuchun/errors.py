"""Exceptions shared by several modules."""


class ImageError(ValueError):
    """A user-facing image problem (one clear sentence, includes the path)."""
