"""Hypothesis properties: broadcasting, reduction shapes, view round trips, gradient shapes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import framework

FAST = settings(max_examples=60, deadline=None)
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "atan2", "hypot"]


@st.composite
def broadcastable_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4))
    a = draw(hnp.arrays(np.float64, shapes.input_shapes[0], elements=st.floats(-3, 3)))
    b = draw(hnp.arrays(np.float64, shapes.input_shapes[1], elements=st.floats(0.5, 3)))
    return a, b, shapes.result_shape


@FAST
@given(broadcastable_pair(), st.sampled_from(BINARY))
def test_binary_ops_broadcast_like_numpy_and_reduce_gradients(pair, name):
    a, b, shape = pair
    ta = framework.tensor(a, requires_grad=True)
    tb = framework.tensor(b, requires_grad=True)
    out = getattr(framework, name)(ta, tb)
    assert tuple(out.shape) == shape
    expected = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "maximum": np.maximum,
                "minimum": np.minimum, "atan2": np.arctan2, "hypot": np.hypot}[name](a, b)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    assert ta.grad.shape == ta.shape and tb.grad.shape == tb.shape


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_non_broadcastable_shapes_raise_runtime_error_naming_sizes(s1, s2):
    try:
        np.broadcast_shapes(s1, s2)
        return
    except ValueError:
        pass
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(\d+\) must match the size of tensor b \(\d+\)"):
        framework.ones(s1) + framework.ones(s2)


@FAST
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), elements=st.floats(-5, 5)),
       st.data(), st.booleans())
def test_reductions_match_numpy_shapes_and_values(array, data, keepdim):
    dims = data.draw(st.lists(st.integers(0, array.ndim - 1), unique=True, min_size=1, max_size=array.ndim))
    t = framework.tensor(array, requires_grad=True)
    for name, ref in (("sum", np.sum), ("mean", np.mean), ("amax", np.amax)):
        if name == "amax" and array.size == 0:
            continue
        out = getattr(t, name)(tuple(dims), keepdim=keepdim)
        want = ref(array, axis=tuple(dims), keepdims=keepdim)
        assert tuple(out.shape) == want.shape
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    t.sum(tuple(dims), keepdim=keepdim).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(array))


@FAST
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), elements=st.floats(-5, 5, width=32)),
       st.data())
def test_permute_reshape_round_trip_shares_memory(array, data):
    t = framework.from_numpy(array.copy())
    order = data.draw(st.permutations(range(array.ndim)))
    p = t.permute(*order)
    np.testing.assert_array_equal(p.numpy(), np.transpose(array, order))
    back = p.permute(*np.argsort(order).tolist())
    np.testing.assert_array_equal(back.numpy(), array)
    back.add_(1)  # writes through both views into t's memory
    np.testing.assert_array_equal(t.numpy(), array + 1)
    assert t.reshape(-1).shape == (array.size,)


@FAST
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.booleans())
def test_matmul_batched_shapes_follow_numpy(batch, n, k, m, broadcast_batch):
    a = np.random.default_rng(0).standard_normal((batch, n, k))
    b = np.random.default_rng(1).standard_normal((1 if broadcast_batch else batch, k, m))
    out = framework.matmul(framework.tensor(a), framework.tensor(b))
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
