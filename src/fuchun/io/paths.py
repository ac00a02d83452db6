"""What a path given by the user names, said in one sentence before anything opens it.

Only regular files are opened as images, masks, config files or start images: a FIFO
would block ``open`` forever, a device could stream without end, and a directory or a
symbolic-link loop only gives Python's own text. :func:`not_a_file` names the problem;
:func:`resolved` resolves a path without raising on loops.
"""

from __future__ import annotations

import errno
import os
import pathlib
import stat

NO_SUCH_FILE = "no such file"

_KINDS = (  # (test on st_mode, what the path is)
    (stat.S_ISDIR, "it is a directory, not a file"),
    (stat.S_ISFIFO, "it is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "it is a device, not a regular file"),
    (stat.S_ISBLK, "it is a device, not a regular file"),
    (stat.S_ISSOCK, "it is a socket, not a regular file"),
)
_ERRNOS = {
    errno.ENOENT: NO_SUCH_FILE,
    errno.ELOOP: "it is a symbolic link loop",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a part of the path is not a directory",
}


def not_a_file(path: str | os.PathLike) -> str | None:
    """None if ``path`` names a regular file (through symlinks), else why not, in a few words."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return _ERRNOS.get(exc.errno, " ".join(str(exc.strerror or exc).split()))
    except ValueError:  # an embedded NUL byte
        return "the name contains a NUL byte"
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "it is not a regular file")


def is_loop(path: str | os.PathLike) -> bool:
    """True if ``path`` (or a directory above it) is a symbolic link loop."""
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    except ValueError:
        return False
    return False


def resolved(path: str | os.PathLike) -> pathlib.Path:
    """``path`` made absolute with symlinks resolved, or only made absolute where it loops."""
    try:
        return pathlib.Path(path).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop on Python < 3.13
        return pathlib.Path(os.path.abspath(path))


def make_directory(path: str | os.PathLike, *, error: type[Exception], is_file: str, cannot: str) -> pathlib.Path:
    """``path`` as a directory, created if missing: ``error(is_file)`` where a file stands there,
    ``error("<cannot>: <reason>")`` where it cannot be created."""
    directory = pathlib.Path(path)
    if directory.exists() and not directory.is_dir():
        raise error(is_file)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"{cannot}: {exc.strerror or exc}") from None
    return directory
