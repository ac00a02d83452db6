"""The command line: the parser generated from the config (``parser``), what each
sub-command does (``commands``) and the article sheet (``article``)."""

from fuchun.cli.parser import main

__all__ = ["main"]
