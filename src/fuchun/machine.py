"""Where and in which arithmetic a run computes: device choice and bf16 autocast."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import partial

import torch

from fuchun.errors import DeviceError


@dataclass(frozen=True)
class Machine:
    """The device and the precision of a run, with the autocast context to use."""

    device: torch.device
    precision: str  # "fp32" | "bf16"

    @property
    def autocast(self) -> Callable[[], AbstractContextManager]:
        """A factory of the context under which the network runs."""
        if self.precision == "fp32":
            return nullcontext
        return partial(torch.autocast, device_type=self.device.type, dtype=torch.bfloat16)


def _cuda_ok() -> bool:
    return torch.cuda.is_available()


def _mps_ok() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


_AVAILABLE = {"cpu": lambda: True, "cuda": _cuda_ok, "mps": _mps_ok}


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA, then MPS, then the CPU; a named device must be available."""
    if name == "auto":
        name = next(n for n in ("cuda", "mps", "cpu") if _AVAILABLE[n]())
    if name not in _AVAILABLE:
        raise DeviceError(f"unknown device {name!r}; valid: auto, {', '.join(_AVAILABLE)}")
    if not _AVAILABLE[name]():
        raise DeviceError(f"device {name!r} is not available on this machine (try --device cpu)")
    return torch.device(name)


def bf16_fast(device: torch.device) -> bool:
    """Whether bf16 convolutions are native (and so faster) on ``device``."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def pick_machine(device: str = "auto", precision: str = "auto") -> Machine:
    """Resolve the device and precision options of a run."""
    dev = resolve_device(device)
    if precision not in ("auto", "fp32", "bf16"):
        raise DeviceError(f"unknown precision {precision!r}; valid: auto, fp32, bf16")
    if precision == "auto":
        precision = "bf16" if bf16_fast(dev) else "fp32"
    elif precision == "bf16" and dev.type == "mps":
        raise DeviceError("bf16 autocast is not supported on MPS; use --precision fp32")
    return Machine(dev, precision)
