"""Pooling against PyTorch: values, indices, float64 gradcheck (and double backward), error messages."""
import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(shape, seed):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return framework.tensor(a), torch.tensor(a)


def _leaf(shape, seed):
    return framework.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


POOLS = [
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)),
    ("max_pool2d", (2, 3, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True)),
    ("max_pool2d", (3, 5, 5), dict(kernel_size=2)),
    ("max_pool3d", (1, 2, 4, 5, 4), dict(kernel_size=2, stride=1, dilation=(1, 2, 1))),
    ("avg_pool1d", (2, 3, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d", (2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", (2, 3, 7, 6), dict(kernel_size=(2, 3), padding=1, divisor_override=5)),
    ("avg_pool3d", (1, 2, 4, 5, 4), dict(kernel_size=2, stride=1, count_include_pad=False, padding=1)),
    ("adaptive_avg_pool1d", (2, 3, 7), dict(output_size=3)),
    ("adaptive_avg_pool2d", (2, 3, 7, 5), dict(output_size=(3, None))),
    ("adaptive_max_pool2d", (2, 3, 7, 5), dict(output_size=(4, 3))),
    ("lp_pool2d", (1, 2, 6, 6), dict(norm_type=2, kernel_size=2)),
]


@pytest.mark.parametrize("name,shape,kwargs", POOLS)
def test_pool_matches_torch(name, shape, kwargs):
    x, tx = _pair(shape, 0)
    got, want = getattr(F, name)(x, **kwargs), getattr(TF, name)(tx, **kwargs)
    assert got.shape == tuple(want.shape) and got.dtype == framework.float32
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [
    ("max_pool2d", dict(kernel_size=2, stride=1, padding=1)),
    ("max_pool1d", dict(kernel_size=3, dilation=2, ceil_mode=True)),
    ("adaptive_max_pool2d", dict(output_size=(2, 3))),
    ("adaptive_max_pool1d", dict(output_size=2)),
])
def test_max_pool_indices_match_torch(name, kwargs):
    shape = (2, 3, 5, 6) if "2d" in name else (2, 3, 9)
    x, tx = _pair(shape, 1)
    values, indices = getattr(F, name)(x, return_indices=True, **kwargs)
    tvalues, tindices = getattr(TF, name)(tx, return_indices=True, **kwargs)
    assert indices.dtype == framework.int64
    np.testing.assert_array_equal(indices.numpy(), tindices.numpy())
    np.testing.assert_array_equal(values.numpy(), tvalues.numpy())


def test_max_unpool_inverts_max_pool():
    x, tx = _pair((1, 2, 4, 4), 2)
    values, indices = F.max_pool2d(x, 2, return_indices=True)
    tvalues, tindices = TF.max_pool2d(tx, 2, return_indices=True)
    np.testing.assert_array_equal(F.max_unpool2d(values, indices, 2).numpy(),
                                  TF.max_unpool2d(tvalues, tindices, 2).numpy())


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 2, stride=1, padding=1),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
    lambda x: F.adaptive_max_pool2d(x, 2),
])
def test_pool_gradients_twice(fn):
    x = _leaf((1, 2, 4, 5), 3)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_pool_errors_as_torch():
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size, but got pad=2, "
                                           "kernel_size=3 and dilation=1"):
        F.max_pool2d(framework.zeros(1, 4, 5, 5), 3, padding=2)
    with pytest.raises(RuntimeError, match=r"Given input size: \(4x2x2\). Calculated output size: \(4x0x0\). "
                                           "Output size is too small"):
        F.avg_pool2d(framework.zeros(1, 4, 2, 2), 3)
    with pytest.raises(RuntimeError, match="Expected 3D or 4D"):
        F.max_pool2d(framework.zeros(5, 5), 2)


@pytest.mark.parametrize("numba", [True, False])
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_nan_and_inf_ties_match_torch(nd, numba, monkeypatch):
    from kernels.cpu import conv as kernels
    monkeypatch.setattr(kernels, "NUMBA", numba)
    rng = np.random.default_rng(nd)
    values = np.array([np.nan, -np.inf, 0.0, 1.0], dtype=np.float32)
    a = rng.choice(values, size=(2, 3) + (5,) * nd, p=[0.25, 0.45, 0.15, 0.15])
    f, tf = getattr(F, f"max_pool{nd}d"), getattr(TF, f"max_pool{nd}d")
    for k, s, p, d in [(3, 1, 1, 1), (2, 2, 1, 1), (3, 2, 1, 2)]:
        v, i = f(framework.tensor(a), k, s, p, d, ceil_mode=True, return_indices=True)
        tv, ti = tf(torch.tensor(a), k, s, p, d, ceil_mode=True, return_indices=True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())

