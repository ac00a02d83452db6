"""Row-wise argsort, the core of the exact histogram loss, made fast for bf16 on the CPU.

Features from a bf16 network hold 16-bit values, so their order is the order of 16-bit
integer keys, and numpy's stable sort of 16-bit integers is a radix sort: on a CPU it is
about three times faster than torch's comparison sort, and just as exact (equal keys are
equal values; which of two equal activations gets which target changes neither the loss
nor its sum of gradients). Other dtypes and devices use ``torch.argsort``.
"""

from __future__ import annotations

import numpy as np
import torch

RADIX_MIN = 256  # shorter rows: torch's sort is fast enough


def bf16_keys(x: torch.Tensor) -> torch.Tensor:
    """int16 keys whose signed order is the order of the bf16 values ``x``."""
    bits = x.contiguous().view(torch.int16)
    return bits ^ ((bits >> 15) & 0x7FFF)  # negative values: reverse the magnitude bits


def argsort_rows(x: torch.Tensor) -> torch.Tensor:
    """Indices (int64) that sort each row of (..., M) ``x`` ascending."""
    if x.dtype != torch.bfloat16 or x.device.type != "cpu" or x.shape[-1] < RADIX_MIN:
        return x.argsort(-1)
    keys = bf16_keys(x.detach().reshape(-1, x.shape[-1])).numpy()
    order = np.argsort(keys, axis=-1, kind="stable")  # radix sort for 16-bit integers
    return torch.from_numpy(order).reshape(x.shape)
