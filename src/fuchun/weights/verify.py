"""The weights cache kept honest: pinned hashes of the converted files, cheap re-checks.

The conversion of each download is reproducible (sorted metadata, fixed tensor order), so
the converted file's SHA-256 is pinned here like the download's. Hashing 60 MB on every
run is wasteful, so a verified file gets a stamp beside it (``<file>.verified``: its size,
modification time and hash); a later load trusts the stamp while size and time match and
hashes the file again otherwise. A file that does not match its pin is refused with one
line saying how to repair it. ``fuchun weights --verify`` hashes every cached file anew.
A read-only cache still works: the stamp is then not written and every load hashes.
"""

from __future__ import annotations

import json
import pathlib

from fuchun.errors import WeightsError
from fuchun.io.atomic import check_dir_writable, write_atomic
from fuchun.weights.files import sha256_file

# SHA-256 of the converted safetensors file of each backbone (by backbone name); a
# backbone without an entry is hashed but not checked.
CONVERTED_SHA256: dict[str, str] = {
    "vgg16": "27d746d68da9a35cdf5f9fef797ca7d9217518e3ddd732494f947ebe59c6969e",
}
STAMP_SUFFIX = ".verified"


def repair_hint(name: str) -> str:
    return f"repair them with `fuchun weights --fetch {name} --force`"


def _stamp_path(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(path.name + STAMP_SUFFIX)


def _fingerprint(path: pathlib.Path) -> dict[str, int]:
    info = path.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns}


def _stamped_sha256(path: pathlib.Path) -> str | None:
    """The stamp's hash when the stamp matches the file's size and time, else None."""
    try:
        stamp = json.loads(_stamp_path(path).read_text())
        if {k: stamp[k] for k in ("size", "mtime_ns")} == _fingerprint(path):
            return str(stamp["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def check_converted(name: str, path: pathlib.Path, *, fresh: bool = False) -> str:
    """The SHA-256 of backbone ``name``'s cached file at ``path``, checked against its pin.

    The stamp spares the hash unless ``fresh``; WeightsError names the repair when it does not match.
    """
    digest = None if fresh else _stamped_sha256(path)
    if digest is not None:
        return digest
    digest = sha256_file(path)
    expected = CONVERTED_SHA256.get(name)
    if expected is not None and digest != expected:
        raise WeightsError(
            f"the cached {name} weights at {path} are corrupt (SHA-256 {digest[:12]}, expected "
            f"{expected[:12]}); {repair_hint(name)}"
        )
    try:
        write_atomic(_stamp_path(path), json.dumps({**_fingerprint(path), "sha256": digest}).encode())
    except OSError:  # a read-only cache: hash again next time
        pass
    return digest


def forget_stamp(path: pathlib.Path) -> None:
    """Drop ``path``'s stamp (before the file is replaced)."""
    try:
        _stamp_path(path).unlink(missing_ok=True)
    except OSError:
        pass


def ensure_cache(folder: pathlib.Path) -> pathlib.Path:
    """``folder`` made ready to take downloads, or one WeightsError line saying what is wrong."""
    advice = "set FUCHUN_HOME to a writable folder"
    if folder.exists() and not folder.is_dir():
        raise WeightsError(f"the weights cache {folder} is not a folder; {advice}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        check_dir_writable(folder)
    except OSError as exc:
        raise WeightsError(f"cannot write to the weights cache {folder}: {exc.strerror or exc}; {advice}") from None
    return folder
