"""Activations and the softmax family against PyTorch: values, gradients (float64 gradcheck), errors."""
import math

import numpy as np
import pytest

import framework
import framework.nn.functional as F
from framework.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# (name, kwargs); each runs on the same inputs in both frameworks.
ACTIVATIONS = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {"alpha": 0.7}), ("selu", {}),
    ("celu", {"alpha": 1.5}), ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}), ("softsign", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("hardsigmoid", {}), ("hardswish", {}), ("threshold", {"threshold": 0.3, "value": -2.0}), ("logsigmoid", {}),
    ("tanhshrink", {}), ("softshrink", {"lambd": 0.4}), ("hardshrink", {"lambd": 0.4}), ("glu", {"dim": 1}),
    ("softmax", {"dim": 1}), ("log_softmax", {"dim": 0}), ("softmin", {"dim": 1}), ("rrelu", {}),
]


def _input(dtype=np.float32, shape=(4, 6), seed=0, zero=True):
    """Uniform values in (-5, 5); with ``zero``, the first is 0 to check each op's convention at the kink."""
    values = np.random.default_rng(seed).uniform(-5, 5, size=shape).astype(dtype)
    if zero:
        values.flat[0] = 0.0
    return values


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS)
def test_forward_and_grad_match_torch(name, kwargs):
    x = _input()
    ours = framework.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, ref = getattr(F, name)(ours, **kwargs), getattr(TF, name)(theirs, **kwargs)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    cot = np.random.default_rng(1).standard_normal(ref.shape).astype(np.float32)
    (out * framework.tensor(cot)).sum().backward()
    (ref * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kwargs", [a for a in ACTIVATIONS if a[0] not in ("relu", "relu6", "hardtanh",
                                                                                  "threshold", "hardshrink")])
def test_gradcheck_float64(name, kwargs):
    x = framework.tensor(_input(np.float64, (3, 4), seed=2, zero=False), requires_grad=True)
    assert gradcheck(lambda t: getattr(F, name)(t, **kwargs), (x,))


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward(approximate):
    x = framework.tensor(_input(np.float64, (2, 3), seed=3, zero=False), requires_grad=True)
    assert gradgradcheck(lambda t: F.gelu(t, approximate=approximate), (x,))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_double_backward(fn):
    x = framework.tensor(_input(np.float64, (2, 3), seed=4, zero=False), requires_grad=True)
    assert gradgradcheck(lambda t: getattr(framework, fn)(t, -1), (x,))


def test_prelu_matches_torch_with_weight_grad():
    x, w = _input(shape=(2, 3, 4)), np.array([0.1, -0.3, 0.5], np.float32)
    ox, ow = framework.tensor(x, requires_grad=True), framework.tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.prelu(ox, ow).sum().backward()
    TF.prelu(tx, tw).sum().backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(ow.grad.numpy(), tw.grad.numpy(), rtol=1e-5)


def test_softmax_long_rows_use_fused_kernel_and_stay_stable():
    x = _input(shape=(3, 1000)) * 100
    out = framework.softmax(framework.tensor(x), -1)
    ref = torch.softmax(torch.tensor(x), -1)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(framework.tensor(x).log_softmax(-1).numpy(), torch.tensor(x).log_softmax(-1).numpy(),
                               rtol=1e-5, atol=1e-4)


def test_softmax_hand_values_dtype_and_scalar():
    out = framework.softmax(framework.tensor([0.0, math.log(3.0)]), 0)
    np.testing.assert_allclose(out.numpy(), [0.25, 0.75], rtol=1e-6)
    assert framework.softmax(framework.tensor([1, 2]), 0, dtype=framework.float64).dtype is framework.float64
    assert framework.tensor(2.0).softmax(0).item() == 1.0
    with pytest.warns(UserWarning, match="Implicit dimension"):
        F.softmax(framework.ones(2, 3))


def test_inplace_variants_modify_input():
    x = framework.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x
    assert x.tolist() == [0.0, 2.0]
    y = framework.tensor([-1.0, 2.0])
    framework.relu_(y)
    y.relu_()
    F.leaky_relu_(y, 0.5)
    assert y.tolist() == [0.0, 2.0]


def test_errors_match_torch():
    with pytest.raises(NotImplementedError, match="'Long'"):
        F.gelu(framework.tensor([1, 2]))
    assert F.relu(framework.tensor([-1, 2])).tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(framework.ones(2, 3))
    with pytest.raises(RuntimeError, match="parameter numbers = 4 and channel size = 3"):
        F.prelu(framework.ones(2, 3), framework.ones(4))
    with pytest.raises(RuntimeError, match="approximate"):
        F.gelu(framework.ones(2), approximate="fast")


def test_rrelu_training_slopes_in_range():
    framework.random.manual_seed(0)
    x = framework.full((1000,), -1.0)
    out = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert (out <= -0.1).all() and (out >= -0.3).all() and out.std() > 0.01
