"""Tests for the memory planner."""

from __future__ import annotations

import pytest

from fuchun.memory import MIN_HISTORY, Loads, MemoryPlanError, estimate, largest_side, plan

KW = dict(arch="vgg16", deepest="relu5_1", precision="bf16", optimizer="lbfgs")
GiB = 2**30


def test_estimate_grows_with_pixels_and_precision():
    sizes = [(256, 256), (512, 512), (1024, 1024), (2048, 2048)]
    peaks = [estimate(s, history=50, **KW) for s in sizes]
    assert peaks == sorted(peaks) and peaks[-1] > 10 * peaks[0]
    fp32 = estimate((1024, 1024), history=50, **{**KW, "precision": "fp32"})
    assert fp32 > estimate((1024, 1024), history=50, **KW) * 0.9  # fp32 activations are twice as big


def test_savings_reduce_the_estimate():
    full = estimate((2048, 2048), history=50, **KW)
    assert estimate((2048, 2048), history=50, checkpoint=True, **KW) < full
    assert estimate((2048, 2048), history=10, **KW) < full
    assert estimate((2048, 2048), history=50, **{**KW, "optimizer": "adam"}) < full
    assert estimate((2048, 2048), history=50, **{**KW, "deepest": "relu3_1"}) < full


def test_estimate_is_on_the_safe_side_of_measurements():
    # H100, Gatys evaluation only (no optimiser state): fp32 26 GB, bf16 21 GB at 4096x4096
    gatys = dict(KW, loads=Loads(hist=0, hist_widest=0, shift_widest=0), optimizer="adam")
    assert 26e9 <= estimate((4096, 4096), history=0, **{**gatys, "precision": "fp32"}) <= 1.5 * 26e9
    assert 21e9 <= estimate((4096, 4096), history=0, **gatys) <= 1.5 * 21e9


def test_plan_uses_savings_only_when_needed():
    roomy = plan((512, 512), budget=64 * GiB, history=50, **KW)
    assert not roomy.checkpoint and roomy.history == 50
    need_full = estimate((2048, 2048), history=50, **KW)
    tight = plan((2048, 2048), budget=need_full - 1, history=50, **KW)
    assert tight.peak_bytes <= need_full - 1
    assert tight.checkpoint or tight.history < 50
    assert tight.history >= MIN_HISTORY


def test_too_large_names_the_largest_size_that_fits():
    with pytest.raises(MemoryPlanError) as info:
        plan((8192, 6144), budget=8 * GiB, history=50, **KW)
    best = largest_side((8192, 6144), budget=8 * GiB, history=50, **KW)
    assert f"--size {best}" in str(info.value) and "\n" not in str(info.value)
    fits = plan((best, round(best * 0.75)), budget=8 * GiB, history=50, **KW)
    assert fits.peak_bytes <= 8 * GiB
    assert estimate((best + 8, round((best + 8) * 0.75)), history=MIN_HISTORY, checkpoint=True, **KW) > 8 * GiB
