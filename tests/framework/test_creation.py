"""Creation ops against torch: values, dtype inference and errors."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")


def _same(ours, ref):
    assert ours.shape == tuple(ref.shape)
    assert repr(ours.dtype) == str(ref.dtype)
    np.testing.assert_allclose(np.asarray(ours, dtype=np.float64), ref.double().numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("call", [
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor([1.0, 2]),
    lambda m: m.tensor([[True, False]]),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor([]),
    lambda m: m.tensor([1, 2], dtype=m.float16),
    lambda m: m.zeros(2, 3),
    lambda m: m.ones((2, 3), dtype=m.int32),
    lambda m: m.full((2, 2), 7),
    lambda m: m.full((2, 2), 7.5),
    lambda m: m.full((2,), True),
    lambda m: m.empty(3, 0).fill_(0) if m is torch else m.empty(3, 0),
    lambda m: m.arange(5),
    lambda m: m.arange(1, 4.0),
    lambda m: m.arange(0, 1, 0.1),
    lambda m: m.arange(10, 0, -3),
    lambda m: m.arange(0, 5, dtype=m.float64),
    lambda m: m.arange(1, 10, 2, dtype=m.bfloat16),
    lambda m: m.linspace(0, 1, 7),
    lambda m: m.linspace(-3, 10, 50, dtype=m.float64),
    lambda m: m.linspace(0, 10, 5, dtype=m.int64),
    lambda m: m.linspace(2, 2, 1),
    lambda m: m.logspace(0, 3, 4),
    lambda m: m.logspace(0, 4, 5, base=2.0),
    lambda m: m.eye(3),
    lambda m: m.eye(2, 4, dtype=m.int64),
    lambda m: m.zeros_like(m.ones(2, dtype=m.int8)),
    lambda m: m.ones_like(m.ones(2), dtype=m.float64),
    lambda m: m.full_like(m.ones(3, dtype=m.int32), 4.9),
    lambda m: m.empty_like(m.ones(2, 2)).zero_(),
    lambda m: m.scalar_tensor(4),
])
def test_creation_matches_torch(call):
    _same(call(framework), call(torch))


def test_arange_accepts_tensors_and_bools():
    assert framework.arange(framework.tensor(3)).dtype is framework.int64
    assert framework.arange(framework.tensor(3.0)).dtype is framework.float32
    assert framework.arange(True).tolist() == [0]


def test_creation_errors():
    with pytest.raises(RuntimeError, match="negative dimension -1"):
        framework.zeros(2, -1)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        framework.arange(0, 3, 0)
    with pytest.raises(RuntimeError, match="upper bound and larger bound inconsistent"):
        framework.arange(0, 3, -1)
    with pytest.raises(TypeError):
        framework.tensor(["a"])
    with pytest.raises(TypeError):
        framework.zeros(2.5)


def test_requires_grad_at_creation():
    t = framework.ones(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        framework.ones(2, dtype=framework.int64, requires_grad=True)


def test_tensor_copies_but_from_numpy_shares():
    a = np.zeros(2, dtype=np.float32)
    t, shared = framework.tensor(a), framework.from_numpy(a)
    a[0] = 1
    assert t.tolist() == [0.0, 0.0] and shared.tolist() == [1.0, 0.0]


def test_legacy_tensor_constructor():
    assert framework.Tensor(2, 3).shape == (2, 3) and framework.Tensor(2, 3).dtype is framework.float32
    assert framework.Tensor([1, 2]).dtype is framework.float32
