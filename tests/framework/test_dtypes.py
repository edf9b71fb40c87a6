"""Dtypes: PyTorch's type promotion (tensors, 0-d tensors, weak Python scalars) and honest bfloat16."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import framework

torch = pytest.importorskip("torch")

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SCALARS = [True, 3, -2, 2.5]


def _pair(name, ndim):
    shape = (2,) * ndim
    ours = framework.ones(shape, dtype=getattr(framework, name))
    ref = torch.ones(shape, dtype=getattr(torch, name))
    return ours, ref


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(NAMES), st.sampled_from(NAMES), st.integers(0, 1), st.integers(0, 1))
def test_result_type_of_two_tensors_matches_torch(a, b, ndim_a, ndim_b):
    (x, tx), (y, ty) = _pair(a, ndim_a), _pair(b, ndim_b)
    expected = str(torch.result_type(tx, ty))
    assert repr(framework.result_type(x, y)) == expected
    assert repr(framework.promote_types(getattr(framework, a), getattr(framework, b))) == \
        str(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    if "bool" not in (a, b):  # bool - bool raises in both
        assert repr((x + y).dtype) == expected
        assert repr((x * y).dtype) == str((tx * ty).dtype)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(NAMES), st.sampled_from(SCALARS), st.integers(0, 1))
def test_weak_python_scalars_match_torch(name, scalar, ndim):
    x, tx = _pair(name, ndim)
    assert repr(framework.result_type(x, scalar)) == str(torch.result_type(tx, scalar))
    for op in ("mul", "add", "div", "maximum"):
        if op == "maximum":
            continue  # maximum takes no scalars in either
        ours = getattr(framework, op)(x, scalar)
        ref = getattr(torch, op)(tx, scalar)
        assert repr(ours.dtype) == str(ref.dtype), op
        assert np.allclose(np.asarray(ours, dtype=np.float64), ref.double().numpy())


def test_integer_division_and_comparisons():
    a = framework.tensor([7, -7])
    assert (a / 2).dtype is framework.float32
    assert (a // 2).tolist() == [3, -4]
    assert framework.div(a, 2, rounding_mode="trunc").tolist() == [3, -3]
    assert (a > 0).dtype is framework.bool
    assert (framework.tensor([1, 2], dtype=framework.uint8) + framework.tensor([1], dtype=framework.int8)).dtype \
        is framework.int16


def test_inplace_refuses_a_wider_result_kind():
    x = framework.tensor([1, 2])
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        x.add_(1.5)
    y = framework.tensor([1.0, 2.0])
    y.add_(framework.tensor([1, 1]))
    assert y.dtype is framework.float32 and y.tolist() == [2.0, 3.0]


def test_default_dtype_switch():
    try:
        framework.set_default_dtype(framework.float64)
        assert framework.tensor([1.0]).dtype is framework.float64
        assert (framework.tensor([1]) / 2).dtype is framework.float64
    finally:
        framework.set_default_dtype(framework.float32)
    with pytest.raises(TypeError):
        framework.set_default_dtype(framework.int32)


def test_bfloat16_is_stored_as_16_bits_and_rounds_like_torch():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.standard_normal(200).astype(np.float32) * 100,
                             np.array([1.00390625, 1.01171875, 3.0e38, -0.0, np.inf, -np.inf, 1e-40],
                                      dtype=np.float32)])
    ours = framework.tensor(values, dtype=framework.bfloat16)
    ref = torch.tensor(values, dtype=torch.bfloat16)
    assert ours._data.dtype == np.uint16 and ours.element_size() == 2
    np.testing.assert_array_equal(ours.float().numpy(), ref.float().numpy())
    # arithmetic rounds every result back to bfloat16
    np.testing.assert_array_equal((ours * ours + 1).float().numpy(), (ref * ref + 1).float().numpy())
    assert np.isnan(framework.tensor([float("nan")], dtype=framework.bfloat16).float().item())


def test_finfo_and_iinfo():
    assert framework.finfo(framework.bfloat16).eps == torch.finfo(torch.bfloat16).eps
    assert framework.finfo(framework.float32).max == torch.finfo(torch.float32).max
    assert framework.iinfo(framework.int16).min == -32768
    with pytest.raises(TypeError):
        framework.finfo(framework.int32)
