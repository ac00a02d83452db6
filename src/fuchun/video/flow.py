"""Optical flow between two frames, warping along it, and where it can be trusted.

Flow comes from OpenCV's classical methods (no learned weights): DIS (Kroeger et al. 2016,
"Fast Optical Flow using Dense Inverse Search", arXiv 1603.03590) or Farneback (2003,
"Two-Frame Motion Estimation Based on Polynomial Expansion"). The consistency weight follows
Ruder, Dosovitskiy & Brox 2016 (arXiv 1604.08610, §3.1): a pixel is masked out where the
forward and backward flow disagree (a disocclusion) or at a motion boundary.

A flow ``b`` from frame i to frame j (OpenCV's convention) satisfies ``frame_i(x) ≈ frame_j(x + b(x))``:
warping frame j's picture along it gives a picture aligned with frame i.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from fuchun.controls.colour import luminance

# Ruder et al. §3.1: disocclusion where |f̃ + b|² > A (|f̃|² + |b|²) + B;
# motion boundary where |∇b_x|² + |∇b_y|² > C |b|² + D
DISOCCLUSION = (0.01, 0.5)
MOTION_BOUNDARY = (0.01, 0.002)


def _grey(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W) uint8 luma."""
    return (luminance(image)[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _dis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(a, b, None)


def _farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(
        a, b, None, pyr_scale=0.5, levels=4, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0
    )


FLOW_METHODS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {"dis": _dis, "farneback": _farneback}


def optical_flow(frame_from: torch.Tensor, frame_to: torch.Tensor, *, method: str) -> np.ndarray:
    """(H, W, 2) float32 flow in pixels with ``frame_from(x) ≈ frame_to(x + flow(x))``."""
    if method not in FLOW_METHODS:
        raise ValueError(f"unknown flow method {method!r}; valid: {', '.join(FLOW_METHODS)}")
    if frame_from.shape != frame_to.shape:
        raise ValueError(f"frames differ in size: {tuple(frame_from.shape)} and {tuple(frame_to.shape)}")
    return FLOW_METHODS[method](_grey(frame_from), _grey(frame_to)).astype(np.float32)


def _maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + flow[..., 0], ys + flow[..., 1]


def warp(image: torch.Tensor, flow: np.ndarray) -> torch.Tensor:
    """(3, H, W) ``image`` sampled at x + flow(x) (bilinear, edges repeated)."""
    map_x, map_y = _maps(flow)
    pixels = image.permute(1, 2, 0).contiguous().numpy().astype(np.float32)  # (3, H, W) -> (H, W, 3)
    out = cv2.remap(pixels, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out).permute(2, 0, 1).clamp(0, 1).contiguous()  # (H, W, 3) -> (3, H, W)


def consistency(forward: np.ndarray, backward: np.ndarray) -> torch.Tensor:
    """(1, H, W) weight: 1 where frame i's pixel is seen in frame j and not on a motion boundary, else 0.

    ``backward`` is the flow from frame i to frame j, ``forward`` from j to i (Ruder et al. §3.1).
    """
    map_x, map_y = _maps(backward)
    h, w = backward.shape[:2]
    there = cv2.remap(forward, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    a, b = DISOCCLUSION
    mismatch = ((there + backward) ** 2).sum(-1) > a * ((there**2).sum(-1) + (backward**2).sum(-1)) + b
    gy_x, gx_x = np.gradient(backward[..., 0])
    gy_y, gx_y = np.gradient(backward[..., 1])
    c, d = MOTION_BOUNDARY
    boundary = gx_x**2 + gy_x**2 + gx_y**2 + gy_y**2 > c * (backward**2).sum(-1) + d
    outside = (map_x < 0) | (map_x > w - 1) | (map_y < 0) | (map_y > h - 1)
    keep = ~(mismatch | boundary | outside)
    return torch.from_numpy(keep.astype(np.float32))[None]  # (H, W) -> (1, H, W)


def aligned_previous(
    previous: torch.Tensor, frame_before: torch.Tensor, frame: torch.Tensor, *, method: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(``previous`` warped onto ``frame``, the (1, H, W) consistency weight): the start image and
    target of the temporal loss, ``previous`` being the picture of ``frame_before``."""
    backward = optical_flow(frame, frame_before, method=method)
    forward = optical_flow(frame_before, frame, method=method)
    return warp(previous, backward), consistency(forward, backward)
