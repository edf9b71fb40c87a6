"""Views share memory and the version counter; in-place ops through views stay right under autograd."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")

VIEWS = [
    lambda t: t.view(4, 6),
    lambda t: t.reshape(-1),
    lambda t: t.flatten(1),
    lambda t: t.unflatten(2, (2, 2)),
    lambda t: t.transpose(0, 2),
    lambda t: t.permute(1, 2, 0),
    lambda t: t.unsqueeze(1).squeeze(1),
    lambda t: t.movedim(0, -1),
    lambda t: t.narrow(1, 1, 2),
    lambda t: t.select(2, 1),
    lambda t: t.diagonal(0, 1, 2),
    lambda t: t.diagonal(-1, 1, 2),
    lambda t: t.unfold(1, 2, 1),
    lambda t: t[0].t(),
    lambda t: t.unbind(1)[2],
    lambda t: t.as_strided((2, 2), (3, 1), 1),
]


@pytest.mark.parametrize("view", VIEWS)
def test_view_values_share_memory_and_match_torch(view):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    base = framework.tensor(data)
    v = view(base)
    ref = view(torch.tensor(data))
    assert v.shape == tuple(ref.shape) and v.tolist() == ref.tolist()
    assert np.shares_memory(v._data, base._data)
    if view is VIEWS[12]:
        return  # overlapping windows: in-place results depend on the write order
    v.mul_(2)  # writes land in the base, and everyone sees the same version
    tref = torch.tensor(data)
    view(tref).mul_(2)
    assert base.tolist() == tref.tolist()
    assert base._version == v._version == 1


@pytest.mark.parametrize("view", VIEWS)
def test_view_gradients_match_torch(view):
    data = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    x, tx = framework.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, tout = view(x), view(tx)
    cot = np.random.default_rng(1).standard_normal(tuple(tout.shape)).astype(np.float32)
    (out * framework.tensor(cot)).sum().backward()
    (tout * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_setitem_on_views_and_basic_inplace():
    base = framework.zeros(3, 4)
    row = base[1]
    row[2] = 5.0
    base[0] = 1.0
    base.select(1, 3).fill_(7.0)
    assert base.tolist() == [[1.0, 1.0, 1.0, 7.0], [0.0, 0.0, 5.0, 7.0], [0.0, 0.0, 0.0, 7.0]]
    assert row._version == base._version


def test_view_errors():
    with pytest.raises(RuntimeError, match="shape '\\[5, -1\\]' is invalid for input of size 12"):
        framework.zeros(3, 4).view(5, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
        framework.zeros(3, 4).t().view(12)
    assert framework.zeros(3, 4).t().reshape(12).shape == (12,)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        framework.zeros(4).view(-1, -1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        framework.zeros(3, 4).transpose(0, 2)
    with pytest.raises(RuntimeError, match="The expanded size of the tensor \\(3\\) must match the existing size"):
        framework.zeros(2, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        framework.zeros(2, 2).diagonal(0, 1, 1)


def test_expand_broadcast_and_squeeze_multiple():
    x = framework.zeros(3, 1)
    assert x.expand(2, 3, 4).shape == (2, 3, 4) and x.expand(-1, 5).stride() == (1, 0)
    assert framework.broadcast_to(x, (3, 2)).shape == (3, 2)
    a, b = framework.broadcast_tensors(framework.zeros(2, 1), framework.zeros(3))
    assert a.shape == b.shape == (2, 3)
    assert framework.zeros(1, 2, 1, 3).squeeze((0, 2)).shape == (2, 3)
    assert framework.tensor(1.0).transpose(0, -1).shape == ()


def test_inplace_through_a_view_rewrites_the_base_gradient():
    a = framework.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    b = a * 1
    v = b[1:3]
    v.mul_(10)
    assert b.grad_fn.name() == "CopySlices"
    b.sum().backward()
    assert a.grad.tolist() == [1.0, 10.0, 10.0, 1.0]


def test_inplace_with_a_grad_requiring_operand():
    a = framework.tensor([1.0, 2.0], requires_grad=True)
    w = framework.tensor(3.0, requires_grad=True)
    b = a * 1
    b.mul_(w)
    b.pow_(2)
    b.sum().backward()
    ta, tw = torch.tensor([1.0, 2.0], requires_grad=True), torch.tensor(3.0, requires_grad=True)
    tb = ta * 1
    tb.mul_(tw)
    tb.pow_(2)
    tb.sum().backward()
    assert a.grad.tolist() == ta.grad.tolist() and w.grad.item() == tw.grad.item()


def test_overwriting_a_saved_tensor_raises_torch_error():
    x = framework.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = x.exp()
    a.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been modified "
                                           "by an inplace operation"):
        a.sum().backward()


def test_leaf_inplace_errors():
    x = framework.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place "
                                           "operation"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad"):
        x[0].mul_(2)
    with framework.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0] and x.is_leaf


def test_copy_and_detach_share_version():
    x = framework.ones(3)
    d = x.detach()
    d.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0] and x._version == 1
    y = framework.zeros(2, 3)
    y.copy_(framework.tensor([1, 2, 3]))
    assert y.tolist() == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
