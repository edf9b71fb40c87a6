"""The elementwise fusion pass: exact rewrites on hand-built graphs, random programs against the reference
interpreter, and whole traced training steps."""
import numpy as np
import pytest

import framework
from framework import _dtype
from framework.jit import ir
from framework._backends import kernel_for
from framework.jit.interpreter import interpret
from framework.jit.passes.fuse import fuse_elementwise, fused_ops

CPU = framework.device("cpu")
F32 = _dtype.float32


class Graph:
    """A graph built with example arrays: ``g.op(kernel, *values, **attrs)`` runs the kernel to type its output."""

    def __init__(self):
        self.graph = ir.Graph("g")
        self.env, self.example = {}, []

    def input(self, shape, dtype=np.float32, seed=0, role="arg"):
        array = np.random.default_rng(seed + len(self.example)).uniform(-2, 2, shape).astype(dtype)
        value = self.graph.add_input(array.shape, _dtype.from_numpy(array.dtype), CPU, role=role)
        self.env[value] = array
        self.example.append(array)
        return value

    def const(self, array):
        array = np.asarray(array)
        value = self.graph.add_constant(array, _dtype.from_numpy(array.dtype), CPU)
        self.env[value] = array
        return value

    def op(self, kernel, *inputs, mutates=(), **attrs):
        node = self.graph.add_node(kernel, list(inputs), attrs, [], mutates=mutates)
        result = kernel_for(CPU, kernel)(*[self.env[v] for v in inputs], **attrs)
        results = [] if result is None else list(result) if isinstance(result, tuple) else [np.asarray(result)]
        node.outputs = [self.graph._value(r.shape, _dtype.from_numpy(r.dtype), CPU, "node", node=node, index=i)
                        for i, r in enumerate(results)]
        self.env.update(zip(node.outputs, results))
        return node.outputs[0] if len(node.outputs) == 1 else tuple(node.outputs)

    def fuse_and_compare(self, outputs, rtol=1e-6):
        """Fuse; the fused graph must compute what the original computed. Returns the fusion stats."""
        self.graph.outputs = list(outputs)
        before = interpret(self.graph, [a.copy() for a in self.example])
        stats = fuse_elementwise(self.graph)
        self.graph.verify()
        after = interpret(self.graph, [a.copy() for a in self.example])
        for b, a in zip(before, after):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(b), initial=0))))
        return stats


def _fused(graph):
    return [node for node in graph.nodes if node.kernel == "fused_elementwise"]


def test_chain_becomes_one_node_with_an_exact_program():
    g = Graph()
    x, b = g.input((4, 5)), g.input((5,))
    eps = g.const(np.array(0.5, np.float32))
    y = g.op("relu", g.op("mul", g.op("add", x, b), eps))
    stats = g.fuse_and_compare([y])
    (node,) = g.graph.nodes
    assert node.inputs == [x, b] and node.outputs == [y] and y.node is node
    assert node.attrs == {"program": (("float32", "float32"),
                                      (("add", (0, 1), (), "float32"), ("const", (), (0.5,), "float32"),
                                       ("mul", (2, 3), (), "float32"), ("relu", (4,), (), "float32")),
                                      (5,))}
    assert stats["groups"] == 1 and stats["ops_fused"] == 3 and stats["nodes_after"] == 1
    assert fused_ops(node) == ["add", "mul", "relu"]


def test_values_read_outside_the_group_become_outputs_and_keep_their_identity():
    g = Graph()
    x, y = g.input((3, 4)), g.input((3, 4))
    s = g.op("add", x, y)
    t = g.op("tanh", s)
    total = g.op("sum", s, dims=(1,), keepdim=True)
    u = g.op("mul", t, x)
    g.fuse_and_compare([u, total])
    fused = _fused(g.graph)
    assert len(fused) == 1 and fused[0].outputs == [s, u]
    assert g.graph.outputs == [u, total]
    assert [n.kernel for n in g.graph.nodes] == ["fused_elementwise", "sum"]


def test_dag_with_shared_inputs_and_a_broadcast_where():
    g = Graph()
    x, row = g.input((6, 8)), g.input((8,))
    zero = g.const(np.array(0.0, np.float32))
    mask = g.op("gt", x, zero)
    grad = g.op("where", mask, g.op("mul", x, row), zero)
    out = g.op("add", grad, g.op("exp", g.op("neg", x)))
    g.fuse_and_compare([out])
    (node,) = g.graph.nodes
    assert node.inputs == [x, row]
    assert [op[0] for op in node.attrs["program"][1]] == ["const", "gt", "mul", "where", "neg", "exp", "add"]


