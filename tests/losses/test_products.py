"""The copy-free Gram and shifted-Gram products against the plain crop-and-multiply definitions."""

from __future__ import annotations

import pytest
import torch

from fuchun.losses.products import as_rows, exact_rows, gram_rows, shifted_rows
from helpers import randn


def _feats(b, c, h, w, *, seed, dtype=torch.float64, channels_last=True):
    x = randn(b, c, h, w, seed=seed, dtype=torch.float64).to(dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _crop_products(f: torch.Tensor, deltas) -> torch.Tensor:
    """The definition: cropped views, flattened, multiplied (B, 2K, C, C)."""
    out = []
    for d in deltas:
        right, left = f[..., d:].flatten(2), f[..., :-d].flatten(2)
        below, above = f[..., d:, :].flatten(2), f[..., :-d, :].flatten(2)
        out += [right @ left.transpose(1, 2) / right.shape[-1], below @ above.transpose(1, 2) / below.shape[-1]]
    return torch.stack(out, 1)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 4, 6, 5), (1, 2, 9, 3)])
def test_shifted_rows_equal_crops(shape, channels_last):
    f = _feats(*shape, seed=1, channels_last=channels_last)
    deltas = [d for d in (1, 2, 4) if d < min(shape[-2:])]
    torch.testing.assert_close(shifted_rows(f, deltas), _crop_products(f, deltas))


def test_shifted_rows_gradient_equals_autograd_of_crops():
    f = _feats(2, 3, 6, 7, seed=2).requires_grad_(True)
    weights = torch.randn(2, 6, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    (g_fast,) = torch.autograd.grad((shifted_rows(f, [1, 2, 5]) * weights).sum(), f)
    (g_ref,) = torch.autograd.grad((_crop_products(f, [1, 2, 5]) * weights).sum(), f)
    torch.testing.assert_close(g_fast, g_ref)


def test_shifted_rows_gradcheck():
    f = _feats(1, 2, 5, 6, seed=4).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: shifted_rows(x, [1, 3]), (f,))


def test_gram_rows_gradcheck_and_value():
    f = _feats(2, 3, 4, 5, seed=5).requires_grad_(True)
    flat = f.flatten(2)
    torch.testing.assert_close(gram_rows(f), flat @ flat.transpose(1, 2) / 20)
    assert torch.autograd.gradcheck(gram_rows, (f,))


def test_bf16_statistics_are_float32_products_of_the_bf16_values():
    f = _feats(1, 8, 12, 16, seed=6, dtype=torch.bfloat16).requires_grad_(True)
    reference = f.detach().double()
    stats = shifted_rows(f, [2, 5])
    assert stats.dtype == torch.float32
    torch.testing.assert_close(stats.double(), _crop_products(reference, [2, 5]), rtol=1e-5, atol=1e-5)
    g = gram_rows(f)
    assert g.dtype == torch.float32
    torch.testing.assert_close(g.double(), gram_rows(reference), rtol=1e-5, atol=1e-5)
    # gradients come back in the features' dtype, close to the float64 ones
    weights = torch.randn(1, 4, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(7))
    (grad,) = torch.autograd.grad((stats * weights.float()).sum(), f)
    assert grad.dtype == torch.bfloat16
    r = reference.clone().requires_grad_(True)
    (grad_ref,) = torch.autograd.grad((_crop_products(r, [2, 5]) * weights).sum(), r)
    torch.testing.assert_close(grad.double(), grad_ref, rtol=2e-2, atol=2e-2 * float(grad_ref.abs().max()))


def test_shared_float32_rows_give_the_same_statistics():
    f = _feats(1, 4, 6, 6, seed=8, dtype=torch.bfloat16)
    x32 = exact_rows(as_rows(f))
    assert x32.dtype == torch.float32 and not x32.requires_grad
    torch.testing.assert_close(shifted_rows(f, [1, 2], x32), shifted_rows(f, [1, 2]))
    torch.testing.assert_close(gram_rows(f, x32), gram_rows(f))


def test_rows_of_a_channels_last_map_are_a_view():
    f = _feats(1, 4, 6, 5, seed=9, dtype=torch.float32)
    assert as_rows(f).data_ptr() == f.data_ptr()
    assert exact_rows(as_rows(f)).data_ptr() == f.data_ptr()  # float32 already: no copy


@pytest.mark.parametrize("delta", [0, 5, 7])
def test_shift_that_does_not_fit_is_refused(delta):
    with pytest.raises(ValueError, match="does not fit"):
        shifted_rows(_feats(1, 2, 5, 7, seed=10), [delta])


def test_lean_blocked_upcast_equals_the_shared_copy(monkeypatch):
    import fuchun.losses.products as products

    f = _feats(1, 4, 9, 7, seed=11, dtype=torch.bfloat16)
    x32 = exact_rows(as_rows(f))
    shared_s, shared_g = shifted_rows(f, [1, 3], x32), gram_rows(f, x32)
    monkeypatch.setattr(products, "BLOCK_ROWS", 5)  # 63 rows in blocks of 5
    torch.testing.assert_close(shifted_rows(f, [1, 3]), shared_s)
    torch.testing.assert_close(gram_rows(f), shared_g)
