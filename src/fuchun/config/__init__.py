"""Settings of a run: every option with its default (``options``), the loss presets, the
parsers of option values, and options read from files."""

from fuchun.config.options import MODE_DEFAULTS, Config

__all__ = ["MODE_DEFAULTS", "Config"]
