"""Long-tail top-level ops against PyTorch: *_copy views, combinatorics, statistics, integration, shapes."""
import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
X = _rng.standard_normal((3, 4, 5))


def _check(ours, theirs, tol=1e-10):
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _check(o, t, tol)
        return
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tol, atol=tol, equal_nan=True)
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)


def _both(name, *args, **kwargs):
    conv = lambda mod, a: mod.tensor(a) if isinstance(a, np.ndarray) else a  # noqa: E731
    ours = getattr(framework, name)(*(conv(framework, a) for a in args), **kwargs)
    theirs = getattr(torch, name)(*(conv(torch, a) for a in args), **kwargs)
    return ours, theirs


COPIES = [("expand_copy", X[:, :1], ((3, 6, 5),)), ("diagonal_copy", X, (0, 0, 2)), ("alias_copy", X, ()),
          ("view_copy", X, ((12, 5),)), ("permute_copy", X, ((2, 0, 1),)), ("squeeze_copy", X[:1], ()),
          ("unsqueeze_copy", X, (1,)), ("transpose_copy", X, (0, 2)), ("t_copy", X[0], ()),
          ("unbind_copy", X, (1,)), ("unfold_copy", X, (2, 2, 1)), ("narrow_copy", X, (1, 1, 2)),
          ("as_strided_copy", X, ((2, 2), (1, 2)))]


@pytest.mark.parametrize("name,x,args", COPIES, ids=[c[0] for c in COPIES])
def test_copy_variants(name, x, args):
    ours, theirs = _both(name, x, *args)
    _check(ours, theirs)
    source = framework.tensor(x)
    out = getattr(framework, name)(source, *args)
    for o in (out if isinstance(out, tuple) else (out,)):
        assert not np.shares_memory(o._data, source._data)
    assert gradcheck(lambda v: getattr(framework, name)(v, *args),
                     (framework.tensor(x, requires_grad=True),))


def test_combinatorics():
    a, b, c = np.array([1.0, 2.0]), np.array([[3.0, 4.0]]), np.array(5.0)
    _check(*_both("block_diag", a, b, c, X[0, :2, :3]))
    _check(*_both("cartesian_prod", a, np.array([3.0, 4.0, 5.0])))
    for r, rep in ((2, False), (3, True), (0, False), (4, False)):
        _check(*_both("combinations", np.arange(4.0), r=r, with_replacement=rep))
    assert gradcheck(lambda u, v: framework.block_diag(u, v), (framework.tensor(X[0], requires_grad=True),
                                                               framework.tensor(a, requires_grad=True)))
    with pytest.raises(RuntimeError, match="2 or fewer dimensions"):
        framework.block_diag(framework.tensor(X))


def test_cov_corrcoef():
    data = X[0]
    fw = np.array([1, 2, 1, 3, 1])
    aw = _rng.uniform(0.5, 2, 5)
    for kwargs in ({}, {"correction": 0}, {"fweights": fw}, {"aweights": aw}, {"fweights": fw, "aweights": aw,
                                                                               "correction": 2}):
        ours = framework.cov(framework.tensor(data), **{k: framework.tensor(v) if isinstance(v, np.ndarray) else v
                                                       for k, v in kwargs.items()})
        theirs = torch.cov(torch.tensor(data), **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                                 for k, v in kwargs.items()})
        _check(ours, theirs)
    _check(*_both("corrcoef", data))
    _check(*_both("cov", data[0]))
    assert gradcheck(framework.corrcoef, (framework.tensor(data, requires_grad=True),))


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile(interpolation):
    data = X.copy()
    data[0, 1, 2] = np.nan
    q = np.array([0.0, 0.3, 0.5, 1.0])
    for name in ("quantile", "nanquantile"):
        for dim, keepdim in ((None, False), (None, True), (1, False), (2, True), (-1, False)):
            for qq in (0.25, q):
                _check(*_both(name, data, qq, dim, keepdim, interpolation=interpolation))
    xq = framework.tensor(X[0], requires_grad=True)
    qs = framework.tensor([0.3, 0.6], dtype=framework.float64, requires_grad=interpolation == "linear")  # ranks 1.2, 2.4: no kinks
    assert gradcheck(lambda v, w: framework.quantile(v, w, 1, interpolation=interpolation), (xq, qs))
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        framework.quantile(framework.tensor(X), 1.5)
    with pytest.raises(RuntimeError, match="float or double"):
        framework.quantile(framework.tensor([1, 2]), 0.5)


def test_histc_isin():
    values = np.concatenate([_rng.uniform(-1, 3, 50), [0.0, 2.0, 5.0]]).astype(np.float32)
    for kwargs in ({}, {"bins": 7, "min": 0, "max": 2}, {"bins": 3, "min": 1, "max": 1}):
        _check(*_both("histc", values, **kwargs))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        framework.histc(framework.tensor(values), 3, min=2, max=1)
    _check(*_both("isin", np.arange(6.0), np.array([1.0, 4.0, 7.0])))
    _check(*_both("isin", np.arange(6.0), np.array([1.0, 4.0]), invert=True))


def test_integration():
    y, x = X[0], np.sort(_rng.uniform(0, 3, 5))
    for name in ("trapezoid", "trapz", "cumulative_trapezoid"):
        _check(*_both(name, y, x))
        _check(*_both(name, y, dx=0.5, dim=0))
        _check(*_both(name, y))
        assert gradcheck(lambda v, w: getattr(framework, name)(v, w), (framework.tensor(y, requires_grad=True),
                                                                        framework.tensor(x, requires_grad=True)))


def test_renorm_sum_to_size_pad_shuffle():
    _check(*_both("renorm", X, 2, 1, 1.5))
    assert gradcheck(lambda v: framework.renorm(v, 2, 0, 2.0), (framework.tensor(X[0], requires_grad=True),))
    _check(framework.tensor(X).sum_to_size(4, 1), torch.tensor(X).sum_to_size(4, 1))
    with pytest.raises(RuntimeError, match="is not expandable"):
        framework.tensor(X).sum_to_size(3)
    _check(*_both("constant_pad_nd", X, (1, 2, 0, 1), 0.5))
    _check(F.channel_shuffle(framework.tensor(X[None]), 3), torch.nn.functional.channel_shuffle(torch.tensor(X[None]),
                                                                                               3))
    with pytest.raises(RuntimeError, match="divisible by groups"):
        F.channel_shuffle(framework.tensor(X[None]), 2)


def test_native_layer_norm_and_resize():
    w, b = _rng.standard_normal(5), _rng.standard_normal(5)
    _check(*_both("native_layer_norm", X, (5,), w, b, 1e-5), tol=1e-9)
    t, r = framework.tensor(X.copy()), torch.tensor(X.copy())
    t.resize_(2, 5)
    r.resize_(2, 5)
    _check(t, r)
    t.resize_as_(framework.tensor(X[0, 0]))
    assert t.shape == (5,)
    with pytest.raises(RuntimeError, match="require grad"):
        framework.tensor(X, requires_grad=True).resize_(3)
    e = framework.empty_permuted((2, 3, 4), (2, 0, 1))
    assert e.shape == (2, 3, 4)
    assert framework.tensor(X).new_empty_strided((2, 3), (3, 1)).shape == (2, 3)
