"""Normalisation and dropout functions against PyTorch: values, gradients, running stats, masks, errors."""
import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _both(array, grad=True):
    return framework.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def _close(ours, theirs, tol=1e-5):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)


CASES = [
    ("layer_norm", (2, 3, 4), lambda m, x, w, b: m.layer_norm(x, (3, 4), w, b), (3, 4)),
    ("rms_norm", (2, 3, 4), lambda m, x, w, b: m.rms_norm(x, (4,), w[0]), (3, 4)),
    ("group_norm", (2, 6, 3), lambda m, x, w, b: m.group_norm(x, 3, w, b), (6,)),
    ("instance_norm", (2, 3, 5), lambda m, x, w, b: m.instance_norm(x, weight=w, bias=b), (3,)),
    ("batch_norm_train", (4, 3, 2), lambda m, x, w, b: m.batch_norm(x, None, None, w, b, training=True), (3,)),
    ("normalize", (3, 4), lambda m, x, w, b: m.normalize(x * w[0], p=3, dim=0), (4,)),
]


@pytest.mark.parametrize("name,shape,call,pshape", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_with_grads(name, shape, call, pshape):
    (ox, tx), (ow, tw), (ob, tb) = _both(_rand(*shape)), _both(_rand(*pshape, seed=1)), _both(_rand(*pshape, seed=2))
    out, ref = call(F, ox, ow, ob), call(TF, tx, tw, tb)
    _close(out, ref)
    cot = _rand(*ref.shape, seed=3)
    (out * framework.tensor(cot)).sum().backward()
    (ref * torch.tensor(cot)).sum().backward()
    for ours, theirs in ((ox, tx), (ow, tw), (ob, tb)):
        if theirs.grad is not None:
            _close(ours.grad, theirs.grad, 1e-4)


@pytest.mark.parametrize("name,shape,call,pshape", CASES, ids=[c[0] for c in CASES])
def test_gradcheck_float64(name, shape, call, pshape):
    x = framework.tensor(_rand(*shape, dtype=np.float64), requires_grad=True)
    w = framework.tensor(_rand(*pshape, seed=1, dtype=np.float64), requires_grad=True)
    b = framework.tensor(_rand(*pshape, seed=2, dtype=np.float64))
    assert gradcheck(lambda x, w: call(F, x, w, b), (x, w))


def test_batch_norm_updates_running_stats_and_eval_uses_them():
    x = _rand(5, 3, 2) * 3 + 1
    rm, rv = framework.zeros(3), framework.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    F.batch_norm(framework.tensor(x), rm, rv, training=True, momentum=0.3)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    _close(rm, trm)
    _close(rv, trv)
    _close(F.batch_norm(framework.tensor(x), rm, rv), TF.batch_norm(torch.tensor(x), trm, trv))


def test_instance_norm_running_stats():
    x = _rand(4, 3, 6) * 2
    rm, rv = framework.zeros(3), framework.ones(3)
    trm, trv = torch.zeros(3), torch.ones(3)
    _close(F.instance_norm(framework.tensor(x), rm, rv), TF.instance_norm(torch.tensor(x), trm, trv))
    _close(rm, trm)
    _close(rv, trv)


def test_layer_norm_hand_values():
    out = F.layer_norm(framework.tensor([[1.0, 3.0]]), (2,), eps=0.0)
    np.testing.assert_allclose(out.numpy(), [[-1.0, 1.0]], rtol=1e-6)


def test_normalization_errors():
    with pytest.raises(RuntimeError, match="running_mean must be defined"):
        F.batch_norm(framework.ones(2, 3), None, None)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(framework.ones(1, 3), None, None, training=True)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(framework.ones(2, 6, 3), 4)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 4\]"):
        F.layer_norm(framework.ones(2, 3), (4,))


@pytest.mark.parametrize("fn,shape", [("dropout", (4, 5)), ("dropout2d", (2, 3, 4, 4)), ("dropout1d", (3, 5)),
                                      ("alpha_dropout", (4, 5)), ("feature_alpha_dropout", (2, 3, 4))])
def test_dropout_masks_match_torch_seed(fn, shape):
    x = _rand(*shape)
    framework.random.manual_seed(7)
    torch.manual_seed(7)
    _close(getattr(F, fn)(framework.tensor(x), 0.4, True), getattr(TF, fn)(torch.tensor(x), 0.4, True))


def test_dropout_gradient_eval_and_errors():
    x = framework.ones(100, requires_grad=True)
    out = F.dropout(x, 0.5)
    out.sum().backward()
    assert set(np.unique(x.grad.numpy())) <= {0.0, 2.0}
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())
    assert F.dropout(x, 0.5, training=False) is x
    assert (F.dropout(framework.ones(3), 1.0).numpy() == 0).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)
