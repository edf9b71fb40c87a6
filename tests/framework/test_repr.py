"""repr(tensor) must read exactly as PyTorch prints it."""
import numpy as np
import pytest

import framework

torch = pytest.importorskip("torch")

VALUES = [
    [1, 2, 3], [1.0, 2.0, 3.0], [1.5, -2.25, 3.0], [1e-5, 1.0], [1e10, 1.0], [123456789.0, 1.5],
    [0.1, 0.2, 100000.0], [1e-8, 2e-9], [float("nan"), 1.0, float("inf"), -float("inf")], [True, False],
    3.5, 7, True, -0.5, float("nan"), 1e-5, [], [[1.0, 2.0], [3.0, 4.0]], [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
    [-1.0, -2.5], [0.0, -0.0], [1e-20, 1e20], [100.0, 1000.0], [[1.5, 2e6], [-3.0, 4.0]], [1.23456789, 12345.678],
    [1e8, 1.0], [1, -1000000], [12345678.9, 1.0], [[]], list(range(30)), [i * 0.37 for i in range(40)],
]
DTYPES = [None, "float64", "float16", "bfloat16", "int32", "uint8", "int8"]


def _cases():
    for value in VALUES:
        for dtype in DTYPES:
            flat = np.ravel(np.array(value, dtype=object)).tolist() if value != [] else []
            is_float = any(isinstance(v, float) for v in flat)
            if dtype in ("int32", "uint8", "int8") and (is_float or any(isinstance(v, bool) for v in flat)):
                continue
            if dtype == "uint8" and any(v < 0 for v in flat) or dtype == "int8" and any(abs(v) > 127 for v in flat):
                continue
            yield value, dtype


@pytest.mark.parametrize("value,dtype", list(_cases()))
def test_repr_matches_torch(value, dtype):
    ours = framework.tensor(value, dtype=getattr(framework, dtype) if dtype else None)
    ref = torch.tensor(value, dtype=getattr(torch, dtype) if dtype else None)
    assert repr(ours) == repr(ref)
    assert str(ours) == str(ref)


@pytest.mark.parametrize("make", [
    lambda m: m.arange(2000.0) / 7,
    lambda m: m.arange(3000).reshape(30, 100),
    lambda m: m.arange(1001.0),
    lambda m: m.linspace(0, 1e6, 1500),
    lambda m: (m.arange(4000.0) - 2000).reshape(10, 20, 20) / 3,
    lambda m: m.arange(10.0, dtype=m.float64) * 1000.123,
    lambda m: m.arange(25.0).reshape(5, 5) / 3,
    lambda m: m.zeros(2, 0),
    lambda m: m.zeros(0, dtype=m.int32),
    lambda m: m.zeros(3, 0, dtype=m.float64),
    lambda m: m.ones(3, dtype=m.int32).reshape(3, 1, 1),
])
def test_large_and_shaped_repr_matches_torch(make):
    assert repr(make(framework)) == repr(make(torch))


def test_autograd_suffixes_match_torch():
    def build(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        d = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        wide = m.arange(8.0, dtype=m.float64).requires_grad_() * 123.456
        return [x, x * 2, x.sum(), d * 2, wide, x.exp()]
    for ours, ref in zip(build(framework), build(torch)):
        assert repr(ours) == repr(ref)


def test_printoptions():
    try:
        framework.set_printoptions(precision=2)
        torch.set_printoptions(precision=2)
        assert repr(framework.tensor([1.23456, 2.5])) == repr(torch.tensor([1.23456, 2.5]))
        framework.set_printoptions(sci_mode=True)
        torch.set_printoptions(sci_mode=True)
        assert repr(framework.tensor([1.5, 2.5])) == repr(torch.tensor([1.5, 2.5]))
    finally:
        framework.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