def test_shapes_differ_or_reductions_split_groups():
    g = Graph()
    x, col = g.input((4, 6)), g.input((4, 1))
    a = g.op("exp", g.op("add", col, col))  # (4, 1)
    b = g.op("sigmoid", g.op("mul", x, a))  # (4, 6)
    g.fuse_and_compare([b])
    assert [[op[0] for op in n.attrs["program"][1]] for n in _fused(g.graph)] == [["add", "exp"], ["mul", "sigmoid"]]


def test_no_group_when_an_outside_reader_sits_between_members():
    # s = x + y; t = sum(s); u = s * t: fusing add with mul would need t before s exists
    g = Graph()
    x, y = g.input((3, 5)), g.input((3, 5))
    s = g.op("add", x, y)
    t = g.op("sum", s, dims=(1,), keepdim=True)
    u = g.op("mul", s, t)
    v = g.op("exp", u)
    g.fuse_and_compare([v])
    assert [n.kernel for n in g.graph.nodes] == ["add", "sum", "fused_elementwise"]


def test_a_write_to_what_the_group_reads_is_a_barrier():
    g = Graph()
    x, y, z = g.input((2, 3)), g.input((2, 3)), g.input((2, 3), role="state")
    a = g.op("add", x, z)
    g.op("copy_into", z, y, mutates=(0,))  # z <- y in place, between the two members
    b = g.op("mul", a, z)
    g.fuse_and_compare([b])
    assert not _fused(g.graph)


def test_a_write_to_a_view_base_is_a_barrier_for_the_view():
    g = Graph()
    x, y = g.input((2, 3), role="state"), g.input((2, 3))
    view = g.op("reshape", x, shape=(2, 3))
    a = g.op("add", y, y)
    g.op("copy_into", x, y, mutates=(0,))
    b = g.op("mul", a, view)
    g.fuse_and_compare([b])
    assert not _fused(g.graph)


def test_an_unrelated_write_does_not_stop_fusion():
    g = Graph()
    x, y, z = g.input((2, 3)), g.input((2, 3)), g.input((2, 3), role="state")
    a = g.op("add", x, y)
    g.op("copy_into", z, x, mutates=(0,))
    b = g.op("mul", a, y)
    g.fuse_and_compare([b])
    kernels = [n.kernel for n in g.graph.nodes]
    assert kernels == ["copy_into", "fused_elementwise"] or kernels == ["fused_elementwise", "copy_into"]


def test_linear_bias_gelu_is_one_epilogue_node():
    g = Graph()
    x, w, b = g.input((8, 16)), g.input((32, 16), role="param"), g.input((32,), role="param")
    y = g.op("gelu", g.op("add", g.op("linear", x, w), b), approximate="tanh")
    g.fuse_and_compare([y], rtol=1e-5)
    (node,) = g.graph.nodes
    assert node.inputs == [x, w, b] and node.attrs["prologue"] == ("linear", (), 2)
    assert fused_ops(node) == ["linear", "add", "gelu"]


def _gemm_and_neighbour():
    g = Graph()
    x, w, b = g.input((8, 16)), g.input((32, 16), role="param"), g.input((32,), role="param")
    y = g.op("gelu", g.op("add", g.op("linear", x, w), b), approximate="tanh")
    z = g.op("mul", g.op("add", x, x), x)  # a group of its own, beside the GEMM's epilogue
    g.fuse_and_compare([y, z], rtol=1e-5)
    return g


def test_fused_kernels_run_serial_in_a_graph_that_calls_blas(monkeypatch):
    from kernels.cpu import openblas_threads
    monkeypatch.setitem(openblas_threads._state, "threads", 1)  # no hand-off to OpenBLAS's threads here
    g = _gemm_and_neighbour()
    assert [n.attrs.get("parallel") for n in _fused(g.graph)] == [False, False]
    alone = Graph()  # no BLAS call: the kernels keep their parallel loops
    a = alone.input((8, 16))
    alone.fuse_and_compare([alone.op("mul", alone.op("add", a, a), a)])
    assert "parallel" not in _fused(alone.graph)[0].attrs


def test_fused_kernels_keep_parallel_loops_where_openblas_threads_run_them(monkeypatch):
    from kernels.cpu import openblas_threads
    monkeypatch.setitem(openblas_threads._state, "threads", 2)
    g = _gemm_and_neighbour()
    assert [n.attrs.get("parallel") for n in _fused(g.graph)] == [None, None]


def test_reduction_epilogue_and_no_epilogue_when_the_product_is_read_elsewhere():
    g = Graph()
    x, w = g.input((4, 8)), g.input((8, 8))
    eps = g.const(np.array(1e-5, np.float32))
    inv = g.op("rsqrt", g.op("add", g.op("mean", x, dims=(1,), keepdim=True), eps))
    h = g.op("matmul", x, w)
    r = g.op("relu", g.op("add", h, h))
    g.fuse_and_compare([inv, r, h], rtol=1e-5)
    prologues = [n.attrs.get("prologue") for n in _fused(g.graph)]
    assert prologues == [("mean", (("dims", (1,)), ("keepdim", True)), 1), None]


