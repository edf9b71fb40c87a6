"""Reductions, statistics and cumulative ops: values, dtypes and errors against torch; float64 gradchecks."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4, 5))
NAN = float("nan")


def _convert(value, lib):
    if isinstance(value, np.ndarray):
        return lib.tensor(value)
    return value


def _call(lib, name, args, kwargs):
    fn = getattr(lib, name)
    return fn(*[_convert(a, lib) for a in args], **{k: _convert(v, lib) for k, v in kwargs.items()})


def assert_same(ours, ref):
    """Same structure (named fields too), dtype, shape and values (NaNs in the same places)."""
    if isinstance(ref, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(ref)
        for field in getattr(ref, "_fields", None) or [f for f in ("values", "indices", "min", "max")
                                                          if hasattr(ref, f)]:
            assert_same(getattr(ours, field), getattr(ref, field))
        for o, r in zip(ours, ref):
            assert_same(o, r)
        return
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6, equal_nan=True)


CASES = [
    ("sum", (np.array([True, False, True]),), {}),
    ("sum", (np.arange(6, dtype=np.int32).reshape(2, 3), 1), {"keepdim": True}),
    ("sum", (X, (0, 2)), {}),
    ("sum", (np.array(2.5), 0), {}),
    ("prod", (np.array(2.0), 0), {}),
    ("prod", (np.array([True, True]),), {}),
    ("prod", (X, 1, True), {}),
    ("mean", (X, (-1, 0)), {"keepdim": True}),
    ("nansum", (np.array([1.0, NAN, 2.0]),), {}),
    ("nanmean", (np.array([[1.0, NAN], [2.0, 4.0]]),), {"dim": 1}),
    ("amax", (np.array([[1.0, NAN], [2.0, 4.0]]), 1), {}),
    ("aminmax", (X,), {"dim": 1, "keepdim": True}),
    ("max", (np.array([1.0, NAN, 3.0]),), {}),
    ("max", (np.array([[1.0, NAN, 3.0], [3.0, 3.0, 1.0]]), 1), {}),
    ("min", (np.array([[4, 1, 1]]), 1, True), {}),
    ("max", (np.array(5.0), 0), {}),
    ("max", (np.array([1.0, 5.0]), np.array([3.0, 2.0])), {}),
    ("argmax", (np.array([[1, 3, 3], [2, 4, 0]]),), {}),
    ("argmax", (np.array([[1, 3, 3], [2, 4, 0]]),), {"keepdim": True}),
    ("argmin", (np.array([[1.0, NAN, -3.0]]), 1), {}),
    ("all", (np.array([1, 2], np.uint8),), {}),
    ("all", (np.array([[1.0, 0.0], [2.0, 3.0]]),), {"dim": ()}),
    ("any", (np.array([[0, 2], [0, 0]]), 1), {}),
    ("count_nonzero", (np.array([[0, 2], [0, 3]]),), {"dim": 0}),
    ("logsumexp", (np.array([[1.0, 2.0], [1000.0, 1000.0], [-np.inf, -np.inf]]), 1), {}),
    ("logsumexp", (np.array([[1, 2]]), 1), {}),
    ("var", (X, 1), {"correction": 2, "keepdim": True}),
    ("var", (X, (0, 2), False), {}),
    ("std", (X, True), {}),
    ("std_mean", (X,), {"dim": (0, 1)}),
    ("var_mean", (X, 2), {"unbiased": False}),
    ("norm", (X,), {}),
    ("norm", (X, 0), {}),
    ("norm", (X, float("inf"), 1), {}),
    ("norm", (X, -1.5, (0, 2), True), {}),
    ("norm", (X, "fro", (0, 1)), {}),
    ("median", (np.array([4.0, 1.0, 3.0, 2.0]),), {}),
    ("median", (np.array([[4.0, NAN, 3.0, NAN], [1.0, 2.0, 3.0, 4.0]]), 1), {}),
    ("nanmedian", (np.array([[4.0, NAN, 3.0, 1.0], [NAN, 2.0, NAN, 1.0]]), 1), {}),
    ("nanmedian", (np.array([4.0, NAN, 3.0, 1.0]),), {}),
    ("kthvalue", (np.array([[4.0, 1.0, 3.0, 2.0]]), 3), {}),
    ("mode", (np.array([[1.0, 2.0, 2.0, 1.0, 3.0], [5, 5, 1, 1, 1]]),), {}),
    ("cumsum", (np.array([True, True, False]), 0), {}),
    ("cumprod", (np.array([2, 3, 4], np.int32), 0), {}),
    ("cummax", (np.array([1.0, 3.0, 3.0, NAN, 2.0, NAN, 5.0]), 0), {}),
    ("cummin", (np.array([[3, 1, 1, 2]]), 1), {}),
    ("logcumsumexp", (np.array([[1.0, 1000.0, -3.0]]), 1), {}),
    ("diff", (np.array([True, False, False]),), {}),
    ("diff", (np.array([1, 2, 5]),), {"prepend": np.array([0]), "append": np.array([9, 9])}),
    ("diff", (X, 2, 1), {}),
    ("diff", (np.array([1.0, 2.0, 5.0]),), {"n": 5}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, args, kwargs):
    assert_same(_call(framework, name, args, kwargs), _call(torch, name, args, kwargs))


def test_method_forms_and_named_results():
    x = framework.tensor(X)
    values, indices = x.max(1)
    assert x.max(dim=1, keepdim=True).values.shape == (3, 1, 5)
    assert indices.dtype == framework.int64 and values.shape == (3, 5)
    assert "torch.return_types.max(" in repr(x.max(1))
    assert x.max(other=x * 0).shape == x.shape
    assert x.aminmax().min.item() == pytest.approx(X.min())
    assert isinstance(framework.var_mean(x, 1), tuple)


ERRORS = [
    ("max", (np.zeros(0),), {}, RuntimeError, "Expected reduction dim to be specified"),
    ("max", (np.zeros((2, 0)), 1), {}, IndexError, "max(): Expected reduction dim 1 to have non-zero size"),
    ("amin", (np.zeros((2, 0)), 1), {}, IndexError, "amin(): Expected reduction dim 1"),
    ("argmax", (np.zeros((2, 0)),), {}, IndexError, "argmax()"),
    ("aminmax", (np.zeros((2, 0)),), {}, RuntimeError, "aminmax(): cannot compute"),
    ("mean", (np.array([1, 2]),), {}, RuntimeError, "mean(): could not infer output dtype"),
    ("std", (np.array([1, 2]),), {}, RuntimeError, "std and var only support floating point"),
    ("sum", (X, (0, 0)), {}, RuntimeError, "appears multiple times"),
    ("sum", (X, 3), {}, IndexError, "Dimension out of range"),
    ("kthvalue", (X, 6), {}, RuntimeError, "kthvalue(): selected number k out of range"),
    ("logcumsumexp", (np.array([3, 1]), 0), {}, NotImplementedError, "logcumsumexp"),
    ("diff", (np.array(1.0),), {}, RuntimeError, "diff expects input to be at least one-dimensional"),
    ("diff", (np.array([1.0]), -1), {}, RuntimeError, "order must be non-negative"),
    ("norm", (np.array([3, 4]),), {}, RuntimeError, "Expected a floating point"),
    ("norm", (np.zeros(0), float("inf")), {}, RuntimeError, "inf norm on an empty tensor"),
]


@pytest.mark.parametrize("name,args,kwargs,exc,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, args, kwargs, exc, message):
    with pytest.raises(exc):
        _call(torch, name, args, kwargs)
    with pytest.raises(exc, match=message.replace("(", r"\(").replace(")", r"\)")):
        _call(framework, name, args, kwargs)


def test_nuclear_norm():
    ours = framework.norm(framework.tensor(X), "nuc", (0, 2), keepdim=True)
    assert_same(ours, torch.norm(torch.tensor(X), "nuc", (0, 2), keepdim=True))


WITH_ZEROS = np.array([[0.5, 0.0, 2.0, -1.5], [0.0, 1.5, 0.0, 2.0], [1.0, -2.0, 0.5, 3.0]])

GRADS = [  # name -> f(x); x is WITH_ZEROS-like when the case says so
    ("sum", lambda x: x.sum((0, 2)), X),
    ("mean", lambda x: x.mean(1, keepdim=True), X),
    ("prod", lambda x: x.prod(), X[0, :2]),
    ("prod zeros", lambda x: x.prod(1), WITH_ZEROS),
    ("prod 0-d", lambda x: x.prod(0), np.array(3.0)),
    ("nansum", lambda x: x.nansum(0), X),
    ("var", lambda x: x.var(1, correction=0.5), X),
    ("std", lambda x: x.std((0, 2), keepdim=True), X),
    ("std_mean", lambda x: framework.std_mean(x, 1), X),
    ("amax", lambda x: x.amax((0, 1)), X),
    ("max ties", lambda x: x.max(), np.array([1.0, 3.0, 3.0])),
    ("max dim", lambda x: x.max(1).values, X),
    ("min dim keep", lambda x: x.min(-1, keepdim=True).values, X),
    ("max binary", lambda x: framework.max(x, x[0]), X),
    ("aminmax", lambda x: framework.aminmax(x, dim=0), X),
    ("logsumexp", lambda x: x.logsumexp((0, 2)), X),
    ("norm 2", lambda x: x.norm(dim=1), X),
    ("norm 1.5", lambda x: x.norm(1.5, (0, 2)), X),
    ("norm -inf", lambda x: x.norm(float("-inf"), 2), X),
    ("median", lambda x: x.median(), X[0]),
    ("median dim", lambda x: x.median(1).values, X),
    ("kthvalue", lambda x: x.kthvalue(2, 0).values, X),
    ("cumsum", lambda x: x.cumsum(1), X),
    ("cumprod", lambda x: x.cumprod(1), X),
    ("cumprod zeros", lambda x: x.cumprod(1), WITH_ZEROS),
    ("cummax", lambda x: x.cummax(2).values, X),
    ("logcumsumexp", lambda x: x.logcumsumexp(0), X),
    ("diff", lambda x: x.diff(2, 1, prepend=x[:, :1] * 2), X),
]


@pytest.mark.parametrize("name,fn,data", GRADS, ids=[g[0] for g in GRADS])
def test_gradcheck(name, fn, data):
    assert gradcheck(fn, (framework.tensor(data, requires_grad=True),))


def test_gradients_of_ties_and_zeros_match_torch():
    data = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 0.0, 0.0, 5.0]])
    for fn in (lambda m, x: m.amax(x, 1), lambda m, x: m.max(x, 1).values, lambda m, x: m.prod(x, 1),
               lambda m, x: m.cumprod(x, 1), lambda m, x: m.std(x * 0, 1), lambda m, x: m.norm(x * 0, dim=1)):
        ours = framework.tensor(data, requires_grad=True)
        ref = torch.tensor(data, requires_grad=True)
        fn(framework, ours).sum().backward()
        fn(torch, ref).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), ref.grad.numpy())


@pytest.mark.parametrize("fn", [lambda x: x.prod(1), lambda x: x.cumprod(1), lambda x: x.logsumexp(1),
                                lambda x: x.std(0), lambda x: x.sort(1).values, lambda x: x.norm(3, 1)])
def test_double_backward(fn):
    assert gradgradcheck(fn, (framework.tensor(X[0] + 3, requires_grad=True),))


def test_out_argument():
    out = framework.empty(0)
    framework.sum(framework.tensor(X), 1, out=out)
    np.testing.assert_allclose(out.numpy(), X.sum(1))


@pytest.mark.parametrize("shape, dims, keepdim", [((16, 64, 512), (0, 1), True), ((16, 64, 512), (0,), False),
                                                  ((128, 40), (0,), True), ((8, 6, 100), (0, 1), False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_over_leading_axes_of_large_arrays(shape, dims, keepdim, dtype):
    # the one-pass column-sum path (contiguous, >= 4096 elements); bias gradients take it
    x = RNG.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:3] = [np.inf, -np.inf, np.nan]  # inf - inf and NaN propagate per column
    ours = framework.tensor(x).sum(dims, keepdim=keepdim)
    want = torch.tensor(x).sum(dims, keepdim=keepdim)
    assert ours.dtype == getattr(framework, dtype) and tuple(ours.shape) == tuple(want.shape)
    # float64 accumulators: our float32 sums are the exactly rounded ones, closer than torch's float32 partial sums
    exact = x.astype(np.float64).sum(dims, keepdims=keepdim)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(ours.numpy(), exact.astype(dtype), rtol=1e-6 if dtype == "float32" else 1e-12,
                                   atol=0, equal_nan=True)
    np.testing.assert_allclose(ours.numpy(), want.numpy(), rtol=1e-4, atol=1e-4, equal_nan=True)
    transposed = framework.tensor(x).transpose(0, -1)  # not contiguous: numpy's pairwise reduction
    np.testing.assert_allclose(transposed.sum((0,)).numpy(), torch.tensor(x).transpose(0, -1).sum((0,)).numpy(),
                               rtol=1e-4, atol=1e-4, equal_nan=True)
