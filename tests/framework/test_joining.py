"""Joining, splitting, repetition, flips, triangles, diagonals and meshgrid against PyTorch."""
import numpy as np
import pytest

import framework as ft
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def pair(shape, dtype=np.float32):
    data = RNG.standard_normal(shape).astype(dtype)
    return ft.tensor(data), torch.tensor(data)


def same(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-6)


def test_cat_stack_family():
    (a, ta), (b, tb), (c, tc) = pair((2, 3)), pair((4, 3)), pair((2, 3))
    same(ft.cat([a, b]), torch.cat([ta, tb]))
    same(ft.cat((a, c), dim=-1), torch.cat((ta, tc), dim=-1))
    same(ft.cat([a, ft.ones(0)]), torch.cat([ta, torch.ones(0)]))
    same(ft.cat([a, c.double()]), torch.cat([ta, tc.double()]))
    same(ft.concat([a, c]), torch.concat([ta, tc]))
    same(ft.stack([a, c], 1), torch.stack([ta, tc], 1))
    for name in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        same(getattr(ft, name)([a, c]), getattr(torch, name)([ta, tc]))
    (v, tv), (w, tw) = pair((3,)), pair((3,))
    for name in ("hstack", "vstack", "dstack", "column_stack"):
        same(getattr(ft, name)([v, w]), getattr(torch, name)([tv, tw]))
    out = ft.empty(4, 3)
    ft.cat([a, c], out=out)
    same(out, torch.cat([ta, tc]))


@pytest.mark.parametrize("call, message", [
    (lambda: ft.cat([ft.zeros(2, 3), ft.zeros(2, 4)]), "Sizes of tensors must match except in dimension 0"),
    (lambda: ft.cat([ft.zeros(2, 3), ft.zeros(3)]), "Tensors must have same number of dimensions: got 2 and 1"),
    (lambda: ft.cat([ft.zeros(()), ft.zeros(())]), "zero-dimensional tensor \\(at position 0\\) cannot be"),
    (lambda: ft.stack([ft.zeros(2), ft.zeros(3)]), "stack expects each tensor to be equal size"),
    (lambda: ft.split(ft.zeros(5), [2, 2]), "split_with_sizes expects split_sizes to sum exactly to 5"),
    (lambda: ft.chunk(ft.zeros(5), 0), "chunk expects `chunks` to be greater than 0"),
    (lambda: ft.zeros(2, 3).repeat(2), "Number of dimensions of repeat dims can not be smaller"),
    (lambda: ft.roll(ft.zeros(2, 3), (1, 2)), "shifts and dimensions must align"),
    (lambda: ft.diag(ft.zeros(2, 2, 2)), "diag\\(\\): Supports 1D or 2D tensors. Got 3D"),
    (lambda: ft.tril(ft.zeros(3)), "tril: input tensor must have at least 2 dimensions"),
    (lambda: ft.trace(ft.zeros(3)), "trace: expected a matrix"),
    (lambda: ft.repeat_interleave(ft.zeros(2), ft.tensor([1, -1])), "repeats can not be negative"),
])
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_cat_of_nothing_is_value_error():
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        ft.cat([])


def test_splits_are_views_matching_torch():
    x, tx = pair((7, 4))
    same(ft.split(x, 3), torch.split(tx, 3))
    same(x.split([2, 5]), tx.split([2, 5]))
    same(ft.split_with_sizes(x, [1, 2, 1], 1), torch.split_with_sizes(tx, [1, 2, 1], 1))
    same(ft.chunk(x, 3), torch.chunk(tx, 3))
    same(ft.chunk(x, 5, 1), torch.chunk(tx, 5, 1))
    same(ft.tensor_split(x, 3), torch.tensor_split(tx, 3))
    same(ft.tensor_split(x, [1, 5, 3, 9]), torch.tensor_split(tx, [1, 5, 3, 9]))
    same(ft.tensor_split(x, ft.tensor([2]), 1), torch.tensor_split(tx, torch.tensor([2]), 1))
    same(ft.hsplit(x, 2), torch.hsplit(tx, 2))
    piece = ft.split(x, 3)[1]
    piece[0, 0] = 42.0
    assert x[3, 0].item() == 42.0


