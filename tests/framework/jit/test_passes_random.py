"""Every pass on random programs: interpreting the graph before and after a pass gives the same outputs.

Also home of ``Builder``, the small graph builder the other pass tests import: it runs each kernel on
example arrays while building, so node output types come from the kernels themselves.
"""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

import framework  # noqa: E402
from framework import _dtype  # noqa: E402
from framework.jit import ir  # noqa: E402
from framework.jit.interpreter import call_node, interpret  # noqa: E402
from framework.jit.passes import PASSES, optimize  # noqa: E402
from framework.jit.passes.memory_plan import run_planned  # noqa: E402

CPU = framework.device("cpu")


class Builder:
    """Build a graph and example input arrays together; ``b.op(kernel, *values, **attrs)`` returns outputs."""

    def __init__(self, name="g"):
        self.graph = ir.Graph(name)
        self.env, self.example = {}, []

    def input(self, array, name=None, role="arg"):
        array = np.asarray(array)
        value = self.graph.add_input(array.shape, _dtype.from_numpy(array.dtype), CPU, role=role, name=name)
        self.env[value] = array
        self.example.append(array)
        return value

    def const(self, array, dtype=None):
        array = np.asarray(array, dtype=dtype)
        value = self.graph.add_constant(array, _dtype.from_numpy(array.dtype), CPU)
        self.env[value] = array
        return value

    def op(self, kernel, *inputs, op=None, mutates=(), **attrs):
        probe = ir.Node(op or kernel, kernel, inputs, attrs)
        probe.outputs = [ir.Value(-1, (), _dtype.float32, CPU, "node")]
        results = call_node(probe, [self._copy(v) for v in inputs])
        types = [(r.shape, _dtype.from_numpy(r.dtype), CPU) for r in results]
        node = self.graph.add_node(op or kernel, inputs, attrs, types, kernel=kernel, mutates=mutates)
        for value, result in zip(node.outputs, results):
            self.env[value] = result
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def _copy(self, value):
        # the probe run must not write the example inputs that interpret() later reads
        return np.array(self.env[value], copy=True)

    def out(self, *values):
        self.graph.outputs = list(values)
        return self.graph


def run(graph, example):
    """Outputs of ``graph`` on fresh copies of ``example`` (effect nodes write their inputs)."""
    return interpret(graph, [np.array(a, copy=True) for a in example])


def assert_same(before, after, rtol=1e-6, atol=0):
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, equal_nan=True)


def small_training_step(make_optimizer, targets=(0, 2, 1, 1, 0)):
    """(model, step): a seeded 6-8-3 MLP and a closure running one cross-entropy training step on five samples
    with the optimizer ``make_optimizer(parameters)``; every call builds the same model from the same seed."""
    framework.manual_seed(0)
    model = framework.nn.Sequential(framework.nn.Linear(6, 8), framework.nn.ReLU(), framework.nn.Linear(8, 3))
    opt = make_optimizer(model.parameters())
    x, y = framework.randn(5, 6), framework.tensor(list(targets))

    def step():
        opt.zero_grad()
        loss = framework.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return model, step


# ----- random programs ---------------------------------------------------------------------------------
UNARY = ("neg", "exp", "tanh", "abs", "sigmoid", "sqrt", "clone")
BINARY = ("add", "sub", "mul", "div", "maximum")
SPECIAL_CONSTANTS = (0.0, -0.0, 1.0, 2.0, 0.5)


