"""Elementwise ops: values against torch, float64 gradcheck/gradgradcheck, dtype rules and errors."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1)
X = RNG.uniform(-2, 2, size=(3, 4))
POS = RNG.uniform(0.2, 3, size=(3, 4))
UNIT = RNG.uniform(-0.9, 0.9, size=(3, 4))

UNARY = {  # name -> domain
    "abs": X, "neg": X, "exp": X, "exp2": X, "expm1": X, "log": POS, "log2": POS, "log10": POS, "log1p": POS,
    "sqrt": POS, "rsqrt": POS, "square": X, "reciprocal": POS, "sin": X, "cos": X, "tan": UNIT, "asin": UNIT,
    "acos": UNIT, "atan": X, "sinh": X, "cosh": X, "tanh": X, "asinh": X, "acosh": POS + 1, "atanh": UNIT,
    "sigmoid": X, "logit": UNIT / 2 + 0.5, "erf": X, "erfc": X, "erfinv": UNIT, "lgamma": POS, "digamma": POS,
    "floor": X, "ceil": X, "round": X, "trunc": X, "frac": X, "sign": X, "sinc": X, "deg2rad": X, "rad2deg": X,
}
SMOOTH = [n for n in UNARY if n not in ("floor", "ceil", "round", "trunc", "sign", "frac", "abs")]


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unary_matches_torch(name, dtype):
    data = UNARY[name].astype(dtype)
    ours = getattr(framework, name)(framework.tensor(data))
    ref = getattr(torch, name)(torch.tensor(data))
    assert repr(ours.dtype) == str(ref.dtype)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=2e-6 if dtype == "float32" else 1e-10, atol=1e-6)


@pytest.mark.parametrize("name", SMOOTH)
def test_unary_gradients(name):
    x = framework.tensor(UNARY[name][:2, :2].copy(), dtype=framework.float64, requires_grad=True)
    fn = getattr(framework, name)
    assert gradcheck(fn, (x,))
    if name not in ("erfinv",):
        assert gradgradcheck(fn, (x,))


def test_special_functions_at_edges_match_torch():
    edge = np.array([0.0, -0.0, -1.0, -2.5, 1e-8, 0.5, 30.0, np.inf, -np.inf, np.nan, -3.3])
    for name in ("digamma", "lgamma", "erf", "erfc"):
        np.testing.assert_allclose(getattr(framework, name)(framework.tensor(edge)).numpy(),
                                   getattr(torch, name)(torch.tensor(edge)).numpy(), rtol=1e-8)
    for n in (1, 2, 3):
        keep = (edge > 0) & np.isfinite(edge)  # torch gives nan at +inf for n >= 2; the limit is 0
        np.testing.assert_allclose(framework.polygamma(n, framework.tensor(edge[keep])).numpy(),
                                   torch.polygamma(n, torch.tensor(edge[keep])).numpy(), rtol=1e-7)
    y = np.array([-1.0, -0.999, 0.0, 0.3, 0.9999, 1.0, 1.5])
    np.testing.assert_allclose(framework.erfinv(framework.tensor(y)).numpy(), torch.erfinv(torch.tensor(y)).numpy(),
                               rtol=1e-10)


def test_polygamma_gradient():
    x = framework.tensor([0.7, 2.3], dtype=framework.float64, requires_grad=True)
    assert gradcheck(lambda t: framework.polygamma(2, t), (x,))
    assert framework.tensor([1.5]).polygamma(1).shape == (1,)


BINARY = ["add", "sub", "mul", "div", "pow", "atan2", "hypot", "logaddexp", "xlogy", "maximum", "minimum",
          "remainder", "fmod", "copysign", "fmax", "fmin"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_torch_with_broadcasting(name):
    a = RNG.uniform(0.5, 2, size=(3, 1, 4)).astype(np.float32)
    b = RNG.uniform(0.5, 2, size=(2, 1)).astype(np.float32)
    ours = getattr(framework, name)(framework.tensor(a), framework.tensor(b))
    ref = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert ours.shape == tuple(ref.shape) and repr(ours.dtype) == str(ref.dtype)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "atan2", "hypot", "logaddexp", "xlogy"])
def test_binary_gradients_through_broadcasting(name):
    a = framework.tensor(RNG.uniform(0.5, 2, size=(2, 3)), requires_grad=True)
    b = framework.tensor(RNG.uniform(0.5, 2, size=(3,)), requires_grad=True)
    fn = getattr(framework, name)
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


def test_integer_semantics_match_torch():
    a, b = [7, -7, 5, -5], [2, 2, -3, -3]
    for name in ("remainder", "fmod", "floor_divide", "mul", "sub", "bitwise_and", "bitwise_xor"):
        ours = getattr(framework, name)(framework.tensor(a), framework.tensor(b))
        assert ours.tolist() == getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist(), name
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        framework.tensor([2]) ** framework.tensor([-1])
    assert (framework.tensor([1, 2], dtype=framework.uint8) - 3).tolist() == [254, 255]


def test_reflected_operators():
    x = framework.tensor([1.0, 2.0, 4.0])
    t = torch.tensor([1.0, 2.0, 4.0])
    for ours, ref in [(2 - x, 2 - t), (2 / x, 2 / t), (2 ** x, 2 ** t), (3 * x, 3 * t), (1 + x, 1 + t),
                      (x.__rdiv__(2), t.__rdiv__(2)), (5 % x, 5 % t), (7 // x, 7 // t)]:
        assert ours.tolist() == ref.tolist()


def test_comparisons_and_logic():
    a, b = [1.0, float("nan"), 3.0], [1.0, float("nan"), 2.0]
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
        ours = getattr(framework, name)(framework.tensor(a), framework.tensor(b))
        assert ours.dtype is framework.bool
        assert ours.tolist() == getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist(), name
    assert (~framework.tensor([True, False])).tolist() == [False, True]
    assert framework.logical_not(framework.tensor([0, 3])).tolist() == [True, False]


def test_isclose_allclose_equal():
    a = framework.tensor([1.0, float("inf"), float("nan"), 2.0])
    b = framework.tensor([1.0 + 1e-7, float("inf"), float("nan"), 2.1])
    assert framework.isclose(a, b).tolist() == [True, True, False, False]
    assert framework.isclose(a, b, equal_nan=True).tolist() == [True, True, True, False]
    assert framework.allclose(a[:2], b[:2]) is True
    assert framework.allclose(a, b, atol=0.2, equal_nan=True) is True
    assert framework.equal(framework.tensor([1, 2]), framework.tensor([1.0, 2.0])) is True
    assert framework.equal(framework.tensor([1, 2]), framework.tensor([1])) is False
    u = framework.tensor([5, 7], dtype=framework.uint8)
    assert framework.isclose(u, framework.tensor([7, 5], dtype=framework.uint8), atol=2).tolist() == [True, True]
    with pytest.raises(RuntimeError, match="Long did not match Float"):
        framework.isclose(framework.tensor([1]), framework.tensor([1.0]))
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        framework.isclose(a, b, rtol=-1)


def test_where_function_and_method():
    cond = framework.tensor([True, False, True])
    x, y = framework.tensor([1.0, 2.0, 3.0], requires_grad=True), framework.tensor([9.0, 8.0, 7.0])
    assert framework.where(cond, x, y).tolist() == [1.0, 8.0, 3.0]
    assert x.where(cond, y).tolist() == [1.0, 8.0, 3.0]
    assert framework.where(cond, x, 0.0).tolist() == [1.0, 0.0, 3.0]
    framework.where(cond, x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        framework.where(framework.tensor([1.0]), x, y)


def test_clamp_variants_and_gradient():
    x = framework.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    assert framework.clamp(x, -1, 1).tolist() == [-1.0, 0.5, 1.0]
    assert x.clamp_min(0).tolist() == [0.0, 0.5, 3.0] and x.clamp_max(0).tolist() == [-2.0, 0.0, 0.0]
    assert framework.clamp(x, framework.tensor([0.0, 0.0, 0.0]), 2.0).tolist() == [0.0, 0.5, 2.0]
    assert framework.clamp(framework.tensor([1, 5]), max=2.5).dtype is framework.float32
    framework.clamp(x, -1, 1).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max' must not be None"):
        framework.clamp(x)


def test_out_argument():
    out = framework.empty(3)
    result = framework.add(framework.ones(3), 1, out=out)
    assert result is out and out.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
        framework.exp(framework.ones(2), out=framework.zeros(2, dtype=framework.int64))


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="The size of tensor a \\(3\\) must match the size of tensor b \\(2\\)"):
        framework.ones(3) + framework.ones(2)
    with pytest.raises(TypeError):
        framework.add(framework.ones(2), "x")
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        framework.tensor([True]) - framework.tensor([False])
    with pytest.raises(RuntimeError, match="polygamma\\(n, x\\) does not support negative n"):
        framework.polygamma(-1, framework.ones(1))


def test_addcmul_addcdiv_match_torch_and_differentiate():
    a, b, c = (RNG.uniform(0.5, 2, size=s) for s in [(2, 3), (3,), (2, 1)])
    for name in ("addcmul", "addcdiv"):
        ours = getattr(framework, name)(*(framework.tensor(v) for v in (a, b, c)), value=0.5)
        ref = getattr(torch, name)(*(torch.tensor(v) for v in (a, b, c)), value=0.5)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
        args = tuple(framework.tensor(v, requires_grad=True) for v in (a, b, c))
        assert gradcheck(lambda x, y, z: getattr(framework, name)(x, y, z, value=2.0), args)
    with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
        framework.addcdiv(framework.ones(1), framework.tensor([1]), framework.tensor([2]))