def test_repetition():
    x, tx = pair((2, 3))
    same(x.repeat(2, 1, 3), tx.repeat(2, 1, 3))
    same(ft.tile(x, (2,)), torch.tile(tx, (2,)))
    same(ft.repeat_interleave(x, 2), torch.repeat_interleave(tx, 2))
    same(ft.repeat_interleave(x, ft.tensor([1, 0, 3]), dim=1), torch.repeat_interleave(tx, torch.tensor([1, 0, 3]),
                                                                                        dim=1))
    same(ft.repeat_interleave(ft.tensor([2, 0, 1])), torch.repeat_interleave(torch.tensor([2, 0, 1])))


def test_rearranging_and_triangles():
    x, tx = pair((3, 4, 5))
    same(ft.flip(x, (0, 2)), torch.flip(tx, (0, 2)))
    same(x.flip(-1), tx.flip(-1))
    same(ft.fliplr(x), torch.fliplr(tx))
    same(ft.flipud(x), torch.flipud(tx))
    same(ft.roll(x, 2), torch.roll(tx, 2))
    same(ft.roll(x, (1, -2), (0, 2)), torch.roll(tx, (1, -2), (0, 2)))
    for k in range(-1, 4):
        same(ft.rot90(x, k, (2, 0)), torch.rot90(tx, k, (2, 0)))
    for d in (-2, 0, 1, 7):
        same(ft.tril(x, d), torch.tril(tx, d))
        same(ft.triu(x, d), torch.triu(tx, d))
    same(ft.tril_indices(3, 4, 1), torch.tril_indices(3, 4, 1))
    same(ft.triu_indices(4, 3, -1), torch.triu_indices(4, 3, -1))
    y = x.clone()
    y.triu_(1)
    same(y, torch.triu(tx, 1))


def test_diagonals_and_meshgrid():
    v, tv = pair((3,))
    m, tm = pair((3, 4))
    b, tb = pair((2, 3))
    for k in (-2, 0, 1):
        same(ft.diag(v, k), torch.diag(tv, k))
        same(ft.diag(m, k), torch.diag(tm, k))
        same(ft.diag_embed(b, k), torch.diag_embed(tb, k))
        same(ft.diag_embed(b, k, 0, 2), torch.diag_embed(tb, k, 0, 2))
        same(ft.diagflat(b, k), torch.diagflat(tb, k))
    same(ft.trace(m), torch.trace(tm))
    same(ft.trace(ft.arange(6).reshape(2, 3)), torch.trace(torch.arange(6).reshape(2, 3)))
    for indexing in ("ij", "xy"):
        same(ft.meshgrid(v, b[0], ft.tensor(1.0), indexing=indexing),
             torch.meshgrid(tv, tb[0], torch.tensor(1.0), indexing=indexing))
    with pytest.warns(UserWarning, match="indexing argument"):
        ft.meshgrid(v, v)


def _f64(*shape):
    return ft.tensor(RNG.standard_normal(shape), dtype=ft.float64, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x, y: ft.cat([x, y * y], 1),
    lambda x, y: ft.stack([x, y], 2),
    lambda x, y: ft.split(x * y, [1, 2], 1)[1] * 2,
    lambda x, y: ft.chunk(x, 2)[0] + y[:1],
    lambda x, y: x.repeat(2, 1, 2) * 3,
    lambda x, y: ft.repeat_interleave(x, ft.tensor([2, 0]), dim=0) * y[:1],
    lambda x, y: ft.flip(x, (0, 1)) * y,
    lambda x, y: ft.roll(x, (1, 2), (0, 1)) * y,
    lambda x, y: ft.rot90(x * y),
    lambda x, y: ft.tril(x * y, 1),
    lambda x, y: ft.diag_embed(x, 1) * 2,
    lambda x, y: ft.diag(x * y, -1) + ft.trace(x[:, :2]),
    lambda x, y: ft.meshgrid(x[0], y[1], indexing="xy")[1] * 2,
], ids=["cat", "stack", "split", "chunk", "repeat", "repeat_interleave", "flip", "roll", "rot90", "tril",
        "diag_embed", "diag", "meshgrid"])
def test_gradcheck(fn):
    x, y = _f64(2, 3), _f64(2, 3)
    assert gradcheck(fn, (x, y))
    assert gradgradcheck(fn, (x, y))
