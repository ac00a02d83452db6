"""Copy-free Gram and shifted-Gram products with hand-written backward passes.

The statistics of Gatys et al. 2015 (arXiv 1508.06576) and of Berger & Memisevic 2016
(arXiv 1606.01286) are products FᵀF of a feature map with itself or with a shifted copy
of itself. Written naively (crop two views, flatten, multiply, let autograd go back) they
cost more than the network: every crop is copied, every flatten of a channels-last map is
copied, autograd pads every cropped gradient into a fresh full-size tensor, and a bf16 map
is upcast once per term.

Here a feature map is one (N, C) matrix X, pixels in row-major order, which is what a
channels-last (B, C, H, W) tensor already is in memory. Then

- a vertical shift by δ rows pairs X[δW:] with X[:N−δW]: two views, no copy;
- a horizontal shift by δ columns pairs X[δ:] with X[:N−δ], which also pairs each row's
  last δ pixels with the next row's first δ (wrap-around); those (H−1)·δ pairs are
  subtracted again with one small product, so the result is the cropped correlation;
- the backward pass adds each product's two gradients straight into slices of one
  gradient buffer with ``addmm_``, and subtracts the wrap-around pairs' share.

Precision: the statistics are computed in float32 from one float32 copy of the map
(``x32``, shared by every term of the layer; the same tensor when X is float32), so
under bf16 autocast they are the float32 products of the bf16 activations. Without
``x32`` (the lean mode of large pictures) each product upcasts its operands in blocks of
rows instead, which is slower but never holds a float32 copy of a whole map. The backward
products run in X's own dtype: under bf16 their result goes straight into the bf16
convolution backward, so float32 there would only cost time.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fuchun.losses._common import exact, exact_dtype


def as_rows(feats: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H·W, C): a view for a channels-last map, else one copy."""
    b, c, h, w = feats.shape
    return feats.permute(0, 2, 3, 1).reshape(b, h * w, c)


def exact_rows(rows: torch.Tensor) -> torch.Tensor:
    """A detached float32 (float64 stays) copy of ``rows`` for the statistics."""
    return exact(rows.detach())


BLOCK_ROWS = 1 << 16  # rows upcast at a time when there is no shared float32 copy


def _exact_product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """aᵀb for (n, C) row matrices, in float32 (float64 stays) whatever their dtype."""
    if a.dtype == exact_dtype(a.dtype):
        return a.T @ b
    out = a.new_zeros((a.shape[1], b.shape[1]), dtype=torch.float32)
    for i in range(0, a.shape[0], BLOCK_ROWS):
        out.addmm_(a[i : i + BLOCK_ROWS].T.float(), b[i : i + BLOCK_ROWS].float())
    return out


def _offsets(deltas: Sequence[int], h: int, w: int) -> list[tuple[int, int, int]]:
    """(flat offset, wrap width, pair count) of [x δ₁, y δ₁, x δ₂, y δ₂, ...]."""
    out = []
    for d in deltas:
        if not (0 < d < w and 0 < d < h):
            raise ValueError(f"shift {d} does not fit a {h}x{w} feature map")
        out.append((d, d, h * (w - d)))  # horizontal: flat offset δ, δ wrapped pixels per row
        out.append((d * w, 0, (h - d) * w))  # vertical: flat offset δW, nothing wraps
    return out


def _shifted_product(x: torch.Tensor, s: int, wrap: int, h: int, w: int) -> torch.Tensor:
    """Σ over valid pairs of x[p + s] x[p]ᵀ for one (N, C) map (right/below · left/above)."""
    n = x.shape[0]
    a = _exact_product(x[s:], x[: n - s])
    if wrap:
        grid = x.view(h, w, -1)
        a -= _exact_product(grid[1:, :wrap].reshape(-1, x.shape[1]), grid[:-1, w - wrap :].reshape(-1, x.shape[1]))
    return a


def _add_shifted_grad(grad: torch.Tensor, x: torch.Tensor, e: torch.Tensor, s: int, wrap: int, h: int, w: int) -> None:
    """grad += d(Σ ⟨e, x[p+s] x[p]ᵀ⟩)/dx for one (N, C) map, in place."""
    n, c = x.shape
    grad[s:].addmm_(x[: n - s], e.T)  # d/d right = left · eᵀ
    grad[: n - s].addmm_(x[s:], e)  # d/d left = right · e
    if wrap:
        grid, g = x.view(h, w, c), grad.view(h, w, c)
        right = grid[1:, :wrap].reshape(-1, c)
        left = grid[:-1, w - wrap :].reshape(-1, c)
        g[1:, :wrap] -= (left @ e.T).view(h - 1, wrap, c)
        g[:-1, w - wrap :] -= (right @ e).view(h - 1, wrap, c)


class _Gram(torch.autograd.Function):
    """G = XᵀX / N per batch item; backward dX = X (dG + dGᵀ) / N (one product)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, x32: torch.Tensor | None) -> torch.Tensor:  # x: (B, N, C)
        ctx.save_for_backward(x)
        source = x if x32 is None else x32
        return torch.stack([_exact_product(xb, xb) for xb in source]) / x.shape[1]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        e = ((grad + grad.transpose(1, 2)) / x.shape[1]).to(x.dtype)
        return x @ e, None


class _Shifted(torch.autograd.Function):
    """[A_x(δ₁), A_y(δ₁), A_x(δ₂), ...] (B, 2K, C, C), each divided by its pair count."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, x32: torch.Tensor | None, h: int, w: int, deltas: tuple[int, ...]
    ) -> torch.Tensor:
        offsets = _offsets(deltas, h, w)
        ctx.save_for_backward(x)
        ctx.geometry = (h, w, offsets)
        return torch.stack(
            [
                torch.stack([_shifted_product(xb, s, wrap, h, w) / count for s, wrap, count in offsets])
                for xb in (x if x32 is None else x32)
            ]
        )

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        h, w, offsets = ctx.geometry
        out = torch.zeros_like(x)
        for xb, gb, ob in zip(x, grad, out, strict=True):
            for (s, wrap, count), e in zip(offsets, gb, strict=True):
                _add_shifted_grad(ob, xb, (e / count).to(x.dtype), s, wrap, h, w)
        return out, None, None, None, None


def gram_rows(feats: torch.Tensor, x32: torch.Tensor | None = None) -> torch.Tensor:
    """G = FFᵀ / M in float32 for (B, C, H, W) features; ``x32`` may pass ``exact_rows(as_rows(feats))``."""
    return _Gram.apply(as_rows(feats), x32)


def shifted_rows(feats: torch.Tensor, deltas: Sequence[int], x32: torch.Tensor | None = None) -> torch.Tensor:
    """(B, 2K, C, C) float32: horizontal then vertical cross-correlation for each δ (cropped)."""
    h, w = feats.shape[-2:]
    return _Shifted.apply(as_rows(feats), x32, h, w, tuple(deltas))
