"""Memory planner: the peak memory of a run, estimated before it starts.

The estimate is for the last (largest) level; the engine frees each level's objective before
it builds the next, so no two levels' objectives are alive at once. It is the larger of two
moments, plus the loss terms' tables that last through both, a margin and a fixed cost:

- while a level's objective is built (no autograd), per style pixel: the style images' maps
  at every layer a style term reads, in the network's precision, and the largest transient
  of one term's target (a histogram table's sort) or of the forward pass (its widest pair of
  maps);
- during a loss-and-gradient evaluation, per output pixel: every ReLU output up to the
  deepest layer used and max-pooling's indices (autograd keeps them; conv outputs are freed),
  the backward pass's largest transient, the float32 rows the Gram terms share (not in the
  lean mode that goes with checkpointing), one more gradient buffer of relu1_1, what each
  loss term keeps (its :class:`fuchun.losses.terms.Load`), and the image, its gradient and
  the optimiser's state (L-BFGS two vectors per history entry, Adam two moments, a copy of
  the last evaluated image).

With ``checkpoint`` each block's activations are recomputed in the backward pass, so only the
largest block's are alive at once. On the CPU glibc keeps part of what each step frees for
reuse (``RETAINED`` of the step's bytes, less where the step's blocks are so large that glibc
maps and unmaps them directly); the engine hands the build's freed pages back to the system
before the steps (:func:`release_freed_memory`). CUDA's caching allocator hands its blocks on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
from dataclasses import dataclass

import torch

from fuchun.errors import MemoryPlanError
from fuchun.net.architectures import layers_of

MARGIN = 1.1  # allocator slack and small buffers
# the run's fixed cost beyond the loaded network and what torch's optimisers import (loaded before
# the plan, fuchun.run.optimise.load_optimisers): autocast's bf16 copy of the weights (28 MiB for
# VGG16 to relu5_1), and the code of the kernels that first run in a step, mapped from the
# libraries' files (25-28 MiB of file pages measured after a 160x120 px run, freshly installed
# or not), with the convolution library's workspaces and small tensors
OVERHEAD_BYTES = 58 * 2**20
BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# glibc keeps freed blocks below its mmap threshold, which it raises up to 32 MiB, for reuse,
# so on the CPU a run's resident peak exceeds its live tensors by a share of the step's bytes
# held in blocks below that size. How much varies between fresh runs of one command with the
# allocator's history: at 384x288, where every block of a step is below the ceiling, thirteen
# fresh runs of benchmarks/memory.py peaked at 602-719 MiB, which is 0.3-0.7 of the step's
# bytes retained; the planner takes the worst
MMAP_CEILING = 32 * 2**20
RETAINED = 0.7


MIN_HISTORY = 5  # the planner shrinks L-BFGS's history down to this before giving up


@dataclass(frozen=True)
class Loads:
    """What a level's objective holds besides the network's activations (made from the loss terms'
    rows, :data:`fuchun.losses.terms.TERMS`, by :func:`fuchun.run.fit.term_loads`).

    Channels are counted per input pixel: a layer of C channels in block k holds C / 4^(k-1)
    values per pixel of the image.
    """

    maps: float = 0.0  # channels of every layer a style statistic reads (the style images' maps)
    rows: float = 0.0  # channels of the layers whose float32 rows the Gram terms share
    step: float = 0.0  # bytes per output pixel the terms keep during an evaluation
    table: float = 0.0  # bytes per style pixel the terms keep for the whole level
    build: float = 0.0  # bytes per style pixel of the largest transient of building a target
    fixed: int = 0  # bytes the terms' libraries take once
    style_per_pixel: float = 1.0  # style pixels (all style images) per output pixel (--style-scale)
    style_pixels: int = 0  # style pixels that do not follow the output's size (--style-size)


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
    loads: Loads,
    checkpoint: bool = False,
    device: str = "cpu",
) -> int:
    """Estimated peak bytes of one run at ``size`` = (W, H), beyond the loaded network."""
    pixels = size[0] * size[1]
    style_pixels = loads.style_per_pixel * pixels + loads.style_pixels
    tables = loads.table * style_pixels
    build = _build_bytes(style_pixels, arch=arch, deepest=deepest, precision=precision, loads=loads)
    step = _step_bytes(
        pixels,
        arch=arch,
        deepest=deepest,
        precision=precision,
        optimizer=optimizer,
        history=history,
        loads=loads,
        checkpoint=checkpoint,
    )
    fixed = OVERHEAD_BYTES + loads.fixed
    core = max(build, step)
    if device == "cpu":  # see the module's note on the allocators
        _, largest = _per_pixel(arch, deepest, precision=precision, checkpoint=False)
        block = largest * 4 / BYTES[precision] * size[0] * size[1]  # the largest float32 block of a step
        core += RETAINED * step * min(1.0, MMAP_CEILING / block)
    return int(fixed + MARGIN * (tables + core))


def _build_bytes(style_pixels: float, *, arch: str, deepest: str, precision: str, loads: Loads) -> float:
    """Bytes of the build's transients: the style images' maps, and the largest of a term's
    transient and the forward pass's widest pair of maps."""
    _, largest = _per_pixel(arch, deepest, precision=precision, checkpoint=False)
    maps = loads.maps * BYTES[precision]  # the style images' maps of the wanted layers
    return (maps + max(loads.build, 2 * largest)) * style_pixels


def _step_bytes(pixels: int, *, arch, deepest, precision, optimizer, history, loads, checkpoint) -> float:
    """Bytes alive during a loss-and-gradient evaluation, besides the histogram tables."""
    kept, largest = _per_pixel(arch, deepest, precision=precision, checkpoint=checkpoint)
    # float32 copies of the Gram layers' maps (fuchun.losses.products), shared with the shifted Gram
    shared = loads.rows * 4 if precision != "fp32" and not checkpoint else 0
    stats = shared + 64 * BYTES[precision]  # and one more gradient buffer of relu1_1 than the backward's own
    state = {"lbfgs": 2 * history + 5, "adam": 5}[optimizer] * 3 * 4
    per_pixel = kept + largest + stats + loads.step + state
    return per_pixel * pixels


def release_freed_memory() -> None:
    """Collect the garbage and hand the C allocator's free pages back to the system (glibc only).

    glibc keeps freed blocks below its mmap threshold (which it raises up to 32 MiB as large
    blocks are freed) for reuse, so what a scale's build frees stays resident while the steps
    allocate blocks of other sizes. Trimming after each build lowers the run's peak and its
    spread: in benchmarks/memory.py's 384x288 run, five fresh runs peaked at 529-698 MiB without it
    and three at 566-595 MiB with it, at no measurable cost (once per scale).
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc():
    """glibc's handle, or None elsewhere (musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _glibc()


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
