"""The one way fuchun writes a file: complete or not at all.

``write_atomic`` writes to a temporary file in the target's own folder (so ``os.replace``
is a rename on one file system), flushes it to disk, gives it the one permission rule
(0o666 less the umask, as ``open()`` would) and renames it over the target. On any failure
the temporary file is removed and the target is untouched. The temporary name is short
(``.fuchun-XXXXXXXX.tmp``, 20 characters) so that any legal target name can be written:
a name derived from the target's could exceed the file system's NAME_MAX (255 bytes).

Images, traces, weights and checkpoints all go through here; callers turn ``OSError`` into
their own one-line error.
"""

from __future__ import annotations

import os
import pathlib
import secrets
from collections.abc import Callable
from typing import BinaryIO

from fuchun.errors import one_line

TEMP_PREFIX = ".fuchun-"
TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The permission bits of every file fuchun writes: 0o666 less the umask."""
    return 0o666 & ~_umask()


def temp_path(target: pathlib.Path) -> pathlib.Path:
    """A fresh, short temporary name beside ``target``."""
    return target.parent / f"{TEMP_PREFIX}{secrets.token_hex(4)}{TEMP_SUFFIX}"


def write_atomic(target: str | os.PathLike, payload: bytes | Callable[[BinaryIO], None]) -> pathlib.Path:
    """Write ``payload`` (bytes, or a function writing to a binary stream) to ``target`` atomically.

    Raises the ``OSError`` of whatever step failed, with nothing left behind.
    """
    target = pathlib.Path(target)
    tmp = temp_path(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            if callable(payload):
                payload(stream)
            else:
                stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def check_dir_writable(folder: pathlib.Path) -> None:
    """Create and remove a short temporary file in ``folder``: raises the OSError a write would meet."""
    tmp = temp_path(folder / "x")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    tmp.unlink()


def write_or_raise(target: str | os.PathLike, payload: bytes, *, error: type[Exception]) -> None:
    """:func:`write_atomic`, with a failure raised as ``error`` naming ``target`` in one line."""
    try:
        write_atomic(target, payload)
    except OSError as exc:
        raise error(f"cannot write '{target}': {one_line(exc.strerror or exc)}") from exc