@st.composite
def programs(draw):
    """A Builder holding a random straight-line program over elementwise, reduction, matmul and view ops."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    b = Builder("random")
    n = draw(st.sampled_from((2, 3, 4)))
    pool = [b.input(rng.standard_normal((n, n)).astype(np.float32), name=f"x{i}") for i in range(2)]
    steps = draw(st.integers(1, 14))
    write_at = draw(st.integers(0, steps)) if draw(st.booleans()) else None
    for step in range(steps):
        if step == write_at:
            _write(b, pool, draw)
        kind = draw(st.sampled_from(("unary", "binary", "const", "reduce", "matmul", "view", "repeat")))
        x = draw(st.sampled_from(pool))
        square = [v for v in pool if v.shape == (n, n)]
        if kind == "unary":
            pool.append(b.op(draw(st.sampled_from(UNARY)), x))
        elif kind == "binary":
            pool.append(b.op(draw(st.sampled_from(BINARY)), x, draw(st.sampled_from([v for v in pool
                                                                                     if v.shape == x.shape]))))
        elif kind == "const":
            c = b.const(np.float32(draw(st.sampled_from(SPECIAL_CONSTANTS))))
            args = (x, c) if draw(st.booleans()) else (c, x)
            pool.append(b.op(draw(st.sampled_from(BINARY)), *args))
        elif kind == "reduce" and x.shape:
            pool.append(b.op(draw(st.sampled_from(("sum", "amax"))), x, dims=(len(x.shape) - 1,), keepdim=True))
        elif kind == "matmul" and square:
            pool.append(b.op("matmul", draw(st.sampled_from(square)), draw(st.sampled_from(square))))
        elif kind == "view" and len(x.shape) == 2:
            view = draw(st.sampled_from(("t", "tt", "reshape", "same_reshape", "expand")))
            if view == "t":
                pool.append(b.op("permute", x, dims=(1, 0)))
            elif view == "tt":
                pool.append(b.op("permute", b.op("permute", x, dims=(1, 0)), dims=(1, 0)))
            elif view == "reshape":
                pool.append(b.op("reshape", x, shape=(x.shape[0] * x.shape[1],)))
            elif view == "same_reshape":
                pool.append(b.op("reshape", x, shape=x.shape))
            else:
                pool.append(b.op("expand", x, shape=x.shape))
        elif kind == "repeat" and len(pool) > 2 and pool[-1].kind == "node":
            node = pool[-1].node
            pool.append(b.op(node.kernel, *node.inputs, **node.attrs))  # a common subexpression
    if write_at == steps:
        _write(b, pool, draw)
    outputs = draw(st.lists(st.sampled_from(pool[2:] or pool), min_size=1, max_size=3, unique=True))
    b.out(*outputs)
    return b


def _write(b, pool, draw):
    """An in-place write into x0 (``copy_``) between reads of it: passes must keep it, in order, and respect it."""
    x0 = pool[0]
    pool.append(b.op("neg", x0))
    source = b.op("mul", draw(st.sampled_from([v for v in pool if v.shape == x0.shape])), b.const(np.float32(0.5)))
    b.op("copy_into", x0, source, op="copy_", mutates=(0,))
    pool.append(b.op("neg", x0))  # the same expression as before the write, but not the same value


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(PASSES))
@SETTINGS
@given(b=programs())
def test_each_pass_preserves_results(name, b):
    graph = b.graph
    graph.verify()
    expected = run(graph, b.example)
    PASSES[name](graph)
    graph.verify()
    assert_same(expected, run(graph, b.example))


@settings(SETTINGS, max_examples=25)  # fusion compiles a Numba kernel per new program
@given(b=programs())
def test_pipeline_preserves_results_and_plan_runs(b):
    expected = run(b.graph, b.example)
    report = optimize(b.graph)
    assert report.nodes_after <= report.nodes_before
    # fused exp/sigmoid polynomials may differ from numpy's libm by an ulp, and a random program can cancel
    # (1.0135 - 1 loses six digits): absolute slack at the scale of the inputs
    assert_same(expected, run(b.graph, b.example), atol=1e-6)
    assert_same(expected, run_planned(b.graph, [np.array(a, copy=True) for a in b.example]), atol=1e-6)


@SETTINGS
@given(b=programs())
def test_optimize_is_idempotent(b):
    optimize(b.graph)
    text = str(b.graph)
    optimize(b.graph)
    assert str(b.graph) == text
