"""The autograd engine: backward, grad, graph retention, higher order, hooks, grad modes, Function, anomaly."""
import warnings

import numpy as np
import pytest

import framework
from framework import autograd

torch = pytest.importorskip("torch")


def _leaf(values=(1.0, 2.0, 3.0), dtype=None):
    return framework.tensor(list(values), dtype=dtype, requires_grad=True)


def test_backward_accumulates_into_leaves():
    x = _leaf()
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0, 9.0]
    x.grad = None
    (x + x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_twice_needs_retain_graph():
    x = _leaf()
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0, 12.0]
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


def test_non_scalar_backward_needs_a_gradient():
    x = _leaf()
    y = x * 2
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        y.backward()
    y.backward(framework.tensor([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [2.0, 0.0, 4.0]
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        framework.ones(2).sum().backward()


def test_higher_order_derivatives():
    x = framework.tensor(2.0, requires_grad=True)
    y = x ** 3
    (g,) = autograd.grad(y, x, create_graph=True)
    (g2,) = autograd.grad(g, x, create_graph=True)
    (g3,) = autograd.grad(g2, x)
    assert (g.item(), g2.item(), g3.item()) == (12.0, 12.0, 6.0)
    z = framework.tensor([0.5, 1.5], requires_grad=True)
    (dz,) = autograd.grad(z.sin().sum(), z, create_graph=True)
    dz.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), -np.sin([0.5, 1.5]), rtol=1e-6)


def test_autograd_grad_options():
    x, y = _leaf(), _leaf((4.0, 5.0, 6.0))
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [2.0, 2.0, 2.0] and gy is None
    gx, gy = autograd.grad(out, [x, y], materialize_grads=True)
    assert gy.tolist() == [0.0, 0.0, 0.0]
    assert x.grad is None  # grad returns, it does not accumulate
    with pytest.raises(RuntimeError, match="One of the differentiated Tensors does not require grad"):
        autograd.grad(out, framework.ones(1))


def test_backward_inputs_restricts_accumulation():
    x, y = _leaf(), _leaf()
    (x * y).sum().backward(inputs=[x])
    assert x.grad is not None and y.grad is None


@pytest.mark.parametrize("ctx", [framework.no_grad, lambda: framework.set_grad_enabled(False),
                                 framework.inference_mode])
def test_grad_modes_as_context_managers_and_decorators(ctx):
    x = _leaf()
    with ctx():
        assert not (x * 2).requires_grad
        with framework.enable_grad():
            assert (x * 2).requires_grad
    assert framework.is_grad_enabled()

    @ctx()
    def doubled(t):
        return t * 2
    assert not doubled(x).requires_grad and framework.is_grad_enabled()


def test_set_grad_enabled_as_a_function_call():
    framework.set_grad_enabled(False)
    try:
        assert not framework.is_grad_enabled()
    finally:
        framework.set_grad_enabled(True)
    assert framework.is_grad_enabled()


def test_detach_and_retain_grad():
    x = _leaf()
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 2
    y.retain_grad()
    z = (y * y).sum()
    z.backward()
    assert y.grad.tolist() == [4.0, 8.0, 12.0]
    with pytest.warns(UserWarning, match="is not a leaf Tensor is being accessed"):
        assert (x * 3).grad is None


def test_hooks_modify_gradients_like_torch():
    def run(m):
        a = m.tensor([1.0, 2.0], requires_grad=True)
        a.register_hook(lambda g: g * 2)
        b = a * 3
        b.retain_grad()
        b.register_hook(lambda g: g + 1)
        b.sum().backward()
        return a.grad.tolist(), b.grad.tolist()
    assert run(framework) == run(torch)
    seen = []
    a = _leaf()
    handle = a.register_hook(lambda g: seen.append(g.tolist()))
    (a * 1).sum().backward()
    handle.remove()
    (a * 1).sum().backward()
    assert seen == [[1.0, 1.0, 1.0]]


def test_hook_handles_remove_only_their_own_registration():
    calls = []
    a = _leaf()
    b = a * 2
    first = b.register_hook(lambda g: calls.append("first"))
    b.register_hook(lambda g: calls.append("second"))
    node_hook = b.grad_fn.register_hook(lambda grad_inputs, grad_outputs: calls.append("node"))
    same = b.register_hook(lambda g: calls.append("same"))
    first.remove()
    first.remove()  # removing twice is harmless
    same.remove()
    b.sum().backward(retain_graph=True)
    assert calls == ["second", "node"]
    node_hook.remove()
    calls.clear()
    with node_hook:  # a handle is a context manager that removes on exit
        pass
    b.sum().backward()
    assert calls == ["second"]


def test_custom_function():
    class Cube(autograd.Function):
        @staticmethod
        def forward(ctx, x, scale):
            ctx.save_for_backward(x)
            ctx.scale = scale
            return x ** 3 * scale

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False)
            return grad * 3 * x ** 2 * ctx.scale, None

    x = framework.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x, 2.0)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]


def test_custom_function_non_differentiable_output():
    class SortLike(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            idx = framework.tensor([1.0, 0.0])
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    out, idx = SortLike.apply(_leaf((1.0, 2.0)))
    assert out.requires_grad and not idx.requires_grad


@pytest.mark.parametrize("fn", [
    lambda x: x.exp().sin(), lambda x: (x * x).tanh(), lambda x: x.sigmoid() / (1 + x ** 2),
    lambda x: framework.where(x > 0, x.log1p(), x.expm1()), lambda x: x.sqrt().reciprocal(),
    lambda x: x.atan() * x.cos(), lambda x: x.lgamma(), lambda x: x.erf() + x.erfc().square(),
])
def test_gradcheck_and_gradgradcheck(fn):
    x = framework.tensor([0.3, 1.2, 2.5], dtype=framework.float64, requires_grad=True)
    assert autograd.gradcheck(fn, (x,))
    assert autograd.gradgradcheck(fn, (x,))


def test_gradcheck_detects_a_wrong_derivative():
    class Wrong(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = framework.tensor([1.0], dtype=framework.float64, requires_grad=True)
    from framework.autograd.gradcheck import GradcheckError
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        autograd.gradcheck(Wrong.apply, (x,))
    assert autograd.gradcheck(Wrong.apply, (x,), raise_exception=False) is False


def test_nodes_record_the_users_line():
    x = _leaf()
    y = x * 2; line = __import__("inspect").currentframe().f_lineno  # noqa: E702
    assert y.grad_fn.where == (__file__, line)


def test_detect_anomaly_reports_nan_with_forward_location():
    x = framework.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with autograd.detect_anomaly():
            y = (x.sqrt() / x).sum()
            with pytest.raises(RuntimeError, match="returned nan values.*test_autograd.py"):
                y.backward()


def test_grad_fn_names_and_next_functions():
    x = _leaf()
    y = (x * 2).sum()
    assert y.grad_fn.name() == "SumBackward0"
    mul_node = y.grad_fn.next_functions[0][0]
    assert mul_node.name() == "MulBackward0"
    assert mul_node.next_functions[0][0].name() == "AccumulateGrad"


def test_integer_outputs_do_not_require_grad():
    x = _leaf()
    assert not (x > 1).requires_grad
    assert not x.long().requires_grad
    assert x.double().requires_grad
