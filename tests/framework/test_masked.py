"""framework.masked against torch.masked: values with and without masks, fully masked rows, gradients."""
import numpy as np
import pytest

import framework
from framework.autograd import gradcheck

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(0)
X = _rng.standard_normal((3, 4, 5))
MASK = _rng.uniform(size=(3, 4, 5)) > 0.4
MASK[0, 1] = False  # a fully masked-out row along dim 2
ROW_MASK = _rng.uniform(size=(4, 1)) > 0.3

REDUCTIONS = [("sum", {}), ("prod", {}), ("amax", {}), ("amin", {}), ("mean", {}), ("logsumexp", {}),
              ("var", {}), ("std", {"unbiased": False}), ("norm", {"ord": 3.0}), ("argmax", {}), ("argmin", {})]


def _pair(mask):
    return (None, None) if mask is None else (framework.tensor(mask), torch.tensor(mask))


def _check(ours, theirs):
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10, atol=1e-12, equal_nan=True)
    assert ours.dtype.name == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize("name,kwargs", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("mask", [None, MASK, ROW_MASK], ids=["nomask", "mask", "broadcast"])
def test_reductions_match_torch(name, kwargs, mask):
    fm, tm = _pair(mask)
    dims = [2] if name in ("argmax", "argmin") else [2, (0, 2), None]
    for dim in dims:
        for keepdim in (False, True):
            ours = getattr(framework.masked, name)(framework.tensor(X), dim=dim, keepdim=keepdim, mask=fm, **kwargs)
            theirs = getattr(torch.masked, name)(torch.tensor(X), dim=dim, keepdim=keepdim, mask=tm, **kwargs)
            _check(ours, theirs)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin", "cumsum", "cumprod", "median"])
@pytest.mark.parametrize("mask", [None, MASK], ids=["nomask", "mask"])
def test_normalizations_match_torch(name, mask):
    fm, tm = _pair(mask)
    _check(getattr(framework.masked, name)(framework.tensor(X), 2, mask=fm),
           getattr(torch.masked, name)(torch.tensor(X), 2, mask=tm))


def test_normalize_and_logaddexp():
    fm, tm = _pair(MASK)
    _check(framework.masked.normalize(framework.tensor(X), 2.0, 1, mask=fm),
           torch.masked.normalize(torch.tensor(X), 2.0, 1, mask=tm))
    _check(framework.masked.logaddexp(framework.tensor(X), framework.tensor(X[::-1].copy()), input_mask=fm),
           torch.masked.logaddexp(torch.tensor(X), torch.tensor(X[::-1].copy()), input_mask=tm))


def test_gradients_are_zero_on_masked_out_elements():
    x = framework.tensor(X, requires_grad=True)
    framework.masked.softmax(x, 2, mask=framework.tensor(MASK)).sum().backward()
    t = torch.tensor(X, requires_grad=True)
    torch.masked.softmax(t, 2, mask=torch.tensor(MASK)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
    assert not np.isnan(x.grad.numpy()).any()
    kept = MASK[:2, :2].copy()
    kept[:, :, 0] = kept[:, 0, :] = True  # no fully masked-out rows: their results are NaN
    m = framework.tensor(kept)
    for fn in (lambda v: framework.masked.mean(v, 2, mask=m), lambda v: framework.masked.var(v, 1, unbiased=False, mask=m),
               lambda v: framework.masked.norm(v, 2.0, 2, mask=m), lambda v: framework.masked.prod(v, 1, mask=m)):
        assert gradcheck(fn, (framework.tensor(X[:2, :2], requires_grad=True),))


def test_errors():
    with pytest.raises(IndexError):
        framework.masked.sum(framework.tensor(X[0]), mask=framework.tensor(MASK))
    with pytest.raises(ValueError, match="Could not infer output dtype"):
        framework.masked.mean(framework.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        framework.masked.sum(framework.tensor(X), dim=(1, 1))
