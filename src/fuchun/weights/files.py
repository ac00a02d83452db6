"""Weight files: hashing, atomic safetensors writing, safe reading and shape checks.

Nothing here unpickles objects: safetensors files, or state dicts read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import pickle
import warnings
from collections.abc import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from fuchun.errors import WeightsError
from fuchun.io.atomic import write_atomic
from fuchun.io.paths import not_a_file
from fuchun.net.architectures import layers_of, torchvision_index

_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")


def sha256_file(path: str | os.PathLike) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path: pathlib.Path, expected: str, what: str) -> str:
    """Return the file's SHA-256, or raise WeightsError when it is not ``expected``."""
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"{what}: SHA-256 mismatch (expected {expected}, got {actual}); the download is "
            "corrupt or was changed, nothing was cached"
        )
    return actual


def _sorted_metadata(blob: bytes) -> bytes:
    """Put a safetensors header's metadata keys in sorted order, so equal data hash equal.

    The safetensors writer emits metadata in hash-map order, which differs between runs.
    The header keeps its length; anything unexpected leaves the bytes as they are.
    """
    size = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + size])
    if "__metadata__" not in header:
        return blob
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    if len(text) > size:
        return blob
    return blob[:8] + text.ljust(size) + blob[8 + size :]


def save_atomic(state_dict: dict[str, torch.Tensor], out_path: pathlib.Path, metadata: dict[str, str]) -> None:
    """Write ``state_dict`` as safetensors to ``out_path`` atomically (:mod:`fuchun.io.atomic`)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out_path, _sorted_metadata(save(state_dict, metadata=metadata)))


# --------------------------------------------------------------------- state dicts


def validate_state_dict(state_dict: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Check every conv of ``arch`` is present with the right shape; return them as float32.

    Extra keys are ignored (and left out of the result). The first problem found raises
    WeightsError.
    """
    out: dict[str, torch.Tensor] = {}
    for layer in layers_of(arch):
        if layer.kind != "conv":
            continue
        expected = {
            f"{layer.name}.weight": (layer.out_channels, layer.in_channels, 3, 3),
            f"{layer.name}.bias": (layer.out_channels,),
        }
        for key, shape in expected.items():
            tensor = state_dict.get(key)
            if tensor is None:
                raise WeightsError(f"weights for {arch} are missing {key} (expected shape {shape})")
            if tuple(tensor.shape) != shape or not tensor.is_floating_point():
                raise WeightsError(
                    f"weights for {arch}: {key} has shape {tuple(tensor.shape)} "
                    f"({tensor.dtype}), expected {shape} (floating point)"
                )
            out[key] = tensor.detach().to(torch.float32).contiguous()
    return out


def canonical_state_dict(state_dict: dict[str, torch.Tensor], arch: str) -> dict[str, torch.Tensor]:
    """Rename torchvision ``features.N.*`` keys to conv names; keep canonical keys as-is.

    Keys that are neither (``classifier.*`` and the like) are dropped. No shape checks.
    """
    by_index = {f"features.{i}": name for name, i in torchvision_index(arch).items()}
    convs = set(by_index.values())
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor):
            continue
        prefix, _, param = key.rpartition(".")
        name = by_index.get(prefix, prefix)
        if name in convs and param in ("weight", "bias"):
            out[f"{name}.{param}"] = tensor
    return out


def read_safetensors(path: pathlib.Path) -> dict[str, torch.Tensor]:
    """Load a safetensors file onto the CPU."""
    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path} is not a readable safetensors file: {exc}") from None


def read_torch(path: pathlib.Path) -> dict[str, torch.Tensor]:
    """Load a plain tensor state dict with ``torch.load(weights_only=True)``."""
    try:
        with warnings.catch_warnings():  # torch warns (two lines) about raw pickles; our one line says it all
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise WeightsError(f"{path} is not a plain tensor file (refusing to unpickle objects)") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable PyTorch state dict: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state dict (found {type(state).__name__})")
    return state


_READERS: dict[str, Callable[[pathlib.Path], dict[str, torch.Tensor]]] = {
    ".safetensors": read_safetensors,
    **{suffix: read_torch for suffix in _TORCH_SUFFIXES},
}


def read_state_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` or ``.pth``/``.pt`` state dict file, unpickling no objects."""
    path = pathlib.Path(path)
    problem = not_a_file(path)  # only regular files: a FIFO would block the reader
    if problem is not None:
        raise WeightsError(f"cannot read weights file {path}: {problem}")
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise WeightsError(f"unsupported weights file {path.name}; valid suffixes: {', '.join(_READERS)}")
    return reader(path)
