"""Memory planner: the peak memory of a run, estimated before it starts.

The estimate counts what one loss-and-gradient evaluation keeps alive, layer by layer
from the architecture table, plus the optimiser's state and the statistics' buffers:

- every ReLU output up to the deepest layer used, in the network's precision (autograd
  keeps them for the backward pass; conv outputs are freed), and max-pooling's indices;
- the statistics: a float32 copy of each style layer's map shared by its Gram and
  shifted-Gram terms (bf16 only, and not in the lean mode that goes with checkpointing,
  where the products upcast blocks of rows instead), and one gradient buffer of relu1_1's
  map beyond the backward pass's own;
- the histogram loss's difference F − R, kept in the network's precision, and the int64
  ranks, the contiguous copy and the matched target of the channels ranked at a time;
- the image, its gradient and the optimiser's state: L-BFGS keeps 2 vectors per history
  entry, Adam 2 moments;
- the backward pass's largest transient (the gradient of the biggest activation).

With ``checkpoint`` each block's activations are recomputed in the backward pass, so
only the largest block's are alive at once. A margin covers the allocator's slack. The
estimate errs on the safe side of measurements on an H100 (the Gatys evaluation alone at
4096x4096: 26 GB measured in fp32, 21 GB in bf16 with channels-last).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from fuchun.architectures import layers_of
from fuchun.errors import MemoryPlanError
from fuchun.losses.histogram import CHANNEL_CHUNK

MARGIN = 1.1  # allocator slack and small buffers
OVERHEAD_BYTES = 400 * 2**20  # weights (fp32 + bf16 copy), runtime, small tensors
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


MIN_HISTORY = 5  # the planner shrinks L-BFGS's history down to this before giving up


@dataclass(frozen=True)
class Plan:
    """The estimated peak of one run, with the savings it needs to fit."""

    size: tuple[int, int]  # (W, H)
    peak_bytes: int
    checkpoint: bool  # recompute each VGG block in the backward pass
    history: int  # L-BFGS history size (may be smaller than asked)

    def describe(self) -> str:
        """One line for the user."""
        notes = [
            n for n, on in (("gradient checkpointing", self.checkpoint), (f"L-BFGS history {self.history}", True)) if on
        ]
        return f"{self.size[0]}x{self.size[1]} needs about {self.peak_bytes / 2**30:.1f} GiB ({', '.join(notes)})"


def _per_pixel(arch: str, deepest: str, *, precision: str, checkpoint: bool) -> tuple[float, float]:
    """(kept, largest) activation bytes per input pixel up to ``deepest``."""
    kept, blocks, block, largest, area = 0.0, [], 0.0, 0.0, 1.0
    for layer in layers_of(arch):
        if layer.kind == "pool":
            block += layer.out_channels / area * 8 / 4  # int64 indices of a 2x2 max pool
            blocks.append(block)
            block, area = 0.0, area * 4
        else:  # a conv's output is freed once its ReLU ran; the ReLU's output is kept
            size = layer.out_channels / area * BYTES[precision]
            block += size if layer.kind == "relu" else 0.0
            largest = max(largest, size)
        if layer.name == deepest:
            break
    blocks.append(block)
    kept = max(blocks) + len(blocks) * 3 * 4 if checkpoint else sum(blocks)
    return kept, largest


def estimate(
    size: tuple[int, int],
    *,
    arch: str,
    deepest: str,
    precision: str,
    optimizer: str,
    history: int,
    hist_channels: int = 64,
    checkpoint: bool = False,
) -> int:
    """Estimated peak bytes of one run at ``size`` = (W, H)."""
    pixels = size[0] * size[1]
    kept, largest = _per_pixel(arch, deepest, precision=precision, checkpoint=checkpoint)
    # float32 copies of the Gram layers' maps (fuchun.losses.products): relu1_1 ... relu5_1
    # together hold just under twice relu1_1's 64 channels
    shared = 2 * 64 * 4 if precision != "fp32" and not checkpoint else 0
    stats = shared + 64 * BYTES[precision]  # and one more gradient buffer of it than the backward's own
    chunk = CHANNEL_CHUNK * (BYTES[precision] + 8 + 4)  # copy, int64 ranks, matched values of one chunk
    hist = hist_channels * BYTES[precision] + chunk if hist_channels else 0  # the kept difference F − R
    state = {"lbfgs": 2 * history + 4, "adam": 4}[optimizer] * 3 * 4
    per_pixel = kept + largest + stats + hist + state
    return int(OVERHEAD_BYTES + MARGIN * per_pixel * pixels)


def available_bytes(device: torch.device) -> int:
    """Free memory on ``device`` (CUDA: free device memory; CPU: available RAM)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as handle:
            info = dict(line.split(":", 1) for line in handle)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def _options(history: int):
    """Ways to fit, cheapest first: as asked, checkpointed, then shorter L-BFGS histories."""
    yield False, history
    yield True, history
    while history > MIN_HISTORY:
        history = max(MIN_HISTORY, history // 2)
        yield True, history


def plan(size: tuple[int, int], *, budget: int, history: int, **kw) -> Plan:
    """The plan for ``size`` within ``budget`` bytes; MemoryPlanError if nothing fits."""
    for checkpoint, hist in _options(history):
        peak = estimate(size, checkpoint=checkpoint, history=hist, **kw)
        if peak <= budget:
            return Plan(size, peak, checkpoint, hist)
    best = largest_side(size, budget=budget, **kw)
    need = estimate(size, checkpoint=True, history=MIN_HISTORY, **kw)
    hint = f"the largest that fits is {best} px (--size {best} or --size max)" if best else "nothing fits"
    raise MemoryPlanError(
        f"{size[0]}x{size[1]} px needs about {need / 2**30:.1f} GiB but {budget / 2**30:.1f} GiB is free; {hint}"
    )


def largest_side(size: tuple[int, int], *, budget: int, **kw) -> int:
    """The largest longest side (same aspect as ``size``) whose run fits in ``budget`` bytes.

    It assumes every saving (checkpointing, the shortest L-BFGS history).
    """
    kw["history"] = MIN_HISTORY
    aspect = (size[0] / max(size), size[1] / max(size))
    lo, hi = 0, 1 << 15
    while lo < hi:  # binary search on the longest side
        mid = (lo + hi + 1) // 2
        trial = (max(1, round(mid * aspect[0])), max(1, round(mid * aspect[1])))
        if estimate(trial, checkpoint=True, **kw) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo
