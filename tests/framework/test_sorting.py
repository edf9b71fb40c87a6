"""Sorting and searching: sort, argsort, msort, topk, unique(_consecutive), searchsorted, bucketize."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4, 5))
NAN = float("nan")


def _call(lib, name, args, kwargs):
    conv = lambda v: lib.tensor(v) if isinstance(v, np.ndarray) else v  # noqa: E731
    return getattr(lib, name)(*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})


def assert_same(ours, ref):
    if isinstance(ref, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(ref)
        if hasattr(ref, "values"):
            assert_same(ours.values, ref.values)
            assert_same(ours.indices, ref.indices)
        for o, r in zip(ours, ref):
            assert_same(o, r)
        return
    assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(ref.shape)
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), equal_nan=True)


CASES = [
    ("sort", (X, 1), {}),
    ("sort", (X,), {"dim": 0, "descending": True}),
    ("sort", (np.array([1, 3, 1, 3, 2]),), {"descending": True, "stable": True}),
    ("sort", (np.array([1.0, NAN, 2.0, 5.0]),), {"descending": True}),
    ("sort", (np.array([1.0, NAN, 2.0, 5.0]),), {}),
    ("sort", (np.array([True, False, True]),), {"stable": True}),
    ("sort", (np.array(5.0),), {}),
    ("sort", (np.zeros(0),), {}),
    ("argsort", (np.array([[3, 1, 2]]),), {"dim": 1, "descending": True}),
    ("msort", (np.array([[2, 3], [1, 0]]),), {}),
    ("topk", (X, 2), {}),
    ("topk", (X, 3, 1, False), {}),
    ("topk", (np.array([1.0, 2.0, 5.0, NAN]), 2), {}),
    ("topk", (np.array(5.0), 1), {}),
    ("unique", (np.array([3, 1, 2, 3, 1]),), {"return_inverse": True, "return_counts": True}),
    ("unique", (np.array([[3.0, 1.0], [2.0, 3.0]]),), {"return_inverse": True}),
    ("unique", (np.array([[3, 1], [2, 3], [3, 1]]),), {"dim": 0, "return_inverse": True, "return_counts": True}),
    ("unique", (np.array(3.0),), {"return_inverse": True}),
    ("unique", (np.array([NAN, 1.0, NAN, 1.0]),), {"return_inverse": True, "return_counts": True}),
    ("unique_consecutive", (np.array([1, 1, 2, 2, 3, 1, 1, 2]),), {"return_inverse": True, "return_counts": True}),
    ("unique_consecutive", (np.array([[1, 1, 2], [1, 1, 3]]),), {"dim": 1, "return_counts": True}),
    ("searchsorted", (np.array([1.0, 2.0, 5.0]), np.array([[2.0, 6.0], [0.0, 1.5]])), {}),
    ("searchsorted", (np.array([1.0, 2.0, 5.0]), np.array([2.0])), {"side": "right"}),
    ("searchsorted", (np.array([1, 2, 5]), np.array([2.5])), {}),
    ("searchsorted", (np.array([1.0, 2.0, 5.0]), 2), {"right": True}),
    ("searchsorted", (np.array([[1.0, 2.0, 5.0], [0.0, 1.0, 2.0]]), np.array([[2.0], [3.0]])), {"out_int32": True}),
    ("searchsorted", (np.array([5.0, 2.0, 1.0]), np.array([2.5])), {"sorter": np.array([2, 1, 0])}),
    ("searchsorted", (np.zeros((2, 0)), np.zeros((2, 0))), {}),
    ("bucketize", (np.array([[2.0], [3.0]]), np.array([1.0, 2.0, 5.0])), {"right": True}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, args, kwargs):
    assert_same(_call(framework, name, args, kwargs), _call(torch, name, args, kwargs))


ERRORS = [
    ("topk", (X, 6), {}, RuntimeError, "selected index k out of range"),
    ("searchsorted", (np.array([[1.0, 2.0, 5.0]]), np.array([2.0])), {}, RuntimeError, "boundaries tensor should be"),
    ("searchsorted", (np.array([1.0, 2.0]), np.array([2.0])), {"side": "left", "right": True}, RuntimeError,
     "side and right can't be set to opposites"),
    ("unique", (np.array(3.0),), {"dim": 0}, IndexError, "tensor has no dimensions"),
    ("sort", (X, 3), {}, IndexError, "Dimension out of range"),
]


@pytest.mark.parametrize("name,args,kwargs,exc,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, args, kwargs, exc, message):
    with pytest.raises(exc):
        _call(torch, name, args, kwargs)
    with pytest.raises(exc, match=message):
        _call(framework, name, args, kwargs)


def test_named_results_unpack():
    values, indices = framework.tensor(X).sort(2)
    assert values.shape == indices.shape == (3, 4, 5)
    top = framework.tensor(X).topk(2, dim=0)
    assert top.values.shape == (2, 4, 5) and top.indices.dtype == framework.int64


@pytest.mark.parametrize("fn", [lambda x: x.sort(1, descending=True).values, lambda x: x.topk(2, 0).values,
                                lambda x: x.msort(), lambda x: x.topk(3, 2, largest=False).values])
def test_gradcheck(fn):
    assert gradcheck(fn, (framework.tensor(X, requires_grad=True),))
