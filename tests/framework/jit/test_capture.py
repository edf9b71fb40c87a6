"""Capture from the dispatcher: nodes, bound inputs, constants, in-place writes, grads, optimizer and random ops."""
import numpy as np
import pytest

import framework
import framework.nn as nn
from framework.jit.interpreter import interpret


def _trace(fn, *args):
    return framework.jit.trace(fn, args, optimize=False)


def test_forward_nodes_inputs_and_constants():
    x, y = framework.randn(3, 4), framework.randn(3, 4)
    traced = _trace(lambda x, y: (x * 2 + y).relu().sum(1), x, y)
    graph = traced.graph
    assert [n.op for n in graph.nodes] == ["mul", "add", "relu", "sum"]
    assert [v.role for v in graph.inputs] == ["arg", "arg"] and [v.name for v in graph.inputs] == ["x", "y"]
    (const,) = graph.constants.values()
    assert const.shape == () and float(const) == 2.0
    assert graph.nodes[0].location.startswith("test_capture.py:")
    assert "relu(%" in str(graph) and graph.to_dot().startswith('digraph "')
    out = interpret(graph, [x._data, y._data])[0]
    np.testing.assert_allclose(out, ((x * 2 + y).relu().sum(1)).numpy(), rtol=1e-6)


def test_parameters_bound_by_reference_read_current_values():
    lin = nn.Linear(4, 2)
    x = framework.randn(5, 4)
    with framework.no_grad():
        traced = _trace(lambda x: lin(x), x)
    roles = {v.name: v.role for v in traced.graph.inputs}
    assert roles == {"x": "arg", "lin.weight": "param", "lin.bias": "param"}
    with framework.no_grad():
        lin.weight.mul_(3.0)
        expected = lin(x)
        np.testing.assert_allclose(traced(x).numpy(), expected.numpy(), rtol=1e-6)


def test_captured_global_tensor_is_bound_live():
    scale = framework.tensor([1.0, 2.0, 3.0])

    def f(x):
        return x * scale

    x = framework.ones(3)
    traced = _trace(f, x)
    assert [v.role for v in traced.graph.inputs] == ["arg", "captured"]
    scale.copy_(framework.tensor([5.0, 5.0, 5.0]))
    np.testing.assert_array_equal(traced(x).numpy(), [5.0, 5.0, 5.0])


def test_inplace_write_is_an_effect_node():
    def f(x, y):
        x.add_(y)
        return x * 1.0

    x, y = framework.zeros(3), framework.ones(3)
    traced = _trace(f, x, y)
    writes = [n for n in traced.graph.nodes if n.mutates]
    assert [n.kernel for n in writes] == ["copy_into"] and writes[0].inputs[0] is traced.graph.inputs[0]
    a = framework.zeros(3)
    out = traced(a, framework.full((3,), 2.0))
    np.testing.assert_array_equal(a.numpy(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(out.numpy(), [2.0, 2.0, 2.0])


def test_cast_outside_dispatch_is_captured():
    x = framework.tensor([1, 2, 3])
    traced = _trace(lambda x: x.float() * 0.5, x)
    assert traced.graph.nodes[0].kernel == "cast_to"
    np.testing.assert_array_equal(traced(framework.tensor([4, 6, 8])).numpy(), [2.0, 3.0, 4.0])


def test_backward_and_grad_writeback():
    w = framework.randn(3, requires_grad=True)

    def f(x):
        loss = (w * x).sum()
        loss.backward()
        return loss

    x = framework.randn(3)
    traced = _trace(f, x)
    assert w.grad is not None
    w.grad = None
    x2 = framework.randn(3)
    traced(x2)
    np.testing.assert_allclose(w.grad.numpy(), x2.numpy(), rtol=1e-6)


def test_grad_accumulation_into_existing_grad():
    w = framework.ones(2, requires_grad=True)

    def f(x):
        (w * x).sum().backward()

    f(framework.ones(2))                 # w.grad exists before the trace
    traced = _trace(f, framework.ones(2))
    roles = [v.role for v in traced.graph.inputs]
    assert "grad" in roles
    traced(framework.full((2,), 3.0))
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 5.0])


def test_optimizer_update_nodes_and_dynamic_lr():
    p = nn.Parameter(framework.ones(2))
    opt = framework.optim.SGD([p], lr=0.5)

    def step(x):
        opt.zero_grad()
        (p * x).sum().backward()
        opt.step()

    traced = _trace(step, framework.ones(2))
    (update,) = [n for n in traced.graph.nodes if n.op == "sgd_update"]
    assert update.mutates and "lr" in update.dynamic
    opt.param_groups[0]["lr"] = 1.0      # read at call time, not frozen
    before = p.detach().numpy().copy()
    traced(framework.full((2,), 2.0))
    np.testing.assert_allclose(p.detach().numpy(), before - 2.0)
    assert len(traced.entries) == 1


def test_dropout_replays_fresh_masks_like_eager():
    def f(x):
        return nn.functional.dropout(x, 0.5, training=True)

    x = framework.ones(64)
    framework.manual_seed(3)
    eager = [f(x).numpy().copy() for _ in range(3)]
    framework.manual_seed(3)
    compiled = framework.compile(f, backend="eager")
    graph_out = [compiled(x).numpy().copy() for _ in range(3)]
    assert any(n.kernel == "mt_draw" for n in compiled.graph.nodes)
    for a, b in zip(eager, graph_out):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(graph_out[1], graph_out[2])


def test_uncaptured_random_op_is_a_break():
    with pytest.raises(framework.jit.GraphBreakError, match="random op"):
        _trace(lambda x: x + framework.randn(3), framework.ones(3))
