"""Where and in which arithmetic a run computes: device choice and bf16/fp16 autocast.

``--precision auto`` uses bf16 only where it is native: NVIDIA GPUs of compute capability
8.0 (Ampere) or later, ROCm GPUs that report bf16 without emulation, and CPUs with
AVX512-BF16 or AMX. Older CUDA GPUs emulate bf16 (``torch.cuda.is_bf16_supported()`` counts
emulation by default), so they get fp16 autocast instead. Statistics are float32 either way
(:mod:`fuchun.losses`). fp16 gradients of the relative losses are below fp16's smallest
normal number, so under fp16 the gradient between the loss and the image is scaled by
:data:`FP16_GRAD_SCALE` (:func:`fuchun.objective.scale_grad`), as a static loss scale (Micikevicius et al.
2018, arXiv 1710.03740): the values are unchanged, only the backward pass is scaled.
"""

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
    precision: str  # "fp32" | "bf16" | "fp16"

    @property
    def autocast(self) -> Callable[[], AbstractContextManager]:
        """A factory of the context under which the network runs."""
        if self.precision == "fp32":
            return nullcontext
        return partial(torch.autocast, device_type=self.device.type, dtype=AUTOCAST_DTYPES[self.precision])

    @property
    def grad_scale(self) -> float:
        """The static loss scale of the backward pass (1 but under fp16)."""
        return FP16_GRAD_SCALE if self.precision == "fp16" else 1.0


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
FP16_GRAD_SCALE = 2.0**15  # a gradient of 1e-9 becomes 3e-5, inside fp16's range


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
        if torch.version.hip:  # ROCm: ask without counting emulation
            return torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def auto_precision(device: torch.device) -> str:
    """bf16 where native, fp16 on CUDA GPUs without native bf16, fp32 elsewhere."""
    if bf16_fast(device):
        return "bf16"
    return "fp16" if device.type == "cuda" else "fp32"


def pick_machine(device: str = "auto", precision: str = "auto") -> Machine:
    """Resolve the device and precision options of a run."""
    dev = resolve_device(device)
    if precision not in ("auto", "fp32", *AUTOCAST_DTYPES):
        raise DeviceError(f"unknown precision {precision!r}; valid: auto, fp32, {', '.join(AUTOCAST_DTYPES)}")
    if precision == "auto":
        precision = auto_precision(dev)
    elif precision == "bf16" and dev.type == "mps":
        raise DeviceError("bf16 autocast is not supported on MPS; use --precision fp32 or fp16")
    return Machine(dev, precision)
