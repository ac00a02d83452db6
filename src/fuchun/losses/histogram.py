"""Histogram loss, exact per channel (Risser, Wilmot & Barnes 2017, arXiv 1701.08893).

R(F) replaces every activation of a channel by the style activation of the same quantile;
the loss is mean((F − R(F))²) with R(F) detached, i.e. per channel the squared 1-D
Wasserstein-2 distance between the two activation distributions. The paper matches
256-bin histograms; we sort instead (exact, and torch.sort is fast on CPU and GPU), and
keep the binned variant (``bins=256``) for comparison.
"""

from __future__ import annotations

import torch
from torch import nn

from fuchun.losses._common import blend, exact, exact_dtype, flat, normalised_weights
from fuchun.losses.ranks import argsort_rows

INSIDE = 0.5  # with a mask, pixels of at least this weight are ranked as the region
CHANNEL_CHUNK = 16  # channels ranked at a time: bounds the int64 ranks and copies of a large map


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Row-wise linear interpolation: x (C, N), increasing xp and fp (C, K) -> (C, N)."""
    k = xp.shape[-1]
    hi = torch.searchsorted(xp.contiguous(), x.contiguous()).clamp(1, k - 1)
    lo = hi - 1
    x0, x1 = xp.gather(-1, lo), xp.gather(-1, hi)
    y0, y1 = fp.gather(-1, lo), fp.gather(-1, hi)
    t = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0, 1)
    return y0 + t * (y1 - y0)


def quantile_table(feats: list[torch.Tensor], weights: list[float] | None = None) -> torch.Tensor:
    """Sorted per-channel values (C, K) of the style distribution at levels (k + ½)/K.

    One style image gives its own sorted activations (K = H·W, exact). Several give their
    weighted mixture — each image's pixels carry mass w_i / M_i — resampled at K = max M_i.
    """
    flats = [flat(f)[0] for f in feats]  # each (C, M_i)
    w = normalised_weights(weights, len(flats))
    flats, w = [f for f, wi in zip(flats, w, strict=True) if wi > 0], [wi for wi in w if wi > 0]  # weight 0: no mass
    if len(flats) == 1:
        return flats[0].sort(-1).values
    values = torch.cat(flats, -1)  # (C, ΣM)
    mass = torch.cat([torch.full((f.shape[-1],), wi / f.shape[-1]) for f, wi in zip(flats, w, strict=True)])
    order = values.argsort(-1)
    sorted_values = values.gather(-1, order)
    m = mass.to(values.device)[order]  # (C, ΣM)
    centres = m.cumsum(-1) - m / 2
    k = max(f.shape[-1] for f in flats)
    levels = ((torch.arange(k, device=values.device) + 0.5) / k).expand(values.shape[0], k)
    return _interp(levels.contiguous(), centres, sorted_values)


def resample_table(table: torch.Tensor, m: int) -> torch.Tensor:
    """The table's values (C, K) at the M rank levels (r + ½)/M, linearly interpolated."""
    k = table.shape[-1]
    if m == k:
        return table
    # rank r sits at level (r + ½)/M, i.e. at fractional index (r + ½)·K/M − ½ of the table
    pos = ((torch.arange(m, device=table.device, dtype=torch.float64) + 0.5) * (k / m) - 0.5).clamp(0, k - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp_max(k - 1)
    t = (pos - lo).to(table.dtype)
    return table[:, lo] * (1 - t) + table[:, hi] * t  # (C, M), increasing in rank


def histogram_match(feats: torch.Tensor, table: torch.Tensor, *, ranked: torch.Tensor | None = None) -> torch.Tensor:
    """R(F): each channel of (B, C, H, W) ``feats`` given the values of ``table`` (C, K) at its ranks.

    ``ranked`` may pass ``resample_table(table, H·W)`` precomputed.
    """
    b, c, h, w = feats.shape
    values = ranked if ranked is not None else resample_table(table, h * w)
    return match_rows(channel_rows(feats), values).reshape(b, c, h, w)


def channel_rows(feats: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> contiguous (B, C, H·W) in the original dtype (bf16 sorts by radix)."""
    b, c, h, w = feats.shape
    return feats.reshape(b, c, h * w).contiguous()  # contiguous rows: sorting strided rows is slow


def match_rows(rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each row of contiguous (B, C, M) ``rows`` given ``values`` (C, M, increasing) at its ranks, in float32/64."""
    dtype = exact_dtype(rows.dtype)
    order = argsort_rows(rows)
    return torch.empty(rows.shape, dtype=dtype, device=rows.device).scatter_(
        -1, order, values.to(dtype).expand_as(order)
    )


def masked_histogram_match(
    feats: torch.Tensor, table: torch.Tensor, mask: torch.Tensor, *, ranked: dict[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """R(F) inside one region: the region's pixels given the table's values at their ranks.

    The histogram loss of Risser et al. 2017 (arXiv 1701.08893) restricted to a region, as
    Gatys et al. 2017 (arXiv 1611.07865) restrict the Gram matrix. ``mask`` (B, 1, H, W):
    pixels of weight ≥ ½ are the region and are ranked among themselves; pixels of smaller,
    nonzero weight (soft edges) go through the same monotone map by interpolation; pixels of
    weight 0 keep their value. Falls back to every nonzero pixel when none reaches ½.
    ``ranked`` caches ``resample_table(table, N)`` by region size N (a fixed mask: once).
    """
    ranked = {} if ranked is None else ranked
    b, c, h, w = feats.shape
    f = flat(feats)  # (B, C, M)
    weights = flat(mask)[:, 0].expand(b, -1)  # (B, M)
    out = f.detach().clone()
    for i in range(b):
        inside = (weights[i] >= INSIDE).nonzero().squeeze(1)
        if inside.numel() == 0:
            inside = (weights[i] > 0).nonzero().squeeze(1)
        if inside.numel() == 0:
            continue
        region = f[i][:, inside]  # (C, N)
        order = region.argsort(-1)
        n = inside.numel()
        if n not in ranked:
            ranked[n] = resample_table(table, n).to(f.dtype)
        values = ranked[n]  # (C, N), increasing
        out[i][:, inside] = torch.empty_like(region).scatter_(-1, order, values)
        soft = ((weights[i] > 0) & (weights[i] < INSIDE)).nonzero().squeeze(1)
        if soft.numel():
            out[i][:, soft] = _interp(f[i][:, soft].contiguous(), region.gather(-1, order), values)
    return out.reshape(b, c, h, w)


def _binned_cdf(f: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, bins: int) -> torch.Tensor:
    """Per-channel normalised cumulative histogram (C, bins + 1) of f (C, M) over [lo, hi]."""
    width = (hi - lo).clamp_min(1e-12)
    idx = ((f - lo) / width * bins).long().clamp(0, bins - 1)
    counts = torch.zeros(f.shape[0], bins, device=f.device).scatter_add_(-1, idx, torch.ones_like(f))
    cdf = torch.cat([counts.new_zeros(f.shape[0], 1), counts.cumsum(-1)], -1)
    return cdf / cdf[:, -1:]


def binned_match(feats: torch.Tensor, cdf: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """R(F) with 256-bin-style histograms, as in Risser et al.: map F through its own binned
    CDF, then through the inverse of the style's binned CDF (linear inside bins)."""
    b, c, h, w = feats.shape
    bins = cdf.shape[-1] - 1
    out = []
    for f in flat(feats):  # (C, M); the batch is tiny, channels are vectorised
        f_lo, f_hi = f.min(-1, keepdim=True).values, f.max(-1, keepdim=True).values
        own = _binned_cdf(f, f_lo, f_hi, bins)
        edges = f_lo + (f_hi - f_lo) * torch.linspace(0, 1, bins + 1, device=f.device)
        q = _interp(f, edges, own)  # quantile of each activation
        style_edges = lo + (hi - lo) * torch.linspace(0, 1, bins + 1, device=f.device)
        out.append(_interp(q, cdf, style_edges))
    return torch.stack(out).reshape(b, c, h, w)


class _SquaredDistance(torch.autograd.Function):
    """``total`` / denominator, where total = Σ (F − R)² for a detached R, was summed in
    float32 and ``diff`` = F − R is kept in F's dtype for the backward pass.

    The backward pass is 2·diff/denominator in F's dtype and layout: no float32 copy of F
    and no autograd graph over the (large, early-layer) difference. Under bf16 the kept
    difference is rounded to 8 bits — of the difference, not of F — and the gradient is
    bf16 anyway when it enters the convolutions' backward pass.
    """

    @staticmethod
    def forward(ctx, feats: torch.Tensor, diff: torch.Tensor, total: torch.Tensor, denominator: float) -> torch.Tensor:
        ctx.save_for_backward(diff)
        ctx.denominator, ctx.dtype = denominator, feats.dtype
        ctx.layout = (
            torch.channels_last
            if feats.dim() == 4 and not feats.is_contiguous() and feats.is_contiguous(memory_format=torch.channels_last)
            else torch.contiguous_format
        )
        return total / denominator

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (diff,) = ctx.saved_tensors
        # in the features' own layout, so it adds to the other terms' gradients without a transpose
        return (diff * (2 * grad / ctx.denominator)).to(dtype=ctx.dtype, memory_format=ctx.layout), None, None, None


class HistogramLoss(nn.Module):
    """mean((F − R(F).detach())²) / mean(S²) for one layer; exact, or binned with ``bins``.

    With ``mask`` (1, 1, H, W) at this layer's size, only the region is matched (see
    :func:`masked_histogram_match`) and the loss is Σ m (F − R)² / Σ m (per channel, averaged),
    a region's histogram loss in the way of Gatys et al. 2017's guided Gram (arXiv 1611.07865).
    The target stays the whole style image's distribution. Masks need the exact variant.
    """

    def __init__(
        self,
        feats: list[torch.Tensor],
        weights: list[float] | None = None,
        *,
        bins: int | None = None,
        mask: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if bins is not None and mask is not None:
            raise ValueError("the binned histogram loss (--hist-bins) cannot be used with masks; use the exact one")
        self.bins = bins
        self._ranked: torch.Tensor | None = None
        self._ranked_by_size: dict[int, torch.Tensor] = {}
        table = quantile_table(feats, weights)
        self.register_buffer("scale", table.pow(2).mean().clamp_min(1e-12))
        self.scale_value = float(self.scale)  # the same, on the host: no device sync per step
        self.register_buffer("mask", None if mask is None else exact(mask.detach()))
        if bins is None:
            self.register_buffer("table", table)
            return
        lo, hi = table[:, :1], table[:, -1:]
        cdfs = [_binned_cdf(flat(f)[0], lo, hi, bins) for f in feats]
        self.register_buffer("cdf", blend(cdfs, weights))
        self.register_buffer("lo", lo)
        self.register_buffer("hi", hi)

    def target(self, feats: torch.Tensor) -> torch.Tensor:
        """The detached histogram-matched features R(F)."""
        with torch.no_grad():
            if self.mask is not None:
                return masked_histogram_match(feats, self.table, self.mask, ranked=self._ranked_by_size)
            if self.bins is None:
                return histogram_match(feats, self.table, ranked=self._ranked_values(feats.shape[-2] * feats.shape[-1]))
            return binned_match(feats, self.cdf, self.lo, self.hi)

    def _exact_difference(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(F − R(F) in F's dtype, Σ (F − R)² in float32), CHANNEL_CHUNK channels at a time,
        each chunk from one contiguous copy of its rows."""
        b, c, h, w = feats.shape
        values = self._ranked_values(h * w)
        diff = torch.empty(b, c, h * w, dtype=feats.dtype, device=feats.device)
        total = torch.zeros((), dtype=exact_dtype(feats.dtype), device=feats.device)
        for i in range(0, c, CHANNEL_CHUNK):
            rows = channel_rows(feats[:, i : i + CHANNEL_CHUNK])
            chunk = torch.sub(rows, match_rows(rows, values[i : i + CHANNEL_CHUNK]))  # float32 (promoted)
            total += torch.vdot(chunk.view(-1), chunk.view(-1))
            diff[:, i : i + CHANNEL_CHUNK] = chunk
        return diff.view(b, c, h, w), total

    def _ranked_values(self, m: int) -> torch.Tensor:
        """The table resampled at M rank levels, cached (once per output size)."""
        if self._ranked is None or self._ranked.shape[-1] != m:
            self._ranked = resample_table(self.table, m)
        return self._ranked

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """The loss for (B, C, H, W) ``feats``."""
        if self.mask is None:
            with torch.no_grad():
                if self.bins is None:
                    diff, total = self._exact_difference(feats)
                else:
                    exact_diff = torch.sub(feats, self.target(feats))  # float32 (promoted inside the kernel)
                    diff, total = exact_diff.to(feats.dtype), exact_diff.pow(2).sum()
            return _SquaredDistance.apply(feats, diff, total, diff.numel() * self.scale_value)
        err = (exact(feats) - self.target(feats)).pow(2)  # (B, C, H, W)
        weighted = (err * self.mask).sum() / (self.mask.sum() * feats.shape[1]).clamp_min(1e-12)
        return weighted / self.scale
