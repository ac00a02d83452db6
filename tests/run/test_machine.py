"""Device and precision choice (fuchun.run.machine), with the capability queries mocked."""

from __future__ import annotations

import pytest
import torch

from fuchun.config.options import Config
from fuchun.errors import DeviceError
from fuchun.objective import Objective
from fuchun.run import machine
from fuchun.run.machine import Machine, auto_precision, pick_machine

CUDA = torch.device("cuda")


@pytest.fixture
def gpu(monkeypatch):
    """A CUDA machine whose compute capability, ROCm flag and bf16 answers the test sets."""
    state = {"capability": (8, 0), "hip": None, "bf16_native": True}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: state["capability"])
    monkeypatch.setattr(torch.version, "hip", None)

    def is_bf16_supported(including_emulation: bool = True) -> bool:
        return True if including_emulation else state["bf16_native"]  # emulation always "works"

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)

    def set_hip(value):
        monkeypatch.setattr(torch.version, "hip", value)

    state["set_hip"] = set_hip
    return state


@pytest.mark.parametrize(
    "capability, expected", [((9, 0), "bf16"), ((8, 6), "bf16"), ((8, 0), "bf16"), ((7, 5), "fp16"), ((6, 1), "fp16")]
)
def test_auto_uses_bf16_only_from_compute_capability_8(gpu, capability, expected):
    gpu["capability"] = capability
    assert auto_precision(CUDA) == expected
    assert pick_machine("cuda", "auto") == Machine(CUDA, expected)


def test_auto_on_rocm_asks_for_native_bf16_without_emulation(gpu):
    gpu["set_hip"]("6.2")
    gpu["capability"] = (9, 4)  # ROCm reports its own numbers; they are not asked
    gpu["bf16_native"] = False
    assert auto_precision(CUDA) == "fp16"
    gpu["bf16_native"] = True
    assert auto_precision(CUDA) == "bf16"


@pytest.mark.parametrize(
    "avx512_bf16, amx, expected", [(False, False, "fp32"), (True, False, "bf16"), (False, True, "bf16")]
)
def test_auto_on_the_cpu_uses_bf16_only_with_native_instructions(monkeypatch, avx512_bf16, amx, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert pick_machine("cpu", "auto").precision == expected


def test_explicit_precisions_are_kept_and_unknown_ones_refused():
    assert pick_machine("cpu", "fp32").precision == "fp32"
    assert pick_machine("cpu", "bf16").precision == "bf16"
    assert pick_machine("cpu", "fp16").precision == "fp16"
    with pytest.raises(DeviceError, match="valid: auto, fp32, bf16, fp16"):
        pick_machine("cpu", "fp8")


def test_mps_refuses_bf16(monkeypatch):
    monkeypatch.setitem(machine._AVAILABLE, "mps", lambda: True)
    with pytest.raises(DeviceError, match="MPS"):
        pick_machine("mps", "bf16")
    assert pick_machine("mps", "auto").precision == "fp32"


def test_autocast_dtype_and_loss_scale_follow_the_precision():
    cpu = torch.device("cpu")
    assert Machine(cpu, "fp32").grad_scale == 1.0 and Machine(cpu, "bf16").grad_scale == 1.0
    assert Machine(cpu, "fp16").grad_scale == machine.FP16_GRAD_SCALE
    with Machine(cpu, "fp16").autocast():
        assert torch.get_autocast_dtype("cpu") == torch.float16
    with Machine(cpu, "bf16").autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_fp16_gradients_survive_with_the_loss_scale(tiny_net):
    # fp16 autocast on the CPU stands in for an older GPU: without the loss scale the relative
    # losses' gradients partly underflow in fp16; with it they follow the fp32 gradient
    g = torch.Generator().manual_seed(3)
    content, style = torch.rand(1, 3, 48, 48, generator=g), torch.rand(1, 3, 48, 48, generator=g)
    image = torch.rand(1, 3, 48, 48, generator=g)
    cfg = Config(preset="gatys", shifts={}).resolved()

    def gradient(precision: str, scale: float | None = None) -> torch.Tensor:
        m = Machine(torch.device("cpu"), precision)
        objective = Objective(
            tiny_net,
            cfg,
            content=content,
            styles=[style],
            autocast=m.autocast,
            grad_scale=m.grad_scale if scale is None else scale,
        )
        x = image.clone().requires_grad_(True)
        objective(x)[0].backward()
        return x.grad

    reference, scaled, unscaled = gradient("fp32"), gradient("fp16"), gradient("fp16", 1.0)
    cosine = torch.nn.functional.cosine_similarity(reference.flatten(), scaled.flatten(), dim=0)
    worse = torch.nn.functional.cosine_similarity(reference.flatten(), unscaled.flatten(), dim=0)
    assert cosine > 0.9999  # measured 0.99999
    assert 1 - worse > 100 * (1 - cosine)  # measured 0.986: small gradients lost to fp16