def test_integer_and_half_values_are_left_alone():
    g = Graph()
    i, j = g.input((3,), np.int64), g.input((3,), np.int64)
    h = g.input((3,), np.float16)
    a = g.op("mul", g.op("add", i, j), j)
    b = g.op("exp", g.op("neg", h))
    g.fuse_and_compare([a, b])
    assert not _fused(g.graph)


# ----- random programs ------------------------------------------------------------------------------
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

UNARY = [("neg", {}), ("exp", {}), ("tanh", {}), ("sigmoid", {}), ("relu", {}), ("abs", {}),
         ("gelu", {"approximate": "none"}), ("silu", {}), ("clamp", {"lo": -1.0, "hi": 1.5})]
BINARY = ["add", "sub", "mul", "maximum", "minimum"]
SHAPES = [(3, 4), (4,), (3, 1), (), (1, 4)]


@st.composite
def programs(draw):
    steps = []
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["unary", "binary", "where", "input"]))
        if kind == "unary":
            steps.append(("unary", draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, 99))))
        elif kind == "input":
            steps.append(("input", draw(st.sampled_from(SHAPES)), draw(st.sampled_from(["float32", "float64"]))))
        else:
            steps.append((kind, draw(st.sampled_from(BINARY)), draw(st.integers(0, 99)), draw(st.integers(0, 99))))
    return steps


@settings(max_examples=20, deadline=None, derandomize=True)
@given(programs())
def test_random_elementwise_programs_match_the_interpreter(steps):
    g = Graph()
    values = [g.input((3, 4)), g.input((4,))]
    for step in steps:
        if step[0] == "input":
            values.append(g.input(step[1], np.dtype(step[2])))
        elif step[0] == "unary":
            name, attrs = UNARY[step[1]]
            values.append(g.op(name, values[step[2] % len(values)], **attrs))
        else:
            a, b = values[step[2] % len(values)], values[step[3] % len(values)]
            if a.dtype is not b.dtype:  # the front door would have cast: keep kernels' dtypes honest
                continue
            if step[0] == "where":
                zero = g.const(np.array(0.0, a.dtype.np))
                values.append(g.op("where", g.op("gt", a, b), a, zero))
            else:
                values.append(g.op(step[1], a, b))
    g.fuse_and_compare(values[-3:], rtol=2e-6)


# ----- traced training steps -------------------------------------------------------------------------
def _mlp():
    nn = framework.nn
    model = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 48), nn.GELU(), nn.Linear(48, 10))
    return model, framework.optim.Adam(model.parameters(), lr=1e-3), framework.randn(16, 64), \
        framework.randint(0, 10, (16,))


def _gpt():
    import sys
    import os
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    from bench.bench_training import gpt
    return gpt(framework)


def _check_traced_step(build):
    framework.manual_seed(0)
    model, opt, x, y = build()
    loss_fn = framework.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    traced = framework.jit.trace(step, (), optimize=False)
    graph = traced.graph
    arrays, _ = traced.entries[-1].gather(((), {}))
    before_in, after_in = [np.array(a, copy=True) for a in arrays], [np.array(a, copy=True) for a in arrays]
    before = interpret(graph, before_in)
    stats = fuse_elementwise(graph)
    assert stats["groups"] >= 5 and stats["epilogues"] >= 3
    after = interpret(graph, after_in)
    for b, a in zip(before, after):  # loss and gradients
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(np.max(np.abs(b), initial=0))))
    lr = opt.param_groups[0]["lr"]
    for b, a in zip(before_in, after_in):  # parameters and optimizer state after the update
        if b.dtype.kind == "f":
            # Adam's first step moves by about lr * sign(grad): a gradient within rounding of zero may flip it
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=2.5 * lr)
    return stats


def test_traced_mlp_training_step():
    stats = _check_traced_step(_mlp)
    assert ["linear", "add", "relu", "gt"] in stats["fusion_groups"]  # relu and its backward mask


@pytest.mark.slow
def test_traced_gpt_training_step():
    stats = _check_traced_step(_gpt)
    assert ["linear", "add", "gelu"] in stats["fusion_groups"]


def test_graph_mode_casts_join_groups():
    g = Graph()
    x = g.input((3, 4))
    wide = g.op("cast_to", g.op("exp", x), dtype="float64")
    y = g.op("mul", wide, g.input((4,), np.float64))
    g.fuse_and_compare([y])
    (node,) = g.graph.nodes
    assert [op[0] for op in node.attrs["program"][1]] == ["exp", "cast", "mul"]
