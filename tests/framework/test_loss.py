"""Loss functions against PyTorch: every reduction, gradients (float64 gradcheck), hand values, errors."""
import math

import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

_rng = np.random.default_rng(0)
LOGITS = _rng.standard_normal((4, 5)).astype(np.float32)
LOGITS_K = _rng.standard_normal((2, 5, 3)).astype(np.float32)
PROBS = _rng.uniform(0.05, 0.95, (4, 5)).astype(np.float32)
TARGETS = np.array([1, 0, 4, 2])
TARGETS_K = np.array([[1, 0, 4], [2, -100, 3]])
WEIGHT = _rng.uniform(0.5, 2, 5).astype(np.float32)
Y = _rng.standard_normal((4, 5)).astype(np.float32)
SIGNS = np.array([1.0, -1.0, 1.0, -1.0], np.float32)


def _t(mod, a, grad=False):
    if a is None or isinstance(a, (int, float, str, bool)):
        return a
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return mod.tensor(a, requires_grad=grad)
    return mod.tensor(a)


# (name, positional arrays, kwargs, index of the args that get gradients)
CASES = [
    ("cross_entropy", (LOGITS, TARGETS), {}, (0,)),
    ("cross_entropy", (LOGITS, TARGETS), {"weight": WEIGHT, "label_smoothing": 0.2, "ignore_index": 4}, (0,)),
    ("cross_entropy", (LOGITS_K, TARGETS_K), {"label_smoothing": 0.1, "reduction": "none"}, (0,)),
    ("cross_entropy", (LOGITS, PROBS / PROBS.sum(1, keepdims=True)), {"label_smoothing": 0.3, "weight": WEIGHT},
     (0, 1)),
    ("cross_entropy", (LOGITS[0], np.array(3)), {}, (0,)),
    ("nll_loss", (LOGITS, TARGETS), {"weight": WEIGHT, "reduction": "sum"}, (0,)),
    ("nll_loss", (LOGITS_K, TARGETS_K), {"weight": WEIGHT}, (0,)),
    ("mse_loss", (LOGITS, Y), {}, (0, 1)),
    ("l1_loss", (LOGITS, Y), {"reduction": "sum"}, (0, 1)),
    ("smooth_l1_loss", (LOGITS, Y), {"beta": 0.7}, (0, 1)),
    ("huber_loss", (LOGITS, Y), {"delta": 0.6, "reduction": "none"}, (0, 1)),
    ("binary_cross_entropy", (PROBS, PROBS[::-1].copy()), {"weight": WEIGHT}, (0, 1)),
    ("binary_cross_entropy_with_logits", (LOGITS, PROBS), {"pos_weight": WEIGHT, "weight": WEIGHT[:, None][:4]},
     (0, 1)),
    ("kl_div", (LOGITS, PROBS), {"reduction": "batchmean"}, (0, 1)),
    ("kl_div", (LOGITS, Y), {"reduction": "sum", "log_target": True}, (0, 1)),
    ("cosine_embedding_loss", (LOGITS, Y, SIGNS), {"margin": 0.1}, (0, 1)),
    ("margin_ranking_loss", (LOGITS[0], Y[0], SIGNS.repeat(2)[:5]), {"margin": 0.2}, (0, 1)),
    ("triplet_margin_loss", (LOGITS, Y, PROBS), {"swap": True}, (0, 1, 2)),
    ("triplet_margin_loss", (LOGITS, Y, PROBS), {"p": 1, "margin": 2.0}, (0, 1, 2)),
    ("hinge_embedding_loss", (LOGITS, np.sign(Y)), {"margin": 0.5}, (0,)),
    ("soft_margin_loss", (LOGITS, np.sign(Y)), {}, (0,)),
    ("multilabel_soft_margin_loss", (LOGITS, (Y > 0).astype(np.float32)), {"weight": WEIGHT}, (0,)),
    ("poisson_nll_loss", (LOGITS, np.abs(Y) * 3), {"full": True}, (0,)),
    ("poisson_nll_loss", (PROBS, np.abs(Y)), {"log_input": False}, (0,)),
    ("gaussian_nll_loss", (LOGITS, Y, PROBS), {"full": True}, (0, 1, 2)),
]


def _ids():
    return [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("name,args,kwargs,grads", CASES, ids=_ids())
def test_matches_torch_with_grads(name, args, kwargs, grads):
    ours = [_t(framework, a, i in grads) for i, a in enumerate(args)]
    theirs = [_t(torch, a, i in grads) for i, a in enumerate(args)]
    okw = {k: _t(framework, v) for k, v in kwargs.items()}
    tkw = {k: _t(torch, v) for k, v in kwargs.items()}
    out, ref = getattr(F, name)(*ours, **okw), getattr(TF, name)(*theirs, **tkw)
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype is framework.float32
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    for i in grads:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name,args,kwargs,grads", CASES[::3], ids=_ids()[::3])
def test_gradcheck_float64(name, args, kwargs, grads):
    def t64(a, grad=False):
        return framework.tensor(a.astype(np.float64), requires_grad=grad) if isinstance(a, np.ndarray) and \
            a.dtype.kind == "f" else _t(framework, a)
    inputs = [t64(a, i in grads) for i, a in enumerate(args)]
    kw = {k: t64(v) for k, v in kwargs.items()}

    def fn(*diff):
        full = list(inputs)
        for i, d in zip(grads, diff):
            full[i] = d
        return getattr(F, name)(*full, **kw)
    assert gradcheck(fn, tuple(inputs[i] for i in grads))


def test_cross_entropy_double_backward():
    x = framework.tensor(LOGITS[:2].astype(np.float64), requires_grad=True)
    assert gradgradcheck(lambda t: F.cross_entropy(t, framework.tensor([1, 3])), (x,))


def test_hand_values():
    uniform = framework.zeros(2, 4)
    assert math.isclose(F.cross_entropy(uniform, framework.tensor([0, 3])).item(), math.log(4), rel_tol=1e-6)
    assert F.mse_loss(framework.tensor([1.0, 3.0]), framework.tensor([0.0, 0.0]), reduction="sum").item() == 10.0
    assert math.isnan(F.nll_loss(framework.zeros(2, 3), framework.tensor([-100, -100])).item())
    with pytest.warns(UserWarning, match="reduction='sum'"):
        legacy = F.l1_loss(framework.tensor([1.0, -3.0]), framework.zeros(2), size_average=False)
    assert legacy.item() == 4.0


def test_errors_match_torch():
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        F.nll_loss(framework.zeros(3, 5), framework.tensor([1, 2, 7]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(framework.zeros(3, 5), framework.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte"):
        F.nll_loss(framework.zeros(3, 5), framework.zeros(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(framework.tensor([1.5]), framework.tensor([1.0]))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(framework.ones(2), framework.ones(2), reduction="foo")
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(framework.ones(2), framework.ones(1))
    with pytest.raises(NotImplementedError, match="ctc_loss"):
        F.ctc_loss(framework.zeros(2, 1, 3), framework.tensor([[1]]), [2], [1])
