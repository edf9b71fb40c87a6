"""Bulk random fills (the chunked, vectorised kernels): bit-identical to PyTorch at sizes >= 10^6,
across chunk and twist boundaries, for the fills parameter initialisation uses."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framework
import framework.random as fr
from framework.nn import init
from kernels.cpu import mt19937 as mt

torch = pytest.importorskip("torch")

BIG = (1 << 20) + 5          # > 10^6, 32 whole chunks plus a partial one, not a multiple of 16
FLOATS = ["float32", "float64", "float16", "bfloat16"]


def raw(t):
    """Storage bits of a framework or torch tensor, flat in logical order."""
    if isinstance(t, torch.Tensor):
        t = t.detach().contiguous()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy().view(np.uint16).reshape(-1)
        return t.numpy().reshape(-1)
    return np.ascontiguousarray(t._data).reshape(-1)


def assert_bits(a, b):
    x, y = raw(a), raw(b)
    assert x.shape == y.shape and x.itemsize == y.itemsize
    same = x.view(np.uint8).reshape(x.size, -1) == y.view(np.uint8).reshape(y.size, -1)
    bad = np.flatnonzero(~same.all(axis=1))
    assert bad.size == 0, f"{bad.size} of {x.size} differ, first at {bad[:5]}: {x[bad[:5]]} vs {y[bad[:5]]}"


def seed_both(s):
    torch.manual_seed(s)
    fr.manual_seed(s)


def assert_states_equal():
    assert np.array_equal(fr.get_rng_state()._data, torch.get_rng_state().numpy())


@pytest.mark.parametrize("dtype", FLOATS)
def test_large_normal_and_uniform_inplace(dtype):
    seed_both(7)
    a = framework.empty(BIG, dtype=getattr(framework, dtype))
    b = torch.empty(BIG, dtype=getattr(torch, dtype))
    assert_bits(a.normal_(0.25, 1.5), b.normal_(0.25, 1.5))
    assert_bits(a.uniform_(-0.3, 0.7), b.uniform_(-0.3, 0.7))
    assert_bits(a.uniform_(), b.uniform_())
    assert_states_equal()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_factories(dtype):
    seed_both(11)
    shape = (1024, 1031)
    fd, td = getattr(framework, dtype), getattr(torch, dtype)
    assert_bits(framework.randn(*shape, dtype=fd), torch.randn(*shape, dtype=td))
    assert_bits(framework.rand(*shape, dtype=fd), torch.rand(*shape, dtype=td))
    assert_bits(framework.normal(2.0, 0.5, size=shape, dtype=fd), torch.normal(2.0, 0.5, size=shape, dtype=td))
    assert_states_equal()


def test_large_non_contiguous_normal_uses_the_scalar_path():
    seed_both(3)
    a = framework.empty(1024, 1024).t()
    b = torch.empty(1024, 1024).t()
    assert_bits(a.normal_(), b.normal_())
    assert_states_equal()


def test_linear_default_init_and_init_functions():
    seed_both(0)
    fl, tl = framework.nn.Linear(1024, 1024), torch.nn.Linear(1024, 1024)
    assert_bits(fl.weight, tl.weight)          # kaiming_uniform_(a=sqrt(5))
    assert_bits(fl.bias, tl.bias)
    w, v = framework.empty(1024, 1000), torch.empty(1024, 1000)
    for name, kwargs in [("xavier_uniform_", {"gain": 0.5}), ("xavier_normal_", {}),
                         ("kaiming_uniform_", {"a": math.sqrt(5)}),
                         ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"}),
                         ("normal_", {"std": 0.02})]:
        assert_bits(getattr(init, name)(w, **kwargs), getattr(torch.nn.init, name)(v, **kwargs))
    assert_states_equal()


def test_out_argument_fills_in_place_and_checks_the_array():
    e, f = mt.MT19937(5), mt.MT19937(5)
    out = np.empty(1000, dtype=np.float32)
    assert mt.normal(e, 1000, "float32", 1.0, 2.0, out=out) is out
    assert np.array_equal(out, mt.normal(f, 1000, "float32", 1.0, 2.0))
    bits = np.empty(1000, dtype=np.uint16)
    assert mt.uniform(e, 1000, "bfloat16", -1.0, 1.0, out=bits) is bits
    assert np.array_equal(bits, mt.uniform(f, 1000, "bfloat16", -1.0, 1.0))
    with pytest.raises(ValueError, match="contiguous 1-D float64"):
        mt.uniform(e, 1000, "float64", out=out)
    with pytest.raises(ValueError, match="of 999 elements"):
        mt.normal(e, 999, "float32", out=out)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 64 - 1), cuts=st.lists(st.integers(0, 3000), max_size=6))
def test_draws_split_anywhere_continue_one_stream(seed, cuts):
    # words, float32 and float64 uniforms drawn piecewise (across twists and chunks) equal one bulk draw
    total = sum(cuts)
    whole, parts = mt.MT19937(seed), mt.MT19937(seed)
    assert np.array_equal(whole.random(total), np.concatenate([parts.random(c) for c in cuts] + [[]]))
    assert np.array_equal(mt.uniform(whole, total, "float64", -2.0, 3.0),
                          np.concatenate([mt.uniform(parts, c, "float64", -2.0, 3.0) for c in cuts] + [[]]))
    assert np.array_equal(mt.uniform(whole, total, "float32"),
                          np.concatenate([mt.uniform(parts, c, "float32") for c in cuts] + [[]]).astype(np.float32))
    assert np.array_equal(whole.get_state(), parts.get_state())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2 ** 32 - 1), n=st.integers(16, 5 * mt._CHUNK // 4),
       dtype=st.sampled_from(FLOATS))
def test_normal_any_size_matches_torch(seed, n, dtype):
    # sizes around chunk and 16-block boundaries, through the tensor API
    seed_both(seed)
    assert_bits(framework.randn(n, dtype=getattr(framework, dtype)), torch.randn(n, dtype=getattr(torch, dtype)))
    assert_states_equal()
