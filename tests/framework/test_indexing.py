"""Indexing, gather/scatter and mask ops against PyTorch, with gradchecks and PyTorch's errors."""
import numpy as np
import pytest

import framework as ft
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def pair(shape, dtype=np.float32, requires_grad=False):
    data = RNG.standard_normal(shape).astype(dtype)
    return (ft.tensor(data, requires_grad=requires_grad), torch.tensor(data, requires_grad=requires_grad))


def same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).split(".")[1]
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6, atol=1e-6)


KEYS = [
    1, -1, slice(1, 3), (slice(None), 2), (Ellipsis, 1), (None, 0, Ellipsis, None), (1, 2, 3),
    [0, 2], ([0, 2], [1, 3]), (slice(None), [0, 3], slice(1, 3)), ([0, 1], slice(None), [2, 3]),
    (slice(None), [0, 1], 2), ([[0], [2]], [1, 3]), (True,), (False,), (slice(None, None, 2), [1, 2]),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_matches_torch(key):
    ours, theirs = pair((3, 4, 5), requires_grad=True)
    out, ref = ours[key], theirs[key]
    same(out, ref)
    cot = np.random.default_rng(1).standard_normal(tuple(ref.shape)).astype(np.float32)
    (out * ft.tensor(cot)).sum().backward()
    (ref * torch.tensor(cot)).sum().backward()
    same(ours.grad, theirs.grad)


def test_getitem_tensor_and_mask_keys():
    ours, theirs = pair((4, 5))
    idx = np.array([[0, 3], [3, 3]])
    same(ours[ft.tensor(idx)], theirs[torch.tensor(idx)])
    mask = ours._data > 0
    same(ours[ft.tensor(mask)], theirs[torch.tensor(mask)])
    same(ours[:, ft.tensor(mask[0])], theirs[:, torch.tensor(mask[0])])


def test_basic_index_is_view_and_advanced_is_copy():
    x = ft.arange(12.).reshape(3, 4)
    row = x[1]
    row[0] = 100.0
    assert x[1, 0].item() == 100.0
    elem = x[2, 3]
    assert elem.shape == () and elem._base is not None
    picked = x[[0, 1]]
    picked[0, 0] = -5.0
    assert x[0, 0].item() == 0.0


@pytest.mark.parametrize("key, message, exc", [
    (5, "index 5 is out of bounds for dimension 0 with size 3", IndexError),
    ((slice(None), 4), "index 4 is out of bounds for dimension 1 with size 4", IndexError),
    ([0, 7], "index 7 is out of bounds for dimension 0 with size 3", IndexError),
    (slice(None, None, -1), "step must be greater than zero", ValueError),
    ((0, 0, 0), "too many indices for tensor of dimension 2", IndexError),
])
def test_getitem_errors(key, message, exc):
    with pytest.raises(exc, match=message.replace("[", r"\[")):
        ft.zeros(3, 4)[key]


def test_getitem_rejects_float_index_and_bad_mask():
    x = ft.zeros(3, 4)
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        x[ft.tensor([1.0])]
    with pytest.raises(IndexError, match="The shape of the mask"):
        x[ft.tensor([True, False])]


def test_setitem_values_and_broadcast():
    ours, theirs = ft.zeros(3, 4), torch.zeros(3, 4)
    for key, value in [(0, 1.0), ((slice(None), 1), [5.0, 6.0, 7.0]), (([0, 2], [3, 3]), 9.0),
                       (([0, 0], [1, 1]), [1.0, 2.0]), (Ellipsis, 0.5)]:
        ours[key] = ft.tensor(value) if isinstance(value, list) else value
        theirs[key] = torch.tensor(value) if isinstance(value, list) else value
        same(ours, theirs)
    ours[ours > 0.6] = 3
    theirs[theirs > 0.6] = 3
    same(ours, theirs)


def test_setitem_autograd():
    a_ft, a_t = pair((3, 4), requires_grad=True)
    v_ft, v_t = pair((2,), requires_grad=True)
    for a, v in ((a_ft, v_ft), (a_t, v_t)):
        y = a * 2
        y[[0, 1], [1, 2]] = v
        y[2] = v.sum()
        y[:, 0] = y[:, 3] + 3
        (y * y).sum().backward()
    same(a_ft.grad, a_t.grad)
    same(v_ft.grad, v_t.grad)


def test_setitem_on_leaf_requiring_grad_raises():
    x = ft.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0


def test_index_put_accumulate_repeats():
    ours, theirs = pair((5, 3))
    idx = np.array([1, 1, 4])
    vals = np.ones((3, 3), dtype=np.float32)
    for acc in (False, True):
        same(ours.index_put((ft.tensor(idx),), ft.tensor(vals), accumulate=acc),
             theirs.index_put((torch.tensor(idx),), torch.tensor(vals), accumulate=acc))
    with pytest.raises(RuntimeError, match="Index put requires the source and destination dtypes match"):
        ours.index_put((ft.tensor(idx),), ft.ones(3, 3, dtype=ft.float64))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        ours.index_put((ft.tensor(idx),), ft.ones(2))


def test_index_family_matches_torch():
    ours, theirs = pair((5, 4))
    idx = np.array([4, 0, 4])
    src = RNG.standard_normal((5, 3)).astype(np.float32)
    same(ft.index_select(ours, 0, ft.tensor(idx)), torch.index_select(theirs, 0, torch.tensor(idx)))
    same(ft.index_add(ours, 1, ft.tensor(idx[:3] % 4), ft.tensor(src), alpha=2),
         torch.index_add(theirs, 1, torch.tensor(idx[:3] % 4), torch.tensor(src), alpha=2))
    same(ft.index_fill(ours, 1, ft.tensor([0, 2]), -1.0), torch.index_fill(theirs, 1, torch.tensor([0, 2]), -1.0))
    same(ft.index_copy(ours, 1, ft.tensor([3, 0, 1]), ft.tensor(src)),
         torch.index_copy(theirs, 1, torch.tensor([3, 0, 1]), torch.tensor(src)))
    x = ours.clone()
    x.index_add_(0, ft.tensor([1]), ft.ones(1, 4))
    np.testing.assert_allclose(x.numpy()[1], ours.numpy()[1] + 1)


def test_gather_scatter_family_matches_torch():
    ours, theirs = pair((4, 5))
    idx = np.random.default_rng(2).integers(0, 4, (3, 5))
    src = RNG.standard_normal((4, 5)).astype(np.float32)
    i_ft, i_t, s_ft, s_t = ft.tensor(idx), torch.tensor(idx), ft.tensor(src), torch.tensor(src)
    same(ft.gather(ours, 0, i_ft), torch.gather(theirs, 0, i_t))
    same(ft.scatter_add(ours, 0, i_ft, s_ft), torch.scatter_add(theirs, 0, i_t, s_t))
    same(ft.scatter(ours, 0, i_ft[:1], s_ft), torch.scatter(theirs, 0, i_t[:1], s_t))
    same(ft.scatter(ours, 0, i_ft, 2.5), torch.scatter(theirs, 0, i_t, 2.5))
    with pytest.warns(UserWarning):
        expected = torch.scatter(theirs, 0, i_t, s_t, reduce="multiply")
    same(ft.scatter(ours, 0, i_ft, s_ft, reduce="multiply"), expected)
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            same(ft.scatter_reduce(ours, 0, i_ft, s_ft, reduce, include_self=include_self),
                 torch.scatter_reduce(theirs, 0, i_t, s_t, reduce, include_self=include_self))
    along = np.ascontiguousarray(idx.T[:4] - 2)
    same(ft.take_along_dim(ours, ft.tensor(along), 1), torch.take_along_dim(theirs, torch.tensor(along), 1))
    same(ft.take_along_dim(ours, ft.tensor(along[:1]), 1), torch.take_along_dim(theirs, torch.tensor(along[:1]), 1))
    same(ft.take(ours, ft.tensor([[0, -1], [7, 3]])), torch.take(theirs, torch.tensor([[0, -1], [7, 3]])))


def test_integer_scatter_reduce_mean_floors():
    x = ft.tensor([10, 10, 10])
    out = ft.scatter_reduce(x, 0, ft.tensor([0, 0, 1]), ft.tensor([1, 2, 4]), "mean")
    assert out.tolist() == [4, 7, 10]


@pytest.mark.parametrize("call, message", [
    (lambda x: ft.gather(x, 0, ft.tensor([[1.0]])), "gather\\(\\): Expected dtype int32/int64 for index"),
    (lambda x: ft.gather(x, 0, ft.tensor([[9]])), "index 9 is out of bounds for dimension 0 with size 4"),
    (lambda x: ft.gather(x, 0, ft.tensor([1])), "Index tensor must have the same number of dimensions"),
    (lambda x: ft.scatter(x, 0, ft.tensor([[1]]), x.double()), "Expected self.dtype to be equal to src.dtype"),
    (lambda x: ft.scatter_reduce(x, 0, ft.tensor([[1]]), x, "foo"), "reduce argument must be either sum"),
    (lambda x: ft.index_add(x, 0, ft.tensor([1]), ft.ones(2, 5)), "Number of indices \\(1\\) should be equal"),
    (lambda x: x.masked_fill(ft.ones(4, 5), 1.0), "masked_fill_ only supports boolean masks"),
    (lambda x: x.masked_fill(x > 0, ft.ones(2)), "only supports a 0-dimensional value tensor"),
    (lambda x: x.masked_scatter(x > -10, ft.ones(3)), "Number of elements of source < number of ones in mask"),
])
def test_index_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(ft.zeros(4, 5))


def test_index_select_errors():
    x = ft.zeros(4, 5)
    with pytest.raises(IndexError, match="index out of range in self"):
        ft.index_select(x, 0, ft.tensor([4]))
    with pytest.raises(IndexError, match="Index is supposed to be a vector"):
        ft.index_select(x, 0, ft.tensor([[1]]))


def test_masks_match_torch():
    ours, theirs = pair((4, 5))
    mask = ours._data > 0
    m_ft, m_t = ft.tensor(mask), torch.tensor(mask)
    same(ours.masked_fill(m_ft, 3.0), theirs.masked_fill(m_t, 3.0))
    same(ours.masked_fill(m_ft[0], ft.tensor(1.0)), theirs.masked_fill(m_t[0], torch.tensor(1.0)))
    same(ft.masked_select(ours, m_ft[0]), torch.masked_select(theirs, m_t[0]))
    src = RNG.standard_normal(20).astype(np.float32)
    same(ours.masked_scatter(m_ft, ft.tensor(src)), theirs.masked_scatter(m_t, torch.tensor(src)))
    x = ours.clone()
    x.masked_fill_(m_ft, 0.0)
    assert (x.numpy()[mask] == 0).all()


def test_nonzero_and_argwhere():
    data = np.array([[0, 1.5, 0], [2, 0, 3]], dtype=np.float32)
    same(ft.nonzero(ft.tensor(data)), torch.nonzero(torch.tensor(data)))
    same(ft.argwhere(ft.tensor(data)), torch.argwhere(torch.tensor(data)))
    for a, b in zip(ft.tensor(data).nonzero(as_tuple=True), torch.tensor(data).nonzero(as_tuple=True)):
        same(a, b)
    assert ft.nonzero(ft.tensor(2.0)).shape == (1, 0)


def _f64(*shape):
    return ft.tensor(RNG.standard_normal(shape), dtype=ft.float64, requires_grad=True)


@pytest.mark.parametrize("fn", [
    lambda x, s: x[[0, 2, 0], 1:] * s.sum(),
    lambda x, s: ft.gather(x, 1, ft.tensor([[0, 0], [2, 1], [1, 1]])) + s[:1, :2],
    lambda x, s: ft.scatter_add(x, 0, ft.tensor([[0, 0, 2]]), s),
    lambda x, s: ft.scatter_reduce(x, 0, ft.tensor([[0, 0, 2], [0, 1, 1]]), s, "amax"),
    lambda x, s: ft.scatter_reduce(x, 0, ft.tensor([[0, 0, 2], [0, 1, 1]]), s, "prod", include_self=False),
    lambda x, s: ft.scatter_reduce(x, 0, ft.tensor([[0, 0, 2], [0, 0, 1]]), s, "mean"),
    lambda x, s: x.index_put((ft.tensor([1, 2]),), s[0, :], accumulate=False),
    lambda x, s: ft.masked_scatter(x, x > 0, s),
    lambda x, s: ft.index_add(x, 1, ft.tensor([2, 2]), s.t()),
], ids=["getitem", "gather", "scatter_add", "amax", "prod", "mean", "index_put", "masked_scatter", "index_add"])
def test_gradcheck(fn):
    x, s = _f64(3, 3), _f64(2, 3)
    assert gradcheck(fn, (x, s))
    assert gradgradcheck(fn, (x, s))


def test_scatter_prod_gradient_with_zeros_matches_torch():
    data = np.array([[0.0, 2.0, 3.0], [4.0, 0.0, 1.5]], dtype=np.float32)
    src = np.array([[1.5, 0.0, 2.0], [0.0, 3.0, 0.5]], dtype=np.float32)
    idx = np.array([[0, 0, 1], [0, 1, 1]])
    grads = []
    for lib in (ft, torch):
        x = lib.tensor(data, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        lib.scatter_reduce(x, 0, lib.tensor(idx), s, "prod").sum().backward()
        grads.append((x.grad, s.grad))
    same(grads[0][0], grads[1][0])
    same(grads[0][1], grads[1][1])


@pytest.mark.filterwarnings(r"ignore:index_reduce\(\) is in beta")
def test_put_index_reduce_and_scatter_copies():
    ours, theirs = pair((3, 4))
    idx = np.array([5, -1, 5])
    src = RNG.standard_normal(3).astype(np.float32)
    for acc in (False, True):
        same(ft.put(ours, ft.tensor(idx), ft.tensor(src), acc), torch.put(theirs, torch.tensor(idx),
                                                                           torch.tensor(src), acc))
    rows = RNG.standard_normal((5, 4)).astype(np.float32)
    for reduce in ("prod", "mean", "amax", "amin"):
        same(ft.index_reduce(ours, 0, ft.tensor([0, 2, 2, 1, 0]), ft.tensor(rows), reduce, include_self=False),
             torch.index_reduce(theirs, 0, torch.tensor([0, 2, 2, 1, 0]), torch.tensor(rows), reduce,
                                include_self=False))
    same(ft.select_scatter(ours, ft.ones(3), 1, -1), torch.select_scatter(theirs, torch.ones(3), 1, -1))
    same(ft.slice_scatter(ours, ft.ones(3, 2), 1, 0, 4, 2), torch.slice_scatter(theirs, torch.ones(3, 2), 1, 0, 4, 2))
    same(ft.diagonal_scatter(ours, ft.ones(3), 1), torch.diagonal_scatter(theirs, torch.ones(3), 1))
    same(ft.nonzero_static(ft.tensor([0.0, 1.0, 2.0]), size=4), torch.nonzero_static(torch.tensor([0.0, 1.0, 2.0]),
                                                                                      size=4))
    with pytest.raises(IndexError, match="out of range: tried to access index 12 on a tensor of 12 elements"):
        ft.put(ours, ft.tensor([12]), ft.ones(1))
